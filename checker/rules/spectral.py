"""Rule ``spectral``: row spreads of a product from a spectral norm certified in balls.

Cites ``a`` (Tensor A [r, n]) and ``b`` (Tensor B [n, c], or B^T with ``transpose_b``); args
``lam`` (f8 [1], lambda > 0) and ``chol`` (f8 [n, n], any matrix L; a Cholesky factor of
lambda I - B B^T found by search).  Result: RowSpread of ``A @ B`` (``A @ B^T``) with
rho[r] = sqrt(2 lambda) ||row r of A||_2, in O(n^2 c + n^3 + r n): the product is not formed.
Reject (``lemma-failed``) if the certificate below does not hold.

**Lemma (certified spectral norm).**  Let G = B B^T and E = lambda I - G - L L^T.  If every
row of E is diagonally dominant with a nonnegative diagonal (E_ii >= sum_{j != i} |E_ij|),
then E is positive semidefinite (Gershgorin: E is real symmetric and each eigenvalue lies in
some [E_ii - R_i, E_ii + R_i] with R_i the off-diagonal row sum), L L^T is too, so
lambda I - G is, i.e. ||B^T x||^2 <= lambda ||x||^2 for all x: ||B||_2 <= sqrt(lambda).  Then
for every row r and columns i, j: (AB)[r, i] - (AB)[r, j] = A_r B (e_i - e_j) <=
||A_r||_2 ||B||_2 ||e_i - e_j||_2 = sqrt(2) ||A_r||_2 ||B||_2 (Cauchy-Schwarz).  Balls: G, L L^T
and E are ball products and differences, the test uses lower ends of the diagonal and upper
ends of |off-diagonal| entries (so it holds for the exact E), norms as in rule ``low-rank``,
square roots in arb.  Never an unverified float SVD: the hints are only checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flint import arb

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import RowSpread, Tensor, product
from checker.model import Model
from checker.rules.lowrank import _norms

NAME = "spectral"
LEMMA = "lambda I - B B^T = L L^T + E, E diag. dominant => rho_r = sqrt(2 lambda) |A_r| >= spread"
CITES: dict[str, Any] = {"a": Tensor, "b": Tensor}
ARGS: dict[str, Any] = {"transpose_b": "bool", "lam": "f8", "chol": "f8"}
CLAIM: set[str] = set()


def _operands(cites: dict[str, Any], args: dict[str, Any]) -> tuple[B.Ball, B.Ball, float, Any]:
    a, bb = cites["a"].ball, (cites["b"].ball.T if args["transpose_b"] else cites["b"].ball)
    ok = len(a.shape) == 2 and len(bb.shape) == 2 and a.shape[1] == bb.shape[0]
    require(ok, Reason.LEMMA_FAILED, f"spectral: shapes {list(a.shape)} @ {list(bb.shape)}")
    lam, L, n = args["lam"].array, args["chol"].array, a.shape[1]
    ok = lam.shape == (1,) and float(lam[0]) > 0 and L.shape == (n, n)
    require(ok, Reason.BAD_HINT, "spectral: 'lam' must be f8 [1] > 0 and 'chol' f8 [n, n]")
    return a, bb, float(lam[0]), L


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    a, bb, _, _ = _operands(cites, args)
    chars = len(cites["a"].meaning + cites["b"].meaning)
    require(chars <= 4096, Reason.UNSUPPORTED, "spectral: meaning too long")
    n = a.shape[1]
    return 4 * (n * n * (bb.shape[1] + n) + a.mid.size)


def certified(bb: B.Ball, lam: float, L: Any) -> bool:
    """Whether lambda I - B B^T - L L^T is diagonally dominant with a nonnegative diagonal
    for every B in bb (then ||B||_2 <= sqrt(lambda))."""
    n = bb.shape[0]
    G = B.matmul(bb, bb.T)
    LL = B.matmul(B.exact(L), B.exact(np.ascontiguousarray(L.T)))
    E = B.sub(B.sub(B.exact(lam * np.eye(n)), G), LL)
    off = np.where(np.eye(n, dtype=bool), 0.0, B.upper(B.Ball(np.abs(E.mid), E.rad)))
    R = B.upper(B.sum(B.from_bounds(off, off), 1))
    B.charge(n)
    return bool(np.all(B.lower(E)[np.arange(n), np.arange(n)] >= R))


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> RowSpread:
    a, bb, lam, L = _operands(cites, args)
    ok = certified(bb, lam, L)
    require(ok, Reason.LEMMA_FAILED, f"spectral: lambda = {lam:.6g} is not certified by 'chol'")
    s = B.from_arb([(2 * arb(lam)).sqrt()], (1,))  # contains sqrt(2 lambda)
    rho = B.upper(B.mul(_norms(a, 1), s))
    return RowSpread(product(cites["a"].meaning, cites["b"].meaning, args["transpose_b"]), rho)
