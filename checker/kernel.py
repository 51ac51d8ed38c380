"""The kernel's replay loop: read model and certificate, replay every step, decide.

``check(cert, model)`` is the only producer of a :class:`Verdict`.  It reads and hashes the
model itself, states the theorem itself (checker.model), and replays the certificate's steps
in order.  Each step names one rule of the closed registry ``checker.rules.RULES``, cites
results of *earlier* steps by id (LRAT-style) and carries hints and claims.  The loop owns
the plumbing: it checks the step's shape against the rule's schema, resolves and type-checks
its citations, decodes its hints, bounds the rule's work *before* running it, runs it,
compares the claim with the re-derived result (counts: equal; tensors: the claim must
enclose the kernel's ball), and keeps the proof-length meter per step.  Only ``Count``
results add to the proven total, and each query token may be counted once (disjointness:
the query token partitions the input space).  The claimed bound b is accepted iff
b <= proven / v^k, decided in exact rationals.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import numpy as np
from flint import fmpq

from checker import balls as B
from checker import float32
from checker.cert import Certificate, Step, is_int, read_certificate
from checker.errors import CheckError, Reason, reject, require
from checker.facts import Count, Hint, Result
from checker.model import TASK, Model, load_model
from checker.rules import FLOAT32, RULES

CHECKER_VERSION = "0.2.0"
SHARDS = 8  # tasks a sharded replay is split into
WORK_LIMIT = 1 << 28  # elements of work one step may do (checked before it runs)
TOTAL_WORK_LIMIT = 1 << 35  # elements of work one certificate may ask for in all
STEP_WORK = 1 << 12  # the least work a step is charged (its bookkeeping)
_KERNEL = object()
Progress = Callable[[str, int, int], None]


class Verdict:
    """A proven theorem: accuracy >= bound for the named model.  Only the kernel makes one."""

    # fmt: off
    __slots__ = ("bound", "proven", "total", "ops", "ops_by_rule",
                 "certificate_bytes", "certificate_gzip_bytes", "model_sha256",
                 "certificate_sha256", "checker_version", "seconds", "theorem", "semantics",
                 "strategy", "steps")
    # fmt: on
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
        out = {name: getattr(self, name) for name in self.__slots__ if name != "bound"}
        return {"verified": True, "bound": f"{b.p}/{b.q}", **out}


@dataclass
class StepReport:
    """What replaying one step did: its rule, what it cited, its cost and its result."""

    id: str
    rule: str
    ops: int
    result: Result


@dataclass
class Replay:
    """The state of one replay: results by step id, coverage, the meter per step."""

    model: Model
    cert: Certificate
    progress: Progress | None = None
    results: dict[str, Result] = field(default_factory=dict)
    work: int = 0
    reports: list[StepReport] = field(default_factory=list)


def decode_arg(kind: Any, value: Any, st: Replay, what: str) -> Any:
    """Return the hint ``value`` decoded by ``kind``; reject (BAD_HINT) if out of range.

    Kinds: 'query' (0 <= q < v), 'head' (0 <= h < heads), 'bool', 'bits' (the name of a u1
    array of packed booleans [v, k, v]), 'f8' / 'i8' (the name of a finite array of that dtype,
    returned as a Hint (name, array); the rule checks its shape), or a tuple of allowed
    strings.  Charges one op per
    number read (each bit of a bit array).
    """
    m = st.model
    if kind == "bits":  # u1 [v, k, ceil(v/8)], numpy packbits order -> bool [v, k, v]
        a, shape = st.cert.arrays.get(value) if isinstance(value, str) else None, (m.v, m.k)
        ok = a is not None and a.dtype == np.uint8 and a.shape == (*shape, (m.v + 7) // 8)
        require(ok, Reason.BAD_HINT, f"{what} must name a u1 array [{m.v}, {m.k}, ceil(v/8)]")
        bits = np.unpackbits(a, axis=2, count=m.v).astype(bool)  # type: ignore[arg-type]
        require(bool((np.packbits(bits, axis=2) == a).all()), Reason.BAD_HINT, f"{what}: padding")
        B.charge(bits.size)
        return bits
    if kind in ("f8", "i8"):  # a named numeric array -> Hint(name, array); shape: the rule
        arr = st.cert.arrays.get(value) if isinstance(value, str) else None
        ok = arr is not None and arr.dtype == np.dtype(kind) and bool(np.isfinite(arr).all())
        require(ok, Reason.BAD_HINT, f"{what} must name a finite {kind} array")
        arr = cast(np.ndarray, arr)
        B.charge(arr.size)
        return Hint(str(value), arr)
    B.charge(1)
    if kind in ("query", "head"):
        hi = m.v if kind == "query" else m.h
        require(is_int(value) and 0 <= value < hi, Reason.BAD_HINT, f"{what} out of range")
        return int(value)
    if kind == "bool":
        require(isinstance(value, bool), Reason.BAD_HINT, f"{what} must be true or false")
        return value
    require(value in kind, Reason.BAD_HINT, f"{what} must be one of {list(kind)}")
    return value


def _cites(st: Replay, step: Step, rule: ModuleType) -> dict[str, Any]:
    """Resolve the step's citations (earlier step ids) and check their result types."""
    out: dict[str, Any] = {}
    for role, want in rule.CITES.items():
        ref = step.cite[role]
        many = isinstance(want, list)
        ids = ref if many and isinstance(ref, list) else [ref]
        typ = want[0] if many else want
        require(
            (not many or isinstance(ref, list)) and len(ids) <= 64,
            Reason.BAD_REFERENCE,
            f"cite '{role}' must be {'a list of step ids' if many else 'a step id'}",
        )
        got = []
        for i in ids:
            res = st.results.get(i) if isinstance(i, str) else None
            require(
                isinstance(res, typ),
                Reason.BAD_REFERENCE,
                f"cite '{role}' must name an earlier step with a {typ.__name__} result",
            )
            got.append(res)
        B.charge(len(ids))
        out[role] = got if many else got[0]
    return out


