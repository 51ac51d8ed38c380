"""Shared test helpers, in one module (test files import this, never each other).

* exact references: ``fq``, ``outside`` (zero-tolerance containment against fmpq),
  ``exact_tables`` (the path tables of DESIGN.md §4 in fmpq, written out independently of the
  kernel), ``exp_outside`` (exps against mpmath intervals), ``exact_w`` (margin bounds);
* models: ``save`` / ``model_of`` (tiny models from weights), ``random_weights``,
  ``copy_noise_weights`` / ``mixture_model``, ``direct_only_weights``, ``mode_correct``
  (closed form of the tie model); the adversarial models live in generators/liars.py and the
  arb reference forward pass in tests/reference.py;
* case bookkeeping: ``case_of``, ``allowed_bits``, ``covered_inputs``, ``split_of``,
  ``split_candidates``;
* traces: ``tables_trace`` (a Trace with the path tables built), ``replay_steps`` (replay
  steps in memory), ``reason_of``, ``write_cert``, ``prove_to``;
* the mutation machinery: ``Mutant``, ``mutate``, ``apply``, ``run_mutant``;
* ``false_bound_report``: honest strategies checked against the arb reference (the
  ``FALSE BOUND`` detector of the kernel mutants).
"""

from __future__ import annotations
import __future__

import inspect
import itertools
import sys
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
from flint import fmpq, fmpq_mat
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from reference import reference_per_input

from certificates.writer import write
from checker import CheckError, Model, Reason, kernel, load_model
from checker import balls as B
from checker import lemmas as L
from checker.cert import Certificate, Step
from checker.model import TASK
from generators.tinymodels import make_weights, write_model
from generators.trace import Trace

FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
FB = "FALSE BOUND"

# ---- drawing ball operands (hypothesis) ---------------------------------------------------

POINTS = st.sampled_from([-1.0, -0.5, 0.0, 0.75, 1.0])  # a point of a ball: mid + f rad


def draw_array(data: Any, shape: tuple[int, ...], s: Any) -> np.ndarray:
    size = int(np.prod(shape))
    return np.array(data.draw(st.lists(s, min_size=size, max_size=size))).reshape(shape)


def draw_ball_operands(
    data: Any,
    m: int,
    n: int,
    c: int,
    t: bool,
    scale: float = 1e6,
    radii: tuple = (0.0, 2.0**-40, 0.25, 3.0),
) -> tuple[B.Ball, B.Ball, np.ndarray, np.ndarray]:
    """Balls a [m, n] and b [c, n] (``t``) or [n, c], float32-representable mids up to
    ``scale`` or small integers, radii from ``radii``; and point fractions for each."""
    floats = st.one_of(st.floats(-scale, scale, width=32), st.integers(-9, 9).map(float))
    rs = st.sampled_from(radii)
    sb = (c, n) if t else (n, c)
    a = B.ball(draw_array(data, (m, n), floats), draw_array(data, (m, n), rs))
    b = B.ball(draw_array(data, sb, floats), draw_array(data, sb, rs))
    return a, b, draw_array(data, (m, n), POINTS), draw_array(data, sb, POINTS)


# ---- exact helpers ---------------------------------------------------------------------------


def fq(x: Any) -> fmpq:
    """The exact rational value of a float, int, Fraction or fmpq."""
    if isinstance(x, Fraction):
        return fmpq(x.numerator, x.denominator)
    if isinstance(x, fmpq):
        return x
    n, d = float(x).as_integer_ratio()
    return fmpq(n, d)


def outside(ball: B.Ball, exact: Any) -> list[tuple[int, ...]]:
    """Indices where the exact value (nested lists of rationals) is not inside the ball.
    An "unknown" ball (rad = inf) contains everything."""
    lo, hi = B.to_fmpq_bounds(ball)
    flat = np.array(exact, dtype=object).reshape(-1)
    assert len(flat) == len(lo), (ball.shape, np.array(exact, dtype=object).shape)
    bad = []
    for i, x in enumerate(flat):
        if lo[i] is not None and hi[i] is not None and not lo[i] <= fq(x) <= hi[i]:
            bad.append(tuple(int(j) for j in np.unravel_index(i, ball.shape)))
    return bad


