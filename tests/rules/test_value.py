"""Rule ``value`` (checker/rules/value.py): the query-independent value bound W[m, p, t].

Closed form by hand (v = k = 2), zero-tolerance containment of W against its exact fmpq
value (and W <= Ev(t, y) + Pv(p, y) for every y != m), mutants, preconditions.
"""

from __future__ import annotations

import itertools

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker import balls as B
from checker import lemmas as L
from checker.facts import Tensor, evou, pvou
from checker.rules import value

EVOU = [[2.0, 0.0], [0.0, 3.0]]
PVOU = [[0.0, 1.0], [1.0, 0.0]]
# By hand: m=0 (y=1): Ev(t) = [2, -3], Pv(p) = [-1, 1];  m=1 (y=0): Ev = [-2, 3], Pv = [1, -1].
HAND = {
    "each": [[[1, -4], [3, -2]], [[-1, 4], [-3, 2]]],  # W[m][p][t] = Ev(t) + Pv(p)
    "worst": [[[1, -4]], [[-3, 2]]],  # Ev(t) + min_p Pv(p)
}


def _w(positions, ev=EVOU, pv=PVOU):
    cites = {
        "evou": Tensor(evou(0), B.exact(np.array(ev))),
        "pvou": Tensor(pvou(0), B.exact(np.array(pv))),
    }
    return value.apply(None, cites, {"positions": positions}, None).ball


def check_hand() -> None:
    """VALUE: the hand values, tight."""
    for positions, want in HAND.items():
        got = _w(positions)
        assert got.shape == np.array(want).shape, f"VALUE: {positions} shape {got.shape}"
        bad = S.outside(got, want)
        assert not bad and float(got.rad.max()) < 1e-12, f"VALUE: {positions} misses at {bad}"


def test_closed_form():
    check_hand()


def exact_value(ex, positions: str, v: int, k: int) -> list:
    ev, pv = ex["EVOU"][0], ex["PVOU"][0]
    out = []
    for m in range(v):
        ys = [y for y in range(v) if y != m]

        def term(p, t, y, m=m):
            if positions == "worst":
                return ev[t][m] - ev[t][y] + min(pv[r][m] - pv[r][y] for r in range(k))
            return ev[t][m] - ev[t][y] + pv[p][m] - pv[p][y]

        ps = range(1) if positions == "worst" else range(k)
        out.append([[min(term(p, t, y) for y in ys) for t in range(v)] for p in ps])
    return out


def check_contains_exact(M) -> None:
    """VALUE: W contains its exact value, which is <= Ev(t, y) + Pv(p, y) for all y != m."""
    t, _, heads = S.tables_trace(M)
    ex = S.exact_tables(M)
    ev, pv = ex["EVOU"][0], ex["PVOU"][0]
    for positions in ("each", "worst"):
        W = t.results[t.value(heads[0]["evou"], heads[0]["pvou"], positions)].ball
        want = exact_value(ex, positions, M.v, M.k)
        bad = S.outside(W, want)
        assert not bad, f"VALUE: {positions} misses the exact value at {bad[:3]}"
        for m, p, tt in itertools.product(range(M.v), range(M.k), range(M.v)):
            w = want[m][0 if positions == "worst" else p][tt]
            for y in range(M.v):
                if y != m:
                    assert w <= ev[tt][m] - ev[tt][y] + pv[p][m] - pv[p][y], (
                        f"VALUE: {positions} above a term"
                    )


@S.FAST
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["int", "random", "biased"]))
def test_contains_exact(tmp_path, seed, kind):
    check_contains_exact(S.model_of(tmp_path, f"v{seed}", S.random_weights(seed, kind, heads=1)))


# ---- preconditions -------------------------------------------------------------------------


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    t, eu, heads = S.tables_trace(M)
    h = heads[0]
    t.enumerate(eu, heads, 0)

    def val(ev, pv, positions="each"):
        return S.step("x", "value", cite={"evou": ev, "pvou": pv}, args={"positions": positions})

    for st_, reason in [
        (val(h["evou"], h["pvou"]), None),
        (val(h["pvou"], h["evou"]), Reason.BAD_REFERENCE),  # swapped
        (val(h["evou"], "EQKP0"), Reason.BAD_REFERENCE),
        (val(h["evou"], "q0"), Reason.BAD_REFERENCE),  # a Count
        (val(h["evou"], h["pvou"], "some"), Reason.BAD_HINT),
        (val(h["evou"], h["pvou"], 1), Reason.BAD_HINT),
        (S.step("x", "value", cite={"evou": h["evou"], "pvou": h["pvou"]}), Reason.CERT_SCHEMA),
    ]:
        assert S.replay_reason(M, [*t.steps, st_]) is reason, st_


def test_second_head_refused(tiny2_path):
    """value is a one-head lemma: the tables of head 1 are a bad reference."""
    M = load_model(tiny2_path)
    t, _, heads = S.tables_trace(M)
    st_ = S.step(
        "x",
        "value",
        cite={"evou": heads[1]["evou"], "pvou": heads[1]["pvou"]},
        args={"positions": "each"},
    )
    assert S.replay_reason(M, [*t.steps, st_]) is Reason.BAD_REFERENCE


# ---- mutants -------------------------------------------------------------------------------


def det_hand(tmp) -> None:
    check_hand()


def det_exact(tmp) -> None:
    for seed in (0, 1):
        check_contains_exact(S.tiny_model(tmp, seed, "val"))


def det_preconditions(tmp) -> None:
    M = S.tiny_model(tmp)
    t, _, heads = S.tables_trace(M)
    h = heads[0]
    st_ = S.step(
        "x", "value", cite={"evou": h["pvou"], "pvou": h["evou"]}, args={"positions": "each"}
    )
    got = S.replay_reason(M, [*t.steps, st_])
    assert got is Reason.BAD_REFERENCE, f"VALUE: swapped tables gave {got}"


def det_false_bound(tmp) -> None:
    S.false_bound_report(S.adversarial_models(tmp), tmp, ["cubic", "cubic-positional"])


DETECTORS = {
    "hand": det_hand,
    "exact": det_exact,
    "preconditions": det_preconditions,
    "false-bound": det_false_bound,
}
MUTANTS = {
    "worst-max-over-positions": S.Mutant(
        value,
        "apply",
        (("Pmin = B.min(Pv, 1)", "Pmin = B.max(Pv, 1)"),),
        (("hand", "VALUE"), ("exact", "VALUE"), ("false-bound", S.FB)),
        "paper variant: positional term maximised over positions",
    ),
    "each-drops-position": S.Mutant(
        value,
        "apply",
        (
            (
                "B.add(Ev[:, None], Pv[:, :, None])",
                "B.add(Ev[:, None], B.exact(0 * Pv.mid)[:, :, None])",
            ),
        ),
        (("hand", "VALUE"), ("exact", "VALUE")),
        "positional variant without the positional value",
    ),
    "min-wrong-max": S.Mutant(
        L,
        "min_wrong",
        (("return B.min(delta, axis,", "return B.max(delta, axis,"),),
        (("exact", "VALUE"), ("false-bound", S.FB)),  # v = 2 (hand): one wrong logit only
        "value lemma: the best wrong logit instead of the worst",
    ),
    "meanings-unchecked": S.Mutant(
        value,
        "work",
        (('cites["evou"].meaning == evou(0) and cites["pvou"].meaning == pvou(0)', "True"),),
        (("preconditions", "VALUE"),),
        "value accepts any tensors as EVOU and PVOU",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
