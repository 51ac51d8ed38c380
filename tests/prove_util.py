"""Prove-and-write helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from checker import load_model
from generators.strategies import REGISTRY


def prove_to(model_path: Path, strategy: str, out: Path) -> Path:
    """Write ``strategy``'s certificate for the model to ``out`` (raises UnsupportedModel)."""
    m = load_model(model_path)
    REGISTRY[strategy].prove(m, None).write(out, m.sha256)
    return out
