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
            let mut key_yielding = 0u32;
            for e in &self.keys[*k].events {
                let c = counts.entry(e.template).or_insert((0, 0));
                c.0 += 1;
                if e.flags & YIELD != 0 {
                    c.1 += 1;
                    key_yielding += 1;
                }
            }
            // A template a key's harvest runs through is a real share of
            // it: a person whose questions take a common form twice (how
            // people ask, or one app's system prompt) is not filling it.
            for (t, (all, yielding)) in counts {
                if yielding >= 2
                    && yielding * 2 >= all
                    && yielding * TEMPLATE_SHARE_OF_KEY >= key_yielding
                {
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
            // A key serving many people is active when its users are: its
            // timing links it to nothing (content still may).
            if self.serving(w) {
                continue;
            }
            // Events are in time order: their times come sorted.
            let skip = w.events.len().saturating_sub(DISPATCH_SAMPLE);
            let times: Vec<i64> = w.events.iter().skip(skip).map(|e| e.t).collect();
            if times.len() >= 10 {
                by_team.entry(w.team.as_str()).or_default().push((i, times));
            }
        }
        for members in by_team.values() {
            let members = &members[..members.len().min(300)];
            link_dispatched_together(members, &mut synced, &mut uf);
        }
        // Harvesting in step, across teams and addresses: keys that ask
        // self-contained instructions answered at length, faster than a
        // person reads (`HARVEST_PACE` a minute while active), in the same
        // minutes. What a campaign split over keys cannot hide without
        // slowing down.
        let mut harvesters: Vec<(usize, Vec<i64>, f64)> = Vec::new();
        for (i, k) in names.iter().enumerate() {
            // A key serving many people harvests as many people do: its
            // pace is theirs together.
            let w = &self.keys[*k];
            if self.serving(w) {
                continue;
            }
            if let Some((mins, pace)) = harvest_minutes(w) {
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
        // Disjoint slices of one known instruction set, and shared unusual
        // parameters or answer lengths: links between keys whose own
        // answers are mostly at length, whenever they ran.
        let yielders: Vec<bool> = names.iter().map(|k| own_yield(&self.keys[*k])).collect();
        let mut pooled = vec![false; names.len()];
        let mut by_set: BTreeMap<usize, Vec<(usize, Vec<i64>)>> = BTreeMap::new();
        for (i, k) in names.iter().enumerate() {
            if !yielders[i] {
                continue;
            }
            let mut per: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
            for e in &self.keys[*k].events {
                if e.known != 0 {
                    per.entry(self.known.set_of(e.known - 1))
                        .or_default()
                        .push(i64::from(e.known));
                }
            }
            for (set, mut items) in per {
                items.sort_unstable();
                items.dedup();
                if items.len() >= POOL_MIN_ITEMS {
                    by_set.entry(set).or_default().push((i, items));
                }
            }
        }
        for (set, keys) in &by_set {
            let size = f64::from(self.known.size(*set).max(1));
            let team = |i: usize| self.keys[names[i]].team.as_str();
            link_disjoint_slices(
                &keys[..keys.len().min(300)],
                size,
                team,
                &mut pooled,
                &mut uf,
            );
        }
        let mut param_linked = vec![false; names.len()];
        let mut by_sig: BTreeMap<(u8, u32), Vec<usize>> = BTreeMap::new();
        for (i, k) in names.iter().enumerate() {
            if yielders[i] {
                for sig in signatures(&self.keys[*k]) {
                    by_sig.entry(sig).or_default().push(i);
                }
            }
        }
        // Unusual: shared by a few keys, not by a hundredth of the active
        // ones (a popular client library's defaults, or a setting many
        // teams chose alike: `max_tokens` 1024 at `temperature` 0.7).
        let common = (names.len() / UNUSUAL_PARAMS_PER).max(UNUSUAL_PARAMS_MIN);
        for ks in by_sig.values() {
            if ks.len() >= 2 && ks.len() <= common {
                link_across_teams(
                    ks,
                    |i| self.keys[names[i]].team.as_str(),
                    &mut param_linked,
                    &mut uf,
                );
            }
        }
        // A team's typical key, for `surge`.
        let mut per_team: HashMap<&str, Vec<usize>> = HashMap::new();
        for k in &names {
            let w = &self.keys[*k];
            if !w.events.is_empty() {
                per_team
                    .entry(w.team.as_str())
                    .or_default()
                    .push(w.events.len());
            }
        }
        self.team_typical = per_team
            .into_iter()
            .filter(|(_, v)| v.len() >= 3)
            .map(|(t, mut v)| {
                v.sort_unstable();
                (t.to_owned(), v[v.len() / 2] as f64)
            })
            .collect();
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
            let links = Links {
                shares_client: &shares_client,
                synced: &synced,
                harvest_synced: &harvest_synced,
                pooled: &pooled,
                param_linked: &param_linked,
            };
            let (report, participants) = self.cluster_report(&names, members, &links);
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
        links: &Links<'_>,
    ) -> (ActorReport, Vec<usize>) {
        let Links {
            shares_client,
            synced,
            harvest_synced,
            pooled,
            param_linked,
        } = *links;
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
        // Linked by what a campaign does: in step (within a team, only for a
        // member whose own requests are mostly answered at length),
        // disjoint slices, shared parameters.
        let campaign_linked = |m: usize| {
            harvest_synced[m]
                || pooled[m]
                || param_linked[m]
                || (synced[m] && own_yield(&self.keys[names[m]]))
        };
        let participants: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| {
                let w = &self.keys[names[*m]];
                // Many named people are not one actor with anyone.
                if self.serving(w) && w.names_end_users() {
                    return false;
                }
                let yielding = w.events.iter().filter(|e| e.flags & YIELD != 0).count();
                let own = w
                    .events
                    .iter()
                    .filter(|e| e.flags & YIELD != 0 && tops.contains(&e.template))
                    .count();
                campaign_linked(*m) || (own >= 5 && own * 2 >= yielding)
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
        // The members' distinct instructions of the week, as one: a suite
        // several members re-run counts once, as it does for one key.
        let mut week_seen: crate::fxhash::FastSet<u64> = Default::default();
        let mut teams: Vec<&str> = Vec::new();
        let mut total = 0u64;
        let mut per_member = Vec::with_capacity(members.len());
        for m in members {
            let w = &self.keys[names[*m]];
            events.extend(w.events.iter());
            for (h, c) in &w.hours {
                *hours.entry(*h).or_insert(0) += c;
            }
            week_seen.extend(w.harvest_seen.keys().copied());
            if !teams.contains(&w.team.as_str()) {
                teams.push(w.team.as_str());
            }
            total += w.total;
            per_member.push(w.events.len());
        }
        let harvest_week = week_seen.len() as u64;
        events.sort_by_key(|e| e.t);
        // Keys that all serve many people are judged as one would be: no
        // breadth of topics, and content evidence needed beyond notice.
        let all_serving = members.iter().all(|m| self.serving(&self.keys[names[*m]]));
        let view = View {
            events,
            hours,
            harvest_week,
            known: &self.known,
            serving: all_serving,
            baseline: None,
        };
        let mut raw = signals::compute(&view, &self.cfg);
        let n = view.events.len();
        let k = members.len();
        // The share of members each link marks.
        for (name, marked, what) in [
            ("shared_client", shares_client, "share client addresses"),
            ("sync_bursts", synced, "active in step"),
            (
                "pool_split",
                pooled,
                "ask disjoint slices of one known instruction set",
            ),
            (
                "shared_params",
                param_linked,
                "share unusual generation parameters or one answer length",
            ),
        ] {
            let c = members.iter().filter(|m| marked[**m]).count();
            raw.push((
                name,
                c as f64 / k as f64,
                format!("{c} of {k} member keys {what}"),
            ));
        }
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
        let mut level = capped(
            Level::of(score, &self.cfg.thresholds),
            &mut signals,
            all_serving,
        );
        // A template in common is how many people use one tool or one
        // worksheet: it links keys for a reviewer, and a cluster acts
        // beyond notice only when `min_cluster_keys` of its keys are also
        // linked by what a campaign does (timing, disjoint slices, shared
        // parameters).
        let campaign = members.iter().filter(|m| campaign_linked(**m)).count()
            >= self.cfg.min_cluster_keys.max(2);
        if !campaign && level > Level::Notice {
            level = Level::Notice;
            if let Some(f) = signals.iter_mut().find(|s| s.name == "families") {
                f.detail.push_str(
                    "; held at notice: its keys share templates only (a tool or a worksheet many people use), and a cluster acts beyond notice only when timing, disjoint slices or shared parameters link them too",
                );
            }
        }
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

/// What links keys, per key (indexed as the sorted key names).
#[derive(Clone, Copy)]
pub(crate) struct Links<'a> {
    shares_client: &'a [bool],
    synced: &'a [bool],
    harvest_synced: &'a [bool],
    pooled: &'a [bool],
    param_linked: &'a [bool],
}

/// A template links a key when at least one in this many of the key's
/// answers at length went through it.
const TEMPLATE_SHARE_OF_KEY: u32 = 8;

/// Parameters shared by more than one in this many active keys are
/// common, and link nothing.
const UNUSUAL_PARAMS_PER: usize = 100;

/// ... unless no more than this many keys share them.
const UNUSUAL_PARAMS_MIN: usize = 3;

/// Whether a key's own requests are mostly answered at length (five or
/// more): what a link needs before it counts.
fn own_yield(w: &KeyWindow) -> bool {
    let yielding = w.events.iter().filter(|e| e.flags & YIELD != 0).count();
    yielding * 2 >= w.events.len().max(1) && yielding >= 5
}

/// Distinct items of one known set a key must ask to be linked by
/// disjoint slices.
const POOL_MIN_ITEMS: usize = 10;

/// Items a member's slice would share by chance with the rest of its
/// group for the member to be linked: sharing none has a chance of
/// `exp(-8)`, about 1 in 3,000, so among many keys choosing on their own
/// (people asking a public set's items) no group forms by chance.
const POOL_MEMBER_EXPECTED: f64 = 8.0;

/// Links keys that ask disjoint slices of one known set of `size` items.
/// Candidates are pairs whose overlap is at most a quarter of what
/// independent choices would share (expected `a·b/size`, at least 1); a
/// group of candidates links when its pairs together expect 6 or more
/// shared items and share at most a fifth of that, after the members that
/// overlap the others most are peeled off one by one (a key of another
/// campaign joins a group by chance, and must not sink it), and so are the
/// members each of whose own expected overlap with the rest is under
/// [`POOL_MEMBER_EXPECTED`] (among many keys choosing at random, some
/// share nothing by chance). Keys that each
/// run the whole set overlap fully, and a few items each prove nothing:
/// neither links.
fn link_disjoint_slices<'t>(
    keys: &[(usize, Vec<i64>)],
    size: f64,
    team: impl Fn(usize) -> &'t str,
    pooled: &mut [bool],
    uf: &mut UnionFind,
) {
    let n = keys.len();
    let mut local = UnionFind::new(n);
    let mut expected = vec![0f64; n * n];
    let mut observed = vec![0f64; n * n];
    for a in 0..n {
        for b in (a + 1)..n {
            let e = keys[a].1.len() as f64 * keys[b].1.len() as f64 / size;
            let o = sorted_intersection(&keys[a].1, &keys[b].1) as f64;
            expected[a * n + b] = e;
            expected[b * n + a] = e;
            observed[a * n + b] = o;
            observed[b * n + a] = o;
            if e >= 1.0 && o <= (e * 0.25).floor() {
                local.union(a, b);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..n {
        groups.entry(local.find(i)).or_default().push(i);
    }
    for mut g in groups.into_values() {
        while g.len() >= 2 {
            let (mut e, mut o) = (0.0, 0.0);
            let mut worst = (f64::MIN, 0usize);
            let mut weakest = (f64::MAX, 0usize);
            for (x, &a) in g.iter().enumerate() {
                let (mut ea, mut oa) = (0.0, 0.0);
                for &b in &g {
                    ea += expected[a * n + b];
                    oa += observed[a * n + b];
                }
                e += ea;
                o += oa;
                if oa - 0.2 * ea > worst.0 {
                    worst = (oa - 0.2 * ea, x);
                }
                if ea < weakest.0 {
                    weakest = (ea, x);
                }
            }
            // A member whose own slice would share too little with the
            // others' for its disjointness to mean anything goes first.
            if weakest.0 < POOL_MEMBER_EXPECTED {
                g.swap_remove(weakest.1);
                continue;
            }
            // Each pair was counted twice.
            let (e, o) = (e / 2.0, o / 2.0);
            if o <= 0.2 * e {
                if e >= 6.0 {
                    let members: Vec<usize> = g.iter().map(|a| keys[*a].0).collect();
                    link_across_teams(&members, &team, pooled, uf);
                }
                break;
            }
            g.swap_remove(worst.1);
        }
    }
}

/// Links the keys of a group that span two or more teams: within one team,
/// keys share their tooling's configuration and split their work by
/// design; across teams, the same is coordination.
fn link_across_teams<'t>(
    keys: &[usize],
    team: impl Fn(usize) -> &'t str,
    linked: &mut [bool],
    uf: &mut UnionFind,
) {
    let Some(&first) = keys.first() else {
        return;
    };
    if keys.iter().all(|k| team(*k) == team(first)) {
        return;
    }
    for k in keys {
        linked[*k] = true;
        uf.union(first, *k);
    }
}

/// A key's shared-parameter signatures: its generation parameters when
/// four fifths or more of its requests set the same ones (kind 0), and
/// the length at which half or more of its answers at length (ten or more)
/// were cut by `max_tokens` (kind 1: one length target, whatever else
/// varies).
fn signatures(w: &KeyWindow) -> Vec<(u8, u32)> {
    let mut out = Vec::new();
    let n = w.events.len();
    if n < 10 {
        return out;
    }
    let mut params: fxhash::FastMap<u32, usize> = fxhash::FastMap::default();
    let mut lengths: fxhash::FastMap<u32, usize> = fxhash::FastMap::default();
    let mut yielding = 0usize;
    for e in &w.events {
        if e.params != 0 {
            *params.entry(e.params).or_insert(0) += 1;
        }
        if e.flags & YIELD != 0 {
            yielding += 1;
            if e.flags & MAX_TOKENS != 0 {
                *lengths.entry(e.completion_tokens).or_insert(0) += 1;
            }
        }
    }
    if let Some((p, c)) = params
        .iter()
        .max_by_key(|(p, c)| (**c, std::cmp::Reverse(**p)))
        && c * 5 >= n * 4
    {
        out.push((0, *p));
    }
    if let Some((l, c)) = lengths
        .iter()
        .max_by_key(|(l, c)| (**c, std::cmp::Reverse(**l)))
        && *c >= 10
        && c * 2 >= yielding
    {
        out.push((1, *l));
    }
    out
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

/// A key's latest requests the dispatch test reads.
const DISPATCH_SAMPLE: usize = 512;
/// Requests of two keys within this of each other were sent together.
const DISPATCH_MS: i64 = 10_000;

/// The share of `a`'s requests with one of `b`'s within [`DISPATCH_MS`],
/// and the share chance would give at `b`'s rate over its span (requests
/// arriving at random).
fn together(a: &[i64], b: &[i64]) -> (f64, f64) {
    let (Some(first), Some(last)) = (b.first(), b.last()) else {
        return (0.0, 0.0);
    };
    let mut j = 0;
    let mut hits = 0usize;
    for &t in a {
        while j < b.len() && b[j] < t - DISPATCH_MS {
            j += 1;
        }
        if j < b.len() && b[j] <= t + DISPATCH_MS {
            hits += 1;
        }
    }
    let span = (last - first).max(1) as f64;
    let rate = b.len() as f64 / span;
    let chance = 1.0 - (-rate * 2.0 * DISPATCH_MS as f64).exp();
    (hits as f64 / a.len().max(1) as f64, chance)
}

/// Links the keys of a team that send their requests together (dispatched
/// by one script): half or more of each one's requests within
/// [`DISPATCH_MS`] of one of the other's, four times what chance gives at
/// their rates. People of one team at work in the same hours, or two busy
/// services, are active in the same minutes; they are not dispatched
/// together.
fn link_dispatched_together(keys: &[(usize, Vec<i64>)], synced: &mut [bool], uf: &mut UnionFind) {
    for a in 0..keys.len() {
        for b in (a + 1)..keys.len() {
            let (ia, ta) = &keys[a];
            let (ib, tb) = &keys[b];
            let (ab, chance_ab) = together(ta, tb);
            let (ba, chance_ba) = together(tb, ta);
            if ab >= 0.5 && ba >= 0.5 && ab >= 4.0 * chance_ab && ba >= 4.0 * chance_ba {
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
            purpose: Some("research".into()),
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

    /// People whose questions take one common form now and then are not
    /// filling a template: two of 36 long answers through it link
    /// nothing; a sixth of them does.
    #[test]
    fn a_template_links_a_key_only_through_a_share_of_its_harvest() {
        let run = |through: usize| {
            let mut m = monitor();
            let template = |x: &str| format!("Can you explain to me in detail how {x} works?");
            for (n, key) in ["key_a", "key_b"].iter().enumerate() {
                for i in 0..36usize {
                    let prompt = if i % (36 / through) == 0 {
                        template(WORDS[(i + n) % 12])
                    } else {
                        own_prompt(i, n + 7)
                    };
                    let t = T0 + i as i64 * 60_000 + n as i64 * 9_700;
                    m.observe(&obs(
                        key,
                        &format!("t{n}"),
                        &format!("10.1.0.{n}"),
                        t,
                        &prompt,
                    ));
                }
            }
            // Linked: one cluster reported with both (whether it may act
            // on them is another rule).
            m.evaluate_clusters();
            m.clusters.iter().any(|c| c.members == ["key_a", "key_b"])
        };
        assert!(!run(2), "two of 36 through a common form");
        assert!(run(6), "a sixth through one template");
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

    /// Three keys each enumerating one template, hours apart (`together`:
    /// one team, sent within a second of each other): the cluster's level.
    fn template_cluster_level(together: bool) -> crate::Level {
        let mut m = monitor();
        for k in 0..3usize {
            for i in 0..150usize {
                // One every 150 s: slow enough for being sent together to
                // stand out from chance.
                let (team, t) = if together {
                    ("t".to_string(), T0 + i as i64 * 150_000 + k as i64 * 900)
                } else {
                    (
                        format!("t{k}"),
                        T0 + k as i64 * (4 * 3_600_000 + 37_000) + i as i64 * 150_000,
                    )
                };
                let prompt = format!(
                    "Generate training example number {} on {}. Answer in full detail with steps.",
                    k * 1_000 + i,
                    WORDS[i % 12]
                );
                m.observe(&obs(
                    &format!("key_{k}"),
                    &team,
                    &format!("10.2.0.{k}"),
                    t,
                    &prompt,
                ));
            }
        }
        m.evaluate_clusters();
        let c = m
            .clusters
            .iter()
            .find(|c| c.members.len() == 3)
            .expect("the template links the three");
        c.level
    }

    #[test]
    fn a_template_alone_links_for_review_and_a_campaign_link_lets_the_cluster_act() {
        // A worksheet or a tool many people use: the cluster is shown, at
        // notice at most (each key is still judged on its own).
        assert!(template_cluster_level(false) <= crate::Level::Notice);
        // The same keys dispatched together: a campaign.
        assert!(template_cluster_level(true) > crate::Level::Notice);
    }

    #[test]
    fn people_of_one_team_at_work_in_the_same_hours_are_not_linked() {
        // A class of ten in one lab session: each asks every 20–60 s for
        // forty minutes, all in the same minutes (the minutes' Jaccard near
        // 1), never sent together.
        let mut m = monitor();
        let mut x = 12_345u64;
        for k in 0..10usize {
            let mut t = T0 + (k as i64) * 7_000;
            for j in 0..60usize {
                m.observe(&obs(
                    &format!("student{k}"),
                    "lab",
                    "10.1.0.1",
                    t,
                    &own_prompt(j, k + 10),
                ));
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t += 20_000 + (x % 40_000) as i64;
            }
        }
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty(), "{:?}", m.key_cluster.keys());
    }

    #[test]
    fn keys_of_one_team_dispatched_together_are_linked() {
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
            purpose: Some("research".into()),
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
        // Alone, each of them is at most at notice (sixty is what a person
        // may ask; their pace is not); as one actor, more.
        let own = m.key_report("key_3").unwrap();
        assert!(own.level <= Level::Notice, "{}", own.score);
        assert!(c.score > own.score + 0.1, "{} {}", c.score, own.score);
    }

    #[test]
    fn a_suite_several_members_run_counts_once_in_the_clusters_week() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        // Ten keys in step, each running the same suite of sixty
        // instructions (a regression suite shared by teams) on each of
        // three days.
        for day in 0..3i64 {
            for step in 0..60usize {
                for k in 0..10usize {
                    let t = T0 + day * 86_400_000 + (k as i64) * 12_000 + (step as i64) * 5_000;
                    m.observe(&harvest(
                        &format!("key_{k}"),
                        &format!("team_{k}"),
                        &format!("10.0.{k}.1"),
                        t,
                        step,
                    ));
                }
            }
        }
        m.evaluate_clusters();
        let i = *m.key_cluster.get("key_0").expect("linked");
        let c = &m.clusters[i];
        assert_eq!(c.members.len(), 10);
        let h = c
            .signals
            .iter()
            .find(|s| s.name == "harvest")
            .expect("harvest");
        // Sixty distinct instructions, not ten members' sixty each.
        assert!(h.detail.contains("60 in the week"), "{}", h.detail);
        assert!(h.value < 0.35, "{}", h.value);
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

#[cfg(test)]
mod link_tests {
    use super::*;

    const T0: i64 = 1_780_000_000_000;
    const HOUR: i64 = 3_600_000;

    /// A pseudo-random number from `(a, b)`.
    fn mix(a: usize, b: usize) -> usize {
        let mut x = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (b as u64 + 1);
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (x ^ (x >> 29)) as usize
    }

    /// A prompt of six pseudo-random words: no two share a template.
    fn words(a: usize, b: usize) -> String {
        const W: [&str; 16] = [
            "amber", "basil", "cedar", "delta", "ember", "fjord", "grove", "heron", "ivory",
            "juniper", "kelp", "lumen", "maple", "nectar", "onyx", "prism",
        ];
        (0..6)
            .map(|i| W[mix(a * 1000 + b, i) % 16])
            .collect::<Vec<_>>()
            .join(" ")
    }

    use crate::test_known_items as items;

    fn ask(key: &str, t: i64, prompt: &str) -> Observation {
        Observation {
            completion_tokens: 400,
            purpose: Some("research".into()),
            ..crate::test_observation(
                key,
                &format!("team-{key}"),
                &format!("10.9.{}.1", key.len()),
                t,
                prompt,
            )
        }
    }

    /// Keys sending `per` items each from `pick(key, j)`, started two hours
    /// apart, one every 45 s: never in step.
    fn staggered(m: &mut Monitor, keys: usize, per: usize, pick: impl Fn(usize, usize) -> usize) {
        let items = items();
        for k in 0..keys {
            for j in 0..per {
                let t = T0 + k as i64 * 2 * HOUR + j as i64 * 45_000;
                m.observe(&ask(
                    &format!("key{k}"),
                    t,
                    &items[pick(k, j) % items.len()],
                ));
            }
        }
    }

    #[test]
    fn disjoint_slices_of_a_known_set_are_one_actor() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        staggered(&mut m, 6, 40, |k, j| k * 40 + j);
        m.evaluate_clusters();
        let i = *m
            .key_cluster
            .get("key0")
            .expect("linked by disjoint slices");
        let c = &m.clusters[i];
        assert_eq!(c.members.len(), 6, "{:?}", c.members);
        let pool = c.signals.iter().find(|s| s.name == "pool_split").unwrap();
        assert_eq!(pool.value, 1.0, "{}", pool.detail);
        // A key choosing at random from the same items overlaps some of
        // the slices: peeled off, it does not sink the group.
        let items = items();
        for j in 0..40usize {
            let t = T0 + 13 * HOUR + j as i64 * 45_000;
            m.observe(&ask("other", t, &items[mix(99, j) % 240]));
        }
        m.evaluate_clusters();
        let i = *m.key_cluster.get("key0").expect("still linked");
        for k in 1..6 {
            assert_eq!(m.key_cluster.get(&format!("key{k}")), Some(&i));
        }
        // (It may be listed, through a template it shares; never acted on.)
        assert!(!m.key_cluster.contains_key("other"));
    }

    #[test]
    fn keys_running_the_same_items_or_a_few_each_are_not_linked() {
        // Each runs the same 40 items (an evaluation): full overlap.
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        staggered(&mut m, 6, 40, |_, j| j);
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty());
        // Nine items each: too few to tell chance from a plan.
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        staggered(&mut m, 6, 9, |k, j| k * 9 + j);
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty());
        // Independent random choices of 40 each overlap as chance has it.
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        staggered(&mut m, 6, 40, mix);
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty(), "{:?}", m.key_cluster.keys());
    }

    #[test]
    fn many_keys_choosing_at_random_are_not_linked_by_chance_disjointness() {
        // Forty people each asking thirty items of the public set, chosen
        // independently: among so many pairs, some share nothing by
        // chance, and a group of them must not pass for a split pool.
        let items = items();
        for seed in 0..3usize {
            let mut m = Monitor::new(MonitorConfig::default()).unwrap();
            for k in 0..40usize {
                for j in 0..30usize {
                    let t = T0 + k as i64 * 600_000 + j as i64 * 45_000;
                    let pick = mix(seed * 100 + k, j) % items.len();
                    m.observe(&ask(&format!("key{k}"), t, &items[pick]));
                }
            }
            m.evaluate_clusters();
            let pooled: Vec<&String> = m
                .clusters
                .iter()
                .filter(|c| {
                    c.signals
                        .iter()
                        .any(|s| s.name == "pool_split" && s.value > 0.0)
                })
                .flat_map(|c| c.members.iter())
                .collect();
            assert!(pooled.is_empty(), "seed {seed}: {pooled:?}");
        }
    }

    /// Keys `cap0`, `cap1`, ... each asking 30 questions a minute apart,
    /// `apart` from one another, every answer cut at 777 tokens.
    fn capped_keys(m: &mut Monitor, keys: usize, apart: i64) {
        for k in 0..keys {
            for j in 0..30usize {
                let mut o = ask(
                    &format!("cap{k}"),
                    T0 + k as i64 * apart + j as i64 * 60_000,
                    &words(k, j),
                );
                o.completion_tokens = 777;
                o.hit_max_tokens = true;
                m.observe(&o);
            }
        }
    }

    #[test]
    fn a_shared_unusual_length_target_links_and_a_common_one_does_not() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        capped_keys(&mut m, 3, 5 * HOUR);
        m.evaluate_clusters();
        let i = *m
            .key_cluster
            .get("cap0")
            .expect("linked by one length target");
        let p = m.clusters[i]
            .signals
            .iter()
            .find(|s| s.name == "shared_params")
            .unwrap();
        assert_eq!(p.value, 1.0, "{}", p.detail);
        // The same cap on most active keys is a common client's default.
        for k in 0..120usize {
            for j in 0..12usize {
                let mut o = ask(
                    &format!("many{k}"),
                    T0 + 20 * HOUR + k as i64 * 1000 + j as i64 * 60_000,
                    &words(100 + k, j),
                );
                o.completion_tokens = 777;
                o.hit_max_tokens = true;
                m.observe(&o);
            }
        }
        m.evaluate_clusters();
        assert!(!m.key_cluster.contains_key("many0"));
    }

    /// Among many active keys, a length target that eight of them share
    /// is a setting teams chose alike, not a campaign's: it links nothing;
    /// three sharing one still link.
    #[test]
    fn parameters_a_few_keys_of_many_share_link_and_those_many_share_do_not() {
        let run = |sharing: usize| {
            let mut m = Monitor::new(MonitorConfig::default()).unwrap();
            for k in 0..400usize {
                m.observe(&ask(
                    &format!("quiet{k}"),
                    T0 + k as i64 * 1000,
                    &words(500 + k, 0),
                ));
            }
            capped_keys(&mut m, sharing, 2 * HOUR);
            m.evaluate_clusters();
            // Every sharing key is still in its window (a day).
            assert!((0..sharing).all(|k| !m.keys[&format!("cap{k}")].events.is_empty()));
            m.key_cluster.contains_key("cap0")
        };
        assert!(run(3), "three of 403 keys sharing a length target link");
        assert!(!run(8), "eight of 408 keys sharing one is a common setting");
    }

    #[test]
    fn keys_of_one_team_sharing_a_configuration_or_a_split_are_not_linked_by_it() {
        // One team's three CI keys: one cap, and one benchmark split three
        // ways. By design, within a team.
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let items = items();
        for k in 0..3usize {
            for j in 0..40usize {
                let mut o = Observation {
                    team: "eval".into(),
                    ..ask(
                        &format!("ci{k}"),
                        T0 + k as i64 * 5 * HOUR + j as i64 * 60_000,
                        &items[k * 40 + j],
                    )
                };
                o.completion_tokens = 777;
                o.hit_max_tokens = true;
                m.observe(&o);
            }
        }
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty(), "{:?}", m.key_cluster.keys());
    }

    #[test]
    fn a_serving_key_is_not_linked_by_its_timing() {
        // A team's product key, busy all day, and two keys of the team
        // harvesting in its minutes: the harvesters link, the product
        // does not (its timing is its users').
        let cfg = MonitorConfig {
            min_cluster_keys: 2,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new(cfg).unwrap();
        for i in 0..600usize {
            let t = T0 + i as i64 * 20_000;
            m.observe(&Observation {
                purpose: Some("product".into()),
                team: "shop".into(),
                ..ask("product", t, &words(1, i))
            });
            for h in ["h1", "h2"] {
                m.observe(&Observation {
                    team: "shop".into(),
                    ..ask(
                        h,
                        t + 5_000,
                        &words(2 + h.len() + usize::from(h == "h2"), i),
                    )
                });
            }
        }
        m.evaluate_clusters();
        assert!(m.key_cluster.contains_key("h1") && m.key_cluster.contains_key("h2"));
        assert!(!m.key_cluster.contains_key("product"));
    }

    #[test]
    fn links_survive_one_request_a_long_idle_and_a_clock_jump() {
        let mut m = Monitor::new(MonitorConfig::default()).unwrap();
        let items = items();
        m.observe(&ask("solo", T0, &items[0]));
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty());
        staggered(&mut m, 6, 40, |k, j| k * 40 + j);
        m.evaluate_clusters();
        assert!(m.key_cluster.contains_key("key0"), "linked");
        // Two days idle: the window forgot the slices, the link goes.
        m.observe(&ask("solo", T0 + 60 * HOUR, &items[1]));
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty());
        // The clock jumps back: taken as the last time, nothing re-forms.
        m.observe(&ask("key0", T0, &items[2]));
        m.evaluate_clusters();
        assert!(m.key_cluster.is_empty());
    }
}
