"""Rule ``wrong-values``: query-independent bounds on the value terms of wrong logits.

Cites ``evou`` (EV[0] @ OU[0]) and ``pvou`` (PV[0] @ OU[0]).  Result: WrongValues(A, Amax,
Bbar), all exact upper bounds (floats), with O[p, t, y] = EVOU[t, y] + PVOU[p, y]:

  Pd[m, y]   = max_p (PVOU[p, y] - PVOU[p, m])                                  O(v^2 k)
  A[m, y]    >= EVOU[m, y] - EVOU[m, m] + Pd[m, y]     (>= O[p, m, y] - O[p, m, m}, every p)
  Amax[m]    = max_{y != m} A[m, y]
  C[t, m]    >= max_{y != m} EVOU[t, y] - EVOU[t, m]   (top-2 of each row, lemmas.max_wrong)
  Bt[m, t]   >= C[t, m] + max_{y != m} Pd[m, y];  Bbar[m, j] = max_{t <= j} Bt[m, t]  O(v^2)

**Lemma.**  For every p, t <= j and y != m: O[p, t, y] - O[p, t, m] = (EVOU[t, y] - EVOU[t, m])
+ (PVOU[p, y] - PVOU[p, m]) <= C[t, m] + Pd[m, y] <= Bbar[m, j]; and O[p, m, y] - O[p, m, m]
<= A[m, y] likewise.  Upper ends of balls throughout (sums re-enclosed by balls.add).
NB: the non-max tokens' bound Bbar is not paired with y (the paper's "worst non-max value").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import Tensor, WrongValues, evou, pvou
from checker.model import Model

NAME = "wrong-values"
LEMMA = "value gaps of wrong logits <= A[m,y] (max copies), Bbar[m,j] (tokens <= j)"
CITES: dict[str, Any] = {"evou": Tensor, "pvou": Tensor}
ARGS: dict[str, Any] = {}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    ok = cites["evou"].meaning == evou(0) and cites["pvou"].meaning == pvou(0)
    require(ok, Reason.BAD_REFERENCE, "wrong-values: must cite EVOU and PVOU of head 0")
    require(model.v >= 2, Reason.UNSUPPORTED, "wrong-values: needs v >= 2")
    return 8 * model.v * model.v * model.k


def _up(x: Any) -> B.Ball:
    return B.from_bounds(x, x)


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> WrongValues:
    ev, pv, v = cites["evou"].ball, cites["pvou"].ball, model.v
    off = ~np.eye(v, dtype=bool)
    pd = B.max(B.sub(pv[:, None, :], pv[:, :, None]), 0)  # [m, y]: max_p
    pd_hi = B.upper(pd)
    diag = ev[np.arange(v), np.arange(v)]
    A = B.upper(B.add(B.sub(ev, diag[:, None]), _up(pd_hi)))  # [m, y]
    A_off = np.where(off, A, -np.inf)
    Amax = A_off.max(axis=1)
    B.charge(v * v)
    C = B.upper(B.sub(_up(L.max_wrong(B.upper(ev))), ev))  # [t, m]
    pbar = np.where(off, pd_hi, -np.inf).max(axis=1)  # [m]
    B.charge(v * v)
    Bt = B.upper(B.add(_up(C.T), _up(pbar)[:, None]))  # [m, t]
    return WrongValues(A, Amax, L.prefix(Bt, 1, True), Bt)
