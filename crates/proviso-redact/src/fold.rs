//! Text folded for matching, with a byte map back to the original.
//!
//! The recognisers match ASCII notations. People also write numbers in
//! full-width forms (`５３６-２２-１２３４`, common in Chinese and Japanese
//! text), in other scripts' digits (Arabic-Indic `٥٣٦`), with non-breaking
//! spaces or Unicode dashes between groups, and with zero-width characters
//! inside (sometimes to hide them from exactly this kind of check). Folding
//! turns those into their ASCII equivalents and drops the invisible ones, so
//! one set of patterns sees them all; each folded byte remembers where its
//! character was in the original, so what is masked is exactly the original
//! span.
//!
//! Characters whose compatibility form (Unicode's NFKC mapping) is ASCII
//! are folded to it too: circled and superscript digits, ligatures, letter
//! symbols (`①②③`, `²`, `ﬁ`, `℡`). Folding is one pass over the text; ASCII
//! text and text without anything to fold are used as they are (no copy, no
//! map).

use std::borrow::Cow;

/// A text ready for matching, and how to find original offsets.
pub struct Folded<'a> {
    text: Cow<'a, str>,
    /// Where the folded text stops being a plain copy of the original, in
    /// folded order: each piece of folded text that came from one folded
    /// character, and each run copied unchanged after one. Empty when
    /// nothing was folded.
    pieces: Vec<Piece>,
}

/// A stretch of the folded text and where it came from.
#[derive(Clone, Copy, Debug)]
struct Piece {
    /// Start in the folded text.
    folded: u32,
    /// Start in the original text.
    original: u32,
    /// `Some(end)`: the piece is one folded character, every byte of which
    /// maps to the original `original..end`; `None`: a copied run, byte for
    /// byte.
    char_end: Option<u32>,
}

/// The zero of each block of ten decimal digits folded to `0`–`9`.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
];

/// What a character becomes for matching.
#[derive(Clone, Debug, PartialEq)]
enum Fold {
    /// Dropped (invisible).
    Drop,
    /// Replaced by this ASCII text.
    Ascii(Box<str>),
}

/// Whether the character is Han, kana or Hangul: never folded, and most of
/// Chinese and Japanese text, so it is answered before any look-up.
fn cjk(u: u32) -> bool {
    matches!(u, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3)
}

/// The compatibility form (NFKC's mapping) of `c` when it is all ASCII:
/// `①` → `1`, `²` → `2`, `ﬁ` → `fi`, `℡` → `TEL`. Characters whose
/// compatibility form is not ASCII (`é`, `½`) are kept.
fn compatibility_ascii(c: char) -> Option<String> {
    if c.is_ascii() || cjk(c as u32) {
        return None;
    }
    let mut out = String::new();
    let mut ascii = true;
    unicode_normalization::char::decompose_compatible(c, |d| {
        ascii &= d.is_ascii();
        out.push(d);
    });
    (ascii && out != c.to_string()).then_some(out)
}

/// What `c` folds to (`None`: kept as it is), worked out from the rules;
/// [`FoldTable`] holds the answers for the Basic Multilingual Plane.
fn fold_rule(c: char) -> Option<Fold> {
    let u = c as u32;
    if u < 0x80 || cjk(u) {
        return None;
    }
    let byte = |b: u32| Some(Fold::Ascii(char::from(b as u8).to_string().into()));
    match u {
        // Full-width ASCII variants.
        0xFF01..=0xFF5E => return byte(u - 0xFEE0),
        // Ideographic, no-break and other fixed-width spaces.
        0x3000 | 0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F => return byte(u32::from(b' ')),
        // Hyphens, dashes and minus signs.
        0x2010..=0x2015 | 0x2212 | 0xFE58 | 0xFE63 => return byte(u32::from(b'-')),
        // Invisible: zero-width space and joiners, direction marks and
        // embeddings, word joiner and invisible operators, BOM, soft
        // hyphen, Mongolian vowel separator, combining grapheme joiner,
        // variation selectors.
        0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x2069
        | 0xFEFF
        | 0x00AD
        | 0x180E
        | 0x034F
        | 0xFE00..=0xFE0F => return Some(Fold::Drop),
        _ => {}
    }
    for &z in DIGIT_ZEROS {
        if (z..z + 10).contains(&u) {
            return byte(u32::from(b'0') + (u - z));
        }
    }
    compatibility_ascii(c).map(|s| Fold::Ascii(s.into()))
}

