//! Campaigns across keys: keys linked by what they share, clustered, and
//! each cluster scored as one actor.

use super::*;

impl Monitor {
    pub(crate) fn evaluate_clusters(&mut self) -> Vec<Decision> {
        self.since_clusters = 0;
        self.window_total = self.keys.values().map(|w| w.events.len()).sum();
        let mut names: Vec<&String> = self.keys.keys().collect();
        names.sort();
        let mut uf = UnionFind::new(names.len());
        // shared templates
        let mut by_template: fxhash::FastMap<u32, Vec<usize>> = fxhash::FastMap::default();
        for (i, k) in names.iter().enumerate() {
            let mut counts: fxhash::FastMap<u32, u32> = fxhash::FastMap::default();
            for e in &self.keys[*k].events {
                *counts.entry(e.template).or_insert(0) += 1;
            }
            for (t, c) in counts {
                if c >= 2 {
                    by_template.entry(t).or_default().push(i);
                }
            }
        }
        for ks in by_template.values() {
            if ks.len() >= self.cfg.min_cluster_keys {
                for k in &ks[1..] {
                    uf.union(ks[0], *k);
                }
            }
        }
        // shared client addresses
        let mut by_client: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, k) in names.iter().enumerate() {
            for c in &self.keys[*k].clients {
                by_client.entry(c.as_str()).or_default().push(i);
            }
        }
        let mut shares_client = vec![false; names.len()];
        for ks in by_client.values() {
            if ks.len() >= 2 {
                for k in ks {
                    shares_client[*k] = true;
                }
                for k in &ks[1..] {
                    uf.union(ks[0], *k);
                }
            }
        }
        // synchronised bursts, within a team
        let mut synced = vec![false; names.len()];
        let mut by_team: BTreeMap<&str, Vec<(usize, Vec<i64>)>> = BTreeMap::new();
        for (i, k) in names.iter().enumerate() {
            let w = &self.keys[*k];
            // Events are in time order: their minutes come sorted.
            let mut mins: Vec<i64> = w.events.iter().map(|e| e.t.div_euclid(60_000)).collect();
            mins.dedup();
            if mins.len() >= 10 {
                by_team.entry(w.team.as_str()).or_default().push((i, mins));
            }
        }
        for members in by_team.values() {
            let members = &members[..members.len().min(300)];
            for a in 0..members.len() {
                for b in (a + 1)..members.len() {
                    let (ia, ma) = &members[a];
                    let (ib, mb) = &members[b];
                    let inter = sorted_intersection(ma, mb);
                    let union = ma.len() + mb.len() - inter;
                    if union > 0 && inter as f64 / union as f64 >= 0.5 {
                        synced[*ia] = true;
                        synced[*ib] = true;
                        uf.union(*ia, *ib);
                    }
                }
            }
        }
        let mut comps: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..names.len() {
            comps.entry(uf.find(i)).or_default().push(i);
        }
        let mut clusters = Vec::new();
        let mut key_cluster = HashMap::new();
        for members in comps.values() {
            if members.len() < self.cfg.min_cluster_keys {
                continue;
            }
            let (report, participants) =
                self.cluster_report(&names, members, &shares_client, &synced);
            if report.level >= Level::Notice {
                self.detected
                    .entry(report.key_id.clone())
                    .or_insert(report.requests);
            }
            let at = clusters.len();
            for p in participants {
                key_cluster.insert(names[p].clone(), at);
            }
            clusters.push(report);
        }
        self.clusters = clusters;
        for c in &mut self.clusters {
            c.detected_after = self.detected.get(&c.key_id).copied();
        }
        self.key_cluster = key_cluster;
        let mut members: Vec<String> = self.key_cluster.keys().cloned().collect();
        members.sort();
        // A member too new to have been scored on its own still gets a report
        // (the cluster may act on it after a handful of requests).
        for k in &members {
            if !self.reports.contains_key(k) {
                self.evaluate_key(k);
            }
        }
        for (k, r) in self.reports.iter_mut() {
            r.cluster = self
                .key_cluster
                .get(k)
                .and_then(|i| self.clusters.get(*i))
                .map(|c| c.key_id.clone());
        }
        let mut out = Vec::new();
        for k in members {
            out.extend(self.decide(&k));
        }
        out
    }

    pub(crate) fn cluster_report(
        &self,
        names: &[&String],
        members: &[usize],
        shares_client: &[bool],
        synced: &[bool],
    ) -> (ActorReport, Vec<usize>) {
        let mut events: Vec<&Ev> = Vec::new();
        let mut hours: BTreeMap<i64, u32> = BTreeMap::new();
        let mut teams: Vec<&str> = Vec::new();
        let mut total = 0u64;
        let mut per_member = Vec::with_capacity(members.len());
        for m in members {
            let w = &self.keys[names[*m]];
            events.extend(w.events.iter());
            for (h, c) in &w.hours {
                *hours.entry(*h).or_insert(0) += c;
            }
            if !teams.contains(&w.team.as_str()) {
                teams.push(w.team.as_str());
            }
            total += w.total;
            per_member.push(w.events.len());
        }
        events.sort_by_key(|e| e.t);
        let view = View { events, hours };
        let mut raw = signals::compute(&view, &self.cfg);
        let n = view.events.len();
        let k = members.len();
        let shared = members.iter().filter(|m| shares_client[**m]).count();
        raw.push((
            "shared_client",
            shared as f64 / k as f64,
            format!("{shared} of {k} member keys share client addresses"),
        ));
        let sync = members.iter().filter(|m| synced[**m]).count();
        raw.push((
            "sync_bursts",
            sync as f64 / k as f64,
            format!("{sync} of {k} member keys active in the same minutes"),
        ));
        let top = per_member.iter().copied().max().unwrap_or(0);
        let evenness = if n == 0 {
            0.0
        } else {
            1.0 - top as f64 / n as f64
        };
        let spread = evenness * (k as f64 / 10.0).min(1.0);
        raw.push((
            "spread",
            spread,
            format!("{n} requests over {k} keys, the busiest key has {top}"),
        ));
        let tops: fxhash::FastSet<u32> = top_templates(&view.events)
            .into_iter()
            .take(3)
            .map(|(t, _)| t)
            .collect();
        let in_top = view
            .events
            .iter()
            .filter(|e| tops.contains(&e.template))
            .count();
        let participants: Vec<usize> = if (in_top as f64) < 0.3 * n as f64 {
            members.to_vec()
        } else {
            members
                .iter()
                .copied()
                .filter(|m| {
                    let w = &self.keys[names[*m]];
                    let own = w
                        .events
                        .iter()
                        .filter(|e| tops.contains(&e.template))
                        .count();
                    own * 2 >= w.events.len().max(1)
                })
                .collect()
        };
        let confidence = (n as f64 / f64::from(self.cfg.min_requests.max(1))).min(1.0);
        let evidence = evidence(&view.events, &raw, &self.cfg);
        let (score, signals) = signals::weigh(raw, &self.cfg, confidence, false);
        let level = Level::of(score, &self.cfg.thresholds);
        let id = format!("cluster:{}", names[members[0]]);
        let enforced = members
            .iter()
            .filter_map(|m| self.enforced.get(names[*m].as_str()))
            .copied()
            .max()
            .unwrap_or_default();
        let report = ActorReport {
            kind: "cluster",
            key_id: id,
            team: teams.join(","),
            members: members.iter().map(|m| names[*m].clone()).collect(),
            score: round3(score),
            level,
            enforced,
            requests: total,
            window_requests: n,
            detected_after: None,
            cluster: None,
            purpose: None,
            signals,
            evidence,
        };
        (report, participants)
    }
}

