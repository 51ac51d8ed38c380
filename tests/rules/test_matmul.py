"""Rule ``matmul`` (checker/rules/matmul.py): the ball product of two earlier tensors.

Closed forms on the toy model of test_factor (by hand), zero-tolerance containment of X @ Y
for exact rational points of the input balls, tensor claims (enclosure), mutants of the
rule, and its preconditions (exact Reason).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import support as S
from flint import fmpq_mat
from hypothesis import given
from hypothesis import strategies as st

from checker import CheckError, Reason, load_model
from checker import balls as B
from checker.facts import Tensor
from checker.rules import matmul

TOY = {  # test_factor's toy: PK[0] = [[3], [2]], OU[0] = [[1, -1, -3]], EU by hand
    "embed.W_E": [[1, 0], [0, 1], [2, 1]],
    "pos_embed.W_pos": [[0, 1], [2, 0]],
    "blocks.0.attn.W_Q": [[[1], [0]]],
    "blocks.0.attn.W_K": [[[0], [1]]],
    "blocks.0.attn.W_V": [[[1], [1]]],
    "blocks.0.attn.W_O": [[[1, -1]]],
    "blocks.0.attn.b_Q": [[1]],
    "blocks.0.attn.b_K": [[2]],
    "blocks.0.attn.b_V": [[-1]],
    "blocks.0.attn.b_O": [0.5, 0],
    "unembed.W_U": [[1, 0, -1], [0, 1, 2]],
    "unembed.b_U": [0, 0, 1],
}


def _f(sid, name, head=0):
    return S.step(sid, "factor", args={"name": name, "head": head})


def _mm(sid, a, b, t=False, **extra):
    return S.step(sid, "matmul", cite={"a": a, "b": b}, args={"transpose_b": t}, **extra)


BASE = [_f("PK", "PK"), _f("OU", "OU"), _f("EU", "EU"), _f("EQ", "EQ")]


def check_toy(tmp) -> None:
    """MATMUL: PK PK^T = [[9, 6], [6, 4]] and OU EU = [[-12.5, -4, 1.5]] (by hand), tight."""
    M = S.model_of(tmp, "toy", TOY)
    try:
        res = S.replay_steps(M, [*BASE, _mm("PP", "PK", "PK", True), _mm("OE", "OU", "EU")])
    except CheckError as exc:
        raise AssertionError(f"MATMUL: rejected the toy ({exc})") from exc
    for sid, want, mean in (
        ("PP", [[9, 6], [6, 4]], "PK[0] @ PK[0]^T"),
        ("OE", [[-12.5, -4, 1.5]], "OU[0] @ EU"),
    ):
        got = res.results[sid]
        assert got.meaning == mean, f"MATMUL: meaning {got.meaning!r}, want {mean!r}"
        bad = S.outside(got.ball, [[Fraction(x) for x in r] for r in want])
        assert not bad, f"MATMUL: {sid} misses the hand value at {bad}"
        assert float(got.ball.rad.max()) <= 1e-12, f"MATMUL: {sid} not tight"


def test_toy_closed_form(tmp_path):
    check_toy(tmp_path)


def _point(ball: B.Ball, fr: np.ndarray) -> fmpq_mat:
    """The exact point mid + fr * rad of the ball (fr in [-1, 1], dyadic)."""
    m, n = ball.shape
    vals = [
        S.fq(a) + S.fq(f) * S.fq(r)
        for a, f, r in zip(ball.mid.ravel(), fr.ravel(), ball.rad.ravel(), strict=True)
    ]
    return fmpq_mat(m, n, vals)


def check_points(a: B.Ball, b: B.Ball, fa: np.ndarray, fb: np.ndarray, t: bool) -> None:
    """MATMUL: X @ Y (or X @ Y^T) lies in the rule's result for the exact points X, Y."""
    ta, tb = Tensor("A", a), Tensor("B", b)
    res = matmul.apply(None, {"a": ta, "b": tb}, {"transpose_b": t}, None)
    X, Y = _point(a, fa), _point(b, fb)
    P = X * (Y.transpose() if t else Y)
    want = [[P[i, j] for j in range(P.ncols())] for i in range(P.nrows())]
    bad = S.outside(res.ball, want)
    assert not bad, f"MATMUL: the product misses an exact point product at {bad[:3]}"


