//! Where in a text a recogniser's pattern can match at all, so that it is
//! run only there.
//!
//! Most text holds no personal data, and a pattern that starts with a digit
//! class gives the regular-expression engine no literal to skip ahead to:
//! it steps through every byte, once per recogniser. A gate says what every
//! candidate of a recogniser is made of (a chain of digits, a chain of
//! colons, two letters and two digits), and [`windows`] finds the few parts
//! of a text where such a thing exists; the pattern is then searched in
//! those parts only. The gates are exact: the candidates found in the
//! windows are the candidates a search of the whole text would find (the
//! redactor's tests compare both ways on the evaluation set, the corpora
//! slices and random text).

use crate::fold::{ceil_boundary, floor_boundary};

/// What every candidate of a recogniser (every match of its pattern, or
/// every one its check can accept) holds.
#[derive(Clone, Debug)]
pub enum Gate {
    /// Nothing to go by: the pattern is searched everywhere (its own
    /// literal, `@` or `://` or a key prefix, lets the engine skip ahead).
    Everywhere,
    /// A chain of ASCII digits.
    Digits(Chain),
    /// A chain of colons (IPv6).
    Colons(Chain),
    /// Two ASCII letters and two digits at its start, and at most `len`
    /// bytes in all (IBAN).
    LettersDigits {
        /// The longest candidate, bytes.
        len: usize,
    },
    /// One of these words (ASCII letters in any case) at its start, then
    /// only characters `tail` allows.
    Keywords(Keywords),
}

/// Key words a candidate starts with, and what may follow them.
#[derive(Clone, Debug)]
pub struct Keywords {
    words: aho_corasick::AhoCorasick,
    tail: fn(char) -> bool,
}

impl Keywords {
    /// A gate for `words`, any of which may start a candidate, followed by
    /// characters for which `tail` is true up to the candidate's end.
    pub fn new(words: &[&str], tail: fn(char) -> bool) -> Result<Self, aho_corasick::BuildError> {
        Ok(Self {
            words: aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                // A full automaton: a table look-up a byte, the fastest
                // kind, and small for a few words.
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(words)?,
            tail,
        })
    }
}

/// A chain of marks (digits or colons): at least `min` of them, each at
/// most `gap` bytes after the one before, with at most `before` bytes of
/// the candidate before the first and `after` after the last.
#[derive(Clone, Copy, Debug)]
pub struct Chain {
    /// Most bytes between two consecutive marks inside one candidate.
    pub gap: usize,
    /// Fewest marks in a candidate.
    pub min: usize,
    /// Most bytes of a candidate before its first mark.
    pub before: usize,
    /// Most bytes of a candidate after its last mark.
    pub after: usize,
}

/// The positions of the marks gates look for in one text, found once and
/// shared by every recogniser.
pub struct Marks {
    digits: Vec<u32>,
    colons: Vec<u32>,
}

impl Marks {
    /// The digits and colons of `text`.
    pub fn new(text: &str) -> Self {
        let mut digits = Vec::new();
        let mut colons = Vec::new();
        // Sixteen bytes at a time: most blocks of prose hold neither.
        let b = text.as_bytes();
        let mut base = 0;
        for block in b.chunks(16) {
            let any = block
                .iter()
                .fold(false, |acc, &c| acc | (c.wrapping_sub(b'0') <= 10));
            if any {
                for (i, &c) in block.iter().enumerate() {
                    if c.is_ascii_digit() {
                        digits.push((base + i) as u32);
                    } else if c == b':' {
                        colons.push((base + i) as u32);
                    }
                }
            }
            base += block.len();
        }
        Self { digits, colons }
    }
}

