//! The audit over Arrow record batches: what a data engine (Ray Data,
//! Spark's `mapInArrow`, Hugging Face `datasets`) hands a worker, a batch
//! at a time. Each row's text is looked up exactly as `proviso audit` looks
//! up a document (the same [`audit_one`](crate::report) path), and the
//! findings come back as a batch of their own, a row per input row.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, ListBuilder, StringBuilder, StructBuilder, UInt64Builder,
};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use proviso_index::IndexSet;
use rayon::prelude::*;

use crate::report::{Flagged, audit_one};
use crate::{BadInput, Summary};

/// Why a batch was not audited.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The batch has no column of that name.
    #[error("the batch has no column {field:?} (its columns: {columns})")]
    NoColumn {
        /// The column asked for.
        field: String,
        /// The columns it has.
        columns: String,
    },
    /// The column is not text.
    #[error("column {field:?} is {found}, not text (utf8, large_utf8 or utf8_view)")]
    NotText {
        /// The column.
        field: String,
        /// Its type.
        found: String,
    },
    /// Arrow refused the findings' batch (a bug if ever seen).
    #[error("building the findings: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// The name the summary counts a batch's rows under (its "file").
pub const BATCH_SOURCE: &str = "<batch>";

/// The findings' columns, a row per input row:
///
/// | column | type | |
/// | --- | --- | --- |
/// | `row` | uint64 | the row's position in the input (`first_row` + its place in the batch) |
/// | `flagged` | bool | whether it holds a reference output |
/// | `kind` | utf8 | `exact` or `near` (the best match), null when clean |
/// | `longest_run` | uint64 | longest run shared with a reference, tokens |
/// | `covered` | float64 | share of its tokens inside matched runs |
/// | `jaccard` | float64 | best estimated Jaccard similarity |
/// | `tokens` | uint64 | tokens in the text |
/// | `spans` | list<struct<start: uint64, end: uint64>> | matched byte ranges of the text |
/// | `record_id`, `key_id`, `team`, `model` | utf8 | the best match's ledger attribution, where it has one |
/// | `references` | utf8 | every match with its attribution, as JSON (as `proviso audit --json` gives them) |
pub fn findings_schema() -> SchemaRef {
    let opt = |name: &str, t: DataType| Field::new(name, t, true);
    Arc::new(Schema::new(vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("flagged", DataType::Boolean, false),
        opt("kind", DataType::Utf8),
        Field::new("longest_run", DataType::UInt64, false),
        Field::new("covered", DataType::Float64, false),
        Field::new("jaccard", DataType::Float64, false),
        Field::new("tokens", DataType::UInt64, false),
        Field::new("spans", DataType::List(span_item()), false),
        opt("record_id", DataType::Utf8),
        opt("key_id", DataType::Utf8),
        opt("team", DataType::Utf8),
        opt("model", DataType::Utf8),
        opt("references", DataType::Utf8),
    ]))
}

/// The `spans` list's item: one matched byte range.
fn span_item() -> FieldRef {
    Arc::new(Field::new("item", DataType::Struct(span_fields()), true))
}

fn span_fields() -> Fields {
    Fields::from(vec![
        Field::new("start", DataType::UInt64, false),
        Field::new("end", DataType::UInt64, false),
    ])
}

