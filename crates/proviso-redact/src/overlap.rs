use std::collections::BTreeMap;

use crate::Finding;

/// Keeps non-overlapping findings: longer spans first, then higher scores,
/// then earlier ones; returns them in text order.
pub fn resolve(mut found: Vec<Finding>) -> Vec<Finding> {
    found.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(b.score.total_cmp(&a.score))
            .then(a.start.cmp(&b.start))
    });
    // Kept spans never overlap, so among them only the one starting last
    // before `f.end` can reach into `f`: one ordered look-up per finding
    // (n log n in all; a text of back-to-back candidates stays fast).
    let mut kept: BTreeMap<usize, Finding> = BTreeMap::new();
    for f in found {
        let clear = kept
            .range(..f.end)
            .next_back()
            .is_none_or(|(_, k)| k.end <= f.start);
        // An empty span overlaps nothing but must not replace a kept one
        // starting at the same offset.
        if clear && !kept.contains_key(&f.start) {
            kept.insert(f.start, f);
        }
    }
    kept.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EntityKind;

    fn f(kind: EntityKind, start: usize, end: usize, score: f32) -> Finding {
        Finding {
            kind,
            start,
            end,
            score,
        }
    }

    #[test]
    fn longer_then_more_confident_wins() {
        let out = resolve(vec![
            f(EntityKind::Phone, 0, 11, 0.9),
            f(EntityKind::CnResidentId, 0, 18, 0.8),
            f(EntityKind::IpAddress, 20, 27, 0.5),
            f(EntityKind::Secret, 20, 27, 0.7),
        ]);
        assert_eq!(
            out.iter().map(|f| f.kind).collect::<Vec<_>>(),
            vec![EntityKind::CnResidentId, EntityKind::Secret]
        );
    }
}
