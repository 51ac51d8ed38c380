"""Rule ``enumerate``: decide every input with a given query token (brute force).

Cites ``eupu`` (EU), and per head h: ``evou`` (EV[h] @ OU[h]), ``pvou`` (PV[h] @ OU[h]),
``g`` (rowexp(EQ[h] @ EK[h]^T)), ``f`` (rowexp(EQ[h] @ PK[h]^T)); arg ``query``; claim
``correct``.  Result: Count(query).

For query q every input x = (x_0, ..., x_{k-2}, q) is decided in balls.  With m = max(x),
e^h_p = g_h[q, x_p] f_h[q, p] > 0 and Z^h = sum_p e^h_p:

  margin_y = D_y + sum_h N^h_y / Z^h,   D_y = EUPU[q, m] - EUPU[q, y],
  N^h_y = sum_p e^h_p (O_h[p, x_p, m] - O_h[p, x_p, y]),   O_h[p, t] = EVOU_h[t] + PVOU_h[p].

**Lemma (division-free sign).**  Every Z^h > 0, so sign(margin_y) = sign(S_y) with
S_y = D_y prod_h Z^h + sum_h N^h_y prod_{h' != h} Z^{h'} = margin_y prod_h Z^h.  x is
counted correct only if every enclosure of S_y (y != m) is certainly positive (ties fail).

**Lemma (sufficient test, one head).**  With L[m, p, t] = min_{y != m} (D_y + O[p, t, m] -
O[p, t, y]), S_y >= sum_p e_p L[m, p, x_p] for every y != m since each e_p > 0.  A certainly
positive sum proves x correct from k gathered balls; other inputs go to the exact formula
(the test only routes inputs; it never decides one wrongly).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import EUPU, Count, Tensor, eqke, eqkp, evou, pvou, rowexp
from checker.model import Model

NAME = "enumerate"
LEMMA = "every input of the query decided: sign(margin) = sign(division-free S_y)"
CITES: dict[str, Any] = {
    "eupu": Tensor,
    "evou": [Tensor],
    "pvou": [Tensor],
    "g": [Tensor],
    "f": [Tensor],
}
ARGS: dict[str, Any] = {"query": "query"}
CLAIM = {"correct"}
I64 = npt.NDArray[np.int64]
CHUNK = 1 << 17  # inputs per vectorised block
SLOW_CHUNK = 1 << 13  # inputs per block on the exact per-y path


class Tables(NamedTuple):
    """The path tables, head axis first: EUPU [v, v]; EVOU, g [h, v, v]; PVOU [h, k, v];
    f [h, v, k]."""

    EUPU: B.Ball
    EVOU: B.Ball
    PVOU: B.Ball
    g: B.Ball
    f: B.Ball


def _stack(balls: list[B.Ball]) -> B.Ball:
    return B.Ball(np.stack([b.mid for b in balls]), np.stack([b.rad for b in balls]))


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    v, k, h = model.v, model.k, model.h
    return int(v ** (k - 1) * k + v * v * k * v * h)


def _tables(model: Model, cites: dict[str, Any]) -> Tables:
    h = model.h
    want: dict[str, Callable[[int], str]] = {
        "evou": evou,
        "pvou": pvou,
        "g": lambda i: rowexp(eqke(i)),
        "f": lambda i: rowexp(eqkp(i)),
    }
    for role, mean in want.items():
        got = [t.meaning for t in cites[role]]
        require(
            got == [mean(i) for i in range(h)],
            Reason.BAD_REFERENCE,
            f"enumerate: '{role}' must cite {[mean(i) for i in range(h)]}",
        )
    require(cites["eupu"].meaning == EUPU, Reason.BAD_REFERENCE, "enumerate: 'eupu' must cite EU")
    return Tables(cites["eupu"].ball, *(_stack([t.ball for t in cites[r]]) for r in want))


def _inputs(v: int, k: int, q: int, start: int, stop: int) -> I64:
    """Return the inputs with query q whose prefix index lies in [start, stop), as [n, k]."""
    x = np.empty((stop - start, k), dtype=np.int64)
    idx = np.arange(start, stop, dtype=np.int64)
    for p in range(k - 2, -1, -1):
        x[:, p], idx = idx % v, idx // v
    x[:, k - 1] = q
    return x


def scaled_margins(T: Tables, q: int, x: I64) -> B.Ball:
    """Return balls enclosing S_y for every input row of x and every y (division-free)."""
    h, (n, k) = T.EVOU.shape[0], x.shape
    m = x.max(axis=1)
    D = B.sub(T.EUPU[q, m][:, None], T.EUPU[q][None, :])
    Zs, Ns = [], []
    for i in range(h):
        e = B.mul(T.g[i, q][x], T.f[i, q][None, :])  # [n, k]
        O = B.add(T.EVOU[i][x], T.PVOU[i][None])  # [n, k, v]
        diff = B.sub(O[np.arange(n)[:, None], np.arange(k)[None, :], m[:, None]][..., None], O)
        Ns.append(B.sum(B.mul(e[:, :, None], diff), axis=1))
        Zs.append(B.sum(e, axis=1)[:, None])
    total = D
    for Z in Zs:
        total = B.mul(total, Z)
    for i in range(h):
        term = Ns[i]
        for j in range(h):
            term = B.mul(term, Zs[j]) if j != i else term
        total = B.add(total, term)
    return total


def _decide_exact(T: Tables, q: int, x: I64) -> tuple[int, int]:
    """Return (correct, incorrect) for the rows of x by the per-y formula."""
    correct = incorrect = 0
    v = T.EUPU.shape[1]
    for s in range(0, x.shape[0], SLOW_CHUNK):
        xs = x[s : s + SLOW_CHUNK]
        S = scaled_margins(T, q, xs)
        is_m = np.arange(v)[None, :] == xs.max(axis=1)[:, None]
        ok = (B.positive(S) | is_m).all(axis=1)
        correct += int(ok.sum())
        incorrect += int(((B.nonpositive(S) & ~is_m).any(axis=1) & ~ok).sum())
    return correct, incorrect


def _fast_table(T: Tables, q: int) -> B.Ball:
    """Return balls for e_p L[m, p, t], indexed [m, p, t] (one head; sufficient test)."""
    v = T.EUPU.shape[1]
    e = B.mul(T.f[0, q][:, None], T.g[0, q][None, :])  # [p, t]
    A = B.add(B.add(T.EVOU[0][None], T.PVOU[0][:, None]), T.EUPU[q][None, None])  # [p, t, y]
    Am = B.Ball(np.moveaxis(A.mid, 2, 0), np.moveaxis(A.rad, 2, 0))[..., None]  # [m, p, t, 1]
    delta = B.sub(Am, A[None])  # [m, p, t, y]
    L = B.min(delta, 3, where=~np.eye(v, dtype=bool)[:, None, None, :])
    return B.mul(e[None], L)


def decide(
    model: Model, T: Tables, q: int, tick: Callable[[int, int], None] | None = None
) -> Count:
    """Return the Count of query q: correct / incorrect / undecided over its v^(k-1) inputs."""
    h, v, k = model.h, model.v, model.k
    n_all = v ** (k - 1)
    correct = incorrect = 0
    fast = _fast_table(T, q) if h == 1 else None
    pos = np.arange(k)[None, :]
    for start in range(0, n_all, CHUNK):
        stop = min(n_all, start + CHUNK)
        x = _inputs(v, k, q, start, stop)
        if fast is not None:
            sure = B.positive(B.sum(fast[x.max(axis=1)[:, None], pos, x], axis=1))
            correct += int(sure.sum())
            x = x[~sure]
        if x.shape[0]:
            c, i = _decide_exact(T, q, x)
            correct, incorrect = correct + c, incorrect + i
        if tick is not None:
            tick(stop - start, model.total)
    return Count(q, correct, incorrect, n_all - correct - incorrect)


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Count:
    return decide(model, _tables(model, cites), args["query"], tick)