def _claim(st: Replay, step: Step, res: Result) -> None:
    """Compare the step's claim with the kernel's result (counts equal; tensors enclosed)."""
    if isinstance(res, Count):
        n = step.claim["correct"]
        require(is_int(n) and n >= 0, Reason.CERT_SCHEMA, "claim 'correct' must be an int >= 0")
        B.charge(1)
        require(
            n == res.correct,
            Reason.CLAIM_MISMATCH,
            f"query {res.query}: claimed {n} correct inputs, the kernel proves {res.correct}",
        )
        return
    if not step.claim:
        return
    ball = cast(B.Ball, getattr(res, "ball", None))
    require(isinstance(ball, B.Ball), Reason.CERT_SCHEMA, "a tensor claim on a result without one")
    mid, rad = (st.cert.arrays.get(step.claim[key]) for key in ("mid", "rad"))
    ok = all(a is not None and a.dtype == np.float64 and a.shape == ball.shape for a in (mid, rad))
    require(ok, Reason.BAD_HINT, f"claim mid/rad must name f8 arrays of shape {ball.shape}")
    B.charge(2 * ball.mid.size)
    c, r = (
        B.ball(mid, np.zeros_like(mid)),
        B.ball(rad, np.zeros_like(rad)),
    )  # claimed [c - r, c + r]
    inside = np.all(B.upper(B.sub(c, r)) <= B.lower(ball)) and np.all(
        B.upper(ball) <= B.lower(B.add(c, r))
    )
    require(bool(inside), Reason.CLAIM_MISMATCH, "the claimed ball does not enclose the kernel's")


def _run_step(st: Replay, step: Step, claims: bool) -> None:
    rule = RULES.get(step.rule)
    if rule is None:
        reject(Reason.UNKNOWN_RULE, f"certificate: no kernel rule {step.rule!r:.60}")
    f32 = st.model.semantics == "real" or rule.NAME in FLOAT32
    require(f32, Reason.UNSUPPORTED, f"{rule.NAME}: not admitted under float32 semantics")
    optional = {a[:-1] for a in rule.ARGS if a.endswith("?")}
    required = {a for a in rule.ARGS if not a.endswith("?")}
    require(
        set(step.cite) == set(rule.CITES)
        and required <= set(step.args) <= required | optional
        and set(step.claim) in ({*rule.CLAIM}, set(), {"mid", "rad"})
        and (set(step.claim) == set(rule.CLAIM) or not rule.CLAIM or not claims),
        Reason.CERT_SCHEMA,
        f"{rule.NAME}: expects cite {sorted(rule.CITES)}, args {sorted(rule.ARGS)} "
        f"and claim {sorted(rule.CLAIM)}",
    )
    before = B.METER.ops
    cites = _cites(st, step, rule)
    args = {}
    for key, kind in rule.ARGS.items():
        name = key.rstrip("?")
        if name in step.args:
            args[name] = decode_arg(kind, step.args[name], st, f"{rule.NAME}: '{name}'")
    work = min(max(int(rule.work(st.model, cites, args)), STEP_WORK), 10**18)  # bounded text
    st.work += work
    require(
        work <= WORK_LIMIT and st.work <= TOTAL_WORK_LIMIT,
        Reason.UNSUPPORTED,
        f"{rule.NAME}: needs {work:.3g} elements of work (this certificate "
        f"{st.work:.3g}); the kernel's limits are {WORK_LIMIT:.3g} / {TOTAL_WORK_LIMIT:.3g}",
    )

    def tick(n: int, total: int) -> None:
        if st.progress is not None:
            st.progress(rule.NAME, n, total)

    res = rule.apply(st.model, cites, args, tick)
    if claims:
        _claim(st, step, res)
    st.results[step.id] = res
    st.reports.append(StepReport(step.id, rule.NAME, B.METER.ops - before, res))


