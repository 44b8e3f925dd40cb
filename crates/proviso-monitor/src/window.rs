//! Per-key state: the requests of the sliding window (compact), hourly
//! counts of the rhythm window, prompt vectors for the shift test, and the
//! distinct prompts of a bounded purpose.

use std::collections::{BTreeMap, HashSet, VecDeque};

use proviso_types::RecordId;

use crate::features::Packed;

/// Flags of an event.
pub(crate) const LIMITED: u8 = 1;
pub(crate) const MAX_TOKENS: u8 = 2;
pub(crate) const REASONING: u8 = 4;
pub(crate) const PARAMS: u8 = 8;
/// An answer at length (at least `LONG_ANSWER_TOKENS`, and twice the
/// prompt).
pub(crate) const YIELD: u8 = 16;
/// A [`YIELD`] to a self-contained request (not a follow-up turn).
pub(crate) const HARVEST: u8 = 32;

/// Tokens from which an answer is long.
pub(crate) const LONG_ANSWER_TOKENS: u64 = 100;

/// One request, compactly.
#[derive(Clone, Debug)]
pub(crate) struct Ev {
    pub t: i64,
    pub rid: RecordId,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub flags: u8,
    pub template: u32,
    pub exact: u64,
    /// Its system text, words and definitions alone
    /// (`Monitor::follows_a_sent_turn` finds an earlier turn by them).
    pub base: u64,
    pub sampling: (i32, i32),
    /// Topic × instruction type ([`crate::topics::cell`]).
    pub cell: u8,
    /// The item of a known instruction set it asks, plus one (0: none).
    pub known: u32,
    /// The end user's hash (0: none named).
    pub user: u32,
    /// The generation parameters' signature, truncated (0: none set).
    pub params: u32,
    pub latency_ms: u32,
}

/// Whether half or more of the harvest requests among `events` (one or
/// more) name an end user: the requests of a key serving many people,
/// who are then counted apart.
pub(crate) fn names_end_users<'a>(events: impl IntoIterator<Item = &'a Ev>) -> bool {
    let (mut all, mut named) = (0usize, 0usize);
    for e in events.into_iter().filter(|e| e.flags & HARVEST != 0) {
        all += 1;
        named += usize::from(e.user != 0);
    }
    all > 0 && named * 2 >= all
}

/// A turn answered short, and what its follow-ups have added.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Parts {
    pub tokens: u32,
    pub prompt_tokens: u32,
    /// Counted as an answer at length already.
    pub done: bool,
}

/// Most turns answered short a key remembers (past it, they are forgotten
/// at once: an answer in parts is asked for within a few requests).
const MAX_PARTS: usize = 16_384;

/// Most events a key keeps in its window (the oldest go first).
pub(crate) const MAX_EVENTS: usize = 8192;

/// Most distinct harvest requests a key's week remembers (far above
/// `harvest_week_high`; past it the count stays where it is).
pub(crate) const MAX_HARVEST_SEEN: usize = 16_384;

/// The state of one key.
#[derive(Default)]
pub(crate) struct KeyWindow {
    pub team: String,
    pub events: VecDeque<Ev>,
    /// Requests per hour (hours since the epoch) in the rhythm window.
    pub hours: BTreeMap<i64, u32>,
    /// The distinct [`HARVEST`] requests of the rhythm window (a request
    /// asked again counts once): the hour each was last asked.
    pub harvest_seen: std::collections::HashMap<u64, i64>,
    /// (hour, request) as they were asked, to forget them in order.
    pub harvest_order: VecDeque<(i64, u64)>,
    pub recent: VecDeque<Packed>,
    pub history: Vec<Packed>,
    /// Dot products of the full history (it never changes once full).
    pub history_gram: Vec<f32>,
    pub distinct: HashSet<u64>,
    /// Follow-ups taken as a conversation, per earlier prompt (exact hash).
    pub followed: std::collections::HashMap<u64, u8>,
    /// Self-contained requests answered short, per exact hash: the answer
    /// so far, for an answer given in parts.
    pub parts: std::collections::HashMap<u64, Parts>,
    pub clients: Vec<String>,
    /// The system texts the key sent lately (hashes, the latest
    /// [`SYSTEMS`]): one sent again is a fixed preamble.
    pub systems: VecDeque<u64>,
    /// The tool and schema definitions the key sent lately (hashes, the
    /// latest [`SYSTEMS`]): a follow-up may go on from a turn sent with
    /// other tools.
    pub definitions: VecDeque<u64>,
    /// The key's latest answers ([`crate::observation::said_hash`], the
    /// latest [`ANSWERS`]), each with the results of its tool calls as a
    /// request first handed them back: a turn a request shows the model as
    /// having said is the model's when it is among them (and, with
    /// results, with the same results: one call the model made is not a
    /// way to hand any number of results back).
    pub answers: std::collections::HashMap<u64, Given>,
    /// The answers in the order they were last given (with the count they
    /// were given at), to forget the oldest.
    pub answers_order: VecDeque<(u64, u32)>,
    pub purpose: Option<String>,
    /// Requests ever observed (since the last reset).
    pub total: u64,
    pub since_eval: u32,
    pub last_t: i64,
    /// `total` when the shift test last ran, and its value then.
    pub shift: Option<(u64, f64, f64)>,
}