/// The folds of the Basic Multilingual Plane, worked out once: a bit per
/// character says whether it folds, a sorted list says to what. Characters
/// beyond it (mathematical digits, emoji) go through the rules each time.
struct FoldTable {
    folds: [u64; 1024],
    to: Vec<(char, Fold)>,
}

fn table() -> &'static FoldTable {
    static TABLE: std::sync::OnceLock<FoldTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = FoldTable {
            folds: [0; 1024],
            to: Vec::new(),
        };
        for c in (0x80..=0xFFFF_u32).filter_map(char::from_u32) {
            if let Some(f) = fold_rule(c) {
                let u = c as usize;
                t.folds[u / 64] |= 1 << (u % 64);
                t.to.push((c, f));
            }
        }
        t
    })
}

/// What `c` (not ASCII) folds to; `None`: kept.
fn fold_of(t: &FoldTable, c: char) -> Option<Fold> {
    let u = c as usize;
    if u > 0xFFFF {
        return fold_rule(c);
    }
    if t.folds[u / 64] & (1 << (u % 64)) == 0 {
        return None;
    }
    t.to.binary_search_by_key(&c, |(k, _)| *k)
        .ok()
        .map(|i| t.to[i].1.clone())
}

/// The largest character boundary of `s` at or before `i`.
pub(crate) fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest character boundary of `s` at or after `i` (at most its
/// length).
pub(crate) fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

impl<'a> Folded<'a> {
    /// Folds `text`.
    pub fn new(text: &'a str) -> Self {
        let b = text.as_bytes();
        let t = table();
        let mut out: Option<String> = None;
        let mut pieces = Vec::new();
        // Start of the run of original text not yet copied to `out`.
        let mut copied = 0;
        let mut i = 0;
        while i < b.len() {
            // ASCII eight bytes at a time, and Han (three bytes led by
            // 0xE4 to 0xE9: U+4000 to U+9FFF, none of which folds) whole.
            if let Some(word) = b.get(i..i + 8) {
                let w = u64::from_le_bytes([
                    word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
                ]);
                if w & 0x8080_8080_8080_8080 == 0 {
                    i += 8;
                    continue;
                }
            }
            if b[i] < 0x80 {
                i += 1;
                continue;
            }
            if (0xE4..=0xE9).contains(&b[i]) {
                i += 3;
                continue;
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            let len = c.len_utf8();
            if let Some(f) = fold_of(t, c) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                if copied < i {
                    pieces.push(Piece {
                        folded: o.len() as u32,
                        original: copied as u32,
                        char_end: None,
                    });
                    o.push_str(&text[copied..i]);
                }
                if let Fold::Ascii(a) = f {
                    pieces.push(Piece {
                        folded: o.len() as u32,
                        original: i as u32,
                        char_end: Some((i + len) as u32),
                    });
                    o.push_str(&a);
                }
                copied = i + len;
            }
            i += len;
        }
        let Some(mut o) = out else {
            return Self {
                text: Cow::Borrowed(text),
                pieces,
            };
        };
        if copied < text.len() {
            pieces.push(Piece {
                folded: o.len() as u32,
                original: copied as u32,
                char_end: None,
            });
            o.push_str(&text[copied..]);
        }
        // The end, so that an offset at the end of the folded text maps to
        // the end of the original.
        pieces.push(Piece {
            folded: o.len() as u32,
            original: text.len() as u32,
            char_end: None,
        });
        Self {
            text: Cow::Owned(o),
            pieces,
        }
    }

    /// The folded text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The original span of the folded byte `i` (`i..i+1` for a copied
    /// byte, the whole character for a folded one).
    fn original_byte(&self, i: usize) -> (usize, usize) {
        let i = i as u32;
        let k = self.pieces.partition_point(|p| p.folded <= i);
        let Some(p) = k.checked_sub(1).and_then(|k| self.pieces.get(k)) else {
            return (i as usize, i as usize + 1);
        };
        match p.char_end {
            Some(e) => (p.original as usize, e as usize),
            None => {
                let o = (p.original + (i - p.folded)) as usize;
                (o, o + 1)
            }
        }
    }

    /// The original span of the folded span `start..end` (character
    /// boundaries of the folded text).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        if self.pieces.is_empty() {
            return (start, end);
        }
        let s = self.original_byte(start).0;
        let e = if end > start {
            self.original_byte(end - 1).1
        } else {
            s
        };
        (s, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fold written the obvious way (a map entry per folded byte,
    /// from the rules, no table), to check the fast one against.
    fn naive(text: &str) -> (String, Vec<(usize, usize)>) {
        let mut out = String::new();
        let mut map = Vec::new();
        for (i, c) in text.char_indices() {
            let e = i + c.len_utf8();
            match fold_rule(c) {
                Some(Fold::Drop) => {}
                Some(Fold::Ascii(a)) => {
                    out.push_str(&a);
                    map.extend(std::iter::repeat_n((i, e), a.len()));
                }
                None => {
                    out.push(c);
                    map.extend((i..e).map(|k| (k, k + 1)));
                }
            }
        }
        (out, map)
    }

    proptest::proptest! {
        #[test]
        fn same_as_the_obvious_fold(
            parts in proptest::collection::vec(proptest::prop_oneof![
                proptest::string::string_regex("[a-z0-9 .-]{0,6}").unwrap(),
                proptest::string::string_regex("[中文号码。，：]{0,4}").unwrap(),
                proptest::string::string_regex("[０-９－，\u{200B}\u{00A0}①²ﬁ℡٥é½😀𝟙]{0,4}").unwrap(),
                proptest::string::string_regex(r"\PC{0,4}").unwrap(),
            ], 0..12)
        ) {
            let t: String = parts.concat();
            let f = Folded::new(&t);
            let (want, map) = naive(&t);
            proptest::prop_assert_eq!(f.text(), want.as_str());
            for (i, m) in map.iter().enumerate() {
                if !want.is_char_boundary(i) {
                    continue;
                }
                let end = (i + 1..=want.len()).find(|e| want.is_char_boundary(*e)).unwrap_or(want.len());
                let got = f.original(i, end);
                proptest::prop_assert_eq!(got, (m.0, map[end - 1].1), "folded {}..{} of {:?}", i, end, t);
            }
            proptest::prop_assert_eq!(f.original(want.len(), want.len()).0, t.len());
        }
    }

    #[test]
    fn ascii_and_unfoldable_text_is_borrowed() {
        let f = Folded::new("plain 536-22-1234");
        assert!(matches!(f.text, Cow::Borrowed(_)));
        let f = Folded::new("中文没有全角字符");
        assert!(matches!(f.text, Cow::Borrowed(_)));
        assert_eq!(f.original(3, 9), (3, 9));
    }

    #[test]
    fn full_width_digits_map_back_to_their_span() {
        let t = "号码５３６-２２-１２３４。";
        let f = Folded::new(t);
        assert_eq!(f.text(), "号码536-22-1234。");
        let start = f.text().find('5').unwrap();
        let end = f.text().find('。').unwrap();
        let (s, e) = f.original(start, end);
        assert_eq!(&t[s..e], "５３６-２２-１２３４");
    }

    #[test]
    fn compatibility_forms_fold_to_ascii_and_map_back() {
        let t = "card ④①①①-１１１１-¹¹¹¹-1111 ok, ﬁle é½";
        let f = Folded::new(t);
        assert_eq!(f.text(), "card 4111-1111-1111-1111 ok, file é½");
        let end = f.text().find(" ok").unwrap();
        let (s, e) = f.original(5, end);
        assert_eq!(&t[s..e], "④①①①-１１１１-¹¹¹¹-1111");
    }

    #[test]
    fn other_digits_dashes_spaces_and_invisibles() {
        let t = "x ٥٣٦\u{2011}٢٢\u{00A0}1\u{200B}2\u{200E}3\u{FE0F}4 y";
        let f = Folded::new(t);
        assert_eq!(f.text(), "x 536-22 1234 y");
        let (s, e) = f.original(2, 13);
        assert_eq!(
            &t[s..e],
            "٥٣٦\u{2011}٢٢\u{00A0}1\u{200B}2\u{200E}3\u{FE0F}4"
        );
    }
}
