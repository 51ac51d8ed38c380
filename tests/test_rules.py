"""Per-lemma tests of the kernel (docs/kernel.md says which test covers which lemma).

Closed forms on hand-built toy models, containment against exact ``fmpq`` and ``mpmath``
intervals, zero-tolerance hypothesis properties of the cubic family's lemmas, and the
kernel's rule-level checks (coverage, claims, final bound, heads).

The ``check_*`` helpers are also the detectors tests/test_kernel_mutants.py runs against
mutated kernels: each raises AssertionError whose message starts with a tag naming the lemma
it guards (``PATH-TABLES``, ``EXP``, ``BRUTE``, ``COUNT``, ``VALUE``, ``MIXTURE``,
``EXTREMES``).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
from flint import fmpq, fmpq_mat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_per_input

from certificates.writer import write
from checker import CheckError, Model, Reason, brute, cases, kernel, load_model
from checker import balls as B
from checker.tables import Tables, _exp_table, path_tables
from generators.liars import Head, table_weights, tie_model
from generators.strategies.cubic import choose_sets
from generators.tinymodels import make_weights, write_model

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# ---- exact helpers ----------------------------------------------------------------------------


def fq(x: Any) -> fmpq:
    """The exact rational value of a float, int or Fraction."""
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


def exact_tables(M: Model) -> dict[str, Any]:
    """The path tables of tables.py computed exactly in fmpq, straight from the formulas.

    Per-head tables are lists over heads; EUPU is one matrix.  Biases are folded in as in
    the docstring of checker/tables.py, written out independently here.
    """
    v, k = M.v, M.k
    E_q = _mat(M.W_E) + _rows(v, M.W_pos[k - 1])
    WU = _mat(M.W_U)
    out: dict[str, Any] = {"EQKE": [], "EQKP": [], "EVOU": [], "PVOU": []}
    out["EUPU"] = _lists(E_q * WU + _rows(v, M.b_O) * WU + _rows(v, M.b_U))
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
    return out


def _mpf_exact(x: fmpq) -> tuple:
    """The exact mpmath value (raw mpf tuple) of a dyadic rational (a ball's end)."""
    p, q = int(x.p), int(x.q)
    assert q & (q - 1) == 0, "ball ends are dyadic"
    return mpmath.libmp.from_man_exp(p, -(q.bit_length() - 1))


def exp_outside(ball: B.Ball, scores: list[fmpq], shift: float, e: int) -> list[int]:
    """Indices where exp((s - shift)/sqrt(e)) is not inside the ball (flat, C order).

    The exact value is enclosed by mpmath intervals, compared exactly (raw mpf) with the
    ball's dyadic ends; precision rises (300, 1500, 6000 bits) while the interval straddles
    an end.  An "unknown" ball (rad = inf, e.g. for an astronomically large exp) contains
    everything.
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
            L, H = _mpf_exact(lo[i]), _mpf_exact(hi[i])
            for prec in (300, 1500, 6000):
                iv.prec = prec
                z = (iv.mpf(int(s.p)) / iv.mpf(int(s.q)) - iv.mpf(shift)) / iv.sqrt(iv.mpf(e))
                a, b = iv.exp(z)._mpi_
                if le(L, a) and le(b, H):
                    break  # inside
                if not le(a, H) or not le(L, b):
                    bad.append(i)  # certainly outside
                    break
            else:
                bad.append(i)  # undecided at 6000 bits: an end within 2^-6000 of the value
    finally:
        iv.prec = old
    return bad


def save(tmp: Path, name: str, weights: dict[str, Any]) -> Path:
    return write_model(
        tmp / f"{name}.safetensors",
        {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()},
    )


# ---- path tables: closed form on a hand-computed toy ------------------------------------------

# v=3, k=2, d=2, one head, e=1 (so 1/sqrt(e) = 1), every bias nonzero.
TOY = {
    "embed.W_E": [[1, 0], [0, 1], [2, 1]],
    "pos_embed.W_pos": [[0, 1], [2, 0]],
    "blocks.0.attn.W_Q": [[[1], [0]]],  # Q reads coordinate 0
    "blocks.0.attn.W_K": [[[0], [1]]],  # K reads coordinate 1
    "blocks.0.attn.W_V": [[[1], [1]]],  # V = coordinate 0 + coordinate 1
    "blocks.0.attn.W_O": [[[1, -1]]],
    "blocks.0.attn.b_Q": [[1]],
    "blocks.0.attn.b_K": [[2]],
    "blocks.0.attn.b_V": [[-1]],
    "blocks.0.attn.b_O": [0.5, 0],
    "unembed.W_U": [[1, 0, -1], [0, 1, 2]],
    "unembed.b_U": [0, 0, 1],
}
# By hand: E_q = W_E + W_pos[1] = [[3,0],[2,1],[4,1]];  Q = E_q[:,0] + b_Q = [4,3,5];
# K(token) = W_E[:,1] = [0,1,1];  K(pos) = W_pos[:,1] + b_K = [3,2];
# OU = W_O W_U = [1,-1,-3];  V(token) = [1,1,3];  V(pos) = [1,2] + b_V = [0,1];
# EUPU = E_q W_U + b_O W_U + b_U, row [a,b] -> [a, b, 2b - a] plus [0.5, 0, 0.5].
TOY_TABLES = {
    "EQKE": [[0, 4, 4], [0, 3, 3], [0, 5, 5]],  # Q ⊗ K(token)
    "EQKP": [[12, 8], [9, 6], [15, 10]],  # Q ⊗ K(pos)
    "EVOU": [[1, -1, -3], [1, -1, -3], [3, -3, -9]],  # V(token) ⊗ OU
    "PVOU": [[0, 0, 0], [1, -1, -3]],  # V(pos) ⊗ OU
    "EUPU": [[3.5, 0, -2.5], [2.5, 1, 0.5], [4.5, 1, -1.5]],
}


def check_toy_path_tables(tmp: Path) -> None:
    """PATH-TABLES: the kernel's tables of TOY contain the hand-computed values (tight), and
    g, f contain exp(score - row max) (e = 1)."""
    T = path_tables(load_model(save(tmp, "toy", TOY)))
    for name, want in TOY_TABLES.items():
        ball = getattr(T, name)
        if name != "EUPU":
            ball = B.Ball(ball.mid[0], ball.rad[0])
        bad = outside(ball, [[Fraction(x) for x in row] for row in want])
        assert not bad, f"PATH-TABLES: {name} misses the hand value at {bad[:3]}"
        assert float(ball.rad.max()) <= 1e-12, f"PATH-TABLES: {name} radius not tight"
    for name, sc in (("g", TOY_TABLES["EQKE"]), ("f", TOY_TABLES["EQKP"])):
        ball = getattr(T, name)
        for q, row in enumerate(sc):
            b = B.Ball(ball.mid[0, q], ball.rad[0, q])
            bad = exp_outside(b, [fmpq(x) for x in row], float(max(row)), 1)
            assert not bad, f"EXP: {name}[{q}] misses exp(score - max) at {bad}"


def test_path_tables_toy_closed_form(tmp_path):
    check_toy_path_tables(tmp_path)


def check_tables_contain_exact(M: Model) -> None:
    """PATH-TABLES / EXP: every table of ``M`` contains the exact fmpq value of its formula;
    g and f contain exp((exact score - the kernel's row shift)/sqrt(e)) (mpmath, 300 bits)."""
    T = path_tables(M)
    ex = exact_tables(M)
    for name in ("EQKE", "EQKP", "EVOU", "PVOU"):
        ball = getattr(T, name)
        bad = outside(ball, ex[name])
        assert not bad, f"PATH-TABLES: {name} misses the exact value at {bad[:3]}"
    bad = outside(T.EUPU, ex["EUPU"])
    assert not bad, f"PATH-TABLES: EUPU misses the exact value at {bad[:3]}"
    for name, sc in (("g", "EQKE"), ("f", "EQKP")):
        ball = getattr(T, name)
        score = getattr(T, sc)
        for i in range(M.h):
            for q in range(M.v):
                shift = float(np.max(score.mid[i, q]))
                b = B.Ball(ball.mid[i, q], ball.rad[i, q])
                bad = exp_outside(b, ex[sc][i][q], shift, M.e)
                assert not bad, f"EXP: {name}[{i},{q}] misses the exact exp at {bad}"


def _random_weights(seed: int, kind: str, heads: int | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    v, k = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    d, h, e = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
    h = heads or h
    if kind == "int":  # small integers: exact ties between logits and between tokens
        w = make_weights(rng, v, k, d, h, e, "biased")
        return {key: np.round(a * 1.5) for key, a in w.items()}
    return make_weights(rng, v, k, d, h, e, kind)


@FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased", "huge"]))
def test_path_tables_contain_exact(tmp_path, seed, kind):
    check_tables_contain_exact(load_model(save(tmp_path, f"r{seed}", _random_weights(seed, kind))))


def check_exp_table(scores: np.ndarray, e: int) -> None:
    """EXP: _exp_table encloses exp((s - max_row)/sqrt(e)) for exact input scores."""
    out = _exp_table(B.exact(scores), e)
    for r in range(scores.shape[0]):
        b = B.Ball(out.mid[r], out.rad[r])
        bad = exp_outside(b, [fq(x) for x in scores[r]], float(scores[r].max()), e)
        assert not bad, f"EXP: row {r} misses the exact exp at {bad}"


@FAST
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.floats(-800, 800, allow_nan=False, width=64),
                st.integers(-40, 40).map(float),
                st.sampled_from([0.0, 1e-300, -1e-300, 5e-324, 2.0**-1022]),
            ),
            min_size=3,
            max_size=3,
        ),
        min_size=1,
        max_size=3,
    ),
    e=st.integers(1, 40),
)
def test_exp_table_against_mpmath(rows, e):
    check_exp_table(np.array(rows, dtype=np.float64), e)


