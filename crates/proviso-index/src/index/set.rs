//! Several segments queried as one.

use super::*;

/// Several segments queried as one index: references are numbered across
/// them in order, and a document's matches in every segment are combined
/// (spans, coverage, longest run) as if the segments were one.
#[derive(Debug)]
pub struct IndexSet {
    parts: Vec<Index>,
    bases: Vec<u32>,
    /// Whether and how documents are aligned.
    align: crate::Alignment,
    /// The share of an aligned reference a document must keep to be
    /// flagged whatever its chain: `None` for the default (which depends
    /// on the background), `Some(None)` off.
    kept: Option<Option<f64>>,
    /// Phrases that are no evidence.
    background: Option<crate::Background>,
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
            align: crate::Alignment::Default,
            kept: None,
            background: None,
        })
    }

    /// The rules a document is flagged by, as set.
    pub fn rules(&self) -> crate::Rules {
        let o = self.options();
        crate::Rules {
            align_min: o.align_min,
            kept_min: o.kept,
            background: self.background.is_some(),
        }
    }

    fn options(&self) -> query::Options<'_> {
        query::Options {
            align_min: match self.align {
                crate::Alignment::Off => None,
                crate::Alignment::Default if self.background.is_some() => {
                    Some(crate::align::DEFAULT_MIN_WITH_BACKGROUND)
                }
                crate::Alignment::Default => Some(crate::align::DEFAULT_MIN),
                crate::Alignment::AtLeast(bits) => Some(bits),
            },
            kept: match (self.align, self.kept) {
                (crate::Alignment::Off, _) => None,
                (_, Some(set)) => set,
                (_, None) if self.background.is_some() => {
                    Some(crate::align::DEFAULT_KEPT_WITH_BACKGROUND)
                }
                (_, None) => Some(crate::align::DEFAULT_KEPT),
            },
            background: self.background.as_ref(),
        }
    }

    /// Looks a document up in every segment.
    pub fn query(&self, text: &str) -> QueryResult {
        let parts: Vec<(&Index, u32)> = self.parts.iter().zip(self.bases.iter().copied()).collect();
        query_parts(&parts, text, self.options())
    }

    /// Sets whether, and at what significance, an alignment of short
    /// seeds counts as a match ([`crate::Alignment::Default`] unless set).
    pub fn set_alignment(&mut self, align: crate::Alignment) {
        self.align = align;
    }

    /// Sets the share of a reference that a document aligned with it
    /// must keep to be flagged whatever its chain's significance
    /// ([`crate::ALIGN_DEFAULT_KEPT`], or
    /// [`crate::ALIGN_DEFAULT_KEPT_WITH_BACKGROUND`] with a background,
    /// unless set; `None`: the significance alone decides). References shorter than
    /// [`crate::ALIGN_KEPT_MIN_TOKENS`] or longer than
    /// [`crate::ALIGN_KEPT_MAX_TOKENS`] tokens are never flagged this way.
    pub fn set_kept(&mut self, share: Option<f64>) {
        self.kept = Some(share);
    }

    /// Sets the background: phrases common in text the provider did not
    /// write, which are then no evidence (no seed of an alignment, and an
    /// exact run counts only the tokens its other phrases cover). Fails
    /// when it was made with another tokenizer than the segments'.
    pub fn set_background(&mut self, bg: Option<crate::Background>) -> Result<(), String> {
        if let (Some(b), Some(p)) = (&bg, self.params())
            && b.tokenizer() != p.tokenizer
        {
            return Err(format!(
                "the background was made with tokenizer {} and the index with {}: make it again (proviso index background)",
                b.tokenizer(),
                p.tokenizer
            ));
        }
        self.background = bg;
        Ok(())
    }

    /// The background, if one is set.
    pub fn background(&self) -> Option<&crate::Background> {
        self.background.as_ref()
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
            align: crate::Alignment::Default,
            kept: None,
            background: None,
        }
    }
}
