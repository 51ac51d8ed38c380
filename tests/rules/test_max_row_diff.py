"""Rules ``max-row-diff`` and ``row-spread``: row spreads of a product, bounded and exact.

Closed forms by hand, zero-tolerance containment (hypothesis) against the exact fmpq spread
of the product of exact points of the input balls, mutants, and preconditions (exact Reason).
"""

from __future__ import annotations

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker import balls as B
from checker.facts import Hint, Tensor
from checker.rules import max_row_diff, row_spread


def _apply(rule, a, b, t=False, two_max=False, center=None):
    if rule is row_spread:
        prod = B.matmul(a, b.T if t else b)
        return rule.apply(None, {"m": Tensor("M", prod)}, {}, None)
    args = {"transpose_b": t, "abs": two_max}
    if center is not None:
        args["center"] = Hint("mu", np.asarray(center, dtype=float))
    return rule.apply(None, {"a": Tensor("A", a), "b": Tensor("B", b)}, args, None)


def check_closed_form(tmp=None) -> None:
    """MRD: A = [[1, -2]], B = [[0, 3, 1], [2, 2, -1]]: row spreads of B are 3, 3, so rho =
    1*3 + 2*3 = 9; AB = [[-4, -1, 3]] has exact spread 7."""
    a, b = B.exact([[1.0, -2.0]]), B.exact([[0.0, 3.0, 1.0], [2.0, 2.0, -1.0]])
    got = _apply(max_row_diff, a, b).rho
    assert got.shape == (1,) and 9.0 <= got[0] <= 9.0 + 1e-12, f"MRD: rho {got}, want 9"
    ex = _apply(row_spread, a, b).rho
    assert 7.0 <= ex[0] <= 7.0 + 1e-12, f"MRD: exact spread {ex}, want 7"
    res = max_row_diff.apply(
        None, {"a": Tensor("A", a), "b": Tensor("B", b)}, {"transpose_b": False}, None
    )
    assert res.of == "A @ B", f"MRD: meaning {res.of!r}"
    two = _apply(max_row_diff, a, b, two_max=True).rho  # 2 max|B_k.| = 6, 4: rho = 6 + 8
    assert 14.0 <= two[0] <= 14.0 + 1e-12, f"MRD: 2 max|.| rho {two}, want 14"
    mean = _apply(max_row_diff, a, b, center=[1.0, -2.0]).rho  # A - mu = 0: spread(mu B) = 7
    assert 7.0 <= mean[0] <= 7.0 + 1e-12, f"MRD: centred rho {mean}, want 7"


def test_closed_form():
    check_closed_form()


def check_points(a, b, fa, fb, t) -> None:
    """MRD: for exact points X in a, Y in b, every row spread of XY (XY^T) is <= rho, for
    both rules (zero tolerance, in fmpq)."""
    X = [[S.fq(m) + S.fq(f) * S.fq(r) for m, f, r in zip(*rows, strict=True)]
         for rows in zip(a.mid, fa, a.rad, strict=True)]  # fmt: skip
    Y = [[S.fq(m) + S.fq(f) * S.fq(r) for m, f, r in zip(*rows, strict=True)]
         for rows in zip(b.mid, fb, b.rad, strict=True)]  # fmt: skip
    Yt = [list(c) for c in zip(*Y, strict=True)] if t else Y
    mu = [0.5 * x for x in a.mid[0]]
    for rule, two, c in ((max_row_diff, False, None), (row_spread, False, None),
                         (max_row_diff, True, None), (max_row_diff, False, mu)):  # fmt: skip
        rho = _apply(rule, a, b, t, two, c).rho
        for r, row in enumerate(X):
            prod = [
                sum(x * y for x, y in zip(row, col, strict=True)) for col in zip(*Yt, strict=True)
            ]
            assert max(prod) - min(prod) <= S.fq(rho[r]), f"MRD: {rule.NAME} misses row {r}"