def test_exp_table_fixed_grid():
    check_exp_table(np.array([[0.0, 1.0, -1.0], [700.0, -700.0, 0.5], [3.0, 3.0, 3.0]]), 7)


# ---- brute force: closed forms -----------------------------------------------------------------


def direct_only_weights(v: int, k: int) -> dict[str, np.ndarray]:
    """logit = one-hot(query): x is correct iff max(x) = q, so decide_query(q) must return
    ((q+1)^(k-1), v^(k-1) - (q+1)^(k-1), 0) (every margin is exactly +1 or -1)."""
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


def check_brute_closed_forms(tmp: Path) -> None:
    """BRUTE: decide_query agrees with two closed forms (one and two heads, exact ties)."""
    v, k = 4, 3
    T = path_tables(load_model(save(tmp, "direct", direct_only_weights(v, k))))
    for q in range(v):
        c, i, u, _ = brute.decide_query(T, q)
        want = (q + 1) ** (k - 1)
        assert (c, i, u) == (want, v ** (k - 1) - want, 0), f"BRUTE: direct q={q}: {(c, i, u)}"
    for heads in (1, 2):
        v, k = 3, 3
        T = path_tables(load_model(tie_model(tmp / f"tie{heads}.safetensors", v, k, heads)))
        for q in range(v):
            xs = [(*p, q) for p in itertools.product(range(v), repeat=k - 1)]
            want = sum(mode_correct(x) for x in xs)
            beaten = sum(any(x.count(y) > x.count(max(x)) for y in x) for x in xs)
            c, i, u, _ = brute.decide_query(T, q)
            assert c == want, f"BRUTE: tie model h={heads} q={q}: {c} correct, want {want}"
            assert i >= beaten and c + i + u == len(xs), f"BRUTE: tie h={heads} q={q}"


