"""The split-case lemma (cases.split_bounds / count_query's ``split`` hint), tested like every
kernel lemma: the count against enumeration, a closed form against exact rationals, the
soundness of every counted input against the arb reference, the hint checks, and mutants
(source-level edits of the kernel, tests/test_kernel_mutants.py's machinery) that these
checks must catch.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import test_rules as R
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_kernel_mutants import Mutant, apply

from checker import CheckError, Reason, cases, load_model
from checker import balls as B
from checker.tables import path_tables
from generators.strategies.cubic import choose_sets, choose_split
from generators.tinymodels import make_weights

FAST = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def split_of(x: tuple[int, ...], sets: np.ndarray) -> tuple[int, int, int] | None:
    """(m, c, t) if x lies in a split case for G = sets[m, c]: exactly one non-max position
    (query excluded) holds a token t outside G, and c >= 1."""
    m, c, _ = R.case_of(x)
    outside = [t for t in x[:-1] if t != m and not sets[m, c, t]]
    return (m, c, outside[0]) if c >= 1 and len(outside) == 1 else None


def split_candidates(v: int, k: int, q: int, sets: np.ndarray) -> np.ndarray:
    cand = R.allowed_bits(v, k, q) & ~sets
    cand[:, 0] = False
    return cand


def covered(v: int, k: int, q: int, sets, proven, split, split_ok) -> list[tuple[int, ...]]:
    """Inputs with query q in a counted G-case or a counted split case (by definition)."""
    out = []
    for p in itertools.product(range(v), repeat=k - 1):
        x = (*p, q)
        m, c, toks = R.case_of(x)
        if proven[m, c] and all(sets[m, c, t] for t in toks):
            out.append(x)
            continue
        s = split_of(x, sets)
        if s is not None and split[s] and split_ok[s]:
            out.append(x)
    return out


# ---- the count lemma -------------------------------------------------------------------------


def check_split_count(M, q: int, sets: np.ndarray, split: np.ndarray, mp) -> None:
    """SPLIT-COUNT: with every bound positive, count_query counts exactly the union of the
    counted G-cases and split cases, enumerated (so the cases are disjoint and each count is
    C(k-1, c) c |G|^(c-1))."""
    T = path_tables(M)
    v, k = M.v, M.k
    with mp.context() as m:
        m.setattr(cases, "case_bounds", lambda tau, q, s: B.exact(np.ones(s.shape[:2])))
        m.setattr(cases, "split_bounds", lambda tau, q, s: B.exact(np.ones(s.shape)))
        parts = cases.value_parts(T, "paper")[0]
        count, _, _ = cases.count_query(T, q, "paper", parts, sets, "s", split)
    valid = cases.valid_cases(v, k, q)
    counted = valid & (sets.any(axis=2) | (np.arange(k)[None, :] == 0))
    n = len(covered(v, k, q, sets, counted, split, np.ones_like(split)))
    assert count == n, f"SPLIT-COUNT: count_query = {count}, the union has {n}"


@FAST
@given(data=st.data())
def test_split_count_lemma(tmp_path, data):
    v, k = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    M = load_model(R.save(tmp_path, "c", make_weights(rng, v, k, 3, 1, 2, "random")))
    q = data.draw(st.integers(0, v - 1))
    allowed = R.allowed_bits(v, k, q)
    sets = allowed & (rng.random(allowed.shape) < 0.5)
    split = split_candidates(v, k, q, sets) & (rng.random(allowed.shape) < 0.7)
    check_split_count(M, q, sets, split, pytest.MonkeyPatch())


def test_split_count_closed_form():
    """|Split(q, m, c, t)| = C(k-1, c) c |G|^(c-1), by enumeration for v=5, k=4, q=1, m=4."""
    v, k, q, m = 5, 4, 1, 4
    G = {0, 2}
    for c in (1, 2):  # c = 3 is impossible for q < m (some position must hold m)
        sets = np.zeros((v, k, v), dtype=bool)
        sets[m, c, list(G)] = True
        n = sum(
            1
            for p in itertools.product(range(v), repeat=k - 1)
            if split_of((*p, q), sets) == (m, c, 3)
        )
        assert n == math.comb(k - 1, c) * c * len(G) ** (c - 1)


# ---- the bound: closed form against exact rationals ------------------------------------------


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
                val = sum(Fraction(tau[m, p, x[p]]) for p in range(k - 1))
                val += Fraction(tau[m, k - 1, q])
                best = val if best is None else min(best, val)
    assert best is not None
    return best


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_split_bound_closed_form(data):
    """SPLIT-BOUND: for exact tau, split_bounds' lower end is <= the true minimum over the
    case's inputs and equal to it up to outward rounding (the formula is the exact minimum)."""
    v, k = data.draw(st.integers(3, 5)), data.draw(st.integers(2, 4))
    q = data.draw(st.integers(0, v - 1))
    vals = data.draw(
        st.lists(st.integers(-20, 20), min_size=v * k * v, max_size=v * k * v).map(
            lambda xs: np.array(xs, dtype=float).reshape(v, k, v) / 4
        )
    )
    if data.draw(st.booleans()):  # tau(p, m) very low: every delta positive
        vals[np.arange(v), :, np.arange(v)] -= 10
    allowed = R.allowed_bits(v, k, q)
    bits = data.draw(st.lists(st.booleans(), min_size=allowed.size, max_size=allowed.size))
    sets = allowed & np.array(bits).reshape(allowed.shape)
    lo = B.lower(cases.split_bounds(B.exact(vals), q, sets))
    cand = split_candidates(v, k, q, sets)
    for m, c, t in zip(*np.nonzero(cand), strict=True):
        G = {int(s) for s in np.nonzero(sets[m, c])[0]}
        if c >= 2 and not G:
            continue
        true = exact_split_min(vals, q, G, int(m), int(c), int(t))
        assert Fraction(lo[m, c, t]) <= true, f"SPLIT-BOUND: {lo[m, c, t]} > {true}"
        assert abs(float(true) - lo[m, c, t]) <= 1e-9 * (1 + abs(float(true))), "not tight"


