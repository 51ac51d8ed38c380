"""Rules ``rank1``, ``score-gap`` and ``rank1-gap``: attention score gaps, exact and rank-1.

Closed forms by hand (the rank-1 residual of a 2x2 factor); zero-tolerance soundness against
exact fmpq EQKE tables (S.exact_tables) on random tiny models for every gap: delta[q, m] <=
EQKE[q, m] - EQKE[q, t] for every t <= m - g; mutants; preconditions with their Reason.
"""

from __future__ import annotations

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason
from checker import balls as B
from checker.facts import Hint, Tensor
from checker.rules import rank1, rank1_gap, score_gap
from generators.search.gaps import directions


def check_rank1_closed_form(tmp=None) -> None:
    """GAP: F = [[1, 2], [3, 4]], a = (1, 0), b = (0, 1): F a = (1, 3), R = [[1, 1], [3, 1]]."""
    F = Tensor("EQ[0]", B.exact([[1.0, 2.0], [3.0, 4.0]]))
    args = {"a": Hint("a", np.array([1.0, 0.0])), "b": Hint("b", np.array([0.0, 1.0]))}
    res = rank1.apply(None, {"factor": F}, args, None)
    assert res.meaning == "(EQ[0] - (EQ[0] @ <a>) <b>^T)", f"GAP: meaning {res.meaning!r}"
    assert not S.outside(res.ball, [[1, 1], [3, 1]]), "GAP: rank1 residual"


def _gaps(M, g, mode):
    """(delta from the rule, the exact EQKE table) for constant gap g, mode exact | mrd."""
    t, _, _ = S.tables_trace(M)
    gap = np.full((M.v, M.v), g, dtype=np.int64)
    if mode == "exact":
        res = score_gap.apply(M, {"scores": t.results["EQKE0"]}, {"gap": Hint("g", gap)}, None)
    else:
        a, b = directions(t.results["EQ0"].ball.mid, t.results["EK0"].ball.mid)
        r = t.rank1("EQ0", a, b, "q")
        sp = t.max_row_diff(r, "EK0", True, "sp")
        cites = {"q": t.results["EQ0"], "k": t.results["EK0"], "spread": t.results[sp]}
        args = {"a": Hint("a.q", a), "b": Hint("b.q", b), "gap": Hint("g", gap)}
        res = rank1_gap.apply(M, cites, args, None)
    return res, S.exact_tables(M)["EQKE"][0]


def check_sound(M, mode) -> None:
    for g in range(1, M.v + 1):
        res, S_ex = _gaps(M, g, mode)
        delta, near = res.delta, res.near
        assert near.shape == (M.v, M.v, g), f"GAP: near has shape {near.shape}"
        for q in range(M.v):
            for m in range(M.v):
                for t in range(m - g + 1):
                    ok = S.fq(delta[q, m]) <= S_ex[q][m] - S_ex[q][t]
                    assert ok, f"GAP: {mode} delta[{q},{m}] above the exact gap to t={t} (g={g})"
                for i in range(min(g, m)):
                    ok = S.fq(near[q, m, i]) <= S_ex[q][m] - S_ex[q][m - 1 - i]
                    assert ok, f"GAP: {mode} near[{q},{m},{i}] above the exact gap"


@S.FAST
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(["random", "biased", "int"]))
def test_sound_random(tmp_path, seed, kind):
    w = S.random_weights(seed, kind, heads=1)
    M = S.model_of(tmp_path, f"g{seed}{kind}", w)
    check_sound(M, "exact")
    check_sound(M, "mrd")


def test_rank1_closed_form():
    check_rank1_closed_form()


def test_exact_closed_form(tmp_path):
    """GAP: on a row S = [0, 5, 2, 7] (q fixed) with g = 1: delta[m] = S[m] - max_{t<m} S[t]:
    m = 1: 5, m = 2: -3, m = 3: 2; m = 0: no t (0)."""
    Sx = B.exact(np.array([[0.0, 5.0, 2.0, 7.0]] * 4))

    class M:
        v, h = 4, 1

    gap = np.ones((4, 4), dtype=np.int64)
    res = score_gap.apply(
        M, {"scores": Tensor("EQ[0] @ EK[0]^T", Sx)}, {"gap": Hint("g", gap)}, None
    )
    want = np.array([0.0, 5.0, -3.0, 2.0])
    ok = np.all(res.delta[0] <= want) and np.all(res.delta[0] >= want - 1e-12)
    assert ok, f"GAP: exact delta {res.delta[0]}, want {want} (rounded down, tightly)"