def _mat(a: np.ndarray) -> fmpq_mat:
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    return fmpq_mat(a.shape[0], a.shape[1], [fq(x) for x in a.ravel()])


def _rows(n: int, row: np.ndarray) -> fmpq_mat:
    return _mat(np.broadcast_to(row, (n, row.shape[-1])).copy())


def _lists(m: fmpq_mat) -> list[list[fmpq]]:
    return [[m[i, j] for j in range(m.ncols())] for i in range(m.nrows())]


FACTORS = ("EQ", "EK", "PK", "EV", "PV", "OU", "EU")


def exact_tables(M: Model) -> dict[str, Any]:
    """The factors (rule ``factor``'s names) and path tables of DESIGN.md §4, exactly in fmpq.

    Per-head tables are lists over heads; EUPU is one matrix.  Biases folded in as in the
    docstring of checker/rules/factor.py, written out independently here.
    """
    v, k = M.v, M.k
    E_q = _mat(M.W_E) + _rows(v, M.W_pos[k - 1])
    WU = _mat(M.W_U)
    out: dict[str, Any] = {n: [] for n in ("EQKE", "EQKP", "EVOU", "PVOU", *FACTORS[:-1])}
    out["EUPU"] = _lists(E_q * WU + _rows(v, M.b_O) * WU + _rows(v, M.b_U))
    out["EU"] = out["EUPU"]
    for i in range(M.h):
        Q = E_q * _mat(M.W_Q[i]) + _rows(v, M.b_Q[i])
        Kt = _mat(M.W_E) * _mat(M.W_K[i])
        Kp = _mat(M.W_pos) * _mat(M.W_K[i]) + _rows(k, M.b_K[i])
        OU = _mat(M.W_O[i]) * WU
        Vt = _mat(M.W_E) * _mat(M.W_V[i])
        Vp = _mat(M.W_pos) * _mat(M.W_V[i]) + _rows(k, M.b_V[i])
        out["EQKE"].append(_lists(Q * Kt.transpose()))
        out["EQKP"].append(_lists(Q * Kp.transpose()))
        out["EVOU"].append(_lists(Vt * OU))
        out["PVOU"].append(_lists(Vp * OU))
        for name, f in zip(FACTORS, (Q, Kt, Kp, Vt, Vp, OU), strict=False):
            out[name].append(_lists(f))
    return out


def _mpf_exact(x: fmpq) -> tuple:
    """The exact mpmath value (raw mpf tuple) of a dyadic rational (a ball's end)."""
    p, q = int(x.p), int(x.q)
    assert q & (q - 1) == 0, "ball ends are dyadic"
    return mpmath.libmp.from_man_exp(p, -(q.bit_length() - 1))


def exp_outside(ball: B.Ball, scores: list[fmpq], shift: float, e: int) -> list[int]:
    """Flat indices where exp((s - shift)/sqrt(e)) is not inside the ball.

    The exact value is enclosed by mpmath intervals, compared exactly (raw mpf) with the
    ball's dyadic ends; precision rises (300, 1500, 6000 bits) while the interval straddles
    an end.  An "unknown" ball contains everything.
    """
    lo, hi = B.to_fmpq_bounds(ball)
    le = mpmath.libmp.mpf_le
    iv = mpmath.iv
    bad = []
    old = iv.prec
    try:
        for i, s in enumerate(scores):
            if lo[i] is None or hi[i] is None:
                continue
            lo_, hi_ = _mpf_exact(lo[i]), _mpf_exact(hi[i])
            for prec in (300, 1500, 6000):
                iv.prec = prec
                z = (iv.mpf(int(s.p)) / iv.mpf(int(s.q)) - iv.mpf(shift)) / iv.sqrt(iv.mpf(e))
                a, b = iv.exp(z)._mpi_
                if le(lo_, a) and le(b, hi_):
                    break  # inside
                if not le(a, hi_) or not le(lo_, b):
                    bad.append(i)  # certainly outside
                    break
            else:
                bad.append(i)
    finally:
        iv.prec = old
    return bad


