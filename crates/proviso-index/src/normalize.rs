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

/// The word being read: either still a plain slice of the text (lower-case
/// ASCII letters and digits, contiguous: hashed where it lies, no copy) or
/// built up in `buf` (case folded, decomposed, joined across invisible
/// characters).
struct Word {
    buf: String,
    plain: bool,
    any: bool,
    start: usize,
    end: usize,
    at_line_start: bool,
}

impl Word {
    /// The word's normalised bytes: a slice of the text while it is plain,
    /// else what was built up.
    fn bytes<'a>(&'a self, text: &'a str) -> &'a [u8] {
        if self.plain {
            text.as_bytes().get(self.start..self.end).unwrap_or(&[])
        } else {
            self.buf.as_bytes()
        }
    }

    /// Starts a word at `i` when none is open.
    fn open(&mut self, i: usize, line_start: bool) {
        if !self.any {
            self.any = true;
            self.plain = true;
            self.start = i;
            self.end = i;
            self.at_line_start = line_start;
        }
    }

    /// From now on the word is built in `buf`.
    fn unplain(&mut self, text: &str) {
        if self.plain {
            self.buf.clear();
            self.buf
                .push_str(text.get(self.start..self.end).unwrap_or(""));
            self.plain = false;
        }
    }

    fn drop_word(&mut self) {
        self.any = false;
        self.buf.clear();
    }

    fn flush(&mut self, text: &str, out: &mut Vec<Token>) {
        if self.any {
            out.push(Token {
                hash: xxh3_64_with_seed(self.bytes(text), SEED),
                start: self.start as u32,
                end: self.end as u32,
            });
            self.drop_word();
        }
    }
}

/// ASCII letters and digits: 1 (lower case or digit) or 3 (upper case);
/// every other byte 0. One load per byte in the word loop.
const WORD_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            t[b] = 1;
        } else if c.is_ascii_uppercase() {
            t[b] = 3;
        }
        b += 1;
    }
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `y` (bytes below 0x80) set where the byte
/// lies in `lo..=hi`: eight comparisons in a few additions, none carrying
/// into the next byte.
#[inline]
fn bytes_in(y: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = y.wrapping_add(ONES * u64::from(0x80 - lo));
    let above_hi = y.wrapping_add(ONES * u64::from(0x7F - hi));
    at_least_lo & !above_hi & HIGH
}

/// Eight bytes with the ASCII capitals lower-cased (bit 5 set), every
/// other byte as it is.
#[inline]
fn lower8(x: u64) -> u64 {
    x | (bytes_in(x & !HIGH, b'A', b'Z') & !x) >> 2
}

/// The high bit of each byte of `x` set where the byte is an ASCII letter
/// or digit (bit 5 set, capitals become small letters; digits have it).
#[inline]
fn word_bytes(x: u64) -> u64 {
    let y = x & !HIGH;
    (bytes_in(y | (ONES * 0x20), b'a', b'z') | bytes_in(y, b'0', b'9')) & !x
}

/// The end of the run of ASCII letters and digits that starts at `i`, and
/// (with `CAPS`; else false) whether it holds an upper-case letter: eight
/// bytes at a time, so the end of a word costs one branch, not one per
/// letter (most words end inside the first eight bytes).
#[inline]
fn word_run<const CAPS: bool>(bytes: &[u8], i: usize) -> (usize, bool) {
    let mut j = i;
    let mut upper = false;
    while let Some(chunk) = bytes.get(j..j + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let stop = !word_bytes(x) & HIGH;
        let up = if CAPS {
            bytes_in(x & !HIGH, b'A', b'Z') & !x
        } else {
            0
        };
        if stop != 0 {
            let n = stop.trailing_zeros() as usize / 8;
            upper |= up & ((1u64 << (n * 8)) - 1) != 0;
            return (j + n, upper);
        }
        upper |= up != 0;
        j += 8;
    }
    while let Some(&c) = bytes.get(j) {
        let k = WORD_BYTE[c as usize];
        if k == 0 {
            break;
        }
        upper |= k & 2 != 0;
        j += 1;
    }
    (j, upper)
}

