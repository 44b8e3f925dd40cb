"""The audit as a step of a Hugging Face ``datasets`` pipeline:
``Dataset.map(batched=True)`` over Arrow, the index opened once per
process."""

from __future__ import annotations

import pyarrow as pa

from . import Summary, index_for, join, one_batch, summarize


def audit(dataset, index_dir, field: str = "text", *, batch_size: int = 1000, num_proc: int | None = None):
    """Audits the text column ``field`` of ``dataset`` (a
    ``datasets.Dataset``) against the index at ``index_dir``.

    Returns the dataset with the findings' columns added (``row`` is each
    row's 0-based position in ``dataset``) and the :class:`Summary`. The
    map runs on Arrow batches (``with_format("arrow")``), ``num_proc``
    processes each opening the index once.
    """
    index_dir = str(index_dir)

    def step(batch: pa.Table, indices: list[int]) -> pa.Table:
        rb = one_batch(batch)
        findings, _ = index_for(index_dir).audit_batch(rb, field, indices[0] if indices else 0)
        # The positions datasets gives, whatever the sharding.
        findings = findings.set_column(0, "row", pa.array(indices, type=pa.uint64()))
        return pa.Table.from_batches([join(rb, findings)])

    # Never from datasets' cache: it keys on this function, not on the
    # index, which may have grown since.
    out = dataset.with_format("arrow").map(step, batched=True, batch_size=batch_size, with_indices=True,
                                           num_proc=num_proc, load_from_cache_file=False,
                                           desc="proviso audit")
    summary = summarize(out.with_format("arrow").iter(batch_size=batch_size), field)
    return out.with_format(dataset.format["type"]), summary


__all__ = ["audit", "Summary"]
