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


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny one-head model with biases (v=4, k=3, d=3, e=2): rule-level precondition tests."""
    import numpy as np

    from generators.tinymodels import make_weights, write_model

    w = make_weights(np.random.default_rng(11), 4, 3, 3, 1, 2, "biased")
    return write_model(tmp_path_factory.mktemp("tiny") / "tiny.safetensors", w)


@pytest.fixture(scope="session")
def tiny2_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny two-head model (v=4, k=3, d=4, e=2)."""
    import numpy as np

    from generators.tinymodels import make_weights, write_model

    w = make_weights(np.random.default_rng(12), 4, 3, 4, 2, 2, "trained-like")
    return write_model(tmp_path_factory.mktemp("tiny2") / "tiny2.safetensors", w)
