use std::net::Ipv6Addr;

/// Words before a candidate that make it less likely.
const NEG: &[&str] = &["version", "release", "v.", "版本"];

use super::{Check, Recognizer, isolated, re};
use crate::EntityKind;

pub(super) fn recognizers() -> Result<Vec<Recognizer>, regex::Error> {
    Ok(vec![
        Recognizer {
            kind: EntityKind::IpAddress,
            regex: re(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")?,
            group: 0,
            check: Check::Valid(v4, 0.7),
            context: &["ip", "address", "host", "server", "地址"],
            negative: NEG,
        },
        Recognizer {
            kind: EntityKind::IpAddress,
            regex: re(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}")?,
            group: 0,
            check: Check::Valid(v6, 0.7),
            context: &["ip", "ipv6", "address", "host"],
            negative: NEG,
        },
    ])
}

fn v4(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    // A dot right after would make it a version number or a longer list.
    let next_dot =
        text[end..].starts_with('.') && text[end + 1..].starts_with(|c: char| c.is_ascii_digit());
    let prev_dot = text[..start].ends_with('.');
    !next_dot
        && !prev_dot
        && s.split('.')
            .all(|o| o.parse::<u16>().is_ok_and(|v| v <= 255) && (o == "0" || !o.starts_with('0')))
        && isolated(text, start, end)
}

fn v6(text: &str, start: usize, end: usize) -> bool {
    let s = &text[start..end];
    s.matches(':').count() >= 2
        && s.chars().any(|c| c.is_ascii_hexdigit())
        && s.parse::<Ipv6Addr>().is_ok()
        && !(s.len() <= 8 && s.chars().filter(|c| *c == ':').count() == 2 && !s.contains("::"))
        && isolated(text, start, end)
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
    }
}