/// System texts remembered per key.
const SYSTEMS: usize = 16;

/// Answers remembered per key: a conversation or a tool loop goes on from
/// the key's latest answers (a turn older than that reads as written by
/// the client).
pub(crate) const ANSWERS: usize = 4096;

/// Results remembered per answer (a call made again and again, a status
/// polled, takes one set of results each time it was made).
const MAX_RESULTS: usize = 16;

/// An answer the key was given: how many times, the results handed back
/// after it, and how many more it may take.
#[derive(Clone, Debug, Default)]
pub(crate) struct Given {
    pub times: u32,
    pub free: u16,
    pub results: Vec<u64>,
}

/// Puts `h` last in `recent`, forgetting the oldest past [`SYSTEMS`].
fn remember(recent: &mut VecDeque<u64>, h: u64) {
    if let Some(i) = recent.iter().position(|x| *x == h) {
        recent.remove(i);
    } else if recent.len() >= SYSTEMS {
        recent.pop_front();
    }
    recent.push_back(h);
}

impl KeyWindow {
    /// Remembers a system text the key sent (the latest [`SYSTEMS`]).
    pub fn note_system(&mut self, h: u64) {
        remember(&mut self.systems, h);
    }

    /// Remembers the definitions the key sent (the latest [`SYSTEMS`]).
    pub fn note_definitions(&mut self, h: u64) {
        remember(&mut self.definitions, h);
    }

    /// Remembers an answer the key was given (the latest [`ANSWERS`]).
    pub fn note_answer(&mut self, h: u64) {
        if h == 0 {
            return;
        }
        let given = self.answers.entry(h).or_default();
        // Given again (the same call made afresh): one more set of results
        // it may take, and young again.
        given.times = given.times.wrapping_add(1);
        given.free = given.free.saturating_add(1).min(MAX_RESULTS as u16);
        let times = given.times;
        self.answers_order.push_back((h, times));
        while self.answers.len() > ANSWERS || self.answers_order.len() > 4 * ANSWERS {
            let Some((old, at)) = self.answers_order.pop_front() else {
                break;
            };
            // An entry of an answer given again since is stale.
            if self.answers.get(&old).is_some_and(|g| g.times == at) {
                self.answers.remove(&old);
            }
        }
    }

    /// Whether a turn with this hash, handed back with these results (0:
    /// none), is the model's: an answer the key was given, with no results,
    /// with results it was handed back with before, or new ones once for
    /// every time it was given.
    pub fn answered(&mut self, h: u64, results: u64) -> bool {
        let Some(given) = self.answers.get_mut(&h) else {
            return false;
        };
        if results == 0 || given.results.contains(&results) {
            return true;
        }
        if given.free == 0 {
            return false;
        }
        given.free -= 1;
        if given.results.len() >= MAX_RESULTS {
            given.results.remove(0);
        }
        given.results.push(results);
        true
    }

