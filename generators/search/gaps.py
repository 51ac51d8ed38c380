"""Choosing the subcubic family's hints: size directions (a, b) and gaps g[q, m].

Search (untrusted, uncounted).  Directions: a float SVD of EQKE (numpy, in the generator
only; the kernel never sees it, only the exact consequences of the hint vectors).  Gaps: the
kernel's own ``gap-cases`` lemma is evaluated for every constant gap g = 1..v, and each
(q, m) keeps the g that proves the most inputs; since the kernel's test for (q, m) depends
only on g[q, m], the combined hint proves exactly the union of the per-(q, m) choices.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from checker import Model
from checker import balls as B
from checker import lemmas as L
from checker.facts import ScoreGap
from checker.rules import gap_cases


def directions(eq: np.ndarray, ek: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (a, b) with (EQ a)(EK b)^T close to the top singular term of EQ EK^T.

    Complexity: O(v e^2) (least squares on the factors; uncounted)."""
    U, S, Vt = np.linalg.svd(eq @ ek.T)
    a = np.linalg.lstsq(eq, U[:, 0] * S[0], rcond=None)[0]
    b = np.linalg.lstsq(ek, Vt[0], rcond=None)[0]
    return a, b


@contextlib.contextmanager
def _float_exps() -> Iterator[None]:
    """During the search only: exps of balls by numpy (not rigorous; the search's verdicts
    only choose hints, the kernel re-derives every count with arb exps).  Restored after."""
    real = B.exp_scaled

    def fast(b: B.Ball, e: int) -> B.Ball:
        s = 1.0 / math.sqrt(e)
        mid = np.exp(np.clip(b.mid * s, -700, 700))
        rad = mid * np.expm1(np.minimum(b.rad * s, 700)) + np.abs(mid) * 1e-9
        return B.Ball(mid, np.where(np.isfinite(rad), rad, np.inf))

    B.exp_scaled = fast  # type: ignore[assignment]
    try:
        yield
    finally:
        B.exp_scaled = real  # type: ignore[assignment]


def choose_gaps(
    model: Model,
    gap_of: Callable[[np.ndarray], ScoreGap],
    cites: dict[str, Any],
    direct: str,
    mode: str = "search",
    patience: int = 4,
    near: bool = False,
) -> np.ndarray:
    """Return gap [v, v] (ints 1..v) for ``mode``: ``search`` (per (q, m) the gap whose gap
    cases prove the most inputs), ``per-m`` (one gap per max token, the best summed over
    queries), ``one`` (g = 1 everywhere, no search).

    ``gap_of(g)`` returns the ScoreGap the certificate's gap rule gives for the hint g;
    ``cites`` holds the other citations of ``gap-cases`` (eupu, values, f).  The scan over g
    stops after ``patience`` gaps in a row that improve no (q, m) (a heuristic: the hint is
    only ever loose, never wrong).  With ``near``, counts include the near cases (one token
    between m - g and m).  Complexity: O(G v^2 k) kernel-lemma evaluations for the G
    gaps scanned (uncounted)."""
    v = model.v
    if mode == "one":
        return np.ones((v, v), dtype=np.int64)
    with _float_exps():
        C = _scan(model, gap_of, cites, direct, patience, near)  # [G, q, m]
    if mode == "per-m":
        g = C.sum(axis=1).argmax(axis=0) + 1  # [m]
        return np.broadcast_to(g[None, :], (v, v)).astype(np.int64).copy()
    return (C.argmax(axis=0) + 1).astype(np.int64)


def _scan(
    model: Model,
    gap_of: Callable[[np.ndarray], ScoreGap],
    cites: dict[str, Any],
    direct: str,
    patience: int,
    near: bool,
) -> np.ndarray:
    """Counts [g - 1, q, m] of the inputs the gap cases prove, for g = 1, 2, ... (see above)."""
    v, k = model.v, model.k
    counts: list[np.ndarray] = []  # [g-1][q, m]
    best = np.zeros((v, v))
    stale = 0
    for g in range(1, v + 1):
        if stale >= patience:
            break  # no (q, m) improved for `patience` gaps in a row: larger gaps rarely help
        sg = gap_of(np.full((v, v), g, dtype=np.int64))
        got = np.zeros((v, v))
        for q in range(v):
            ok, j, nr = gap_cases.proven(model, {**cites, "gap": sg}, q, direct, near)
            got[q] = L.count_gaps(k, j, ok, nr)
        stale = 0 if (got > best).any() else stale + 1
        best = np.maximum(best, got)
        counts.append(got)
    return np.array(counts)


def inner_basis(a: np.ndarray, b: np.ndarray, r: int) -> np.ndarray:
    """Return P [n, r] (orthonormal columns, float) spanning the inner directions that carry
    the top r singular terms of A @ B (A [rows, n], B [n, c]): P = orth(A^T U_r).

    Complexity: O((rows + c) n^2) (SVD of A, then of the n x c core S V^T B; A @ B is never
    formed).  Untrusted hint for rule ``low-rank``; uncounted."""
    Ua, Sa, Vat = np.linalg.svd(a, full_matrices=False)
    Um = np.linalg.svd(Sa[:, None] * (Vat @ b), full_matrices=False)[0]
    P = np.linalg.qr(Vat.T @ (Sa[:, None] * Um[:, :r]))[0]
    return np.ascontiguousarray(P[:, :r])


def spectral_hint(b: np.ndarray) -> tuple[float, np.ndarray]:
    """Return (lam, L) with lam slightly above sigma_1(B)^2 and L L^T = (lam - slack) I - B B^T
    (float Cholesky), so that lam I - B B^T - L L^T is about slack I: diagonally dominant,
    which is what rule ``spectral`` checks in balls.  Complexity O(n^2 c + n^3); uncounted.
    An unlucky rounding only makes the kernel reject the step (lemma-failed), never pass."""
    G = b @ b.T
    s2 = float(np.linalg.eigvalsh(G)[-1])
    n = G.shape[0]
    slack = s2 * 2.0**-16 + 1e-12
    lam = s2 + 2 * slack + n * 1e-12 * s2
    L = np.linalg.cholesky((lam - slack) * np.eye(n) - G)
    return lam, L
