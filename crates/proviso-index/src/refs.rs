//! A segment's references in memory: in columns, not one `Reference` each.
//!
//! An audit needs the references only for what it flags, but checks that
//! every one of them reads before it reports anything. Parsed into a
//! `Vec<Reference>` (168 bytes each, its source path copied into every
//! one), a million took ~0.3 s of a core and ~200 MB; in columns (a
//! source number, a row, a token count, and the ledger's fields only for
//! references that have them: 32 bytes each) parsing costs less than half
//! that, and a [`Reference`] is made when one is asked for.
//!
//! The table is also what a build writes the segment's JSON from
//! ([`RefTable::to_json`]), so the sources are numbered in one place.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::Reference;

/// The references of one segment.
#[derive(Debug, Default)]
pub(crate) struct RefTable {
    sources: Vec<String>,
    source_of: Vec<u32>,
    rows: Vec<Option<u64>>,
    tokens: Vec<u32>,
    /// The ledger's fields, for references that have any.
    ledger: Vec<Option<Box<Ledger>>>,
}

/// What a reference recorded by the gateway holds beyond a file's.
#[derive(Debug, Default, PartialEq)]
struct Ledger {
    record_id: Option<String>,
    key_id: Option<String>,
    team: Option<String>,
    model: Option<String>,
    time: Option<String>,
}

/// One stored reference as the JSON holds it (its source is a number in
/// `source_of`; the fields and their order are a [`Reference`]'s, so a
/// segment's JSON is what serialising the references without their source
/// gives), strings borrowed from the JSON where they hold no escape.
#[derive(Deserialize, Serialize)]
struct Stored<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    row: Option<u64>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    record_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    key_id: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    team: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    time: Option<Cow<'a, str>>,
    #[serde(default)]
    tokens: u32,
}

/// The references as a segment stores them: each distinct source (a file
/// path, `ledger`) once, and each reference with the number of its source
/// instead of the text (a million references read from one file would
/// repeat its path a million times otherwise).
#[derive(Serialize)]
struct Written<'t> {
    sources: &'t [String],
    source_of: &'t [u32],
    refs: AllStored<'t>,
}

/// The `refs` array of a [`Written`], made from the columns one by one.
struct AllStored<'t>(&'t RefTable);

impl Serialize for AllStored<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.len()).map(|i| self.0.stored(i)))
    }
}

impl RefTable {
    /// The table of references at hand (a segment built here).
    pub(crate) fn from_refs(refs: Vec<Reference>) -> Self {
        let mut t = RefTable::default();
        let mut number: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
        for r in refs {
            let n = match number.get(&r.source) {
                Some(&n) => n,
                None => {
                    t.sources.push(r.source.clone());
                    let n = (t.sources.len() - 1) as u32;
                    number.insert(r.source, n);
                    n
                }
            };
            t.source_of.push(n);
            t.rows.push(r.row);
            t.tokens.push(r.tokens);
            let l = Ledger {
                record_id: r.record_id,
                key_id: r.key_id,
                team: r.team,
                model: r.model,
                time: r.time,
            };
            t.ledger.push((l != Ledger::default()).then(|| Box::new(l)));
        }
        t
    }

