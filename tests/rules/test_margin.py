"""Rule ``margin`` (checker/rules/margin.py): w = min over y != m of D_y, plus W.

Closed form by hand, zero-tolerance containment of the margin bound (value + margin: the
paper's and the positional variants) against exact fmpq, mutants, preconditions.
"""

from __future__ import annotations

import itertools

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker import balls as B
from checker.facts import EUPU, Tensor, ValueBound
from checker.rules import margin

EU = [[0.0, 2.0, 5.0], [1.0, 1.0, 1.0], [4.0, 0.0, -4.0]]
# min over y != m of D_y = EU[q, m] - EU[q, y]: q=0: [-5, -3, 3]; q=2: [4, -4, -8].
W = np.arange(3 * 2 * 3, dtype=float).reshape(3, 2, 3) / 4  # any ValueBound [m, p, t]


def check_hand(tmp) -> None:
    """MARGIN: w[m, p, t] = min_{y != m} D_y + W[m, p, t] (by hand), tight."""
    M = S.model_of(tmp, "shape", S.direct_only_weights(3, 2))  # only v, k are read
    cites = {"eupu": Tensor(EUPU, B.exact(np.array(EU))), "value": ValueBound(B.exact(W))}
    for q, dmin in ((0, [-5, -3, 3]), (2, [4, -4, -8])):
        got = margin.apply(M, cites, {"query": q}, None)
        want = np.array(dmin, dtype=float)[:, None, None] + W
        assert got.query == q, "MARGIN: wrong query"
        bad = S.outside(got.ball, want.tolist())
        assert not bad and float(got.ball.rad.max()) < 1e-12, f"MARGIN: q={q} misses at {bad[:3]}"


def test_closed_form(tmp_path):
    check_hand(tmp_path)


def test_worst_value_broadcast(tmp_path):
    """A positions=worst ValueBound [m, 1, t] is broadcast over the positions."""
    M = S.model_of(tmp_path, "shape", S.direct_only_weights(3, 2))
    cites = {"eupu": Tensor(EUPU, B.exact(np.array(EU))), "value": ValueBound(B.exact(W[:, :1]))}
    got = margin.apply(M, cites, {"query": 0}, None).ball
    assert got.shape == (3, 2, 3) and np.array_equal(got.mid[:, 0], got.mid[:, 1])


def check_contains_exact(M) -> None:
    """MARGIN: for both variants and every query, w contains the variant's exact value, and
    that value is <= the true min over y != m of D_y + Ev(t, y) + Pv(p, y)."""
    t, eu, heads = S.tables_trace(M)
    ex = S.exact_tables(M)
    for variant, positions in (("paper", "worst"), ("positional", "each")):
        val = t.value(heads[0]["evou"], heads[0]["pvou"], positions)
        for q in range(M.v):
            w = t.results[t.margin(eu, val, q)].ball
            want = S.exact_w(ex, q, variant, M.v, M.k)
            true = S.exact_w(ex, q, "paired", M.v, M.k)
            for m, p, tt in itertools.product(range(M.v), range(M.k), range(M.v)):
                assert want[m][p][tt] <= true[m][p][tt], f"MARGIN: {variant} above the min"
            bad = S.outside(w, want)
            assert not bad, f"MARGIN: {variant} q={q} misses the exact value at {bad[:3]}"


@S.FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased"]))
def test_contains_exact(tmp_path, seed, kind):
    check_contains_exact(S.model_of(tmp_path, f"m{seed}", S.random_weights(seed, kind, heads=1)))


# ---- preconditions -------------------------------------------------------------------------


def _margin(eu, val, q=0):
    return S.step("x", "margin", cite={"eupu": eu, "value": val}, args={"query": q})


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    t, eu, heads = S.tables_trace(M)
    val = t.value(heads[0]["evou"], heads[0]["pvou"], "each")
    for st_, reason in [
        (_margin(eu, val), None),
        (_margin(heads[0]["evou"], val), Reason.BAD_REFERENCE),  # EVOU passed off as EU
        (_margin(eu, heads[0]["evou"]), Reason.BAD_REFERENCE),  # a Tensor is not a ValueBound
        (_margin(eu, val, M.v), Reason.BAD_HINT),
        (_margin(eu, val, "0"), Reason.BAD_HINT),
        (S.step("x", "margin", cite={"eupu": eu, "value": val}), Reason.CERT_SCHEMA),
    ]:
        assert S.replay_reason(M, [*t.steps, st_]) is reason, st_
    steps = [*t.steps, _margin(eu, val), _margin(eu, val, 1) | {"id": "y"}]
    m = S.replay_reason(
        M, [*steps, S.step("z", "margin", cite={"eupu": eu, "value": "x"}, args={"query": 0})]
    )
    assert m is Reason.BAD_REFERENCE  # a MarginBound is not a ValueBound


# ---- mutants -------------------------------------------------------------------------------


def det_hand(tmp) -> None:
    check_hand(tmp)


def det_exact(tmp) -> None:
    for seed in (0, 1):
        check_contains_exact(S.tiny_model(tmp, seed, "mg"))


def det_preconditions(tmp) -> None:
    M = S.tiny_model(tmp)
    t, eu, heads = S.tables_trace(M)
    val = t.value(heads[0]["evou"], heads[0]["pvou"], "each")
    got = S.replay_reason(M, [*t.steps, _margin(heads[0]["evou"], val)])
    assert got is Reason.BAD_REFERENCE, f"MARGIN: EVOU as EU gave {got}"


def det_false_bound(tmp) -> None:
    S.false_bound_report(S.adversarial_models(tmp), tmp, ["cubic", "cubic-positional"])


DETECTORS = {
    "hand": det_hand,
    "exact": det_exact,
    "preconditions": det_preconditions,
    "false-bound": det_false_bound,
}
MUTANTS = {
    "direct-max-over-y": S.Mutant(
        margin,
        "apply",
        (
            (
                "L.min_wrong(B.sub(eu[q][:, None], eu[q][None, :]), 1)",
                "B.max(B.sub(eu[q][:, None], eu[q][None, :]), 1,"
                " where=~L.np.eye(model.v, dtype=bool))",
            ),
        ),
        (("hand", "MARGIN"), ("exact", "MARGIN"), ("false-bound", S.FB)),
        "direct path: the best wrong logit's gap instead of the worst",
    ),
    "query-row-0": S.Mutant(
        margin,
        "apply",
        (('q, eu, W = args["query"],', 'q, eu, W = 0 * args["query"],'),),
        (("hand", "MARGIN"), ("exact", "MARGIN")),
        "the direct path of query 0 used for every query",
    ),
    "eupu-meaning-unchecked": S.Mutant(
        margin,
        "work",
        (('cites["eupu"].meaning == EUPU', "True"),),
        (("preconditions", "MARGIN"),),
        "margin accepts any tensor as the direct path",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
