//! The stored tree state and hashes, decoded.

use proviso_ledger::merkle::Frontier;
use proviso_ledger::{Hash, LedgerError, TreeState};

/// The tree state from its stored columns.
pub fn decode_state(size: i64, last: &[u8], frontier: &[u8]) -> Result<TreeState, LedgerError> {
    let size = u64::try_from(size)
        .map_err(|_| LedgerError::Corrupt(format!("negative tree size {size}")))?;
    let last_hash = to_hash(last, "ledger_tree_state.last_hash")?;
    if !frontier.len().is_multiple_of(32) {
        return Err(LedgerError::Corrupt(
            "ledger_tree_state.frontier length".into(),
        ));
    }
    let nodes = frontier
        .chunks(32)
        .map(|c| to_hash(c, "frontier"))
        .collect::<Result<_, _>>()?;
    let frontier = Frontier::from_parts(size, nodes).ok_or_else(|| {
        LedgerError::Corrupt(format!(
            "ledger_tree_state.frontier does not fit size {size}"
        ))
    })?;
    Ok(TreeState {
        frontier,
        last_hash,
    })
}

/// A 32-byte column as a hash.
pub fn to_hash(b: &[u8], what: &str) -> Result<Hash, LedgerError> {
    b.try_into()
        .map_err(|_| LedgerError::Corrupt(format!("{what}: {} bytes, not 32", b.len())))
}