    /// How many references.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The segment's JSON of the references (what [`RefTable::from_json`]
    /// reads).
    pub(crate) fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&Written {
            sources: &self.sources,
            source_of: &self.source_of,
            refs: AllStored(self),
        })
    }

    /// Reference `i` as it is stored, its strings borrowed from the table.
    fn stored(&self, i: usize) -> Stored<'_> {
        let l = self.ledger.get(i).and_then(Option::as_deref);
        let field =
            |f: fn(&Ledger) -> &Option<String>| l.and_then(|l| f(l).as_deref()).map(Cow::Borrowed);
        Stored {
            row: self.rows.get(i).copied().flatten(),
            record_id: field(|l| &l.record_id),
            key_id: field(|l| &l.key_id),
            team: field(|l| &l.team),
            model: field(|l| &l.model),
            time: field(|l| &l.time),
            tokens: self.tokens.get(i).copied().unwrap_or(0),
        }
    }

    /// Reference `i`, made whole.
    pub(crate) fn get(&self, i: usize) -> Option<Reference> {
        let source = self.sources.get(*self.source_of.get(i)? as usize)?.clone();
        let mut r = Reference {
            source,
            row: *self.rows.get(i)?,
            tokens: *self.tokens.get(i)?,
            ..Reference::default()
        };
        if let Some(Some(l)) = self.ledger.get(i) {
            r.record_id.clone_from(&l.record_id);
            r.key_id.clone_from(&l.key_id);
            r.team.clone_from(&l.team);
            r.model.clone_from(&l.model);
            r.time.clone_from(&l.time);
        }
        Some(r)
    }

    /// Every reference, in order.
    pub(crate) fn all(&self) -> Vec<Reference> {
        (0..self.len()).filter_map(|i| self.get(i)).collect()
    }

    /// The references from a segment's JSON: sources numbered (format 4
    /// on), or a plain array of references (written before).
    pub(crate) fn from_json(json: &[u8]) -> Result<Self, String> {
        if json.first() == Some(&b'[') {
            let refs: Vec<Reference> = serde_json::from_slice(json).map_err(|e| e.to_string())?;
            return Ok(Self::from_refs(refs));
        }
        let mut t = RefTable::default();
        let mut de = serde_json::Deserializer::from_slice(json);
        Whole(&mut t)
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| e.to_string())?;
        if t.source_of.len() != t.rows.len() {
            return Err("sources do not match the references".into());
        }
        if t.source_of.iter().any(|&s| s as usize >= t.sources.len()) {
            return Err("a source number past the list of sources".into());
        }
        Ok(t)
    }
}

/// The stored object: `sources`, `source_of` and `refs`, the last read
/// straight into the columns.
struct Whole<'t>(&'t mut RefTable);

impl<'de> DeserializeSeed<'de> for Whole<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Whole<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of sources, source numbers and references")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let (mut sources, mut numbers, mut refs) = (false, false, false);
        while let Some(key) = m.next_key::<Cow<'de, str>>()? {
            match &*key {
                "sources" => {
                    self.0.sources = m.next_value()?;
                    sources = true;
                }
                "source_of" => {
                    self.0.source_of = m.next_value()?;
                    numbers = true;
                }
                "refs" => {
                    m.next_value_seed(Rows(&mut *self.0))?;
                    refs = true;
                }
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        for (seen, name) in [(sources, "sources"), (numbers, "source_of"), (refs, "refs")] {
            if !seen {
                return Err(serde::de::Error::missing_field(name));
            }
        }
        Ok(())
    }
}

/// The `refs` array, each element pushed onto the columns as it is read.
struct Rows<'t>(&'t mut RefTable);

impl<'de> DeserializeSeed<'de> for Rows<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of references")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let t = self.0;
        // Room for as many references as there are source numbers (read
        // before them): no copy as the columns grow.
        let n = t.source_of.len();
        t.rows.reserve(n);
        t.tokens.reserve(n);
        t.ledger.reserve(n);
        while let Some(r) = s.next_element::<Stored<'de>>()? {
            t.rows.push(r.row);
            t.tokens.push(r.tokens);
            let owned = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
            let any = r.record_id.is_some()
                || r.key_id.is_some()
                || r.team.is_some()
                || r.model.is_some()
                || r.time.is_some();
            t.ledger.push(any.then(|| {
                Box::new(Ledger {
                    record_id: owned(r.record_id),
                    key_id: owned(r.key_id),
                    team: owned(r.team),
                    model: owned(r.model),
                    time: owned(r.time),
                })
            }));
        }
        Ok(())
    }
}