def test_brute_closed_forms(tmp_path):
    check_brute_closed_forms(tmp_path)


# ---- cases.py: the count lemma --------------------------------------------------------------


def case_of(x: tuple[int, ...]) -> tuple[int, int, frozenset[int]]:
    """(m, c, the non-max tokens) of input x (query last)."""
    m = max(x)
    others = [t for t in x[:-1] if t != m]
    return m, len(others), frozenset(others)


def allowed_bits(v: int, k: int, q: int) -> np.ndarray:
    valid = cases.valid_cases(v, k, q)
    return valid[:, :, None] & (np.arange(v)[None, None, :] < np.arange(v)[:, None, None])


def check_count_lemma(v: int, k: int, q: int, sets: np.ndarray) -> None:
    """COUNT: valid_cases marks exactly the non-empty (m, c); |Case(q, m, c, G)| =
    C(k-1, c) |G|^c by enumeration; every input lies in exactly one (m, c)."""
    xs = [(*p, q) for p in itertools.product(range(v), repeat=k - 1)]
    realised = {case_of(x)[:2] for x in xs}
    mask = cases.valid_cases(v, k, q)
    # valid_cases is exact except for m = 0, c > 0 (no token below 0: G is always empty)
    marked = {(int(m), int(c)) for m, c in zip(*np.nonzero(mask), strict=True) if m or not c}
    assert realised == marked, f"COUNT: valid_cases({v}, {k}, {q}) != the non-empty cases"
    for m, c in realised:
        G = {int(t) for t in np.nonzero(sets[m, c])[0]}
        n = sum(1 for x in xs if case_of(x)[:2] == (m, c) and case_of(x)[2] <= G)
        assert n == math.comb(k - 1, c) * len(G) ** c, f"COUNT: |Case({q},{m},{c})| = {n}"


