//! Several segments queried as one.

use super::*;

/// Several segments queried as one index: references are numbered across
/// them in order, and a document's matches in every segment are combined
/// (spans, coverage, longest run) as if the segments were one.
#[derive(Debug)]
pub struct IndexSet {
    parts: Vec<Index>,
    bases: Vec<u32>,
    /// The significance an alignment needs (`None`: no alignment).
    align_min: Option<f64>,
}

impl IndexSet {
    /// The segments as one index; `None` when they were built with
    /// different parameters.
    pub fn new(parts: Vec<Index>) -> Option<IndexSet> {
        let first = parts.first().map(|p| p.params.clone());
        if parts.iter().any(|p| Some(&p.params) != first.as_ref()) {
            return None;
        }
        let mut bases = Vec::with_capacity(parts.len());
        let mut n = 0u32;
        for p in &parts {
            bases.push(n);
            n += p.len() as u32;
        }
        Some(IndexSet {
            parts,
            bases,
            align_min: Some(crate::align::DEFAULT_MIN),
        })
    }

    /// Looks a document up in every segment.
    pub fn query(&self, text: &str) -> QueryResult {
        let parts: Vec<(&Index, u32)> = self.parts.iter().zip(self.bases.iter().copied()).collect();
        query_parts(&parts, text, self.align_min)
    }

    /// Sets the significance (bits) an alignment of short seeds needs to
    /// count as a match; `None` turns alignment off (exact runs and near
    /// duplicates only). The default is [`crate::align::DEFAULT_MIN`].
    pub fn set_alignment(&mut self, min: Option<f64>) {
        self.align_min = min;
    }

    /// The reference numbered `r` (across segments).
    pub fn reference(&self, r: u32) -> Option<Reference> {
        let i = self.bases.partition_point(|b| *b <= r).checked_sub(1)?;
        self.parts.get(i)?.reference((r - self.bases[i]) as usize)
    }

    /// References in all segments.
    pub fn len(&self) -> usize {
        self.parts.iter().map(Index::len).sum()
    }

    /// Whether no segment holds a reference.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parameters (of every segment).
    pub fn params(&self) -> Option<&Params> {
        self.parts.first().map(Index::params)
    }

    /// The segments.
    pub fn segments(&self) -> &[Index] {
        &self.parts
    }
}

impl From<Index> for IndexSet {
    fn from(ix: Index) -> IndexSet {
        IndexSet {
            parts: vec![ix],
            bases: vec![0],
            align_min: Some(crate::align::DEFAULT_MIN),
        }
    }
}
