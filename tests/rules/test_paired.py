"""Rule ``paired`` (checker/rules/paired.py, lemmas.paired_margin): the paired margin bound
w = min over y != m of (D_y + Ev(t, y) + Pv(p, y)).

Closed form by hand (v = k = 2), zero-tolerance containment against exact fmpq (it is the
true minimum, so every other variant lies below it), mutants, preconditions.
"""

from __future__ import annotations

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker import balls as B
from checker import lemmas as L
from checker.facts import EUPU, Tensor, evou, pvou
from checker.rules import paired

EVOU = [[2.0, 0.0], [0.0, 3.0]]
PVOU = [[0.0, 1.0], [1.0, 0.0]]
EU = [[5.0, 1.0], [0.0, 0.0]]
# query 0: m=0 (y=1): D = 4, Ev(t) = [2, -3], Pv(p) = [-1, 1] -> w[0] = [[5, 0], [7, 2]];
#          m=1 (y=0): D = -4, Ev = [-2, 3], Pv = [1, -1] -> w[1] = [[-5, 0], [-7, -2]].
HAND = [[[5, 0], [7, 2]], [[-5, 0], [-7, -2]]]


def check_hand(tmp) -> None:
    """PAIRED: the hand values, tight; a query with D = 0 gives the value bound."""
    M = S.model_of(tmp, "shape", S.direct_only_weights(2, 2))
    cites = {
        "eupu": Tensor(EUPU, B.exact(np.array(EU))),
        "evou": Tensor(evou(0), B.exact(np.array(EVOU))),
        "pvou": Tensor(pvou(0), B.exact(np.array(PVOU))),
    }
    got = paired.apply(M, cites, {"query": 0}, None)
    bad = S.outside(got.ball, HAND)
    assert got.query == 0 and not bad, f"PAIRED: misses the hand value at {bad}"
    assert float(got.ball.rad.max()) < 1e-12, "PAIRED: not tight"
    plain = paired.apply(M, cites, {"query": 1}, None).ball
    bad = S.outside(plain, [[[1, -4], [3, -2]], [[-1, 4], [-3, 2]]])
    assert not bad, f"PAIRED: query 1 misses at {bad}"


def test_closed_form(tmp_path):
    check_hand(tmp_path)


def check_contains_exact(M) -> None:
    """PAIRED: w contains the exact min over y != m of the whole margin term."""
    t, eu, heads = S.tables_trace(M)
    ex = S.exact_tables(M)
    for q in range(M.v):
        w = t.results[t.paired(eu, heads[0]["evou"], heads[0]["pvou"], q)].ball
        bad = S.outside(w, S.exact_w(ex, q, "paired", M.v, M.k))
        assert not bad, f"PAIRED: q={q} misses the exact value at {bad[:3]}"


@S.FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased"]))
def test_contains_exact(tmp_path, seed, kind):
    check_contains_exact(S.model_of(tmp_path, f"p{seed}", S.random_weights(seed, kind, heads=1)))


# ---- preconditions -------------------------------------------------------------------------


def _paired(eu, ev, pv, q=0):
    return S.step("x", "paired", cite={"eupu": eu, "evou": ev, "pvou": pv}, args={"query": q})


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    t, eu, heads = S.tables_trace(M)
    h = heads[0]
    val = t.value(h["evou"], h["pvou"], "each")
    for st_, reason in [
        (_paired(eu, h["evou"], h["pvou"]), None),
        (_paired(eu, h["pvou"], h["evou"]), Reason.BAD_REFERENCE),
        (_paired(h["evou"], h["evou"], h["pvou"]), Reason.BAD_REFERENCE),
        (_paired(eu, val, h["pvou"]), Reason.BAD_REFERENCE),
        (_paired(eu, h["evou"], h["pvou"], M.v), Reason.BAD_HINT),
        (_paired(eu, h["evou"], h["pvou"]) | {"claim": {"correct": 1}}, Reason.CERT_SCHEMA),
    ]:
        assert S.replay_reason(M, [*t.steps, st_]) is reason, st_


def test_second_head_refused(tiny2_path):
    M = load_model(tiny2_path)
    t, eu, heads = S.tables_trace(M)
    st_ = _paired(eu, heads[1]["evou"], heads[1]["pvou"])
    assert S.replay_reason(M, [*t.steps, st_]) is Reason.BAD_REFERENCE


# ---- mutants -------------------------------------------------------------------------------


def det_hand(tmp) -> None:
    check_hand(tmp)


def det_exact(tmp) -> None:
    for seed in (0, 1):
        check_contains_exact(S.tiny_model(tmp, seed, "pd"))


def det_preconditions(tmp) -> None:
    M = S.tiny_model(tmp)
    t, eu, heads = S.tables_trace(M)
    got = S.replay_reason(M, [*t.steps, _paired(eu, heads[0]["pvou"], heads[0]["evou"])])
    assert got is Reason.BAD_REFERENCE, f"PAIRED: swapped tables gave {got}"


def det_false_bound(tmp) -> None:
    S.false_bound_report(S.adversarial_models(tmp), tmp, ["cubic-paired"])


DETECTORS = {
    "hand": det_hand,
    "exact": det_exact,
    "preconditions": det_preconditions,
    "false-bound": det_false_bound,
}
MUTANTS = {
    "paired-sign-flipped": S.Mutant(
        L,
        "paired_margin",
        (("min_wrong(B.sub(Am, A[None]), 3)", "min_wrong(B.sub(A[None], Am), 3)"),),
        (("hand", "PAIRED"), ("exact", "PAIRED")),
        "paired margin of the wrong logit over the max instead of the max over the wrong one",
    ),
    "paired-drops-direct-path": S.Mutant(
        L,
        "paired_margin",
        (
            (
                "A = B.add(B.add(evou[None], pvou[:, None]), eupu_q[None, None])",
                "A = B.add(evou[None], pvou[:, None])",
            ),
        ),
        (("hand", "PAIRED"), ("exact", "PAIRED")),
        "paired margin without the direct path",
    ),
    "paired-meanings-unchecked": S.Mutant(
        paired,
        "work",
        (("got == [EUPU, evou(0), pvou(0)]", "True"),),
        (("preconditions", "PAIRED"),),
        "paired accepts any tensors",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
