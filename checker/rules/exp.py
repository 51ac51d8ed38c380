"""Rule ``exp``: exponentiated, row-shifted attention scores, in arb.

Cites ``scores`` (a Tensor [rows, cols]).  Result: Tensor with meaning ``rowexp(S)``
enclosing exp((S[r, j] - s_r) / sqrt(d_head)) with s_r the largest midpoint of row r.

**Lemma (shifted softmax).**  For any constants s_r, softmax_j(S[r, j] / sqrt(e)) =
g[r, j] / sum_j' g[r, j'] with g[r, j] = exp((S[r, j] - s_r) / sqrt(e)) > 0: the factor
exp(-s_r / sqrt(e)) cancels.  With additive scores (token part + position part) the weight
of position p is g[q, x_p] f[q, p] / sum_p' g[q, x_p'] f[q, p'], each factor > 0, so signs of
scaled margins never need a division.  The subtraction is a ball operation; 1/sqrt(e) and exp
are evaluated in arb at 128 bits (balls.exp_scaled), never with numpy's exp.
NB: the shift is chosen by the kernel (the row's largest midpoint) and is not a hint; any
shift is sound, this one keeps exps <= about 1.  An exact score far above the shift gives
an unknown ball (sound, useless).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import Tensor, rowexp
from checker.model import Model

NAME = "exp"
LEMMA = "softmax = row-shifted exps over their sum; exps in arb (shift cancels)"
CITES: dict[str, Any] = {"scores": Tensor}
ARGS: dict[str, Any] = {}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    s = cites["scores"].ball
    require(len(s.shape) == 2, Reason.LEMMA_FAILED, "exp: scores must be a matrix")
    return int(64 * s.mid.size)  # arb work per entry


def table(score: B.Ball, e: int) -> B.Ball:
    """Return balls containing exp((score - shift_row) / sqrt(e)), shift_row = max midpoint."""
    shift = np.max(score.mid, axis=-1, keepdims=True) if score.mid.size else score.mid
    return B.exp_scaled(B.sub(score, B.exact(np.broadcast_to(shift, score.shape))), e)


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Tensor:
    s = cites["scores"]
    return Tensor(rowexp(s.meaning), table(s.ball, model.e))
