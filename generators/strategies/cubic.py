"""The cubic family (paper §4.3.1, rebuilt division-free), as compositions of kernel rules.

Trace: the factors and path tables of head 0; then, per variant,
  paper      (``cubic``):            value(positions=worst), then margin per query;
  positional (``cubic-positional``): value(positions=each), then margin per query;
  paired     (``cubic-paired``):     paired per query (O(v^3 k) each: O(v^4 k) in all);
then one ``cases`` step per query with the hinted token sets G(q, m, c) (and, for the
``-split`` variants, the outlier tokens).  Search: generators.search.cases.

Complexity: O(v^3 k^2) per model (paired: O(v^4 k)).  Precondition: one head.
"""

from __future__ import annotations

from dataclasses import dataclass

from checker import Model
from generators.search.cases import choose_sets, choose_split, tau_table
from generators.strategies import UnsupportedModel
from generators.trace import Progress, Proof, Trace

DOCS = {
    "paper": "the paper's cubic proof (pessimal ablation)",
    "positional": "cubic, positional value kept per position",
    "paired": "cubic, each wrong logit paired with its own token and position (O(v^4 k))",
}


@dataclass(frozen=True)
class Cubic:
    values: str = "paper"  # paper | positional | paired
    split: bool = False
    family: str = "cubic"

    @property
    def name(self) -> str:
        base = "cubic" if self.values == "paper" else f"cubic-{self.values}"
        return base + ("-split" if self.split else "")

    @property
    def doc(self) -> str:
        extra = " plus cases with one outlier token outside the proven set" if self.split else ""
        return DOCS[self.values] + extra

    def prove(self, model: Model, progress: Progress | None = None) -> Proof:
        if model.h != 1:
            raise UnsupportedModel(
                f"strategy {self.name} needs a one-head model; this model has {model.h} heads "
                "(use brute-force)"
            )
        t = Trace(model)
        eu, (head,) = t.path_tables(range(1))
        if self.values != "paired":
            val = t.value(head["evou"], head["pvou"], "worst" if self.values == "paper" else "each")
        g, f = t.results[head["g"]].ball, t.results[head["f"]].ball
        for q in range(model.v):
            if self.values == "paired":
                w = t.paired(eu, head["evou"], head["pvou"], q)
            else:
                w = t.margin(eu, val, q)
            tau = tau_table(t.results[w].ball, g[q], f[q])
            sets = choose_sets(tau, q)
            split = choose_split(tau, q, sets) if self.split else None
            t.cases(w, head["g"], head["f"], q, sets, split)
            if progress is not None:
                progress(f"prove {self.name}", 1, model.v)
        return t.proof(self.name)


CONFIGS = [
    Cubic("paper"),
    Cubic("positional"),
    Cubic("paired"),
    Cubic("positional", split=True),
    Cubic("paired", split=True),
]
