"""Rule ``spectral`` (checker/rules/spectral.py): row spreads of a product from a spectral
norm certified by a Cholesky hint in balls (Gershgorin on the remainder).

Closed forms by hand (one of them tight), certificates that must be refused (lambda below
sigma_1^2, a remainder with large off-diagonal entries), zero-tolerance containment
(hypothesis) of the exact fmpq row spreads of the product of exact points, mutants, and
preconditions (exact Reason).
"""

from __future__ import annotations

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import CheckError, Reason, load_model
from checker import balls as B
from checker.facts import Hint, Tensor
from checker.rules import factor, spectral
from generators.search.gaps import spectral_hint


def _apply(a, b, lam, L, t=False):
    cites = {"a": Tensor("A", a), "b": Tensor("B", b)}
    args = {"transpose_b": t, "lam": Hint("l", np.array([float(lam)])),
            "chol": Hint("c", np.asarray(L, dtype=float))}  # fmt: skip
    return spectral.apply(None, cites, args, None)


def check_closed_form(tmp=None) -> None:
    """SPECTRAL: B = diag(1, 2), lambda = 5.25, L = diag(2, 1): lambda I - B B^T - L L^T =
    I / 4 is certified; A = [1, 0] gives rho = sqrt(10.5).  Near-tight: A = [1], B = [1, -1],
    lambda = 2.25, L = 0: rho = sqrt(4.5) = 2.12..., the exact spread of AB = [1, -1] is 2.
    (A remainder exactly 0 is refused: the lower end of 0 is rounded below 0.)"""
    res = _apply(B.exact([[1.0, 0.0]]), B.exact([[1.0, 0.0], [0.0, 2.0]]), 5.25, np.diag([2.0, 1]))
    assert res.of == "A @ B" and 10.5**0.5 <= res.rho[0] <= 10.5**0.5 + 1e-12, f"SPECTRAL: {res}"
    tight = _apply(B.exact([[1.0]]), B.exact([[1.0, -1.0]]), 2.25, [[0.0]])
    assert 4.5**0.5 <= tight.rho[0] <= 4.5**0.5 + 1e-12, f"SPECTRAL: tight case rho {tight.rho}"


def test_closed_form():
    check_closed_form()


def check_refused(tmp=None) -> None:
    """SPECTRAL: refused (lemma-failed): B = diag(1, 2) (sigma_1^2 = 4) with lambda = 4.9 and
    L = diag(2, 1) (a true lambda, but the remainder's diagonal is -0.1) or lambda = 3.9 and
    L = I (false; remainder diag(1.9, -1.1)); B = [[1, 1], [1, 1]] (sigma_1^2 = 4) with
    lambda = 2.5, L = 0 (false; remainder diagonal 0.5, off-diagonal -2)."""
    for b, lam, L in (
        ([[1.0, 0.0], [0.0, 2.0]], 4.9, np.diag([2.0, 1.0])),
        ([[1.0, 0.0], [0.0, 2.0]], 3.9, np.eye(2)),
        ([[1.0, 1.0], [1.0, 1.0]], 2.5, np.zeros((2, 2))),
    ):
        try:
            _apply(B.exact([[1.0, 0.0]]), B.exact(b), lam, L)
        except CheckError as exc:
            assert exc.reason is Reason.LEMMA_FAILED, exc
            continue
        raise AssertionError(f"SPECTRAL: lambda = {lam} for {b} was certified")


def test_refused():
    check_refused()


def check_points(a, b, fa, fb, t, lam, L) -> None:
    """SPECTRAL: if the kernel certifies lambda, every row spread of XY (XY^T) for exact
    points X in a, Y in b is <= rho (zero tolerance, fmpq)."""
    try:
        rho = _apply(a, b, lam, L, t).rho
    except CheckError as exc:
        assert exc.reason is Reason.LEMMA_FAILED, exc
        return
    pts = []
    for ball_, f in ((a, fa), (b, fb)):
        rows = [[S.fq(m) + S.fq(g) * S.fq(r) for m, g, r in zip(*rs, strict=True)]
                for rs in zip(ball_.mid, f, ball_.rad, strict=True)]  # fmt: skip
        pts.append(rows)
    X, Y = pts
    cols = Y if t else [list(c) for c in zip(*Y, strict=True)]
    for r, row in enumerate(X):
        prod = [sum(x * y for x, y in zip(row, col, strict=True)) for col in cols]
        assert max(prod) - min(prod) <= S.fq(rho[r]), f"SPECTRAL: row {r} escapes rho"


