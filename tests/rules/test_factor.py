"""Rule ``factor`` (checker/rules/factor.py): the factors of the exact path decomposition.

Closed form on a hand-computed toy, zero-tolerance containment of every factor and every
path table (products of factors) against exact fmpq, mutants of ``factor.make``, and the
rule's preconditions (exact Reason).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker.rules import factor

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
# By hand: E_q = W_E + W_pos[1] = [[3,0],[2,1],[4,1]];  EQ = E_q[:,0] + b_Q = [4,3,5];
# EK = W_E[:,1] = [0,1,1];  PK = W_pos[:,1] + b_K = [3,2];  OU = W_O W_U = [1,-1,-3];
# EV = [1,1,3];  PV = [1,2] + b_V = [0,1];
# EU = E_q W_U + b_O W_U + b_U, row [a,b] -> [a, b, 2b - a] plus [0.5, 0, 0.5].
TOY_FACTORS = {
    "EQ": [[4], [3], [5]],
    "EK": [[0], [1], [1]],
    "PK": [[3], [2]],
    "EV": [[1], [1], [3]],
    "PV": [[0], [1]],
    "OU": [[1, -1, -3]],
    "EU": [[3.5, 0, -2.5], [2.5, 1, 0.5], [4.5, 1, -1.5]],
}
TOY_TABLES = {  # the products the trace builds (rule matmul), by hand
    "EQKE0": [[0, 4, 4], [0, 3, 3], [0, 5, 5]],  # EQ ⊗ EK
    "EQKP0": [[12, 8], [9, 6], [15, 10]],  # EQ ⊗ PK
    "EVOU0": [[1, -1, -3], [1, -1, -3], [3, -3, -9]],  # EV ⊗ OU
    "PVOU0": [[0, 0, 0], [1, -1, -3]],  # PV ⊗ OU
}


def toy(tmp):
    return S.model_of(tmp, "toy", TOY)


def check_toy(tmp) -> None:
    """FACTOR: the kernel's factors of TOY and their products contain the hand values (tight)."""
    M = toy(tmp)
    t, _, _ = S.tables_trace(M)
    res = S.replay_steps(M, t.steps).results
    want = {**{n if n == "EU" else f"{n}0": v for n, v in TOY_FACTORS.items()}, **TOY_TABLES}
    for sid, rows in want.items():
        ball = res[sid].ball
        bad = S.outside(ball, [[Fraction(x) for x in row] for row in rows])
        assert not bad, f"FACTOR: {sid} misses the hand value at {bad[:3]}"
        assert float(ball.rad.max()) <= 1e-12, f"FACTOR: {sid} radius not tight"


def test_toy_closed_form(tmp_path):
    check_toy(tmp_path)


def test_meanings(tmp_path):
    """Each factor's result names itself; EU has no head index."""
    M = toy(tmp_path)
    t, _, _ = S.tables_trace(M)
    res = S.replay_steps(M, t.steps).results
    assert res["EU"].meaning == "EU"
    for n in ("EQ", "EK", "PK", "EV", "PV", "OU"):
        assert res[f"{n}0"].meaning == f"{n}[0]"
    assert res["EQKE0"].meaning == "EQ[0] @ EK[0]^T"
    assert res["EVOU0"].meaning == "EV[0] @ OU[0]"


def check_contains_exact(M) -> None:
    """FACTOR: every factor and path table of M contains its exact fmpq value."""
    ex = S.exact_tables(M)
    for h in range(M.h):
        for name in S.FACTORS:
            if name == "EU" and h:
                continue
            bad = S.outside(factor.make(M, name, h), ex[name] if name == "EU" else ex[name][h])
            assert not bad, f"FACTOR: {name}[{h}] misses the exact value at {bad[:3]}"
    t, _, heads = S.tables_trace(M)
    for h in range(M.h):
        for sid, name in ((f"EQKE{h}", "EQKE"), (f"EQKP{h}", "EQKP")):
            bad = S.outside(t.results[sid].ball, ex[name][h])
            assert not bad, f"FACTOR: {sid} misses the exact value at {bad[:3]}"
        for role, name in (("evou", "EVOU"), ("pvou", "PVOU")):
            bad = S.outside(t.results[heads[h][role]].ball, ex[name][h])
            assert not bad, f"FACTOR: {name}{h} misses the exact value at {bad[:3]}"


