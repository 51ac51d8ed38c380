"""Rule ``matmul``: the product of two earlier tensors, in balls.

Cites ``a`` and ``b`` (Tensors); arg ``transpose_b``.  Result: Tensor with meaning
``A @ B`` or ``A @ B^T`` (A, B the cited meanings, parenthesised when compound, so a
meaning names one product tree), enclosing the exact product.

**Lemma (ball matrix product, Rump 1999; balls.matmul).**  If X is in a and Y in b
elementwise, XY lies in matmul(a, b) elementwise: |XY - A_m B_m| <= |A_m| B_r + A_r(|B_m| +
B_r), plus the float rounding of A_m B_m bounded by gamma_n |A_m||B_m| for any summation
order.  Transposition is exact.  NB: meanings are compared as strings by the rules that
consume them, so a product is only ever used as the table its meaning names.
"""

from __future__ import annotations

from typing import Any

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import Tensor, product
from checker.model import Model

NAME = "matmul"
LEMMA = "ball matrix product (Rump): X in a, Y in b => XY in a @ b"
CITES: dict[str, Any] = {"a": Tensor, "b": Tensor}
ARGS: dict[str, Any] = {"transpose_b": "bool"}
CLAIM: set[str] = set()


def _shapes(cites: dict[str, Any], args: dict[str, Any]) -> tuple[int, int, int, int]:
    a, b = cites["a"].ball, cites["b"].ball
    bb = b.T if args["transpose_b"] else b
    require(
        len(a.shape) == 2 and len(bb.shape) == 2 and a.shape[1] == bb.shape[0],
        Reason.LEMMA_FAILED,
        f"matmul: shapes {list(a.shape)} @ {list(bb.shape)} do not chain",
    )
    return a.shape[0], a.shape[1], bb.shape[1], len(cites["a"].meaning + cites["b"].meaning)


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    m, n, p, chars = _shapes(cites, args)
    require(chars <= 4096, Reason.UNSUPPORTED, "matmul: meaning too long")
    return m * n * p + m * p


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Tensor:
    a, b = cites["a"], cites["b"]
    bb = b.ball.T if args["transpose_b"] else b.ball
    return Tensor(product(a.meaning, b.meaning, args["transpose_b"]), B.matmul(a.ball, bb))
