"""``mechproof explain CERT [--model MODEL]``: a certificate's trace as a readable proof outline.

Without the model: each step's rule, the lemma it applies (one line, from the kernel's rule
module), what it cites and its hints.  With the model: the kernel replays the trace
(checker.kernel.replay) and each step also shows its cost (the same meter as ``check``) and
what it concluded; per-rule totals match ``check --json``'s ``ops_by_rule``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from checker import balls as B
from checker.cert import Certificate
from checker.facts import Count, Tensor
from checker.kernel import StepReport, breakdown
from checker.rules import RULES


def conclusion(rep: StepReport) -> str:
    """One line saying what a replayed step concluded."""
    res = rep.result
    if isinstance(res, Count):
        return f"query {res.query}: {res.correct} inputs proven correct"
    what = res.meaning if isinstance(res, Tensor) else type(res).__name__
    lo, hi = B.lower(res.ball), B.upper(res.ball)
    rng = f" within [{lo.min():.4g}, {hi.max():.4g}]" if lo.size else ""
    return f"{what} {list(res.ball.shape)}{rng}"


def _hints(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items()) or "-"


def outline(cert: Certificate, reports: list[StepReport] | None = None) -> Iterator[str]:
    """Yield the lines of the outline; ``reports`` (from a replay) adds costs and results."""
    yield f"certificate: strategy {cert.strategy}, task {cert.task}, semantics {cert.semantics}"
    yield f"claims: accuracy >= {cert.bound} for model {cert.model_sha256}"
    yield f"trace: {len(cert.steps)} steps"
    by_id = {r.id: r for r in reports or []}
    for step in cert.steps:
        rule = RULES.get(step.rule)
        lemma = rule.LEMMA if rule is not None else "(no such kernel rule)"
        cites = [c for v in step.cite.values() for c in (v if isinstance(v, list) else [v])]
        yield f"{step.index + 1:>5}. [{step.id}] {step.rule}: {lemma}"
        yield f"       cites {', '.join(map(str, cites)) or '-'}; hints {_hints(step.args)}"
        rep = by_id.get(step.id)
        if rep is not None:
            yield f"       cost {rep.ops:,} ops; concludes {conclusion(rep)}"
        if step.claim:
            yield f"       claims {_hints(step.claim)}"
    if reports is not None:
        yield "proof length by rule:"
        total = 0
        for name, row in breakdown(reports, cert.header_numbers).items():
            total += row["ops"]
            yield f"  {name:<10} {row['steps']:>6} steps {row['ops']:>16,} ops"
        yield f"  {'total':<10} {len(reports):>6} steps {total:>16,} ops"