@S.FAST
@given(data=st.data(), m=st.integers(1, 3), n=st.integers(1, 3), c=st.integers(1, 4))
def test_contains_point_spreads(data, m, n, c):
    t = data.draw(st.booleans())
    a, b, fa, fb = S.draw_ball_operands(data, m, n, c, t, 1e3, (0.0, 2.0**-40, 0.25))
    bm = b.mid.T if t else b.mid
    lam, L = spectral_hint(bm + 0.0)
    shrink = data.draw(st.sampled_from([1.0, 1.0, 0.999, 0.5]))  # some hints too small
    check_points(a, b, fa, fb, t, lam * shrink, L)


def det_points(tmp) -> None:
    """The tight case at every corner of small balls, and random integer matrices."""
    check_points(B.exact([[1.0]]), B.exact([[1.0, -1.0]]), np.zeros((1, 1)), np.zeros((1, 2)),
                 False, 2.25, [[0.0]])  # fmt: skip
    rng = np.random.default_rng(0)
    for t in (False, True):
        a = B.ball(rng.integers(-9, 9, (3, 4)).astype(float), np.full((3, 4), 0.5))
        b = B.ball(rng.integers(-9, 9, (4, 5)).astype(float), np.full((4, 5), 0.25))
        lam, L = spectral_hint(b.mid)
        b = b.T if t else b
        for f in (1, -1):
            check_points(a, b, np.full((3, 4), f), np.full(b.shape, -f), t, lam, L)


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    base = [S.step(n + "0", "factor", args={"name": n, "head": 0}) for n in ("EQ", "EK", "PK")]
    e = M.e
    lam, L = spectral_hint(factor.make(M, "EK", 0).mid.T)
    arrays = {"lam": np.array([lam]), "L": L, "neg": np.array([-1.0]), "L1": np.ones((e + 1, e)),
              "two": np.array([lam, lam]), "tiny": np.array([1e-300])}  # fmt: skip

    def sp(b="EK0", lam="lam", chol="L", t=True):
        return S.step("s", "spectral", {"a": "EQ0", "b": b}, {"transpose_b": t, "lam": lam, "chol": chol})  # fmt: skip  # noqa: E501

    assert S.replay_reason(M, [*base, sp()], arrays) is None
    for s, why in (
        (sp(lam="neg"), Reason.BAD_HINT),
        (sp(lam="two"), Reason.BAD_HINT),
        (sp(chol="L1"), Reason.BAD_HINT),
        (sp(lam="nope"), Reason.BAD_HINT),
        (sp(t=False), Reason.LEMMA_FAILED),  # shapes do not chain
        (sp(lam="tiny"), Reason.LEMMA_FAILED),  # not certified
        (sp("nowhere"), Reason.BAD_REFERENCE),
    ):
        assert S.replay_reason(M, [*base, s], arrays) is why, (s, why)


DETECTORS = {"closed": check_closed_form, "refused": check_refused, "points": det_points}
MUTANTS = {
    "spectral-no-offdiag": S.Mutant(
        spectral, "certified", (("np.arange(n)] >= R))", "np.arange(n)] >= 0))"),),
        (("refused", "SPECTRAL"),), "Gershgorin without the off-diagonal row sums",
    ),
    "spectral-ll-sign": S.Mutant(
        spectral, "certified", (("B.sub(B.sub(B.exact(lam * np.eye(n)), G), LL)",
                                 "B.add(B.sub(B.exact(lam * np.eye(n)), G), LL)"),),
        (("refused", "SPECTRAL"),), "lambda I - G + L L^T: any lambda certified by a large L",
    ),
    "spectral-no-sqrt2": S.Mutant(
        spectral, "apply", (("(2 * arb(lam)).sqrt()", "arb(lam).sqrt()"),),
        (("closed", "SPECTRAL"), ("points", "SPECTRAL")), "spread <= |A_r| sigma_1 (no sqrt 2)",
    ),
}  # fmt: skip


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
