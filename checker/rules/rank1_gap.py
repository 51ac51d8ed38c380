"""Rule ``rank1-gap``: attention score gaps from a rank-1 term and a residual row spread.

Cites ``q`` (EQ[0]), ``k`` (EK[0]), ``spread`` (a RowSpread of ``R @ EK[0]^T`` with R the
residual factor of rule ``rank1`` for EQ[0] and the same hints); args ``a``, ``b`` (f8 [e]),
``gap`` (i8 [v, v], entries 1..v).  Result: ScoreGap(gap, delta), O(v e + v^2): no v x v
product through e.

**Lemma.**  EQKE = u w^T + R EK^T exactly (rule ``rank1``), u = EQ a, w = EK b.  For t <= j =
m - g:  EQKE[q, m] - EQKE[q, t] = u_q w_m - u_q w_t + (R EK^T)[q, m] - (R EK^T)[q, t]
>= u_q w_m - max_{t <= j} u_q w_t - rho_q.  For real u_q and w_t in their balls, u_q w_t <=
max(u_q Wmax_j, u_q Wmin_j) with Wmax_j the running max of the upper ends of w and Wmin_j the
running min of the lower ends (u_q >= 0: the first; u_q < 0: the second), so pm[q, j] =
upper(max of the two ball products) bounds the maximum; then lemmas.gap_select, minus rho.
Split cases: near[q, m, i] = lower(u_q (w_m - w_t) - rho_q), t = m - 1 - i, one by one.
NB: a and b are arbitrary (rule ``rank1``); the spread's meaning string ties it to them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import RowSpread, ScoreGap, Tensor, product
from checker.model import Model
from checker.rules import rank1
from checker.rules.score_gap import check_gap

NAME = "rank1-gap"
LEMMA = "delta >= u_q w_m - max_{t<=m-g} u_q w_t - rho_q (EQKE = u w^T + R EK^T)"
CITES: dict[str, Any] = {"q": Tensor, "k": Tensor, "spread": RowSpread}
ARGS: dict[str, Any] = {"a": "f8", "b": "f8", "gap": "i8"}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    require(model.h == 1, Reason.UNSUPPORTED, "rank1-gap: needs a one-head model")
    want = product(rank1.meaning("EQ[0]", args["a"].name, args["b"].name), "EK[0]", True)
    ok = [cites["q"].meaning, cites["k"].meaning, cites["spread"].of] == ["EQ[0]", "EK[0]", want]
    require(ok, Reason.BAD_REFERENCE, f"rank1-gap: must cite EQ[0], EK[0] and a spread of {want}")
    e = model.e
    ok = all(args[x].array.shape == (e,) for x in ("a", "b"))
    require(ok, Reason.BAD_HINT, "rank1-gap: a and b must be f8 [e] arrays")
    check_gap(model, args["gap"].array, NAME)
    return 4 * model.v * (e + model.v * (1 + int(args["gap"].array.max())))


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> ScoreGap:
    gap = check_gap(model, args["gap"].array, NAME)
    u = B.matmul(cites["q"].ball, B.exact(args["a"].array)[:, None])  # [v, 1]
    w = B.matmul(cites["k"].ball, B.exact(args["b"].array)[:, None])[:, 0]  # [v]
    hi, lo = L.prefix(B.upper(w), 0, True), L.prefix(B.lower(w), 0, False)
    pm = np.maximum(
        B.upper(B.mul(u, B.from_bounds(hi, hi)[None, :])),
        B.upper(B.mul(u, B.from_bounds(lo, lo)[None, :])),
    )
    B.charge(pm.size)
    rho = cites["spread"].rho
    require(rho.shape == (model.v,), Reason.LEMMA_FAILED, "rank1-gap: spread has the wrong shape")
    delta = L.gap_select(B.mul(u, w[None, :]), pm, gap)
    r = B.from_bounds(rho, rho)[:, None]
    d = B.lower(B.sub(B.from_bounds(delta, delta), r))

    def diff(m: Any, t: Any) -> B.Ball:  # u_q (w_m - w_t) - rho_q <= EQKE[q, m] - EQKE[q, t]
        return B.sub(B.mul(u, B.sub(w[m], w[t])[None, :]), r)

    return ScoreGap(gap, d, L.near_gaps(diff, model.v, int(gap.max())))
