//! IP addresses: IPv4 in dotted quads (each octet 0 to 255, no leading
//! zeros) and IPv6 in every form RFC 4291 and RFC 5952 allow (full,
//! compressed with `::`, upper or lower case, with an embedded IPv4 such
//! as `::ffff:192.0.2.1`), checked by the standard library's parser. A
//! ninth group, a second `::` or a fifth dotted number makes the whole a
//! look-alike, not an address with something after it. An address may
//! follow a label written against it (`IP10.0.0.1`, `地址：::1`).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Chain, Check, Gate, Judged, Recognizer, RecognizerError, label_before, re};
use crate::EntityKind;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &["version", "release", "v.", "版本"];

pub(super) fn recognizers() -> Result<Vec<Recognizer>, RecognizerError> {
    Ok(vec![
        Recognizer {
            kind: EntityKind::IpAddress,
            regex: re(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")?,
            group: 0,
            gate: Gate::Digits(Chain {
                gap: 1,
                min: 4,
                before: 0,
                after: 0,
            }),
            check: Check::Refine(v4),
            context: &["ip", "address", "host", "server", "地址"],
            negative: NEG,
        },
        Recognizer {
            kind: EntityKind::IpAddress,
            // Hex groups and colons ending in a dotted quad (tried first), or
            // hex groups and colons.
            regex: re(concat!(
                r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
                r"|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,8}",
            ))?,
            group: 0,
            // At least two colons, at most four hex digits between two, and
            // at most four before the first; a dotted quad may follow the
            // last.
            gate: Gate::Colons(Chain {
                gap: 4,
                min: 2,
                before: 4,
                after: 15,
            }),
            check: Check::Refine(v6),
            context: &["ip", "ipv6", "address", "host"],
            negative: NEG,
        },
    ])
}

/// Whether the bytes around `start..end` leave the candidate standing
/// alone: no letter, digit, dot or colon of a longer token on either side,
/// except a label ending in a letter right before it (`IP10.0.0.1`), which
/// text without spaces often has.
fn alone(text: &str, start: usize, end: usize) -> bool {
    let b = text.as_bytes();
    let before = start.checked_sub(1).and_then(|i| b.get(i)).copied();
    let after = b.get(end).copied();
    let after_ok = match after {
        None => true,
        // A sentence's full stop or colon, not the next part of a token.
        Some(b'.' | b':') => !b.get(end + 1).is_some_and(u8::is_ascii_hexdigit),
        Some(c) => !c.is_ascii_alphanumeric(),
    };
    let before_ok = match before {
        None => true,
        Some(b'.' | b':') => !start
            .checked_sub(2)
            .and_then(|i| b.get(i))
            .is_some_and(u8::is_ascii_hexdigit),
        Some(c) if c.is_ascii_digit() => false,
        Some(c) if c.is_ascii_alphabetic() => {
            label_before(&text[..start], &["ipv4", "ipv6", "ip", "addr", "host"])
        }
        Some(_) => true,
    };
    before_ok && after_ok
}

fn v4(text: &str, start: usize, end: usize) -> Option<Judged> {
    let s = &text[start..end];
    let octets_ok = s
        .split('.')
        .all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255) && (o == "0" || !o.starts_with('0')));
    (octets_ok && s.parse::<Ipv4Addr>().is_ok() && alone(text, start, end))
        .then_some((start, end, 0.7))
}

fn v6(text: &str, start: usize, end: usize) -> Option<Judged> {
    let judge = |from: usize| {
        let s = &text[from..end];
        let parses = s.matches(':').count() >= 2
            && s.chars().any(|c| c.is_ascii_hexdigit())
            && s.parse::<Ipv6Addr>().is_ok()
            // `10:30:00` is a time.
            && !(s.len() <= 8 && s.matches(':').count() == 2 && !s.contains("::"));
        (parses && alone(text, from, end)).then_some((from, end, 0.7))
    };
    // A colon folded from a full-width one (`地址：::1`) or a sentence's own
    // colon is not part of the address: try without one leading colon.
    let s = &text[start..end];
    let stray_colon = s.starts_with(':') && (!s.starts_with("::") || s.starts_with(":::"));
    judge(start).or_else(|| stray_colon.then(|| judge(start + 1)).flatten())
}

#[cfg(test)]
mod tests {
    use crate::{EntityKind, RedactConfig, Redactor};

    #[test]
    fn ips() {
        let r = Redactor::new(RedactConfig::default()).unwrap();
        let found = |t: &str| {
            r.find(t, None)
                .into_iter()
                .filter(|f| f.kind == EntityKind::IpAddress)
                .map(|f| t[f.start..f.end].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            found("server 192.168.1.20 and 2001:db8::8a2e:370:7334."),
            vec!["192.168.1.20", "2001:db8::8a2e:370:7334"]
        );
        assert!(found("version 1.2.3.4.5, 256.1.1.1, 10:30:00").is_empty());
        for ip in [
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            "2001:db8::ff00:42:8329",
            "2001:DB8::FF00:42:8329",
            "::1",
            "fe80::1413",
            "::ffff:192.0.2.128",
            "2001:db8::",
            "10.90.191.134",
        ] {
            assert_eq!(found(&format!("host {ip} is up")), vec![ip], "{ip}");
            assert_eq!(found(&format!("服务器IP{ip}，谢谢")), vec![ip], "{ip}");
            assert_eq!(found(&format!("地址：{ip}。")), vec![ip], "{ip}");
        }
        for not in [
            "108a:5183:24dc:2d24:b1fe:c03c:e88d:83ee:76a2",
            "2001:db8::1a::2b",
            "164.202.42.36.144",
            "192.168.1.300",
        ] {
            assert!(found(&format!("host {not} is up")).is_empty(), "{not}");
        }
    }
}
