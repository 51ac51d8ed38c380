"""Differential soundness harness (DESIGN.md §7): certified bound <= exact accuracy, always.

Random and adversarial tiny models (v 3-8, k 2-4, d 2-8, 1-2 heads, biases, near-ties,
huge and tiny magnitudes, all-zero weights) are decided by the slow arb reference
(tests/reference.py), independently of the kernel's path tables and ball layer.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from prove_util import prove_to
from reference import reference_counts

from checker import kernel, load_model
from generators.strategies import REGISTRY, UnsupportedModel
from generators.tinymodels import STYLES, random_model

FAST_SEEDS = range(12)
SLOW_SEEDS = range(12, 60)


def _differential(tmp_path, seed, style=None):
    path, info = random_model(tmp_path, seed, style)
    model = load_model(path)
    rc, ri, ru = reference_counts(model)
    total = model.total
    upper = Fraction(rc + ru, total)  # exact accuracy is at most this
    kc, ki, ku, _ = kernel.exact_accuracy(model)
    assert kc + ki + ku == total
    assert kc <= rc + ru and ki <= ri + ru, (info, (kc, ki, ku), (rc, ri, ru))
    if ru == 0 and info["style"] in ("random", "trained-like", "biased"):
        assert (kc, ki) == (rc, ri), (info, (kc, ki, ku), (rc, ri, ru))
    for name in REGISTRY:
        try:
            cert = prove_to(path, name, tmp_path / f"{name}.cert")
        except UnsupportedModel:
            assert model.h > 1
            continue
        verdict = kernel.check(cert, path)
        bound = Fraction(int(verdict.bound.p), int(verdict.bound.q))
        assert bound <= upper, (name, info, bound, upper)
        if name == "brute-force":
            assert verdict.proven == kc


def test_every_registered_strategy_is_exercised():
    """The harness loops over generators.strategies.REGISTRY: brute force and the five
    cubic-family configs at least (a new config is tested without touching this file)."""
    assert {
        "brute-force",
        "cubic",
        "cubic-positional",
        "cubic-paired",
        "cubic-positional-split",
        "cubic-paired-split",
    } <= set(REGISTRY)


@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_differential_fast(tmp_path, seed):
    _differential(tmp_path, seed)


@pytest.mark.parametrize("style", STYLES)
def test_differential_each_style(tmp_path, style):
    _differential(tmp_path, 1000 + STYLES.index(style), style)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_differential_slow(tmp_path, seed):
    _differential(tmp_path, seed)