def covered_inputs(v: int, k: int, q: int, sets: np.ndarray, proven: np.ndarray) -> list:
    """The inputs with query q inside a case the kernel counts (valid, G non-empty or c = 0)
    and marks proven."""
    out = []
    for p in itertools.product(range(v), repeat=k - 1):
        x = (*p, q)
        m, c, toks = case_of(x)
        if proven[m, c] and all(sets[m, c, t] for t in toks):
            out.append(x)
    return out


def check_count_query_union(M: Model, q: int, sets: np.ndarray, mp: pytest.MonkeyPatch) -> None:
    """COUNT: with every case proven, count_query counts exactly the union of the counted
    cases (enumerated): disjoint cases, each counted once, by the count lemma."""
    T = path_tables(M)
    with mp.context() as m:
        m.setattr(cases, "case_bounds", lambda tau, q, s: B.exact(np.ones(s.shape[:2])))
        count, _, _ = cases.count_query(T, q, "paper", cases.value_parts(T, "paper")[0], sets, "s")
    valid = cases.valid_cases(M.v, M.k, q)
    counted = valid & (sets.any(axis=2) | (np.arange(M.k)[None, :] == 0))
    n = len(covered_inputs(M.v, M.k, q, sets, counted))
    assert count == n, f"COUNT: count_query = {count}, the union of the cases has {n}"


@settings(max_examples=150, deadline=None)
@given(data=st.data(), v=st.integers(2, 5), k=st.integers(1, 4))
def test_count_lemma(data, v, k):
    q = data.draw(st.integers(0, v - 1))
    allowed = allowed_bits(v, k, q)
    rnd = np.array(data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size)))
    check_count_lemma(v, k, q, allowed & rnd.reshape(allowed.shape))