def breakdown(reports: list[StepReport], header: int) -> dict[str, dict[str, int]]:
    """Proof length per rule: {rule: {steps, ops}}, plus '(header)' for the numbers read
    outside the steps; the ops add up to the verdict's ``ops``."""
    out: dict[str, dict[str, int]] = {"(header)": {"steps": 0, "ops": header}}
    for r in reports:
        row = out.setdefault(r.rule, {"steps": 0, "ops": 0})
        row["steps"] += 1
        row["ops"] += r.ops
    return out


def replay(
    cert: Certificate,
    model: Model,
    progress: Progress | None = None,
    only: set[str] | None = None,
    claims: bool = True,
) -> Replay:
    """Replay the steps of ``cert`` on ``model`` (those in ``only`` if given; ``claims=False``
    skips comparing claims, for the kernel's own traces); return the final state.

    Reject (``CheckError``, with the step's id) as soon as a step fails.
    """
    st, seen, same = Replay(model=model, cert=cert, progress=progress), set(), set()
    for step in cert.steps:
        require(step.id not in seen, Reason.CERT_SCHEMA, f"duplicate step id {step.id}")
        key = json.dumps([step.rule, step.cite, step.args], sort_keys=True)
        counts = getattr(RULES.get(step.rule), "CLAIM", None) == {"correct"}  # would overlap
        again = Reason.OVERLAP if counts else Reason.CERT_SCHEMA
        require(key not in same, again, f"step {step.id} repeats an earlier step", step.id)
        seen.add(step.id)
        same.add(key)
        if only is not None and step.id not in only:
            continue
        try:
            _run_step(st, step, claims)
        except CheckError as exc:
            raise CheckError(exc.reason, step.id, exc.detail) from None
        except MemoryError:
            reject(Reason.UNSUPPORTED, f"{step.rule}: out of memory", step.id)
        except Exception as exc:  # anything unexpected is a rejection, never a verdict
            reject(
                Reason.CERT_SCHEMA, f"{step.rule}: malformed step ({type(exc).__name__})", step.id
            )
    return st


def tally(reports: list[StepReport]) -> tuple[int, int, int]:
    """Return (correct, incorrect, undecided) summed over the Count results, in order.

    Reject (OVERLAP) a second count of one query: the query token partitions the input
    space, so counts of distinct queries count distinct inputs.
    """
    covered: dict[int, str] = {}
    c = i = u = 0
    for r in reports:
        if isinstance(r.result, Count):
            q = r.result.query
            first = covered.setdefault(q, r.id)
            require(first == r.id, Reason.OVERLAP, f"query {q} already counted by {first}", r.id)
            c, i, u = c + r.result.correct, i + r.result.incorrect, u + r.result.undecided
    return c, i, u


def _replay_all(
    cert: Certificate, model: Model, paths: tuple[str, str | None], sha: str, pool: Any,
    progress: Progress | None, claims: bool = True,
) -> list[StepReport]:  # fmt: skip
    """Step reports of a whole replay: here, or sharded over ``pool`` (checker.shard)."""
    if pool is None:
        return replay(cert, model, progress, claims=claims).reports
    from checker import shard

    tasks = shard.tasks(cert, paths[0], model.sha256, paths[1], sha, SHARDS)  # cert's semantics

    def ticked(results: Any) -> Any:
        for n, r in enumerate(results):
            if progress is not None:
                progress("shards", n + 1, len(tasks))
            yield r

    return shard.merge(cert, model.sha256, sha, ticked(pool.map(shard.check_shard, tasks)))