@S.FAST
@given(data=st.data(), m=st.integers(1, 3), n=st.integers(1, 3), p=st.integers(1, 4))
def test_contains_point_spreads(data, m, n, p):
    t = data.draw(st.booleans())
    a, b, fa, fb = S.draw_ball_operands(data, m, n, p, t)
    check_points(a, b, fa, fb, t)


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    base = [S.step(n, "factor", args={"name": n, "head": 0}) for n in ("EQ", "PK", "OU")]
    mrd = lambda a, b, t: S.step("s", "max-row-diff", {"a": a, "b": b}, {"transpose_b": t})  # noqa: E731
    assert S.replay_reason(M, [*base, mrd("EQ", "PK", True)]) is None
    assert S.replay_reason(M, [*base, mrd("EQ", "PK", False)]) is Reason.LEMMA_FAILED
    assert S.replay_reason(M, [*base, mrd("EQ", "nowhere", True)]) is Reason.BAD_REFERENCE
    assert S.replay_reason(M, [*base, mrd("EQ", "PK", 1)]) is Reason.BAD_HINT
    arrays = {"mu": np.ones(M.e), "mu1": np.ones(M.e + 1)}
    for mu, why in (("mu", None), ("mu1", Reason.BAD_HINT), ("none", Reason.BAD_HINT)):
        s = S.step("s", "max-row-diff", {"a": "EQ", "b": "PK"}, {"transpose_b": True, "center": mu})
        assert S.replay_reason(M, [*base, s], arrays) is why, mu
    rs = S.step("r", "row-spread", {"m": "s"})
    assert S.replay_reason(M, [*base, mrd("EQ", "PK", True), rs]) is Reason.BAD_REFERENCE
    assert S.replay_reason(M, [*base, S.step("r", "row-spread", {"m": "EQ"})]) is None


def det_points(tmp) -> None:
    tight_a, tight_b = B.ball([[2.0]], [[0.5]]), B.exact([[0.0, 1.0]])  # spread 2.5 at X = 2.5
    check_points(tight_a, tight_b, np.ones((1, 1)), np.zeros((1, 2)), False)
    rng = np.random.default_rng(0)
    for t in (False, True):
        a = B.ball(rng.integers(-9, 9, (3, 4)).astype(float), np.full((3, 4), 0.5))
        b = B.ball(rng.integers(-9, 9, (4, 4)).astype(float), np.full((4, 4), 0.25))
        for fa, fb in ((1, -1), (-1, 1), (1, 1)):
            check_points(
                a, b, np.full((3, 4), fa), np.full((4, 4), fb) * np.array([1, -1, 1, -1]), t
            )


DETECTORS = {"closed": check_closed_form, "points": det_points}
MUTANTS = {
    "mrd-signed-a": S.Mutant(
        max_row_diff, "spread", (("np.abs(a.mid)", "a.mid"),), (("closed", "MRD"),),
        "|A| replaced by A",
    ),
    "mrd-drops-radius": S.Mutant(
        max_row_diff, "spread", (("B.Ball(np.abs(a.mid), a.rad)", "B.exact(np.abs(a.mid))"),),
        (("points", "MRD"),), "A's radius ignored",
    ),
    "mrd-abs-no-factor-2": S.Mutant(
        max_row_diff, "spread", (("s = 2 * B.upper(", "s = 1 * B.upper("),), (("closed", "MRD"),),
        "2 max|.| without its factor 2",
    ),
    "mrd-center-no-row": S.Mutant(
        max_row_diff, "apply", (("B.from_bounds(top, top)", "B.from_bounds(0 * top, 0 * top)"),),
        (("closed", "MRD"),), "mean + max-row-diff without the mean row's own spread",
    ),
    "spread-half": S.Mutant(
        row_spread, "apply", (("B.min(m.ball, 1)", "B.max(m.ball, 1)"),), (("closed", "MRD"),),
        "max - max instead of max - min",
    ),
}  # fmt: skip


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
