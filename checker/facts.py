"""The kernel's vocabulary: the closed set of result types a step can produce.

Every step of a certificate applies one rule and produces exactly one of these.  Each type
states what the kernel has proved about the model (its *meaning*); a rule that consumes a
result checks its type (the loop) and, for tensors, its meaning (the rule), so a certificate
cannot pass one quantity off as another.  Only :class:`Count` adds to the proven total, and
only through the loop's disjointness check (one count per query token).

Meanings of tensors are terms over the model's factor tensors (rule ``factor``): a factor
name such as ``EQ[0]``, a product ``A @ B`` or ``A @ B^T`` (rule ``matmul``), or ``rowexp(S)``
(rule ``exp``).  The path tables of DESIGN.md §4 are products of factors, named below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from checker.balls import Ball

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Tensor:
    """``ball`` contains, elementwise, the exact real tensor named by ``meaning``."""

    meaning: str
    ball: Ball


@dataclass(frozen=True)
class ValueBound:
    """Query-independent value bound, indexed [m, p, t]: for every max token m, position p,
    token t and wrong token y != m, the real numbers in ``ball[m, p, t]`` are all
    <= Ev(t, y) + Pv(p, y) = (EVOU[t, m] - EVOU[t, y]) + (PVOU[p, m] - PVOU[p, y])."""

    ball: Ball


@dataclass(frozen=True)
class MarginBound:
    """Per-query margin bound, indexed [m, p, t]: for query ``query`` and every y != m, the
    reals in ``ball[m, p, t]`` are all <= D_y + Ev(t, y) + Pv(p, y), D_y = EUPU[q, m] -
    EUPU[q, y] (one head)."""

    query: int
    ball: Ball


@dataclass(frozen=True)
class Count:
    """``correct`` inputs with last token ``query`` are proven correct (``incorrect`` /
    ``undecided`` are informational: the rule found them certainly wrong / not decided)."""

    query: int
    correct: int
    incorrect: int = 0
    undecided: int = 0


@dataclass(frozen=True)
class RowSpread:
    """For the exact real matrix M named by ``of``: rho[r] >= max_i M[r, i] - min_j M[r, j]
    for every row r (floats, exact upper bounds; +inf when unknown)."""

    of: str
    rho: F64


@dataclass(frozen=True)
class ScoreGap:
    """Attention score gaps of head 0 with gap hint ``gap`` [v(q), v(m)] (ints >= 1): for every
    q, m and every token t <= m - gap[q, m], EQKE[q, m] - EQKE[q, t] >= delta[q, m] (floats,
    exact lower bounds; -inf when unknown; unscaled, i.e. before the 1/sqrt(d_head)); ``near``
    bounds the gaps to the G tokens just below m one by one (0 where m - 1 - i < 0)."""

    gap: I64
    delta: F64
    near: F64  # [v, v, G], G = max gap: near[q, m, i] <= EQKE[q, m] - EQKE[q, m - 1 - i]


@dataclass(frozen=True)
class WrongValues:
    """Query-independent wrong-value bounds of head 0, O[p, t, y] = EVOU[t, y] + PVOU[p, y]:
    for every max m, position p and y != m,  O[p, m, y] - O[p, m, m] <= A[m, y], and for every
    token t <= j, O[p, t, y] - O[p, t, m] <= Bbar[m, j]; Amax[m] = max_{y != m} A[m, y]
    (floats, exact upper bounds)."""

    A: F64
    Amax: F64
    Bbar: F64
    Bt: F64  # [m, t]: O[p, t, y] - O[p, t, m] <= Bt[m, t] for every p, y != m


@dataclass(frozen=True)
class Hint:
    """A numeric hint array read from the certificate (kinds 'f8' / 'i8'), with its name."""

    name: str
    array: npt.NDArray[Any]


Result = Tensor | ValueBound | MarginBound | Count | RowSpread | ScoreGap | WrongValues


def product(a: str, b: str, transpose_b: bool) -> str:
    """The meaning of the product of tensors meaning ``a`` and ``b`` (``b`` transposed): each
    compound operand in parentheses (unless it already is one parenthesised term), so a
    meaning names exactly one product tree."""

    def atom(m: str) -> str:
        depth = 0
        for i, c in enumerate(m):
            depth += (c == "(") - (c == ")")
            if depth == 0 and i < len(m) - 1 and " " in m:
                return f"({m})"
        return m

    return f"{atom(a)} @ {atom(b)}" + ("^T" if transpose_b else "")


def eqke(h: int) -> str:
    """EQKE_h = E_q W_Q W_K^T W_E^T (token part of the attention score) [v(q), v(t)]."""
    return f"EQ[{h}] @ EK[{h}]^T"


def eqkp(h: int) -> str:
    """EQKP_h = E_q W_Q (W_pos W_K + b_K)^T (position part of the score) [v(q), k(p)]."""
    return f"EQ[{h}] @ PK[{h}]^T"


def evou(h: int) -> str:
    """EVOU_h = W_E W_V W_O W_U (token part of the value) [v(t), v(y)]."""
    return f"EV[{h}] @ OU[{h}]"


def pvou(h: int) -> str:
    """PVOU_h = (W_pos W_V + b_V) W_O W_U (position part of the value) [k(p), v(y)]."""
    return f"PV[{h}] @ OU[{h}]"


EUPU = "EU"  # direct path E_q W_U + b_O W_U + b_U  [v(q), v(y)]


def rowexp(meaning: str) -> str:
    """exp((S[q, j] - s_q) / sqrt(d_head)) for a constant s_q per row q (rule ``exp``)."""
    return f"rowexp({meaning})"


SAME = {"E[0] @ U[0]": EUPU}  # products of factors that are a path table exactly (rule factor)
