"""Prove-and-write helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from checker import load_model
from generators.strategies import STRATEGIES


def prove_to(model_path: Path, strategy: str, out: Path) -> Path:
    m = load_model(model_path)
    proof = STRATEGIES()[strategy][0](m, None)
    proof.write(out, m.sha256)
    return out
