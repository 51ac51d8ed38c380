"""The cubic family (paper §4.3.1, rebuilt division-free; lemmas in checker/cases.py).

For each query q the generator chooses, for every (max m, non-max count c), the token set
G(q, m, c) of non-max tokens it claims are safe, and writes one ``position-cases`` step.
Search (untrusted, uncounted): take every t < m whose *pure* case (all c non-max positions
hold t) has a positive estimated bound, then ask the kernel's own bound for the mixture and
drop the weakest token until the case is proven or G is empty.

Variants (the hint ``values``): ``cubic`` = the paper's pessimisation (direct path
minimised over y on its own; each token's value paired with the positional value
pessimised over positions); ``cubic-positional`` keeps the positional value per position
(still O(v^3 k^2)); ``cubic-paired`` also pairs the direct path with each wrong logit y
(O(v^4 k) table, tightest).

Complexity: O(v^3 k^2) per model (``paired``: O(v^4 k)).  Precondition: one head.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from checker import Model, cases
from checker import balls as B
from checker.tables import path_tables
from generators.strategies import Progress, Proof


class UnsupportedModel(ValueError):
    """The strategy does not apply to this model (e.g. several heads)."""


def choose_sets(tau: B.Ball, q: int) -> np.ndarray:
    """Return G as booleans [m, c, t]: the tokens whose mixtures the kernel will prove safe."""
    v, k = tau.shape[0], tau.shape[1]
    valid = cases.valid_cases(v, k, q)
    ms = np.arange(v)
    lo = B.lower(tau)
    hi_mm = B.upper(tau)[ms, :, ms]  # [m, p]
    base = B.lower(tau)[ms, :, ms][:, : k - 1].sum(axis=1) + lo[:, k - 1, q]
    d = np.sort(lo[:, : k - 1, :] - hi_mm[:, : k - 1, None], axis=1)  # [m, p, t] ascending in p
    csum = np.concatenate([np.zeros((v, 1, v)), np.cumsum(d, axis=1)], axis=1)  # [m, c, t]
    pure = base[:, None, None] + csum  # [m, c, t]
    allowed = valid[:, :, None] & (np.arange(v)[None, None, :] < ms[:, None, None])
    sets = allowed & (pure > 0)
    # Ask the kernel's bound; drop the weakest token from each failing case until it passes.
    for _ in range(v):
        ok = B.positive(cases.case_bounds(tau, q, sets))
        bad = valid & ~ok & sets.any(axis=2)
        bad[:, 0] = False
        if not bad.any():
            break
        score = np.where(sets, pure, np.inf)
        worst = score.argmin(axis=2)
        mi, ci = np.nonzero(bad)
        sets[mi, ci, worst[mi, ci]] = False
    return sets


def choose_split(tau: B.Ball, q: int, sets: np.ndarray) -> np.ndarray:
    """Return the split hint [m, c, t]: outlier tokens t (not in G, t < m, c >= 1) whose
    single occurrence among otherwise-G non-max tokens the kernel proves safe."""
    v, k = tau.shape[0], tau.shape[1]
    valid = cases.valid_cases(v, k, q)
    ms = np.arange(v)
    cand = valid[:, :, None] & (np.arange(v)[None, None, :] < ms[:, None, None]) & ~sets
    cand[:, 0] = False
    ok = B.positive(cases.split_bounds(tau, q, sets))
    return cand & ok


def _prove(
    model: Model,
    variant: cases.Variant,
    name: str,
    progress: Progress | None,
    split: bool = False,
) -> Proof:
    if model.h != 1:
        raise UnsupportedModel(
            f"strategy {name} needs a one-head model; this model has {model.h} heads "
            "(use brute-force)"
        )
    T = path_tables(model)
    steps: list[dict] = [{"id": "tables", "rule": "path-tables", "args": {}, "claim": {}}]
    arrays: dict[str, np.ndarray] = {}
    proven = 0
    parts, _ = cases.value_parts(T, variant)
    for q in range(model.v):
        tau, _ = cases.tau_table(T, q, variant, parts)
        sets = choose_sets(tau, q)
        hint = choose_split(tau, q, sets) if split else None
        count, _, _ = cases.count_query(T, q, variant, parts, sets, f"q{q}", hint)
        arrays[f"G{q}"] = np.packbits(sets, axis=2)
        args = {"tables": "tables", "query": q, "values": variant, "sets": f"G{q}"}
        if hint is not None:
            arrays[f"S{q}"] = np.packbits(hint, axis=2)
            args["split"] = f"S{q}"
        steps.append(
            {
                "id": f"q{q}",
                "rule": "position-cases",
                "args": args,
                "claim": {"correct": count},
            }
        )
        proven += count
        if progress is not None:
            progress(f"prove {name}", 1, model.v)
    return Proof(strategy=name, bound=Fraction(proven, model.total), steps=steps, arrays=arrays)


def _make(variant: cases.Variant, name: str, split: bool = False):
    def prove(model: Model, progress: Progress | None = None) -> Proof:
        return _prove(model, variant, name, progress, split)

    return prove


VARIANTS = {
    "cubic": (_make("paper", "cubic"), "the paper's cubic proof (pessimal ablation)"),
    "cubic-positional": (
        _make("positional", "cubic-positional"),
        "cubic, positional value kept per position",
    ),
    "cubic-paired": (
        _make("paired", "cubic-paired"),
        "cubic, each wrong logit paired with its own token and position (O(v^4 k))",
    ),
    "cubic-positional-split": (
        _make("positional", "cubic-positional-split", split=True),
        "cubic-positional plus cases with one outlier token outside the proven set",
    ),
    "cubic-paired-split": (
        _make("paired", "cubic-paired-split", split=True),
        "cubic-paired plus cases with one outlier token outside the proven set",
    ),
}
