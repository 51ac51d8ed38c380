"""Rule ``cases`` (checker/rules/cases.py): the cubic family's count for one query.

The rule's count is the union of the cases it proves (enumerated, with every bound forced
positive); every input it counts is correct by the arb reference (tests/reference.py), for
every margin variant and every kind of hint (the generator's, random, all), with and without
split cases; the hint checks; mutants; preconditions (exact Reason).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker import balls as B
from checker import lemmas as L
from checker.rules import cases
from generators.search.cases import choose_sets, choose_split, tau_table
from generators.tinymodels import make_weights

VARIANTS = ("paper", "positional", "paired")


def margins(M, variant: str):
    """A Trace with the path tables and the margin bound of every query; (trace, head ids,
    margin ids)."""
    t, eu, heads = S.tables_trace(M)
    h = heads[0]
    if variant == "paired":
        ws = [t.paired(eu, h["evou"], h["pvou"], q) for q in range(M.v)]
    else:
        val = t.value(h["evou"], h["pvou"], "worst" if variant == "paper" else "each")
        ws = [t.margin(eu, val, q) for q in range(M.v)]
    return t, h, ws


def _apply(M, t, h, w, sets, split=None):
    cites = {"margin": t.results[w], "g": t.results[h["g"]], "f": t.results[h["f"]]}
    args = {"sets": sets} if split is None else {"sets": sets, "split": split}
    return cases.apply(M, cites, args, lambda n, total: None).correct


def _tau(M, t, h, w, q):
    return tau_table(t.results[w].ball, t.results[h["g"]].ball[q], t.results[h["f"]].ball[q])


def check_union(M, q: int, sets: np.ndarray, split: np.ndarray | None, mp) -> None:
    """COUNT: with every bound forced positive, the rule counts exactly the union of its
    counted cases and split cases (enumerated): disjoint cases, each counted once."""
    t, h, ws = margins(M, "paper")
    with mp.context() as m:
        m.setattr(L, "case_bounds", lambda tau, q, s: B.exact(np.ones(s.shape[:2])))
        m.setattr(L, "split_bounds", lambda tau, q, s: B.exact(np.ones(s.shape)))
        count = _apply(M, t, h, ws[q], sets, split)
    counted = L.valid_cases(M.v, M.k, q) & (sets.any(axis=2) | (np.arange(M.k)[None, :] == 0))
    if split is None:
        n = len(S.covered_inputs(M.v, M.k, q, sets, counted))
    else:
        n = len(S.covered_with_split(M.v, M.k, q, sets, counted, split, np.ones_like(split)))
    assert count == n, f"COUNT: the rule counts {count}, the union of the cases has {n}"


@S.FAST
@given(data=st.data())
def test_count_is_the_union(tmp_path, data):
    v, k = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    M = S.model_of(tmp_path, "c", make_weights(rng, v, k, 3, 1, 2, "random"))
    q = data.draw(st.integers(0, v - 1))
    allowed = S.allowed_bits(v, k, q)
    sets = allowed & (rng.random(allowed.shape) < 0.5)
    split = S.split_candidates(v, k, q, sets) & (rng.random(allowed.shape) < 0.7)
    check_union(M, q, sets, split if data.draw(st.booleans()) else None, pytest.MonkeyPatch())


def check_sound(M, variant: str, hint: str, truth, split: bool, seed: int = 0) -> int:
    """MIXTURE: every input the rule counts (hint = the generator's sets, random sets, all
    allowed bits; optionally every split candidate) is correct by the arb reference, and the
    rule counts exactly the inputs of the cases whose bound is positive.  Returns the count."""
    t, h, ws = margins(M, variant)
    rng = np.random.default_rng(seed)
    total = 0
    for q in range(M.v):
        tau = _tau(M, t, h, ws[q], q)
        allowed = S.allowed_bits(M.v, M.k, q)
        sets = {
            "generator": choose_sets(tau, q),
            "random": allowed & (rng.random(allowed.shape) < 0.6),
            "all": allowed,
        }[hint]
        counted = L.valid_cases(M.v, M.k, q) & (sets.any(axis=2) | (np.arange(M.k)[None, :] == 0))
        proven = B.positive(L.case_bounds(tau, q, sets)) & counted
        sp = S.split_candidates(M.v, M.k, q, sets) if split else None
        if split:
            ok = B.positive(L.split_bounds(tau, q, sets))
            xs = S.covered_with_split(M.v, M.k, q, sets, proven, sp, ok)
        else:
            xs = S.covered_inputs(M.v, M.k, q, sets, proven)
        wrong = [x for x in xs if truth[x] is not True]
        assert not wrong, f"MIXTURE: {variant} counts {wrong[:3]} as correct; reference: no"
        count = _apply(M, t, h, ws[q], sets, sp)
        assert count == len(xs), f"MIXTURE: the rule counts {count} != {len(xs)} covered"
        total += count
    return total


@S.FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    style=st.sampled_from(["copy-noise", "copy-noise", "trained-like", "biased"]),
    variant=st.sampled_from(VARIANTS),
    hint=st.sampled_from(["generator", "random", "all"]),
    split=st.booleans(),
)
def test_sound_against_reference(tmp_path, seed, style, variant, hint, split):
    M = S.mixture_model(tmp_path, seed, style)
    check_sound(
        M, variant, hint, S.truth_of(tmp_path / f"mx{seed}-{style}.safetensors"), split, seed
    )


def test_sound_covers_something(tmp_path):
    """The property above is not vacuous: on copy-noise models many inputs are covered,
    and split cases add some."""
    M = S.mixture_model(tmp_path, 3, "copy-noise")
    truth = S.truth_of(tmp_path / "mx3-copy-noise.safetensors")
    n = check_sound(M, "paired", "generator", truth, False)
    assert n > M.total // 4


@pytest.mark.slow
def test_split_cases_prove_something():
    """On a zoo model the split cases add proven inputs."""
    M = load_model(Path(__file__).parents[2] / "zoo/k4/seed000.safetensors")
    t, h, ws = margins(M, "paired")
    found = 0
    for q in range(0, M.v, 8):
        tau = _tau(M, t, h, ws[q], q)
        sets = choose_sets(tau, q)
        found += _apply(M, t, h, ws[q], sets, choose_split(tau, q, sets)) - _apply(
            M, t, h, ws[q], sets
        )
    assert found > 0


# ---- preconditions -------------------------------------------------------------------------


def _cases(w, h, q_sets="G", split=None, claim=0):
    args = {"sets": q_sets} if split is None else {"sets": q_sets, "split": split}
    return S.step(
        "c",
        "cases",
        cite={"margin": w, "g": h["g"], "f": h["f"]},
        args=args,
        claim={"correct": claim},
    )


def _packed(bits):
    return np.packbits(bits, axis=2)


def check_preconditions(M) -> None:
    """CASES: every hint and citation check rejects with its reason (AssertionError tagged
    CASES otherwise)."""
    t, h, ws = margins(M, "paper")
    v, k, q = M.v, M.k, 0
    sets = choose_sets(_tau(M, t, h, ws[q], q), q)
    n = _apply(M, t, h, ws[q], sets)

    def reason(step, arrays):
        return S.replay_reason(M, [*t.steps, step], {**t.arrays, **arrays})

    G = {"G": _packed(sets)}
    c0 = _bit(v, k, v - 1, 0, 0)
    got = reason(_cases(ws[q], h, claim=n), G)
    assert got is None, f"CASES: the honest step is rejected ({got})"
    checks = [
        ("claim+1", _cases(ws[q], h, claim=n + 1), G, Reason.CLAIM_MISMATCH),
        ("no-array", _cases(ws[q], h, q_sets="nowhere"), {}, Reason.BAD_HINT),
        ("shape", _cases(ws[q], h), {"G": _packed(sets)[:, :-1]}, Reason.BAD_HINT),
        ("dtype", _cases(ws[q], h), {"G": _packed(sets).astype(np.int64)}, Reason.BAD_HINT),
        ("padding", _cases(ws[q], h), {"G": _packed(sets) | np.uint8(1)}, Reason.BAD_HINT),
        (
            "t=m",
            _cases(ws[q], h),
            {"G": _packed(sets | _bit(v, k, v - 1, 1, v - 1))},
            Reason.BAD_HINT,
        ),
        (
            "c=k-1,q<m",
            _cases(ws[q], h),
            {"G": _packed(sets | _bit(v, k, v - 1, k - 1, 0))},
            Reason.BAD_HINT,
        ),
        (
            "split-in-G",
            _cases(ws[q], h, split="S"),
            {"G": _packed(sets | _bit(v, k, v - 1, 1, 0)), "S": _packed(_bit(v, k, v - 1, 1, 0))},
            Reason.BAD_HINT,
        ),
        (
            "split-c=0",
            _cases(ws[q], h, split="S"),
            {"G": _packed(sets & ~c0), "S": _packed(c0)},
            Reason.BAD_HINT,
        ),
        (
            "split-t>=m",
            _cases(ws[q], h, split="S"),
            {**G, "S": _packed(_bit(v, k, v - 2, 1, v - 1))},
            Reason.BAD_HINT,
        ),
        (
            "g-is-f",
            S.step(
                "c",
                "cases",
                cite={"margin": ws[q], "g": h["f"], "f": h["f"]},
                args={"sets": "G"},
                claim={"correct": n},
            ),
            G,
            Reason.BAD_REFERENCE,
        ),
        (
            "margin-is-value",
            S.step(
                "c",
                "cases",
                cite={"margin": "value.worst", "g": h["g"], "f": h["f"]},
                args={"sets": "G"},
                claim={"correct": n},
            ),
            G,
            Reason.BAD_REFERENCE,
        ),
        ("no-claim", _cases(ws[q], h) | {"claim": {}}, G, Reason.CERT_SCHEMA),
    ]
    for name, step, arrays, want in checks:
        got = reason(step, arrays)
        assert got is want, f"CASES: {name} gave {got}, want {want}"


def _bit(v, k, m, c, t):
    b = np.zeros((v, k, v), dtype=bool)
    b[m, c, t] = True
    return b


def test_preconditions(tiny_path):
    check_preconditions(load_model(tiny_path))


def check_two_heads(tmp) -> None:
    """CASES: a two-head model is refused (UNSUPPORTED), even with an empty hint."""
    M = S.model_of(tmp, "h2", make_weights(np.random.default_rng(5), 4, 3, 4, 2, 2, "trained-like"))
    t, eu, heads = S.tables_trace(M)
    h = heads[0]
    w = t.paired(eu, h["evou"], h["pvou"], 0)
    st_ = _cases(w, h)
    got = S.replay_reason(M, [*t.steps, st_], {"G": _packed(np.zeros((4, 3, 4), dtype=bool))})
    assert got is Reason.UNSUPPORTED, f"CASES: two heads gave {got}"


def test_two_heads_unsupported(tmp_path):
    check_two_heads(tmp_path)


# ---- mutants -------------------------------------------------------------------------------


def det_union(tmp) -> None:
    rng = np.random.default_rng(0)
    M = S.model_of(tmp, "cq", make_weights(rng, 4, 4, 3, 1, 2, "random"))
    mp = pytest.MonkeyPatch()
    for q in range(M.v):
        allowed = S.allowed_bits(M.v, M.k, q)
        sets = allowed & (rng.random(allowed.shape) < 0.7)
        check_union(M, q, sets, None, mp)
        check_union(M, q, sets, S.split_candidates(M.v, M.k, q, sets), mp)


def det_mixture(tmp) -> None:
    """Soundness on copy-noise models and the adversarial trap models (all hints)."""
    from generators.liars import direct_trap, mixture_trap, poison_trap

    paths = [tmp / f"mx{s}-copy-noise.safetensors" for s in (1, 2, 3, 4)]
    for s in (1, 2, 3, 4):
        S.mixture_model(tmp, s, "copy-noise")
    paths += [mixture_trap(tmp / "mixture.safetensors"), direct_trap(tmp / "direct.safetensors")]
    paths.append(poison_trap(tmp / "poison.safetensors"))
    for p in paths:
        M, truth = load_model(p), S.truth_of(p)
        for variant in VARIANTS:
            for hint in ("all", "generator"):
                check_sound(M, variant, hint, truth, split=hint == "generator")


def det_preconditions(tmp) -> None:
    check_preconditions(S.tiny_model(tmp))
    check_two_heads(tmp)


def det_false_bound(tmp) -> None:
    S.false_bound_report(S.adversarial_models(tmp), tmp, ["cubic", "cubic-paired-split"])


DETECTORS = {
    "union": det_union,
    "mixture": det_mixture,
    "preconditions": det_preconditions,
    "false-bound": det_false_bound,
}
MUTANTS = {
    "one-head-check-dropped": S.Mutant(
        cases,
        "work",
        (("require(model.h == 1,", "require(True,"),),
        (("preconditions", "CASES"),),
        "cases on a two-head model (head 0 only)",
    ),
    "hint-bits-unchecked": S.Mutant(
        cases,
        "apply",
        (("not bool((sets & ~possible).any())", "True"),),
        (("preconditions", "CASES"),),
        "token sets naming t >= m or impossible cases accepted",
    ),
    "split-sets-overlap-unchecked": S.Mutant(
        cases,
        "apply",
        (("or (split & sets).any()", ""),),
        (("preconditions", "CASES"),),
        "a split token allowed inside G (double count)",
    ),
    "split-t>=m-unchecked": S.Mutant(
        cases,
        "apply",
        (("bad = split & ~possible", "bad = split & False"),),
        (("preconditions", "CASES"),),
        "split tokens >= m accepted",
    ),
    "tau-without-positions": S.Mutant(
        cases,
        "apply",
        (
            (
                "tau = B.mul(B.mul(f[None, :, None], g[None, None, :]), w.ball)",
                "tau = B.mul(g[None, None, :], w.ball)",
            ),
        ),
        (("mixture", "MIXTURE"),),
        "case bounds without the positional attention weights",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
