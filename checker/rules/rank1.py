"""Rule ``rank1``: peel a rank-1 "size direction" off a factor, exactly.

Cites ``factor`` (a Tensor F [r, e]); args ``a`` and ``b`` (f8 arrays [e], hints found by
search).  Result: Tensor with meaning ``(F - (F @ <a>) <b>^T)`` (``<a>``, ``<b>``: the hint
arrays' names), enclosing R = F - (F a) b^T.

**Lemma (exact rank-1 split).**  For any vectors a, b: I = a b^T + (I - a b^T), so for any
matrix K,  F K^T = (F a)(K b)^T + R K^T  with R = F - (F a) b^T.  Nothing about a, b is
assumed (no normalisation, no projection): a poor direction only makes R large.  Applied to
F = EQ[0], K = EK[0]: EQKE = u w^T + R EK^T with u = EQ a, w = EK b (rule ``rank1-gap``).
Balls: u = ball product F a, then R = F - u b^T elementwise (balls.mul, balls.sub); the
exact matrix for the real F lies in every entry's ball.
NB: names of hint arrays are unique within a certificate, so the meaning binds their values.
"""

from __future__ import annotations

from typing import Any

from checker import balls as B
from checker.errors import Reason, require
from checker.facts import Tensor
from checker.model import Model

NAME = "rank1"
LEMMA = "F = (F a) b^T + R exactly, R = F - (F a) b^T, for any a, b"
CITES: dict[str, Any] = {"factor": Tensor}
ARGS: dict[str, Any] = {"a": "f8", "b": "f8"}
CLAIM: set[str] = set()


def meaning(f: str, a: str, b: str) -> str:
    """The meaning of the residual factor of ``f`` with hint arrays named ``a``, ``b``."""
    return f"({f} - ({f} @ <{a}>) <{b}>^T)"


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    f = cites["factor"].ball
    e = f.shape[-1] if len(f.shape) == 2 else -1
    ok = all(args[x].array.shape == (e,) for x in ("a", "b"))
    require(len(f.shape) == 2 and ok, Reason.BAD_HINT, "rank1: a and b must be f8 [e] arrays")
    require(len(cites["factor"].meaning) <= 1024, Reason.UNSUPPORTED, "rank1: meaning too long")
    return 4 * int(f.mid.size)


def residual(f: B.Ball, a: Any, b: Any) -> tuple[B.Ball, B.Ball]:
    """Return (u, R): balls for F a [r] and F - (F a) b^T [r, e]."""
    u = B.matmul(f, B.exact(a)[:, None])  # [r, 1]
    return u[:, 0], B.sub(f, B.mul(u, B.exact(b)[None, :]))


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Tensor:
    f, a, b = cites["factor"], args["a"], args["b"]
    return Tensor(meaning(f.meaning, a.name, b.name), residual(f.ball, a.array, b.array)[1])
