"""Tests of the numpy transformer, its manual backprop, the trainer and the zoo's evaluator."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from generators.model import (
    BIASES,
    WEIGHTS,
    Params,
    forward,
    init_params,
    load_params,
    save_model,
)
from generators.train import Recipe, adamw_step, loss_and_grads, train
from generators.zoo import exhaustive_correct, sampled_correct, wilson95


def random_params(v: int, k: int, d: int, h: int, e: int, seed: int, scale: float = 0.7) -> Params:
    """Random weights of a size that makes attention non-trivial, and nonzero biases."""
    rng = np.random.default_rng(seed)
    p = init_params(v, k, d, h, e, seed)
    for name in WEIGHTS:
        setattr(p, name, rng.normal(0.0, scale, size=getattr(p, name).shape))
    for name in BIASES:
        setattr(p, name, rng.normal(0.0, scale, size=getattr(p, name).shape))
    return p


def naive_last_logits(p: Params, x: np.ndarray) -> np.ndarray:
    """Per-sequence, per-position causal attention written out loop by loop; last position."""
    k = len(x)
    resid = np.array([p.W_E[x[i]] + p.W_pos[i] for i in range(k)])
    out = np.zeros((k, p.d))
    for i in range(k):
        for j in range(p.h):
            q = resid[i] @ p.W_Q[j] + p.b_Q[j]
            scores = [(q @ (resid[t] @ p.W_K[j] + p.b_K[j])) / math.sqrt(p.e) for t in range(i + 1)]
            w = np.exp(np.array(scores) - max(scores))
            w /= w.sum()
            z = sum(w[t] * (resid[t] @ p.W_V[j] + p.b_V[j]) for t in range(i + 1))
            out[i] += z @ p.W_O[j]
        out[i] += p.b_O
    return (resid[-1] + out[-1]) @ p.W_U + p.b_U


def count_correct(logits: np.ndarray, x: np.ndarray) -> int:
    rows = np.arange(len(x))
    lab = x.max(axis=1)
    top = logits[rows, lab].copy()
    logits = logits.copy()
    logits[rows, lab] = -np.inf
    return int(np.count_nonzero(top > logits.max(axis=1)))


def all_inputs(v: int, k: int) -> np.ndarray:
    return np.array(list(itertools.product(range(v), repeat=k)))


def test_forward_matches_naive_loop_two_heads_nonzero_biases():
    p = random_params(v=6, k=4, d=5, h=2, e=3, seed=1)
    x = np.random.default_rng(2).integers(0, 6, size=(40, 4))
    got = forward(p, x)
    want = np.array([naive_last_logits(p, row) for row in x])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_loss_matches_forward():
    p = random_params(v=6, k=3, d=4, h=2, e=2, seed=3)
    x = np.random.default_rng(4).integers(0, 6, size=(50, 3))
    loss, _ = loss_and_grads(p, x)
    lg = forward(p, x)
    lse = np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1)) + lg.max(1)
    want = np.mean(lse - lg[np.arange(50), x.max(1)])
    assert loss == pytest.approx(want, rel=1e-12)


def test_gradients_match_central_differences():
    p = random_params(v=5, k=3, d=4, h=2, e=2, seed=5)
    x = np.random.default_rng(6).integers(0, 5, size=(16, 3))
    _, g = loss_and_grads(p, x)
    assert set(g) == set(WEIGHTS)
    eps = 1e-5
    for name in WEIGHTS:
        w = getattr(p, name)
        assert g[name].shape == w.shape
        fd = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            up, _ = loss_and_grads(p, x)
            w[i] = old - eps
            down, _ = loss_and_grads(p, x)
            w[i] = old
            fd[i] = (up - down) / (2 * eps)
        err = np.linalg.norm(g[name] - fd) / max(np.linalg.norm(fd), 1e-12)
        assert err < 1e-6, f"{name}: relative gradient error {err:.2e}"
        np.testing.assert_allclose(g[name], fd, rtol=1e-5, atol=1e-8, err_msg=name)


def test_adamw_matches_torch_formula():
    r = Recipe(lr=0.1, weight_decay=0.5)
    rng = np.random.default_rng(7)
    theta = rng.normal(size=6)
    ref = theta.copy()
    m, v2 = np.zeros(6), np.zeros(6)
    mr, vr = np.zeros(6), np.zeros(6)
    for t in range(1, 4):
        g = rng.normal(size=6)
        adamw_step(theta, g, m, v2, t, r)
        ref = ref * (1 - r.lr * r.weight_decay)
        mr = r.beta1 * mr + (1 - r.beta1) * g
        vr = r.beta2 * vr + (1 - r.beta2) * g**2
        mhat = mr / (1 - r.beta1**t)
        vhat = vr / (1 - r.beta2**t)
        ref = ref - r.lr * mhat / (np.sqrt(vhat) + r.eps)
        np.testing.assert_allclose(theta, ref, rtol=1e-12)


def test_training_is_deterministic_and_keeps_biases_zero():
    r = Recipe(v=8, k=3, d_model=8, d_head=8, steps=25)
    a, la = train(r, seed=11, quiet=True)
    b, lb = train(r, seed=11, quiet=True)
    c, _ = train(r, seed=12, quiet=True)
    assert la == lb
    for name in WEIGHTS + BIASES:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.W_E, c.W_E)
    for name in BIASES:
        assert not getattr(a, name).any(), name


def test_quick_training_reaches_high_accuracy():
    r = Recipe(v=8, k=3, d_model=16, d_head=16, steps=400, lr=1e-2)
    p, loss = train(r, seed=0, quiet=True)
    x = all_inputs(8, 3)
    acc = count_correct(forward(p, x), x) / len(x)
    assert acc >= 0.98, (acc, loss)


@pytest.mark.parametrize(
    ("v", "k", "h"), [(5, 2, 1), (5, 3, 1), (4, 4, 1), (4, 5, 1), (5, 4, 2), (4, 3, 3), (3, 6, 2)]
)
def test_exhaustive_evaluator_matches_forward(v, k, h):
    p = random_params(v=v, k=k, d=6, h=h, e=3, seed=v * k + h, scale=1.2)
    x = all_inputs(v, k)
    want = count_correct(forward(p, x), x)
    assert exhaustive_correct(p) == want
    assert exhaustive_correct(p, block_elems=1) == want  # one outer digit per block


def test_sampled_evaluator_and_wilson():
    p = random_params(v=5, k=3, d=4, h=1, e=4, seed=8)
    rng = np.random.default_rng(0)
    c = sampled_correct(p, 1000, rng, chunk=300)
    x = np.random.default_rng(0).integers(0, 5, size=(1000, 3))
    assert c == count_correct(forward(p, x), x)
    lo, hi = wilson95(c, 1000)
    assert lo < c / 1000 < hi
    assert wilson95(1000, 1000)[1] == 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_roundtrip_through_kernel_reader(tmp_path, dtype):
    p = random_params(v=6, k=3, d=4, h=2, e=2, seed=9)
    path = tmp_path / "m.safetensors"
    save_model(path, p, {"seed": "9", "recipe": Recipe().to_json()}, dtype=dtype)
    q = load_params(path)
    for name in WEIGHTS + BIASES:
        want = getattr(p, name).astype(dtype).astype(np.float64)
        assert np.array_equal(getattr(q, name), want), name
    n = int.from_bytes(path.read_bytes()[:8], "little")
    header = json.loads(path.read_bytes()[8 : 8 + n])
    meta = header["__metadata__"]
    assert meta["task"] == "max-of-k" and meta["v"] == "6" and meta["k"] == "3"
    assert meta["seed"] == "9" and json.loads(meta["recipe"])["lr"] == 1e-3
    assert meta["mechproof_version"] == "0.1.0"
    assert len([key for key in header if key != "__metadata__"]) == 12  # biases included


def test_saved_bytes_are_deterministic(tmp_path):
    p = random_params(v=4, k=2, d=3, h=1, e=3, seed=10)
    meta = {"seed": "10", "recipe": Recipe().to_json(), "note": "é"}
    blobs = set()
    for i in range(6):
        path = tmp_path / f"m{i}.safetensors"
        save_model(path, p, meta)
        blobs.add(path.read_bytes())
    assert len(blobs) == 1
    raw = blobs.pop()
    n = int.from_bytes(raw[:8], "little")
    keys = list(json.loads(raw[8 : 8 + n])["__metadata__"])
    assert keys == sorted(keys)
    assert load_params(tmp_path / "m0.safetensors").W_E.shape == (4, 3)
