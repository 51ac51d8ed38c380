"""Brute force: enumerate every input (any number of heads, biases).

Complexity: O(v^k k) per model on the fast path (one head), O(v^(k+1) k h) on the exact
path.  Postcondition: bound = exact accuracy whenever no input is undecided.
The claimed per-query counts are computed with the kernel's own evaluation (checker.brute):
the generator's job here is only to lay out the trace.
"""

from __future__ import annotations

from fractions import Fraction

from checker import Model, brute
from checker.tables import path_tables
from generators.strategies import Progress, Proof


def prove(model: Model, progress: Progress | None = None) -> Proof:
    T = path_tables(model)
    steps = [{"id": "tables", "rule": "path-tables", "args": {}, "claim": {}}]
    proven = 0
    undecided = 0
    for q in range(model.v):

        def tick(n: int) -> None:
            if progress is not None:
                progress("prove brute-force", n, model.total)

        c, _, u, _ = brute.decide_query(T, q, tick)
        proven += c
        undecided += u
        steps.append(
            {
                "id": f"q{q}",
                "rule": "enumerate",
                "args": {"tables": "tables", "query": q},
                "claim": {"correct": c},
            }
        )
    return Proof(
        strategy="brute-force",
        bound=Fraction(proven, model.total),
        steps=steps,
        notes={"undecided": undecided},
    )
