"""Rule ``max-row-diff``: the row spread of a product, without forming it.

Cites ``a`` and ``b`` (Tensors A [r, n], B [n, c], or B^T with ``transpose_b``).  Result:
RowSpread of ``A @ B`` (``A @ B^T``): rho[r] = sum_k |A[r, k]| (max_i B[k, i] - min_j B[k, j]),
in O(r n + n c) instead of the product's O(r n c).

**Lemma (max-row-diff, paper §4.3).**  (AB)[r, i] - (AB)[r, j] = sum_k A[r, k] (B[k, i] -
B[k, j]) <= sum_k |A[r, k]| (max_i' B[k, i'] - min_j' B[k, j']) for every i, j, since each
B[k, i] - B[k, j] lies in [-s_k, s_k] with s_k the spread of row k of B.  Balls: |x| <=
|mid| + rad; the spread is the upper end of (max - min) of balls (balls.max / balls.min); the
final sum is a ball product of the nonnegative upper ends, whose upper end is taken.
**Mode ``abs``** (the paper's "2 max |.|"): s_k <= 2 max_i |B[k, i]| replaces the spread of
row k (max - min <= 2 max |.|): looser, kept for the compounding comparison.
**Mode ``center``** (hint mu, f8 [n]; the paper's "mean + max-row-diff"): A_r = mu + (A_r -
mu) for any mu, so the difference is mu (B_i - B_j) + (A_r - mu)(B_i - B_j) <= (max - min of
the row mu^T B) + sum_k |A[r, k] - mu_k| s_k, O(n c) more.
NB: the split point of a longer product chain is chosen by which tensors the certificate
multiplies first (``matmul`` steps), not by this rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import RowSpread, Tensor, product
from checker.model import Model

NAME = "max-row-diff"
LEMMA = "max_i (AB)_ri - min_j (AB)_rj <= sum_k |A_rk| (max_i B_ki - min_j B_kj)"
CITES: dict[str, Any] = {"a": Tensor, "b": Tensor}
ARGS: dict[str, Any] = {"transpose_b": "bool", "abs?": "bool", "center?": "f8"}
CLAIM: set[str] = set()


def _operands(cites: dict[str, Any], args: dict[str, Any]) -> tuple[B.Ball, B.Ball, str]:
    a, b = cites["a"], cites["b"]
    bb = b.ball.T if args["transpose_b"] else b.ball
    require(
        len(a.ball.shape) == 2 and len(bb.shape) == 2 and a.ball.shape[1] == bb.shape[0],
        Reason.LEMMA_FAILED,
        f"max-row-diff: shapes {list(a.ball.shape)} @ {list(bb.shape)} do not chain",
    )
    require(bb.shape[1] > 0, Reason.LEMMA_FAILED, "max-row-diff: empty rows")
    mu = args["center"].array.shape if "center" in args else (bb.shape[0],)
    require(mu == (bb.shape[0],), Reason.BAD_HINT, "max-row-diff: 'center' must be f8 [n]")
    mean = product(a.meaning, b.meaning, args["transpose_b"])
    return a.ball, bb, mean


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    a, bb, mean = _operands(cites, args)
    require(len(mean) <= 4096, Reason.UNSUPPORTED, "max-row-diff: meaning too long")
    return 4 * (a.mid.size + bb.mid.size)


def spread(a: B.Ball, bb: B.Ball, two_max: bool = False) -> Any:
    """Return rho[r] >= max_i (XY)[r, i] - min_j (XY)[r, j] for all X in a, Y in bb."""
    s = B.upper(B.sub(B.max(bb, 1), B.min(bb, 1)))  # [n] spreads of the rows of B
    if two_max:  # max - min <= 2 max |.| (doubling a float is exact)
        s = 2 * B.upper(B.max(B.Ball(np.abs(bb.mid), bb.rad), 1))
    abs_a = B.upper(B.Ball(np.abs(a.mid), a.rad))  # >= |x| for x in a
    prod = B.matmul(B.from_bounds(abs_a, abs_a), B.from_bounds(s, s)[:, None])
    return B.upper(prod)[:, 0]


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> RowSpread:
    a, bb, mean = _operands(cites, args)
    if "center" not in args:
        return RowSpread(mean, spread(a, bb, bool(args.get("abs", False))))
    mu = B.exact(args["center"].array[None, :])
    row = B.matmul(mu, bb)  # [1, c]: the row mu^T B
    top = B.upper(B.sub(B.max(row, 1), B.min(row, 1)))  # [1]: its spread
    rest = spread(B.sub(a, mu), bb, bool(args.get("abs", False)))  # [r]
    return RowSpread(mean, B.upper(B.add(B.from_bounds(rest, rest), B.from_bounds(top, top))))
