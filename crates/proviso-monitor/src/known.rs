//! Known public instruction sets: prompts that enumerate a benchmark or an
//! instruction dataset. Each item of a set is indexed by its word 5-grams;
//! a prompt matches an item when it contains most of the item's 5-grams
//! (so an item wrapped in a greeting or a "please be detailed" still
//! matches, a paraphrase does not). 5-grams that occur in many items (stock
//! phrases such as "what is the best way to") are not indexed. A prompt
//! in which no item reaches its share of 5-grams, and not more than three
//! times as long as the longest item, is tried on the items' word pairs, in
//! order with up to two words between: an item retyped with a few typos,
//! or read aloud with fillers and stutters, still matches.
//!
//! One set ships with Proviso: the 805 AlpacaEval instructions
//! (tatsu-lab/alpaca_eval, Apache-2.0, `data/alpaca_eval.jsonl`). An
//! operator adds others by file (`[monitor] instruction_sets`).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::features::{MAX_FEATURE_BYTES, exact_hash, head_of, word_hashes};
use crate::fxhash::FastMap;

/// Words in a shingle.
const SHINGLE: usize = 5;
/// Items shorter than this (in words) are not indexed: "Hi!" or "Tell me a
/// joke" prove nothing.
const MIN_WORDS: usize = 4;
/// Share of an item's shingles a prompt must contain to match it.
const CONTAINMENT: f64 = 0.6;
/// A shingle in more items than this is a stock phrase, not indexed.
const MAX_ITEMS_PER_SHINGLE: usize = 8;
/// Bytes of a prompt read for matching (an item pasted after a long
/// document is not looked for).
pub(crate) const MAX_BYTES: usize = 4 * MAX_FEATURE_BYTES;

/// The name of the built-in set.
pub const BUILTIN: &str = "alpaca_eval";

/// Why a set could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct SetError {
    /// The file.
    pub path: String,
    /// The line (1-based), when one is at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// The indexed sets.
#[derive(Default)]
pub struct KnownSets {
    names: Vec<String>,
    /// Items per set.
    sizes: Vec<u32>,
    /// Per item (global index): its set, and the shingles it needs matched.
    item_set: Vec<u16>,
    item_need: Vec<u16>,
    shingles: FastMap<u64, Vec<u32>>,
    /// Per item: the word pairs (adjacent in the item) it needs found in
    /// order with at most [`PAIR_GAP`] words between them, when its
    /// 5-grams are not there (a retyped or stuttered copy).
    item_pair_need: Vec<u16>,
    pairs: FastMap<u64, Vec<u32>>,
    /// Words in the longest item matched by its pairs: a prompt of more
    /// than [`PAIR_SPAN`] times as many words is not tried on pairs (an
    /// item's pairs scattered over a long document are not the item).
    longest_paired: usize,
    /// Words per item (for the pair path's span).
    item_len: Vec<u16>,
    /// Items of fewer than [`SHINGLE`] words, by their exact hash.
    exact: FastMap<u64, u32>,
}

/// One matched item: its global index (0-based).
pub type Item = u32;

/// Words that may stand between two words of an item in a prompt that
/// still asks it (fillers, stutters, a word added now and then).
const PAIR_GAP: usize = 2;
/// Share of an item's word pairs a prompt must hold to ask it (a typo
/// loses the two pairs of its word; fillers lose none).
const PAIR_CONTAINMENT: f64 = 0.6;
/// Items with fewer distinct indexed pairs than this are matched by their
/// 5-grams only.
const MIN_PAIRS: usize = 6;
/// How many times an item's words a prompt may have to be matched to it by
/// pairs (a wrapper, fillers, stutters; not a long document that happens
/// to hold its pairs here and there).
const PAIR_SPAN: usize = 3;
/// Words a prompt may have beyond [`PAIR_SPAN`] times the item's (a
/// greeting, a "please be detailed").
const PAIR_SLACK: usize = 24;