def test_rejections(tiny_path):
    from checker import load_model

    M = load_model(tiny_path)
    t, _, _ = S.tables_trace(M)
    v = M.v
    arrays = {"g": np.ones((v, v), dtype=np.int64), "g0": np.zeros((v, v), dtype=np.int64),
              "gf": np.ones((v, v)), "gs": np.ones((v, v + 1), dtype=np.int64)}  # fmt: skip
    sg = lambda scores, g: S.step("s", "score-gap", {"scores": scores}, {"gap": g})  # noqa: E731
    assert S.replay_reason(M, [*t.steps, sg("EQKE0", "g")], arrays) is None
    assert S.replay_reason(M, [*t.steps, sg("EQKE0", "g0")], arrays) is Reason.BAD_HINT
    assert S.replay_reason(M, [*t.steps, sg("EQKE0", "gf")], arrays) is Reason.BAD_HINT
    assert S.replay_reason(M, [*t.steps, sg("EQKE0", "gs")], arrays) is Reason.BAD_HINT
    assert S.replay_reason(M, [*t.steps, sg("EQKE0", "nope")], arrays) is Reason.BAD_HINT
    assert S.replay_reason(M, [*t.steps, sg("EQKP0", "g")], arrays) is Reason.BAD_REFERENCE
    e = M.e
    arrays |= {"a": np.ones(e), "b": np.ones(e), "a2": np.ones(e + 1), "b2": np.ones(e)}
    r1 = S.step("R", "rank1", {"factor": "EQ0"}, {"a": "a", "b": "b"})
    mrd = S.step("sp", "max-row-diff", {"a": "R", "b": "EK0"}, {"transpose_b": True})
    mrd_other = S.step("sp", "max-row-diff", {"a": "EQ0", "b": "EK0"}, {"transpose_b": True})

    def rg(a="a", b="b"):
        return S.step("G", "rank1-gap", {"q": "EQ0", "k": "EK0", "spread": "sp"},
                      {"a": a, "b": b, "gap": "g"})  # fmt: skip

    assert S.replay_reason(M, [*t.steps, r1, mrd, rg()], arrays) is None
    assert S.replay_reason(M, [*t.steps, r1, mrd_other, rg()], arrays) is Reason.BAD_REFERENCE
    assert S.replay_reason(M, [*t.steps, r1, mrd, rg("a2")], arrays) is Reason.BAD_REFERENCE
    assert S.replay_reason(M, [*t.steps, r1, mrd, rg(b="a")], arrays) is Reason.BAD_REFERENCE
    bad_r1 = S.step("R", "rank1", {"factor": "EQ0"}, {"a": "a2", "b": "b"})
    assert S.replay_reason(M, [*t.steps, bad_r1], arrays) is Reason.BAD_HINT


def det_sound(tmp) -> None:
    for seed in range(8):
        M = S.model_of(tmp, f"d{seed}", S.random_weights(seed, "random", heads=1))
        check_sound(M, "exact")
        check_sound(M, "mrd")


DETECTORS = {"sound": det_sound, "closed": check_rank1_closed_form}
MUTANTS = {
    "gap-off-by-one": S.Mutant(
        __import__("checker.lemmas", fromlist=["gap_select"]), "gap_select",
        (("j = np.arange(v)[None, :] - gap", "j = np.arange(v)[None, :] - gap - 1"),),
        (("sound", "GAP"),), "the prefix maximum stops one token early",
    ),
    "rank1-no-spread": S.Mutant(
        rank1_gap, "apply", (("B.from_bounds(rho, rho)[:, None]", "B.exact(0 * rho)[:, None]"),),
        (("sound", "GAP"),), "the residual's row spread ignored",
    ),
    "near-off-by-one": S.Mutant(
        __import__("checker.lemmas", fromlist=["near_gaps"]), "near_gaps",
        (("t = m - 1 - np.tile", "t = m - 2 - np.tile"),), (("sound", "GAP"),),
        "near[q, m, i] bounds the gap to the token one below the one it names",
    ),
    "rank1-sign": S.Mutant(
        rank1_gap, "apply", (("B.upper(B.mul(u, B.from_bounds(lo, lo)[None, :]))", "-np.inf"),),
        (("sound", "GAP"),), "the max of u_q w_t taken as u_q max w (wrong for u_q < 0)",
    ),
    "rank1-residual-sign": S.Mutant(
        rank1, "residual", (("B.sub(f, B.mul(", "B.add(f, B.mul("),), (("closed", "GAP"),),
        "R = F + (F a) b^T",
    ),
}  # fmt: skip


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
