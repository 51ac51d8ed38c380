"""Rule ``factor``: one factor tensor of the path decomposition, from the model's weights.

Args: ``name`` (one of NAMES), ``head``.  Result: Tensor with meaning ``NAME[head]``
(``EU`` has no head index; its ``head`` must be 0).

  EQ[h] = (W_E + W_pos[k-1]) W_Q[h] + b_Q[h]           [v(q), e]   query side of the score
  EK[h] = W_E W_K[h]                                   [v(t), e]   key side, token part
  PK[h] = W_pos W_K[h] + b_K[h]                        [k(p), e]   key side, position part
  EV[h] = W_E W_V[h]                                   [v(t), e]   value, token part
  PV[h] = W_pos W_V[h] + b_V[h]                        [k(p), e]   value, position part
  OU[h] = W_O[h] W_U                                   [e, v(y)]   output to logits
  EU    = (W_E + W_pos[k-1]) W_U + b_O W_U + b_U       [v(q), v(y)] direct path
  E[0]  = [W_E + W_pos[k-1] | 1]                       [v(q), d+1] } E[0] @ U[0] = EU exactly
  U[0]  = [W_U ; b_O W_U + b_U]                        [d+1, v(y)] } (facts.SAME; no head)

**Lemma (exact path decomposition).**  For an input x with x_{k-1} = q the logits at the
last position are EU[q] + sum_h sum_p a^h_p (EV[h] OU[h])[x_p] + (PV[h] OU[h])[p]), where
a^h = softmax_p of ((EQ[h] EK[h]^T)[q, x_p] + (EQ[h] PK[h]^T)[q, p]) / sqrt(e).
Proof: the residual at p is W_E[x_p] + W_pos[p]; the score (E_q W_Q + b_Q).((W_E[x_p] +
W_pos[p]) W_K + b_K) splits bilinearly into a token and a position part (b_K joins the
position part); the value ((W_E[x_p] + W_pos[p]) W_V + b_V) W_O W_U splits likewise, b_V
joining the position part since sum_p a_p = 1; b_O W_U + b_U is added once.  Every product
here is a ball matmul, so the result encloses the exact real factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker import float32
from checker.errors import Reason, require
from checker.facts import Tensor
from checker.model import Model

NAME = "factor"
LEMMA = "a factor of the exact path decomposition, from the weights (ball matmul)"
NAMES = ("EQ", "EK", "PK", "EV", "PV", "OU", "EU", "E", "U")
CITES: dict[str, Any] = {}
ARGS: dict[str, Any] = {"name": NAMES, "head": "head"}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    f32 = float32.work(model) if args["name"] == "EU" and model.semantics != "real" else 0
    return (model.v + model.k + model.d) * model.d * (model.e + model.v) + f32


def _plus_row(a: B.Ball, row: Any) -> B.Ball:
    return B.add(a, B.exact(np.asarray(row)[None, :]))


def _cat(a: B.Ball, b: B.Ball, axis: int) -> B.Ball:
    """The balls of a and b side by side (exact: no arithmetic)."""
    return B.Ball(*(np.concatenate([x, y], axis) for x, y in ((a.mid, b.mid), (a.rad, b.rad))))


def make(model: Model, name: str, h: int) -> B.Ball:
    """Return the ball enclosure of factor ``name`` of head ``h`` (see the table above)."""
    X = B.exact
    if name == "EQ":
        E_q = _plus_row(X(model.W_E), model.W_pos[model.k - 1])
        return _plus_row(B.matmul(E_q, X(model.W_Q[h])), model.b_Q[h])
    if name in ("EK", "EV"):
        return B.matmul(X(model.W_E), X((model.W_K if name == "EK" else model.W_V)[h]))
    if name in ("PK", "PV"):
        W, b = (model.W_K, model.b_K) if name == "PK" else (model.W_V, model.b_V)
        return _plus_row(B.matmul(X(model.W_pos), X(W[h])), b[h])
    if name == "OU":
        return B.matmul(X(model.W_O[h]), X(model.W_U))
    E_q = _plus_row(X(model.W_E), model.W_pos[model.k - 1])
    if name == "E":
        return _cat(E_q, X(np.ones((model.v, 1))), 1)
    bias = B.add(B.matmul(X(model.b_O[None, :]), X(model.W_U)), X(model.b_U[None, :]))
    if name == "U":
        return _cat(X(model.W_U), bias, 0)
    return float32.widen(model, B.add(B.matmul(E_q, X(model.W_U)), bias))


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Tensor:
    name, h = args["name"], args["head"]
    one = name in ("EU", "E", "U")
    require(not one or h == 0, Reason.BAD_HINT, f"factor: {name} has no head; 'head' must be 0")
    unwidened = model.semantics != "real" and name in ("E", "U")  # E @ U = EU, not widened
    require(not unwidened, Reason.UNSUPPORTED, f"factor: {name} is refused under float32")
    return Tensor("EU" if name == "EU" else f"{name}[{h}]", make(model, name, h))