def exact_w(ex: dict[str, Any], q: int, variant: str, v: int, k: int) -> list:
    """w[m][p][t] exactly (fmpq) for the margin bound of each variant: ``paper`` (value
    positions=worst + margin), ``positional`` (positions=each + margin), ``paired`` (the true
    minimum over y != m of D_y + Ev(t, y) + Pv(p, y))."""
    eu, ev, pv = ex["EUPU"], ex["EVOU"][0], ex["PVOU"][0]
    w: list = []
    for m in range(v):
        ys = [y for y in range(v) if y != m]
        D = {y: eu[q][m] - eu[q][y] for y in ys}

        def Ev(t: int, y: int, m: int = m) -> fmpq:
            return ev[t][m] - ev[t][y]

        def Pv(p: int, y: int, m: int = m) -> fmpq:
            return pv[p][m] - pv[p][y]

        rows = []
        for p in range(k):
            row = []
            for t in range(v):
                if variant == "paper":
                    val = min(D.values()) + min(
                        Ev(t, y) + min(Pv(r, y) for r in range(k)) for y in ys
                    )
                elif variant == "positional":
                    val = min(D.values()) + min(Ev(t, y) + Pv(p, y) for y in ys)
                else:
                    val = min(D[y] + Ev(t, y) + Pv(p, y) for y in ys)
                row.append(val)
            rows.append(row)
        w.append(rows)
    return w


# ---- models ----------------------------------------------------------------------------------


def save(tmp: Path, name: str, weights: dict[str, Any]) -> Path:
    return write_model(
        tmp / f"{name}.safetensors",
        {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()},
    )


def model_of(tmp: Path, name: str, weights: dict[str, Any]) -> Model:
    return load_model(save(tmp, name, weights))


def tiny_model(tmp: Path, seed: int = 11, name: str = "p") -> Model:
    """The rule tests' tiny one-head model with biases (v=4, k=3, d=3, e=2; seed 11 is the
    conftest ``tiny_path`` model), read by the kernel."""
    return model_of(
        tmp, f"{name}{seed}", make_weights(np.random.default_rng(seed), 4, 3, 3, 1, 2, "biased")
    )


def random_weights(seed: int, kind: str, heads: int | None = None) -> dict[str, np.ndarray]:
    """A random tiny model (v 2-4, k 2-3, d 1-3, h 1-2, e 1-3); ``int``: small integers
    (exact ties between logits and between tokens)."""
    rng = np.random.default_rng(seed)
    v, k = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    d, h, e = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    h = heads or h
    if kind == "int":
        w = make_weights(rng, v, k, d, h, e, "biased")
        return {key: np.round(a * 1.5) for key, a in w.items()}
    return make_weights(rng, v, k, d, h, e, kind)


def copy_noise_weights(rng: np.random.Generator, v: int, k: int) -> dict[str, np.ndarray]:
    """A max-copying model (scores grow with the token, EVOU ~ identity) with random noise in
    every table: many cases are proven, some only just."""
    from generators.liars import Head, table_weights

    beta, alpha, noise = rng.uniform(0.5, 4), rng.uniform(1, 4), rng.uniform(0, 1.5)

    def n(*shape: int) -> list:
        return (rng.standard_normal(shape) * noise).tolist()

    head = Head(
        s=(beta * np.arange(v) + np.array(n(v))).tolist(),
        r=n(k),
        evou=(alpha * np.eye(v) + np.array(n(v, v))).tolist(),
        pvou=n(k, v),
    )
    return table_weights([head], n(v, v))


def mixture_model(tmp: Path, seed: int, style: str) -> Model:
    """A one-head model with v^k <= 300 (so the arb reference is quick)."""
    rng = np.random.default_rng(seed)
    v, k = int(rng.integers(3, 6)), int(rng.integers(2, 5))
    while v**k > 300:
        v -= 1
    if style == "copy-noise":
        w = copy_noise_weights(rng, v, k)
    else:
        w = make_weights(rng, v, k, int(rng.integers(2, 6)), 1, int(rng.integers(1, 4)), style)
    return model_of(tmp, f"mx{seed}-{style}", w)


