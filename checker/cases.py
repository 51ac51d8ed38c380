"""Rule ``position-cases``: the cubic family of proofs for one query token (one head).

Fix the query q = x_{k-1}.  Notation as in tables.py and brute.py; f_p = f[q, p] > 0,
g_t = g[q, t] > 0, and for a max token m and wrong token y != m

  D_y = EUPU[q, m] - EUPU[q, y],  Ev(t, y) = EVOU[t, m] - EVOU[t, y],
  Pv(p, y) = PVOU[p, m] - PVOU[p, y],
  S_y(x) = sum_p f_p g_{x_p} (D_y + Ev(x_p, y) + Pv(p, y))   (sign of margin_y, brute.py).

**Case.**  For m >= q, 0 <= c <= k-1 and a token set G subset {0..m-1} (the hint):
Case(q, m, c, G) = inputs with x_{k-1} = q, max(x) = m, exactly c of the positions
0..k-2 holding a token != m, and all of those tokens in G.  Non-empty only if
c <= k-2 when q < m (some position must hold m) and c <= k-1 when q = m.  Different
(m, c) are disjoint (m and c are functions of x), and different q are disjoint.
**Count lemma:** |Case| = C(k-1, c) |G|^c  (choose the c positions, then their tokens).

**Value lemma.**  Let w(t, p) be any real with w(t, p) <= D_y + Ev(t, y) + Pv(p, y) for
every y != m.  Then S_y(x) >= sum_p tau(p, x_p) with tau(p, t) = f_p g_t w(t, p), because
every f_p g_t > 0.  The variants (hint ``values``) choose w, each <= the minimum over y
because a minimum of a sum is >= the sum of minima and min_p' Pv(p', y) <= Pv(p, y):
  paper      : min_y D_y + min_y (Ev(t, y) + min_{p'} Pv(p', y))   (the paper's cubic)
  positional : min_y D_y + min_y (Ev(t, y) + Pv(p, y))             (O(v^3 k) in all)
  paired     : min_y (D_y + Ev(t, y) + Pv(p, y))                   (O(v^4 k) in all)

**Pure-token (mixture) lemma, division-free.**  For x in Case(q, m, c, G) with non-max
positions P (|P| = c):
  sum_p tau(p, x_p) = tau(k-1, q) + sum_{p<k-1} tau(p, m) + sum_{p in P} (tau(p, x_p) - tau(p, m))
                   >= tau(k-1, q) + sum_{p<k-1} tau(p, m) + sum_{p in P} delta(p),
  delta(p) = min_{t in G} tau(p, t) - tau(p, m),
and sum_{p in P} delta(p) >= the sum of the c smallest delta(p) over p < k-1.  Each
position chooses its worst token independently, so mixtures of tokens from G are covered
whatever the positions; no assumption that values are position-independent is needed
(``positional``/``paired`` have position-dependent w, and the lemma still holds because the
minimum is taken per position).  With w position-independent and one extremal token this
is the paper's argument (attention on the max copies placed on the lowest or highest
positional scores).  If the enclosure of the right-hand side is certainly > 0, then every
S_y(x) > 0 and every input of the case is correct.

**Split cases** (optional hint ``split``): one outlier token outside G; see
:func:`split_bounds` for the statement, count and proof.

The kernel evaluates every valid (m, c) with the hinted G, counts the cases it proves, and
rejects if the certificate's claimed count differs.  Hint bits for impossible cases or
tokens t >= m are rejected (they would inflate the count).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from checker import balls as B
from checker.errors import Reason, require
from checker.tables import Tables

Variant = Literal["paper", "positional", "paired"]
VARIANTS: tuple[Variant, ...] = ("paper", "positional", "paired")
BoolArr = npt.NDArray[np.bool_]


def _b(mid: npt.NDArray[np.float64], rad: npt.NDArray[np.float64]) -> B.Ball:
    return B.Ball(mid, rad)


def _min_excluding_m(delta: B.Ball, axis: int) -> B.Ball:
    """Ball enclosing min over y != m of delta[m, ..., y, ...] (m is axis 0, y is ``axis``)."""
    v = delta.shape[0]
    lo, hi = B.lower(delta), B.upper(delta)
    shape = [1] * lo.ndim
    shape[0] = v
    shape[axis] = v
    diag = np.eye(v, dtype=bool).reshape(shape)
    lo = np.where(diag, np.inf, lo).min(axis=axis)
    hi = np.where(diag, np.inf, hi).min(axis=axis)
    return B.from_bounds(lo, hi)


def value_parts(T: Tables, variant: Variant) -> tuple[B.Ball | None, int]:
    """Return (the query-independent part of w, ops), computed once per model and variant.

    paper: EP[m, t] = min_y (Ev(t, y) + min_p' Pv(p', y));  positional: EP[m, p, t] =
    min_y (Ev(t, y) + Pv(p, y));  paired: None (its minimum involves the query).
    """
    v, k = T.EUPU.shape[1], T.PVOU.shape[1]
    if variant == "paired":
        return None, 0
    ev, pv = T.EVOU, T.PVOU
    Ev = B.sub(
        _b(ev.mid[0].T[:, :, None], ev.rad[0].T[:, :, None]), _b(ev.mid[0][None], ev.rad[0][None])
    )
    Pv = B.sub(
        _b(pv.mid[0].T[:, :, None], pv.rad[0].T[:, :, None]), _b(pv.mid[0][None], pv.rad[0][None])
    )
    # Ev [m, t, y] = EVOU[t, m] - EVOU[t, y];  Pv [m, p, y] = PVOU[p, m] - PVOU[p, y]
    if variant == "paper":
        Pmin = B.from_bounds(B.lower(Pv).min(axis=1), B.upper(Pv).min(axis=1))  # [m, y]
        EP = _min_excluding_m(B.add(Ev, _b(Pmin.mid[:, None, :], Pmin.rad[:, None, :])), axis=2)
        return EP, 2 * (2 * v * v + v * k * v + v * v + 3 * v * v * v)
    EPp = _min_excluding_m(
        B.add(_b(Ev.mid[:, None], Ev.rad[:, None]), _b(Pv.mid[:, :, None], Pv.rad[:, :, None])),
        axis=3,
    )  # [m, p, t]
    return EPp, 2 * (2 * v * v + v * k * v + 2 * v * k * v * v)


def value_table(T: Tables, q: int, variant: Variant, parts: B.Ball | None) -> tuple[B.Ball, int]:
    """Return (balls for w indexed [m, p, t], ops) for query q (value lemma)."""
    v, k = T.EUPU.shape[1], T.PVOU.shape[1]
    eu, ev, pv = T.EUPU, T.EVOU, T.PVOU
    if variant == "paired":
        A = B.add(
            B.add(_b(ev.mid[0][None], ev.rad[0][None]), _b(pv.mid[0][:, None], pv.rad[0][:, None])),
            _b(eu.mid[q][None, None], eu.rad[q][None, None]),
        )  # [p, t, y]: EUPU[q, y] + EVOU[t, y] + PVOU[p, y]
        Am = _b(np.moveaxis(A.mid, 2, 0)[..., None], np.moveaxis(A.rad, 2, 0)[..., None])
        w = _min_excluding_m(B.sub(Am, _b(A.mid[None], A.rad[None])), axis=3)  # [m, p, t]
        return w, 2 * (2 * k * v * v + 2 * v * k * v * v)
    require(parts is not None, Reason.LEMMA_FAILED, "position-cases: value parts missing")
    P: B.Ball = parts  # type: ignore[assignment]
    if P.mid.ndim == 2:  # paper: [m, t] -> [m, p, t]
        P = _b(
            np.broadcast_to(P.mid[:, None, :], (v, k, v)),
            np.broadcast_to(P.rad[:, None, :], (v, k, v)),
        )
    D = B.sub(
        _b(eu.mid[q][:, None], eu.rad[q][:, None]), _b(eu.mid[q][None, :], eu.rad[q][None, :])
    )
    Dmin = _min_excluding_m(D, axis=1)  # [m]
    w = B.add(_b(Dmin.mid[:, None, None], Dmin.rad[:, None, None]), P)
    return w, 2 * (2 * v * v + v * k * v)


def tau_table(T: Tables, q: int, variant: Variant, parts: B.Ball | None) -> tuple[B.Ball, int]:
    """Return (balls for tau(p, t) = f_p g_t w(t, p), indexed [m, p, t], ops)."""
    w, ops = value_table(T, q, variant, parts)
    f = _b(T.f.mid[0, q][None, :, None], T.f.rad[0, q][None, :, None])
    g = _b(T.g.mid[0, q][None, None, :], T.g.rad[0, q][None, None, :])
    v, k = w.shape[0], w.shape[1]
    return B.mul(B.mul(f, g), w), ops + 4 * v * k * v


def valid_cases(v: int, k: int, q: int) -> BoolArr:
    """Return the [m, c] mask of non-empty cases for query q (see Case above)."""
    m = np.arange(v)[:, None]
    c = np.arange(k)[None, :]
    return (m >= q) & (c <= np.where(m == q, k - 1, k - 2))


def case_bounds(tau: B.Ball, q: int, sets: BoolArr) -> B.Ball:
    """Return balls, indexed [m, c], below which the scaled margin of no input of the case lies.

    Pure-token lemma: tau(k-1, q) + sum_{p<k-1} tau(p, m) + (sum of the c smallest delta(p)),
    delta(p) = min_{t in G} tau(p, t) - tau(p, m), using lower ends (monotone in each term).
    Entries for empty G (c > 0) are meaningless; callers mask them.
    """
    v, k = tau.shape[0], tau.shape[1]
    ms = np.arange(v)
    tau_mm = _b(tau.mid[ms, :, ms], tau.rad[ms, :, ms])  # [m, p]: tau(p, m)
    base = B.add(
        B.sum(_b(tau_mm.mid[:, : k - 1], tau_mm.rad[:, : k - 1]), axis=1),
        _b(tau.mid[:, k - 1, q], tau.rad[:, k - 1, q]),
    )
    tau_lo = B.lower(_b(tau.mid[:, : k - 1], tau.rad[:, : k - 1]))  # [m, p, t]
    masked = np.where(sets[:, :, None, :], tau_lo[:, None, :, :], np.inf)  # [m, c, p, t]
    gmin = masked.min(axis=3)  # [m, c, p]; +inf only where G is empty (case not counted)
    nonempty: BoolArr = np.any(sets, axis=2)
    gmin = np.where(nonempty[:, :, None], gmin, 0.0)
    # NB: -inf (an unknown tau) stays -inf; from_bounds turns it into an unknown ball.
    delta = B.sub(
        B.from_bounds(gmin, gmin), _b(tau_mm.mid[:, None, : k - 1], tau_mm.rad[:, None, : k - 1])
    )
    dlo = np.sort(B.lower(delta), axis=2)  # [m, c, p] ascending
    first_c = np.arange(k - 1)[None, None, :] < np.arange(k)[None, :, None]
    sel = np.where(first_c, dlo, 0.0)
    chosen = B.sum(B.from_bounds(sel, sel), axis=2)  # [m, c]
    return B.add(_b(base.mid[:, None], base.rad[:, None]), chosen)


def split_bounds(tau: B.Ball, q: int, sets: BoolArr) -> B.Ball:
    """Return balls [m, c, t] below which the scaled margin of no input of Split(q, m, c, t) lies.

    **Split cases** (one outlier token).  For t < m with t not in G = G(q, m, c), c >= 1:
    Split(q, m, c, t) = inputs with x_{k-1} = q, max m, exactly c non-max positions among
    0..k-2, exactly one of which holds t, the other c-1 holding tokens in G.
    Disjoint from Case(q, m, c, G) (whose non-max tokens are all in G) and from
    Split(q, m, c, t') for t' != t (the one token outside G differs).
    **Count:** |Split| = C(k-1, c) * c * |G|^(c-1)  (positions, which one holds t, the rest).
    **Bound** (the mixture lemma with one position pinned): with P the non-max positions and
    p0 in P the one holding t,
      sum_p tau(p, x_p) >= base + delta_t(p0) + sum_{p in P - p0} delta_G(p),
      delta_t(p) = tau(p, t) - tau(p, m),  delta_G(p) = min_{s in G} tau(p, s) - tau(p, m),
    and the right side is >= base + min_{p0} [delta_t(p0) + (sum of the c-1 smallest
    delta_G(p) over p != p0)], evaluated with lower ends (each term enters monotonically).
    Entries with c = 0, or with c >= 2 and G empty, are meaningless (their count is 0).
    """
    v, k = tau.shape[0], tau.shape[1]
    n = k - 1  # non-query positions
    ms = np.arange(v)
    tau_mm = _b(tau.mid[ms, :, ms], tau.rad[ms, :, ms])  # [m, p]
    base = B.add(
        B.sum(_b(tau_mm.mid[:, :n], tau_mm.rad[:, :n]), axis=1),
        _b(tau.mid[:, n, q], tau.rad[:, n, q]),
    )  # [m]
    tau_lo = B.lower(_b(tau.mid[:, :n], tau.rad[:, :n]))  # [m, p, t]
    gmin = np.where(sets[:, :, None, :], tau_lo[:, None, :, :], np.inf).min(axis=3)  # [m, c, p]
    gmin = np.where(np.isinf(gmin) & (gmin > 0), 0.0, gmin)  # empty G: count 0, value unused
    mm = _b(tau_mm.mid[:, None, :n], tau_mm.rad[:, None, :n])
    dG = B.lower(B.sub(B.from_bounds(gmin, gmin), mm))  # [m, c, p]
    # others[m, c, p0] = sum of the c-1 smallest dG[m, c, p] over p != p0
    excl = np.where(np.eye(n, dtype=bool)[None, None], np.inf, dG[:, :, None, :])  # [m,c,p0,p]
    srt = np.sort(excl, axis=3)
    take = np.arange(n)[None, None, None, :] < (np.arange(k)[None, :, None, None] - 1)
    sel = np.where(take, srt, 0.0)
    others = B.sum(B.from_bounds(sel, sel), axis=3)  # [m, c, p0]
    dt = B.sub(
        _b(tau.mid[:, :n], tau.rad[:, :n]), _b(tau_mm.mid[:, :n, None], tau_mm.rad[:, :n, None])
    )  # [m, p0, t]
    tot = B.add(
        _b(others.mid[:, :, :, None], others.rad[:, :, :, None]),
        _b(dt.mid[:, None], dt.rad[:, None]),
    )  # [m, c, p0, t]
    worst = B.lower(tot).min(axis=2)  # [m, c, t]
    return B.add(_b(base.mid[:, None, None], base.rad[:, None, None]), B.from_bounds(worst, worst))


def count_query(
    T: Tables,
    q: int,
    variant: Variant,
    parts: B.Ball | None,
    sets: BoolArr,
    step: str,
    split: BoolArr | None = None,
) -> tuple[int, int, str]:
    """Return (proven count, ops, first unproven case or '') for query q.

    ``sets`` is the hint G as booleans [v(m), k(c), v(t)]; ``split`` (optional, same shape)
    names the outlier tokens t of the split cases (see :func:`split_bounds`).
    Reject if the model has several heads, or a hint bit names a token t >= m, an impossible
    case, a split case with c = 0 or a split token that is also in G.
    """
    v, k = T.EUPU.shape[1], T.PVOU.shape[1]
    require(
        T.EVOU.shape[0] == 1, Reason.UNSUPPORTED, "position-cases: needs a one-head model", step
    )
    require(
        sets.shape == (v, k, v),
        Reason.BAD_HINT,
        f"position-cases: sets must be [{v}, {k}, {v}]",
        step,
    )
    valid = valid_cases(v, k, q)
    possible = valid[:, :, None] & (np.arange(v)[None, None, :] < np.arange(v)[:, None, None])
    require(
        not bool((sets & ~possible).any()),
        Reason.BAD_HINT,
        "position-cases: a token set names t >= m or an impossible (m, c) case",
        step,
    )
    if split is not None:
        require(
            split.shape == (v, k, v),
            Reason.BAD_HINT,
            f"position-cases: split must be [{v}, {k}, {v}]",
            step,
        )
        require(
            not bool((split & ~possible).any())
            and not bool(split[:, 0].any())
            and not bool((split & sets).any()),
            Reason.BAD_HINT,
            "position-cases: a split token is >= m, in G, or in an impossible or c = 0 case",
            step,
        )
    tau, ops = tau_table(T, q, variant, parts)
    total = case_bounds(tau, q, sets)
    sizes = sets.sum(axis=2)
    counted = valid & ((sizes > 0) | (np.arange(k)[None, :] == 0))
    proven = B.positive(total) & counted
    count = 0
    for m, c in zip(*np.nonzero(proven), strict=True):
        count += math.comb(k - 1, int(c)) * int(sizes[m, c]) ** int(c)
    failed = np.argwhere(counted & ~proven)
    first_fail = f"(q={q}, m={failed[0][0]}, c={failed[0][1]})" if len(failed) else ""
    ops += 2 * (2 * k * v + v * k * (k - 1) * v + v * k * k * 4)
    if split is not None and bool(split.any()):
        cs = np.arange(k)[None, :]
        live = (cs == 1) | (sizes > 0)  # [m, c]: the split case is non-empty
        ok = B.positive(split_bounds(tau, q, sets)) & split & live[:, :, None]
        for m, c, _t in zip(*np.nonzero(ok), strict=True):
            c = int(c)
            count += math.comb(k - 1, c) * c * int(sizes[m, c]) ** (c - 1)
        ops += 2 * (v * k * (k - 1) * (k - 1) * 3 + v * k * (k - 1) * v * 2)
    return count, ops, first_fail
