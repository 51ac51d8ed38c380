"""The kernel's reusable lemmas (checker/lemmas.py), each against a closed form or an exact
enumeration, with zero tolerance: min over y != m, the case masks and the count lemma, the
mixture / attention-extremes bound (case_bounds), the split cases (split_bounds and their
count), the paper's ratio form of the pure-token lemma; and mutants of each lemma.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import support as S
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import balls as B
from checker import lemmas as L

# ---- min over y != m -----------------------------------------------------------------------


def test_min_wrong_closed_form():
    d = B.exact(np.array([[0.0, -1.0, 5.0], [9.0, 0.0, 2.0], [-7.0, 3.0, 100.0]]))
    got = L.min_wrong(d, 1)  # row m: min over y != m
    assert S.outside(got, [-1, 2, -7]) == [] and float(got.rad.max()) < 1e-12
    d3 = B.exact(np.arange(12.0).reshape(2, 3, 2))  # [m, p, y]
    assert L.min_wrong(d3, 2).mid.tolist() == [[1.0, 3.0, 5.0], [6.0, 8.0, 10.0]]


# ---- the count lemma -----------------------------------------------------------------------


def check_count_lemma(v: int, k: int, q: int, sets: np.ndarray) -> None:
    """COUNT: valid_cases marks exactly the non-empty (m, c) (m = 0, c > 0 has no tokens
    below m); count_cases of one (m, c) is |Case(q, m, c, G)| = C(k-1, c) |G|^c by
    enumeration; every input lies in exactly one (m, c)."""
    xs = [(*p, q) for p in itertools.product(range(v), repeat=k - 1)]
    realised = {S.case_of(x)[:2] for x in xs}
    mask = L.valid_cases(v, k, q)
    marked = {(int(m), int(c)) for m, c in zip(*np.nonzero(mask), strict=True) if m or not c}
    assert realised == marked, f"COUNT: valid_cases({v}, {k}, {q}) != the non-empty cases"
    sizes = sets.sum(axis=2)
    for m, c in realised:
        G = {int(t) for t in np.nonzero(sets[m, c])[0]}
        n = sum(1 for x in xs if S.case_of(x)[:2] == (m, c) and S.case_of(x)[2] <= G)
        one = np.zeros(mask.shape, dtype=bool)
        one[m, c] = True
        got = L.count_cases(k, sizes, one)
        assert got == n == math.comb(k - 1, c) * len(G) ** c, (
            f"COUNT: |Case({q},{m},{c})| {got} {n}"
        )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data(), v=st.integers(2, 5), k=st.integers(1, 4))
def test_count_lemma(data, v, k):
    q = data.draw(st.integers(0, v - 1))
    allowed = S.allowed_bits(v, k, q)
    rnd = np.array(data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size)))
    check_count_lemma(v, k, q, allowed & rnd.reshape(allowed.shape))


def check_split_count(v: int, k: int, q: int, sets: np.ndarray) -> None:
    """SPLIT-COUNT: count_splits of one (m, c, t) is |Split(q, m, c, t)| = C(k-1, c) c
    |G|^(c-1), by enumeration (t < m, t not in G, c >= 1)."""
    xs = [(*p, q) for p in itertools.product(range(v), repeat=k - 1)]
    sizes = sets.sum(axis=2)
    for m, c, t in zip(*np.nonzero(S.split_candidates(v, k, q, sets)), strict=True):
        one = np.zeros(sets.shape, dtype=bool)
        one[m, c, t] = True
        n = sum(1 for x in xs if S.split_of(x, sets) == (m, c, t))
        got = L.count_splits(k, sizes, one)
        if c >= 2 and not sizes[m, c]:
            continue  # no such input; the kernel does not count these (rule cases)
        assert got == n, f"SPLIT-COUNT: |Split({q},{m},{c},{t})| = {n}, count_splits {got}"


@settings(max_examples=80, deadline=None, derandomize=True)
@given(data=st.data(), v=st.integers(2, 5), k=st.integers(2, 4))
def test_split_count(data, v, k):
    q = data.draw(st.integers(0, v - 1))
    allowed = S.allowed_bits(v, k, q)
    rnd = np.array(data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size)))
    check_split_count(v, k, q, allowed & rnd.reshape(allowed.shape))


def test_split_count_closed_form():
    """|Split(q, m, c, t)| = C(k-1, c) c |G|^(c-1), by enumeration for v=5, k=4, q=1, m=4."""
    v, k, q, m = 5, 4, 1, 4
    for c in (1, 2):  # c = 3 is impossible for q < m (some position must hold m)
        sets = np.zeros((v, k, v), dtype=bool)
        sets[m, c, [0, 2]] = True
        n = sum(
            1
            for p in itertools.product(range(v), repeat=k - 1)
            if S.split_of((*p, q), sets) == (m, c, 3)
        )
        assert n == math.comb(k - 1, c) * c * 2 ** (c - 1)


# ---- the mixture lemma / attention extremes ------------------------------------------------


def check_extremes(
    tau: np.ndarray, q: int, sets: np.ndarray, rad: np.ndarray | None = None
) -> None:
    """EXTREMES: case_bounds[m, c] of the balls tau +- rad is at most the exact minimum, over
    every placement P of the c non-max positions, every choice of tokens from G and every
    value in the balls, of tau(k-1, q) + sum_{p not in P} tau(p, m) + sum_{p in P} tau(p, t_p)
    (zero tolerance), and for exact tau it is attained up to outward rounding."""
    v, k = tau.shape[0], tau.shape[1]
    rad = np.zeros_like(tau) if rad is None else rad
    lo, hi = B.to_fmpq_bounds(L.case_bounds(B.Ball(tau, rad), q, sets))
    low = np.empty(tau.shape, dtype=object)
    for idx in np.ndindex(tau.shape):
        low[idx] = S.fq(tau[idx]) - S.fq(rad[idx])
    T = low.tolist()
    for m, c in zip(*np.nonzero(L.valid_cases(v, k, q)), strict=True):
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
        slack = S.fq(2.0**-40) * (1 + sum(abs(x) for r in T[m] for x in r))
        assert best <= hi[i] + slack, f"EXTREMES: ({m},{c}) bound below every placement"


@settings(max_examples=150, deadline=None, derandomize=True)
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
    allowed = S.allowed_bits(v, k, q)
    rnd = np.array(data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size)))
    check_extremes(tau, q, allowed & rnd.reshape(allowed.shape), rad)


@settings(max_examples=150, deadline=None, derandomize=True)
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
    assert every == min(ratio((t,) * n_pos) for t in range(n_tok))


# ---- split bounds --------------------------------------------------------------------------


def exact_split_min(tau: np.ndarray, q: int, G: set[int], m: int, c: int, t: int) -> Fraction:
    """min over all inputs of Split(q, m, c, t) of sum_p tau(p, x_p), by enumeration (exact)."""
    k = tau.shape[1]
    best = None
    for P in itertools.combinations(range(k - 1), c):
        for p0 in P:
            for rest in itertools.product(sorted(G), repeat=c - 1):
                x = [m] * (k - 1)
                x[p0] = t
                for p, s in zip([p for p in P if p != p0], rest, strict=True):
                    x[p] = s
                val = sum(Fraction(tau[m, p, x[p]]) for p in range(k - 1)) + Fraction(
                    tau[m, k - 1, q]
                )
                best = val if best is None else min(best, val)
    assert best is not None
    return best


def check_split_bounds(vals: np.ndarray, q: int, sets: np.ndarray, tight: bool = True) -> None:
    """SPLIT-BOUND: for exact tau, split_bounds' lower end is <= the true minimum over the
    case's inputs and equal to it up to outward rounding."""
    v, k = vals.shape[0], vals.shape[1]
    lo = B.lower(L.split_bounds(B.exact(vals), q, sets))
    for m, c, t in zip(*np.nonzero(S.split_candidates(v, k, q, sets)), strict=True):
        G = {int(s) for s in np.nonzero(sets[m, c])[0]}
        if c >= 2 and not G:
            continue
        true = exact_split_min(vals, q, G, int(m), int(c), int(t))
        assert Fraction(lo[m, c, t]) <= true, f"SPLIT-BOUND: {lo[m, c, t]} > {true}"
        if tight:
            assert abs(float(true) - lo[m, c, t]) <= 1e-9 * (1 + abs(float(true))), (
                "SPLIT-BOUND: not tight"
            )


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_split_bounds_closed_form(data):
    v, k = data.draw(st.integers(3, 5)), data.draw(st.integers(2, 4))
    q = data.draw(st.integers(0, v - 1))
    vals = data.draw(
        st.lists(st.integers(-20, 20), min_size=v * k * v, max_size=v * k * v).map(
            lambda xs: np.array(xs, dtype=float).reshape(v, k, v) / 4
        )
    )
    if data.draw(st.booleans()):  # tau(p, m) very low: every delta positive
        vals[np.arange(v), :, np.arange(v)] -= 10
    allowed = S.allowed_bits(v, k, q)
    bits = data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size))
    check_split_bounds(vals, q, allowed & np.array(bits).reshape(allowed.shape))