/// The byte ranges of `text` that hold every candidate `gate` allows, in
/// order, not overlapping, on character boundaries; `None` for
/// [`Gate::Everywhere`].
pub fn windows<'m>(
    text: &str,
    gate: &Gate,
    marks: impl FnOnce() -> &'m Marks,
) -> Option<Vec<(usize, usize)>> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut add = |s: usize, e: usize| {
        let s = floor_boundary(text, s);
        let e = ceil_boundary(text, e);
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    };
    match gate {
        Gate::Everywhere => return None,
        Gate::Digits(c) => chains(&marks().digits, *c, &mut add),
        Gate::Colons(c) => chains(&marks().colons, *c, &mut add),
        Gate::Keywords(k) => {
            // A key word that starts inside another found one lies in that
            // one's window (its tail takes in letters), so overlapping
            // matches need not be listed.
            // The last run of tail characters measured: a key word ending
            // inside it has the same run after it, which is not measured
            // again (text of back-to-back key words stays linear).
            let mut run: Option<(usize, usize)> = None;
            for m in k.words.find_iter(text) {
                if let Some((from, to)) = run.filter(|(f, t)| (*f..=*t).contains(&m.end())) {
                    debug_assert!(from <= m.end());
                    add(m.start(), to);
                    continue;
                }
                let rest = &text[m.end()..];
                let tail = rest.find(|c| !(k.tail)(c)).unwrap_or(rest.len());
                run = Some((m.end(), m.end() + tail));
                add(m.start(), m.end() + tail);
            }
        }
        Gate::LettersDigits { len } => {
            let b = text.as_bytes();
            for &p in &marks().digits {
                let p = p as usize;
                if p >= 2
                    && b[p - 1].is_ascii_alphabetic()
                    && b[p - 2].is_ascii_alphabetic()
                    && b.get(p + 1).is_some_and(u8::is_ascii_digit)
                {
                    add(p - 2, p - 2 + *len);
                }
            }
        }
    }
    Some(out)
}

/// Calls `add` with the span of every chain of `marks` that `c` allows.
fn chains(marks: &[u32], c: Chain, add: &mut impl FnMut(usize, usize)) {
    let mut i = 0;
    while i < marks.len() {
        let mut j = i;
        while j + 1 < marks.len() && (marks[j + 1] - marks[j] - 1) as usize <= c.gap {
            j += 1;
        }
        if j + 1 - i >= c.min {
            let first = marks[i] as usize;
            let last = marks[j] as usize;
            add(first.saturating_sub(c.before), last + 1 + c.after);
        }
        i = j + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE_LIKE: Chain = Chain {
        gap: 2,
        min: 7,
        before: 1,
        after: 0,
    };

    #[test]
    fn chains_of_enough_digits_only() {
        let t = "call +4155550132 or 12 34, not 1.2.3 ok";
        let marks = Marks::new(t);
        let w = windows(t, &Gate::Digits(PHONE_LIKE), || &marks).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(&t[w[0].0..w[0].1], "+4155550132");
    }

    #[test]
    fn windows_merge_and_stay_on_character_boundaries() {
        let t = "号1234567号7654321号";
        let c = Chain {
            gap: 0,
            min: 7,
            before: 2,
            after: 2,
        };
        let marks = Marks::new(t);
        let w = windows(t, &Gate::Digits(c), || &marks).unwrap();
        assert_eq!(
            w,
            vec![(0, t.len())],
            "both chains' reach covers the 号 between"
        );
    }

    #[test]
    fn letters_then_digits() {
        let t = "pay GB82 WEST 1234 5698 7654 32 or mp3 a12";
        let marks = Marks::new(t);
        let w = windows(t, &Gate::LettersDigits { len: 43 }, || &marks).unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].0, 4);
    }

    #[test]
    fn key_words_and_what_may_follow() {
        let k = Keywords::new(&["token", "auth"], |c| {
            c.is_ascii_alphanumeric() || c == ' '
        })
        .unwrap();
        let t = "a TOKEN abc123, Authorization x; none";
        let marks = Marks::new(t);
        let w = windows(t, &Gate::Keywords(k), || &marks).unwrap();
        let got: Vec<&str> = w.iter().map(|(s, e)| &t[*s..*e]).collect();
        assert_eq!(got, vec!["TOKEN abc123", "Authorization x"]);
    }

    #[test]
    fn back_to_back_key_words_make_one_window() {
        let k = Keywords::new(&["password"], |c| {
            c.is_ascii_alphanumeric() || " =".contains(c)
        })
        .unwrap();
        let t = "password=abc ".repeat(50_000);
        let marks = Marks::new(&t);
        let w = windows(&t, &Gate::Keywords(k), || &marks).unwrap();
        assert_eq!(w, vec![(0, t.len())]);
    }

    #[test]
    fn everywhere_is_no_window() {
        let marks = Marks::new("x");
        assert!(windows("x", &Gate::Everywhere, || &marks).is_none());
    }
}
