//! The recognisers, one file per entity type. Each is a regular expression
//! that proposes candidates and a validator that rejects look-alikes.

mod card;
mod cn_id;
mod email;
mod iban;
mod ip;
mod phone;
mod recognizer;
mod secret;
mod ssn;
mod url_creds;

pub use card::luhn_valid;
pub use cn_id::cn_id_valid;
pub use iban::iban_valid;
pub use recognizer::{
    Chain, Check, Gate, Judged, Keywords, Recognizer, RecognizerError, isolated,
    isolated_after_label, label_before,
};
pub(crate) use recognizer::{digits, re};

/// Every recogniser.
pub fn all() -> Result<Vec<Recognizer>, RecognizerError> {
    let mut v = Vec::new();
    v.extend(email::recognizers()?);
    v.extend(phone::recognizers()?);
    v.extend(card::recognizers()?);
    v.extend(iban::recognizers()?);
    v.extend(cn_id::recognizers()?);
    v.extend(ssn::recognizers()?);
    v.extend(ip::recognizers()?);
    v.extend(url_creds::recognizers()?);
    v.extend(secret::recognizers()?);
    Ok(v)
}
