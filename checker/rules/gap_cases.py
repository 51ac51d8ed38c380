"""Rule ``gap-cases``: the subcubic family's count for one query (gap cases, paper §4.3).

Cites ``eupu`` (EU), ``values`` (WrongValues), ``gap`` (ScoreGap), ``f`` (rowexp(EQ[0] @
PK[0]^T)); args ``query``, ``direct`` (``paired`` | ``split``), ``near`` (optional bool);
claim ``correct``.  Result:
Count(q).

**Cases.**  Gap(q, m, c) = inputs with x_{k-1} = q, max m, exactly c of the positions 0..k-2
holding a non-max token, each <= j = m - g (g = gap[q, m] >= 1), and q = m or q <= j.
Different (m, c) are disjoint.  **Count:** C(k-1, c) (j + 1)^c (tokens 0..j: j + 1 choices;
the paper's code counts j).  Valid (m, c): lemmas.valid_cases.

**Lemma (gap cases).**  Let N be the non-max positions (with k-1 when q < m), M the others
(max copies), a = attention on N, D_y = EU[q, y] - EU[q, m].  For y != m the logit gap is
D_y + sum_p a_p (O[p, x_p, y] - O[p, x_p, m]) <= (1 - a) P_y + a N_y, P_y = D_y + A[m, y],
N_y = D_y + Bbar[m, j] (rule ``wrong-values``).  This is linear in a for each y, so h(a) =
max_y of it is convex and its maximum over a in [0, a_hi] is at an end (the chord lemma with
the interval's ends as anchors).  Scaling by Z = Z_M + Z_N > 0 (Z_S = sum_{p in S} of the
position's unnormalised weight), the logit gap times Z is <= P_y Z_M + N_y Z_N, and Z_N / Z_M
<= rho F_N / F_M with rho = exp(-delta[q, m] / sqrt(e)) (every non-max score is below the
max's by >= delta, rule ``score-gap``; the token factor exp(s_m) cancels), F_S = sum_{p in S}
f[q, p].  Placing N on the c positions of largest f maximises F_N / F_M, and bounding the c
largest upper ends over the k-1-c smallest lower ends covers every placement.  So every
input of the case is correct if, with P = max_y P_y and Nb = max(max_y N_y, 0):
P < 0 and P F_M + Nb rho F_N < 0 (``paired``: P = max_{y != m} (D_y + A[m, y]), O(v^2) per
query; ``split``: P <= max_{y != m} D_y + Amax[m], O(v) per query).  Division-free.
**Near cases** (arg ``near``; the cubic split cases' idea).  Near(q, m, c, t), t in (j, m):
the inputs of Gap(q, m, c) but with exactly one non-max position holding t (c >= 1), the
others <= j.  Disjoint from the gap case (no token in (j, m) there) and from each other (t
differs).  **Count:** C(k-1, c) c (j + 1)^(c - 1).  **Bound:** as above with the near position's
weight bounded by rho_t = exp(-near[q, m, i] / sqrt(e)) (its own score gap) and its value by
N_t = D + Bt[m, t]: the sum over non-max positions of max(N, 0)-weights is <= Nb rho F_N +
max(0, max(N_t, 0) rho_t - Nb rho) f_top, f_top the largest upper end of f over 0..k-2.
NB: a case whose bounds are unknown (infinite balls) is not counted (its test fails).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import EUPU, Count, ScoreGap, Tensor, WrongValues, eqkp, rowexp
from checker.model import Model

NAME = "gap-cases"
LEMMA = "gap case (m, c): P F_M + max(N, 0) rho F_N < 0; count C(k-1,c)(m-g+1)^c"
CITES: dict[str, Any] = {"eupu": Tensor, "values": WrongValues, "gap": ScoreGap, "f": Tensor}
ARGS: dict[str, Any] = {"query": "query", "direct": ("paired", "split"), "near?": "bool"}
CLAIM = {"correct"}


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    require(model.h == 1, Reason.UNSUPPORTED, "gap-cases: needs a one-head model")
    ok = [cites["eupu"].meaning, cites["f"].meaning] == [EUPU, rowexp(eqkp(0))]
    require(ok, Reason.BAD_REFERENCE, "gap-cases: must cite EU and rowexp of EQKP of head 0")
    v, k = model.v, model.k
    return 8 * v * (v + k * k)


def _b(x: Any) -> B.Ball:
    """A ball containing the floats x (+-inf entries give unknown balls)."""
    return B.from_bounds(x, x)


def _weights(f: B.Ball, k: int) -> tuple[Any, Any]:
    """(FN_hi [c], FM_lo [c]) over positions 0..k-2: sums of the c largest upper ends and of
    the k-1-c smallest lower ends (the query position is added by the caller)."""
    n = k - 1
    hi = -B.sort_lower(-B.upper(f[:n]), 0)  # descending upper ends
    lo = B.sort_lower(f[:n], 0)  # ascending lower ends
    c = np.arange(n + 1)[:, None]
    take_hi = np.where(np.arange(n)[None, :] < c, hi[None, :], 0.0)
    take_lo = np.where(np.arange(n)[None, :] < n - c, lo[None, :], 0.0)
    fn = B.upper(B.sum(B.from_bounds(take_hi, take_hi), 1))
    fm = B.lower(B.sum(B.from_bounds(take_lo, take_lo), 1))
    return fn, fm


def proven(
    model: Model, cites: dict[str, Any], q: int, direct: str, near: bool = False
) -> tuple[Any, Any, Any]:
    """Return (proven [m, c], j [m], proven near cases [m, c, i] or None) for query q."""
    v, k = model.v, model.k
    val: WrongValues = cites["values"]
    sg: ScoreGap = cites["gap"]
    eu, f = cites["eupu"].ball[q], cites["f"].ball[q]
    ms = np.arange(v)
    j = ms - sg.gap[q]  # [m] largest allowed non-max token
    dmax = L.max_wrong(B.upper(eu)[None, :])[0]  # [m] max_{y != m} EU[q, y] (upper)
    D = B.sub(_b(dmax), eu)  # [m] >= max_{y != m} D_y
    if direct == "paired":
        Py = B.add(B.sub(eu[None, :], eu[:, None]), _b(val.A))  # [m, y]
        P = B.max(Py, 1, where=~np.eye(v, dtype=bool))
    else:
        P = B.add(D, _b(val.Amax))
    Bj = np.where(j >= 0, val.Bbar[ms, np.maximum(j, 0)], 0.0)
    Nb = np.maximum(B.upper(B.add(D, _b(Bj))), 0.0)  # [m] >= max(max_y N_y, 0)
    rho = B.exp_scaled(_b(-sg.delta[q]), model.e)  # [m] contains exp(-delta / sqrt(e))
    fn, fm = _weights(f, k)  # [c]
    top = ms == q
    f_hi, f_lo = B.upper(f)[k - 1], B.lower(f)[k - 1]
    FN = B.upper(B.add(_b(fn)[None, :], _b(np.where(top, 0.0, f_hi))[:, None]))  # [m, c]
    FM = B.lower(B.add(_b(fm)[None, :], _b(np.where(top, f_lo, 0.0))[:, None]))
    P_hi = B.upper(P)
    lhs = B.add(B.mul(_b(P_hi)[:, None], _b(FM)), B.mul(B.mul(_b(Nb), rho)[:, None], _b(FN)))
    ok = B.positive(B.Ball(-lhs.mid, lhs.rad)) & (P_hi < 0)[:, None]
    c = np.arange(k)[None, :]
    allowed = (top | (q <= j))[:, None] & ((c == 0) | (j >= 0)[:, None]) & L.valid_cases(v, k, q)
    if not near:
        return ok & allowed, j, None
    G = sg.near.shape[2]
    t = ms[:, None] - 1 - np.arange(G)[None, :]  # [m, i] the near token
    live = (t > j[:, None]) & (t >= 0)
    rho_t = B.exp_scaled(_b(-sg.near[q]), model.e)  # [m, i]
    Nt = np.maximum(B.upper(B.add(D[:, None], _b(val.Bt[ms[:, None], np.maximum(t, 0)]))), 0.0)
    extra = B.sub(B.mul(_b(Nt), rho_t), B.mul(_b(Nb), rho)[:, None])  # [m, i]
    top_f = B.upper(f[: k - 1]).max(initial=0.0, keepdims=True)  # [1] largest weight a token
    #   can get (k = 1: no non-query position, no near case: c > 0 is masked below)
    B.charge(k)
    bump = B.mul(_b(np.maximum(B.upper(extra), 0.0)), _b(top_f))  # [m, i]
    lhs2 = B.add(lhs[:, :, None], bump[:, None, :])  # [m, c, i]
    ok2 = B.positive(B.Ball(-lhs2.mid, lhs2.rad)) & (P_hi < 0)[:, None, None]
    return ok & allowed, j, ok2 & allowed[:, :, None] & (c > 0)[:, :, None] & live[:, None, :]


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Count:
    q, k = args["query"], model.k
    ok, j, near = proven(model, cites, q, args["direct"], bool(args.get("near", False)))
    count = sum(L.count_gaps(k, j, ok, near))
    tick(1, model.v)
    return Count(q, count)
