from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture(scope="session")
def small_trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small trained model (v=8, k=3) shared by the end-to-end tests."""
    from generators.model import save_model
    from generators.train import Recipe, train

    params, _ = train(Recipe(v=8, k=3, d_model=8, d_head=8, steps=600), seed=3, quiet=True)
    path = tmp_path_factory.mktemp("models") / "small.safetensors"
    save_model(path, params, {"seed": "3"})
    return path