def direct_only_weights(v: int, k: int) -> dict[str, np.ndarray]:
    """logit = one-hot(query): x is correct iff max(x) = q, so the Count of query q is
    ((q+1)^(k-1) correct, v^(k-1) - (q+1)^(k-1) incorrect, 0 undecided)."""
    z = np.zeros
    return {
        "embed.W_E": np.eye(v),
        "pos_embed.W_pos": z((k, v)),
        "blocks.0.attn.W_Q": z((1, v, 1)),
        "blocks.0.attn.W_K": z((1, v, 1)),
        "blocks.0.attn.W_V": z((1, v, 1)),
        "blocks.0.attn.W_O": z((1, 1, v)),
        "unembed.W_U": np.eye(v),
    }


def mode_correct(x: tuple[int, ...]) -> bool:
    """Closed form of the tie model: the max is strictly the most frequent token."""
    m = max(x)
    return all(x.count(m) > x.count(y) for y in set(x) if y != m)


# ---- cases -----------------------------------------------------------------------------------


def case_of(x: tuple[int, ...]) -> tuple[int, int, frozenset[int]]:
    """(m, c, the non-max tokens) of input x (query last)."""
    m = max(x)
    others = [t for t in x[:-1] if t != m]
    return m, len(others), frozenset(others)


def allowed_bits(v: int, k: int, q: int) -> np.ndarray:
    """The [m, c, t] bits a token-set hint may set: valid (m, c) and t < m."""
    valid = L.valid_cases(v, k, q)
    return valid[:, :, None] & (np.arange(v)[None, None, :] < np.arange(v)[:, None, None])


def covered_inputs(v: int, k: int, q: int, sets: np.ndarray, proven: np.ndarray) -> list:
    """The inputs with query q inside a case marked proven (non-max tokens all in G)."""
    out = []
    for p in itertools.product(range(v), repeat=k - 1):
        x = (*p, q)
        m, c, toks = case_of(x)
        if proven[m, c] and all(sets[m, c, t] for t in toks):
            out.append(x)
    return out


def split_of(x: tuple[int, ...], sets: np.ndarray) -> tuple[int, int, int] | None:
    """(m, c, t) if x lies in a split case for G = sets[m, c]: exactly one non-max position
    (query excluded) holds a token t outside G, and c >= 1."""
    m, c, _ = case_of(x)
    out = [t for t in x[:-1] if t != m and not sets[m, c, t]]
    return (m, c, out[0]) if c >= 1 and len(out) == 1 else None


def split_candidates(v: int, k: int, q: int, sets: np.ndarray) -> np.ndarray:
    cand = allowed_bits(v, k, q) & ~sets
    cand[:, 0] = False
    return cand


def covered_with_split(v, k, q, sets, proven, split, split_ok) -> list[tuple[int, ...]]:
    """Inputs with query q in a counted G-case or a counted split case (by definition)."""
    out = []
    for p in itertools.product(range(v), repeat=k - 1):
        x = (*p, q)
        m, c, toks = case_of(x)
        if proven[m, c] and all(sets[m, c, t] for t in toks):
            out.append(x)
            continue
        s = split_of(x, sets)
        if s is not None and split[s] and split_ok[s]:
            out.append(x)
    return out


# ---- traces and certificates -----------------------------------------------------------------


def tables_trace(M: Model) -> tuple[Trace, str, list[dict[str, str]]]:
    """A Trace on M with EU and every head's EVOU, PVOU, g, f built (ids as Trace names
    them: EU, EQ0, ..., EVOU0, PVOU0, EQKE0, exp.EQKE0, EQKP0, exp.EQKP0)."""
    t = Trace(M)
    eu, heads = t.path_tables()
    return t, eu, heads


def step(sid: str, rule: str, cite=None, args=None, claim=None) -> dict[str, Any]:
    return {"id": sid, "rule": rule, "cite": cite or {}, "args": args or {}, "claim": claim or {}}