    pub fn push(&mut self, ev: Ev, cfg_window: i64, rhythm_window: i64, bounded_cap: usize) {
        // A clock that jumps back must not reorder the window: an event
        // earlier than the last one is taken as happening at the last time.
        let t = ev.t.max(self.last_t);
        let ev = Ev { t, ..ev };
        self.last_t = t;
        *self.hours.entry(t.div_euclid(3_600_000)).or_insert(0) += 1;
        if ev.flags & HARVEST != 0 && self.harvest_seen.len() < MAX_HARVEST_SEEN {
            let hour = t.div_euclid(3_600_000);
            if self.harvest_seen.insert(ev.exact, hour) != Some(hour) {
                self.harvest_order.push_back((hour, ev.exact));
                // A prompt re-asked every hour adds an entry an hour: keep
                // the order bounded, forgetting the oldest.
                if self.harvest_order.len() > 4 * MAX_HARVEST_SEEN
                    && let Some((h, exact)) = self.harvest_order.pop_front()
                    && self.harvest_seen.get(&exact) == Some(&h)
                {
                    self.harvest_seen.remove(&exact);
                }
            }
        }
        if self.distinct.len() <= bounded_cap {
            self.distinct.insert(ev.exact);
        }
        self.events.push_back(ev);
        if self.events.len() > MAX_EVENTS {
            self.events.pop_front();
        }
        self.total += 1;
        self.since_eval += 1;
        self.prune(t, cfg_window, rhythm_window);
    }

    /// Drops what is older than the windows ending at `now`.
    pub fn prune(&mut self, now: i64, window: i64, rhythm_window: i64) {
        while self.events.front().is_some_and(|e| e.t < now - window) {
            self.events.pop_front();
        }
        let first_hour = (now - rhythm_window).div_euclid(3_600_000);
        while let Some((&h, _)) = self.hours.first_key_value() {
            if h >= first_hour {
                break;
            }
            self.hours.remove(&h);
        }
        while let Some(&(h, exact)) = self.harvest_order.front() {
            if h >= first_hour {
                break;
            }
            self.harvest_order.pop_front();
            // Asked again since: its later entry keeps it.
            if self.harvest_seen.get(&exact) == Some(&h) {
                self.harvest_seen.remove(&exact);
            }
        }
    }

    pub fn add_vector(&mut self, v: Packed, recent: usize, history: usize) {
        if self.history.len() < history {
            self.history.push(v);
            return;
        }
        self.recent.push_back(v);
        if self.recent.len() > recent {
            self.recent.pop_front();
        }
    }

    /// Whether half or more of its harvest requests in the window (one or
    /// more) name an end user.
    pub fn names_end_users(&self) -> bool {
        names_end_users(&self.events)
    }

    /// Remembers a self-contained request answered short.
    pub fn note_short_turn(&mut self, exact: u64, tokens: u32, prompt_tokens: u32) {
        if self.parts.len() >= MAX_PARTS {
            self.parts.clear();
        }
        self.parts.entry(exact).or_insert(Parts {
            tokens,
            prompt_tokens,
            done: false,
        });
    }

    pub fn note_client(&mut self, c: &str) {
        if !self.clients.iter().any(|x| x == c) && self.clients.len() < 16 {
            self.clients.push(c.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64) -> Ev {
        Ev {
            t,
            rid: RecordId::new(),
            prompt_tokens: 1,
            completion_tokens: 1,
            flags: 0,
            template: 0,
            exact: t as u64,
            base: 0,
            sampling: (1000, 1000),
            cell: 0,
            known: 0,
            user: 0,
            params: 0,
            latency_ms: 0,
        }
    }

    #[test]
    fn window_prunes_and_survives_a_clock_jumping_back() {
        let mut w = KeyWindow::default();
        w.push(ev(10_000_000), 1_000_000, 10_000_000, 10);
        w.push(ev(5), 1_000_000, 10_000_000, 10);
        assert_eq!(w.events.back().map(|e| e.t), Some(10_000_000));
        // idle for a week: the old requests leave the window
        w.push(ev(10_000_000 + 7 * 86_400_000), 1_000_000, 10_000_000, 10);
        assert_eq!(w.events.len(), 1);
        assert_eq!(w.hours.len(), 1);
        assert_eq!(w.total, 3);
    }
}
