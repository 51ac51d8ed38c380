"""Exact accuracy beyond K=4: generators.zoo.add_sharded_exact and the committed index."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from checker import kernel, load_model
from generators.tinymodels import make_weights, write_model
from generators.zoo import add_sharded_exact

ROOT = Path(__file__).resolve().parents[1]


def test_add_sharded_exact_fills_sampled_records(tmp_path: Path) -> None:
    w = make_weights(np.random.default_rng(9), 6, 3, 4, 1, 2, "trained-like")
    path = write_model(tmp_path / "m.safetensors", w)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    rec = {"path": "m.safetensors", "float64_eval": "sampled", "total": 6**3, "sha256": sha}
    big = {"path": "x", "float64_eval": "sampled", "total": 1 << 40, "sha256": "0"}
    saved: list[int] = []
    add_sharded_exact([rec, big], tmp_path, jobs=2, save=lambda: saved.append(1))
    c, i, u, n = kernel.exact_accuracy(load_model(path))
    assert (rec["exact_correct"], rec["exact_incorrect"], rec["exact_undecided"]) == (c, i, u)
    assert rec["exact_accuracy"] == f"{c}/{n}" and rec["exact_jobs"] == 2
    assert "exact_correct" not in big and saved == [1]


def test_the_index_has_exact_accuracy_for_k5() -> None:
    index = json.loads((ROOT / "zoo" / "index.json").read_text())
    k5 = [r for r in index if r["group"] == "k5"]
    assert len(k5) == 5
    for r in k5:
        assert r["total"] == 64**5
        assert r["exact_correct"] + r["exact_incorrect"] + r["exact_undecided"] == r["total"]
        assert r["exact_accuracy"] == f"{r['exact_correct']}/{r['total']}"
        assert r["exact_undecided"] == 0
