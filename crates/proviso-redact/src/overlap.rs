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
    let mut kept: Vec<Finding> = Vec::with_capacity(found.len());
    for f in found {
        if kept.iter().all(|k| f.end <= k.start || f.start >= k.end) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.start);
    kept
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
