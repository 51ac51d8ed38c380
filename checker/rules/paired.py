"""Rule ``paired``: a per-query margin bound pairing each wrong logit with itself.

Cites ``eupu`` (EU), ``evou`` (EV[0] @ OU[0]), ``pvou`` (PV[0] @ OU[0]); arg ``query``.
Result: MarginBound(q) w(m, p, t) = min_{y != m} (D_y + Ev(t, y) + Pv(p, y)), the exact
minimum (lemmas.paired_margin), O(v^3 k) per query.

**Lemma.**  A minimum over y is <= each of its terms.  Tighter than ``margin`` (which takes
the minima of the direct-path and value terms separately) by pairing them per y.
"""

from __future__ import annotations

from typing import Any

from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import EUPU, MarginBound, Tensor, evou, pvou
from checker.model import Model

NAME = "paired"
LEMMA = "w = min over y != m of (direct gap + token value + positional value)"
CITES: dict[str, Any] = {"eupu": Tensor, "evou": Tensor, "pvou": Tensor}
ARGS: dict[str, Any] = {"query": "query"}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    got = [cites[r].meaning for r in ("eupu", "evou", "pvou")]
    require(
        got == [EUPU, evou(0), pvou(0)],
        Reason.BAD_REFERENCE,
        "paired: must cite EU, EVOU and PVOU of head 0",
    )
    return 2 * model.v**3 * model.k


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> MarginBound:
    q = args["query"]
    w = L.paired_margin(cites["eupu"].ball[q], cites["evou"].ball, cites["pvou"].ball)
    return MarginBound(q, w)
