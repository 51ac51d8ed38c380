"""Train the Max-of-K transformer in numpy with manual backprop and AdamW (torch semantics).

The paper's recipe (REFERENCE.md) is the default :class:`Recipe`: d_model = d_head = 32, one
head, AdamW lr 1e-3, betas (0.9, 0.999), weight decay 0.01 on every weight (embeddings
included, as torch's AdamW does for every parameter it is given), batch 128, 3,000 steps of
fresh uniformly random sequences, cross-entropy at the last position against max(x).
Biases exist (zeros) but are frozen: they are never updated.

Only the last position's output enters the loss, so the backward pass needs only the last
position's attention row: query = last token, keys and values from all k positions.

Determinism: the initial weights come from ``init_params(..., seed)`` and the batches from
``default_rng(SeedSequence(seed, spawn_key=(1,)))``; with a fixed BLAS thread count the run is
bit-for-bit reproducible on one machine.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass

import numpy as np

from generators.model import F64, WEIGHTS, Params, Tokens, init_params

__all__ = ["Recipe", "loss_and_grads", "train", "adamw_step", "batch_stream"]


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a trained model except the seed."""

    v: int = 64
    k: int = 4
    d_model: int = 32
    heads: int = 1
    d_head: int = 32
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.01
    batch: int = 128
    steps: int = 3000

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def loss_and_grads(params: Params, tokens: Tokens) -> tuple[float, dict[str, F64]]:
    """Mean cross-entropy at the last position against max(x), and its gradient.

    tokens [N, k] -> (loss, {name: dloss/dW} for every weight in ``WEIGHTS``).  Biases enter
    the forward pass (they may be nonzero) but get no gradient: they are frozen.
    Cost O(N k d h e + N d v + N k v) (the last term: the embedding gradient).
    """
    p = params
    x = np.asarray(tokens)
    n, k = x.shape
    h, d, e = p.W_Q.shape
    s = 1.0 / math.sqrt(e)
    Wq = p.W_Q.transpose(1, 0, 2).reshape(d, h * e)
    Wk = p.W_K.transpose(1, 0, 2).reshape(d, h * e)
    Wv = p.W_V.transpose(1, 0, 2).reshape(d, h * e)
    Wo = p.W_O.reshape(h * e, d)

    # forward
    resid = p.W_E[x] + p.W_pos  # [n, k, d]
    rf = resid.reshape(n * k, d)
    last = resid[:, -1]  # [n, d]
    q = (last @ Wq + p.b_Q.ravel()).reshape(n, h, e)
    key = (rf @ Wk + p.b_K.ravel()).reshape(n, k, h, e)
    val = (rf @ Wv + p.b_V.ravel()).reshape(n, k, h, e)
    sc = np.einsum("nhe,nphe->nhp", q, key) * s  # [n, h, k]
    sc -= sc.max(axis=-1, keepdims=True)
    a = np.exp(sc)
    a /= a.sum(axis=-1, keepdims=True)
    z = np.einsum("nhp,nphe->nhe", a, val).reshape(n, h * e)
    fin = last + z @ Wo + p.b_O  # [n, d]
    logits = fin @ p.W_U + p.b_U  # [n, v]
    logits -= logits.max(axis=-1, keepdims=True)
    ex = np.exp(logits)
    tot = ex.sum(axis=-1)
    label = x.max(axis=1)
    rows = np.arange(n)
    loss = float(np.mean(np.log(tot) - logits[rows, label]))

    # backward
    dlog = ex / tot[:, None]
    dlog[rows, label] -= 1.0
    dlog /= n
    g: dict[str, F64] = {"W_U": fin.T @ dlog}
    dfin = dlog @ p.W_U.T  # [n, d]
    g["W_O"] = (z.T @ dfin).reshape(h, e, d)
    dz = (dfin @ Wo.T).reshape(n, h, e)
    da = np.einsum("nhe,nphe->nhp", dz, val)
    dval = np.einsum("nhp,nhe->nphe", a, dz).reshape(n * k, h * e)
    ds = a * (da - (a * da).sum(axis=-1, keepdims=True)) * s
    dq = np.einsum("nhp,nphe->nhe", ds, key).reshape(n, h * e)
    dkey = np.einsum("nhp,nhe->nphe", ds, q).reshape(n * k, h * e)
    g["W_Q"] = (last.T @ dq).reshape(d, h, e).transpose(1, 0, 2)
    g["W_K"] = (rf.T @ dkey).reshape(d, h, e).transpose(1, 0, 2)
    g["W_V"] = (rf.T @ dval).reshape(d, h, e).transpose(1, 0, 2)
    dresid = (dkey @ Wk.T + dval @ Wv.T).reshape(n, k, d)
    dresid[:, -1] += dfin + dq @ Wq.T
    g["W_pos"] = dresid.sum(axis=0)
    gE = np.zeros_like(p.W_E)
    np.add.at(gE, x.ravel(), dresid.reshape(n * k, d))
    g["W_E"] = gE
    return loss, g