/// The texts of column `field` (a null text is `None`).
fn texts<'a>(batch: &'a RecordBatch, field: &str) -> Result<Vec<Option<&'a str>>, BatchError> {
    let col = batch
        .column_by_name(field)
        .ok_or_else(|| BatchError::NoColumn {
            field: field.to_owned(),
            columns: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if let Some(a) = col.as_string_opt::<i32>() {
        Ok(a.iter().collect())
    } else if let Some(a) = col.as_string_opt::<i64>() {
        Ok(a.iter().collect())
    } else if let Some(a) = col.as_string_view_opt() {
        Ok(a.iter().collect())
    } else {
        Err(BatchError::NotText {
            field: field.to_owned(),
            found: col.data_type().to_string(),
        })
    }
}

/// Audits the text column `field` of `batch`, whose first row is row
/// `first_row` of the whole input, on every core; counts every row into
/// `summary` (under [`BATCH_SOURCE`]; a null text is bad input, with its
/// row counted 1-based as the CLI counts lines) and returns the findings
/// ([`findings_schema`]). Call [`Summary::finish`] after the last batch.
pub fn audit_batch(
    index: &IndexSet,
    batch: &RecordBatch,
    field: &str,
    first_row: u64,
    summary: &mut Summary,
) -> Result<RecordBatch, BatchError> {
    let texts = texts(batch, field)?;
    let results: Vec<Option<(usize, Option<Box<Flagged>>)>> = texts
        .par_iter()
        .enumerate()
        .map(|(i, t)| t.map(|t| audit_one(index, BATCH_SOURCE, first_row + i as u64 + 1, t)))
        .collect();
    let n = texts.len();
    let mut row = UInt64Builder::with_capacity(n);
    let mut flagged = BooleanBuilder::with_capacity(n);
    let mut kind = StringBuilder::new();
    let mut longest = UInt64Builder::with_capacity(n);
    let mut covered = Float64Builder::with_capacity(n);
    let mut jaccard = Float64Builder::with_capacity(n);
    let mut tokens = UInt64Builder::with_capacity(n);
    let mut spans =
        ListBuilder::new(StructBuilder::from_fields(span_fields(), 0)).with_field(span_item());
    let mut record_id = StringBuilder::new();
    let mut key_id = StringBuilder::new();
    let mut team = StringBuilder::new();
    let mut model = StringBuilder::new();
    let mut references = StringBuilder::new();
    for (i, (text, result)) in texts.iter().zip(results).enumerate() {
        let at = first_row + i as u64;
        row.append_value(at);
        let (n_tokens, found) = match (text, result) {
            (Some(t), Some((n_tokens, found))) => {
                summary.count(BATCH_SOURCE, t.len(), n_tokens, found.is_some());
                (n_tokens, found)
            }
            _ => {
                summary.errors.push(BadInput {
                    file: BATCH_SOURCE.to_owned(),
                    line: at + 1,
                    error: format!("column {field:?} is null"),
                });
                (0, None)
            }
        };
        tokens.append_value(n_tokens as u64);
        flagged.append_value(found.is_some());
        match found {
            None => {
                kind.append_null();
                longest.append_value(0);
                covered.append_value(0.0);
                jaccard.append_value(0.0);
                spans.append(true);
                for b in [
                    &mut record_id,
                    &mut key_id,
                    &mut team,
                    &mut model,
                    &mut references,
                ] {
                    b.append_null();
                }
            }
            Some(f) => {
                kind.append_value(&f.kind);
                longest.append_value(f.longest_run as u64);
                covered.append_value(f.covered);
                jaccard.append_value(f.jaccard);
                let s = spans.values();
                for &(a, b) in &f.spans {
                    if let Some(x) = s.field_builder::<UInt64Builder>(0) {
                        x.append_value(a as u64);
                    }
                    if let Some(x) = s.field_builder::<UInt64Builder>(1) {
                        x.append_value(b as u64);
                    }
                    s.append(true);
                }
                spans.append(true);
                let best = f.references.first().map(|r| &r.attribution);
                record_id.append_option(best.and_then(|r| r.record_id.as_deref()));
                key_id.append_option(best.and_then(|r| r.key_id.as_deref()));
                team.append_option(best.and_then(|r| r.team.as_deref()));
                model.append_option(best.and_then(|r| r.model.as_deref()));
                references.append_option(serde_json::to_string(&f.references).ok());
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(row.finish()),
        Arc::new(flagged.finish()),
        Arc::new(kind.finish()),
        Arc::new(longest.finish()),
        Arc::new(covered.finish()),
        Arc::new(jaccard.finish()),
        Arc::new(tokens.finish()),
        Arc::new(spans.finish()),
        Arc::new(record_id.finish()),
        Arc::new(key_id.finish()),
        Arc::new(team.finish()),
        Arc::new(model.finish()),
        Arc::new(references.finish()),
    ];
    Ok(RecordBatch::try_new(findings_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{LargeStringArray, StringArray, UInt64Array};
    use proviso_index::{IndexBuilder, Params, Reference};

    const OUT: &str = "The mitochondria is the powerhouse of the cell, converting nutrients \
        into adenosine triphosphate through a long chain of reactions that biology students \
        memorise for their examinations every single year without fail.";

    fn index() -> IndexSet {
        let mut b = IndexBuilder::new(Params::default());
        b.add(
            OUT,
            Reference {
                record_id: Some("01REC".into()),
                team: Some("ml".into()),
                ..Reference::default()
            },
        );
        IndexSet::new(vec![b.build().unwrap()]).unwrap()
    }

    #[test]
    fn rows_come_back_in_order_with_their_findings_and_attribution() {
        let idx = index();
        let texts = StringArray::from(vec![
            Some("Nothing to see here: a recipe for bread with flour and water."),
            Some(OUT),
            None,
        ]);
        let batch =
            RecordBatch::try_from_iter(vec![("text", Arc::new(texts) as ArrayRef)]).unwrap();
        let mut summary = Summary::default();
        let out = audit_batch(&idx, &batch, "text", 10, &mut summary).unwrap();
        assert_eq!(out.schema(), findings_schema());
        let rows = out
            .column(0)
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap();
        assert_eq!(rows.values().to_vec(), vec![10, 11, 12]);
        let flagged = out.column(1).as_boolean();
        assert_eq!(
            (flagged.value(0), flagged.value(1), flagged.value(2)),
            (false, true, false)
        );
        let rec = out.column_by_name("record_id").unwrap().as_string::<i32>();
        assert!(rec.is_null(0) && rec.value(1) == "01REC");
        let spans = out.column_by_name("spans").unwrap().as_list::<i32>();
        assert!(spans.value(0).is_empty() && !spans.value(1).is_empty());
        summary.finish();
        assert_eq!(
            (summary.audited, summary.flagged, summary.errors.len()),
            (2, 1, 1)
        );
        assert_eq!(summary.errors[0].line, 13, "row 12, counted from 1");
        // The same text in another string type, and a wrong column.
        let large = LargeStringArray::from(vec![OUT]);
        let b2 = RecordBatch::try_from_iter(vec![("t", Arc::new(large) as ArrayRef)]).unwrap();
        let out = audit_batch(&idx, &b2, "t", 0, &mut Summary::default()).unwrap();
        assert!(out.column(1).as_boolean().value(0));
        let e = audit_batch(&idx, &b2, "text", 0, &mut Summary::default()).unwrap_err();
        assert!(e.to_string().contains("its columns: t"), "{e}");
        let nums = RecordBatch::try_from_iter(vec![(
            "t",
            Arc::new(UInt64Array::from(vec![1u64])) as ArrayRef,
        )])
        .unwrap();
        assert!(matches!(
            audit_batch(&idx, &nums, "t", 0, &mut Summary::default()),
            Err(BatchError::NotText { .. })
        ));
    }
}
