"""Shards: a replay split by counting step (query token), and the one way results are merged.

Checking is embarrassingly parallel by query token (DESIGN.md §8).  No scheduler here: the
caller passes any object with ``.map(fn, iterable)`` (a process pool, a Dask adapter).  The
kernel (1) gives a pool module-level tasks that re-read the model and the certificate *by
path*, hash them, and replay a subset of the steps with the kernel's own loop: the counting
steps assigned to the shard and every step they cite, directly or not (shared tables are
recomputed per shard, and the first shard also replays every step no count depends on, so
every step is replayed at least once); and (2) merges the results only after checking that
they are for this model and certificate, that every counting step is reported exactly once,
and that shared steps cost the same everywhere.  A lost, duplicated or foreign shard is a
``CheckError`` (``shard``), never a wrong total: the pool is untrusted plumbing.  The merged
step reports then go through the same disjointness check and final comparison as a
sequential replay.  NB: the workers run this kernel; a worker that lies is outside the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from checker import balls as B
from checker import float32
from checker.cert import Certificate, read_certificate
from checker.errors import Reason, require
from checker.facts import Count
from checker.kernel import StepReport, brute_trace, replay
from checker.model import Model, load_model
from checker.rules import RULES

SHARDED = tuple(name for name, r in RULES.items() if {"correct"} == r.CLAIM)  # counting rules


class Pool(Protocol):
    """What the kernel needs from a scheduler: ``map`` (results in any order)."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], /) -> Iterator[Any]: ...


@dataclass(frozen=True)
class CheckTask:
    """Replay the steps ``step_ids`` of the certificate at ``cert_path`` (or, without one, of
    the kernel's own brute-force trace, claims unchecked) on the model at ``model_path``."""

    model_path: str
    model_sha256: str
    cert_path: str | None
    cert_sha256: str
    step_ids: tuple[str, ...]
    semantics: str = "real"


@dataclass(frozen=True)
class CheckShard:
    """A worker's answer: the reports of the steps it replayed."""

    model_sha256: str
    cert_sha256: str
    reports: tuple[StepReport, ...]


def _load(task: CheckTask) -> tuple[Model, Certificate, str]:
    model = float32.bind(load_model(task.model_path), task.semantics)
    raw, cert = read_certificate(task.cert_path) if task.cert_path else (b"", brute_trace(model))
    sha = hashlib.sha256(raw).hexdigest() if task.cert_path else "brute"
    want = (task.model_sha256, task.cert_sha256, task.semantics)
    same = (model.sha256, sha, cert.semantics) == want
    require(same, Reason.SHARD, "shard: the model or certificate is not the one the merge expects")
    return model, cert, sha


def check_shard(task: CheckTask) -> CheckShard:
    """Worker: replay ``task``'s steps as the sequential loop would; reject as it would."""
    B.check_fp_environment()
    model, cert, sha = _load(task)
    st = replay(cert, model, only=set(task.step_ids), claims=task.cert_path is not None)
    return CheckShard(model.sha256, sha, tuple(st.reports))


def _closure(cert: Certificate, ids: Iterable[str]) -> set[str]:
    """The steps ``ids`` and every step they cite, directly or not."""
    by_id, out, todo = {s.id: s for s in cert.steps}, set(), list(ids)
    while todo:
        sid = todo.pop()
        if sid in by_id and sid not in out:
            out.add(sid)
            refs = by_id[sid].cite.values()
            todo += [x for r in refs for x in (r if isinstance(r, list) else [r])]
    return out


def tasks(cert: Certificate, model_path: str, model_sha: str, cert_path: str | None,
          cert_sha: str, shards: int) -> list[CheckTask]:  # fmt: skip
    """Split the counting steps into about ``shards`` tasks (earlier steps they need go along)."""
    counts = [s.id for s in cert.steps if s.rule in SHARDED]
    n = max(1, -(-len(counts) // max(1, shards)))
    groups = [counts[i : i + n] for i in range(0, len(counts), n)] or [[]]
    rest = {s.id for s in cert.steps} - _closure(cert, counts)
    return [
        CheckTask(
            model_path,
            model_sha,
            cert_path,
            cert_sha,
            tuple(_closure(cert, g) | (rest if i == 0 else set())),
            cert.semantics,
        )  # fmt: skip
        for i, g in enumerate(groups)
    ]


def merge(
    cert: Certificate, model_sha: str, cert_sha: str, results: Iterable[Any]
) -> list[StepReport]:
    """Return the step reports in certificate order from shard results.

    Reject (``shard``) unless every result is for this model and certificate, every counting
    step is reported exactly once, every other step at least once and at the same cost.
    """
    got: dict[str, StepReport] = {}
    counted: set[str] = set()
    for r in results:
        ok = isinstance(r, CheckShard) and (r.model_sha256, r.cert_sha256) == (model_sha, cert_sha)
        require(ok, Reason.SHARD, "shard: a result is not a check shard of this model/certificate")
        for rep in r.reports:
            old = got.setdefault(rep.id, rep)
            twice = isinstance(rep.result, Count) and rep.id in counted
            require(not twice, Reason.SHARD, f"shard: step {rep.id:.40} is covered twice")
            counted |= {rep.id} if isinstance(rep.result, Count) else set()
            require(old.ops == rep.ops, Reason.SHARD, f"shard: costs of {rep.id:.40} disagree")
    missing = [s.id for s in cert.steps if s.id not in got]
    require(not missing, Reason.SHARD, f"shard: {len(missing)} step(s) not covered by any result")
    return [got[s.id] for s in cert.steps]
