"""Rule ``low-rank`` (checker/rules/lowrank.py): a product enclosed from a rank-r split plus a
Cauchy-Schwarz residual, and the factors E, U whose product is EU (rule ``factor``).

Closed forms by hand, zero-tolerance containment (hypothesis) of the exact fmpq product of
exact points of the input balls for arbitrary (not orthonormal) hints, EU / EVOU / EQKE of
random models against exact fmpq tables, mutants, and preconditions (exact Reason).
"""

from __future__ import annotations

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker import balls as B
from checker.facts import Hint, Tensor
from checker.rules import factor, lowrank


def _apply(a, b, p, q, t=False, diag=False, mode="cs"):
    cites = {"a": Tensor("A", a), "b": Tensor("B", b)}
    args = {"transpose_b": t, "p": Hint("p", np.asarray(p, float)),
            "q": Hint("q", np.asarray(q, float)), "diag": diag, "residual": mode}  # fmt: skip
    return lowrank.apply(None, cites, args, None)


def _near(x, want) -> bool:
    return bool(np.all(np.asarray(want) <= x) and np.all(x <= np.asarray(want) + 1e-12))


def check_closed_form(tmp=None) -> None:
    """LOWRANK: A = [[1, 2], [3, 4]], B = I, P = Q = e1: w = [1, 0], R_A = [[0, 2], [0, 4]],
    R_B = [[0, 0], [0, 1]], u = [1, 3]: mid [[1, 0], [3, 0]], radius alpha beta^T =
    [[0, 2], [0, 4]]; with ``diag`` entry (1, 1) is the exact 4."""
    a, b, e1 = B.exact([[1.0, 2.0], [3.0, 4.0]]), B.exact(np.eye(2)), [[1.0], [0.0]]
    res = _apply(a, b, e1, e1)
    assert res.meaning == "A @ B", f"LOWRANK: meaning {res.meaning!r}"
    assert _near(res.ball.mid, [[1, 0], [3, 0]]) and _near(res.ball.rad, [[0, 2], [0, 4]]), (
        f"LOWRANK: ball {res.ball}"
    )
    d = _apply(a, b, e1, e1, diag=True).ball
    assert d.mid[1, 1] == 4 and d.rad[1, 1] <= 1e-12 and d.mid[0, 0] == 1, f"LOWRANK: diag {d}"
    assert _near(d.rad[0, 1], 2), f"LOWRANK: diag changed an off-diagonal entry {d}"
    # residual mrd: rows of R_B range over [0, 0] and [0, 1], so row i of R_A R_B lies in
    # [0, 2] and [0, 4]: mid [[2, 1], [5, 2]], radius [[1, 1], [2, 2]]
    m = _apply(a, b, e1, e1, mode="mrd").ball
    assert _near(m.mid, [[2, 1], [5, 2]]) and _near(m.rad, [[1, 1], [2, 2]]), f"LOWRANK: mrd {m}"


def test_closed_form():
    check_closed_form()


def check_points(a, b, fa, fb, p, q, t, diag, modes=("cs", "mrd")) -> None:
    """LOWRANK: for exact points X in a, Y in b the exact product X Y (X Y^T) lies in the
    enclosure (zero tolerance, fmpq)."""
    pts = []
    for ball_, f in ((a, fa), (b, fb)):
        rows = [[S.fq(m) + S.fq(g) * S.fq(r) for m, g, r in zip(*rs, strict=True)]
                for rs in zip(ball_.mid, f, ball_.rad, strict=True)]  # fmt: skip
        pts.append(rows)
    Xs, Ys = pts
    Yc = [list(c) for c in zip(*Ys, strict=True)] if not t else Ys  # columns of the right factor
    prod = [[sum(x * y for x, y in zip(row, col, strict=True)) for col in Yc] for row in Xs]
    for mode in modes:
        bad = S.outside(_apply(a, b, p, q, t, diag, mode).ball, prod)
        assert not bad, f"LOWRANK: the exact product escapes the {mode} enclosure at {bad[:3]}"