def check(
    cert_path: str | Path,
    model_path: str | Path,
    progress: Progress | None = None,
    pool: Any = None,
) -> Verdict:
    """Return the Verdict for certificate ``cert_path`` on model ``model_path``.

    With ``pool`` (any object with ``map``), the counting steps are replayed in shards by the
    pool's workers and merged by checker.shard (each counting step exactly once).
    Reject (``CheckError``) if the model or certificate is malformed, the certificate is
    bound to another model, task or semantics, any step fails, or the claimed bound exceeds
    proven / total.
    """
    t0 = time.perf_counter()
    B.check_fp_environment()
    raw, cert = read_certificate(cert_path)
    model = float32.bind(load_model(model_path), cert.semantics)
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
    sha = hashlib.sha256(raw).hexdigest()
    reports = _replay_all(cert, model, (str(model_path), str(cert_path)), sha, pool, progress)
    proven, _, _ = tally(reports)
    total = model.total
    require(
        cert.bound <= fmpq(proven, total),
        Reason.BOUND_NOT_PROVEN,
        f"final: claimed bound {cert.bound} exceeds proven {proven}/{total}",
    )
    return Verdict(
        _KERNEL,
        bound=cert.bound,
        proven=proven,
        total=total,
        ops=sum(r.ops for r in reports) + cert.header_numbers,
        ops_by_rule=breakdown(reports, cert.header_numbers),
        certificate_bytes=len(raw),
        certificate_gzip_bytes=len(gzip.compress(raw, compresslevel=6, mtime=0)),
        model_sha256=model.sha256,
        certificate_sha256=sha,
        checker_version=CHECKER_VERSION,
        seconds=time.perf_counter() - t0,
        theorem=model.theorem(),
        semantics=cert.semantics,
        strategy=cert.strategy,
        steps=len(reports),
    )


_PRODUCTS = {"EVOU": ("EV", "OU", False), "PVOU": ("PV", "OU", False)}
_PRODUCTS |= {"EQKE": ("EQ", "EK", True), "EQKP": ("EQ", "PK", True)}
_FACTORS = ("EQ", "EK", "PK", "EV", "PV", "OU")
_ROLES = {"evou": "EVOU", "pvou": "PVOU", "g": "exp.EQKE", "f": "exp.EQKP"}


def brute_trace(model: Model) -> Certificate:
    """The brute-force trace (the layout of generators.strategies.brute_force), without
    claims: what ``exact_accuracy`` replays."""

    def st(sid: str, rule: str, cite: dict[str, Any], args: dict[str, Any]) -> Step:
        return Step(0, sid, rule, cite, args, {})

    steps, hs = [st("EU", "factor", {}, {"name": "EU", "head": 0})], range(model.h)
    for h in hs:
        steps += [st(f"{n}{h}", "factor", {}, {"name": n, "head": h}) for n in _FACTORS]  # fmt: skip  # noqa: E501
        for m, (a, b, t) in _PRODUCTS.items():
            steps.append(st(f"{m}{h}", "matmul", {"a": f"{a}{h}", "b": f"{b}{h}"}, {"transpose_b": t}))  # fmt: skip  # noqa: E501
        steps += [st(f"exp.{x}{h}", "exp", {"scores": f"{x}{h}"}, {}) for x in ("EQKE", "EQKP")]
    heads = {r: [f"{x}{h}" for h in hs] for r, x in _ROLES.items()}
    steps += [st(f"q{q}", "enumerate", {"eupu": "EU", **heads}, {"query": q}) for q in range(model.v)]  # fmt: skip  # noqa: E501
    return Certificate(
        TASK, model.sha256, model.semantics, "brute-force", fmpq(0), {}, tuple(steps)
    )


def exact_accuracy(
    model: Model, progress: Progress | None = None, pool: Any = None, path: str = ""
) -> tuple[int, int, int, int]:
    """Return (correct, incorrect, undecided, total) over all v^k inputs, rigorously: the
    kernel's own brute-force trace replayed without claims (sharded over ``pool``, whose
    workers read the model at ``path``)."""
    B.check_fp_environment()
    reports = _replay_all(brute_trace(model), model, (path, None), "brute", pool, progress, False)
    return (*tally(reports), model.total)
