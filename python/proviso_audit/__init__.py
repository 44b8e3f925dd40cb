"""Proviso's training-data audit inside the data team's own engines.

An :class:`Index` opens a Proviso index directory (built by ``proviso index
add`` or the gateway's follower) once per worker and audits Arrow record
batches with it, exactly as ``proviso audit`` audits files: the same
look-up, the same findings, the same rate and intervals.

>>> import pyarrow as pa, proviso_audit
>>> idx = proviso_audit.Index("/var/lib/proviso/index")          # doctest: +SKIP
>>> findings, counts = idx.audit_batch(pa.record_batch({"text": ["…"]}))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

import pyarrow as pa

from . import _native
from ._native import findings_columns, intervals

__all__ = ["Index", "Summary", "summarize", "join", "index_for", "findings_columns", "intervals", "FINDINGS"]
__version__ = _native.__version__

#: The findings' column names, in order (see ``docs/python.md``).
FINDINGS: list[str] = findings_columns()


@dataclass
class Summary:
    """The audit's totals over every batch seen, as ``proviso audit``
    reports them (its ``summary`` JSON object has the same names)."""

    audited: int = 0
    flagged: int = 0
    bytes: int = 0
    tokens: int = 0
    flagged_tokens: int = 0
    #: Bad rows (a null text): ``(row counted from 1, message)``.
    errors: list[tuple[int, str]] = field(default_factory=list)

    def add(self, counts: dict) -> "Summary":
        """Adds one batch's counts (the second value of
        :meth:`Index.audit_batch`); returns self."""
        for k in ("audited", "flagged", "bytes", "tokens", "flagged_tokens"):
            setattr(self, k, getattr(self, k) + int(counts[k]))
        self.errors.extend((int(r), str(m)) for r, m in counts["errors"])
        return self

    def merge(self, other: "Summary") -> "Summary":
        """Adds another worker's summary; returns self."""
        return self.add(other.as_counts())

    def as_counts(self) -> dict:
        return {"audited": self.audited, "flagged": self.flagged, "bytes": self.bytes, "tokens": self.tokens,
                "flagged_tokens": self.flagged_tokens, "errors": list(self.errors)}

    @property
    def documents(self) -> int:
        return self.audited

    @property
    def rate(self) -> float:
        """``flagged / audited``."""
        return self.flagged / max(self.audited, 1)

    @property
    def wilson(self) -> tuple[float, float]:
        """The rate's 95% Wilson interval."""
        return intervals(self.flagged, self.audited)[0]

    @property
    def clopper_pearson(self) -> tuple[float, float]:
        """The rate's 95% Clopper–Pearson interval."""
        return intervals(self.flagged, self.audited)[1]

    @property
    def token_weighted_rate(self) -> float:
        """Share of audited tokens inside flagged rows."""
        return self.flagged_tokens / max(self.tokens, 1)

    def to_dict(self) -> dict:
        """The summary as ``proviso audit --json`` writes it (without its
        per-file table)."""
        wilson, clopper_pearson = intervals(self.flagged, self.audited)
        return {"documents": self.documents, "audited": self.audited, "bytes": self.bytes, "tokens": self.tokens,
                "flagged": self.flagged, "rate": self.rate, "wilson": list(wilson),
                "clopper_pearson": list(clopper_pearson), "token_weighted_rate": self.token_weighted_rate,
                "errors": [{"line": r, "error": m} for r, m in self.errors], "sampled": False}


