//! Redaction of a text that arrives in pieces of any size (a file read in
//! blocks), in memory bounded by the block size, with the findings a
//! redaction of the whole text would make.
//!
//! Pieces are gathered until a block and a margin are held. The block is
//! searched with the margin after it, so an entity that starts in the block
//! is seen whole; the text is released up to the last line break before the
//! margin (or, in a line longer than a block, at the margin), moved back to
//! the start of any finding the cut would split. A little of the released
//! text is kept before the next block, so context words and the characters
//! next to a candidate are seen as in the whole text.

use crate::fold::{ceil_boundary, floor_boundary};
use crate::{EntityKind, Finding, Redacted, Redactor, Session};

/// Bytes searched at a time, by default.
pub const BLOCK: usize = 1 << 20;
/// Bytes searched after a block, by default: longer than any entity the
/// recognisers find (a private key block of a 16,384-bit RSA key is about
/// 12 KiB); a longer one across a cut is not seen whole.
pub const MARGIN: usize = 32 << 10;
/// Released bytes searched again before the next block: context words (48
/// bytes of folded text before a candidate, which invisible characters
/// can stretch), what recognisers look at around a candidate, and the
/// start of a pattern whose entity starts after the cut (`password:` and
/// the white space before a secret).
const KEEP: usize = 16 << 10;

/// Redacts a text given in pieces; see the module documentation.
pub struct BlockRedactor<'r> {
    r: &'r Redactor,
    only: Option<Vec<EntityKind>>,
    /// Kept released text, then text not released yet (from `from`).
    buf: String,
    from: usize,
    /// Offset in the whole input of `buf[from]`.
    offset: usize,
    block: usize,
    margin: usize,
}

impl<'r> BlockRedactor<'r> {
    /// Redaction with `r`, of the given types (default: the configured ones),
    /// in blocks of [`BLOCK`] bytes.
    pub fn new(r: &'r Redactor, only: Option<Vec<EntityKind>>) -> Self {
        Self::with_sizes(r, only, BLOCK, MARGIN)
    }

    /// As [`BlockRedactor::new`], with other sizes (tests use small ones).
    pub fn with_sizes(
        r: &'r Redactor,
        only: Option<Vec<EntityKind>>,
        block: usize,
        margin: usize,
    ) -> Self {
        Self {
            r,
            only,
            buf: String::new(),
            from: 0,
            offset: 0,
            block: block.max(1),
            margin,
        }
    }

    /// Takes the next piece; returns the redacted text that is final now
    /// (often none) and its findings, with offsets into the whole input.
    pub fn push(&mut self, piece: &str, session: &mut Session) -> Redacted {
        self.buf.push_str(piece);
        let mut out = Redacted {
            text: String::new(),
            findings: Vec::new(),
        };
        while self.buf.len() - self.from >= self.block + self.margin {
            let next = self.release(false, session);
            out.text.push_str(&next.text);
            out.findings.extend(next.findings);
        }
        out
    }

    /// Releases the rest at the end of the input.
    pub fn finish(&mut self, session: &mut Session) -> Redacted {
        self.release(true, session)
    }

    /// Bytes of the input released so far.
    pub fn released(&self) -> usize {
        self.offset
    }

    /// Bytes held now (for tests of bounded memory).
    pub fn held(&self) -> usize {
        self.buf.len()
    }

