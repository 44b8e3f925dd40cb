//! Strings in the config that may name environment variables: `${NAME}`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A config string with `${NAME}` references expanded from the environment
/// when the file is read. A missing variable is an error that names it (and,
/// through the TOML parser, the line). `$$` is a literal `$`.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvString(String);

impl EnvString {
    /// The expanded value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an already-expanded value.
    pub fn literal(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl fmt::Debug for EnvString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: never print them.
        f.write_str("EnvString(…)")
    }
}

/// Expands `${NAME}` in `s` using `lookup`.
pub fn expand(s: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {s:?}"))?;
            let name = &body[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid environment variable name {name:?}"));
            }
            let v =
                lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&v);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

impl Serialize for EnvString {
    /// Serialised redacted: configs are dumped for docs and diagnostics,
    /// never with their secrets.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("…")
    }
}

impl<'de> Deserialize<'de> for EnvString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        expand(&raw, |n| std::env::var(n).ok())
            .map(EnvString)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(n: &str) -> Option<String> {
        (n == "KEY").then(|| "sk-123".to_string())
    }

    #[test]
    fn expands_and_escapes() {
        assert_eq!(expand("Bearer ${KEY}", env).unwrap(), "Bearer sk-123");
        assert_eq!(expand("cost $$5 and $x", env).unwrap(), "cost $5 and $x");
        assert!(
            expand("${MISSING}", env)
                .unwrap_err()
                .contains("MISSING is not set")
        );
        assert!(expand("${KEY", env).is_err());
        assert!(expand("${K-Y}", env).is_err());
    }
}