/// Tokens of `text`. Markdown decoration, punctuation and white space
/// separate tokens and are otherwise ignored; a list number at the start of
/// a line (`1.` or `2)`) is dropped, so numbering a list does not hide it.
pub fn tokenize(text: &str) -> Vec<Token> {
    tokenize_version(text, crate::TOKENIZER)
}

/// [`tokenize`] as tokenizer `version` did (an index keeps the version it
/// was built with, and is queried with the same): version 1 read
/// Traditional Chinese characters as written, version 2 as Simplified.
pub fn tokenize_version(text: &str, version: u32) -> Vec<Token> {
    let mut out = Vec::new();
    tokenize_with(text, true, version >= 2, &mut out);
    out
}

/// [`tokenize_version`] into `out` (cleared first): a look-up reuses one
/// buffer for every document instead of allocating one each time.
pub(crate) fn tokenize_into(text: &str, version: u32, out: &mut Vec<Token>) {
    tokenize_with(text, true, version >= 2, out);
}

/// Marks that may stand before a list number at the start of a line
/// (headings, bullets, quotes, table bars, other numbers' ends) without
/// making it text.
fn markdown_mark(c: char) -> bool {
    matches!(c, '#' | '*' | '-' | '+' | '>' | '.' | ')' | '|')
}

/// Whether a line break and nothing but white space, invisible
/// characters, lone combining marks and Markdown marks (`# * - + > . ) |`)
/// stand between the start of the line and byte `i` of `text` (or the text
/// starts there): what the character-by-character reader keeps as
/// `line_start` on reaching `i`, found by looking back instead (the first
/// character that decides it is usually the one before).
fn line_start_at(text: &str, i: usize) -> bool {
    let Some(before) = text.get(..i) else {
        return false;
    };
    for c in before.chars().rev() {
        match c {
            '\n' => return true,
            c if markdown_mark(c) || c.is_whitespace() || invisible(c) => {}
            c if !c.is_ascii() && confusable(c).nfkd().all(is_combining_mark) => {}
            _ => return false,
        }
    }
    true
}

/// The high bits of eight bytes (each 0x80 or 0) gathered into eight bits,
/// byte `j`'s into bit `j`.
#[inline]
fn gather(high: u64) -> u64 {
    high.wrapping_mul(0x0002_0408_1020_4081) >> 56
}

/// The hash of an ASCII word (lower-cased): the word and the 16 bytes
/// from its start where they can be read (most words): lower-cased eight
/// at a time, without a branch on whether the word holds a capital.
#[inline]
fn word_hash(word: &[u8], sixteen: Option<&[u8]>, long: &mut Vec<u8>) -> u64 {
    let mut low = [0u8; 16];
    if let Some((a, b)) = sixteen
        .filter(|_| word.len() <= 16)
        .and_then(|s| s.get(..16))
        .map(|s| s.split_at(8))
    {
        let a = lower8(u64::from_le_bytes(a.try_into().unwrap_or([0; 8])));
        let b = lower8(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        low[..8].copy_from_slice(&a.to_le_bytes());
        low[8..].copy_from_slice(&b.to_le_bytes());
        return xxh3_64_with_seed(&low[..word.len()], SEED);
    }
    if !word.iter().any(u8::is_ascii_uppercase) {
        return xxh3_64_with_seed(word, SEED);
    }
    long.clear();
    long.extend_from_slice(word);
    long.make_ascii_lowercase();
    xxh3_64_with_seed(long, SEED)
}

/// The ASCII letters and digits (bit `i` for byte `i`) and the non-ASCII
/// bytes of the first 64 bytes of `blk`: by vector compares where the
/// processor has them, else eight bytes at a time.
#[inline]
fn block_classes(blk: &[u8]) -> (u64, u64) {
    let Some(block) = blk.first_chunk::<64>() else {
        return (0, 0);
    };
    if let Some(masks) = proviso_simd::ascii_word_bytes(block) {
        return masks;
    }
    block_classes_swar(block)
}

/// [`block_classes`] without vector instructions.
fn block_classes_swar(block: &[u8; 64]) -> (u64, u64) {
    let (mut w, mut na) = (0u64, 0u64);
    for (k, chunk) in block.chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        w |= gather(word_bytes(x) & HIGH) << (8 * k);
        na |= gather(x & HIGH) << (8 * k);
    }
    (w, na)
}

