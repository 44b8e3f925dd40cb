//! Phone numbers as people write them: international (`+44 20 7946 0958`,
//! `0044 20 7946 0958`, `+1-415-555-0132`), national without a country code
//! (`020 7946 0958`, `(415) 555-0132`, `010-12345678`, `06 12 34 56 78`),
//! with dots, spaces, dashes, brackets, a trunk `(0)` and an extension
//! (`x123`, `ext. 45`, `转 8001`). A candidate is any run of digit groups;
//! it is a phone number only if libphonenumber's numbering plans (the
//! `phonenumber` crate) say it is a valid number: an international one
//! for its country code, a national one for one of [`REGIONS`]. A
//! candidate that took in a neighbouring number is trimmed group by group
//! until it is valid.
//!
//! Confidence: international 0.85; national with separators or brackets
//! 0.6; a bare run of digits 0.35 (it needs a context word such as
//! "phone" or "电话" to be masked), except a Chinese mobile (`1[3-9]` and
//! nine digits), 0.6, and a run of ten digits or more that starts with a
//! trunk `0`, 0.55. Words such as "order" or "tracking" before it lower
//! it by 0.3. Dates, times, dotted IPv4 addresses and ISBNs are never
//! phones.

use phonenumber::Mode;
use phonenumber::country::Id;

use super::{Chain, Check, Gate, Judged, Recognizer, RecognizerError, digits, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &[
    "order", "invoice", "isbn", "tracking", "serial", "version", "build", "订单", "单号", "编号",
];

const CONTEXT: &[&str] = &[
    "phone",
    "tel",
    "call",
    "mobile",
    "cell",
    "whatsapp",
    "fax",
    "contact",
    "reach me",
    "text me",
    "電話",
    "电话",
    "手机",
    "手機",
    "联系",
    "聯絡",
    "致电",
    "号码",
    "號碼",
    "telefon",
    "téléphone",
    "telefono",
    "teléfono",
    "móvil",
    "portable",
    "handy",
    "携帯",
    "電話番号",
];

/// The regions whose national numbers (written without a country code) are
/// recognised: the countries of the evaluation's ten locales and the other
/// large English-speaking ones.
pub const REGIONS: &[Id] = &[
    Id::US,
    Id::CA,
    Id::GB,
    Id::AU,
    Id::CN,
    Id::TW,
    Id::JP,
    Id::DE,
    Id::FR,
    Id::ES,
    Id::IT,
    Id::NL,
];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![Recognizer {
        kind: EntityKind::Phone,
        // An optional `+` or `00`, then up to eight digit groups, each
        // after an optional separator and an optional bracketed group
        // (`(0)`, `(415)`), then an optional extension.
        regex: re(concat!(
            r"(?:\+[ ]?|00[ ]?)?",
            r"(?:\([0-9]{1,5}\)[ .-]?)?[0-9]{1,6}",
            r"(?:[ .\-/]?(?:\([0-9]{1,5}\)[ ]?)?[0-9]{1,6}){0,7}",
            r"(?:[ ]?(?:ext\.?|extn\.?|extension|x|#|分机|分機|转|轉|内线)[ ]?[0-9]{1,6})?",
        ))?,
        group: 0,
        // The check accepts seven digits or more. Inside a candidate two
        // digits are at most eleven bytes apart (` extension `), and a
        // `+ (` may come before the first.
        gate: Gate::Digits(Chain {
            gap: 11,
            min: 7,
            before: 3,
            after: 0,
        }),
        check: Check::Refine(refine),
        context: CONTEXT,
        negative: NEG,
    }])
}

