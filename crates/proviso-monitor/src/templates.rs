//! Prompt templates across all keys: LSH over template signatures; a
//! prompt joins the cluster whose representative it matches best at or
//! above the Jaccard threshold (verified on the full signature), or starts
//! a new one. Clusters unused for a while are forgotten.

use crate::fxhash::FastMap as HashMap;

use crate::features::{BANDS, SIG, band_hash, jaccard};

struct Cluster {
    rep: [u32; SIG],
    last_seen: i64,
}

/// The template clusters.
#[derive(Default)]
pub struct Templates {
    clusters: HashMap<u32, Cluster>,
    bands: HashMap<u64, u32>,
    next: u32,
}

impl Templates {
    /// The template id of a prompt with signature `sig` seen at `t`.
    pub fn assign(&mut self, sig: &[u32; SIG], t: i64, threshold: f64) -> u32 {
        let mut best: Option<(u32, f64)> = None;
        for b in 0..BANDS {
            if let Some(id) = self.bands.get(&band_hash(sig, b)) {
                if best.is_some_and(|(bid, _)| bid == *id) {
                    continue;
                }
                if let Some(c) = self.clusters.get(id) {
                    let j = jaccard(sig, &c.rep);
                    if j >= threshold && best.is_none_or(|(_, bj)| j > bj) {
                        best = Some((*id, j));
                    }
                }
            }
        }
        if let Some((id, _)) = best {
            if let Some(c) = self.clusters.get_mut(&id) {
                c.last_seen = c.last_seen.max(t);
            }
            return id;
        }
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        for b in 0..BANDS {
            self.bands.entry(band_hash(sig, b)).or_insert(id);
        }
        self.clusters.insert(
            id,
            Cluster {
                rep: *sig,
                last_seen: t,
            },
        );
        id
    }

    /// Forgets clusters not seen since `before`.
    pub fn prune(&mut self, before: i64) {
        let gone: Vec<u32> = self
            .clusters
            .iter()
            .filter(|(_, c)| c.last_seen < before)
            .map(|(id, _)| *id)
            .collect();
        if gone.is_empty() {
            return;
        }
        for id in &gone {
            self.clusters.remove(id);
        }
        self.bands.retain(|_, id| self.clusters.contains_key(id));
    }

    /// Clusters held.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::template_signature;

    #[test]
    fn fillings_share_a_cluster_and_others_do_not() {
        let mut t = Templates::default();
        let topics = [
            "volcanoes",
            "tax law",
            "jazz history",
            "protein folding",
            "chess openings",
        ];
        let ids: Vec<u32> = topics
            .iter()
            .map(|x| {
                let p = format!("You are a teacher. Write 10 diverse instructions about \"{x}\" with an input and an output for each, formatted as JSON.");
                t.assign(&template_signature(&p), 0, 0.5)
            })
            .collect();
        assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
        let other = t.assign(
            &template_signature("Can you recommend a good book about sailing?"),
            0,
            0.5,
        );
        assert_ne!(other, ids[0]);
        assert_eq!(t.len(), 2);
        t.prune(1);
        assert!(t.is_empty());
    }
}