    fn release(&mut self, end: bool, session: &mut Session) -> Redacted {
        let from = self.from;
        let mut found: Vec<Finding> = self
            .r
            .find(&self.buf, self.only.as_deref())
            .into_iter()
            .filter(|f| f.start >= from)
            .collect();
        let cut = if end {
            self.buf.len()
        } else {
            let limit = floor_boundary(&self.buf, self.buf.len() - self.margin);
            let mut cut = self.buf[from..limit]
                .rfind('\n')
                .map_or(limit, |i| from + i + 1);
            if cut <= from {
                // Sizes smaller than a character: move on by one.
                cut = ceil_boundary(&self.buf, from + 1);
            }
            if let Some(f) = found.iter().find(|f| f.start < cut && cut < f.end) {
                cut = if f.start > from { f.start } else { f.end };
            }
            cut
        };
        found.retain(|f| f.end <= cut);
        for f in &mut found {
            f.start -= from;
            f.end -= from;
        }
        let text = self.r.replace(&self.buf[from..cut], &found, session);
        for f in &mut found {
            f.start += self.offset;
            f.end += self.offset;
        }
        self.offset += cut - from;
        let keep = floor_boundary(&self.buf, cut.saturating_sub(KEEP));
        self.buf.drain(..keep);
        self.from = cut - keep;
        Redacted {
            text,
            findings: found,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RedactConfig;

    fn whole_and_blocks(r: &Redactor, t: &str, piece: usize, block: usize, margin: usize) {
        let whole = r.redact(t, None, &mut Session::default());
        let mut s = Session::default();
        let mut b = BlockRedactor::with_sizes(r, None, block, margin);
        let mut text = String::new();
        let mut findings = Vec::new();
        let mut max_held = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let n = floor_boundary(rest, piece.min(rest.len())).max(
                rest.chars()
                    .next()
                    .map_or(0, char::len_utf8)
                    .min(rest.len()),
            );
            let out = b.push(&rest[..n], &mut s);
            max_held = max_held.max(b.held());
            text.push_str(&out.text);
            findings.extend(out.findings);
            rest = &rest[n..];
        }
        let out = b.finish(&mut s);
        text.push_str(&out.text);
        findings.extend(out.findings);
        assert_eq!(findings, whole.findings, "block {block}, margin {margin}");
        assert_eq!(text, whole.text);
        assert!(
            max_held <= block + margin + piece + KEEP + 8,
            "held {max_held} bytes with block {block}, margin {margin}, pieces of {piece}"
        );
    }

    #[test]
    fn blocks_give_the_whole_text_findings() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let mut t = String::new();
        for line in include_str!("../../../tests/fixtures/redact_eval.jsonl")
            .lines()
            .take(300)
        {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            t.push_str(v["text"].as_str().unwrap());
            t.push('\n');
        }
        // A card across a line break, a long line without any, and
        // back-to-back entities.
        t.push_str("card 4111 1111\n1111 1111 then ");
        t.push_str(&"ann@example.com 192.168.0.1 ".repeat(200));
        for (piece, block, margin) in [(7, 64, 128), (1000, 512, 256), (4096, 4096, 1024)] {
            whole_and_blocks(&r, &t, piece, block, margin);
        }
    }

    #[test]
    fn context_before_a_cut_is_seen_as_in_the_whole_text() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        // A key word far before its value (white space between), and a
        // context word far before its number in original bytes (zero-width
        // spaces fold to nothing): the cut falls between them.
        let secret = format!("password:{}Zx9kQ2mLp7Rt4wVb\n", "\n".repeat(12));
        let phone = format!("phone:{}\n4155550132 x\n", "\u{200B}".repeat(100));
        for t in [secret, phone] {
            let filler = "filler line\n".repeat(400);
            let text = format!("{filler}{t}{filler}");
            let whole = r.find(&text, None);
            assert_eq!(whole.len(), 1, "the whole text finds it: {t:?}");
            // Blocks small enough that cuts fall on every line break in turn.
            for block in [16, 24, 100, 1000] {
                whole_and_blocks(&r, &text, 7, block, 64);
            }
        }
    }

    #[test]
    fn tiny_blocks_still_move_on() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        // Blocks smaller than a character (the margin still holds the
        // longest entity, as it must).
        whole_and_blocks(&r, "中文 ann@example.com 号码", 1, 1, 64);
    }

    #[test]
    fn a_finding_is_never_split_between_blocks() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        // No line breaks at all: every cut falls inside the text, many of
        // them inside an address.
        let t = "x ann.lee@example.com 415-555-0132 ".repeat(100);
        for block in [10, 33, 64] {
            whole_and_blocks(&r, &t, 5, block, 64);
        }
    }
}