class _FlatWeights:
    """The trained weights as views into one flat vector, so AdamW is a few vector ops."""

    def __init__(self, params: Params) -> None:
        sizes = [getattr(params, name).size for name in WEIGHTS]
        self.theta = np.empty(sum(sizes))
        self.grad = np.zeros_like(self.theta)
        self.views: dict[str, F64] = {}
        self.gviews: dict[str, F64] = {}
        off = 0
        for name, size in zip(WEIGHTS, sizes, strict=True):
            shape = getattr(params, name).shape
            self.views[name] = self.theta[off : off + size].reshape(shape)
            self.gviews[name] = self.grad[off : off + size].reshape(shape)
            self.views[name][...] = getattr(params, name)
            setattr(params, name, self.views[name])
            off += size


def adamw_step(theta: F64, grad: F64, m: F64, v2: F64, t: int, r: Recipe) -> None:
    """One torch.optim.AdamW step (t = 1, 2, ...) in place on ``theta``, ``m``, ``v2``.

    theta *= 1 - lr wd;  m = b1 m + (1-b1) g;  v2 = b2 v2 + (1-b2) g^2;
    theta -= (lr / (1 - b1^t)) m / (sqrt(v2) / sqrt(1 - b2^t) + eps).
    """
    theta *= 1.0 - r.lr * r.weight_decay
    m *= r.beta1
    m += (1.0 - r.beta1) * grad
    v2 *= r.beta2
    v2 += (1.0 - r.beta2) * grad * grad
    bc1 = 1.0 - r.beta1**t
    bc2 = 1.0 - r.beta2**t
    denom = np.sqrt(v2)
    denom /= math.sqrt(bc2)
    denom += r.eps
    theta -= (r.lr / bc1) * (m / denom)


def batch_stream(recipe: Recipe, seed: int) -> np.random.Generator:
    """The generator that draws the training batches for ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))


def train(recipe: Recipe = Recipe(), seed: int = 0, quiet: bool = False) -> tuple[Params, float]:
    """Train one model; return (params float64, final loss).

    The final loss is the mean training loss over the last min(100, steps) steps.  Progress
    goes to stderr every 100 steps unless ``quiet``.
    """
    r = recipe
    params = init_params(r.v, r.k, r.d_model, r.heads, r.d_head, seed)
    flat = _FlatWeights(params)
    m = np.zeros_like(flat.theta)
    v2 = np.zeros_like(flat.theta)
    rng = batch_stream(r, seed)
    tail = min(100, r.steps)
    recent: list[float] = []
    for t in range(1, r.steps + 1):
        x = rng.integers(0, r.v, size=(r.batch, r.k))
        loss, g = loss_and_grads(params, x)
        for name in WEIGHTS:
            flat.gviews[name][...] = g[name]
        adamw_step(flat.theta, flat.grad, m, v2, t, r)
        if t > r.steps - tail:
            recent.append(loss)
        if not quiet and (t % 100 == 0 or t == r.steps):
            print(
                f"\r[k={r.k} v={r.v} seed {seed}] step {t}/{r.steps} loss {loss:.4f}",
                end="" if t < r.steps else "\n",
                file=sys.stderr,
                flush=True,
            )
    out = Params(**{name: np.array(a) for name, a in vars(params).items()})
    return out, float(np.mean(recent))