class Index:
    """A Proviso index directory, opened once (memory-mapped, read-only)
    and reused for every batch.

    Raises ``FileNotFoundError`` when there is no index at ``path`` and
    ``ValueError`` when it is empty or damaged, with the message
    ``proviso audit`` would give.
    """

    def __init__(self, path) -> None:
        self._native = _native.Index(str(path))

    @property
    def path(self) -> str:
        return self._native.path

    @property
    def references(self) -> int:
        """Reference outputs in the index."""
        return self._native.references

    def __repr__(self) -> str:
        return repr(self._native)

    def audit_batch(self, batch: pa.RecordBatch, field: str = "text", first_row: int = 0
                    ) -> tuple[pa.RecordBatch, dict]:
        """Audits the text column ``field`` of ``batch`` on every core
        (the GIL released). ``first_row``: the batch's first row's place in
        the whole input (the findings' ``row`` counts from it). Returns the
        findings (a row per input row, columns :data:`FINDINGS`) and the
        batch's counts (for :meth:`Summary.add`).

        Raises ``KeyError`` when the batch has no column ``field`` and
        ``TypeError`` when it is not text.
        """
        if isinstance(batch, pa.Table):
            raise TypeError("audit_batch takes a pyarrow.RecordBatch; use audit() for a Table")
        return self._native.audit_batch(batch, field, first_row)

    def audit(self, data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch], field: str = "text",
              flagged_only: bool = False) -> tuple[pa.Table, Summary]:
        """Audits a table (or batches, in order): the input's columns with
        the findings' columns beside them (``row`` the 0-based position in
        the input), and the summary. With ``flagged_only``, only the rows
        that hold a reference output."""
        batches = data.to_batches() if isinstance(data, pa.Table) else (
            [data] if isinstance(data, pa.RecordBatch) else data)
        summary, out, row = Summary(), [], 0
        for b in batches:
            findings, counts = self.audit_batch(b, field, row)
            summary.add(counts)
            joined = join(b, findings)
            if flagged_only:
                joined = joined.filter(findings.column("flagged"))
            out.append(joined)
            row += b.num_rows
        if not out:
            # No rows: the schema still says what would have come.
            schema = data.schema if isinstance(data, (pa.Table, pa.RecordBatch)) else pa.schema([(field, pa.string())])
            empty = pa.RecordBatch.from_pylist([], schema=schema)
            out.append(join(empty, self.audit_batch(empty, field, 0)[0]))
        return pa.Table.from_batches(out), summary


def summarize(batches: Iterable[pa.RecordBatch | pa.Table], field: str = "text") -> Summary:
    """The summary of audited rows as an engine hands them back (the
    input's text column ``field`` beside the findings' columns): what
    :meth:`Summary.add` would have counted batch by batch."""
    import pyarrow.compute as pc

    s = Summary()
    for b in batches:
        if b.num_rows == 0:
            continue
        names = b.schema.names
        # A findings column whose name the input used is `proviso_<name>`
        # (see join).
        col = lambda n: b.column(f"proviso_{n}" if f"proviso_{n}" in names else n)  # noqa: E731
        text = b.column(field)
        present = pc.is_valid(text)
        flagged = col("flagged")
        tokens = col("tokens")
        s.audited += pc.sum(pc.cast(present, pa.int64())).as_py() or 0
        s.flagged += pc.sum(pc.cast(flagged, pa.int64())).as_py() or 0
        s.bytes += pc.sum(pc.binary_length(text)).as_py() or 0
        s.tokens += pc.sum(tokens).as_py() or 0
        s.flagged_tokens += pc.sum(pc.if_else(flagged, tokens, 0)).as_py() or 0
        rows = pc.filter(col("row"), pc.invert(present)).to_pylist()
        s.errors.extend((int(r) + 1, f"column {json.dumps(field)} is null") for r in rows)
    s.errors.sort()
    return s


def one_batch(table: pa.Table | pa.RecordBatch) -> pa.RecordBatch:
    """A table's rows as one record batch (what the engines hand over as
    tables)."""
    if isinstance(table, pa.RecordBatch):
        return table
    batches = table.combine_chunks().to_batches()
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=table.schema)
    return pa.concat_batches(batches)


_INDEXES: dict[str, Index] = {}


def index_for(path) -> Index:
    """The index at ``path``, opened once per process (engine workers call
    this for every batch)."""
    key = str(path)
    idx = _INDEXES.get(key)
    if idx is None:
        idx = _INDEXES[key] = Index(key)
    return idx


def join(batch: pa.RecordBatch, findings: pa.RecordBatch) -> pa.RecordBatch:
    """The input batch's columns, then the findings' (a findings column
    whose name the input already uses, compared without case as Spark
    compares names, is prefixed ``proviso_``). Each column keeps its
    field's nullability."""
    taken = {n.lower() for n in batch.schema.names}
    fields = list(batch.schema)
    for f in findings.schema:
        fields.append(f.with_name(f"proviso_{f.name}") if f.name.lower() in taken else f)
    return pa.RecordBatch.from_arrays(list(batch.columns) + list(findings.columns), schema=pa.schema(fields))
