//! TLS to PostgreSQL, asked for in the URL with libpq's parameters
//! (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`), which the client library
//! does not read itself: they are taken out of the URL here and turned into
//! a connector (OpenSSL, the one the upstream client already links).
//!
//! The modes mean what they mean to libpq:
//!
//! | `sslmode` | encrypted | certificate checked | host name checked |
//! | --- | --- | --- | --- |
//! | `disable` | no | — | — |
//! | `prefer` (default) | if the server offers it | no | no |
//! | `require` | yes | only if `sslrootcert` is given | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! A certificate is checked against `sslrootcert` (a PEM file of one or
//! more CA certificates; only those are trusted) or, with `verify-full`
//! and `sslrootcert=system` or no `sslrootcert`, the system's roots.
//! `sslrootcert=system` alone means `verify-full`, and goes with no other
//! mode, as in libpq 16; `verify-ca` needs the file (where libpq would
//! read `~/.postgresql/root.crt`), since the system's roots vouch for any
//! public certificate.

use std::borrow::Cow;

/// How much TLS a connection insists on (libpq's `sslmode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS if the server offers it, its certificate not checked.
    Prefer,
    /// TLS; the certificate checked only against a given `sslrootcert`.
    Require,
    /// TLS; the certificate chain checked, not the host name.
    VerifyCa,
    /// TLS; the chain and the host name checked.
    VerifyFull,
}

/// The TLS part of a connection URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// The mode.
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file, or `system`.
    pub root_cert: Option<String>,
    /// `sslcert`: the client's certificate (PEM).
    pub cert: Option<String>,
    /// `sslkey`: the client's private key (PEM, PKCS#8).
    pub key: Option<String>,
}

const KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Splits `url` into what the client library reads and the TLS settings.
/// Both of libpq's forms are read: `postgres://…?sslmode=…&…` and
/// `host=… sslmode=…`.
pub fn split(url: &str) -> Result<(String, TlsSettings), String> {
    let mut found: Vec<(String, String)> = Vec::new();
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // The query starts after the credentials (a password may hold a
        // raw `?`, which the client library accepts).
        let after_auth = url.rfind('@').map_or(0, |i| i + 1);
        match url[after_auth..].find('?').map(|i| i + after_auth) {
            None => url.to_owned(),
            Some(q) => {
                let (base, query) = (&url[..q], &url[q + 1..]);
                let mut kept: Vec<&str> = Vec::new();
                for pair in query.split('&') {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    let k = percent_encoding::percent_decode_str(k)
                        .decode_utf8()
                        .map_err(|_| "a parameter name is not UTF-8".to_owned())?;
                    let k = k.as_ref();
                    if KEYS.contains(&k) {
                        let v: Cow<'_, str> = percent_encoding::percent_decode_str(v)
                            .decode_utf8()
                            .map_err(|_| format!("{k} is not UTF-8"))?;
                        found.push((k.to_owned(), v.into_owned()));
                    } else {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept: Vec<String> = Vec::new();
        for (k, v, raw) in key_values(url)? {
            if KEYS.contains(&k.as_str()) {
                found.push((k, v));
            } else {
                kept.push(raw);
            }
        }
        kept.join(" ")
    };
    let mut tls = TlsSettings {
        mode: SslMode::Prefer,
        root_cert: None,
        cert: None,
        key: None,
    };
    let mut mode = None;
    for (k, v) in found {
        match k.as_str() {
            "sslmode" => {
                mode = Some(match v.as_str() {
                    "disable" => SslMode::Disable,
                    // libpq's `allow` tries plain first; TLS when offered
                    // is the safer reading of it.
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ));
                    }
                });
            }
            "sslrootcert" => tls.root_cert = Some(v),
            "sslcert" => tls.cert = Some(v),
            _ => tls.key = Some(v),
        }
    }
    tls.mode = match mode {
        Some(m) => m,
        None if tls.root_cert.as_deref() == Some("system") => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    // As libpq 16: the system's roots vouch for any public name, so only a
    // check of the host name makes them mean something.
    if tls.root_cert.as_deref() == Some("system") && tls.mode != SslMode::VerifyFull {
        return Err(format!(
            "sslrootcert=system needs sslmode verify-full, not {:?}",
            tls.mode
        ));
    }
    // verify-ca checks the chain alone: against the system's roots, any
    // public certificate would pass. libpq reads ~/.postgresql/root.crt
    // here; Proviso wants the file named.
    if tls.mode == SslMode::VerifyCa && tls.root_cert.is_none() {
        return Err(
            "sslmode verify-ca needs sslrootcert=FILE (the CA that signs the server's certificate)"
                .into(),
        );
    }
    if tls.cert.is_some() != tls.key.is_some() {
        return Err("sslcert and sslkey go together".into());
    }
    Ok((rest, tls))
}

/// The `key=value` pairs of libpq's keyword form, each with its text as
/// written (values may be quoted with `'`, with `\` escaping).
fn key_values(s: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(out);
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            // Not the word itself: it may be half of an unquoted password.
            return Err(format!(
                "a word at byte {start} of the connection string has no `=`"
            ));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!("the value of {key} has no closing quote"));
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some((_, n)) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        let end = chars.peek().map_or(s.len(), |&(i, _)| i);
        out.push((key, value, s[start..end].trim_end().to_owned()));
    }
}

