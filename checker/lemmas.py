"""Reusable lemmas: small pure functions on balls, shared by the rules (one place each).

Notation (one head, query q fixed): f_p = f[q, p] > 0, g_t = g[q, t] > 0 (rule ``exp``),
w(m, p, t) a MarginBound (<= D_y + Ev(t, y) + Pv(p, y) for every y != m), and
tau(m, p, t) = f_p g_t w(m, p, t).  For an input x with max m the scaled margin of every
wrong logit y is S_y(x) = sum_p f_p g_{x_p} (D_y + Ev(x_p, y) + Pv(p, y)) >= sum_p tau(m, p,
x_p) (**value lemma**: each f_p g_t > 0 multiplies a quantity >= w).

**Cases.**  Case(q, m, c, G) = inputs with x_{k-1} = q, max m, exactly c of the positions
0..k-2 holding a token != m, all of those in G subset {0..m-1}.  Non-empty only if m >= q
and c <= k-2 when q < m (some position holds m), c <= k-1 when q = m.  Different (m, c) are
disjoint (functions of x).  **Count lemma:** |Case| = C(k-1, c) |G|^c.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from checker import balls as B

BoolArr = npt.NDArray[np.bool_]


def min_wrong(delta: B.Ball, axis: int) -> B.Ball:
    """Ball enclosing min over y != m of delta[m, ..., y, ...] (m is axis 0, y is ``axis``).

    Lemma (pessimal min): the minimum of reals each in its ball lies in [min lower ends,
    min upper ends] (balls.min with the diagonal y = m excluded).
    """
    shape = [1] * len(delta.shape)
    shape[0] = shape[axis] = delta.shape[0]
    return B.min(delta, axis, where=~np.eye(delta.shape[0], dtype=bool).reshape(shape))


def paired_margin(eupu_q: B.Ball, evou: B.Ball, pvou: B.Ball) -> B.Ball:
    """Return w[m, p, t] enclosing min_{y != m} (D_y + Ev(t, y) + Pv(p, y)) for one query.

    The paired value lemma: the exact minimum over y of the whole margin term, O(v^3 k).
    """
    A = B.add(B.add(evou[None], pvou[:, None]), eupu_q[None, None])  # [p, t, y]
    Am = B.Ball(np.moveaxis(A.mid, 2, 0), np.moveaxis(A.rad, 2, 0))[..., None]  # [m,p,t,1]
    return min_wrong(B.sub(Am, A[None]), 3)


def valid_cases(v: int, k: int, q: int) -> BoolArr:
    """Return the [m, c] mask of non-empty cases for query q (see Cases above)."""
    m = np.arange(v)[:, None]
    c = np.arange(k)[None, :]
    return (m >= q) & (c <= np.where(m == q, k - 1, k - 2))


def _base(tau: B.Ball, q: int) -> tuple[B.Ball, B.Ball]:
    """(tau(m, p, m) [m, p], base[m] = tau(m, k-1, q) + sum_{p<k-1} tau(m, p, m))."""
    ms, n = np.arange(tau.shape[0]), tau.shape[1] - 1
    tau_mm = tau[ms, :, ms]
    return tau_mm, B.add(B.sum(tau_mm[:, :n], axis=1), tau[:, n, q])


def case_bounds(tau: B.Ball, q: int, sets: BoolArr) -> B.Ball:
    """Return balls [m, c] below which the scaled margin of no input of Case(q, m, c, G) lies.

    **Pure-token (mixture) lemma, division-free.**  For x in the case with non-max
    positions P (|P| = c):  sum_p tau(p, x_p) = base + sum_{p in P} (tau(p, x_p) - tau(p, m))
    >= base + (the c smallest delta(p) over p < k-1), delta(p) = min_{t in G} tau(p, t) -
    tau(p, m): each position takes its own worst token of G, so every mixture is covered
    and no position-independence is needed; the c smallest deltas place the non-max tokens
    at the extreme positions (the paper's attention-extremes step).  Lower ends throughout,
    each term entering monotonically.  Rows with G empty and c > 0 are meaningless.
    """
    n = tau.shape[1] - 1
    tau_mm, base = _base(tau, q)
    gmin = B.min_lower(tau[:, None, :n, :], 3, where=sets[:, :, None, :])  # [m, c, p]
    gmin = np.where(np.any(sets, axis=2)[:, :, None], gmin, 0.0)
    delta = B.sub(B.from_bounds(gmin, gmin), tau_mm[:, None, :n])
    dlo = B.sort_lower(delta, 2)  # [m, c, p] ascending
    sel = np.where(np.arange(n)[None, None, :] < np.arange(n + 1)[None, :, None], dlo, 0.0)
    return B.add(base[:, None], B.sum(B.from_bounds(sel, sel), axis=2))


def split_bounds(tau: B.Ball, q: int, sets: BoolArr) -> B.Ball:
    """Return balls [m, c, t] below which the scaled margin of no input of Split(q, m, c, t)
    lies.

    **Split cases** (one outlier token).  For t < m, t not in G = G(q, m, c), c >= 1:
    Split(q, m, c, t) = inputs with x_{k-1} = q, max m, exactly c non-max positions among
    0..k-2, exactly one holding t, the other c - 1 holding tokens of G.  Disjoint from the G
    case (no token outside G there) and from Split(.., t') (the outlier differs).
    **Count:** C(k-1, c) c |G|^(c-1).  **Bound:** with p0 the outlier's position,
    sum_p tau(p, x_p) >= base + delta_t(p0) + sum_{p in P - p0} delta_G(p) >= base +
    min_{p0} [delta_t(p0) + (the c-1 smallest delta_G(p), p != p0)], delta_t(p) = tau(p, t) -
    tau(p, m), in lower ends.  Entries with c = 0, or c >= 2 and G empty, are meaningless.
    """
    v, n = tau.shape[0], tau.shape[1] - 1
    tau_mm, base = _base(tau, q)
    gmin = B.min_lower(tau[:, None, :n, :], 3, where=sets[:, :, None, :])  # [m, c, p]
    gmin = np.where(np.isinf(gmin) & (gmin > 0), 0.0, gmin)
    dG = B.lower(B.sub(B.from_bounds(gmin, gmin), tau_mm[:, None, :n]))  # [m, c, p]
    excl = np.where(np.eye(n, dtype=bool)[None, None], np.inf, dG[:, :, None, :])  # [m,c,p0,p]
    srt = B.sort_lower(excl, 3)
    take = np.arange(n)[None, None, None, :] < (np.arange(n + 1)[None, :, None, None] - 1)
    sel = np.where(take, srt, 0.0)
    others = B.sum(B.from_bounds(sel, sel), axis=3)  # [m, c, p0]
    dt = B.sub(tau[:, :n], tau_mm[:, :n, None])  # [m, p0, t]
    tot = B.add(others[:, :, :, None], dt[:, None])  # [m, c, p0, t]
    worst = B.min_lower(tot, 2) if n > 0 else np.zeros((v, n + 1, v))
    return B.add(base[:, None, None], B.from_bounds(worst, worst))


def count_cases(k: int, sizes: npt.NDArray[np.int64], proven: BoolArr) -> int:
    """Sum over proven (m, c) of |Case| = C(k-1, c) |G(m, c)|^c (count lemma)."""
    return sum(
        math.comb(k - 1, int(c)) * int(sizes[m, c]) ** int(c)
        for m, c in zip(*np.nonzero(proven), strict=True)
    )


def count_splits(k: int, sizes: npt.NDArray[np.int64], proven: BoolArr) -> int:
    """Sum over proven (m, c, t) of |Split| = C(k-1, c) c |G(m, c)|^(c-1)."""
    return sum(
        math.comb(k - 1, int(c)) * int(c) * int(sizes[m, c]) ** (int(c) - 1)
        for m, c, _ in zip(*np.nonzero(proven), strict=True)
    )


def max_wrong(hi: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return X[r, m] = max over y != m of hi[r, y] (floats; exact), by the top-2 of each row:
    the max over all y but m is the row's largest entry unless m is its argmax, then the
    second largest.  2n ops a row (two passes of comparisons).  Needs n >= 2."""
    n = hi.shape[1]
    B.charge(2 * hi.size)
    arg = np.argmax(hi, axis=1)
    top = hi[np.arange(hi.shape[0]), arg]
    second = np.where(np.arange(n)[None, :] == arg[:, None], -np.inf, hi).max(axis=1)
    out = np.where(np.arange(n)[None, :] == arg[:, None], second[:, None], top[:, None])
    return np.asarray(out, dtype=np.float64)


def prefix(x: npt.NDArray[np.float64], axis: int, upper: bool) -> npt.NDArray[np.float64]:
    """Running max (``upper``) or min of the floats ``x`` along ``axis`` (exact; n - 1 ops)."""
    B.charge(x.size)
    acc = np.maximum if upper else np.minimum
    return np.asarray(acc.accumulate(x, axis=axis))


def near_gaps(diff: Any, v: int, G: int) -> Any:
    """Return near[q, m, i] <= diff(m, m - 1 - i)[q] (lower ends; 0.0 where m - 1 - i < 0), for
    i < G: the score gaps to the G tokens just below each m, one by one.  ``diff(m, t)``
    returns a ball [q] enclosing EQKE[q, m] - EQKE[q, t] for index arrays m, t."""
    m = np.repeat(np.arange(v), G)
    t = m - 1 - np.tile(np.arange(G), v)
    d = B.lower(diff(m, np.maximum(t, 0)))  # [q, v * G]
    return np.where(t >= 0, d, 0.0).reshape(-1, v, G)


def gap_select(top: B.Ball, pm: npt.NDArray[np.float64], gap: npt.NDArray[np.int64]) -> Any:
    """Return delta[q, m] <= top[q, m] - pm[q, m - gap[q, m]] (floats, lower ends); 0.0 where
    m - gap < 0 (no token t <= m - gap: every number bounds an empty minimum).

    Shared by ``score-gap`` and ``rank1-gap``: pm[q, j] >= max_{t <= j} of the row's scores.
    """
    v = top.shape[1]
    j = np.arange(v)[None, :] - gap
    sel = np.take_along_axis(pm, np.maximum(j, 0), axis=1)
    sel = np.where(j >= 0, sel, 0.0)
    d = B.lower(B.sub(top, B.from_bounds(sel, sel)))
    return np.where(j >= 0, d, 0.0)


def count_gaps(
    k: int, j: npt.NDArray[np.int64], proven: BoolArr, split: BoolArr | None = None
) -> list[int]:
    """Per max token m: the number of inputs of the proven gap cases (m, c), sum over c of
    C(k-1, c) (j[m] + 1)^c (count lemma of rule ``gap-cases``: tokens 0..j, j + 1 choices),
    plus per proven split case (m, c, i) C(k-1, c) c (j[m] + 1)^(c - 1)."""
    out = []
    for m in range(proven.shape[0]):
        n = int(j[m]) + 1
        total = sum(math.comb(k - 1, int(c)) * n ** int(c) for c in np.nonzero(proven[m])[0])
        if split is not None:
            cs = np.nonzero(split[m])[0]
            total += sum(math.comb(k - 1, int(c)) * int(c) * n ** (int(c) - 1) for c in cs)
        out.append(total)
    return out