@FAST
@given(data=st.data())
def test_count_query_counts_the_union(tmp_path, data):
    v, k = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    M = load_model(save(tmp_path, "c", make_weights(rng, v, k, 3, 1, 2, "random")))
    q = data.draw(st.integers(0, v - 1))
    allowed = allowed_bits(v, k, q)
    rnd = np.array(data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size)))
    check_count_query_union(M, q, allowed & rnd.reshape(allowed.shape), pytest.MonkeyPatch())


# ---- cases.py: the value lemma ---------------------------------------------------------------


def exact_w(ex: dict[str, Any], q: int, variant: str, v: int, k: int) -> list:
    """w[m][p][t] of each variant, and the true minimum over y, exactly (fmpq)."""
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
                else:  # paired, which is also the true minimum over y
                    val = min(D[y] + Ev(t, y) + Pv(p, y) for y in ys)
                row.append(val)
            rows.append(row)
        w.append(rows)
    return w


def check_value_lemma(M: Model) -> None:
    """VALUE: for every variant and query, the kernel's w ball contains the variant's exact
    value, which is <= the true min over y != m of D_y + Ev(t, y) + Pv(p, y) (zero tolerance)."""
    T = path_tables(M)
    ex = exact_tables(M)
    for variant in cases.VARIANTS:
        parts, _ = cases.value_parts(T, variant)
        for q in range(M.v):
            w, _ = cases.value_table(T, q, variant, parts)
            want = exact_w(ex, q, variant, M.v, M.k)
            true = exact_w(ex, q, "paired", M.v, M.k)
            for m, p, t in itertools.product(range(M.v), range(M.k), range(M.v)):
                assert want[m][p][t] <= true[m][p][t], f"VALUE: {variant} above the min"
            bad = outside(w, want)
            assert not bad, f"VALUE: {variant} q={q}: w misses the exact value at {bad[:3]}"


@FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased"]))
def test_value_lemma(tmp_path, seed, kind):
    w = _random_weights(seed, kind, heads=1)
    check_value_lemma(load_model(save(tmp_path, f"v{seed}", w)))


# ---- cases.py: the pure-token (mixture) lemma, against the arb reference ---------------------


def check_covered_are_correct(
    M: Model, variant: cases.Variant, sets_for: Any, truth: dict[tuple[int, ...], bool | None]
) -> int:
    """MIXTURE: every input in a case the kernel proves (with the hint ``sets_for(tau, q)``)
    is correct by the arb reference, and count_query counts exactly those inputs.  Returns
    the number of covered inputs."""
    T = path_tables(M)
    parts, _ = cases.value_parts(T, variant)
    total = 0
    for q in range(M.v):
        tau, _ = cases.tau_table(T, q, variant, parts)
        sets = sets_for(tau, q)
        counted = cases.valid_cases(M.v, M.k, q) & (
            sets.any(axis=2) | (np.arange(M.k)[None, :] == 0)
        )
        proven = B.positive(cases.case_bounds(tau, q, sets)) & counted
        xs = covered_inputs(M.v, M.k, q, sets, proven)
        wrong = [x for x in xs if truth[x] is not True]
        assert not wrong, f"MIXTURE: {variant} counts {wrong[:3]} as correct; reference: no"
        count, _, _ = cases.count_query(T, q, variant, parts, sets, "s")
        assert count == len(xs), f"MIXTURE: count_query {count} != {len(xs)} covered"
        total += count
    return total


def copy_noise_weights(rng: np.random.Generator, v: int, k: int) -> dict[str, np.ndarray]:
    """A max-copying model (scores grow with the token, EVOU ~ identity) with random noise in
    every table: many cases are proven, some only just."""
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