# ---- mutants -------------------------------------------------------------------------------


def det_count(tmp) -> None:
    for v, k in ((2, 2), (3, 3), (4, 3), (3, 4)):
        for q in range(v):
            check_count_lemma(v, k, q, S.allowed_bits(v, k, q))


def det_extremes(tmp) -> None:
    rng = np.random.default_rng(0)
    for v, k in ((3, 3), (4, 4), (5, 3)):
        for q in range(v):
            tau = np.round(rng.standard_normal((v, k, v)) * 4)
            allowed = S.allowed_bits(v, k, q)
            sets = allowed & (rng.random(allowed.shape) < 0.7)
            check_extremes(tau, q, sets)
            check_extremes(tau, q, sets, rad=rng.choice([0.0, 0.5, 2.0], size=tau.shape))


def det_split_count(tmp) -> None:
    rng = np.random.default_rng(5)
    for v, k in ((4, 4), (5, 3)):
        for q in range(v):
            allowed = S.allowed_bits(v, k, q)
            check_split_count(v, k, q, allowed & (rng.random(allowed.shape) < 0.5))


def det_split_closed(tmp) -> None:
    rng = np.random.default_rng(0)
    for trial in range(30):
        v, k, q = 4, 4, int(rng.integers(0, 4))
        vals = rng.integers(-20, 21, size=(v, k, v)).astype(float) / 4
        if trial % 2:  # tau(p, m) very low: every delta positive, so no slack hides a bug
            vals[np.arange(v), :, np.arange(v)] -= 10
        allowed = S.allowed_bits(v, k, q)
        check_split_bounds(vals, q, allowed & (rng.random(allowed.shape) < 0.5), tight=False)


