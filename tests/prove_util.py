"""Prove-and-write helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from certificates.writer import write
from checker import load_model
from generators.strategies import STRATEGIES


def prove_to(model_path: Path, strategy: str, out: Path) -> Path:
    m = load_model(model_path)
    proof = STRATEGIES()[strategy][0](m, None)
    write(
        out,
        model_sha256=m.sha256,
        strategy=proof.strategy,
        bound=proof.bound,
        steps=proof.steps,
        arrays=proof.arrays,
    )
    return out
