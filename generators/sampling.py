"""Sampled accuracy: decide a random sample of inputs with the kernel's exact per-input
formula (an estimate with a Wilson interval, not a theorem), and the Wilson interval itself
(one place for the CLI and the zoo builder)."""

from __future__ import annotations

import math

import numpy as np

from checker import Model
from checker.rules import enumerate as en
from generators.trace import Trace


def decide_inputs(model: Model, x: np.ndarray) -> tuple[int, int, int]:
    """Return (correct, incorrect, undecided) for input rows x [n, k], rigorously per input."""
    t = Trace(model)
    eu, heads = t.path_tables()
    cites = {"eupu": t.results[eu]}
    cites |= {r: [t.results[h[r]] for h in heads] for r in ("evou", "pvou", "g", "f")}
    T = en._tables(model, cites)
    c = i = 0
    for q in np.unique(x[:, -1]):
        cq, iq = en._decide_exact(T, int(q), x[x[:, -1] == q])
        c, i = c + cq, i + iq
    return c, i, x.shape[0] - c - i


def wilson95(correct: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval for a proportion correct / n."""
    p = correct / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)
