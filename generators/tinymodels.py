"""Random and adversarial tiny models (named families) for the differential audit (DESIGN.md §7).

Untrusted helpers shared by the tests and `mechproof audit`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

STYLES = (
    "random",
    "trained-like",
    "near-tie",
    "huge",
    "tiny",
    "biased",
    "zero",
    "trained",
    "trained-biased",
)


def make_weights(
    rng: np.random.Generator, v: int, k: int, d: int, h: int, e: int, style: str
) -> dict[str, np.ndarray]:
    """Return TL-named float64 weights of the given style."""
    if style.startswith("trained") and style != "trained-like":
        return _trained(rng, v, k, d, h, e, style)
    s = {"huge": 2.0**40, "tiny": 2.0**-60}.get(style, 1.0)

    def n(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape) * s

    w = {
        "embed.W_E": n(v, d),
        "pos_embed.W_pos": n(k, d),
        "blocks.0.attn.W_Q": n(h, d, e),
        "blocks.0.attn.W_K": n(h, d, e),
        "blocks.0.attn.W_V": n(h, d, e),
        "blocks.0.attn.W_O": n(h, e, d),
        "unembed.W_U": n(d, v),
    }
    if style == "trained-like":  # a model that roughly solves Max-of-K: logit grows with token
        w["embed.W_E"][:, 0] = np.arange(v) * 2.0
        w["unembed.W_U"][0] = np.arange(v) * 1.5
    if style == "near-tie":  # duplicate unembedding columns: exact ties between logits
        w["unembed.W_U"][:, 1] = w["unembed.W_U"][:, 0]
        w["embed.W_E"][2 % v] = w["embed.W_E"][1] * (1 + 2.0**-50)
    if style == "zero":  # every logit ties
        w = {key: np.zeros_like(a) for key, a in w.items()}
    if style in ("biased", "near-tie"):
        w["blocks.0.attn.b_Q"] = n(h, e)
        w["blocks.0.attn.b_K"] = n(h, e)
        w["blocks.0.attn.b_V"] = n(h, e)
        w["blocks.0.attn.b_O"] = n(d)
        w["unembed.b_U"] = n(v)
    return w


def _trained(
    rng: np.random.Generator, v: int, k: int, d: int, h: int, e: int, style: str
) -> dict[str, np.ndarray]:
    """A really trained model (short run), so that the structured proofs have work to do;
    ``trained-biased`` adds random nonzero biases afterwards (the proofs must stay sound)."""
    from generators.train import Recipe, train

    d = max(d, 4)
    params, _ = train(
        Recipe(v=v, k=k, d_model=d, heads=h, d_head=e, steps=400, lr=3e-3),
        seed=int(rng.integers(1 << 30)),
        quiet=True,
    )
    w = {key: np.array(a, dtype=np.float64) for key, a in params.to_dict().items()}
    if style == "trained-biased":
        for key in list(w):
            if ".b_" in key:
                w[key] = rng.standard_normal(w[key].shape) * 0.3
    return w


def write_model(path: Path, weights: dict[str, np.ndarray], dtype: str = "float64") -> Path:
    save_file(
        {key: np.ascontiguousarray(a, dtype=dtype) for key, a in weights.items()},
        str(path),
        metadata={"task": "max-of-k"},
    )
    return path


def random_model(
    tmp: Path, seed: int, style: str | None = None, name: str = "m"
) -> tuple[Path, dict]:
    """Write a random tiny model (v 3-8, k 2-4, d 2-8) and return (path, its parameters)."""
    rng = np.random.default_rng(seed)
    v = int(rng.integers(3, 9))
    k = int(rng.integers(2, 5))
    while v**k > 4096:
        v -= 1
    d = int(rng.integers(2, 9))
    h = int(rng.choice([1, 1, 2]))
    e = int(rng.integers(1, 5))
    style = style or str(rng.choice(STYLES))
    w = make_weights(rng, v, k, d, h, e, style)
    dtype = "float32" if rng.random() < 0.5 and style not in ("tiny",) else "float64"
    p = write_model(tmp / f"{name}-{seed}.safetensors", w, dtype)
    return p, {"v": v, "k": k, "d": d, "h": h, "e": e, "style": style, "dtype": dtype}