def det_false_bound(tmp) -> None:
    S.false_bound_report(S.adversarial_models(tmp), tmp, ["cubic-paired", "cubic-paired-split"])


DETECTORS = {
    "count": det_count,
    "extremes": det_extremes,
    "split-count": det_split_count,
    "split-closed": det_split_closed,
    "false-bound": det_false_bound,
}
MUTANTS = {
    "count-|G|^(c+1)": S.Mutant(
        L,
        "count_cases",
        (("int(sizes[m, c]) ** int(c)", "int(sizes[m, c]) ** (int(c) + 1)"),),
        (("count", "COUNT"), ("false-bound", S.FB)),
        "count lemma with |G|^(c+1)",
    ),
    "count-C(k,c)": S.Mutant(
        L,
        "count_cases",
        (("math.comb(k - 1, int(c))", "math.comb(k, int(c))"),),
        (("count", "COUNT"), ("false-bound", S.FB)),
        "count lemma with C(k, c) positions",
    ),
    "valid-cases-c<=k-1": S.Mutant(
        L,
        "valid_cases",
        (("np.where(m == q, k - 1, k - 2)", "k - 1"),),
        (("count", "COUNT"), ("false-bound", S.FB)),
        "a case with no copy of the max among the first k-1 positions when q < m",
    ),
    "case-bounds-no-query-term": S.Mutant(
        L,
        "_base",
        (("B.add(B.sum(tau_mm[:, :n], axis=1), tau[:, n, q])", "B.sum(tau_mm[:, :n], axis=1)"),),
        (("extremes", "EXTREMES"), ("false-bound", S.FB)),
        "case bound ignores the query position's own term",
    ),
    "case-bounds-c-largest": S.Mutant(
        L,
        "case_bounds",
        (("dlo = B.sort_lower(delta, 2)", "dlo = B.sort_lower(delta, 2)[:, :, ::-1]"),),
        (("extremes", "EXTREMES"),),
        "attention extremes: the c best positions instead of the c worst",
    ),
    "case-bounds-mid-not-lower": S.Mutant(
        L,
        "case_bounds",
        (
            (
                "B.min_lower(tau[:, None, :n, :]",
                "B.min_lower(B.Ball(tau.mid, 0 * tau.rad)[:, None, :n, :]",
            ),
        ),
        (("extremes", "EXTREMES"),),
        "token minimum over G taken on midpoints (rounding inward)",
    ),
    "split-count-|G|^c": S.Mutant(
        L,
        "count_splits",
        (("int(sizes[m, c]) ** (int(c) - 1)", "int(sizes[m, c]) ** int(c)"),),
        (("split-count", "SPLIT-COUNT"),),
        "split count with |G|^c",
    ),
    "split-count-without-c": S.Mutant(
        L,
        "count_splits",
        (("math.comb(k - 1, int(c)) * int(c) * int", "math.comb(k - 1, int(c)) * int"),),
        (("split-count", "SPLIT-COUNT"),),
        "split count forgetting which position holds t",
    ),
    "split-others-c-smallest": S.Mutant(
        L,
        "split_bounds",
        (("(np.arange(n + 1)[None, :, None, None] - 1)", "np.arange(n + 1)[None, :, None, None]"),),
        (("split-closed", "SPLIT-BOUND"),),
        "c smallest others instead of c - 1 (counts p0 twice)",
    ),
    "split-p0-max": S.Mutant(
        L,
        "split_bounds",
        (("worst = B.min_lower(tot, 2) if n > 0", "worst = B.upper(tot).max(axis=2) if n > 0"),),
        (("split-closed", "SPLIT-BOUND"),),
        "outlier placed at its best position instead of its worst",
    ),
    "split-drop-base-query": S.Mutant(
        L,
        "split_bounds",
        (
            (
                "    tau_mm, base = _base(tau, q)\n",
                "    tau_mm, base = _base(tau, q)\n    base = B.exact(np.full(v, 5.0))\n",
            ),
        ),
        (("split-closed", "SPLIT-BOUND"),),
        "the split bound's base replaced by a constant",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
