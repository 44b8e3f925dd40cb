//! The distribution-shift signal: a key's recent prompts against its own
//! history (the MMD test of `mmd.rs`).

use super::*;

/// The shift signal of a key: its recent prompts against its own benign
/// history, or, while it has none, against its team's.
pub(crate) fn shift_signal(
    w: &mut KeyWindow,
    key: &str,
    team: Option<&Vec<(String, features::Packed)>>,
    cfg: &MonitorConfig,
) -> (&'static str, f64, String) {
    let own = w.history.len() >= cfg.shift_history && w.recent.len() >= cfg.shift_recent;
    if let Some((at, v, p)) = w.shift
        && w.total < at + (cfg.shift_recent as u64).max(1)
    {
        return (
            "shift",
            v,
            format!("p = {p:.3} (measured {} requests ago)", w.total - at),
        );
    }
    let seed = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    let unpack = |v: &features::Packed| v.unpack();
    if own && w.history_gram.is_empty() {
        let h: Vec<Vec<f32>> = w.history.iter().map(unpack).collect();
        let h: Vec<&[f32]> = h.iter().map(Vec::as_slice).collect();
        w.history_gram = mmd::gram(&h);
    }
    let (x, y, against): (Vec<Vec<f32>>, Vec<Vec<f32>>, &str) = if own {
        (
            w.recent.iter().map(unpack).collect(),
            w.history.iter().map(unpack).collect(),
            "the key's own first requests",
        )
    } else {
        let base: Vec<Vec<f32>> = team
            .map(|t| {
                t.iter()
                    .filter(|(k, _)| k != key)
                    .map(|(_, v)| v.unpack())
                    .collect()
            })
            .unwrap_or_default();
        let mine: Vec<Vec<f32>> = w
            .history
            .iter()
            .chain(w.recent.iter())
            .rev()
            .take(cfg.shift_recent)
            .map(unpack)
            .collect();
        if base.len() < cfg.shift_recent || mine.len() < cfg.shift_recent {
            return (
                "shift",
                0.0,
                "no benign history to compare with yet".to_owned(),
            );
        }
        (mine, base, "the team's other keys")
    };
    let (x, y): (Vec<&[f32]>, Vec<&[f32]>) = (
        x.iter().map(Vec::as_slice).collect(),
        y.iter().map(Vec::as_slice).collect(),
    );
    let g = own.then_some(w.history_gram.as_slice());
    match mmd::test_with(&x, &y, g, 100, 0.03, seed) {
        Some(t) => {
            // Tests repeat every `shift_recent` requests on fresh samples; a
            // shift counts only when two tests in a row reject, so chance
            // rejections of repeated testing do not add up.
            let prev = w.shift.map_or(1.0, |s| s.2);
            let v = ((0.03 - t.p_value.max(prev)) / 0.02).clamp(0.0, 1.0);
            w.shift = Some((w.total, v, t.p_value));
            (
                "shift",
                v,
                format!(
                    "MMD² {:.4}, p = {:.3} (previous test {prev:.3}): {} recent prompts against {} from {against} ({})",
                    t.mmd2,
                    t.p_value,
                    x.len(),
                    y.len(),
                    cfg.embeddings_model
                        .as_deref()
                        .map_or("hashed n-gram vectors".to_owned(), |m| format!(
                            "{m} embeddings"
                        ))
                ),
            )
        }
        None => ("shift", 0.0, "too few prompts".to_owned()),
    }
}