/// The digit groups of `s` (byte ranges of its digit runs).
fn groups(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let j = b[i..]
                .iter()
                .position(|c| !c.is_ascii_digit())
                .map_or(b.len(), |k| i + k);
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Where an extension starts in `s` (the main number ends before it).
fn extension_at(s: &str) -> Option<usize> {
    const MARKS: &[&str] = &[
        "ext.",
        "extn.",
        "extension",
        "extn",
        "ext",
        "x",
        "#",
        "分机",
        "分機",
        "转",
        "轉",
        "内线",
    ];
    // Only a candidate with something besides digits and separators can
    // hold a mark.
    if s.bytes()
        .all(|c| c.is_ascii_digit() || b" .-/()+".contains(&c))
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    MARKS
        .iter()
        .filter_map(|m| lower.rfind(m).map(|i| (i, m.len())))
        .filter(|(i, len)| {
            let rest = &lower[i + len..];
            let rest = rest.trim_start();
            !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_digit()) && *i > 0
        })
        .map(|(i, _)| i)
        .max()
}

/// Never a phone: a date (`2024-03-15`, `15.03.2024`), a dotted IPv4
/// address, the shape of an SSN, an ISBN.
fn looks_like_something_else(s: &str, gs: &[(usize, usize)]) -> bool {
    let g: Vec<&str> = gs.iter().map(|&(a, b)| &s[a..b]).collect();
    let seps: Vec<&str> = gs.windows(2).map(|w| &s[w[0].1..w[1].0]).collect();
    let year = |x: &str| x.len() == 4 && (x.starts_with("19") || x.starts_with("20"));
    let small =
        |x: &str, max: u32| x.len() <= 2 && x.parse::<u32>().is_ok_and(|v| (1..=max).contains(&v));
    let date = g.len() >= 3
        && ((year(g[0]) && small(g[1], 12) && small(g[2], 31))
            || (small(g[0], 31) && small(g[1], 31) && year(g[2])))
        && seps.iter().take(2).all(|x| matches!(*x, "-" | "/" | "."));
    // Four or more dotted groups of one to three digits: an IPv4 address,
    // valid or not (`605.207.14.41`, `1.2.3.4.5`), never how a phone number
    // is grouped.
    let international = s.trim_start().starts_with('+');
    let ipv4 = !international
        && g.len() >= 4
        && seps.iter().all(|x| *x == ".")
        && g.iter().all(|x| x.len() <= 3);
    // 3-2-4 with dashes is the shape of a US social security number.
    let ssn =
        g.len() == 3 && seps.iter().all(|x| *x == "-") && g.iter().map(|x| x.len()).eq([3, 2, 4]);
    let digits: String = g.concat();
    let isbn = digits.len() == 13
        && (digits.starts_with("978") || digits.starts_with("979"))
        && seps.iter().all(|x| *x == "-")
        && {
            let sum: u32 = digits
                .bytes()
                .enumerate()
                .map(|(i, c)| u32::from(c - b'0') * if i % 2 == 0 { 1 } else { 3 })
                .sum();
            sum.is_multiple_of(10)
        };
    date || ipv4 || ssn || isbn
}

/// Whether the number written `s` (no extension) is valid: for its country
/// code when it starts with `+` or `00`, else for one of [`REGIONS`]; in
/// both cases written with the digits the region's own format has (a
/// national number with its trunk `0` where the region has one: `30 901820`
/// is not a Berlin number, `030 901820` is).
fn valid(s: &str) -> bool {
    let written = digits(s);
    if !(7..=15).contains(&written.len()) {
        return false;
    }
    let t = s.trim_start();
    let international = t
        .strip_prefix('+')
        .or_else(|| t.strip_prefix("00"))
        .map(|rest| digits(&rest.replacen("(0)", "", 1)));
    if let Some(d) = international {
        // The country code is one to three digits; the rest is the national
        // significant number of one of its regions (an Italian number keeps
        // its leading zero). Judged on the plans directly: the parser is
        // slow, and candidates starting with `+` are common.
        return (1..=3).any(|k| {
            let (Some(code), Some(nsn)) = (d.get(..k), d.get(k..)) else {
                return false;
            };
            let Ok(code) = code.parse::<u16>() else {
                return false;
            };
            phonenumber::metadata::DATABASE
                .region(&code)
                .is_some_and(|regions| regions.into_iter().filter_map(plan).any(|p| p.valid(nsn)))
        });
    }
    REGIONS
        .iter()
        .filter(|r| plausible(**r, &written))
        .any(|r| {
            phonenumber::parse(Some(*r), t).is_ok_and(|n| {
                strictly_valid(&n)
                    && digits(&n.format().mode(Mode::National).to_string()) == written
            })
        })
}