@S.FAST
@given(data=st.data(), m=st.integers(1, 3), n=st.integers(1, 3), c=st.integers(1, 3))
def test_contains_point_products(data, m, n, c):
    t = data.draw(st.booleans())
    r = data.draw(st.integers(1, n))
    a, b, fa, fb = S.draw_ball_operands(data, m, n, c, t)
    floats = st.one_of(st.floats(-1e6, 1e6, width=32), st.integers(-9, 9).map(float))
    p, q = S.draw_array(data, (n, r), floats), S.draw_array(data, (n, r), floats)
    check_points(a, b, fa, fb, p, q, t, m == c and data.draw(st.booleans()))


def det_points(tmp) -> None:
    """Random balls and hints far from orthonormal (Q^T P != I), every corner pattern; and
    A = [3, 2], B = [-2, 3]^T (AB = 0), P = [-2, 1], Q = [-1, 0]: the
    term R_A P w = 8 exceeds the residual bound 5 (u = A P alone would give [-13, -3])."""
    z = (np.zeros((1, 2)), np.zeros((2, 1)))
    check_points(B.exact([[3.0, 2.0]]), B.exact([[-2.0], [3.0]]), *z,
                 [[-2.0], [1.0]], [[-1.0], [0.0]], False, False)  # fmt: skip
    # A = [0, 0 +- 1], B = [0, 1]^T, P = Q = e1: the enclosure is 0 +- |R_A| |R_B| = 0 +- 1,
    # tight at X = [0, 1] (XB = 1): a norm of R_A's midpoints alone (0) would miss it
    check_points(B.ball([[0.0, 0.0]], [[0.0, 1.0]]), B.exact([[0.0], [1.0]]), np.ones((1, 2)),
                 np.zeros((2, 1)), [[1.0], [0.0]], [[1.0], [0.0]], False, False)  # fmt: skip
    rng = np.random.default_rng(0)
    for t in (False, True):
        for r in (1, 2):
            a = B.ball(rng.integers(-9, 9, (3, 4)).astype(float), np.full((3, 4), 0.5))
            b = B.ball(rng.integers(-9, 9, (4, 3)).astype(float), np.full((4, 3), 0.25))
            b = b.T if t else b
            p, q = rng.integers(-3, 4, (4, r)).astype(float), rng.integers(-3, 4, (4, r)) * 1.0
            for fa, fb in ((1, -1), (-1, 1), (1, 1)):
                check_points(a, b, np.full((3, 4), fa), np.full(b.shape, fb), p, q, t, True)


def check_tables(M) -> None:
    """LOWRANK: EU (as E @ U), EVOU and EQKE of M enclosed for ranks 1..2 contain the exact
    fmpq tables; the E @ U enclosure is named EU."""
    ex = S.exact_tables(M)
    f = {n: factor.apply(M, {}, {"name": n, "head": 0}, None) for n in ("E", "U", "EV", "OU", "EQ", "EK")}  # fmt: skip  # noqa: E501
    for r in (1, 2):
        for x, y, t, want in (("E", "U", False, ex["EU"]), ("EV", "OU", False, ex["EVOU"][0]),
                              ("EQ", "EK", True, ex["EQKE"][0])):  # fmt: skip
            n = f[x].ball.shape[1]
            p = np.random.default_rng(r).normal(size=(n, min(r, n)))
            cites = {"a": f[x], "b": f[y]}
            args = {"transpose_b": t, "p": Hint("p", p), "q": Hint("q", p), "diag": x == "EV"}
            res = lowrank.apply(M, cites, args, None)
            assert x != "E" or res.meaning == "EU", f"LOWRANK: E @ U named {res.meaning!r}"
            bad = S.outside(res.ball, want)
            assert not bad, f"LOWRANK: {res.meaning} misses the exact table at {bad[:3]}"


@S.FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased", "huge"]))
def test_tables_contain_exact(tmp_path, seed, kind):
    check_tables(S.model_of(tmp_path, f"r{seed}", S.random_weights(seed, kind, heads=1)))


