//! Campaigns across keys: keys linked by what they share, clustered, and
//! each cluster scored as one actor.

use super::*;

impl Monitor {
    pub(crate) fn evaluate_clusters(&mut self) -> Vec<Decision> {
        self.since_clusters = 0;
        // Every key's windows end now: an idle key's old requests are not
        // evidence of today.
        let (now, window, rhythm) = (
            self.now,
            i64::try_from(self.cfg.window_ms).unwrap_or(i64::MAX),
            i64::try_from(self.cfg.rhythm_window_ms).unwrap_or(i64::MAX),
        );
        if now > i64::MIN {
            for w in self.keys.values_mut() {
                w.prune(now, window, rhythm);
            }
        }
        self.window_total = self.keys.values().map(|w| w.events.len()).sum();
        let mut names: Vec<&String> = self.keys.keys().collect();
        names.sort();
        let mut uf = UnionFind::new(names.len());
        // shared templates a harvest is run through: templates whose
        // requests to a key are answered at length (half or more, two or
        // more); a template filled for labels, short replies or summaries of
        // longer texts is a product's, not a harvest
        let mut by_template: fxhash::FastMap<u32, Vec<usize>> = fxhash::FastMap::default();
        for (i, k) in names.iter().enumerate() {
            let mut counts: fxhash::FastMap<u32, (u32, u32)> = fxhash::FastMap::default();
            for e in &self.keys[*k].events {
                let c = counts.entry(e.template).or_insert((0, 0));
                c.0 += 1;
                if e.flags & YIELD != 0 {
                    c.1 += 1;
                }
            }
            for (t, (all, yielding)) in counts {
                if yielding >= 2 && yielding * 2 >= all {
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
        // shared client addresses: shown, never a link on their own (an
        // office or an egress proxy puts many unrelated people behind one)
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
            link_synced(members, 0.5, &mut synced, &mut uf);
        }
        // Harvesting in step, across teams and addresses: keys that ask
        // self-contained instructions answered at length, faster than a
        // person reads (`HARVEST_PACE` a minute while active), in the same
        // minutes. What a campaign split over keys cannot hide without
        // slowing down.
        let mut harvesters: Vec<(usize, Vec<i64>, f64)> = Vec::new();
        for (i, k) in names.iter().enumerate() {
            if let Some((mins, pace)) = harvest_minutes(&self.keys[*k]) {
                harvesters.push((i, mins, pace));
            }
        }
        harvesters.truncate(1_000);
        let mut harvest_synced = vec![false; names.len()];
        // A burst that starts at the window's edge may have started before
        // it: only starts after the edge count.
        let window = i64::try_from(self.cfg.window_ms).unwrap_or(i64::MAX);
        let edge = self
            .now
            .saturating_sub(window)
            .div_euclid(60_000)
            .saturating_add(ONSET_GAP_MIN);
        link_harvesting_in_step(&harvesters, edge, &mut harvest_synced, &mut uf);
        for (i, s) in harvest_synced.iter().enumerate() {
            synced[i] |= *s;
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
                self.cluster_report(&names, members, &shares_client, &synced, &harvest_synced);
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

    /// A cluster's report, and the members it acts on: those whose own
    /// requests carry its evidence (half or more of their answered-at-length
    /// requests in its top templates, or active in step with another member:
    /// of its team, or harvesting at campaign pace). A member linked only by a shared address, or a quiet one, is
    /// listed and never acted on; the cluster is scored over the members it
    /// acts on (over all when there are fewer than `min_cluster_keys`, and
    /// then it acts on none).
    pub(crate) fn cluster_report(
        &self,
        names: &[&String],
        members: &[usize],
        shares_client: &[bool],
        synced: &[bool],
        harvest_synced: &[bool],
    ) -> (ActorReport, Vec<usize>) {
        let tops = {
            let yielding: Vec<&Ev> = members
                .iter()
                .flat_map(|m| self.keys[names[*m]].events.iter())
                .filter(|e| e.flags & YIELD != 0)
                .collect();
            top_templates(&yielding)
                .into_iter()
                .take(3)
                .map(|(t, _)| t)
                .collect::<fxhash::FastSet<u32>>()
        };
        let participants: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| {
                let w = &self.keys[names[*m]];
                let yielding = w.events.iter().filter(|e| e.flags & YIELD != 0).count();
                let own = w
                    .events
                    .iter()
                    .filter(|e| e.flags & YIELD != 0 && tops.contains(&e.template))
                    .count();
                // In step within a team counts only for a member whose own
                // requests are mostly answered at length.
                let own_yield = yielding * 2 >= w.events.len().max(1) && yielding >= 5;
                harvest_synced[*m] || (synced[*m] && own_yield) || (own >= 5 && own * 2 >= yielding)
            })
            .collect();
        let scored: &[usize] = if participants.len() >= self.cfg.min_cluster_keys {
            &participants
        } else {
            members
        };
        let participants = if scored.len() == participants.len() {
            participants.clone()
        } else {
            Vec::new()
        };
        let members_all = members;
        let members = scored;
        let mut events: Vec<&Ev> = Vec::new();
        let mut hours: BTreeMap<i64, u32> = BTreeMap::new();
        let mut harvest_week = 0u64;
        let mut teams: Vec<&str> = Vec::new();
        let mut total = 0u64;
        let mut per_member = Vec::with_capacity(members.len());
        for m in members {
            let w = &self.keys[names[*m]];
            events.extend(w.events.iter());
            for (h, c) in &w.hours {
                *hours.entry(*h).or_insert(0) += c;
            }
            harvest_week += w.harvest_hours.values().map(|c| u64::from(*c)).sum::<u64>();
            if !teams.contains(&w.team.as_str()) {
                teams.push(w.team.as_str());
            }
            total += w.total;
            per_member.push(w.events.len());
        }
        events.sort_by_key(|e| e.t);
        let view = View {
            events,
            hours,
            harvest_week,
        };
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
        let confidence = (n as f64 / f64::from(self.cfg.min_requests.max(1))).min(1.0);
        let evidence = evidence(&view.events, &raw, &self.cfg);
        let (score, mut signals) = signals::weigh(raw, &self.cfg, confidence, false);
        let level = capped(Level::of(score, &self.cfg.thresholds), &mut signals, false);
        let id = format!("cluster:{}", names[members_all[0]]);
        let enforced = members_all
            .iter()
            .filter_map(|m| self.enforced.get(names[*m].as_str()))
            .copied()
            .max()
            .unwrap_or_default();
        let report = ActorReport {
            kind: "cluster",
            key_id: id,
            team: teams.join(","),
            members: members_all.iter().map(|m| names[*m].clone()).collect(),
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

/// Harvest requests a minute, while active, from which a key harvests
/// faster than a person reads the answers.
pub(crate) const HARVEST_PACE: f64 = 2.0;

/// The active minutes of a key that harvests at campaign pace, and its
/// pace: at least half of its window's requests are harvest requests, over
/// at least five active minutes, at `HARVEST_PACE` a minute or more.
fn harvest_minutes(w: &KeyWindow) -> Option<(Vec<i64>, f64)> {
    let harvest = w.events.iter().filter(|e| e.flags & HARVEST != 0).count();
    if harvest * 2 < w.events.len() || harvest < 10 {
        return None;
    }
    let mut mins: Vec<i64> = w
        .events
        .iter()
        .filter(|e| e.flags & HARVEST != 0)
        .map(|e| e.t.div_euclid(60_000))
        .collect();
    mins.dedup();
    let pace = harvest as f64 / mins.len().max(1) as f64;
    (mins.len() >= 5 && pace >= HARVEST_PACE).then_some((mins, pace))
}

/// Minutes without a request after which activity starts anew.
const ONSET_GAP_MIN: i64 = 30;

/// The minutes a key's bursts of activity start (after `ONSET_GAP_MIN`
/// quiet minutes, or its first).
fn onsets(mins: &[i64], edge: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut last = i64::MIN;
    for &m in mins {
        if (last == i64::MIN || m - last > ONSET_GAP_MIN) && m > edge {
            out.push(m);
        }
        last = m;
    }
    out
}

/// Links harvesting keys that start together (a burst of each within three
/// minutes of one of the other's), at like paces (within a factor of
/// three) and then overlap (active minutes' Jaccard at least 0.4): keys that
/// merely harvest at the same hours, or one at a trickle beside a fast one,
/// are not linked.
fn link_harvesting_in_step(
    keys: &[(usize, Vec<i64>, f64)],
    edge: i64,
    synced: &mut [bool],
    uf: &mut UnionFind,
) {
    let starts: Vec<Vec<i64>> = keys.iter().map(|(_, m, _)| onsets(m, edge)).collect();
    for a in 0..keys.len() {
        for b in (a + 1)..keys.len() {
            let (ia, ma, pa) = &keys[a];
            let (ib, mb, pb) = &keys[b];
            if pa.max(*pb) > 3.0 * pa.min(*pb) {
                continue;
            }
            let together = starts[a]
                .iter()
                .any(|x| starts[b].iter().any(|y| (x - y).abs() <= 3));
            if !together {
                continue;
            }
            let inter = sorted_intersection(ma, mb);
            let union = ma.len() + mb.len() - inter;
            if union > 0 && inter as f64 / union as f64 >= 0.4 {
                synced[*ia] = true;
                synced[*ib] = true;
                uf.union(*ia, *ib);
            }
        }
    }
}

/// Links the keys whose active minutes overlap (Jaccard at least `min`),
/// marking them in `synced`.
fn link_synced(keys: &[(usize, Vec<i64>)], min: f64, synced: &mut [bool], uf: &mut UnionFind) {
    for a in 0..keys.len() {
        for b in (a + 1)..keys.len() {
            let (ia, ma) = &keys[a];
            let (ib, mb) = &keys[b];
            let inter = sorted_intersection(ma, mb);
            let union = ma.len() + mb.len() - inter;
            if union > 0 && inter as f64 / union as f64 >= min {
                synced[*ia] = true;
                synced[*ib] = true;
                uf.union(*ia, *ib);
            }
        }
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

    /// A request answered at length (worth harvesting).
    fn obs(key: &str, team: &str, client: &str, t: i64, prompt: &str) -> Observation {
        Observation {
            completion_tokens: 400,
            ..crate::test_observation(key, team, client, t, prompt)
        }
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

#[cfg(test)]
mod harvest_tests {
    use super::*;
    const T0: i64 = 1_780_000_000_000;

    /// A self-contained instruction answered at length, numbered `i` (no
    /// two alike, no shared template).
    fn harvest(key: &str, team: &str, client: &str, t: i64, i: usize) -> Observation {
        let words = [
            "amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "heron",
        ];
        let prompt = format!(
            "{} {} {} {} question {i}",
            words[i % 8],
            words[(i / 8) % 8],
            words[(i / 64) % 8],
            words[(i * 7) % 8]
        );
        Observation {
            completion_tokens: 400,
            ..crate::test_observation(key, team, client, t, &prompt)
        }
    }

    fn level_of(m: &Monitor, key: &str) -> Level {
        m.effective(key).map_or(Level::Ok, |(l, _)| l)
    }

    #[test]
    fn keys_harvesting_in_step_are_one_actor_across_teams_and_addresses() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        // Ten keys, ten teams, ten addresses, sixty instructions each,
        // every five seconds, started within two minutes of each other.
        for step in 0..60usize {
            for k in 0..10usize {
                let t = T0 + (k as i64) * 12_000 + (step as i64) * 5_000;
                m.observe(&harvest(
                    &format!("key_{k}"),
                    &format!("team_{k}"),
                    &format!("10.0.{k}.1"),
                    t,
                    k * 1000 + step,
                ));
            }
        }
        m.evaluate_clusters();
        let i = *m.key_cluster.get("key_0").expect("linked");
        let c = &m.clusters[i];
        assert_eq!(c.members.len(), 10);
        assert!(c.level >= Level::Notice, "{}", c.score);
        for k in 0..10 {
            assert!(level_of(&m, &format!("key_{k}")) >= Level::Notice);
        }
        // Alone, each of them is under notice: sixty is what a person asks.
        let own = m.key_report("key_3").unwrap();
        assert_eq!(own.level, Level::Ok, "{}", own.score);
    }

    #[test]
    fn harvesters_at_unlike_paces_or_other_hours_are_not_linked() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        for step in 0..60usize {
            let t = T0 + (step as i64) * 5_000;
            // fast, started together with a slow one
            m.observe(&harvest("fast_a", "t1", "10.0.0.1", t, step));
            m.observe(&harvest("fast_b", "t2", "10.0.0.2", t + 1_000, 100 + step));
            if step % 8 == 0 {
                m.observe(&harvest("slow", "t3", "10.0.0.3", t, 200 + step));
            }
            // as fast, six hours later
            m.observe(&harvest(
                "later",
                "t4",
                "10.0.0.4",
                t + 6 * 3_600_000,
                300 + step,
            ));
        }
        m.evaluate_clusters();
        assert!(!m.key_cluster.contains_key("slow"));
        assert!(!m.key_cluster.contains_key("later"));
    }

    #[test]
    fn clusters_of_a_fresh_monitor_are_empty() {
        // No time seen yet (the window's edge is before any time).
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        assert!(m.evaluate_clusters().is_empty());
        assert!(m.clusters.is_empty());
    }

    #[test]
    fn a_quiet_key_behind_a_busy_shared_address_stays_ok() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let office = "203.0.113.7";
        for step in 0..1_000usize {
            let t = T0 + (step as i64) * 2_000;
            m.observe(&harvest("busy", "t1", office, t, step));
            if step % 50 == 0 {
                m.observe(&harvest("quiet_1", "t1", office, t + 700, 5_000 + step));
                m.observe(&harvest("quiet_2", "t2", office, t + 900, 9_000 + step));
            }
        }
        m.evaluate_clusters();
        assert!(level_of(&m, "busy") >= Level::Notice);
        for q in ["quiet_1", "quiet_2"] {
            assert_eq!(level_of(&m, q), Level::Ok, "{q}");
            assert!(
                !m.key_cluster.contains_key(q),
                "{q} acted on through the address"
            );
        }
    }
}