/// A first look before the (slower) parser: whether `digits`, or `digits`
/// without the region's trunk prefix, is a valid national significant
/// number of the region.
fn plausible(region: Id, digits: &str) -> bool {
    let Some(plan) = plan(region.as_ref()) else {
        return false;
    };
    let without_trunk = plan
        .trunk
        .as_deref()
        .and_then(|p| digits.strip_prefix(p))
        .unwrap_or(digits);
    plan.valid(digits) || (without_trunk.len() < digits.len() && plan.valid(without_trunk))
}

/// Whether `n` is a valid number of its region: its national significant
/// number matches, whole, the region's pattern of some number type, within
/// the lengths the region allows. (`phonenumber::is_valid` accepts a
/// number whose start matches, so one digit too many can pass it.)
fn strictly_valid(n: &phonenumber::PhoneNumber) -> bool {
    // The regions of the country code, looked up here: the crate's own
    // look-up drops an Italian number's leading zero and finds none.
    let Some(regions) = phonenumber::metadata::DATABASE.region(&n.code().value()) else {
        return false;
    };
    let nsn = n.national().to_string();
    regions.into_iter().filter_map(plan).any(|p| p.valid(&nsn))
}

/// A region's numbering plan, its patterns compiled anchored (libphonenumber
/// matches them whole; the crate's own check accepts a match of the start,
/// so one digit too many can pass it). Patterns are written with white
/// space (verbose mode).
struct Plan {
    trunk: Option<String>,
    general: Pattern,
    /// Every number type's pattern, matched in one pass.
    types: regex::RegexSet,
    /// The lengths each type allows (empty: any).
    type_lengths: Vec<Vec<u16>>,
}

struct Pattern {
    lengths: Vec<u16>,
    regex: regex::Regex,
}

impl Pattern {
    fn new(d: &phonenumber::metadata::Descriptor) -> Option<Self> {
        let p = d.national_number().as_str();
        Some(Self {
            lengths: d.possible_length().to_vec(),
            regex: regex::Regex::new(&format!("^(?x:{p})$")).ok()?,
        })
    }

    fn matches(&self, nsn: &str, len: u16) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&len)) && self.regex.is_match(nsn)
    }
}

impl Plan {
    fn valid(&self, nsn: &str) -> bool {
        let len = u16::try_from(nsn.len()).unwrap_or(u16::MAX);
        self.general.matches(nsn, len)
            && self.types.matches(nsn).iter().any(|i| {
                let l = &self.type_lengths[i];
                l.is_empty() || l.contains(&len)
            })
    }
}

/// How many compiled patterns the parser keeps.
const PARSER_PATTERNS: usize = 4096;

/// The plan of region `id` (`US`, `GB`…), compiled on first use.
fn plan(id: &str) -> Option<std::sync::Arc<Plan>> {
    use std::collections::HashMap;
    use std::sync::{Arc, OnceLock, RwLock};
    static PLANS: OnceLock<RwLock<HashMap<String, Option<Arc<Plan>>>>> = OnceLock::new();
    let plans = PLANS.get_or_init(|| {
        // The parser compiles the metadata's patterns on use and keeps the
        // last hundred; the twelve regions' formats need more, and a
        // pattern dropped is compiled again on the next number.
        if let Ok(mut cache) = phonenumber::metadata::DATABASE.cache().lock() {
            cache.set_capacity(PARSER_PATTERNS);
        }
        Default::default()
    });
    if let Some(p) = plans.read().ok()?.get(id) {
        return p.clone();
    }
    let built = phonenumber::metadata::DATABASE.by_id(id).and_then(|meta| {
        let d = meta.descriptors();
        let types = [
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ]
        .into_iter()
        .flatten();
        let (patterns, type_lengths): (Vec<String>, Vec<Vec<u16>>) = types
            .map(|t| {
                (
                    format!("^(?x:{})$", t.national_number().as_str()),
                    t.possible_length().to_vec(),
                )
            })
            .unzip();
        Some(Arc::new(Plan {
            trunk: meta.national_prefix().map(str::to_owned),
            general: Pattern::new(d.general())?,
            types: regex::RegexSet::new(patterns).ok()?,
            type_lengths,
        }))
    });
    plans.write().ok()?.insert(id.to_owned(), built.clone());
    built
}