fn pair_hash(a: u64, b: u64) -> u64 {
    (a.rotate_left(17) ^ b ^ 0x7061_6972_0000_0001).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The distinct adjacent word pairs of an item, hashed, sorted.
fn item_pairs(words: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = words.windows(2).map(|w| pair_hash(w[0], w[1])).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The distinct word pairs of a prompt in order with at most [`PAIR_GAP`]
/// words between, hashed, sorted.
fn prompt_pairs(words: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(words.len() * (PAIR_GAP + 1));
    for (i, a) in words.iter().enumerate() {
        for b in words.iter().skip(i + 1).take(PAIR_GAP + 1) {
            out.push(pair_hash(*a, *b));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The distinct word 5-grams of a text's words, hashed, sorted.
fn shingles_of(words: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = words
        .windows(SHINGLE)
        .map(|w| {
            w.iter().fold(0x6b6e_6f77_6e00_0001u64, |h, x| {
                (h.rotate_left(23) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            })
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The part of a text read for matching: up to [`MAX_BYTES`] of letters,
/// digits and ideographs, whatever else lies between them (rulers, frames,
/// runs of punctuation or spaces are cheap in tokens and must not push an
/// item out of sight).
fn head(text: &str) -> &str {
    if text.len() <= MAX_BYTES {
        return text;
    }
    let mut read = 0usize;
    for (i, c) in text.char_indices() {
        // What the word splitter reads as words counts; and no more than
        // [`MAX_SCAN`] bytes are looked at, whatever they hold.
        if i >= MAX_SCAN {
            return &text[..i];
        }
        if c.is_alphanumeric() || crate::features::is_cjk(c) {
            read += c.len_utf8();
            if read > MAX_BYTES {
                return &text[..i];
            }
        }
    }
    text
}

/// Bytes of a prompt looked at, at most, to find [`MAX_BYTES`] of words
/// (an item after 240 KiB of rulers is not looked for).
const MAX_SCAN: usize = 16 * MAX_BYTES;

/// The end of a system text and the start of a user's turn, read as one
/// text (an item split between them): the last and first [`MAX_BYTES`] /
/// 2 bytes of each; `None` when either is empty.
pub fn seam(system: &str, prompt: &str) -> Option<String> {
    if system.trim().is_empty() || prompt.trim().is_empty() {
        return None;
    }
    let half = MAX_BYTES / 2;
    let mut from = system.len().saturating_sub(half);
    while !system.is_char_boundary(from) {
        from += 1;
    }
    Some(format!("{}\n{}", &system[from..], head_of(prompt, half)))
}

impl KnownSets {
    /// The built-in set alone (parsed once per process).
    pub fn builtin() -> Arc<KnownSets> {
        static ONCE: OnceLock<Arc<KnownSets>> = OnceLock::new();
        ONCE.get_or_init(|| {
            let mut k = KnownSets::default();
            let items = parse(
                include_str!("../data/alpaca_eval.jsonl"),
                "alpaca_eval.jsonl",
            )
            .unwrap_or_default();
            k.add(BUILTIN, &items);
            Arc::new(k)
        })
        .clone()
    }

    /// The sets named in `[monitor] instruction_sets`: `alpaca_eval` (the
    /// built-in set) or a file's path.
    pub fn load(names: &[String]) -> Result<Arc<KnownSets>, SetError> {
        if names.len() == 1 && names[0] == BUILTIN {
            return Ok(Self::builtin());
        }
        let mut k = KnownSets::default();
        for n in names {
            if n == BUILTIN {
                let items = parse(
                    include_str!("../data/alpaca_eval.jsonl"),
                    "alpaca_eval.jsonl",
                )?;
                k.add(BUILTIN, &items);
                continue;
            }
            let path = Path::new(n);
            let text = std::fs::read_to_string(path).map_err(|e| SetError {
                path: n.clone(),
                line: None,
                message: e.to_string(),
            })?;
            let items = parse(&text, n)?;
            if items.is_empty() {
                return Err(SetError {
                    path: n.clone(),
                    line: None,
                    message: "no instructions in the file".into(),
                });
            }
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(n.as_str());
            k.add(name, &items);
        }
        Ok(Arc::new(k))
    }

    /// Indexes `items` as the set `name`.
    pub fn add(&mut self, name: &str, items: &[String]) {
        if self.names.len() >= usize::from(u16::MAX) {
            return;
        }
        let set = self.names.len() as u16;
        self.names.push(name.to_owned());
        self.sizes.push(0);
        for text in items {
            let words = word_hashes(head(text));
            if words.len() < MIN_WORDS {
                continue;
            }
            let Ok(g) = u32::try_from(self.item_set.len()) else {
                break;
            };
            self.item_set.push(set);
            self.item_need.push(0);
            self.item_pair_need.push(u16::MAX);
            self.item_len
                .push(u16::try_from(words.len()).unwrap_or(u16::MAX));
            self.sizes[usize::from(set)] += 1;
            if words.len() < SHINGLE {
                self.exact.insert(exact_hash(text), g);
            } else {
                for s in shingles_of(&words) {
                    self.shingles.entry(s).or_default().push(g);
                }
                for p in item_pairs(&words) {
                    self.pairs.entry(p).or_default().push(g);
                }
            }
        }
        // What is common is judged over every set loaded so far, and what
        // each item needs is counted again for all of them (a phrase this
        // set makes common is no longer evidence for an earlier set's item).
        self.shingles
            .retain(|_, v| v.len() <= MAX_ITEMS_PER_SHINGLE);
        self.pairs.retain(|_, v| v.len() <= MAX_ITEMS_PER_SHINGLE);
        // (An item of fewer than five words has neither, and is matched
        // whole through `exact`.)
        let n = self.item_set.len();
        let kept = per_item(&self.shingles, n);
        let kept_pairs = per_item(&self.pairs, n);
        self.longest_paired = 0;
        for g in 0..n {
            let need = (kept[g] as f64 * CONTAINMENT).ceil() as usize;
            // An item made only of stock phrases is never matched.
            self.item_need[g] = if kept[g] == 0 {
                u16::MAX
            } else {
                u16::try_from(need.max(1)).unwrap_or(u16::MAX)
            };
            self.item_pair_need[g] = if kept_pairs[g] >= MIN_PAIRS {
                let need = (kept_pairs[g] as f64 * PAIR_CONTAINMENT).ceil() as usize;
                u16::try_from(need).unwrap_or(u16::MAX)
            } else {
                u16::MAX
            };
            if self.item_pair_need[g] != u16::MAX {
                self.longest_paired = self.longest_paired.max(usize::from(self.item_len[g]));
            }
        }
    }

    /// Whether no set is loaded.
    pub fn is_empty(&self) -> bool {
        self.item_set.is_empty()
    }

    /// The item of a known set the text asks (the best-covered one), if any.
    pub fn find(&self, text: &str) -> Option<Item> {
        if self.is_empty() {
            return None;
        }
        let words = word_hashes(head(text));
        if words.len() < SHINGLE {
            return (words.len() >= MIN_WORDS)
                .then(|| self.exact.get(&exact_hash(text)).copied())
                .flatten();
        }
        best(hits(&self.shingles, shingles_of(&words)), &self.item_need).or_else(|| {
            // Not there word for word: the item retyped, or with words
            // put between its words (fillers, stutters), in a prompt not
            // much longer than an item.
            if words.len() > PAIR_SPAN * self.longest_paired + PAIR_SLACK {
                return None;
            }
            let mut counts = hits(&self.pairs, prompt_pairs(&words));
            counts.retain(|g, _| {
                words.len() <= PAIR_SPAN * usize::from(self.item_len[*g as usize]) + PAIR_SLACK
            });
            best(counts, &self.item_pair_need)
        })
    }

    /// The set of an item.
    pub fn set_of(&self, item: Item) -> usize {
        self.item_set
            .get(item as usize)
            .map_or(0, |s| usize::from(*s))
    }

    /// A set's name.
    pub fn name(&self, set: usize) -> &str {
        self.names.get(set).map_or("", String::as_str)
    }

    /// A set's indexed items.
    pub fn size(&self, set: usize) -> u32 {
        self.sizes.get(set).copied().unwrap_or(0)
    }
}

/// How many of `keys` each item has in `index` (a map allocates on its
/// first hit only: most prompts have none).
fn hits(index: &FastMap<u64, Vec<u32>>, keys: Vec<u64>) -> FastMap<u32, u16> {
    let mut counts: FastMap<u32, u16> = FastMap::default();
    for k in keys {
        for g in index.get(&k).into_iter().flatten() {
            let c = counts.entry(*g).or_insert(0);
            *c = c.saturating_add(1);
        }
    }
    counts
}

/// How many of an index's keys each of `n` items holds.
fn per_item(index: &FastMap<u64, Vec<u32>>, n: usize) -> Vec<usize> {
    let mut kept = vec![0usize; n];
    for g in index.values().flatten() {
        kept[*g as usize] += 1;
    }
    kept
}

/// The item with the largest share of what it needs, among those the
/// counts reach.
fn best(counts: FastMap<u32, u16>, need: &[u16]) -> Option<Item> {
    counts
        .into_iter()
        .filter(|(g, c)| *c >= need[*g as usize])
        .max_by(|a, b| {
            let share = |(g, c): &(u32, u16)| f64::from(*c) / f64::from(need[*g as usize]);
            share(a).total_cmp(&share(b)).then(b.0.cmp(&a.0))
        })
        .map(|(g, _)| g)
}

/// The instructions of a set file: JSON lines (a string, or an object with
/// `instruction`, `prompt` or `text`, and an optional `input` appended), a
/// JSON array of the same, or plain text, one instruction a line.
fn parse(text: &str, path: &str) -> Result<Vec<String>, SetError> {
    fn of(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(m) => {
                let main = ["instruction", "prompt", "text", "question"]
                    .iter()
                    .find_map(|k| m.get(*k).and_then(|x| x.as_str()))?;
                match m.get("input").and_then(|x| x.as_str()) {
                    Some(i) if !i.trim().is_empty() => Some(format!("{main}\n{i}")),
                    _ => Some(main.to_owned()),
                }
            }
            _ => None,
        }
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let v: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| SetError {
            path: path.into(),
            line: Some(e.line()),
            message: e.to_string(),
        })?;
        return Ok(v.iter().filter_map(of).collect());
    }
    let json_lines = trimmed.starts_with('{') || trimmed.starts_with('"');
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if !json_lines {
            out.push(line.to_owned());
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| SetError {
            path: path.into(),
            line: Some(i + 1),
            message: e.to_string(),
        })?;
        out.push(of(&v).ok_or_else(|| SetError {
            path: path.into(),
            line: Some(i + 1),
            message: "expected a string or an object with \"instruction\", \"prompt\", \"text\" or \"question\"".into(),
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_wrapped_matches_and_a_paraphrase_does_not() {
        let k = KnownSets::builtin();
        assert!(k.size(0) > 790, "{}", k.size(0));
        let item =
            "What are the names of some famous actors that started their careers on Broadway?";
        let g = k.find(item).expect("the item itself");
        assert_eq!(k.name(k.set_of(g)), BUILTIN);
        let wrapped = format!("Hey, quick one: {item} Please be detailed.");
        assert_eq!(k.find(&wrapped), Some(g));
        assert_eq!(k.find(&item.to_uppercase()), Some(g));
        // Disguised with look-alike letters and zero-width characters.
        let disguised = "Whаt аre the nаmes of sоme fa\u{200B}mous actоrs that stаrted their careers on Broadway?";
        assert_eq!(k.find(disguised), Some(g));
        assert_eq!(
            k.find("Which well-known performers began acting on the Broadway stage before film?"),
            None
        );
        assert_eq!(k.find("How do I reset my router password?"), None);
        assert_eq!(k.find(""), None);
    }

    #[test]
    fn an_item_after_a_frame_of_punctuation_is_read_and_after_words_is_not() {
        let k = KnownSets::builtin();
        let item =
            "What are the names of some famous actors that started their careers on Broadway?";
        let g = k.find(item).expect("the item itself");
        // 20 KB of ruler lines: cheap in tokens, no words.
        let ruler = "----+----|".repeat(2_000);
        assert_eq!(k.find(&format!("{ruler}\n{item}")), Some(g));
        // 20 KB of words before it: past what is read.
        let words = "river stone ".repeat(1_700);
        assert_eq!(k.find(&format!("{words}\n{item}")), None);
    }

    #[test]
    fn an_item_split_after_a_long_system_text_is_read_at_the_seam() {
        let k = KnownSets::builtin();
        let first = "What are the names of some famous actors";
        let second = "that started their careers on Broadway?";
        let g = k
            .find(&format!("{first} {second}"))
            .expect("the item itself");
        // 30 KB of words before the item's first half: the seam still
        // holds both halves.
        let system = format!("{}{first}", "river stone ".repeat(2_500));
        let joined = seam(&system, second).expect("both sides");
        assert!(joined.len() <= MAX_BYTES + 1);
        assert_eq!(k.find(&joined), Some(g));
        assert_eq!(seam("", second), None);
        assert_eq!(seam(&system, "  "), None);
        // A body of 4 MB with no words is looked at no further than
        // MAX_SCAN bytes.
        let dots = "\u{30fb}".repeat(1_400_000);
        assert!(head(&dots).len() <= MAX_SCAN + 3);
    }

    #[test]
    fn an_item_retyped_or_stuttered_matches_and_its_topic_does_not() {
        let k = KnownSets::builtin();
        let item =
            "What are the names of some famous actors that started their careers on Broadway?";
        let g = k.find(item).expect("the item itself");
        // A filler or a stutter every three words: no 5-gram survives.
        let spoken = "um what are the uh names of some like famous actors that uh started their uh careers on you know Broadway?";
        assert_eq!(k.find(spoken), Some(g));
        let stutter = "what are the the names of of some famous actors that that started their careers careers on Broadway";
        assert_eq!(k.find(stutter), Some(g));
        // Typed in a hurry: a few words misspelt.
        let typos =
            "what are teh names of some famous actors that startd their careers on Broadway?";
        assert_eq!(k.find(typos), Some(g));
        // Another question on the same subject, in other words.
        assert_eq!(
            k.find("Which famous actors of the screen never performed on Broadway, and what are their names?"),
            None
        );
        assert_eq!(
            k.find("Tell me about the careers of some actors, and the names of theatres on Broadway that started them."),
            None
        );
        // The item's words, scattered over a long text that asks nothing.
        let filler = "The committee met on Tuesday to review the budget for the coming year and agreed to meet again. ";
        let scattered = format!(
            "{} What are the names {} of some famous actors {} that started their careers {} on Broadway? {}",
            filler.repeat(3),
            filler.repeat(4),
            filler.repeat(4),
            filler.repeat(4),
            filler.repeat(3)
        );
        assert_eq!(k.find(&scattered), None);
    }

    #[test]
    fn files_are_read_and_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("proviso-known-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("mine.jsonl");
        std::fs::write(
            &good,
            "{\"instruction\": \"Summarise the following article in three short bullet points\", \"input\": \"\"}\n\"Write a limerick about a cat who learns to code in Rust\"\n",
        )
        .unwrap();
        let k = KnownSets::load(&[good.display().to_string()]).unwrap();
        assert_eq!(k.name(0), "mine");
        assert_eq!(k.size(0), 2);
        assert!(
            k.find("Please: write a limerick about a cat who learns to code in Rust!")
                .is_some()
        );
        let bad = dir.join("bad.jsonl");
        std::fs::write(&bad, "\"fine line here\"\n{oops\n").unwrap();
        let e = KnownSets::load(&[bad.display().to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bad.jsonl:2"), "{e}");
        let e = KnownSets::load(&["/nonexistent/x.txt".into()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("/nonexistent/x.txt"), "{e}");
        let both = KnownSets::load(&[BUILTIN.into(), good.display().to_string()]).unwrap();
        assert_eq!(both.name(1), "mine");
        std::fs::remove_dir_all(&dir).ok();
    }
}
