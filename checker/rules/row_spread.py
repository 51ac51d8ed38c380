"""Rule ``row-spread``: the exact row spread of a tensor already formed.

Cites ``m`` (a Tensor M [r, c]).  Result: RowSpread of M's meaning with rho[r] the upper end
of max_i M[r, i] - min_j M[r, j].

**Lemma (pessimal max/min).**  For reals in their balls, max_i x_i <= max_i (mid + rad) and
min_j x_j >= min_j (mid - rad) (balls.max / balls.min), so the spread is at most the upper
end of the ball difference.  (The paper's "exact" residual bound: the residual product is
formed by ``matmul`` first, at O(r n c).)
"""

from __future__ import annotations

from typing import Any

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import RowSpread, Tensor
from checker.model import Model

NAME = "row-spread"
LEMMA = "rho[r] >= max_i M[r, i] - min_j M[r, j] (pessimal max and min of balls)"
CITES: dict[str, Any] = {"m": Tensor}
ARGS: dict[str, Any] = {}
CLAIM: set[str] = set()


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    m = cites["m"].ball
    require(len(m.shape) == 2 and m.shape[1] > 0, Reason.LEMMA_FAILED, "row-spread: needs a matrix")
    return 3 * int(m.mid.size)


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> RowSpread:
    m = cites["m"]
    return RowSpread(m.meaning, B.upper(B.sub(B.max(m.ball, 1), B.min(m.ball, 1))))
