"""Choosing the cubic family's hints: token sets G(q, m, c) and split tokens.

Search (untrusted, uncounted): take every t < m whose *pure* case (all c non-max positions
hold t) has a positive estimated bound, then ask the kernel's own lemma for the mixture and
drop the weakest token until the case is proven or G is empty.
"""

from __future__ import annotations

import numpy as np

from checker import balls as B
from checker import lemmas as L


def choose_sets(tau: B.Ball, q: int) -> np.ndarray:
    """Return G as booleans [m, c, t]: the tokens whose mixtures the kernel will prove safe."""
    v, k = tau.shape[0], tau.shape[1]
    valid = L.valid_cases(v, k, q)
    ms = np.arange(v)
    lo = B.lower(tau)
    hi_mm = B.upper(tau)[ms, :, ms]  # [m, p]
    base = lo[ms, :, ms][:, : k - 1].sum(axis=1) + lo[:, k - 1, q]
    d = np.sort(lo[:, : k - 1, :] - hi_mm[:, : k - 1, None], axis=1)  # [m, p, t] ascending
    csum = np.concatenate([np.zeros((v, 1, v)), np.cumsum(d, axis=1)], axis=1)  # [m, c, t]
    pure = base[:, None, None] + csum
    allowed = valid[:, :, None] & (np.arange(v)[None, None, :] < ms[:, None, None])
    sets = allowed & (pure > 0)
    for _ in range(v):  # drop the weakest token from each failing case until it passes
        ok = B.positive(L.case_bounds(tau, q, sets))
        bad = valid & ~ok & sets.any(axis=2)
        bad[:, 0] = False
        if not bad.any():
            break
        worst = np.where(sets, pure, np.inf).argmin(axis=2)
        mi, ci = np.nonzero(bad)
        sets[mi, ci, worst[mi, ci]] = False
    return sets


def choose_split(tau: B.Ball, q: int, sets: np.ndarray) -> np.ndarray:
    """Return the split hint [m, c, t]: outlier tokens t (not in G, t < m, c >= 1) whose
    single occurrence among otherwise-G non-max tokens the kernel proves safe."""
    v, k = tau.shape[0], tau.shape[1]
    valid = L.valid_cases(v, k, q)
    cand = valid[:, :, None] & (np.arange(v)[None, None, :] < np.arange(v)[:, None, None]) & ~sets
    cand[:, 0] = False
    if k < 2 or not cand.any():
        return cand
    return cand & B.positive(L.split_bounds(tau, q, sets))


def tau_table(w: B.Ball, g_q: B.Ball, f_q: B.Ball) -> B.Ball:
    """tau(m, p, t) = f[q, p] g[q, t] w(m, p, t), as the kernel's ``cases`` rule forms it."""
    return B.mul(B.mul(f_q[None, :, None], g_q[None, None, :]), w)