/// Reads ASCII words from `i` (an ASCII letter or digit, no word open)
/// while they stand alone: each ends at an ASCII byte that is not a letter
/// or digit (or at the end), and only ASCII lies between them. Each is
/// lower-cased and hashed where it lies; the separators between words only
/// matter for a list number (digits followed by `.` or `)` at the start of
/// a line, dropped), which is looked back for when one is met. Returns
/// where the character-by-character reader must go on: the first
/// non-ASCII byte, the start of a word that runs into one, or the end; no
/// word is open there.
///
/// The text is read 64 bytes at a time: a bit per byte for "letter or
/// digit" and one for "not ASCII", then the words of the block are taken
/// from the bits. Finding the next word is then a bit operation, not a
/// scan that waits on the end of the last word, so the work of several
/// words overlaps in the processor.
fn ascii_words(text: &str, start: usize, long: &mut Vec<u8>, out: &mut Vec<Token>) -> usize {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut p = start;
    // A block and the 16 bytes after it (the last word's hash reads them);
    // near the end, a copy padded with zeros (not letters: words end).
    let mut pad = [0u8; 80];
    'blocks: while p < n {
        let blk: &[u8] = match bytes.get(p..p + 80) {
            Some(b) => b,
            None => {
                pad.fill(0);
                let rest = &bytes[p..];
                pad[..rest.len()].copy_from_slice(rest);
                &pad
            }
        };
        let (w, na) = block_classes(blk);
        // Bytes from the first non-ASCII one on are not this loop's.
        let limit = na.trailing_zeros() as usize;
        let mut starts = w & !(w << 1);
        while starts != 0 {
            let s = starts.trailing_zeros() as usize;
            if s > limit {
                break;
            }
            starts &= starts - 1;
            let run = (!(w >> s)).trailing_zeros() as usize;
            let from = p + s;
            // A word that reaches the end of the block is followed on.
            let crosses = s + run >= 64;
            let end = if crosses {
                word_run::<false>(bytes, p + 64).0
            } else {
                from + run
            };
            let next = bytes.get(end).copied();
            if next.is_some_and(|c| !c.is_ascii()) {
                return from; // the word may go on past its ASCII part
            }
            let word = &bytes[from..end];
            let list_number = matches!(next, Some(b'.' | b')'))
                && word.iter().all(u8::is_ascii_digit)
                && line_start_at(text, from);
            if !list_number {
                out.push(Token {
                    hash: word_hash(word, blk.get(s..s + 16), long),
                    start: from as u32,
                    end: end as u32,
                });
            }
            if crosses {
                p = end;
                continue 'blocks;
            }
        }
        if limit < 64 {
            return p + limit;
        }
        p += 64;
    }
    n
}

