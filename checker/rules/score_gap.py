"""Rule ``score-gap``: attention score gaps from the exact EQKE table.

Cites ``scores`` (EQ[0] @ EK[0]^T, [v, v]); arg ``gap`` (i8 [v, v], each in 1..v).  Result:
ScoreGap(gap, delta) with delta[q, m] <= EQKE[q, m] - max_{t <= m - gap[q, m]} EQKE[q, t].

**Lemma (prefix maxima).**  max_{t <= j} S[q, t] <= pm[q, j] := the running maximum of the
upper ends of row q up to j; so for every t <= m - g, S[q, m] - S[q, t] >= lower(S[q, m] -
pm[q, m - g]) (lemmas.gap_select), O(v^2) for all (q, m).  Where m - g < 0 there is no such t
and delta = 0 bounds the empty minimum.  Also near[q, m, i] = lower(S[q, m] - S[q, m - 1 - i])
for i < max gap (the tokens just below m one by one, for split cases), O(v^2 max gap).
NB: gap >= 1 keeps every t <= m - g below m (rule ``gap-cases`` relies on it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import ScoreGap, Tensor, eqke
from checker.model import Model

NAME = "score-gap"
LEMMA = "delta[q,m] <= EQKE[q,m] - max_{t <= m-g} EQKE[q,t] (prefix maxima)"
CITES: dict[str, Any] = {"scores": Tensor}
ARGS: dict[str, Any] = {"gap": "i8"}
CLAIM: set[str] = set()


def check_gap(model: Model, gap: Any, rule: str) -> Any:
    """Return the gap hint as int64 [v, v]; reject (BAD_HINT) a shape or value out of range."""
    v = model.v
    ok = gap.shape == (v, v) and bool(((gap >= 1) & (gap <= v)).all())
    require(ok, Reason.BAD_HINT, f"{rule}: 'gap' must be i8 [v, v] with entries in 1..v")
    return np.asarray(gap, dtype=np.int64)


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    require(model.h == 1, Reason.UNSUPPORTED, "score-gap: needs a one-head model")
    ok = cites["scores"].meaning == eqke(0)
    require(ok, Reason.BAD_REFERENCE, "score-gap: 'scores' must cite EQ[0] @ EK[0]^T")
    check_gap(model, args["gap"].array, NAME)
    return 4 * model.v * model.v * (1 + int(args["gap"].array.max()))


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> ScoreGap:
    gap = check_gap(model, args["gap"].array, NAME)
    S = cites["scores"].ball
    pm = L.prefix(B.upper(S), 1, True)
    near = L.near_gaps(lambda m, t: B.sub(S[:, m], S[:, t]), model.v, int(gap.max()))
    return ScoreGap(gap, L.gap_select(S, pm, gap), near)
