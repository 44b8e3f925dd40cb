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
    /// Per folded byte: the original offsets of the character it came from
    /// (start, end). Empty when nothing was folded.
    map: Vec<(u32, u32)>,
}

/// The zero of each block of ten decimal digits folded to `0`–`9`.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
];

/// The compatibility form (NFKC's mapping) of `c` when it is all ASCII:
/// `①` → `1`, `²` → `2`, `ﬁ` → `fi`, `℡` → `TEL`. Characters whose
/// compatibility form is not ASCII (`é`, `½`) are kept; Han, kana and
/// Hangul, which have none that matters here, are skipped at once.
fn compatibility_ascii(c: char) -> Option<String> {
    let u = c as u32;
    if u < 0x80
        || matches!(u, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3)
    {
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

/// What a character folds to: `Some(None)` to drop it, `Some(Some(b))` for
/// an ASCII byte, `None` to keep it as it is.
fn fold_char(c: char) -> Option<Option<u8>> {
    let u = c as u32;
    if u < 0x80 {
        return None;
    }
    match u {
        // Full-width ASCII variants.
        0xFF01..=0xFF5E => return Some(Some((u - 0xFEE0) as u8)),
        // Ideographic, no-break and other fixed-width spaces.
        0x3000 | 0x00A0 | 0x2000..=0x200A | 0x202F | 0x205F => return Some(Some(b' ')),
        // Hyphens, dashes and minus signs.
        0x2010..=0x2015 | 0x2212 | 0xFE58 | 0xFE63 => return Some(Some(b'-')),
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
        | 0xFE00..=0xFE0F => return Some(None),
        _ => {}
    }
    for &z in DIGIT_ZEROS {
        if (z..z + 10).contains(&u) {
            return Some(Some(b'0' + (u - z) as u8));
        }
    }
    None
}

/// The largest character boundary of `s` at or before `i`.
pub(crate) fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl<'a> Folded<'a> {
    /// Folds `text`.
    pub fn new(text: &'a str) -> Self {
        let first = if text.is_ascii() {
            None
        } else {
            text.char_indices()
                .find(|(_, c)| fold_char(*c).is_some() || compatibility_ascii(*c).is_some())
        };
        let Some((at, _)) = first else {
            return Self {
                text: Cow::Borrowed(text),
                map: Vec::new(),
            };
        };
        let mut out = String::with_capacity(text.len());
        let mut map = Vec::with_capacity(text.len());
        out.push_str(&text[..at]);
        map.extend((0..at as u32).map(|i| (i, i + 1)));
        for (i, c) in text[at..].char_indices() {
            let i = at + i;
            let (s, e) = (i as u32, (i + c.len_utf8()) as u32);
            match fold_char(c) {
                Some(Some(b)) => {
                    out.push(char::from(b));
                    map.push((s, e));
                }
                Some(None) => {}
                None => match compatibility_ascii(c) {
                    Some(ascii) => {
                        out.push_str(&ascii);
                        map.extend(std::iter::repeat_n((s, e), ascii.len()));
                    }
                    None => {
                        out.push(c);
                        map.extend((s..e).map(|k| (k, k + 1)));
                    }
                },
            }
        }
        Self {
            text: Cow::Owned(out),
            map,
        }
    }

    /// The folded text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The original span of the folded span `start..end` (character
    /// boundaries of the folded text).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        if self.map.is_empty() {
            return (start, end);
        }
        let s = self.map.get(start).map_or(self.len_original(), |m| m.0);
        let e = match end.checked_sub(1).and_then(|i| self.map.get(i)) {
            Some(m) => m.1,
            None => s,
        };
        (s as usize, e as usize)
    }

    fn len_original(&self) -> u32 {
        self.map.last().map_or(0, |m| m.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