@S.FAST
@given(data=st.data(), m=st.integers(1, 3), n=st.integers(1, 4), p=st.integers(1, 3))
def test_contains_point_products(data, m, n, p):
    t = data.draw(st.booleans())
    floats = st.one_of(st.floats(-1e6, 1e6, width=32), st.integers(-9, 9).map(float))
    radii = st.sampled_from([0.0, 2.0**-40, 0.25, 3.0])
    shape_b = (p, n) if t else (n, p)

    def arr(shape, s):
        return np.array(
            data.draw(st.lists(s, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        ).reshape(shape)

    a = B.ball(arr((m, n), floats), arr((m, n), radii))
    b = B.ball(arr(shape_b, floats), arr(shape_b, radii))
    fr = st.sampled_from([-1.0, -0.5, 0.0, 0.75, 1.0])
    check_points(a, b, arr((m, n), fr), arr(shape_b, fr), t)


# ---- claims (tensor results: the claim must enclose the kernel's ball) ---------------------


def _claimed(M, sid_claim, mid, rad):
    steps = [*BASE, _mm("PP", "PK", "PK", True, claim={"mid": "cm", "rad": "cr"})]
    return S.replay_reason(M, steps, {"cm": mid, "cr": rad})


def test_tensor_claims(tmp_path):
    M = S.model_of(tmp_path, "toy", TOY)
    want = np.array([[9.0, 6.0], [6.0, 4.0]])
    assert _claimed(M, "PP", want, np.full((2, 2), 1e-9)) is None
    assert _claimed(M, "PP", want + 1, np.full((2, 2), 0.5)) is Reason.CLAIM_MISMATCH
    assert _claimed(M, "PP", want, np.zeros((2, 3))) is Reason.BAD_HINT  # shape
    assert _claimed(M, "PP", want.astype(np.float32), np.zeros((2, 2))) is Reason.BAD_HINT
    steps = [*BASE, _mm("PP", "PK", "PK", True, claim={"mid": "cm"})]
    assert S.replay_reason(M, steps, {"cm": want}) is Reason.CERT_SCHEMA  # mid without rad


# ---- preconditions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ([_mm("s", "EQ", "PK")], Reason.LEMMA_FAILED),  # [v, e] @ [k, e]: shapes do not chain
        ([_mm("s", "EQ", "nowhere", True)], Reason.BAD_REFERENCE),
        ([_mm("s", "EQ", "later", True), _f("later", "EK")], Reason.BAD_REFERENCE),
        ([_mm("s", "EQ", ["EK"], True)], Reason.BAD_REFERENCE),  # a list for a single cite
        ([_mm("s", "EQ", 3, True)], Reason.BAD_REFERENCE),
        (
            [S.step("s", "matmul", cite={"a": "EQ", "b": "EQ"}, args={"transpose_b": 1})],
            Reason.BAD_HINT,
        ),
        ([S.step("s", "matmul", cite={"a": "EQ"}, args={"transpose_b": True})], Reason.CERT_SCHEMA),
        ([S.step("s", "matmul", cite={"a": "EQ", "b": "EQ"})], Reason.CERT_SCHEMA),
    ],
)
def test_preconditions(tiny_path, extra, reason):
    M = load_model(tiny_path)
    assert S.replay_reason(M, [*BASE, *extra]) is reason


def test_cites_must_be_tensors(tiny_path):
    """A ValueBound is not a Tensor: citing one is a bad reference."""
    M = load_model(tiny_path)
    t, _, heads = S.tables_trace(M)
    val = t.value(heads[0]["evou"], heads[0]["pvou"], "each")
    steps = [*t.steps, _mm("s", val, "EU")]
    assert S.replay_reason(M, steps) is Reason.BAD_REFERENCE


def test_meaning_length_limit(tiny_path):
    """Meanings are compared as strings; their length is bounded (UNSUPPORTED past 4096)."""
    M = load_model(tiny_path)
    steps, prev = [_f("EU", "EU")], "EU"
    for i in range(12):  # the meaning doubles each time
        steps.append(_mm(f"sq{i}", prev, prev))
        prev = f"sq{i}"
    assert S.replay_reason(M, steps) is Reason.UNSUPPORTED


# ---- mutants -------------------------------------------------------------------------------


def det_toy(tmp) -> None:
    check_toy(tmp)


def det_points(tmp) -> None:
    rng = np.random.default_rng(0)
    for t in (False, True):
        a = B.ball(rng.integers(-9, 9, (3, 4)).astype(float), np.full((3, 4), 0.5))
        b = B.ball(rng.integers(-9, 9, (4, 4)).astype(float), np.full((4, 4), 0.25))
        check_points(a, b, np.ones((3, 4)), -np.ones((4, 4)), t)


DETECTORS = {"toy": det_toy, "points": det_points}
MUTANTS = {
    "matmul-drops-radius": S.Mutant(
        matmul,
        "apply",
        (("B.matmul(a.ball, bb))", "B.exact(B.matmul(a.ball, bb).mid))"),),
        (("points", "MATMUL"),),
        "the product's midpoint taken as exact",
    ),
    "matmul-ignores-transpose": S.Mutant(
        matmul,
        "apply",
        (('bb = b.ball.T if args["transpose_b"] else b.ball', "bb = b.ball"),),
        (("toy", "MATMUL"), ("points", "MATMUL")),
        "transpose_b ignored in the product",
    ),
    "matmul-meaning-without-T": S.Mutant(
        matmul,
        "apply",
        (
            (
                'product(a.meaning, b.meaning, args["transpose_b"])',
                "product(a.meaning, b.meaning, False)",
            ),
        ),
        (("toy", "MATMUL: meaning"),),
        "the transposed product named as the plain one",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
