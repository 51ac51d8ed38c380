"""Reported measures of a verified proof that are not part of the theorem.

``compression`` (DESIGN §5) = brute-force length / this proof's length, where the
brute-force length is what the kernel's meter counts for the brute-force trace of a model
of this shape (generators.strategies.brute_force) when every input passes the one-head
sufficient test; a test compares this formula with the meter.
"""

from __future__ import annotations

from checker import Model


def brute_force_length(model: Model) -> int:
    """The meter's count for the brute-force trace (generators.strategies.brute_force) of a
    one-head model of this shape when every input passes the sufficient test: the reference
    of ``compression`` (tests compare it with the meter).  Several heads: the same tables and
    reads, inputs counted at k ops each (a lower bound of that trace's length)."""
    v, k, d, e, h = model.v, model.k, model.d, model.e, model.h
    eu = v * d + v * v * (2 * d - 1) + v * (2 * d - 1) + v + v * v + 2
    head = (
        v * d
        + 3 * v * e * (2 * d - 1)
        + v * e
        + 2 * k * e * (2 * d - 1)
        + 2 * k * e
        + e * v * (2 * d - 1)
        + 2 * (v * v + k * v) * (2 * e - 1)
        + 3 * (v * v + v * k)
        + 6 * 2
        + 4 * 3
        + 2 * 1
    )
    fast = k * v + 2 * k * v * v + v * k * v * v + (v - 2) * v * v * k + v * k * v
    reads = v * (3 + 4 * h) + 1
    return int(eu + h * head + (v * fast if h == 1 else 0) + v**k * k + reads)


def compression(model: Model, ops: int) -> float:
    """Brute-force length / ``ops``."""
    return brute_force_length(model) / ops
