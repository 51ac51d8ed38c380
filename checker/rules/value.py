"""Rule ``value``: the query-independent value bound (the cubic family's token values).

Cites ``evou`` (EV[0] @ OU[0]) and ``pvou`` (PV[0] @ OU[0]); arg ``positions``.  Result:
ValueBound W [m, p, t] with, for every y != m,  W(m, p, t) <= Ev(t, y) + Pv(p, y), where
Ev(t, y) = EVOU[t, m] - EVOU[t, y] and Pv(p, y) = PVOU[p, m] - PVOU[p, y]:

  positions = "each":  W = min_{y != m} (Ev(t, y) + Pv(p, y))                 [m, k, v]
  positions = "worst": W = min_{y != m} (Ev(t, y) + min_{p'} Pv(p', y))        [m, 1, v]
                       (the paper's pessimisation: one value per token, any position)

**Lemma.**  A minimum over y is <= each of its terms, and min_{p'} Pv(p', y) <= Pv(p, y),
so both choices are <= Ev(t, y) + Pv(p, y) for every y != m.  Balls: balls.min encloses a
minimum of balls (the diagonal y = m excluded, lemmas.min_wrong).
"""

from __future__ import annotations

from typing import Any

from checker import balls as B
from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import Tensor, ValueBound, evou, pvou
from checker.model import Model

NAME = "value"
LEMMA = "W(m,p,t) <= min over y != m of token value + positional value (min of a sum)"
CITES: dict[str, Any] = {"evou": Tensor, "pvou": Tensor}
ARGS: dict[str, Any] = {"positions": ("each", "worst")}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    require(
        cites["evou"].meaning == evou(0) and cites["pvou"].meaning == pvou(0),
        Reason.BAD_REFERENCE,
        "value: 'evou' and 'pvou' must cite EVOU and PVOU of head 0",
    )
    return 2 * model.v**3 * model.k


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> ValueBound:
    ev, pv = cites["evou"].ball, cites["pvou"].ball
    Ev = B.sub(ev.T[:, :, None], ev[None])  # [m, t, y] = EVOU[t, m] - EVOU[t, y]
    Pv = B.sub(pv.T[:, :, None], pv[None])  # [m, p, y]
    if args["positions"] == "worst":
        Pmin = B.min(Pv, 1)  # [m, y]
        return ValueBound(L.min_wrong(B.add(Ev, Pmin[:, None, :]), 2)[:, None, :])
    return ValueBound(L.min_wrong(B.add(Ev[:, None], Pv[:, :, None]), 3))