# ---- soundness against the arb reference -----------------------------------------------------


def check_split_against_reference(M, variant: cases.Variant, truth, random_g: int = 0) -> int:
    """SPLIT-SOUND: every input counted by a split case (with all candidate tokens hinted) is
    correct by the arb reference; count_query counts exactly the covered inputs.  G is the
    generator's choice, or (random_g = seed > 0) a random subset, which leaves more provable
    tokens outside G.  Returns the number of inputs counted by split cases alone."""
    T = path_tables(M)
    parts, _ = cases.value_parts(T, variant)
    rng = np.random.default_rng(random_g)
    total = 0
    for q in range(M.v):
        tau, _ = cases.tau_table(T, q, variant, parts)
        allowed = R.allowed_bits(M.v, M.k, q)
        sets = choose_sets(tau, q) if not random_g else allowed & (rng.random(allowed.shape) < 0.5)
        split = split_candidates(M.v, M.k, q, sets)
        counted = cases.valid_cases(M.v, M.k, q) & (
            sets.any(axis=2) | (np.arange(M.k)[None, :] == 0)
        )
        proven = B.positive(cases.case_bounds(tau, q, sets)) & counted
        split_ok = B.positive(cases.split_bounds(tau, q, sets))
        xs = covered(M.v, M.k, q, sets, proven, split, split_ok)
        wrong = [x for x in xs if truth[x] is not True]
        assert not wrong, f"SPLIT-SOUND: {variant} counts {wrong[:3]}; reference: not correct"
        count, _, _ = cases.count_query(T, q, variant, parts, sets, "s", split)
        assert count == len(xs), f"SPLIT-SOUND: count_query {count} != {len(xs)} covered"
        total += count - cases.count_query(T, q, variant, parts, sets, "s")[0]
    return total


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    style=st.sampled_from(["copy-noise", "copy-noise", "trained-like", "biased"]),
    variant=st.sampled_from(list(cases.VARIANTS)),
    random_g=st.sampled_from([0, 1, 2]),
)
def test_split_lemma_against_reference(tmp_path, seed, style, variant, random_g):
    M = R._mixture_model(tmp_path, seed, style)
    check_split_against_reference(M, variant, R.reference_per_input(M), random_g)


def test_split_cases_prove_something():
    """The split cases are not vacuous: on a zoo model they add proven inputs."""
    found = 0
    for path in ["zoo/k4/seed000.safetensors"]:
        M = load_model(Path(__file__).parent.parent / path)
        T = path_tables(M)
        parts, _ = cases.value_parts(T, "paired")
        for q in range(0, M.v, 8):
            tau, _ = cases.tau_table(T, q, "paired", parts)
            sets = choose_sets(tau, q)
            hint = choose_split(tau, q, sets)
            with_split = cases.count_query(T, q, "paired", parts, sets, "s", hint)[0]
            found += with_split - cases.count_query(T, q, "paired", parts, sets, "s")[0]
    assert found > 0


# ---- hint checks -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["in-G", "t>=m", "c=0", "shape"])
def test_split_hint_checks(small_trained, bad):
    M = load_model(small_trained)
    T = path_tables(M)
    v, k, q = M.v, M.k, 0
    parts, _ = cases.value_parts(T, "paper")
    tau, _ = cases.tau_table(T, q, "paper", parts)
    sets = choose_sets(tau, q)
    split = np.zeros((v, k, v), dtype=bool)
    m = v - 1
    if bad == "in-G":
        sets[m, 1, 0] = True
        split[m, 1, 0] = True
    elif bad == "t>=m":
        split[m - 1, 1, m] = True
    elif bad == "c=0":
        split[m, 0, 0] = True
    else:
        split = split[:, :, :-1]
    with pytest.raises(CheckError) as exc:
        cases.count_query(T, q, "paper", parts, sets, "s", split)
    assert exc.value.reason is Reason.BAD_HINT


