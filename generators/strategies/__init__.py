"""Proof strategies: each turns a model into a certificate (untrusted; the kernel re-checks).

A strategy is a function ``(model: checker.Model, progress) -> Proof``; ``STRATEGIES`` is the
explicit registry used by ``mechproof strategies`` and ``mechproof prove``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from checker import Model


@dataclass
class Proof:
    """What a strategy produces: the steps and arrays of a certificate and its claimed bound."""

    strategy: str
    bound: Fraction
    steps: list[dict[str, Any]]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def write(self, path: str | Path, model_sha256: str) -> int:
        """Write this proof as a certificate bound to ``model_sha256``; return its size."""
        from certificates.writer import write

        return write(
            path,
            model_sha256=model_sha256,
            strategy=self.strategy,
            bound=self.bound,
            steps=self.steps,
            arrays=self.arrays,
        )


Progress = Callable[[str, int, int], None]
Strategy = Callable[[Model, "Progress | None"], Proof]


def _registry() -> dict[str, tuple[Strategy, str]]:
    from generators.strategies import brute_force, cubic

    return {
        "brute-force": (brute_force.prove, "every input, exact tables, ball arithmetic"),
        **{name: (fn, doc) for name, (fn, doc) in cubic.VARIANTS.items()},
    }


STRATEGIES = _registry