/// Elements two sorted, deduplicated lists share.
pub(crate) fn sorted_intersection(a: &[i64], b: &[i64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

pub(crate) struct UnionFind(Vec<usize>);

impl UnionFind {
    pub(crate) fn new(n: usize) -> Self {
        Self((0..n).collect())
    }
    pub(crate) fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    pub(crate) fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi] = lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const T0: i64 = 1_780_000_000_000;

    fn obs(key: &str, team: &str, client: &str, t: i64, prompt: &str) -> Observation {
        crate::test_observation(key, team, client, t, prompt)
    }

    fn monitor() -> Monitor {
        let cfg = MonitorConfig {
            min_cluster_keys: 2,
            ..MonitorConfig::default()
        };
        Monitor::new(cfg).unwrap()
    }

    /// The cluster of `key` after re-forming clusters, as its members.
    fn cluster_of(m: &mut Monitor, key: &str) -> Option<Vec<String>> {
        m.evaluate_clusters();
        let i = *m.key_cluster.get(key)?;
        Some(m.clusters[i].members.clone())
    }

    const WORDS: [&str; 12] = [
        "river", "copper", "lantern", "meadow", "violin", "harbor", "saddle", "orchid", "glacier",
        "pepper", "tundra", "quartz",
    ];

    /// A prompt of letters drawn at random (seeded by `i` and `salt`): no
    /// two share a template.
    fn own_prompt(i: usize, salt: usize) -> String {
        let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (salt as u64 + 7).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        let mut word = |len: usize| -> String {
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + (x % 26) as u8)
                })
                .collect()
        };
        (0..8)
            .map(|j| word(4 + j % 4))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn union_find_and_sorted_intersection() {
        let mut uf = UnionFind::new(5);
        uf.union(0, 1);
        uf.union(3, 4);
        uf.union(1, 4);
        assert_eq!(uf.find(0), uf.find(3));
        assert_ne!(uf.find(0), uf.find(2));
        assert_eq!(sorted_intersection(&[1, 3, 5, 7], &[2, 3, 4, 7, 9]), 2);
        assert_eq!(sorted_intersection(&[], &[1]), 0);
        assert_eq!(sorted_intersection(&[4, 4], &[4]), 1);
    }

    #[test]
    fn keys_filling_one_template_are_linked_and_unrelated_keys_are_not() {
        let mut m = monitor();
        let template = |x: &str| {
            format!(
                "Generate a training example for the topic {x}. Answer in full detail with steps."
            )
        };
        for i in 0..12 {
            let t = T0 + i * 61_000;
            m.observe(&obs(
                "key_a",
                "t1",
                "10.0.0.1",
                t,
                &template(WORDS[i as usize % 12]),
            ));
            m.observe(&obs(
                "key_b",
                "t2",
                "10.0.0.2",
                t + 7,
                &template(WORDS[(i as usize + 5) % 12]),
            ));
            m.observe(&obs(
                "key_c",
                "t3",
                "10.0.0.3",
                t + 13_000 * (i % 3),
                &own_prompt(i as usize, 3),
            ));
        }
        let members = cluster_of(&mut m, "key_a").expect("linked by their shared template");
        assert_eq!(members, ["key_a", "key_b"]);
        assert!(
            cluster_of(&mut m, "key_c").is_none(),
            "own prompts, own address, own team"
        );
    }

    #[test]
    fn keys_of_one_team_active_in_the_same_minutes_are_linked() {
        let mut m = monitor();
        for i in 0..12 {
            let t = T0 + i * 120_000;
            let p = |salt| own_prompt(i as usize, salt);
            m.observe(&obs("key_a", "t1", "10.0.0.1", t, &p(1)));
            m.observe(&obs("key_b", "t1", "10.0.0.2", t + 1_000, &p(2)));
            // The same team, in other minutes: not in step.
            m.observe(&obs("key_c", "t1", "10.0.0.3", t + 60_000, &p(4)));
        }
        assert_eq!(cluster_of(&mut m, "key_a").unwrap(), ["key_a", "key_b"]);
        assert!(cluster_of(&mut m, "key_c").is_none());
    }

    #[test]
    fn too_few_keys_make_no_cluster() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap(); // min_cluster_keys 3
        for i in 0..12 {
            let t = T0 + i * 120_000;
            let p = |salt| own_prompt(i as usize, salt);
            m.observe(&obs("key_a", "t1", "10.0.0.1", t, &p(1)));
            m.observe(&obs("key_b", "t1", "10.0.0.1", t + 500, &p(2)));
        }
        assert!(cluster_of(&mut m, "key_a").is_none());
    }
}
