"""Shards: the kernel's work split by query token, and the one way shard results are merged.

Checking is embarrassingly parallel by query token (DESIGN.md §8).  This module holds no
scheduler: a caller passes any object with ``.map(fn, iterable)`` (a process pool, a Dask
client adapter, the built-in ``map``), and the kernel only (1) provides module-level worker
functions that a pool can pickle and run anywhere, each re-reading the model *by path*,
hashing it and deciding its queries with the kernel's own rules, and (2) merges the results
only after checking that they are for the expected model (and certificate) and cover every
unit of work exactly once.  A lost, duplicated or foreign shard is a ``CheckError``
(``shard``), never a wrong total: the pool is untrusted plumbing.

Per-process caches (keyed by the sha256 of bytes the worker itself just read) hold the path
tables: a deterministic function of those bytes, so reusing them is the same as recomputing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from checker import balls as B
from checker import brute
from checker.errors import Reason, reject, require
from checker.model import Model, load_model
from checker.tables import Tables, path_tables

Counts = tuple[int, int, int]  # (correct, incorrect, undecided)


class Pool(Protocol):
    """What the kernel needs from a scheduler: an order-preserving or not ``map``."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], /) -> Iterator[Any]: ...


@dataclass(frozen=True)
class AccuracyTask:
    """Decide every input whose query (last) token is in ``queries``, on the model at ``path``
    whose sha256 must be ``sha256``."""

    path: str
    sha256: str
    queries: tuple[int, ...]


@dataclass(frozen=True)
class AccuracyShard:
    """A worker's answer: per query, (correct, incorrect, undecided); and the ops used."""

    sha256: str
    queries: tuple[int, ...]
    counts: tuple[Counts, ...]
    ops: int


_TABLES: dict[str, tuple[Model, Tables]] = {}


def _model_and_tables(path: str, sha256: str) -> tuple[Model, Tables]:
    """Load ``path``, require its sha256, and return it with its path tables (cached per
    process by the hash of the bytes just read)."""
    model = load_model(path)
    require(
        model.sha256 == sha256,
        Reason.SHARD,
        f"shard: {path[:200]} has sha256 {model.sha256[:16]}..., expected {sha256[:16]}...",
    )
    if sha256 not in _TABLES:
        _TABLES.clear()  # one model at a time per worker: bounded memory
        _TABLES[sha256] = (model, path_tables(model))
    return _TABLES[sha256]


def accuracy_shard(task: AccuracyTask) -> AccuracyShard:
    """Worker: return the counts of ``task``'s queries (brute.decide_query on each).

    Reject if the file is not the expected model or a query is out of range.
    """
    B.check_fp_environment()
    model, T = _model_and_tables(task.path, task.sha256)
    counts: list[Counts] = []
    ops = 0
    for q in task.queries:
        require(
            isinstance(q, int) and 0 <= q < model.v,
            Reason.SHARD,
            f"shard: query {q!r:.20} out of range",
        )
        c, i, u, o = brute.decide_query(T, q)
        counts.append((c, i, u))
        ops += o
    return AccuracyShard(task.sha256, tuple(task.queries), tuple(counts), ops)


def accuracy_tasks(path: str, model: Model, shard_size: int = 1) -> list[AccuracyTask]:
    """The tasks of an exact accuracy run: queries 0..v-1 in shards of ``shard_size``
    (smaller than v/jobs balances the load: queries differ several-fold in cost)."""
    n = max(1, shard_size)
    return [
        AccuracyTask(path, model.sha256, tuple(range(s, min(s + n, model.v))))
        for s in range(0, model.v, n)
    ]


def require_exactly_once(units: Sequence[object], expected: Iterable[object], what: str) -> None:
    """Reject (``shard``) unless ``units`` lists every element of ``expected`` exactly once
    and nothing else."""
    want = set(expected)
    seen: set[object] = set()
    for u in units:
        require(u in want, Reason.SHARD, f"shard: a result covers unexpected {what} {u!r:.40}")
        require(u not in seen, Reason.SHARD, f"shard: {what} {u!r:.40} is covered twice")
        seen.add(u)
    missing = want - seen
    if missing:
        first = min(missing, key=repr)
        reject(
            Reason.SHARD,
            f"shard: {len(missing)} {what}(s) not covered by any result, e.g. {first!r:.40}",
        )


def merge_accuracy(model: Model, results: Iterable[AccuracyShard]) -> tuple[int, int, int, int]:
    """Return (correct, incorrect, undecided, ops) over all v^k inputs from shard results.

    Reject (``shard``) unless every result is for ``model`` (sha256), has one count triple per
    query, each triple sums to v^(k-1) (the inputs of one query), and the results cover every
    query 0..v-1 exactly once.
    """
    per_query = model.v ** (model.k - 1)
    queries: list[int] = []
    correct = incorrect = undecided = ops = 0
    for r in results:
        require(
            isinstance(r, AccuracyShard) and r.sha256 == model.sha256,
            Reason.SHARD,
            "shard: a result is not an accuracy shard of this model",
        )
        require(
            len(r.queries) == len(r.counts),
            Reason.SHARD,
            "shard: a result's queries and counts differ in length",
        )
        for q, (c, i, u) in zip(r.queries, r.counts, strict=True):
            ok = all(isinstance(n, int) and n >= 0 for n in (c, i, u)) and c + i + u == per_query
            require(ok, Reason.SHARD, f"shard: query {q!r:.20}'s counts do not add up")
            correct, incorrect, undecided = correct + c, incorrect + i, undecided + u
            queries.append(q)
        ops += r.ops
    require_exactly_once(queries, range(model.v), "query")
    return correct, incorrect, undecided, ops


def exact_accuracy(
    path: str,
    pool: Pool | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    shard_size: int = 1,
) -> tuple[int, int, int, int]:
    """Return (correct, incorrect, undecided, total) of the model at ``path``, every input
    decided by ``pool.map(accuracy_shard, ...)`` (in this process when ``pool`` is None) and
    merged by :func:`merge_accuracy`.  ``progress`` is told the inputs of each finished shard.
    """
    B.check_fp_environment()
    model = load_model(path)
    per_query = model.v ** (model.k - 1)
    tasks = accuracy_tasks(str(path), model, shard_size)

    def tracked(results: Iterable[AccuracyShard]) -> Iterator[AccuracyShard]:
        for r in results:
            if progress is not None:
                progress("accuracy", per_query * len(r.queries), model.total)
            yield r

    results = (pool.map if pool is not None else map)(accuracy_shard, tasks)
    c, i, u, _ = merge_accuracy(model, tracked(results))
    return c, i, u, model.total
