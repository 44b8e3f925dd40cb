//! Normalisation and tokenisation, keeping byte offsets into the original.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::SEED;

/// One token: the hash of its normalised form and where it stands in the
/// original text (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// xxh3 (seed [`SEED`]) of the normalised token.
    pub hash: u64,
    /// First byte in the original text.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// Characters that carry nothing a reader sees: zero-width spaces and
/// joiners, soft hyphens, word joiners, byte-order marks, variation
/// selectors. Dropped without splitting the word they sit in.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{180E}')
}

/// Latin look-alikes from Cyrillic and Greek, the usual way to make a
/// copied text differ to a machine and not to a reader.
fn confusable(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'н' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'у' => 'y',
        'ν' => 'v',
        'х' | 'χ' => 'x',
        'А' | 'Α' => 'A',
        'В' | 'Β' => 'B',
        'С' => 'C',
        'Е' | 'Ε' => 'E',
        'Н' | 'Η' => 'H',
        'І' | 'Ι' => 'I',
        'Ј' => 'J',
        'К' | 'Κ' => 'K',
        'М' | 'Μ' => 'M',
        'О' | 'Ο' => 'O',
        'Р' | 'Ρ' => 'P',
        'Ѕ' => 'S',
        'Т' | 'Τ' => 'T',
        'Х' | 'Χ' => 'X',
        'Υ' | 'У' => 'Y',
        'Ζ' => 'Z',
        _ => c,
    }
}

/// Chinese, Japanese and Korean characters: one token each.
fn cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF |
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x20000..=0x2FA1F)
}

/// Tokens of `text`. Markdown decoration, punctuation and white space
/// separate tokens and are otherwise ignored; a list number at the start of
/// a line (`1.` or `2)`) is dropped, so numbering a list does not hide it.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::with_capacity(text.len() / 5);
    let mut word = String::new();
    let mut wstart = 0usize;
    let mut wend = 0usize;
    let mut line_start = true; // only spaces seen since the last newline
    let mut word_at_line_start = false;
    let flush = |word: &mut String, out: &mut Vec<Token>, s: usize, e: usize| {
        if !word.is_empty() {
            out.push(Token {
                hash: xxh3_64_with_seed(word.as_bytes(), SEED),
                start: s as u32,
                end: e as u32,
            });
            word.clear();
        }
    };
    // A separator character: ends the word; drops a list number at the
    // start of a line; keeps track of whether only list or heading marks
    // have been seen on this line.
    macro_rules! separator {
        ($c:expr) => {{
            let c: char = $c;
            if word_at_line_start
                && (c == '.' || c == ')')
                && !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_digit())
            {
                word.clear();
            }
            flush(&mut word, &mut out, wstart, wend);
            if !c.is_whitespace() {
                line_start =
                    line_start && matches!(c, '#' | '*' | '-' | '+' | '>' | '.' | ')' | '|');
            }
        }};
    }
    for (i, c) in text.char_indices() {
        // Fast path: ASCII needs no decomposition or folding tables.
        if c.is_ascii() {
            let b = c as u8;
            if b.is_ascii_alphanumeric() {
                if word.is_empty() {
                    wstart = i;
                    word_at_line_start = line_start;
                }
                word.push(char::from(b.to_ascii_lowercase()));
                wend = i + 1;
                line_start = false;
            } else if b == b'\n' {
                flush(&mut word, &mut out, wstart, wend);
                line_start = true;
            } else {
                separator!(c);
            }
            continue;
        }
        let clen = c.len_utf8();
        if invisible(c) {
            continue;
        }
        let mut any_alnum = false;
        let mut sep = false;
        for n in confusable(c).nfkd() {
            if is_combining_mark(n) {
                continue;
            }
            if cjk(n) {
                flush(&mut word, &mut out, wstart, wend);
                let mut buf = [0u8; 4];
                out.push(Token {
                    hash: xxh3_64_with_seed(n.encode_utf8(&mut buf).as_bytes(), SEED),
                    start: i as u32,
                    end: (i + clen) as u32,
                });
                line_start = false;
                any_alnum = true;
                continue;
            }
            if n.is_alphanumeric() {
                if word.is_empty() {
                    wstart = i;
                    word_at_line_start = line_start;
                }
                for l in n.to_lowercase() {
                    word.push(l);
                }
                wend = i + clen;
                any_alnum = true;
            } else {
                sep = true;
            }
        }
        if sep && !any_alnum {
            separator!(c);
        } else if any_alnum {
            line_start = false;
        }
    }
    flush(&mut word, &mut out, wstart, wend);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &str) -> Vec<&str> {
        tokenize(t)
            .iter()
            .map(|k| &t[k.start as usize..k.end as usize])
            .collect()
    }

    fn hashes(t: &str) -> Vec<u64> {
        tokenize(t).iter().map(|k| k.hash).collect()
    }

    #[test]
    fn offsets_point_at_the_original() {
        assert_eq!(
            words("Hello, **World**! It's 2024."),
            vec!["Hello", "World", "It", "s", "2024"]
        );
        assert_eq!(
            words("我爱北京 tiananmen"),
            vec!["我", "爱", "北", "京", "tiananmen"]
        );
    }

    #[test]
    fn disguises_normalise_away() {
        let plain = hashes("The capital of France is Paris");
        assert_eq!(hashes("THE  CAPITAL\tof france is paris!"), plain);
        assert_eq!(
            hashes("Тhе сарitаl оf Frаnсе is Раris"),
            plain,
            "Cyrillic look-alikes"
        );
        assert_eq!(
            hashes("The cap\u{200B}ital of Fr\u{00AD}ance is Paris"),
            plain,
            "zero-width and soft hyphens"
        );
        assert_eq!(
            hashes("Thé capîtal of Fŕance is Pàris"),
            plain,
            "diacritics"
        );
        assert_eq!(
            hashes("Ｔｈｅ ｃａｐｉｔａｌ ｏｆ Ｆｒａｎｃｅ ｉｓ Ｐａｒｉｓ"),
            plain,
            "full width"
        );
    }

    #[test]
    fn markdown_does_not_break_a_match() {
        let plain = hashes("Paris is the capital. Rome is older.");
        assert_eq!(
            hashes("# Paris is the **capital**.\n\n1. Rome is *older*."),
            plain
        );
        assert_eq!(hashes("- Paris is the capital.\n2) Rome is older."), plain);
        assert_ne!(
            hashes("In 1990. Paris"),
            hashes("In Paris"),
            "numbers inside a line are kept"
        );
    }
}