def certificate(M: Model, steps: list[dict], arrays=None, bound: Any = 0) -> Certificate:
    """An in-memory certificate (no file: the reader is tested elsewhere)."""
    parsed = tuple(
        Step(i, s["id"], s["rule"], s["cite"], s["args"], s["claim"]) for i, s in enumerate(steps)
    )
    return Certificate(TASK, M.sha256, "real", "test", fq(Fraction(bound)), arrays or {}, parsed)


def replay_steps(M: Model, steps: list[dict], arrays=None) -> kernel.Replay:
    """Replay ``steps`` on M with the kernel's loop and check coverage (``kernel.tally``:
    each query counted once); return the final state."""
    st = kernel.replay(certificate(M, steps, arrays), M)
    kernel.tally(st.reports)
    return st


def proven_of(M: Model, steps: list[dict], arrays=None) -> int:
    """The number of inputs the kernel proves correct from ``steps`` (replay + coverage)."""
    return kernel.tally(kernel.replay(certificate(M, steps, arrays), M).reports)[0]


def enum_tables(M: Model) -> Any:
    """The path tables rule ``enumerate`` reads (built by the brute-force trace's steps)."""
    from checker.rules import enumerate as en

    t, eu, heads = tables_trace(M)
    cites = {"eupu": t.results[eu]}
    cites |= {r: [t.results[h[r]] for h in heads] for r in ("evou", "pvou", "g", "f")}
    return en._tables(M, cites)


def reason_of(fn: Callable[[], Any]) -> Reason | None:
    """The Reason ``fn()`` is rejected with, or None if it passes."""
    try:
        fn()
    except CheckError as exc:
        return exc.reason
    return None


def replay_reason(M: Model, steps: list[dict], arrays=None) -> Reason | None:
    return reason_of(lambda: replay_steps(M, steps, arrays))


def write_cert(tmp: Path, model: Path, steps: list, bound: Any, arrays=None) -> Path:
    m = load_model(model)
    out = tmp / f"c{len(list(tmp.iterdir()))}.cert"
    write(out, model_sha256=m.sha256, strategy="t", bound=bound, steps=steps, arrays=arrays or {})
    return out


def check_reason(cert: Path, model: Path) -> Reason | None:
    return reason_of(lambda: kernel.check(cert, model))


def prove_to(model_path: Path, strategy: str, out: Path) -> Path:
    from generators.strategies import REGISTRY

    m = load_model(model_path)
    REGISTRY[strategy].prove(m, None).write(out, m.sha256)
    return out


# ---- the mutation machinery ------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """Replace each ``old`` (which must occur exactly once) by ``new`` in ``module.func``;
    ``caught_by`` names the detectors that must then fail, with a tag their failure message
    must contain (``FALSE BOUND``: the mutated kernel verified a bound above the exact
    accuracy; ``DID NOT RAISE`` / ``assert``: a precondition test lost its rejection)."""

    module: types.ModuleType
    func: str
    edits: tuple[tuple[str, str], ...]
    caught_by: tuple[tuple[str, str], ...]
    what: str


def mutate(mutant: Mutant) -> Callable[..., Any]:
    """Return the mutated function, with the original's module globals."""
    orig = getattr(mutant.module, mutant.func)
    src = textwrap.dedent(inspect.getsource(orig))
    for old, new in mutant.edits:
        assert src.count(old) == 1, f"mutant edit no longer applies to {mutant.func}: {old!r}"
        src = src.replace(old, new)
    code = compile(
        src,
        f"<mutant of {mutant.module.__name__}.{mutant.func}>",
        "exec",
        flags=__future__.annotations.compiler_flag,
        dont_inherit=True,
    )
    scratch = dict(mutant.module.__dict__)
    exec(code, scratch)
    fn = scratch[mutant.func]
    return types.FunctionType(
        fn.__code__, mutant.module.__dict__, mutant.func, fn.__defaults__, fn.__closure__
    )


def apply(mp: pytest.MonkeyPatch, mutant: Mutant) -> None:
    """Install the mutant wherever the original function is referenced by name."""
    orig = getattr(mutant.module, mutant.func)
    fn = mutate(mutant)
    for mod in list(sys.modules.values()):
        if isinstance(mod, types.ModuleType) and vars(mod).get(mutant.func) is orig:
            mp.setattr(mod, mutant.func, fn)


