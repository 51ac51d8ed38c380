"""Brute force: every input decided (any number of heads, biases).

Trace: the factors and path tables of every head (rules ``factor``, ``matmul``, ``exp``),
then one ``enumerate`` step per query token.  Complexity O(v^k k) per model on the one-head
fast path, O(v^(k+1) k h) on the exact path.  Postcondition: bound = exact accuracy
whenever no input is undecided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checker import Model
from checker.facts import Count
from generators.trace import Progress, Proof, Trace


@dataclass(frozen=True)
class BruteForce:
    family: str = "brute-force"
    doc: str = "every input, exact tables, ball arithmetic"

    @property
    def name(self) -> str:
        return "brute-force"

    def prove(
        self, model: Model, progress: Progress | None = None, pool: Any = None, path: str = ""
    ) -> Proof:
        """With ``pool``, the per-query counts come from the kernel's sharded replay of its
        own brute-force trace (workers read the model at ``path``)."""
        t = Trace(model, progress)
        eu, heads = t.path_tables()
        counts: dict[int, Count] = {}
        if pool is not None:
            from checker.kernel import _replay_all, brute_trace

            trace = brute_trace(model)
            reports = _replay_all(trace, model, (path, None), "brute", pool, progress, False)
            counts = {r.result.query: r.result for r in reports if isinstance(r.result, Count)}
        for q in range(model.v):
            t.enumerate(eu, heads, q, counts.get(q))
        return t.proof(self.name)
