"""The audit as a step of a Ray Data pipeline: ``map_batches`` with
``batch_format="pyarrow"``, one index per actor."""

from __future__ import annotations

import contextlib

import pyarrow as pa

from . import Index, Summary, join, one_batch

#: The column that carries each row's position through Ray (which does
#: not keep row order across actors); dropped from the result.
POSITION = "__proviso_row"


class _Numberer:
    """Numbers rows as they come: run as one actor that executes its calls
    in the order they were submitted, over a dataset whose order is kept,
    it gives each row its position in the input."""

    def __init__(self):
        self.next = 0

    def __call__(self, batch: pa.Table) -> pa.Table:
        n = batch.num_rows
        out = batch.append_column(POSITION, pa.array(range(self.next, self.next + n), type=pa.uint64()))
        self.next += n
        return out


class _Auditor:
    """A Ray actor's audit: the index opened once, in the actor. With
    ``numbers`` it is the only auditor and numbers the rows itself (its
    calls run in order, as the numbering actor's do); otherwise the rows
    come numbered."""

    def __init__(self, index_dir: str, field: str, numbers: bool, collector):
        self.index = Index(index_dir)
        self.field = field
        self.next = 0 if numbers else None
        self.collector = collector

    def __call__(self, batch: pa.Table) -> pa.Table:
        import ray

        rb = one_batch(batch)
        if self.next is not None:
            first = self.next
            findings, counts = self.index.audit_batch(rb, self.field, first)
            self.next += rb.num_rows
        else:
            positions = rb.column(POSITION)
            rb = rb.drop_columns([POSITION])
            findings, counts = self.index.audit_batch(rb, self.field, 0)
            findings = findings.set_column(0, "row", positions)
            first = positions[0].as_py() if len(positions) else None
            # Bad rows were counted from 1 within the batch: from 1 in the
            # input instead.
            counts["errors"] = [(positions[int(r) - 1].as_py() + 1, m) for r, m in counts["errors"]]
        if rb.num_rows:
            # Handed over before the batch is returned: when the dataset is
            # materialized, every batch's counts are in.
            ray.get(self.collector.add.remote(first, counts))
        return pa.Table.from_batches([join(rb, findings)])


class _Collector:
    """Each audited batch's counts, by the batch's first row (a batch
    audited again after a failure counts once)."""

    def __init__(self):
        self.parts = {}

    def add(self, first: int, counts: dict) -> None:
        self.parts[first] = counts

    def all(self) -> list[dict]:
        return list(self.parts.values())


@contextlib.contextmanager
def _order_kept(dataset):
    # A dataset runs with the context it was made with (shared with the
    # datasets made from it), not the current one: that one keeps order
    # while this audit runs.
    # A block that fails is never skipped either (`max_errored_blocks`):
    # the rows after it would be numbered from the wrong place.
    ctx = dataset.context
    was = (ctx.execution_options.preserve_order, ctx.max_errored_blocks)
    ctx.execution_options.preserve_order = True
    ctx.max_errored_blocks = 0
    try:
        yield
    finally:
        ctx.execution_options.preserve_order, ctx.max_errored_blocks = was


def audit(dataset, index_dir, field: str = "text", *, batch_size: int = 4096, concurrency: int = 1):
    """Audits the text column ``field`` of ``dataset`` (a
    ``ray.data.Dataset``) against the index at ``index_dir``.

    Returns the dataset with the findings' columns added (``row`` is each
    row's 0-based position in ``dataset``; the result keeps the input's
    order), materialized, and the :class:`Summary`. ``concurrency`` actors
    each open the index once and audit in parallel; before them, one actor
    numbers the rows in order (a pass that only adds a column). With one
    auditing actor, it numbers the rows itself.
    """
    from ray.data import ActorPoolStrategy

    # Ray Data lets an actor run its calls out of order (so that one whose
    # block is late does not hold the others up) and restarts a dead actor,
    # which would number from 0 again: an actor that numbers does neither,
    # and a failure fails the audit.
    in_order = dict(compute=ActorPoolStrategy(size=1), allow_out_of_order_execution=False, max_restarts=0,
                    max_task_retries=0)
    import ray

    # The auditors hand each batch's counts to this actor: only counts come
    # back to the driver, and the audited rows are not read a second time.
    collector = ray.remote(num_cpus=0)(_Collector).remote()
    try:
        with _order_kept(dataset):
            if concurrency == 1:
                out = dataset.map_batches(
                    _Auditor, fn_constructor_args=(str(index_dir), field, True, collector), batch_format="pyarrow",
                    batch_size=batch_size, **in_order)
            else:
                numbered = dataset.map_batches(_Numberer, batch_format="pyarrow", batch_size=batch_size, **in_order)
                out = numbered.map_batches(
                    _Auditor, fn_constructor_args=(str(index_dir), field, False, collector), batch_format="pyarrow",
                    batch_size=batch_size, compute=ActorPoolStrategy(size=concurrency))
            out = out.materialize()
        summary = Summary()
        for counts in ray.get(collector.all.remote()):
            summary.add(counts)
    finally:
        ray.kill(collector)
    summary.errors.sort()
    return out, summary


__all__ = ["audit", "Summary", "POSITION"]
