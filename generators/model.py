"""A numpy one-layer attention-only transformer for Max-of-K (DESIGN.md §1).

Untrusted: this is the generator side's model.  Loading a file always goes through the
kernel's reader (:func:`checker.model.load_model`), so a file this module cannot read is also
one the kernel refuses, and vice versa.

Axes: N batch, v vocabulary, k context length (positions p), d model width, h heads,
e head width (d_head).  Only the last position's output matters for the task, so
:func:`forward` returns the logits there; the last position attends to all k positions.

    resid[n, p]  = W_E[x[n, p]] + W_pos[p]                               [N, k, d]
    q[n, h]      = resid[n, k-1] @ W_Q[h] + b_Q[h]                       [N, h, e]
    key[n, p, h] = resid[n, p] @ W_K[h] + b_K[h]                         [N, k, h, e]
    val[n, p, h] = resid[n, p] @ W_V[h] + b_V[h]                         [N, k, h, e]
    a[n, h, :]   = softmax_p(q[n, h] . key[n, p, h] / sqrt(e))           [N, h, k]
    out[n]       = sum_h (sum_p a[n, h, p] val[n, p, h]) @ W_O[h] + b_O  [N, d]
    logits[n]    = (resid[n, k-1] + out[n]) @ W_U + b_U                  [N, v]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt
from safetensors.numpy import save

from checker.model import load_model

F64 = npt.NDArray[np.float64]
Tokens = npt.NDArray[np.integer]

MECHPROOF_VERSION = "0.1.0"
TASK = "max-of-k"

# field name -> TransformerLens key
TL_KEYS = {
    "W_E": "embed.W_E",
    "W_pos": "pos_embed.W_pos",
    "W_Q": "blocks.0.attn.W_Q",
    "W_K": "blocks.0.attn.W_K",
    "W_V": "blocks.0.attn.W_V",
    "W_O": "blocks.0.attn.W_O",
    "b_Q": "blocks.0.attn.b_Q",
    "b_K": "blocks.0.attn.b_K",
    "b_V": "blocks.0.attn.b_V",
    "b_O": "blocks.0.attn.b_O",
    "W_U": "unembed.W_U",
    "b_U": "unembed.b_U",
}
WEIGHTS = ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_U")
BIASES = ("b_Q", "b_K", "b_V", "b_O", "b_U")


@dataclass
class Params:
    """Weights of the transformer, float64, TransformerLens layout (shapes in comments)."""

    W_E: F64  # [v, d]
    W_pos: F64  # [k, d]
    W_Q: F64  # [h, d, e]
    W_K: F64  # [h, d, e]
    W_V: F64  # [h, d, e]
    W_O: F64  # [h, e, d]
    b_Q: F64  # [h, e]
    b_K: F64  # [h, e]
    b_V: F64  # [h, e]
    b_O: F64  # [d]
    W_U: F64  # [d, v]
    b_U: F64  # [v]

    @property
    def v(self) -> int:
        return int(self.W_E.shape[0])

    @property
    def k(self) -> int:
        return int(self.W_pos.shape[0])

    @property
    def d(self) -> int:
        return int(self.W_E.shape[1])

    @property
    def h(self) -> int:
        return int(self.W_Q.shape[0])

    @property
    def e(self) -> int:
        return int(self.W_Q.shape[2])

    def to_dict(self) -> dict[str, F64]:
        """TransformerLens key -> array (all twelve keys, biases included)."""
        return {TL_KEYS[f.name]: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, tensors: dict[str, npt.ArrayLike]) -> Params:
        """Inverse of :meth:`to_dict`; missing biases become zeros."""
        w = {name: np.array(tensors[TL_KEYS[name]], dtype=np.float64) for name in WEIGHTS}
        h, _, e = w["W_Q"].shape
        d, v = w["W_U"].shape
        zero = {"b_Q": (h, e), "b_K": (h, e), "b_V": (h, e), "b_O": (d,), "b_U": (v,)}
        b = {
            name: np.array(tensors[TL_KEYS[name]], dtype=np.float64)
            if TL_KEYS[name] in tensors
            else np.zeros(shape)
            for name, shape in zero.items()
        }
        return cls(**w, **b)

    def copy(self) -> Params:
        return Params(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


def init_params(v: int, k: int, d_model: int, heads: int, d_head: int, seed: int) -> Params:
    """TransformerLens-style initialisation: every W_* ~ N(0, std^2), biases zero.

    std = 0.8 / sqrt(d_model), TransformerLens's default ``initializer_range``.  Draws come
    from ``np.random.default_rng(seed)`` in the fixed order W_E, W_pos, W_Q, W_K, W_V, W_O, W_U.
    """
    rng = np.random.default_rng(seed)
    std = 0.8 / math.sqrt(d_model)
    shapes = {
        "W_E": (v, d_model),
        "W_pos": (k, d_model),
        "W_Q": (heads, d_model, d_head),
        "W_K": (heads, d_model, d_head),
        "W_V": (heads, d_model, d_head),
        "W_O": (heads, d_head, d_model),
        "W_U": (d_model, v),
    }
    w = {name: rng.normal(0.0, std, size=shapes[name]) for name in WEIGHTS}
    b = {
        "b_Q": np.zeros((heads, d_head)),
        "b_K": np.zeros((heads, d_head)),
        "b_V": np.zeros((heads, d_head)),
        "b_O": np.zeros(d_model),
        "b_U": np.zeros(v),
    }
    return Params(**w, **b)


def forward(params: Params, tokens: Tokens) -> F64:
    """Logits at the last position, float64.  tokens [N, k] ints in 0..v-1 -> [N, v].

    Cost O(N k d h e + N d v); memory O(N k h e).  Batch large inputs yourself.
    """
    p = params
    x = np.asarray(tokens)
    if x.ndim != 2 or x.shape[1] != p.k:
        raise ValueError(f"tokens must be [N, {p.k}], got {list(x.shape)}")
    n, k = x.shape
    h, d, e = p.W_Q.shape
    resid = p.W_E[x] + p.W_pos  # [N, k, d]
    last = resid[:, -1]  # [N, d]
    q = _proj(last, p.W_Q) + p.b_Q  # [N, h, e]
    key = _proj(resid.reshape(n * k, d), p.W_K).reshape(n, k, h, e) + p.b_K
    val = _proj(resid.reshape(n * k, d), p.W_V).reshape(n, k, h, e) + p.b_V
    scores = np.einsum("nhe,nphe->nhp", q, key) / math.sqrt(e)  # [N, h, k]
    scores -= scores.max(axis=-1, keepdims=True)
    a = np.exp(scores)
    a /= a.sum(axis=-1, keepdims=True)
    z = np.einsum("nhp,nphe->nhe", a, val)  # [N, h, e]
    out = z.reshape(n, h * e) @ p.W_O.reshape(h * e, d) + p.b_O
    return (last + out) @ p.W_U + p.b_U


def _proj(x: F64, W: F64) -> F64:
    """x [M, d] times each head's W [h, d, e] -> [M, h, e] as one matmul."""
    h, d, e = W.shape
    return (x @ W.transpose(1, 0, 2).reshape(d, h * e)).reshape(-1, h, e)


