"""Rule ``low-rank``: a ball enclosure of a product from a rank-r split, without forming it.

Cites ``a`` (Tensor A [rows, n]) and ``b`` (Tensor B [n, c], or B^T with ``transpose_b``);
args ``p``, ``q`` (f8 [n, r], 1 <= r <= n, hints found by search), ``diag`` (optional bool:
a square product's diagonal computed exactly, O(rows n)), ``residual`` (optional: ``cs``, the
default, or ``mrd``).  Result: Tensor with the
meaning of ``A @ B`` (the meaning ``matmul`` would give it; ``E[0] @ U[0]`` is ``EU``,
facts.SAME) enclosing AB, in O((rows + c) n r + rows c r) instead of O(rows n c): with r < n
no rows x c product through n.

**Lemma (rank-r split with a Cauchy-Schwarz residual).**  For any P, Q in R^{n x r} let
w = Q^T B, R_A = A - (A P) Q^T, R_B = B - P w and u = (A + R_A) P.  Then exactly
AB = u w + R_A R_B.  Proof: with Pi = P Q^T, AB = A Pi B + A (I - Pi) B; A (I - Pi) B =
A (I - Pi)(I - Pi) B + A (I - Pi) Pi B = R_A R_B + R_A P w; and A Pi B = A P w, so AB =
(A P + R_A P) w + R_A R_B.  Nothing is assumed of P, Q (no orthonormality): a poor hint only
makes R_A, R_B large.  By Cauchy-Schwarz |(R_A R_B)[i, j]| <= alpha_i beta_j with alpha_i =
||row i of R_A||_2, beta_j = ||column j of R_B||_2.  So AB[i, j] lies in the ball u w +/-
alpha_i beta_j.  Balls: every product is a ball product, alpha^2 and beta^2 are upper ends of
ball sums of ball squares, their square roots are taken in arb (balls.from_arb), so the
exact product lies in every entry's ball.  **Residual ``mrd``** (the paper's max-row-diff on
a subproduct, cross terms exact): (R_A R_B)[i, j] = sum_k R_A[i, k] R_B[k, j] lies in
[sum_k min(R_A[i, k] lo_k, R_A[i, k] hi_k), sum_k max(...)] with lo_k, hi_k the least and
largest entry of row k of R_B (a product is extreme at an end), O(rows n + n c).
With ``diag``, entry (i, i) is instead the ball dot product of row i of A and column i of B
(also an enclosure of the same real number).
NB: the hints enter only through R_A, R_B, u and w, which the kernel computes itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flint import arb

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import SAME, Tensor, product
from checker.model import Model

NAME = "low-rank"
LEMMA = "AB = u w + R_A R_B exactly (rank-r split), |(R_A R_B)_ij| <= |R_A,i| |R_B,j|"
CITES: dict[str, Any] = {"a": Tensor, "b": Tensor}
ARGS: dict[str, Any] = {"transpose_b": "bool", "p": "f8", "q": "f8", "diag?": "bool"}
ARGS |= {"residual?": ("cs", "mrd")}
CLAIM: set[str] = set()


def _operands(cites: dict[str, Any], args: dict[str, Any]) -> tuple[B.Ball, B.Ball, int]:
    a, bb = cites["a"].ball, (cites["b"].ball.T if args["transpose_b"] else cites["b"].ball)
    ok = len(a.shape) == 2 and len(bb.shape) == 2 and a.shape[1] == bb.shape[0]
    require(ok, Reason.LEMMA_FAILED, f"low-rank: shapes {list(a.shape)} @ {list(bb.shape)}")
    n, p, q = a.shape[1], args["p"].array, args["q"].array
    ok = p.ndim == 2 and p.shape == q.shape and p.shape[0] == n and 1 <= p.shape[1] <= n
    require(ok, Reason.BAD_HINT, "low-rank: p and q must be f8 [n, r] arrays, 1 <= r <= n")
    ok = not args.get("diag", False) or a.shape[0] == bb.shape[1]
    require(ok, Reason.LEMMA_FAILED, "low-rank: 'diag' needs a square product")
    return a, bb, p.shape[1]


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    a, bb, r = _operands(cites, args)
    chars = len(cites["a"].meaning + cites["b"].meaning)
    require(chars <= 4096, Reason.UNSUPPORTED, "low-rank: meaning too long")
    rows, n, c = a.shape[0], a.shape[1], bb.shape[1]
    return 8 * ((rows + c) * n * (r + 1) + rows * c * (r + 1))


def _norms(x: B.Ball, axis: int) -> B.Ball:
    """Balls containing the 2-norms of the rows (axis 1) or columns (axis 0) of any X in x."""
    sq = B.upper(B.sum(B.mul(x, x), axis))  # >= sum of squares
    B.charge(sq.size)  # one square root each
    return B.from_arb([arb(s).sqrt() for s in sq.tolist()], sq.shape)


def _range(ra: B.Ball, rb: B.Ball) -> B.Ball:
    """Balls [rows, c] containing R_A R_B from per-row ranges (residual ``mrd``)."""
    ends = [B.from_bounds(x, x)[None, :] for x in (B.lower(B.min(rb, 1)), B.upper(B.max(rb, 1)))]
    lo = np.minimum(*(B.lower(B.mul(ra, x)) for x in ends))
    hi = np.maximum(*(B.upper(B.mul(ra, x)) for x in ends))
    B.charge(2 * lo.size)
    lo, hi = B.lower(B.sum(B.from_bounds(lo, lo), 1)), B.upper(B.sum(B.from_bounds(hi, hi), 1))
    shape = (ra.shape[0], rb.shape[1])
    return B.from_bounds(np.broadcast_to(lo[:, None], shape), np.broadcast_to(hi[:, None], shape))


def enclose(a: B.Ball, bb: B.Ball, p: Any, q: Any, mode: str = "cs") -> B.Ball:
    """Return a ball containing A @ B for every A in a, B in bb (the lemma above)."""
    P, Qt = B.exact(p), B.exact(np.ascontiguousarray(q.T))
    w = B.matmul(Qt, bb)  # [r, c]
    ra = B.sub(a, B.matmul(B.matmul(a, P), Qt))  # [rows, n]
    rb = B.sub(bb, B.matmul(P, w))  # [n, c]
    u = B.matmul(B.add(a, ra), P)  # [rows, r]
    if mode == "mrd":
        return B.add(B.matmul(u, w), _range(ra, rb))
    rad = B.upper(B.mul(_norms(ra, 1)[:, None], _norms(rb, 0)[None, :]))
    return B.add(B.matmul(u, w), B.Ball(np.zeros_like(rad), rad))


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Tensor:
    a, bb, _ = _operands(cites, args)
    mean = product(cites["a"].meaning, cites["b"].meaning, args["transpose_b"])
    out = enclose(a, bb, args["p"].array, args["q"].array, args.get("residual", "cs"))
    if args.get("diag", False):
        dg, i = B.sum(B.mul(a, bb.T), 1), np.arange(a.shape[0])
        mid, rad = out.mid.copy(), out.rad.copy()
        mid[i, i], rad[i, i] = dg.mid, dg.rad
        out = B.Ball(mid, rad)
    return Tensor(SAME.get(mean, mean), out)
