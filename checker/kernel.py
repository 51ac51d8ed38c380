"""The kernel's replay loop: read model and certificate, replay every step, decide.

``check(cert, model)`` is the only producer of a :class:`Verdict`.  It reads and hashes the
model itself, states the theorem itself (checker.model), and replays the certificate's
steps in order through the rule registry ``RULES`` (one small function per rule).  Each
counting rule covers a set of query tokens; coverage must be disjoint, and the kernel — not
the certificate — computes every count.  The claimed bound b is accepted iff
b <= proven / v^k, decided in exact rationals.

Proof length (DESIGN.md §5): the sum of each rule's operation count, by formula.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from flint import fmpq

from checker import balls as B
from checker import brute, cases, shard
from checker.cert import Certificate, Step, is_int, parse_certificate
from checker.errors import CheckError, Reason, reject, require
from checker.model import TASK, Model, load_model
from checker.tables import Tables, path_tables

CHECKER_VERSION = "0.1.0"
_KERNEL = object()
Progress = Callable[[str, int, int], None]


class Verdict:
    """A proven theorem: accuracy >= bound for the named model.  Only the kernel makes one."""

    __slots__ = (
        "bound",
        "proven",
        "total",
        "ops",
        "certificate_bytes",
        "certificate_gzip_bytes",
        "model_sha256",
        "certificate_sha256",
        "checker_version",
        "seconds",
        "theorem",
        "strategy",
    )
    bound: fmpq
    proven: int
    total: int
    ops: int

    def __init__(self, token: object, **fields: Any) -> None:
        if token is not _KERNEL:
            raise TypeError("only checker.kernel.check() creates a Verdict")
        for name in self.__slots__:
            object.__setattr__(self, name, fields[name])

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Verdict is immutable")

    @property
    def verified(self) -> bool:
        return True

    def to_json(self) -> dict[str, Any]:
        """The ``check --json`` object (DESIGN.md §6)."""
        b = self.bound
        return {
            "verified": True,
            "bound": f"{b.p}/{b.q}",
            **{name: getattr(self, name) for name in self.__slots__ if name != "bound"},
        }


@dataclass
class _State:
    model: Model
    cert: Certificate
    progress: Progress | None
    results: dict[str, Any] = field(default_factory=dict)
    covered: dict[int, str] = field(default_factory=dict)
    parts: dict[tuple[str, str], Any] = field(default_factory=dict)
    shared: dict[tuple[str, str], int] = field(default_factory=dict)  # ops of each parts entry
    proven: int = 0
    ops: int = 0


def _tables_arg(st: _State, step: Step) -> Tables:
    ref = step.args.get("tables")
    res = st.results.get(ref) if isinstance(ref, str) else None
    require(
        isinstance(res, Tables),
        Reason.BAD_REFERENCE,
        f"{step.rule}: 'tables' must name an earlier path-tables step",
        step.id,
    )
    return res  # type: ignore[return-value]


def _cover(st: _State, step: Step, q: int) -> None:
    v = st.model.v
    require(
        is_int(q) and 0 <= q < v,
        Reason.BAD_HINT,
        f"{step.rule}: query {q!r:.20} out of range",
        step.id,
    )
    require(
        q not in st.covered,
        Reason.OVERLAP,
        f"{step.rule}: query {q} is already covered by step {st.covered.get(q)}",
        step.id,
    )
    st.covered[q] = step.id


def _claimed_count(step: Step, key: str = "correct") -> int:
    n = step.claim.get(key)
    if not (is_int(n) and n >= 0):
        reject(
            Reason.CERT_SCHEMA,
            f"{step.rule}: claim '{key}' must be a non-negative integer",
            step.id,
        )
    return n


def _exact_keys(step: Step, args: set[str], claim: set[str]) -> None:
    require(
        set(step.args) == args and set(step.claim) == claim,
        Reason.CERT_SCHEMA,
        f"{step.rule}: expects args {sorted(args)} and claim {sorted(claim)}",
        step.id,
    )


def rule_path_tables(st: _State, step: Step) -> None:
    """path-tables: build the ball path tables (tables.py).  No hints, no claims."""
    _exact_keys(step, set(), set())
    t = path_tables(st.model)
    st.results[step.id] = t
    st.ops += t.ops


WORK_LIMIT = 1 << 28  # elements: inputs per enumerated query; cells of a case table


def _within_limit(n: int, what: str, step: Step) -> None:
    """Refuse work that would not finish (or not fit in memory) in reasonable time: a
    resource limit, not a soundness condition (refusing is always sound)."""
    require(
        n <= WORK_LIMIT,
        Reason.UNSUPPORTED,
        f"{step.rule}: {what} needs {n:.3g} elements, over the kernel's limit {WORK_LIMIT:.3g}",
        step.id,
    )


def rule_enumerate(st: _State, step: Step) -> None:
    """enumerate: decide every input with query ``query`` (brute.py); claim its correct count."""
    _exact_keys(step, {"tables", "query"}, {"correct"})
    _within_limit(st.model.v ** (st.model.k - 1), "enumerating one query's inputs", step)
    T = _tables_arg(st, step)
    q = step.args["query"]
    _cover(st, step, q)
    claimed = _claimed_count(step)

    def tick(n: int) -> None:
        if st.progress is not None:
            st.progress("enumerate", n, st.model.v**st.model.k)

    correct, _, _, ops = brute.decide_query(T, int(q), tick)
    st.ops += ops
    require(
        claimed == correct,
        Reason.CLAIM_MISMATCH,
        f"enumerate: query {q}: claimed {claimed} correct inputs, the kernel finds {correct}",
        step.id,
    )
    st.proven += correct


def _bitset_arg(st: _State, step: Step, arg: str) -> npt.NDArray[np.bool_]:
    """The hint array named by ``step.args[arg]``: u1 [v, k, ceil(v/8)], bits of [v, k, v]."""
    name = step.args[arg]
    arr = st.cert.arrays.get(name) if isinstance(name, str) else None
    v, k = st.model.v, st.model.k
    nbytes = (v + 7) // 8
    require(
        arr is not None and arr.dtype == np.uint8 and arr.shape == (v, k, nbytes),
        Reason.BAD_HINT,
        f"position-cases: '{arg}' must name a u1 array of shape [{v}, {k}, {nbytes}]",
        step.id,
    )
    unpacked = np.unpackbits(arr, axis=2, count=v)  # type: ignore[arg-type]
    bits: npt.NDArray[np.bool_] = unpacked.astype(bool)
    require(
        bool((np.packbits(bits, axis=2) == arr).all()),
        Reason.BAD_HINT,
        f"position-cases: padding bits of '{arg}' must be zero",
        step.id,
    )
    return bits


def rule_position_cases(st: _State, step: Step) -> None:
    """position-cases: the cubic family for one query (cases.py); claim its proven count.

    Args: tables, query, values (variant), sets (G) and optionally split (outlier tokens).
    """
    keys = {"tables", "query", "values", "sets"}
    _exact_keys(step, keys | ({"split"} if "split" in step.args else set()), {"correct"})
    v, k = st.model.v, st.model.k
    _within_limit(max(v * v * k * k, v * k**4, v**3 * k), "the case tables", step)
    T = _tables_arg(st, step)
    q = step.args["query"]
    _cover(st, step, q)
    variant = step.args["values"]
    require(
        variant in cases.VARIANTS,
        Reason.BAD_HINT,
        f"position-cases: values must be one of {list(cases.VARIANTS)}",
        step.id,
    )
    sets = _bitset_arg(st, step, "sets")
    split = _bitset_arg(st, step, "split") if "split" in step.args else None
    claimed = _claimed_count(step)
    key = (str(step.args["tables"]), str(variant))
    if key not in st.parts:  # query-independent; computed once, counted once
        st.parts[key], ops = cases.value_parts(T, variant)
        st.ops += ops
        st.shared[key] = ops
    count, ops, first_fail = cases.count_query(
        T, int(q), variant, st.parts[key], sets, step.id, split
    )
    st.ops += ops
    require(
        claimed == count,
        Reason.CLAIM_MISMATCH,
        f"position-cases: query {q}: claimed {claimed}, the kernel proves {count}"
        + (f"; first unproven case {first_fail}" if first_fail else ""),
        step.id,
    )
    st.proven += count
    if st.progress is not None:
        st.progress("position-cases", 1, st.model.v)


RULES: dict[str, Callable[[_State, Step], None]] = {
    "path-tables": rule_path_tables,
    "enumerate": rule_enumerate,
    "position-cases": rule_position_cases,
}


def _read_cert(cert_path: str | Path) -> bytes:
    try:
        return Path(cert_path).read_bytes()
    except OSError as exc:
        reject(Reason.CERT_UNREADABLE, f"certificate: cannot read {cert_path}: {exc.strerror}")


def _replay(st: _State, step: Step) -> None:
    rule = RULES.get(step.rule)
    if rule is None:
        reject(Reason.UNKNOWN_RULE, f"certificate: no kernel rule {step.rule!r}", step.id)
    try:
        rule(st, step)
    except CheckError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        reject(
            Reason.CERT_SCHEMA,
            f"{step.rule}: malformed step ({type(exc).__name__}: {exc})",
            step.id,
        )


def check(
    cert_path: str | Path,
    model_path: str | Path,
    progress: Progress | None = None,
    pool: shard.Pool | None = None,
) -> Verdict:
    """Return the Verdict for certificate ``cert_path`` on model ``model_path``.

    Reject (``CheckError``) if the model or certificate is malformed, the certificate is
    bound to another model or task, any step fails, or the claimed bound exceeds
    proven / total.  With ``pool`` (any object with ``.map``), the per-query counting steps
    (``SHARDED``) are replayed by :func:`check_shard` in the pool's workers and merged by
    :func:`_merge_check_shards` (every deferred step exactly once); everything else, and
    every decision, stays here.  NB: when several steps fail, the sharded run may report a
    different one of them than the sequential run; both reject.
    """
    t0 = time.perf_counter()
    B.check_fp_environment()
    model = load_model(model_path)
    raw = _read_cert(cert_path)
    cert = parse_certificate(raw)
    require(
        cert.task == TASK,
        Reason.TASK_MISMATCH,
        f"certificate: task {cert.task!r:.40} is not {TASK}",
    )
    require(
        cert.model_sha256 == model.sha256,
        Reason.MODEL_MISMATCH,
        f"certificate: bound to model {cert.model_sha256[:16]}..., given {model.sha256[:16]}...",
    )
    st = _State(model=model, cert=cert, progress=progress)
    seen: set[str] = set()
    deferred: list[str] = []
    for step in cert.steps:
        require(
            step.id not in seen,
            Reason.CERT_SCHEMA,
            f"certificate: duplicate step id {step.id}",
            step.id,
        )
        seen.add(step.id)
        if pool is not None and step.rule in SHARDED:
            deferred.append(step.id)
            continue
        _replay(st, step)
    if pool is not None and deferred:
        cert_sha = hashlib.sha256(raw).hexdigest()
        n = max(1, len(deferred) // 32)
        tasks = [
            CheckTask(str(cert_path), str(model_path), cert_sha, model.sha256, tuple(ids))
            for ids in (deferred[i : i + n] for i in range(0, len(deferred), n))
        ]
        _merge_check_shards(st, cert_sha, deferred, pool.map(check_shard, tasks))
    total = model.total
    require(
        cert.bound <= fmpq(st.proven, total),
        Reason.BOUND_NOT_PROVEN,
        f"final: claimed bound {cert.bound} exceeds proven {st.proven}/{total}",
    )
    return Verdict(
        _KERNEL,
        bound=cert.bound,
        proven=st.proven,
        total=total,
        ops=st.ops + 1,
        certificate_bytes=len(raw),
        certificate_gzip_bytes=len(gzip.compress(raw, compresslevel=6, mtime=0)),
        model_sha256=model.sha256,
        certificate_sha256=hashlib.sha256(raw).hexdigest(),
        checker_version=CHECKER_VERSION,
        seconds=time.perf_counter() - t0,
        theorem=model.theorem(),
        strategy=cert.strategy,
    )


def exact_accuracy(model: Model, progress: Progress | None = None) -> tuple[int, int, int, int]:
    """Return (correct, incorrect, undecided, total) over all v^k inputs, rigorously.

    The ground truth every certificate is compared with: brute.decide_query for every q.
    """
    B.check_fp_environment()
    T = path_tables(model)
    correct = incorrect = undecided = 0
    for q in range(model.v):

        def tick(n: int) -> None:
            if progress is not None:
                progress("accuracy", n, model.total)

        c, i, u, _ = brute.decide_query(T, q, tick)
        correct, incorrect, undecided = correct + c, incorrect + i, undecided + u
    return correct, incorrect, undecided, model.total


SHARDED = ("enumerate", "position-cases")  # per-query counting rules a pool may replay


@dataclass(frozen=True)
class CheckTask:
    """Replay the counting steps ``step_ids`` of the certificate at ``cert_path`` (sha256
    ``cert_sha256``) on the model at ``model_path`` (sha256 ``model_sha256``)."""

    cert_path: str
    model_path: str
    cert_sha256: str
    model_sha256: str
    step_ids: tuple[str, ...]


@dataclass(frozen=True)
class CheckShard:
    """A worker's answer: per step (id, query, proven count, ops without shared parts), and
    the ops of each query-independent part it computed (counted once by the merge)."""

    cert_sha256: str
    model_sha256: str
    steps: tuple[tuple[str, int, int, int], ...]
    shared: tuple[tuple[tuple[str, str], int], ...]


_PREFIX: dict[tuple[str, str], tuple[_State, dict[str, int]]] = {}


def check_shard(task: CheckTask) -> CheckShard:
    """Worker: replay ``task``'s counting steps as the sequential loop would (each sees only
    the results of steps before it), after replaying the certificate's other steps (the
    shared path tables; cached per process by the two files' sha256, which the worker
    computes from the bytes it reads).  Reject as the sequential loop would, or (``shard``)
    if a file is not the expected one or a step id is not a counting step."""
    B.check_fp_environment()
    model = load_model(task.model_path)
    raw = _read_cert(task.cert_path)
    cert_sha = hashlib.sha256(raw).hexdigest()
    require(
        (model.sha256, cert_sha) == (task.model_sha256, task.cert_sha256),
        Reason.SHARD,
        "shard: the model or certificate file is not the one the merge expects",
    )
    key = (model.sha256, cert_sha)
    if key not in _PREFIX:
        cert = parse_certificate(raw)
        base = _State(model=model, cert=cert, progress=None)
        made_at: dict[str, int] = {}
        for j, step in enumerate(cert.steps):
            if step.rule not in SHARDED:
                _replay(base, step)
                made_at.update({rid: j for rid in base.results if rid not in made_at})
        _PREFIX.clear()  # one certificate at a time per worker: bounded memory
        _PREFIX[key] = (base, made_at)
    base, made_at = _PREFIX[key]
    index = {step.id: j for j, step in enumerate(base.cert.steps)}
    out: list[tuple[str, int, int, int]] = []
    for sid in task.step_ids:
        j = index.get(sid, -1)
        require(
            j >= 0 and base.cert.steps[j].rule in SHARDED,
            Reason.SHARD,
            f"shard: {sid!r:.40} is not a counting step of the certificate",
        )
        earlier = {rid: r for rid, r in base.results.items() if made_at[rid] < j}
        st = _State(model, base.cert, None, earlier, {}, base.parts, base.shared)
        before = set(st.shared)
        _replay(st, base.cert.steps[j])
        new = sum(ops for k, ops in st.shared.items() if k not in before)
        require(len(st.covered) == 1, Reason.SHARD, f"shard: step {sid} covers no query", sid)
        q = next(iter(st.covered))
        out.append((sid, q, st.proven, st.ops - new))
    return CheckShard(cert_sha, model.sha256, tuple(out), tuple(sorted(base.shared.items())))


def _merge_check_shards(st: _State, cert_sha: str, deferred: list[str], results: Any) -> None:
    """Add the shard results to ``st`` after checking them: each for this model and
    certificate, every deferred step exactly once (shard.require_exactly_once), queries
    disjoint across steps (``overlap``, as sequentially), one ops figure per shared part."""
    rows: list[tuple[str, int, int, int]] = []
    shared: dict[tuple[str, str], int] = {}
    for r in results:
        require(
            isinstance(r, CheckShard)
            and (r.cert_sha256, r.model_sha256) == (cert_sha, st.model.sha256),
            Reason.SHARD,
            "shard: a result is not a check shard of this model and certificate",
        )
        rows += r.steps
        for key, ops in r.shared:
            require(
                shared.setdefault(key, ops) == ops,
                Reason.SHARD,
                "shard: two results disagree on a shared part",
            )
        if st.progress is not None:
            st.progress("check", len(r.steps), len(deferred))
    shard.require_exactly_once([row[0] for row in rows], deferred, "step")
    order = {sid: j for j, sid in enumerate(deferred)}
    for sid, q, proven, ops in sorted(rows, key=lambda row: order[row[0]]):
        require(
            q not in st.covered,
            Reason.OVERLAP,
            f"merge: query {q} is already covered by step {st.covered.get(q)}",
            sid,
        )
        st.covered[q] = sid
        st.proven += proven
        st.ops += ops
    st.ops += sum(ops for key, ops in shared.items() if key not in st.shared)