def _mixture_model(tmp: Path, seed: int, style: str) -> Model:
    rng = np.random.default_rng(seed)
    v, k = int(rng.integers(3, 6)), int(rng.integers(2, 5))
    while v**k > 300:
        v -= 1
    if style == "copy-noise":
        w = copy_noise_weights(rng, v, k)
    else:
        w = make_weights(rng, v, k, int(rng.integers(2, 6)), 1, int(rng.integers(1, 4)), style)
    return load_model(save(tmp, f"mx{seed}", w))


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    style=st.sampled_from(["copy-noise", "copy-noise", "trained-like", "biased"]),
    variant=st.sampled_from(list(cases.VARIANTS)),
    hint=st.sampled_from(["generator", "random", "all"]),
)
def test_mixture_lemma_against_reference(tmp_path, seed, style, variant, hint):
    M = _mixture_model(tmp_path, seed, style)
    truth = reference_per_input(M)
    rng = np.random.default_rng(seed + 1)

    def sets_for(tau: B.Ball, q: int) -> np.ndarray:
        allowed = allowed_bits(M.v, M.k, q)
        if hint == "generator":
            return choose_sets(tau, q)
        if hint == "random":
            return allowed & (rng.random(allowed.shape) < 0.6)
        return allowed

    check_covered_are_correct(M, variant, sets_for, truth)


def test_mixture_lemma_covers_something(tmp_path):
    """The property above is not vacuous: on copy-noise models many inputs are covered."""
    M = _mixture_model(tmp_path, 3, "copy-noise")
    n = check_covered_are_correct(M, "paired", choose_sets, reference_per_input(M))
    assert n > M.total // 4


# ---- cases.py: the attention-extremes argument ------------------------------------------------


def check_extremes(
    tau: np.ndarray, q: int, sets: np.ndarray, rad: np.ndarray | None = None
) -> None:
    """EXTREMES: case_bounds[m, c] of the balls tau +- rad is at most the exact minimum, over
    every placement P of the c non-max positions, every choice of tokens from G and every
    value in the balls, of tau(k-1, q) + sum_{p not in P} tau(p, m) + sum_{p in P} tau(p, t_p)
    (zero tolerance), and for exact tau (rad = 0) it is attained, up to outward rounding, at
    an extreme placement: the c positions with the smallest delta, each with its worst token.
    """
    v, k = tau.shape[0], tau.shape[1]
    rad = np.zeros_like(tau) if rad is None else rad
    bound = cases.case_bounds(B.Ball(tau, rad), q, sets)
    lo, hi = B.to_fmpq_bounds(bound)
    low = tau.astype(object) * 0  # exact lower ends mid - rad, as fmpq
    for idx in np.ndindex(tau.shape):
        low[idx] = fq(tau[idx]) - fq(rad[idx])
    T = low.tolist()
    valid = cases.valid_cases(v, k, q)
    for m, c in zip(*np.nonzero(valid), strict=True):
        G = [int(t) for t in np.nonzero(sets[m, c])[0]]
        if c > 0 and not G:
            continue
        best = None
        for P in itertools.combinations(range(k - 1), int(c)):
            for toks in itertools.product(G, repeat=int(c)):
                val = T[m][k - 1][q] + sum(T[m][p][m] for p in range(k - 1) if p not in P)
                val += sum(T[m][p][t] for p, t in zip(P, toks, strict=True))
                best = val if best is None else min(best, val)
        i = int(m) * k + int(c)
        assert lo[i] is not None and lo[i] <= best, f"EXTREMES: ({m},{c}) bound above the min"
        if rad.any():
            continue
        # case_bounds rounds its lower ends outward (a lower bound, not an enclosure), so
        # attainment holds up to rounding: relative slack 2^-40.
        slack = fq(2.0**-40) * (1 + sum(abs(x) for r in T[m] for x in r))
        assert best <= hi[i] + slack, f"EXTREMES: ({m},{c}) bound below every placement"


