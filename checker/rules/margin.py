"""Rule ``margin``: a per-query margin bound from the direct path and a value bound.

Cites ``eupu`` (EU) and ``value`` (a ValueBound W); arg ``query``.  Result: MarginBound(q)
w(m, p, t) = min_{y != m} D_y + W(m, p, t), with D_y = EUPU[q, m] - EUPU[q, y].

**Lemma (min of a sum).**  For every y != m:  D_y >= min_{y'} D_{y'} and Ev(t, y) + Pv(p, y)
>= W(m, p, t), so D_y + Ev(t, y) + Pv(p, y) >= w(m, p, t).  (The paper's cubic proof
pessimises the direct path on its own this way; rule ``paired`` keeps the pairing.)
"""

from __future__ import annotations

from typing import Any

from checker import balls as B
from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import EUPU, MarginBound, Tensor, ValueBound
from checker.model import Model

NAME = "margin"
LEMMA = "w = min over y != m of the direct-path gap + W (min of a sum)"
CITES: dict[str, Any] = {"eupu": Tensor, "value": ValueBound}
ARGS: dict[str, Any] = {"query": "query"}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    require(cites["eupu"].meaning == EUPU, Reason.BAD_REFERENCE, "margin: 'eupu' must cite EU")
    return model.v * model.v + model.v * model.k * model.v


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> MarginBound:
    q, eu, W = args["query"], cites["eupu"].ball, cites["value"].ball
    Dmin = L.min_wrong(B.sub(eu[q][:, None], eu[q][None, :]), 1)  # [m]
    w = B.add(Dmin[:, None, None], W.bcast((model.v, model.k, model.v)))
    return MarginBound(q, w)