# ---- mutants ---------------------------------------------------------------------------------

SPLIT_MUTANTS = {
    "count-|G|^c": Mutant(
        cases,
        "count_query",
        (("c * int(sizes[m, c]) ** (c - 1)", "c * int(sizes[m, c]) ** c"),),
        (("count", "SPLIT-COUNT"),),
        "split count with |G|^c",
    ),
    "count-without-c": Mutant(
        cases,
        "count_query",
        (("math.comb(k - 1, c) * c * int", "math.comb(k - 1, c) * int"),),
        (("count", "SPLIT-COUNT"),),
        "split count forgetting which position holds t",
    ),
    "no-overlap-check": Mutant(
        cases,
        "count_query",
        (("and not bool((split & sets).any())", ""),),
        (("hint", "DID NOT RAISE"),),
        "split token allowed inside G (double count)",
    ),
    "others-c-smallest": Mutant(
        cases,
        "split_bounds",
        (("(np.arange(k)[None, :, None, None] - 1)", "np.arange(k)[None, :, None, None]"),),
        (("closed", "SPLIT-BOUND"),),  # on trained-like models the extra term is negative
        "c smallest others instead of c - 1 (counts p0 twice)",
    ),
    "p0-max": Mutant(
        cases,
        "split_bounds",
        (("worst = B.lower(tot).min(axis=2)", "worst = B.lower(tot).max(axis=2)"),),
        (("closed", "SPLIT-BOUND"), ("reference", "SPLIT-SOUND")),
        "outlier placed at its best position instead of its worst",
    ),
    "drop-base-query": Mutant(
        cases,
        "split_bounds",
        (("_b(tau.mid[:, n, q], tau.rad[:, n, q])", "B.exact(np.full(v, 5.0))"),),
        (("closed", "SPLIT-BOUND"),),
        "the query's own term replaced by a constant",
    ),
}


def _detect(name: str, tmp_path, small_trained) -> None:
    mp = pytest.MonkeyPatch()
    if name == "count":
        rng = np.random.default_rng(5)
        M = load_model(R.save(tmp_path, "mc", make_weights(rng, 4, 4, 3, 1, 2, "random")))
        allowed = R.allowed_bits(4, 4, 1)
        sets = allowed & (rng.random(allowed.shape) < 0.5)
        check_split_count(M, 1, sets, split_candidates(4, 4, 1, sets), mp)
    elif name == "hint":
        test_split_hint_checks(small_trained, "in-G")
    elif name == "closed":
        rng = np.random.default_rng(0)
        for trial in range(30):
            v, k, q = 4, 4, int(rng.integers(0, 4))
            vals = rng.integers(-20, 21, size=(v, k, v)).astype(float) / 4
            if trial % 2:  # tau(p, m) very low: every delta positive, so no slack hides a bug
                vals[np.arange(v), :, np.arange(v)] -= 10
            allowed = R.allowed_bits(v, k, q)
            sets = allowed & (rng.random(allowed.shape) < 0.5)
            lo = B.lower(cases.split_bounds(B.exact(vals), q, sets))
            for m, c, t in zip(*np.nonzero(split_candidates(v, k, q, sets)), strict=True):
                G = {int(s) for s in np.nonzero(sets[m, c])[0]}
                if c >= 2 and not G:
                    continue
                true = exact_split_min(vals, q, G, int(m), int(c), int(t))
                assert Fraction(lo[m, c, t]) <= true, f"SPLIT-BOUND: {lo[m, c, t]} > {true}"
    elif name == "reference":
        split_only = 0
        for seed in range(6):
            M = R._mixture_model(tmp_path, seed, "copy-noise")
            split_only += check_split_against_reference(
                M, "paired", R.reference_per_input(M), random_g=seed + 1
            )
        assert split_only > 0, "the reference detector exercised no split case"


@pytest.mark.parametrize("detector", ["count", "hint", "closed", "reference"])
def test_split_detectors_pass_on_the_real_kernel(detector, tmp_path, small_trained):
    _detect(detector, tmp_path, small_trained)


@pytest.mark.parametrize("name", sorted(SPLIT_MUTANTS))
def test_split_mutant_is_caught(name, tmp_path, small_trained, monkeypatch):
    mutant = SPLIT_MUTANTS[name]
    apply(monkeypatch, mutant)
    for detector, tag in mutant.caught_by:
        with pytest.raises((AssertionError, BaseException)) as exc:
            _detect(detector, tmp_path, small_trained)
        assert tag in str(exc.value), (name, detector, str(exc.value)[:300])