@settings(max_examples=150, deadline=None)
@given(data=st.data(), v=st.integers(2, 5), k=st.integers(2, 4), balls=st.booleans())
def test_attention_extremes(data, v, k, balls):
    q = data.draw(st.integers(0, v - 1))
    n = v * k * v
    vals = st.one_of(st.integers(-5, 5).map(float), st.floats(-10, 10, width=32))
    tau = np.array(data.draw(st.lists(vals, min_size=n, max_size=n))).reshape(v, k, v)
    rad = None
    if balls:
        radii = st.sampled_from([0.0, 2.0**-30, 0.125, 1.0, 3.0])
        rad = np.array(data.draw(st.lists(radii, min_size=n, max_size=n))).reshape(v, k, v)
    allowed = allowed_bits(v, k, q)
    rnd = np.array(data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size)))
    check_extremes(tau, q, allowed & rnd.reshape(allowed.shape), rad)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n_pos=st.integers(1, 3), n_tok=st.integers(1, 3))
def test_pure_token_ratio_form(data, n_pos, n_tok):
    """The paper's form of the pure-token lemma (DESIGN.md §4): with position-independent
    V, (A + sum_p f_p g_t V_t) / (B + sum_p f_p g_t) over choices t_p is minimised by one
    token at every position.  (The kernel uses the division-free form, tested above.)"""
    pos = st.integers(1, 9).map(lambda n: Fraction(n, 3))
    A = data.draw(st.integers(-9, 9).map(Fraction))
    Bz = data.draw(pos)
    f = data.draw(st.lists(pos, min_size=n_pos, max_size=n_pos))
    g = data.draw(st.lists(pos, min_size=n_tok, max_size=n_tok))
    V = data.draw(st.lists(st.integers(-9, 9).map(Fraction), min_size=n_tok, max_size=n_tok))

    def ratio(ts: tuple[int, ...]) -> Fraction:
        num = A + sum(f[p] * g[t] * V[t] for p, t in enumerate(ts))
        return num / (Bz + sum(f[p] * g[t] for p, t in enumerate(ts)))

    every = min(ratio(ts) for ts in itertools.product(range(n_tok), repeat=n_pos))
    pure = min(ratio((t,) * n_pos) for t in range(n_tok))
    assert every == pure


# ---- kernel rule-level checks ------------------------------------------------------------------


def _cert(tmp: Path, model: Path, steps: list, bound: Fraction | str, arrays=None) -> Path:
    m = load_model(model)
    out = tmp / f"c{len(list(tmp.iterdir()))}.cert"
    write(out, model_sha256=m.sha256, strategy="t", bound=bound, steps=steps, arrays=arrays or {})
    return out


def _reason(cert: Path, model: Path) -> Reason | None:
    try:
        kernel.check(cert, model)
    except CheckError as exc:
        return exc.reason
    return None


TABLES = {"id": "t", "rule": "path-tables", "args": {}, "claim": {}}


def _enum(q: int, n: int, sid: str | None = None) -> dict:
    return {
        "id": sid or f"e{q}",
        "rule": "enumerate",
        "args": {"tables": "t", "query": q},
        "claim": {"correct": n},
    }


def _cubic(M: Model, T: Tables, q: int, variant: str = "paired") -> tuple[dict, np.ndarray, int]:
    parts, _ = cases.value_parts(T, variant)
    tau, _ = cases.tau_table(T, q, variant, parts)
    sets = choose_sets(tau, q)
    n, _, _ = cases.count_query(T, q, variant, parts, sets, "s")
    step = {
        "id": f"c{q}",
        "rule": "position-cases",
        "args": {"tables": "t", "query": q, "values": variant, "sets": f"G{q}"},
        "claim": {"correct": n},
    }
    return step, np.packbits(sets, axis=2), n


@pytest.fixture(scope="module")
def small(small_trained):
    M = load_model(small_trained)
    T = path_tables(M)
    counts = [brute.decide_query(T, q)[0] for q in range(M.v)]
    return small_trained, M, T, counts


