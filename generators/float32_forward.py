"""The deployed model, as it runs: the TransformerLens forward pass in float32 (untrusted).

This is the *reality* the float32 theorem (docs/float32.md) speaks about, used for the
differential check: the accuracy the kernel proves under ``float32:U`` must never exceed the
accuracy of an actual float32 evaluation.  ``numpy`` evaluates every input exhaustively,
chunked, in the same steps as TransformerLens: residual = W_E[x] + W_pos; q, k, v with biases;
scores q.k divided by float32(sqrt(d_head)); softmax as max-subtract, exp, sum, divide;
z = sum_p a_p v_p; out = z W_O + b_O; residual add; logits = resid W_U + b_U.  Per-token
quantities (residuals, q, k, v, scores) are computed once per (token, position): a
TransformerLens run computes the same float32 values for every input that contains them.
``torch`` runs the same steps with torch on the CPU (or a GPU) when torch is installed.

A float32 evaluation counts an input correct iff the max token's logit is strictly above
every other (ties are wrong), as the theorem requires.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

Model = Any  # checker.Model, or :func:`load` (no kernel import: runs where flint is absent)

F32 = np.float32
CHUNK = 1 << 16  # inputs per block


def load(path: str | Path) -> SimpleNamespace:
    """The weights of a model file as float64 attributes (W_E ... b_U, v, k, d, e, h), read
    with the safetensors library (untrusted; for machines without the kernel's deps)."""
    from safetensors.numpy import load_file

    t = load_file(str(path))
    a = "blocks.0.attn."
    w = {"W_E": t["embed.W_E"], "W_pos": t["pos_embed.W_pos"], "W_U": t["unembed.W_U"]}
    w |= {n: t[a + n] for n in ("W_Q", "W_K", "W_V", "W_O")}
    h, d, e = w["W_Q"].shape
    zero = {"b_Q": (h, e), "b_K": (h, e), "b_V": (h, e), "b_O": (d,), "b_U": (w["W_U"].shape[1],)}
    for n, shape in zero.items():
        key = ("unembed." if n == "b_U" else a) + n
        w[n] = t[key] if key in t else np.zeros(shape, dtype=np.float32)
    out = {n: np.asarray(x, dtype=np.float64) for n, x in w.items()}
    v, k = out["W_E"].shape[0], out["W_pos"].shape[0]
    return SimpleNamespace(**out, v=v, k=k, d=d, e=e, h=h)


def _tables(model: Model) -> dict[str, np.ndarray]:
    """float32 per-(token, position) tables, every head: q [h, v, e] (last position),
    k, v [h, v, k, e], scores [h, v(q), v(t), k(p)]."""
    f = {n: getattr(model, n).astype(F32) for n in ("W_E", "W_pos", "W_Q", "W_K", "W_V")}
    f |= {n: getattr(model, n).astype(F32) for n in ("b_Q", "b_K", "b_V")}
    resid = f["W_E"][:, None, :] + f["W_pos"][None, :, :]  # [t, p, d] one rounding each
    scale = F32(np.sqrt(model.e))  # TransformerLens: attn_scale = sqrt(d_head), as float32
    q = np.einsum("td,hde->hte", resid[:, -1], f["W_Q"]) + f["b_Q"][:, None, :]
    k = np.einsum("tpd,hde->htpe", resid, f["W_K"]) + f["b_K"][:, None, None, :]
    v = np.einsum("tpd,hde->htpe", resid, f["W_V"]) + f["b_V"][:, None, None, :]
    s = np.einsum("hqe,htpe->hqtp", q, k) / scale
    return {"resid_q": resid[:, -1], "v": v, "scores": s}


def correct_numpy(
    model: Model, queries: range | None = None, tick: Callable[[int], None] | None = None
) -> tuple[int, int]:
    """Return (correct, total) of the float32 forward pass over every input (or those whose
    last token is in ``queries``)."""
    T = _tables(model)
    v, k = model.v, model.k
    W_O, b_O = model.W_O.astype(F32), model.b_O.astype(F32)
    W_U, b_U = model.W_U.astype(F32), model.b_U.astype(F32)
    n_prefix = v ** (k - 1)
    correct = total = 0
    pos = np.arange(k)
    for qt in queries if queries is not None else range(v):
        for start in range(0, n_prefix, CHUNK):
            idx = np.arange(start, min(n_prefix, start + CHUNK), dtype=np.int64)
            x = np.empty((idx.size, k), dtype=np.int64)
            for p in range(k - 2, -1, -1):
                x[:, p], idx = idx % v, idx // v
            x[:, k - 1] = qt
            z = []
            for h in range(model.h):
                s = T["scores"][h, qt][x, pos]  # [n, k]
                ex = np.exp(s - s.max(axis=1, keepdims=True))
                a = ex / ex.sum(axis=1, keepdims=True)
                z.append(np.einsum("np,npe->ne", a, T["v"][h][x, pos]))
            out = np.einsum("hne,hed->nd", np.stack(z), W_O) + b_O
            logits = (T["resid_q"][qt][None, :] + out) @ W_U + b_U
            m = x.max(axis=1)
            lm = logits[np.arange(len(m)), m]
            logits[np.arange(len(m)), m] = -np.inf
            correct += int((lm > logits.max(axis=1)).sum())
            total += len(m)
            if tick is not None:
                tick(len(m))
    return correct, total


def correct_torch(model: Model, device: str = "cpu") -> tuple[int, int]:
    """As :func:`correct_numpy`, with torch (float32, TF32 off); raise ImportError without
    torch."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    t = {n: torch.tensor(getattr(model, n), dtype=torch.float32, device=device)
         for n in ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U", "b_Q", "b_K", "b_V",
                   "b_O", "b_U")}  # fmt: skip
    v, k = model.v, model.k
    grid = torch.cartesian_prod(*[torch.arange(v, device=device)] * k).reshape(-1, k)
    correct = 0
    for chunk in grid.split(1 << 20):
        resid = t["W_E"][chunk] + t["W_pos"][None]  # [n, k, d]
        q = torch.einsum("nd,hde->nhe", resid[:, -1], t["W_Q"]) + t["b_Q"]
        kk = torch.einsum("npd,hde->nhpe", resid, t["W_K"]) + t["b_K"][None, :, None]
        vv = torch.einsum("npd,hde->nhpe", resid, t["W_V"]) + t["b_V"][None, :, None]
        s = torch.einsum("nhe,nhpe->nhp", q, kk) / float(np.sqrt(model.e))
        a = torch.softmax(s, dim=-1)
        z = torch.einsum("nhp,nhpe->nhe", a, vv)
        out = torch.einsum("nhe,hed->nd", z, t["W_O"]) + t["b_O"]
        logits = (resid[:, -1] + out) @ t["W_U"] + t["b_U"]
        m = chunk.max(dim=1).values
        lm = logits.gather(1, m[:, None])[:, 0]
        logits.scatter_(1, m[:, None], -float("inf"))
        correct += int((lm > logits.max(dim=1).values).sum())
    return correct, int(grid.shape[0])


def available() -> dict[str, Any]:
    """The float32 implementations that can run here: {'numpy': fn, 'torch': fn?}."""
    out: dict[str, Any] = {"numpy": correct_numpy}
    try:
        import torch  # noqa: F401

        out["torch"] = correct_torch
    except ImportError:
        pass
    return out
