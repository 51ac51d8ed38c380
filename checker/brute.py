"""Rule ``enumerate``: decide every input with a given query token, rigorously.

For query q every input x = (x_0, ..., x_{k-2}, q) is decided in numpy balls.  With
m = max(x), e^h_p = g_h[q, x_p] f_h[q, p] > 0 and Z^h = sum_p e^h_p (tables.py):

  margin_y = logit[m] - logit[y] = D_y + sum_h N^h_y / Z^h,
  D_y   = EUPU[q, m] - EUPU[q, y],
  N^h_y = sum_p e^h_p (O_h[p, x_p, m] - O_h[p, x_p, y]),   O_h[p, t] = EVOU_h[t] + PVOU_h[p].

Lemma (division-free sign).  Since every Z^h > 0,
  sign(margin_y) = sign(S_y),  S_y = D_y prod_h Z^h + sum_h N^h_y prod_{h' != h} Z^{h'}.
Proof: S_y = margin_y * prod_h Z^h.  x is correct iff S_y > 0 for every y != m; it is
certainly incorrect if some S_y <= 0 is certain (ties are failures).  The kernel counts an
input as correct only when every enclosure of S_y (y != m) is certainly positive.

Lemma (sufficient test, one head).  With L[m, p, t] = min_{y != m} (D_y + O[p, t, m] -
O[p, t, y]) (a real number enclosed by balls.min over the Delta table),
  S_y = sum_p e_p (D_y + O[p, x_p, m] - O[p, x_p, y]) >= sum_p e_p L[m, p, x_p]
for every y != m, because each e_p > 0.  So a certainly positive sum_p e_p L[m, p, x_p]
proves x correct using k gathered balls instead of k*v; inputs that fail the test are
decided by the exact formula above (the test can only send inputs to the slow path, never
decide an input wrongly).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from checker import balls as B
from checker.tables import Tables

I64 = npt.NDArray[np.int64]
CHUNK = 1 << 17  # inputs per vectorised block
SLOW_CHUNK = 1 << 13  # inputs per block on the exact per-y path


def _ball_take(b: B.Ball, idx: tuple[npt.NDArray[np.int64], ...]) -> B.Ball:
    return B.Ball(b.mid[idx], b.rad[idx])


def _inputs(v: int, k: int, q: int, start: int, stop: int) -> I64:
    """Return the inputs with query q whose prefix index lies in [start, stop), as [n, k]."""
    n = stop - start
    x = np.empty((n, k), dtype=np.int64)
    idx = np.arange(start, stop, dtype=np.int64)
    for p in range(k - 2, -1, -1):
        x[:, p] = idx % v
        idx //= v
    x[:, k - 1] = q
    return x


def _exact_scaled_margins(T: Tables, q: int, x: I64) -> B.Ball:
    """Return balls enclosing S_y for every input row of x and every y (division-free lemma)."""
    n, k = x.shape
    h = T.EVOU.shape[0]
    m = x.max(axis=1)
    pos = np.arange(k)[None, :]
    eu = T.EUPU
    D = B.sub(
        B.Ball(eu.mid[q, m][:, None], eu.rad[q, m][:, None]),
        B.Ball(eu.mid[q][None, :], eu.rad[q][None, :]),
    )
    Zs: list[B.Ball] = []
    Ns: list[B.Ball] = []
    for i in range(h):
        e = B.mul(
            _ball_take(T.g, (np.full_like(x, i), np.full_like(x, q), x)),
            _ball_take(
                T.f, (np.full_like(x, i), np.full_like(x, q), np.broadcast_to(pos, x.shape))
            ),
        )  # [n, k]
        O = B.add(
            B.Ball(T.EVOU.mid[i][x], T.EVOU.rad[i][x]),
            B.Ball(T.PVOU.mid[i][None, :, :], T.PVOU.rad[i][None, :, :]),
        )  # [n, k, v]
        Om = B.Ball(
            np.take_along_axis(O.mid, m[:, None, None], axis=2),
            np.take_along_axis(O.rad, m[:, None, None], axis=2),
        )
        diff = B.sub(Om, O)
        Ns.append(B.sum(B.mul(B.Ball(e.mid[:, :, None], e.rad[:, :, None]), diff), axis=1))
        Z = B.sum(e, axis=1)
        Zs.append(B.Ball(Z.mid[:, None], Z.rad[:, None]))
    total = D
    for Z in Zs:
        total = B.mul(total, Z)
    for i in range(h):
        term = Ns[i]
        for j in range(h):
            if j != i:
                term = B.mul(term, Zs[j])
        total = B.add(total, term)
    return total


def _decide_exact(T: Tables, q: int, x: I64) -> tuple[int, int, int]:
    """Return (correct, incorrect, undecided) for the rows of x by the per-y formula."""
    correct = incorrect = 0
    v = T.EUPU.shape[1]
    for s in range(0, x.shape[0], SLOW_CHUNK):
        xs = x[s : s + SLOW_CHUNK]
        S = _exact_scaled_margins(T, q, xs)
        m = xs.max(axis=1)
        is_m = np.arange(v)[None, :] == m[:, None]
        pos = B.positive(S) | is_m
        nonpos = B.nonpositive(S) & ~is_m
        ok = pos.all(axis=1)
        bad = nonpos.any(axis=1)
        correct += int(ok.sum())
        incorrect += int((bad & ~ok).sum())
    return correct, incorrect, x.shape[0] - correct - incorrect


def _fast_table(T: Tables, q: int) -> B.Ball:
    """Return balls for e_p * L[m, p, t], indexed [m, p, t] (one head; sufficient-test lemma)."""
    v = T.EUPU.shape[1]
    k = T.PVOU.shape[1]
    e = B.mul(
        B.Ball(T.f.mid[0, q][:, None], T.f.rad[0, q][:, None]),
        B.Ball(T.g.mid[0, q][None, :], T.g.rad[0, q][None, :]),
    )  # [k(p), v(t)]
    A = B.add(
        B.add(
            B.Ball(T.EVOU.mid[0][None, :, :], T.EVOU.rad[0][None, :, :]),
            B.Ball(T.PVOU.mid[0][:, None, :], T.PVOU.rad[0][:, None, :]),
        ),
        B.Ball(T.EUPU.mid[q][None, None, :], T.EUPU.rad[q][None, None, :]),
    )  # [k(p), v(t), v(y)]: D-free part  EUPU[q, y] + O[p, t, y]
    Am = B.Ball(
        np.moveaxis(A.mid, 2, 0)[:, :, :, None], np.moveaxis(A.rad, 2, 0)[:, :, :, None]
    )  # [m,p,t,1]
    delta = B.sub(Am, B.Ball(A.mid[None], A.rad[None]))  # [m, p, t, y]
    lo = B.lower(delta)
    hi = B.upper(delta)
    diag = np.eye(v, dtype=bool)[:, None, None, :]  # y == m
    lo = np.where(diag, np.inf, lo)
    hi = np.where(diag, np.inf, hi)
    L = B.from_bounds(lo.min(axis=3), hi.min(axis=3))  # [m, p, t]
    del k
    return B.mul(B.Ball(e.mid[None], e.rad[None]), L)


def fast_path_ops(v: int, k: int) -> int:
    """Scalar operations of _fast_table for one query (mid and radius each counted)."""
    return 2 * (k * v + 2 * k * v * v + v * k * v * v + v * k * v * (v - 1) + v * k * v)


def decide_query(
    T: Tables, q: int, progress: Callable[[int], None] | None = None
) -> tuple[int, int, int, int]:
    """Return (correct, incorrect, undecided, ops) over all v^(k-1) inputs with x_{k-1} = q.

    Reject: nothing (q is validated by the caller).
    """
    h, v, k = T.EVOU.shape[0], T.EUPU.shape[1], T.PVOU.shape[1]
    n_all = v ** (k - 1)
    correct = incorrect = undecided = 0
    ops = 0
    fast = _fast_table(T, q) if h == 1 else None
    if fast is not None:
        ops += fast_path_ops(v, k)
    pos = np.arange(k)[None, :]
    for start in range(0, n_all, CHUNK):
        stop = min(n_all, start + CHUNK)
        x = _inputs(v, k, q, start, stop)
        if fast is not None:
            m = x.max(axis=1)
            idx = (m[:, None], pos, x)
            S = B.sum(B.Ball(fast.mid[idx], fast.rad[idx]), axis=1)
            sure = B.positive(S)
            ops += 2 * (stop - start) * (2 * k - 1)
            correct += int(sure.sum())
            x = x[~sure]
        if x.shape[0]:
            c, i, u = _decide_exact(T, q, x)
            ops += x.shape[0] * (2 * h * v * (3 * k - 1) + 2 * v * (2 * h + 1))
            correct, incorrect, undecided = correct + c, incorrect + i, undecided + u
        if progress is not None:
            progress(stop - start)
    return correct, incorrect, undecided, ops


def decide_inputs(T: Tables, x: I64) -> tuple[int, int, int]:
    """Return (correct, incorrect, undecided) for arbitrary input rows x [n, k] (sampling)."""
    totals = [0, 0, 0]
    for q in np.unique(x[:, -1]):
        res = _decide_exact(T, int(q), x[x[:, -1] == q])
        totals = [a + b for a, b in zip(totals, res, strict=True)]
    return totals[0], totals[1], totals[2]