def save_model(
    path: str | Path, params: Params, metadata: dict[str, str], dtype: str = "float32"
) -> None:
    """Write ``params`` as a safetensors file (all twelve TL keys) with string ``metadata``.

    The bytes depend only on the arguments (see :func:`_canonical`).

    ``metadata`` is merged over the defaults ``task`` ("max-of-k"), ``v``, ``k`` and
    ``mechproof_version``; callers add ``seed`` and ``recipe`` (a JSON string).
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    meta = {
        "task": TASK,
        "v": str(params.v),
        "k": str(params.k),
        "mechproof_version": MECHPROOF_VERSION,
    }
    meta.update({str(a): str(b) for a, b in metadata.items()})
    tensors = {
        key: np.ascontiguousarray(arr, dtype=np.dtype(dtype))
        for key, arr in params.to_dict().items()
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(_canonical(save(tensors, metadata=meta)))


def _canonical(raw: bytes) -> bytes:
    """``raw`` with its header's ``__metadata__`` keys sorted, so equal inputs give equal bytes.

    NB: safetensors serialises the metadata from a Rust HashMap, whose order changes from
    process to process.  The rewritten header has the same content, hence the same length
    (it is padded with spaces to the original length, as safetensors pads it).
    """
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        header = {"__metadata__": header.pop("__metadata__"), **header}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) > n:
        raise ValueError("safetensors header grew when canonicalised")
    return raw[:8] + text.ljust(n, b" ") + raw[8 + n :]


def load_params(path: str | Path) -> Params:
    """Read a model file through the kernel's reader (which validates it) as float64 Params."""
    m = load_model(path)
    return Params(
        **{name: np.array(getattr(m, name), dtype=np.float64) for name in TL_KEYS},
    )
