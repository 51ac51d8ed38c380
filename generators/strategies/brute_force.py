"""Brute force: every input decided (any number of heads, biases).

Trace: the factors and path tables of every head (rules ``factor``, ``matmul``, ``exp``),
then one ``enumerate`` step per query token.  Complexity O(v^k k) per model on the one-head
fast path, O(v^(k+1) k h) on the exact path.  Postcondition: bound = exact accuracy
whenever no input is undecided.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker import Model
from generators.trace import Progress, Proof, Trace


@dataclass(frozen=True)
class BruteForce:
    family: str = "brute-force"
    doc: str = "every input, exact tables, ball arithmetic"

    @property
    def name(self) -> str:
        return "brute-force"

    def prove(self, model: Model, progress: Progress | None = None) -> Proof:
        t = Trace(model, progress)
        eu, heads = t.path_tables()
        for q in range(model.v):
            t.enumerate(eu, heads, q)
        return t.proof(self.name)