def test_overlap_two_enumerations(small, tmp_path):
    path, M, _, counts = small
    steps = [TABLES, _enum(0, counts[0]), _enum(0, counts[0], "again")]
    assert _reason(_cert(tmp_path, path, steps, "0/1"), path) is Reason.OVERLAP


def test_overlap_enumerate_and_cases(small, tmp_path):
    path, M, T, counts = small
    step, arr, _ = _cubic(M, T, 2)
    steps = [TABLES, _enum(2, counts[2]), step]
    assert _reason(_cert(tmp_path, path, steps, "0/1", {"G2": arr}), path) is Reason.OVERLAP


def test_claims_must_equal_derived(small, tmp_path):
    path, M, T, counts = small
    for delta in (1, -1):
        steps = [TABLES, _enum(1, counts[1] + delta)]
        assert _reason(_cert(tmp_path, path, steps, "0/1"), path) is Reason.CLAIM_MISMATCH
    step, arr, n = _cubic(M, T, 3)
    for delta in (1, -1):
        bad = dict(step, claim={"correct": n + delta})
        cert = _cert(tmp_path, path, [TABLES, bad], "0/1", {"G3": arr})
        assert _reason(cert, path) is Reason.CLAIM_MISMATCH


def test_final_bound_exact_rational(small, tmp_path):
    """Mixed coverage (enumerate for some queries, position-cases for others, some queries
    uncovered): the kernel accepts exactly the bounds <= proven / v^k."""
    path, M, T, counts = small
    steps, arrays, proven = [TABLES], {}, 0
    for q in range(M.v - 1):  # the last query stays uncovered
        if q % 2:
            steps.append(_enum(q, counts[q]))
            proven += counts[q]
        else:
            step, arr, n = _cubic(M, T, q)
            steps.append(step)
            arrays[f"G{q}"] = arr
            proven += n
    exact = Fraction(proven, M.total)
    v = kernel.check(_cert(tmp_path, path, steps, exact, arrays), path)
    assert v.proven == proven and Fraction(int(v.bound.p), int(v.bound.q)) == exact
    above = exact + Fraction(1, 10**30)
    cert = _cert(tmp_path, path, steps, above, arrays)
    assert _reason(cert, path) is Reason.BOUND_NOT_PROVEN


def test_cases_on_two_heads_unsupported(tmp_path):
    rng = np.random.default_rng(5)
    path = save(tmp_path, "h2", make_weights(rng, 4, 3, 4, 2, 2, "trained-like"))
    M = load_model(path)
    T = path_tables(M)
    counts = [brute.decide_query(T, q)[0] for q in range(M.v)]
    # enumerate handles any number of heads ...
    steps = [TABLES] + [_enum(q, counts[q]) for q in range(M.v)]
    assert kernel.check(_cert(tmp_path, path, steps, Fraction(sum(counts), M.total)), path)
    # ... position-cases refuses, even with an empty (claim-free) hint
    step = {
        "id": "c",
        "rule": "position-cases",
        "args": {"tables": "t", "query": 0, "values": "paper", "sets": "G"},
        "claim": {"correct": 0},
    }
    cert = _cert(tmp_path, path, [TABLES, step], "0/1", {"G": np.zeros((4, 3, 1), np.uint8)})
    assert _reason(cert, path) is Reason.UNSUPPORTED


def test_hint_bits_outside_cases_rejected(small, tmp_path):
    path, M, T, _ = small
    step, arr, _ = _cubic(M, T, 0)
    bits = np.unpackbits(arr, axis=2, count=M.v).astype(bool)
    for m, c, t in ((3, 1, 3), (3, 1, 5), (5, M.k - 1, 0)):  # t = m, t > m, c = k-1 with q < m
        b = bits.copy()
        b[m, c, t] = True
        cert = _cert(tmp_path, path, [TABLES, step], "0/1", {"G0": np.packbits(b, axis=2)})
        assert _reason(cert, path) is Reason.BAD_HINT, (m, c, t)
