"""The audit as a step of a Spark pipeline: ``DataFrame.mapInArrow``, the
index opened once per Python worker."""

from __future__ import annotations

import pyarrow as pa

from . import FINDINGS, Summary, index_for, join

# Spark has no unsigned integers: the findings' uint64 columns travel as
# int64.
_SIGNED = {pa.uint64(): pa.int64()}


def _signed(findings: pa.RecordBatch) -> pa.RecordBatch:
    cols = []
    for f, col in zip(findings.schema, findings.columns):
        if f.type in _SIGNED:
            col = col.cast(_SIGNED[f.type])
        elif pa.types.is_list(f.type):
            item = pa.struct([(x.name, _SIGNED.get(x.type, x.type)) for x in f.type.value_type])
            col = col.cast(pa.list_(pa.field("element", item)))
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, names=findings.schema.names)


#: The partition each row was audited in, until rows are numbered.
PARTITION = "__proviso_partition"


def _findings_schema(existing: list[str]):
    from pyspark.sql.types import (ArrayType, BooleanType, DoubleType, LongType, StringType, StructField,
                                   StructType)

    types = {
        "row": LongType(), "flagged": BooleanType(), "kind": StringType(), "longest_run": LongType(),
        "covered": DoubleType(), "jaccard": DoubleType(), "tokens": LongType(),
        "spans": ArrayType(StructType([StructField("start", LongType(), True),
                                       StructField("end", LongType(), True)])),
        "record_id": StringType(), "key_id": StringType(), "team": StringType(), "model": StringType(),
        "references": StringType(),
    }
    assert list(types) == FINDINGS, "the Spark schema follows the findings' columns"
    taken = {n.lower() for n in existing}
    return [StructField(f"proviso_{n}" if n.lower() in taken else n, t, True) for n, t in types.items()]


def audit(df, index_dir, field: str = "text"):
    """Audits the text column ``field`` of ``df`` (a Spark DataFrame)
    against the index at ``index_dir``.

    Returns the DataFrame with the findings' columns added (``row`` is each
    row's 0-based position in ``df`` as this audit read it: its partitions
    in order, each in order) and the :class:`Summary`. The audit runs once
    and is cached (the summary and the row numbers are computed from it);
    rows are numbered from the cached result's partitions, so a plan that
    Spark re-partitions between runs cannot shift them.
    """
    from pyspark import TaskContext
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StructField, StructType

    index_dir = str(index_dir)
    taken = {n.lower() for n in df.columns}
    name = lambda n: f"proviso_{n}" if n.lower() in taken else n  # noqa: E731

    def step(batches):
        pid = TaskContext.get().partitionId()
        idx = index_for(index_dir)
        row = 0  # within the partition; offsets are added below
        for b in batches:
            findings, _ = idx.audit_batch(b, field, row)
            row += b.num_rows
            joined = join(b, _signed(findings))
            yield joined.append_column(pa.field(PARTITION, pa.int64(), False),
                                       pa.array([pid] * b.num_rows, type=pa.int64()))

    schema = StructType(df.schema.fields + _findings_schema(df.columns)
                        + [StructField(PARTITION, LongType(), False)])
    audited = df.mapInArrow(step, schema).cache()
    # One job over the cached result gives each partition's size (for the
    # row offsets) and its share of the summary.
    present = F.col(field).isNotNull()
    flagged, tokens = F.col(name("flagged")), F.col(name("tokens"))
    parts = audited.groupBy(PARTITION).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(present.cast("long")).alias("audited"),
        F.sum(flagged.cast("long")).alias("flagged"),
        F.sum(F.when(present, F.octet_length(F.col(field))).otherwise(0)).alias("bytes"),
        F.sum(tokens).alias("tokens"),
        F.sum(F.when(flagged, tokens).otherwise(0)).alias("flagged_tokens"),
    ).collect()
    sizes = {p[PARTITION]: p["rows"] for p in parts}
    total = lambda k: sum(p[k] or 0 for p in parts)  # noqa: E731
    offsets, at = {}, 0
    for pid in sorted(sizes):
        offsets[pid] = at
        at += sizes[pid]
    shift = F.create_map(*[F.lit(x) for kv in offsets.items() for x in kv]) if offsets else None
    row = F.col(name("row"))
    out = audited.withColumn(
        name("row"), row + (F.element_at(shift, F.col(PARTITION)) if shift is not None else F.lit(0)))
    out = out.drop(PARTITION)
    row = F.col(name("row"))
    has_nulls = total("rows") > total("audited")
    nulls = [r[0] for r in out.where(~present).select(row).orderBy(row).collect()] if has_nulls else []
    s = Summary(audited=total("audited"), flagged=total("flagged"), bytes=total("bytes"), tokens=total("tokens"),
                flagged_tokens=total("flagged_tokens"),
                errors=[(r + 1, f'column "{field}" is null') for r in nulls])
    return out, s


__all__ = ["audit", "Summary"]
