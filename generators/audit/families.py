"""Named families of tiny models for the differential audit (DESIGN.md §7).

Each family is a function ``(rng) -> (weights, info)`` returning TransformerLens-named
float64 weights and a dict describing them.  Sizes: v 1-8, k 1-5, d 1-8, 1-3 heads, with
v^k kept at most :data:`MAX_INPUTS` so that the independent reference can enumerate every
input.  Deterministic given the generator's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from generators.liars import Head, table_weights
from generators.tinymodels import make_weights

MAX_INPUTS = 1024
Weights = dict[str, np.ndarray]
Family = Callable[[np.random.Generator], tuple[Weights, dict[str, Any]]]


def _sizes(rng: np.random.Generator, vmin: int = 2, hmax: int = 2) -> dict[str, int]:
    v = int(rng.integers(vmin, 9))
    k = int(rng.integers(1, 6))
    while v**k > MAX_INPUTS:
        k -= 1
    return {
        "v": v,
        "k": k,
        "d": int(rng.integers(1, 9)),
        "h": int(rng.integers(1, hmax + 1)),
        "e": int(rng.integers(1, 5)),
    }


def _styled(style: str, vmin: int = 2, hmax: int = 2) -> Family:
    def fam(rng: np.random.Generator) -> tuple[Weights, dict[str, Any]]:
        s = _sizes(rng, vmin, hmax)
        w = make_weights(rng, s["v"], s["k"], s["d"], s["h"], s["e"], style)
        return w, {**s, "style": style}

    return fam


def max_solver(rng: np.random.Generator) -> tuple[Weights, dict[str, Any]]:
    """Hand-built solvers: attention grows with the token by a random gap, the value copies
    the token, a direct path pulls toward the query; gaps and strengths are drawn near the
    point where the model starts to fail, so many margins are near ties (some exact)."""
    v = int(rng.integers(2, 7))
    k = int(rng.integers(1, 5))
    while v**k > MAX_INPUTS or v + k > 16:
        k -= 1
    gap = float(rng.choice([0.0, 0.25, 0.5, 1.0, 2.0, 4.0]))
    copy = float(rng.choice([1.0, 2.0, 4.0]))
    pull = float(rng.choice([0.0, 0.5, 1.0, 2.0, 3.0, 4.0]))  # direct path toward the query
    pos = [float(x) for x in rng.choice([0.0, 0.0, 0.5, -0.5], size=k)]
    head = Head(
        s=[gap * t for t in range(v)],
        r=pos,
        evou=(copy * np.eye(v)).tolist(),
        pvou=[[0.0] * v for _ in range(k)],
    )
    eupu = (pull * np.eye(v)).tolist()
    info = {"v": v, "k": k, "h": 1, "style": "max-solver", "gap": gap, "copy": copy, "pull": pull}
    return table_weights([head], eupu), info


def several_heads(rng: np.random.Generator) -> tuple[Weights, dict[str, Any]]:
    """Random or roughly max-solving weights with 2-3 heads."""
    s = _sizes(rng, 2, 3)
    s["h"] = int(rng.integers(2, 4))
    style = str(rng.choice(["random", "trained-like", "biased"]))
    return make_weights(rng, s["v"], s["k"], s["d"], s["h"], s["e"], style), {**s, "style": style}


def degenerate(rng: np.random.Generator) -> tuple[Weights, dict[str, Any]]:
    """Zeros, equal embedding rows, equal positional scores, v = 1 or k = 1."""
    kind = str(rng.choice(["zero", "equal-rows", "equal-positions", "v1", "k1", "one-dim"]))
    s = _sizes(rng)
    if kind == "v1":
        s["v"], s["k"] = 1, int(rng.integers(1, 6))
    if kind == "k1":
        s["k"] = 1
    if kind == "one-dim":
        s["d"] = s["e"] = 1
    w = make_weights(rng, s["v"], s["k"], s["d"], s["h"], s["e"], "random")
    if kind == "zero":
        w = {key: np.zeros_like(a) for key, a in w.items()}
    if kind == "equal-rows":
        w["embed.W_E"][:] = w["embed.W_E"][0]
    if kind == "equal-positions":
        w["pos_embed.W_pos"][:] = 0.0
    return w, {**s, "style": f"degenerate-{kind}"}


def magnitudes(rng: np.random.Generator) -> tuple[Weights, dict[str, Any]]:
    """Huge (2^40), tiny (2^-60), subnormal (2^-1040: every product underflows in float64)
    and mixed-scale weights."""
    kind = str(rng.choice(["huge", "tiny", "subnormal", "mixed"]))
    s = _sizes(rng)
    w = make_weights(rng, s["v"], s["k"], s["d"], s["h"], s["e"], "trained-like")
    if kind in ("huge", "tiny", "subnormal"):
        scale = {"huge": 2.0**40, "tiny": 2.0**-60, "subnormal": 2.0**-1040}[kind]
        w = {key: a * scale for key, a in w.items()}
    else:
        for key in w:
            w[key] = w[key] * 2.0 ** float(rng.integers(-30, 31))
    return w, {**s, "style": kind}


FAMILIES: dict[str, Family] = {
    "random": _styled("random"),
    "max-solver": max_solver,
    "near-tie": _styled("near-tie"),
    "magnitude": magnitudes,
    "biased": _styled("biased"),
    "several-heads": several_heads,
    "degenerate": degenerate,
    "trained": _styled("trained"),
}
