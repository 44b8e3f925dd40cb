//! RFC 6962 Merkle tree hashing over record hashes, with a compact
//! "frontier" (one root per perfect subtree) so that appending is O(log n)
//! and the root of any prefix is available without re-reading the log.

use sha2::{Digest, Sha256};

use crate::Hash;

/// `SHA-256(0x00 || data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle tree hash of an empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The roots of the perfect subtrees that make up a tree of `size` leaves,
/// largest first: enough to append and to compute the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// Rebuilds a frontier from its stored form; `None` if `nodes` does not
    /// hold one hash per set bit of `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Self { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The stored form: the subtree roots, largest first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf whose data is `data` (we use record hashes).
    pub fn push(&mut self, data: &[u8]) {
        let mut h = leaf_hash(data);
        let mut s = self.size;
        while s & 1 == 1 {
            match self.nodes.pop() {
                Some(left) => h = node_hash(&left, &h),
                None => break,
            }
            s >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// The RFC 6962 tree hash of all leaves so far.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// The RFC 6962 tree hash of `leaves`, by the recursive definition (for
/// tests and spot checks).
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaf_hash(&leaves[0]),
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_matches_recursive_definition() {
        let leaves: Vec<Hash> = (0u8..40).map(|i| [i; 32]).collect();
        let mut f = Frontier::default();
        assert_eq!(f.root(), root_of(&[]));
        for (i, l) in leaves.iter().enumerate() {
            f.push(l);
            assert_eq!(f.root(), root_of(&leaves[..=i]), "size {}", i + 1);
            let back = Frontier::from_parts(f.size(), f.nodes().to_vec()).unwrap();
            assert_eq!(back, f);
        }
    }

    #[test]
    fn split_point_is_largest_power_of_two_below_n() {
        // n = 5: k = 4; n = 4: k = 2; n = 2: k = 1.
        let l: Vec<Hash> = (0u8..5).map(|i| [i; 32]).collect();
        let expected = node_hash(&root_of(&l[..4]), &leaf_hash(&l[4]));
        assert_eq!(root_of(&l), expected);
    }

    #[test]
    fn from_parts_rejects_wrong_length() {
        assert!(Frontier::from_parts(3, vec![[0; 32]]).is_none());
    }
}