def det_tables(tmp) -> None:
    for seed in range(3):
        check_tables(S.model_of(tmp, f"t{seed}", S.random_weights(seed, "biased", heads=1)))


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    base = [S.step(n + "0", "factor", args={"name": n, "head": 0})
            for n in ("E", "U", "EQ", "PK", "EV", "OU")]  # fmt: skip
    e, d = M.e, M.d
    arrays = {"p": np.ones((e, 1)), "q": np.ones((e, 1)), "q2": np.ones((e, 2)),
              "p0": np.ones((e, 0)), "pi": np.ones((e, 1), dtype=np.int64),
              "pd": np.ones((d + 1, 2))}  # fmt: skip

    def lr(a="EV0", b="OU0", t=False, p="p", q="p", **extra):
        return S.step("s", "low-rank", {"a": a, "b": b}, {"transpose_b": t, "p": p, "q": q, **extra})  # fmt: skip  # noqa: E501

    ok = [lr(), lr(diag=True), lr("EQ0", "PK0", True), lr("E0", "U0", p="pd", q="pd")]
    for s in ok:
        assert S.replay_reason(M, [*base, s], arrays) is None, s
    assert S.replay_steps(M, [*base, lr("E0", "U0", p="pd", q="pd")], arrays).results["s"].meaning == "EU"  # fmt: skip  # noqa: E501
    for s, why in (
        (lr(q="q2"), Reason.BAD_HINT),  # p, q shapes differ
        (lr(p="p0", q="p0"), Reason.BAD_HINT),  # r = 0
        (lr(p="pi", q="pi"), Reason.BAD_HINT),  # not f8
        (lr(p="nope"), Reason.BAD_HINT),
        (lr("E0", "U0"), Reason.BAD_HINT),  # hint for the wrong inner length
        (lr(t=True), Reason.LEMMA_FAILED),  # shapes do not chain
        (lr("EQ0", "PK0", True, diag=True), Reason.LEMMA_FAILED),  # diag of a v x k product
        (lr("EV0", "nowhere"), Reason.BAD_REFERENCE),
    ):
        assert S.replay_reason(M, [*base, s], arrays) is why, (s, why)
    eu1 = S.step("x", "factor", args={"name": "U", "head": 1})
    assert S.replay_reason(M, [eu1]) is Reason.BAD_HINT  # U has no head


DETECTORS = {"closed": check_closed_form, "points": det_points, "tables": det_tables}
MUTANTS = {
    "lowrank-no-correction": S.Mutant(
        lowrank, "enclose", (("B.matmul(B.add(a, ra), P)", "B.matmul(a, P)"),),
        (("points", "LOWRANK"),), "u = A P: the term R_A P Q^T B dropped (true only if Q^T P = I)",
    ),
    "lowrank-no-residual": S.Mutant(
        lowrank, "enclose", (("B.Ball(np.zeros_like(rad), rad)", "B.Ball(rad * 0, rad * 0)"),),
        (("closed", "LOWRANK"), ("points", "LOWRANK")), "the residual R_A R_B ignored",
    ),
    "lowrank-norm-mid": S.Mutant(
        lowrank, "_norms", (("B.mul(x, x)", "B.exact(x.mid * x.mid)"),),
        (("points", "LOWRANK"),), "the residual factors' radii ignored in their norms",
    ),
    "lowrank-mrd-one-end": S.Mutant(
        lowrank, "_range", (("lo = np.minimum(*(", "lo = np.maximum(*("),),
        (("closed", "LOWRANK"), ("points", "LOWRANK")), "mrd: the wrong lower end",
    ),
    "lowrank-diag-swapped": S.Mutant(
        lowrank, "apply", (("dg.mid, dg.rad", "dg.mid[::-1], dg.rad[::-1]"),),
        (("closed", "LOWRANK"),), "the exact diagonal written to the wrong rows",
    ),
    "factor-u-no-bias": S.Mutant(
        factor, "make", (("X(model.W_U), bias, 0", "X(model.W_U), B.exact(bias.mid * 0), 0"),),
        (("tables", "LOWRANK"),), "U without its bias row (E @ U != EU)",
    ),
}  # fmt: skip


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