/// Whether the byte before `start` and the byte at `end` leave the
/// candidate standing alone (not inside a longer word or number, not after
/// a `+` or a decimal point).
fn standalone(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let before = start.checked_sub(1).and_then(|i| b.get(i));
    let after = b.get(end);
    let decimal_after = after == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit);
    before.is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'+' && *c != b'.' && *c != b'-')
        && after.is_none_or(|c| !c.is_ascii_alphanumeric())
        && !decimal_after
}

/// Whether the candidate at `start` continues a code written in groups: a
/// group of four capitals or digits (`GB25 MIDL 2380 …`, `6231 1675 …`)
/// right before it, one space apart.
fn inside_code(text: &str, start: usize) -> bool {
    let Some(before) = text[..start].strip_suffix(' ') else {
        return false;
    };
    let token: Vec<u8> = before
        .bytes()
        .rev()
        .take_while(u8::is_ascii_alphanumeric)
        .collect();
    token.len() == 4
        && token
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The phone number in the candidate `start..end`, trimmed of neighbouring
/// groups until valid, and its confidence.
fn refine(text: &str, start: usize, end: usize) -> Option<Judged> {
    let cand = &text[start..end];
    // Most candidates are a short number of prose (`5`, `2024`): no part of
    // one with fewer than seven digits can be valid.
    if cand.bytes().filter(u8::is_ascii_digit).count() < 7 || inside_code(text, start) {
        return None;
    }
    let (main_end, has_ext) = match extension_at(cand) {
        Some(i) => (cand[..i].trim_end().len(), true),
        None => (cand.len(), false),
    };
    let main = &cand[..main_end];
    let gs = groups(main);
    if gs.is_empty() {
        return None;
    }
    // The whole candidate first, then without trailing groups, then
    // without leading ones: linear in the number of groups.
    let n = gs.len();
    // An international number's prefix is never dropped.
    let leading = if main.starts_with('+') || main.starts_with("00") {
        1
    } else {
        n
    };
    let spans = std::iter::once((0, n))
        .chain((1..n).rev().map(|j| (0, j)))
        .chain((1..leading).map(|i| (i, n)));
    // A neighbour is cut off only where a space separates it (`090-41234`
    // is not a part of `090-41234-5275` to try on its own), and only a
    // short one (`room 12`, `12 times`): a longer group beside the number
    // makes it part of a longer code (a card, an account number).
    let cut_at_space = |k: usize| main[gs[k - 1].1..gs[k].0].contains(' ');
    let short = |range: std::ops::Range<usize>| gs[range].iter().all(|(a, b)| b - a <= 2);
    for (i, j) in spans {
        let trailing_ok = j == n || (cut_at_space(j) && short(j..n));
        let leading_ok = i == 0 || (cut_at_space(i) && short(0..i));
        if !trailing_ok || !leading_ok {
            continue;
        }
        // A leading `+`, `00` or `(` belongs to the first group kept.
        let from = if i == 0 { 0 } else { gs[i].0 };
        let from = if i > 0 && main[..gs[i].0].ends_with('(') {
            gs[i].0 - 1
        } else {
            from
        };
        let to = gs[j - 1].1;
        let to = if main[to..].starts_with(')') {
            to + 1
        } else {
            to
        };
        let s = &main[from..to];
        let (abs_from, abs_to) = (start + from, start + to);
        // The extension stays with the number only if the number ends the
        // main part.
        let abs_to = if has_ext && j == n {
            start + cand.len()
        } else {
            abs_to
        };
        if !standalone(text, abs_from, abs_to)
            || looks_like_something_else(
                s,
                &gs[i..j]
                    .iter()
                    .map(|&(a, b)| (a - from, b - from))
                    .collect::<Vec<_>>(),
            )
        {
            continue;
        }
        if !valid(s) {
            continue;
        }
        let international = s.starts_with('+') || s.starts_with("00");
        let separated = s.bytes().any(|c| !c.is_ascii_digit());
        let cn_mobile =
            s.len() == 11 && s.starts_with('1') && matches!(s.as_bytes()[1], b'3'..=b'9');
        // A bare run starting with a trunk `0` is a national number written
        // without spaces far more often than anything else.
        let trunk = s.starts_with('0') && s.len() >= 10;
        let score = if international {
            0.85
        } else if separated || cn_mobile {
            0.6
        } else if trunk {
            0.55
        } else {
            0.35
        };
        return Some((abs_from, abs_to, score));
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::EntityKind;

    fn found(t: &str) -> Vec<String> {
        crate::recognizers::recognizer::found(EntityKind::Phone, t)
    }

    #[test]
    fn notations_people_write() {
        let table = [
            ("请联系我：13800138000。", "13800138000"),
            ("call +86 138 0013 8000 now", "+86 138 0013 8000"),
            ("UK office +44 20 7946 0958.", "+44 20 7946 0958"),
            ("UK office 0044 20 7946 0958.", "0044 20 7946 0958"),
            ("London: 020 7946 0958", "020 7946 0958"),
            ("ring (415) 555-0132 today", "(415) 555-0132"),
            ("ring 415.555.0132 today", "415.555.0132"),
            ("phone 415 555 0132 please", "415 555 0132"),
            ("Beijing office 010-12345678", "010-12345678"),
            ("Paris: 01 42 68 53 00", "01 42 68 53 00"),
            ("Berlin +49 (0)30 901820", "+49 (0)30 901820"),
            ("desk +1-415-555-0132 x204", "+1-415-555-0132 x204"),
            ("desk +1 415 555 0132 ext. 77", "+1 415 555 0132 ext. 77"),
            ("Tokyo 03-1234-5678", "03-1234-5678"),
            ("Taipei +886.912.348.444", "+886.912.348.444"),
            ("Madrid +34.612.34.63.35", "+34.612.34.63.35"),
            ("携帯 090-1234-5678", "090-1234-5678"),
        ];
        for (text, want) in table {
            assert_eq!(found(text), vec![want], "{text}");
            // Also inside Chinese text without spaces.
            let zh = format!("我的电话是{want}，谢谢");
            assert_eq!(found(&zh), vec![want], "{zh}");
        }
    }

    #[test]
    fn look_alikes_are_not_phones() {
        for text in [
            "order 12800138000123 shipped",
            "version 10.5.2024, code 123-456-7890",
            "on 2024-03-15 14:22:01 it failed",
            "ISBN 978-0-306-40615-7",
            "host 192.168.100.254 is down",
            "order #4839201772 shipped",
            "timestamp 1712345678901",
            "UK office +44 20 7946 09581",
            "it costs 1234567.89 dollars",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn a_bare_run_of_digits_needs_a_context_word() {
        assert!(found("see 4155550132 there").is_empty());
        assert_eq!(found("phone: 4155550132"), vec!["4155550132"]);
    }

    #[test]
    fn a_neighbouring_number_is_trimmed_off() {
        assert_eq!(found("call 415 555 0132 12 times"), vec!["415 555 0132"]);
        assert_eq!(found("room 12 415 555 0132"), vec!["415 555 0132"]);
    }
}
