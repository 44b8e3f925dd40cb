//! The labelled evaluation set: documents made from real English and
//! Chinese text with planted entities, valid ones (to be found) and
//! look-alikes with a wrong checksum, date or range (not to be found).
//! Generated from a fixed seed, so the set is the same on every machine;
//! the `eval` test asserts precision and recall on it, and the Presidio
//! benchmark reads the same documents.

use serde::Serialize;

use crate::EntityKind;
use crate::recognizers::{cn_id_valid, iban_valid, luhn_valid};

/// A planted item.
#[derive(Clone, Debug, Serialize)]
pub struct Planted {
    /// Its type.
    pub kind: EntityKind,
    /// Byte range in the document.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
    /// Whether it is valid (should be found) or a look-alike (should not).
    pub valid: bool,
}

/// One document.
#[derive(Clone, Debug, Serialize)]
pub struct Doc {
    /// The text.
    pub text: String,
    /// What was planted in it.
    pub planted: Vec<Planted>,
    /// `en` or `zh`.
    pub lang: &'static str,
}

/// xorshift64*: small, deterministic, good enough to pick test values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|d| format!("{prefix}{d}"))
        .find(|c| luhn_valid(c))
        .unwrap_or_default()
}

fn iban(r: &mut Rng, valid: bool) -> String {
    let (cc, bban) = match r.below(3) {
        0 => ("DE", r.digits(18)),
        1 => (
            "GB",
            format!(
                "{}{}",
                r.pick(&["WEST", "NWBK", "BARC", "MIDL"]),
                r.digits(14)
            ),
        ),
        _ => ("FR", r.digits(23)),
    };
    let good = (2..=98)
        .map(|k| format!("{cc}{k:02}{bban}"))
        .find(|c| iban_valid(c))
        .unwrap_or_default();
    let s = if valid {
        good
    } else {
        let k: u32 = good[2..4].parse().unwrap_or(2);
        format!("{cc}{:02}{bban}", if k >= 97 { k - 1 } else { k + 1 })
    };
    // Print in groups of four, as people write them.
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn cn_id(r: &mut Rng, valid: bool) -> String {
    let region = r.pick(&["110105", "310104", "440305", "510107", "330106", "420111"]);
    let y = 1950 + r.below(55);
    let (m, d) = if valid {
        (1 + r.below(12), 1 + r.below(28))
    } else if r.below(2) == 0 {
        (2, 30)
    } else {
        (13, 1 + r.below(28))
    };
    let body = format!("{region}{y:04}{m:02}{d:02}{}", r.digits(3));
    let good = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X"]
        .iter()
        .map(|c| format!("{body}{c}"))
        .find(|c| cn_id_valid(c));
    match (valid, good) {
        (true, Some(g)) => g,
        (false, Some(g)) => g,
        (_, None) => format!("{body}0"),
    }
}

fn cn_id_bad_check(r: &mut Rng) -> String {
    let good = cn_id(r, true);
    let last = good.chars().last().unwrap_or('0');
    let wrong = if last == '1' { '2' } else { '1' };
    format!("{}{wrong}", &good[..17])
}

/// One entity to plant: its text, and whether it is valid.
fn make(r: &mut Rng, kind: EntityKind, valid: bool, lang: &str) -> String {
    match kind {
        EntityKind::Email => {
            let name = r.pick(&[
                "ann.lee",
                "wei.zhang",
                "j_smith",
                "maria",
                "li.na+work",
                "ops-team",
            ]);
            let dom = r.pick(&[
                "example.com",
                "mail.example.org",
                "corp.example.cn",
                "uni.example.edu",
            ]);
            if valid {
                format!("{name}{}@{dom}", r.below(100))
            } else {
                format!("{name}@localhost")
            }
        }
        EntityKind::Phone => {
            if valid {
                match r.below(3) {
                    // Allocated ranges only (13x and 18x mobiles; London
                    // 020 7xxx): numbering plans are checked now.
                    0 => format!("1{}{}", r.pick(&["3", "8"]), r.digits(9)),
                    1 => format!(
                        "+86 1{}{} {} {}",
                        r.pick(&["3", "8"]),
                        r.digits(1),
                        r.digits(4),
                        r.digits(4)
                    ),
                    _ => format!("+44 20 7{} {}", r.digits(3), r.digits(4)),
                }
            } else {
                format!("12{}", r.digits(9)) // no Chinese mobile starts with 12
            }
        }
        EntityKind::CreditCard => {
            let prefix = match r.below(3) {
                0 => format!("4{}", r.digits(14)),
                1 => format!("5{}{}", 1 + r.below(5), r.digits(13)),
                _ => format!("62{}", r.digits(13)),
            };
            let good = luhn_complete(&prefix);
            let s = if valid {
                good
            } else {
                let last = good
                    .chars()
                    .last()
                    .and_then(|c| c.to_digit(10))
                    .unwrap_or(0);
                format!("{}{}", &good[..good.len() - 1], (last + 1) % 10)
            };
            if lang == "en" {
                s.as_bytes()
                    .chunks(4)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                s
            }
        }
        EntityKind::Iban => iban(r, valid),
        EntityKind::CnResidentId => {
            if valid {
                cn_id(r, true)
            } else if r.below(2) == 0 {
                cn_id_bad_check(r)
            } else {
                cn_id(r, false)
            }
        }
        EntityKind::UsSsn => {
            if valid {
                format!(
                    "{:03}-{:02}-{:04}",
                    1 + r.below(664),
                    1 + r.below(98),
                    1 + r.below(9998)
                )
            } else {
                format!(
                    "{}-{:02}-{:04}",
                    r.pick(&["000", "666", "912"]),
                    1 + r.below(98),
                    1 + r.below(9998)
                )
            }
        }
        EntityKind::IpAddress => {
            if valid {
                format!(
                    "{}.{}.{}.{}",
                    1 + r.below(223),
                    r.below(256),
                    r.below(256),
                    1 + r.below(254)
                )
            } else {
                format!(
                    "{}.{}.{}.{}",
                    256 + r.below(700),
                    r.below(256),
                    r.below(256),
                    r.below(256)
                )
            }
        }
        EntityKind::UrlCredentials => {
            if valid {
                format!(
                    "postgres://svc{}:Pw{}x@db.internal:5432/app",
                    r.below(99),
                    r.digits(6)
                )
            } else {
                format!("https://docs.example.com/v{}/guide", r.below(9))
            }
        }
        EntityKind::Secret => {
            if valid {
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
                let s: String = (0..40)
                    .map(|_| char::from(alphabet[r.below(62) as usize]))
                    .collect();
                match r.below(2) {
                    0 => format!("sk-proj-{s}"),
                    _ => format!("AKIA{}", &s[..16].to_ascii_uppercase()),
                }
            } else {
                "password-reset-instructions".to_string()
            }
        }
    }
}

/// Words placed before a planted item, so it reads naturally.
fn lead(kind: EntityKind, lang: &str) -> &'static str {
    match (kind, lang) {
        (EntityKind::Email, "en") => " Please write to ",
        (EntityKind::Phone, "en") => " You can call ",
        (EntityKind::CreditCard, "en") => " The card number is ",
        (EntityKind::Iban, "en") => " Transfer to IBAN ",
        (EntityKind::CnResidentId, "en") => " Resident ID ",
        (EntityKind::UsSsn, "en") => " SSN ",
        (EntityKind::IpAddress, "en") => " The server is at ",
        (EntityKind::UrlCredentials, "en") => " Connect with ",
        (EntityKind::Secret, "en") => " The key is ",
        (EntityKind::Email, _) => "请发邮件到",
        (EntityKind::Phone, _) => "联系电话",
        (EntityKind::CreditCard, _) => "卡号",
        (EntityKind::Iban, _) => "账户",
        (EntityKind::CnResidentId, _) => "身份证号",
        (EntityKind::UsSsn, _) => "社保号",
        (EntityKind::IpAddress, _) => "服务器地址",
        (EntityKind::UrlCredentials, _) => "连接串",
        (EntityKind::Secret, _) => "密钥",
    }
}