/// [`tokenize`]; with `fast` false, every character goes through the
/// character-by-character reader, which defines the tokens (the tests
/// check the fast path against it).
fn tokenize_with(text: &str, fast: bool, simplify: bool, out: &mut Vec<Token>) {
    let bytes = text.as_bytes();
    let mut long = Vec::new();
    out.clear();
    out.reserve(text.len() / 5);
    let mut w = Word {
        buf: String::new(),
        plain: true,
        any: false,
        start: 0,
        end: 0,
        at_line_start: false,
    };
    let mut line_start = true; // only spaces seen since the last newline
    // A separator character: ends the word; drops a list number at the
    // start of a line; keeps track of whether only list or heading marks
    // have been seen on this line.
    let separator = |c: char, w: &mut Word, out: &mut Vec<Token>, line_start: &mut bool| {
        if w.at_line_start
            && (c == '.' || c == ')')
            && w.any
            && w.bytes(text).iter().all(u8::is_ascii_digit)
        {
            w.drop_word();
        }
        w.flush(text, out);
        if !c.is_whitespace() {
            *line_start = *line_start && markdown_mark(c);
        }
    };
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        // Fast path: ASCII needs no decomposition or folding tables, and a
        // run of lower-case letters and digits is hashed where it lies.
        if b.is_ascii() {
            if b.is_ascii_alphanumeric() {
                // Most text is ASCII words that stand alone: read by
                // `ascii_words` until something else comes.
                if fast && !w.any {
                    let stop = ascii_words(text, i, &mut long, out);
                    if stop != i {
                        i = stop;
                        line_start = line_start_at(text, i);
                        continue;
                    }
                }
                let (j, upper) = word_run::<true>(bytes, i);
                w.open(i, line_start);
                if !upper && w.plain && w.end == i {
                    w.end = j;
                } else {
                    w.unplain(text);
                    let from = w.buf.len();
                    w.buf.push_str(text.get(i..j).unwrap_or(""));
                    if let Some(s) = w.buf.get_mut(from..) {
                        s.make_ascii_lowercase();
                    }
                    w.end = j;
                }
                line_start = false;
                i = j;
                // Most words end at a space, which only ends the word:
                // taken here, without another turn of the loop.
                if bytes.get(j) == Some(&b' ') {
                    w.flush(text, out);
                    i += 1;
                }
                continue;
            }
            if b == b' ' || b == b'\t' || b == b'\r' {
                // White space only ends the word.
                w.flush(text, out);
            } else if b == b'\n' {
                w.flush(text, out);
                line_start = true;
            } else {
                separator(char::from(b), &mut w, out, &mut line_start);
            }
            i += 1;
            continue;
        }
        let Some(c) = text.get(i..).and_then(|t| t.chars().next()) else {
            break;
        };
        let clen = c.len_utf8();
        if invisible(c) {
            i += clen;
            continue;
        }
        let mut any_alnum = false;
        let mut sep = false;
        for n in confusable(c).nfkd() {
            if is_combining_mark(n) {
                continue;
            }
            if cjk(n) {
                w.flush(text, out);
                // Traditional and variant forms as Simplified.
                let n = if simplify {
                    crate::script::simplified(n)
                } else {
                    n
                };
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
                w.open(i, line_start);
                w.unplain(text);
                for l in n.to_lowercase() {
                    w.buf.push(l);
                }
                w.end = i + clen;
                any_alnum = true;
            } else {
                sep = true;
            }
        }
        if sep && !any_alnum {
            separator(c, &mut w, out, &mut line_start);
        } else if any_alnum {
            line_start = false;
        }
        i += clen;
    }
    w.flush(text, out);
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

    /// The plain-slice fast path and the built-up path give the same
    /// hashes for the same normalised word.
    #[test]
    fn plain_and_built_words_agree() {
        assert_eq!(hashes("paris"), hashes("PARIS"));
        assert_eq!(hashes("paris"), hashes("Pa\u{200B}ris"));
        assert_eq!(hashes("cafe au lait"), hashes("café au lait"));
        assert_eq!(hashes("abc123"), hashes("aBc123"));
        assert_eq!(words("x\u{200B}y z"), vec!["x\u{200B}y", "z"]);
        assert_eq!(words("école d'été"), vec!["école", "d", "été"]);
        assert_eq!(
            hashes("12. one"),
            hashes("one"),
            "a list number at a line start"
        );
        assert_eq!(tokenize("ab").len(), 1);
        assert!(tokenize("").is_empty());
        // Words that stand alone (ended by ASCII) are hashed by the ASCII
        // fast path; the same words built up hash the same.
        let alone = hashes("x Paris, ROME and berlin. Madrid");
        assert_eq!(
            alone,
            hashes("x pa\u{200B}ris, ro\u{00AD}me and berl\u{200B}in. madri\u{200B}d")
        );
        assert_eq!(alone, hashes("x PARIS,   Rome and Berlin.\tMADRID"));
        let long = "x Supercalifragilisticexpialidociousandthensomemore word";
        assert_eq!(
            hashes(long),
            hashes(&long.to_lowercase()),
            "longer than the stack buffer"
        );
        assert_eq!(words("x Hello, World"), vec!["x", "Hello", "World"]);
    }

    fn tokens_with(text: &str, fast: bool) -> Vec<Token> {
        let mut out = vec![Token {
            hash: 1,
            start: 2,
            end: 3,
        }];
        tokenize_with(text, fast, true, &mut out);
        out
    }

    /// The byte classes of a block by vector compares (where this processor
    /// has them) and eight bytes at a time agree, for every byte value in
    /// every position.
    #[test]
    fn block_classes_agree_with_and_without_vectors() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut blocks: Vec<[u8; 64]> = (0..=255u8)
            .collect::<Vec<_>>()
            .chunks(64)
            .map(|c| c.try_into().unwrap())
            .collect();
        for _ in 0..2000 {
            let mut b = [0u8; 64];
            for x in &mut b {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Mostly ASCII, as text is, with every other byte too.
                let r = (state >> 56) as u8;
                *x = if r < 200 { r & 0x7F } else { r };
            }
            blocks.push(b);
        }
        for b in &blocks {
            assert_eq!(block_classes(b), block_classes_swar(b), "{b:?}");
        }
        // The masks themselves: letters and digits, and the high bytes.
        let mut b = [b' '; 64];
        b[..12].copy_from_slice(b"aZ09@[`{/:\x80\xff");
        assert_eq!(block_classes_swar(&b), (0b1111, 0b11 << 10));
    }

    /// The ASCII fast path gives what the character-by-character reader
    /// gives, token for token (hash and bytes): on random strings of the
    /// characters where the two could part (line starts, list numbers,
    /// Markdown marks, words that run into accents, invisible characters,
    /// combining marks, CJK, full-width and non-breaking spaces), and on the
    /// corpus fixtures.
    #[test]
    fn the_fast_path_is_the_reader() {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "1",
            "42",
            "word",
            "Mixed",
            "UPPER",
            " ",
            "  ",
            "\n",
            "\r\n",
            "\t",
            ".",
            ")",
            "(",
            ",",
            "#",
            "-",
            "*",
            "+",
            ">",
            "|",
            "é",
            "e\u{301}",
            "\u{301}",
            "\u{200B}",
            "\u{00AD}",
            "\u{FEFF}",
            "我",
            "’",
            "Ａ",
            "\u{00A0}",
            "\u{2003}",
            "—",
            "ı",
            "ｓ",
            "\u{0B}",
            "\u{01}",
            "Supercalifragilisticexpialidociousandthensomemore",
            "ALongCapitalisedWordOfMoreThanThirtyTwoBytes",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            // Short strings, and long ones (blocks of 64 bytes and words
            // across them).
            let n = (next() % if round % 2 == 0 { 24 } else { 300 }) as usize;
            let text: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            assert_eq!(
                tokens_with(&text, true),
                tokens_with(&text, false),
                "{text:?}"
            );
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
        let mut read = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let Ok(raw) = std::fs::read_to_string(&path) else {
                continue;
            };
            // Every string of a JSON file or of each JSON line.
            fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
                match v {
                    serde_json::Value::String(s) => out.push(s.clone()),
                    serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                    serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
                    _ => {}
                }
            }
            let mut texts = Vec::new();
            match serde_json::from_str::<serde_json::Value>(&raw) {
                Ok(v) => strings(&v, &mut texts),
                Err(_) => raw
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .for_each(|v| strings(&v, &mut texts)),
            }
            for text in &texts {
                assert_eq!(
                    tokens_with(text, true),
                    tokens_with(text, false),
                    "{}: {text:?}",
                    path.display()
                );
            }
            read += usize::from(!texts.is_empty());
        }
        assert!(read >= 5, "fixtures read: {read}");
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
