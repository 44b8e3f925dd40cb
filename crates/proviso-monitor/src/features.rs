//! What the signals read from a prompt: its template (a MinHash of the
//! prompt with numbers, quoted spans and list items masked), an exact hash,
//! a feature-hashed n-gram vector for the distribution-shift test, and
//! whether it asks for reasoning.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Values in a template signature.
pub const SIG: usize = 63;
/// LSH bands × rows over the signature: a pair at Jaccard 0.5 shares a band
/// with probability 1 − (1 − 0.5³)²¹ = 0.94; at 0.2, 0.15.
pub const BANDS: usize = 21;
/// Rows per band.
pub const ROWS: usize = 3;
/// Dimensions of the prompt vectors.
pub const DIM: usize = 128;

const SEED: u64 = 0x7072_6f76_6973_6f21;

/// Lower-cased words (letters and digits) and single CJK characters: what
/// [`word_hashes`] hashes, spelled out (for tests).
#[cfg(test)]
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if is_invisible(ch) {
            continue;
        }
        let ch = fold_look_alike(ch);
        if is_cjk(ch) {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(ch.to_string());
        } else if ch.is_alphanumeric() {
            cur.extend(ch.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Bytes of a prompt the features read: a template or a topic shows in its
/// first few kilobytes, and a pasted document need not be read to the end.
pub const MAX_FEATURE_BYTES: usize = 4096;

fn head(text: &str) -> &str {
    head_of(text, MAX_FEATURE_BYTES)
}

/// The first `max` bytes of a text, cut at a character boundary.
pub(crate) fn head_of(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The xxh3 hashes of [`words`], without allocating a string per word.
pub fn word_hashes(text: &str) -> Vec<u64> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    let mut cur = String::with_capacity(32);
    let flush = |cur: &mut String, out: &mut Vec<u64>| {
        if !cur.is_empty() {
            out.push(xxh3_64_with_seed(cur.as_bytes(), SEED));
            cur.clear();
        }
    };
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        // Invisible characters inside a word do not split it, and letters
        // that look like Latin ones are read as them: a prompt disguised
        // with zero-width spaces or Cyrillic look-alikes reads as its text.
        if is_invisible(ch) {
            continue;
        }
        let ch = fold_look_alike(ch);
        if is_cjk(ch) {
            flush(&mut cur, &mut out);
            out.push(xxh3_64_with_seed(ch.encode_utf8(&mut buf).as_bytes(), SEED));
        } else if ch.is_alphanumeric() {
            if ch.is_ascii() {
                cur.push(ch.to_ascii_lowercase());
            } else {
                cur.extend(ch.to_lowercase());
            }
        } else {
            flush(&mut cur, &mut out);
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Format characters that render as nothing: soft hyphen, zero-width
/// spaces and joiners, word joiner and invisible operators, byte-order mark.
fn is_invisible(ch: char) -> bool {
    matches!(ch, '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Cyrillic and Greek letters drawn like Latin ones, and full-width ASCII,
/// as the Latin (ASCII) letter.
fn fold_look_alike(ch: char) -> char {
    match ch {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
        'а' | 'А' | 'α' | 'Α' => 'a',
        'В' | 'Β' => 'b',
        'с' | 'С' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'Ε' => 'e',
        'һ' | 'Н' | 'Η' => 'h',
        'і' | 'І' | 'ι' | 'Ι' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'ӏ' => 'l',
        'М' | 'Μ' => 'm',
        'Ν' => 'n',
        'о' | 'О' | 'ο' | 'Ο' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' | 'Ѕ' => 's',
        'Т' | 'Τ' => 't',
        'υ' => 'u',
        'ν' => 'v',
        'ԝ' => 'w',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'Υ' => 'y',
        'Ζ' => 'z',
        _ => ch,
    }
}

pub(crate) fn is_cjk(ch: char) -> bool {
    matches!(ch as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// The prompt with what varies between fillings of one scaffold masked:
/// numbers become `0`, quoted spans `Q`, the content of list items `L`.
pub fn mask(prompt: &str) -> String {
    let mut out = String::with_capacity(prompt.len());
    for line in prompt.lines() {
        let t = line.trim_start();
        let item = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix("* "))
            .or_else(|| t.strip_prefix("• "))
            .or_else(|| {
                let d = t.bytes().take_while(u8::is_ascii_digit).count();
                (d > 0 && d < 4)
                    .then(|| {
                        t[d..]
                            .strip_prefix(". ")
                            .or_else(|| t[d..].strip_prefix(") "))
                    })
                    .flatten()
            });
        if item.is_some() {
            out.push_str("L\n");
            continue;
        }
        let mut quote: Option<char> = None;
        let mut prev_digit = false;
        for ch in line.chars() {
            if let Some(q) = quote {
                if ch == q {
                    quote = None;
                }
                continue;
            }
            let close = match ch {
                '"' => Some('"'),
                '“' => Some('”'),
                '「' => Some('」'),
                '《' => Some('》'),
                '`' => Some('`'),
                _ => None,
            };
            if let Some(c) = close {
                out.push_str(" Q ");
                quote = Some(c);
                continue;
            }
            if ch.is_ascii_digit() {
                if !prev_digit {
                    out.push('0');
                }
                prev_digit = true;
                continue;
            }
            prev_digit = false;
            out.push(ch);
        }
        out.push('\n');
    }
    out
}

/// A MinHash signature of the masked prompt over word bigrams (unigrams
/// for one-word prompts): one xxh3 per shingle, then one multiply-xorshift
/// per slot.
pub fn template_signature(prompt: &str) -> [u32; SIG] {
    let w = word_hashes(&mask(head(prompt)));
    let mut sig = [u32::MAX; SIG];
    let mut add = |h: u64| {
        for (i, s) in sig.iter_mut().enumerate() {
            let m = mix(h ^ MULTS[i % MULTS.len()].wrapping_mul(i as u64 + 1));
            let v = (m >> 32) as u32;
            if v < *s {
                *s = v;
            }
        }
    };
    if w.len() < 2 {
        for x in &w {
            add(*x);
        }
    } else {
        for pair in w.windows(2) {
            add(pair[0].rotate_left(17) ^ pair[1]);
        }
    }
    sig
}

const MULTS: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0xD6E8_FEB8_6659_FD93,
];

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Estimated Jaccard similarity of two signatures.
pub fn jaccard(a: &[u32; SIG], b: &[u32; SIG]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / SIG as f64
}

/// The hash of band `b` of a signature.
pub fn band_hash(sig: &[u32; SIG], b: usize) -> u64 {
    let mut h = (b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for v in &sig[b * ROWS..(b + 1) * ROWS] {
        h = mix(h ^ u64::from(*v));
    }
    h
}

/// The exact prompt's hash (white space and case folded).
pub fn exact_hash(prompt: &str) -> u64 {
    word_hashes(prompt)
        .iter()
        .fold(SEED, |h, w| mix(h.rotate_left(5) ^ w))
}

/// A unit vector of feature-hashed word unigrams and bigrams (signed), so
/// the shift test runs with no embedding model.
pub fn vector(prompt: &str) -> Vec<f32> {
    let w = word_hashes(head(prompt));
    let mut v = vec![0f32; DIM];
    let mut add = |h: u64| {
        let i = (h % DIM as u64) as usize;
        v[i] += if (h >> 63) == 1 { 1.0 } else { -1.0 };
    };
    for (i, &a) in w.iter().enumerate() {
        add(mix(a));
        if let Some(&b) = w.get(i + 1) {
            add(mix(a.rotate_left(29) ^ b ^ 1));
        }
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// `v` scaled to unit length (all zeros stays all zeros).
pub fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 && n.is_finite() {
        v.iter().map(|x| x / n).collect()
    } else {
        vec![0.0; v.len()]
    }
}

/// A unit vector stored in one byte per dimension (components times 127,
/// rounded): a quarter of the memory, and the test's kernel hardly moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed(Box<[i8]>);

impl Packed {
    /// Packs a vector whose components are within −1..=1.
    pub fn pack(v: &[f32]) -> Self {
        Packed(
            v.iter()
                .map(|x| (x.clamp(-1.0, 1.0) * 127.0).round() as i8)
                .collect(),
        )
    }

    /// Back to floats (re-normalised to unit length).
    pub fn unpack(&self) -> Vec<f32> {
        let mut v: Vec<f32> = self.0.iter().map(|x| f32::from(*x) / 127.0).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            v.iter_mut().for_each(|x| *x /= n);
        }
        v
    }
}

const REASONING: &[&str] = &[
    "step by step",
    "step-by-step",
    "chain of thought",
    "chain-of-thought",
    "show your work",
    "show your reasoning",
    "explain your reasoning",
    "reasoning process",
    "your reasoning",
    "think through",
    "rationale",
    "justify your answer",
    "detailed reasoning",
    "let's think",
    "let us think",
    "thought process",
    "一步一步",
    "逐步",
    "思考过程",
    "推理过程",
    "解题过程",
    "详细推理",
];

/// Whether the prompt asks for reasoning, a chain of thought or rationales.
pub fn asks_for_reasoning(prompt: &str) -> bool {
    // Read as the features read it: look-alikes folded, invisibles dropped
    // (ASCII text has neither).
    let lower: String = if prompt.is_ascii() {
        prompt.to_ascii_lowercase()
    } else {
        prompt
            .chars()
            .filter(|c| !is_invisible(*c))
            .map(fold_look_alike)
            .collect::<String>()
            .to_lowercase()
    };
    REASONING.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_makes_fillings_of_one_scaffold_alike() {
        let a =
            "Write 5 exam questions about \"photosynthesis\" for grade 7 students. Number them.";
        let b = "Write 12 exam questions about \"the French revolution\" for grade 10 students. Number them.";
        let c = "What is a good recipe for a vegetarian lasagna with spinach?";
        let (sa, sb, sc) = (
            template_signature(a),
            template_signature(b),
            template_signature(c),
        );
        assert!(jaccard(&sa, &sb) > 0.8, "{}", jaccard(&sa, &sb));
        assert!(jaccard(&sa, &sc) < 0.2, "{}", jaccard(&sa, &sc));
        assert_eq!(
            mask("- apple\n2. pear\nsee \"x y\" 123"),
            "L\nL\nsee  Q  0\n"
        );
    }

    #[test]
    fn vectors_are_unit_and_similar_for_similar_text() {
        let a = vector("how do I bake sourdough bread at home");
        let b = vector("how do I bake rye bread at home");
        let c = vector("list the prime numbers below one hundred");
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert!(dot(&a, &b) > dot(&a, &c));
        assert!(vector("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn packed_vectors_keep_their_direction() {
        let a = vector("how do I bake sourdough bread at home");
        let b = Packed::pack(&a).unpack();
        let dot: f32 = a.iter().zip(&b).map(|(p, q)| p * q).sum();
        assert!(dot > 0.995, "{dot}");
    }

    #[test]
    fn reasoning_requests_are_recognised() {
        assert!(asks_for_reasoning("Solve it. Let's think Step By Step."));
        assert!(asks_for_reasoning("请一步一步地解释"));
        assert!(asks_for_reasoning(
            "Solve it step\u{200B} by st\u{200D}ep, shоw your work"
        ));
        assert!(!asks_for_reasoning("What is the capital of France?"));
    }

    #[test]
    fn look_alikes_and_invisible_characters_read_as_the_text() {
        let plain = exact_hash("What are the names of some famous actors");
        // Cyrillic а, е, о, р, с in Latin words; zero-width space and joiner
        // inside words; full-width letters.
        assert_eq!(
            exact_hash("Whаt аre the nаmes оf sоme fаmоus асtоrs"),
            plain
        );
        assert_eq!(
            exact_hash("Wh\u{200B}at are the na\u{2060}mes of so\u{200D}me famous actors"),
            plain
        );
        assert_eq!(
            exact_hash("Ｗｈａｔ are the names of some famous actors"),
            plain
        );
        assert_ne!(
            exact_hash("What are the names of some famous actresses"),
            plain
        );
    }

    #[test]
    fn cjk_is_one_token_per_character() {
        assert_eq!(
            words("写一首诗 about Spring"),
            ["写", "一", "首", "诗", "about", "spring"]
        );
        let h = |s: &str| word_hashes(s);
        assert_eq!(h("Hello,  World"), h("hello world"));
        assert_eq!(exact_hash("Hello, World"), exact_hash("hello  world"));
        assert_ne!(exact_hash("hello world"), exact_hash("world hello"));
        assert_eq!(
            h("写一首诗 about Spring").len(),
            words("写一首诗 about Spring").len()
        );
    }
}