def run_mutant(
    mutant: Mutant, detectors: dict[str, Callable[[Path], None]], tmp: Path, mp: pytest.MonkeyPatch
) -> None:
    """Assert that every detector the mutant names fails under it with the right tag."""
    for name, tag in mutant.caught_by:
        sub = tmp / name
        sub.mkdir(exist_ok=True)
        with mp.context() as m:
            apply(m, mutant)
            with pytest.raises(BaseException) as exc:
                detectors[name](sub)
        assert exc.type is not KeyboardInterrupt
        text = f"{exc.typename}: {exc.value}"
        assert tag in text, f"{mutant.what} / {name}: {text[:400]}"


def mutant_tests(detectors: dict[str, Callable[[Path], None]], mutants: dict[str, Mutant]):
    """The two tests every kernel test module with a mutant table runs, parametrized by name:
    each detector passes on the real kernel, and each mutant is caught by its detectors.
    Use: ``test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)``."""

    @pytest.mark.parametrize("name", sorted(detectors))
    def test_detectors_pass(name: str, tmp_path: Path) -> None:
        detectors[name](tmp_path)

    @pytest.mark.parametrize("name", sorted(mutants))
    def test_mutant_is_caught(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        run_mutant(mutants[name], detectors, tmp_path, monkeypatch)

    return test_detectors_pass, test_mutant_is_caught


# ---- the FALSE BOUND detector ----------------------------------------------------------------

_TRUTH: dict[str, dict] = {}


def truth_of(path: Path) -> dict[tuple[int, ...], bool | None]:
    """The arb reference's verdict per input (cached per model file content)."""
    import hashlib

    key = hashlib.sha256(path.read_bytes()).hexdigest()
    if key not in _TRUTH:
        _TRUTH[key] = reference_per_input(load_model(path))
    return _TRUTH[key]


def false_bound_report(models: list[Path], tmp: Path, strategies: list[str] | None = None) -> None:
    """Prove every model with the honest strategies (with whatever kernel is installed:
    the generators evaluate steps with the kernel's own rule functions), check, and compare
    each verified bound with the exact accuracy from the arb reference.  Raise
    AssertionError('FALSE BOUND ...') if a bound exceeds it."""
    from generators.strategies import REGISTRY

    problems = []
    for path in models:
        M = load_model(path)
        truth = truth_of(path)
        exact = Fraction(sum(r is True for r in truth.values()), M.total)
        for name in strategies or sorted(REGISTRY):
            if M.h != 1 and name != "brute-force":
                continue
            cert = tmp / f"{path.stem}-{name}.cert"
            REGISTRY[name].prove(M, None).write(cert, M.sha256)
            try:
                verdict = kernel.check(cert, path)
            except CheckError:
                continue  # a rejection is not a false bound
            got = Fraction(int(verdict.bound.p), int(verdict.bound.q))
            if got > exact:
                problems.append(f"{FB} {name}@{path.stem}: {got} > exact {exact}")
    assert not problems, "; ".join(problems)


def adversarial_models(tmp: Path) -> list[Path]:
    """Small models on which unsound kernels give false bounds: copy-noise models and the
    trap models of generators/liars.py (mixture, direct, poison, two heads, tie)."""
    from generators.liars import direct_trap, mixture_trap, poison_trap, tie_model, two_head_trap

    out = []
    for seed in (1, 2, 3, 4):
        rng = np.random.default_rng(seed)
        v, k = int(rng.integers(3, 6)), int(rng.integers(2, 5))
        while v**k > 300:
            v -= 1
        out.append(save(tmp, f"copy-noise-{seed}", copy_noise_weights(rng, v, k)))
    out.append(mixture_trap(tmp / "mixture.safetensors"))
    out.append(direct_trap(tmp / "direct.safetensors"))
    out.append(poison_trap(tmp / "poison.safetensors"))
    out.append(two_head_trap(tmp / "two-heads.safetensors"))
    out.append(tie_model(tmp / "tie.safetensors", 3, 3, 1))
    return out