@S.FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased", "huge"]))
def test_contains_exact(tmp_path, seed, kind):
    check_contains_exact(S.model_of(tmp_path, f"r{seed}", S.random_weights(seed, kind)))


# ---- preconditions -------------------------------------------------------------------------


def _factor(name="EQ", head=0, **extra):
    return S.step("s", "factor", args={"name": name, "head": head}, **extra)


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (_factor("EU", 1), Reason.BAD_HINT),  # EU has no head
        (_factor("XX"), Reason.BAD_HINT),
        (_factor("EQ", 1), Reason.BAD_HINT),  # one head only
        (_factor("EQ", -1), Reason.BAD_HINT),
        (_factor("EQ", True), Reason.BAD_HINT),  # a bool is not a head
        (_factor("EQ", 0.0), Reason.BAD_HINT),
        (S.step("s", "factor", args={"name": "EQ"}), Reason.CERT_SCHEMA),  # missing head
        (_factor(cite={"a": "x"}), Reason.CERT_SCHEMA),  # factor cites nothing
        (S.step("s", "factor", args={"name": "EQ", "head": 0, "x": 1}), Reason.CERT_SCHEMA),
        (_factor(claim={"correct": 0}), Reason.CERT_SCHEMA),  # not a count rule
    ],
)
def test_preconditions(tiny_path, step, reason):
    assert S.replay_reason(load_model(tiny_path), [step]) is reason


def test_two_heads_each_factor(tiny2_path):
    M = load_model(tiny2_path)
    steps = [_factor(n, h) | {"id": f"{n}{h}"} for n in ("EQ", "OU") for h in (0, 1)]
    res = S.replay_steps(M, steps).results
    assert res["OU1"].meaning == "OU[1]"
    assert not np.array_equal(res["OU0"].ball.mid, res["OU1"].ball.mid)


# ---- mutants -------------------------------------------------------------------------------


def det_toy(tmp) -> None:
    check_toy(tmp)


def det_exact(tmp) -> None:
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        from generators.tinymodels import make_weights

        w = make_weights(rng, 4, 3, 3, 1 + seed % 2, 2, "biased")
        check_contains_exact(S.model_of(tmp, f"t{seed}", w))


DETECTORS = {"toy": det_toy, "exact": det_exact}
MUTANTS = {
    "b_K-dropped": S.Mutant(
        factor,
        "make",
        (("(model.W_K, model.b_K)", "(model.W_K, 0 * model.b_K)"),),
        (("toy", "FACTOR"), ("exact", "FACTOR")),
        "key bias not folded into the position part of the score",
    ),
    "b_V-dropped": S.Mutant(
        factor,
        "make",
        (("(model.W_V, model.b_V)", "(model.W_V, 0 * model.b_V)"),),
        (("toy", "FACTOR"), ("exact", "FACTOR")),
        "value bias not folded into the position part of the value",
    ),
    "b_U-dropped": S.Mutant(
        factor,
        "make",
        (("X(model.b_U[None, :])", "X(0 * model.b_U[None, :])"),),
        (("toy", "FACTOR"), ("exact", "FACTOR")),
        "unembedding bias not folded into the direct path",
    ),
    "b_Q-dropped": S.Mutant(
        factor,
        "make",
        (("X(model.W_Q[h])), model.b_Q[h])", "X(model.W_Q[h])), 0 * model.b_Q[h])"),),
        (("toy", "FACTOR"), ("exact", "FACTOR")),
        "query bias dropped",
    ),
    "query-without-position": S.Mutant(
        factor,
        "make",
        (
            (
                "E_q = _plus_row(X(model.W_E), model.W_pos[model.k - 1])\n        return",
                "E_q = X(model.W_E)\n        return",
            ),
        ),
        (("toy", "FACTOR"), ("exact", "FACTOR")),
        "query side without the last position's embedding",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