/// `n` documents from the base texts, seeded.
pub fn generate(seed: u64, n: usize, english: &[String], chinese: &[String]) -> Vec<Doc> {
    let mut r = Rng(seed.max(1));
    let mut docs = Vec::with_capacity(n);
    for i in 0..n {
        let lang = if i % 3 == 2 { "zh" } else { "en" };
        let base = if lang == "en" { english } else { chinese };
        let Some(text) = base.get(r.below(base.len() as u64) as usize) else {
            continue;
        };
        // Keep documents at 1–4 KB, cutting on a character boundary.
        let mut cut = text.len().min(1000 + r.below(3000) as usize);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut doc = text[..cut].to_string();
        let mut planted = Vec::new();
        for _ in 0..3 {
            let kind = EntityKind::ALL[r.below(EntityKind::ALL.len() as u64) as usize];
            let valid = r.below(4) != 0;
            let value = make(&mut r, kind, valid, lang);
            doc.push_str(lead(kind, lang));
            let start = doc.len();
            doc.push_str(&value);
            // For a URL the entity is its `user:password`, not the URL.
            let (s, e) = match (kind, value.find("://"), value.rfind('@')) {
                (EntityKind::UrlCredentials, Some(a), Some(b)) => (start + a + 3, start + b),
                _ => (start, doc.len()),
            };
            planted.push(Planted {
                kind,
                start: s,
                end: e,
                valid,
            });
            doc.push_str(if lang == "en" { ". " } else { "。" });
        }
        docs.push(Doc {
            text: doc,
            planted,
            lang,
        });
    }
    docs
}
