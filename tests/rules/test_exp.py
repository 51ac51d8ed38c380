"""Rule ``exp`` (checker/rules/exp.py): row-shifted exps of scores, in arb.

Closed forms (the shifted entry is exp(0) = 1; a hand grid), zero-tolerance containment
against mpmath intervals (hypothesis and adversarial grids: huge negative scores where an
unrounded shift is visible, subnormals), mutants, and preconditions.
"""

from __future__ import annotations

import numpy as np
import pytest
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import CheckError, Reason, load_model
from checker import balls as B
from checker.facts import Tensor
from checker.rules import exp

GRID = np.array([[0.0, 1.0, -1.0], [700.0, -700.0, 0.5], [3.0, 3.0, 3.0]])
# shift 0.1: -700 - 0.1 is inexact in floats, and exp(x / sqrt(e)) magnifies the error
SHIFTED = np.array(
    [[0.1, -700.0, -3.3], [1e-300, 0.3, -650.123456789], [5e-324, 0.0, -(2.0**-1022)]]
)


def check_table(scores: np.ndarray, e: int) -> None:
    """EXP: exp.table encloses exp((s - max_row)/sqrt(e)) for exact input scores."""
    out = exp.table(B.exact(scores), e)
    for r in range(scores.shape[0]):
        b = out[r]
        bad = S.exp_outside(b, [S.fq(x) for x in scores[r]], float(scores[r].max()), e)
        assert not bad, f"EXP: row {r} misses the exact exp at {bad}"


def test_closed_form():
    """The row's largest score becomes exp(0) = 1 exactly (tight); equal scores give ones;
    scores [2, 0] with e = 4 give [1, exp(-1)]."""
    out = exp.table(B.exact(np.array([[2.0, 0.0], [3.0, 3.0]])), 4)
    lo, hi = B.lower(out), B.upper(out)
    assert lo[0, 0] <= 1 <= hi[0, 0] and hi[0, 0] - lo[0, 0] < 1e-15
    assert (lo[1] <= 1).all() and (hi[1] >= 1).all()
    assert lo[0, 1] <= np.exp(-1) <= hi[0, 1] and hi[0, 1] - lo[0, 1] < 1e-15


def test_rule_result(tiny_path):
    """The rule's result is named rowexp(S) and has the scores' shape, all > 0."""
    M = load_model(tiny_path)
    t, _, heads = S.tables_trace(M)
    g = t.results[heads[0]["g"]]
    assert g.meaning == "rowexp(EQ[0] @ EK[0]^T)" and g.ball.shape == (M.v, M.v)
    assert B.positive(g.ball).all()


@S.FAST
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
def test_against_mpmath(rows, e):
    check_table(np.array(rows, dtype=np.float64), e)


@pytest.mark.parametrize("e", [1, 2, 7])
def test_fixed_grids(e):
    check_table(GRID, e)
    check_table(SHIFTED, e)


def test_balls_in_balls_out():
    """Scores with radius: every point's exp lies in the result (corners suffice: exp is
    monotone, and the shift is the same for every point)."""
    mid, rad = np.array([[1.0, -2.0, 0.5]]), np.array([[0.25, 1.0, 0.0]])
    out = exp.table(B.ball(mid, rad), 3)
    for sign in (-1.0, 1.0):
        pts = mid + sign * rad
        bad = S.exp_outside(out[0], [S.fq(x) for x in pts[0]], float(mid.max()), 3)
        assert not bad, bad


# ---- preconditions -------------------------------------------------------------------------


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    t, _, heads = S.tables_trace(M)
    val = t.value(heads[0]["evou"], heads[0]["pvou"], "each")
    bad = [
        (S.step("x", "exp", cite={"scores": val}), Reason.BAD_REFERENCE),
        (S.step("x", "exp", cite={"scores": "missing"}), Reason.BAD_REFERENCE),
        (S.step("x", "exp", cite={"scores": "EU"}, args={"e": 1}), Reason.CERT_SCHEMA),
        (S.step("x", "exp", cite={}), Reason.CERT_SCHEMA),
    ]
    for st_, reason in bad:
        assert S.replay_reason(M, [*t.steps, st_]) is reason, st_
    with pytest.raises(CheckError) as exc:  # only matrices (no step can make another shape)
        exp.work(M, {"scores": Tensor("X", B.exact(np.zeros((2, 2, 2))))}, {})
    assert exc.value.reason is Reason.LEMMA_FAILED


# ---- mutants -------------------------------------------------------------------------------


def det_grid(tmp) -> None:
    for e in (1, 2, 7):
        check_table(GRID, e)
        check_table(SHIFTED, e)


def check_tables(M) -> None:
    """EXP: the exps g, f of every head of M contain exp((exact score - the kernel's row
    shift)/sqrt(e)) (mpmath)."""
    t, _, heads = S.tables_trace(M)
    ex = S.exact_tables(M)
    for i, head in enumerate(heads):
        for role, sc in (("g", "EQKE"), ("f", "EQKP")):
            ball, score = t.results[head[role]].ball, t.results[f"{sc}{i}"].ball
            for q in range(M.v):
                bad = S.exp_outside(ball[q], ex[sc][i][q], float(score.mid[q].max()), M.e)
                assert not bad, f"EXP: {role}{i}[{q}] misses the exact exp at {bad}"


@S.FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased", "huge"]))
def test_tables_contain_exact(tmp_path, seed, kind):
    check_tables(S.model_of(tmp_path, f"r{seed}", S.random_weights(seed, kind)))


def det_tables(tmp) -> None:
    """The exps of real path tables against mpmath (shift = the kernel's row max)."""
    from generators.tinymodels import make_weights

    M = S.model_of(tmp, "t", make_weights(np.random.default_rng(2), 4, 3, 3, 1, 3, "biased"))
    check_tables(M)
    t, _, heads = S.tables_trace(M)
    ex = S.exact_tables(M)
    for role, sc in (("g", "EQKE"), ("f", "EQKP")):
        ball, score = t.results[heads[0][role]].ball, t.results[f"{sc}0"].ball
        for q in range(M.v):
            bad = S.exp_outside(ball[q], ex[sc][0][q], float(score.mid[q].max()), M.e)
            assert not bad, f"EXP: {role}[{q}] misses the exact exp at {bad}"


DETECTORS = {"grid": det_grid, "tables": det_tables}
MUTANTS = {
    "exp-inward": S.Mutant(
        exp,
        "table",
        (
            ("return B.exp_scaled(", "out = B.exp_scaled("),
            ("score.shape))), e)", "score.shape))), e)\n    return B.Ball(out.mid, 0 * out.rad)"),
        ),
        (("grid", "EXP"), ("tables", "EXP")),
        "exp table rounded to its midpoint (radius dropped)",
    ),
    "exp-unscaled": S.Mutant(
        exp,
        "table",
        (("score.shape))), e)", "score.shape))), 1)"),),
        (("grid", "EXP"), ("tables", "EXP")),
        "scores not scaled by 1/sqrt(d_head)",
    ),
    "shift-not-a-ball-op": S.Mutant(
        exp,
        "table",
        (
            (
                "B.sub(score, B.exact(np.broadcast_to(shift, score.shape)))",
                "B.Ball(score.mid - shift, score.rad)",
            ),
        ),
        (("grid", "EXP"),),
        "the shift subtracted in floats, its rounding error ignored",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
