use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The types of data the recognisers find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// E-mail address.
    Email,
    /// Phone number (international, North American, Chinese mobile).
    Phone,
    /// Payment card number (Luhn-valid, known issuer prefix).
    CreditCard,
    /// IBAN (mod 97).
    Iban,
    /// Chinese resident identity number (region, birth date, MOD 11-2).
    CnResidentId,
    /// US social security number.
    UsSsn,
    /// IPv4 or IPv6 address.
    IpAddress,
    /// User and password inside a URL.
    UrlCredentials,
    /// API keys, tokens, private keys, high-entropy secrets.
    Secret,
}

impl EntityKind {
    /// Every kind, in a stable order.
    pub const ALL: [EntityKind; 9] = [
        EntityKind::Email,
        EntityKind::Phone,
        EntityKind::CreditCard,
        EntityKind::Iban,
        EntityKind::CnResidentId,
        EntityKind::UsSsn,
        EntityKind::IpAddress,
        EntityKind::UrlCredentials,
        EntityKind::Secret,
    ];

    /// The configuration name (`email`, `credit_card`, …).
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Email => "email",
            EntityKind::Phone => "phone",
            EntityKind::CreditCard => "credit_card",
            EntityKind::Iban => "iban",
            EntityKind::CnResidentId => "cn_resident_id",
            EntityKind::UsSsn => "us_ssn",
            EntityKind::IpAddress => "ip_address",
            EntityKind::UrlCredentials => "url_credentials",
            EntityKind::Secret => "secret",
        }
    }

    /// The placeholder label (`EMAIL`, `CREDIT_CARD`, …).
    pub fn label(self) -> String {
        self.name().to_ascii_uppercase()
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EntityKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EntityKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = EntityKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown entity type {s:?} (known: {})", all.join(", "))
            })
    }
}

/// One thing found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// What.
    pub kind: EntityKind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// Confidence, 0 to 1.
    pub score: f32,
}