/// The connector for `tls`, certificates read from their files now.
pub fn connector(tls: &TlsSettings) -> Result<native_tls::TlsConnector, String> {
    let read = |what: &str, path: &str| {
        std::fs::read(path).map_err(|e| format!("cannot read {what} {path}: {e}"))
    };
    let mut b = native_tls::TlsConnector::builder();
    let roots = match tls.root_cert.as_deref() {
        None | Some("system") => None,
        Some(path) => {
            let pem = read("sslrootcert", path)?;
            let certs = native_tls::Certificate::stack_from_pem(&pem)
                .map_err(|e| format!("sslrootcert {path} is not PEM certificates: {e}"))?;
            if certs.is_empty() {
                return Err(format!("sslrootcert {path} holds no certificate"));
            }
            Some(certs)
        }
    };
    let check_chain = match tls.mode {
        SslMode::Disable | SslMode::Prefer => false,
        SslMode::Require => roots.is_some(),
        SslMode::VerifyCa | SslMode::VerifyFull => true,
    };
    if let Some(certs) = roots {
        // Only the given authorities, as libpq: a server certificate from
        // any public CA is not one of ours.
        b.disable_built_in_roots(true);
        for c in certs {
            b.add_root_certificate(c);
        }
    }
    b.danger_accept_invalid_certs(!check_chain);
    b.danger_accept_invalid_hostnames(tls.mode != SslMode::VerifyFull);
    if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
        let id = native_tls::Identity::from_pkcs8(&read("sslcert", cert)?, &read("sslkey", key)?)
            .map_err(|e| {
            format!(
                "sslcert {cert} with sslkey {key}: {e} (the key must be PKCS#8 PEM, \
                     `BEGIN PRIVATE KEY`; convert one with `openssl pkcs8 -topk8 -nocrypt`)"
            )
        })?;
        b.identity(id);
    }
    b.build().map_err(|e| format!("TLS: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_url_form_loses_only_the_tls_keys() {
        let (rest, t) = split(
            "postgres://u:pw@db:5432/x?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&options=-c%20a%3Db",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u:pw@db:5432/x?application_name=a&options=-c%20a%3Db"
        );
        assert_eq!(t.mode, SslMode::VerifyFull);
        assert_eq!(t.root_cert.as_deref(), Some("/etc/ca.pem"));
        let (rest, t) = split("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(
            (rest.as_str(), t.mode),
            ("postgres://u@h/db", SslMode::Disable)
        );
        let (_, t) = split("postgresql://u@h/db").unwrap();
        assert_eq!(t.mode, SslMode::Prefer, "libpq's default");
        // A raw `?` in the password is not the query; an encoded name is
        // still the parameter.
        let (rest, t) = split("postgres://u:p?w@h/db?%73slmode=verify-full").unwrap();
        assert_eq!(
            (rest.as_str(), t.mode),
            ("postgres://u:p?w@h/db", SslMode::VerifyFull)
        );
    }

    #[test]
    fn the_keyword_form_too_with_quotes() {
        let (rest, t) =
            split("host=h password='a b\\' c' sslmode = require sslrootcert='/x y/ca.pem' user=u")
                .unwrap();
        assert_eq!(rest, "host=h password='a b\\' c' user=u");
        assert_eq!(t.mode, SslMode::Require);
        assert_eq!(t.root_cert.as_deref(), Some("/x y/ca.pem"));
        let (_, t) = split("host=h sslmode=verify-ca sslrootcert=/a\\ b/ca.pem").unwrap();
        assert_eq!(t.root_cert.as_deref(), Some("/a b/ca.pem"));
        assert!(split("host=h sslmode='x").is_err());
        assert!(split("host").is_err());
    }

    #[test]
    fn settings_that_make_no_sense_are_refused() {
        let e = split("postgres://h/db?sslmode=verify").unwrap_err();
        assert!(e.contains("verify-full"), "{e}");
        assert_eq!(
            split("postgres://h/db?sslrootcert=system").unwrap().1.mode,
            SslMode::VerifyFull
        );
        assert!(split("postgres://h/db?sslrootcert=system&sslmode=require").is_err());
        assert!(split("postgres://h/db?sslrootcert=system&sslmode=verify-ca").is_err());
        let e = split("postgres://h/db?sslmode=verify-ca").unwrap_err();
        assert!(e.contains("sslrootcert"), "{e}");
        // Half an unquoted password is not repeated in the message.
        let e = split("host=h password=ab cd").unwrap_err();
        assert!(!e.contains("cd"), "{e}");
        assert!(split("postgres://h/db?sslcert=/c.pem").is_err());
        let e = connector(
            &split("postgres://h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem")
                .unwrap()
                .1,
        )
        .err()
        .unwrap();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
