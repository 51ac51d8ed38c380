"""A slow, independent reference: the model's forward pass in arb, straight from the weights.

It does not use the kernel's path tables or ball layer: residual streams, queries, keys,
values, softmax and unembedding are computed per distinct (position, token) in python-flint
``arb`` at 200 bits, then each input's logits are assembled and every margin is decided.
Ties (margin exactly 0) cannot be decided by balls and come out as undecided.
"""

from __future__ import annotations

import itertools

import numpy as np
from flint import arb, ctx

from checker.model import Model


def _a(x: float) -> arb:
    return arb(float(x))


def reference_per_input(model: Model) -> dict[tuple[int, ...], bool | None]:
    """Every input's verdict by the slow reference: True correct, False incorrect, None
    undecided (its margins' enclosures straddle 0)."""
    old = ctx.prec
    ctx.prec = 200
    try:
        return _decide(model)
    finally:
        ctx.prec = old


def reference_counts(model: Model) -> tuple[int, int, int]:
    """Return (correct, incorrect, undecided) over all v^k inputs, by the slow reference."""
    verdicts = list(reference_per_input(model).values())
    return (
        sum(r is True for r in verdicts),
        sum(r is False for r in verdicts),
        sum(r is None for r in verdicts),
    )


def _vec_mat(x: list[arb], W: np.ndarray) -> list[arb]:
    return [sum((x[i] * _a(W[i, j]) for i in range(W.shape[0])), arb(0)) for j in range(W.shape[1])]


def _decide(M: Model) -> dict[tuple[int, ...], bool | None]:
    v, k, h, e = M.v, M.k, M.h, M.e
    inv = arb(1) / arb(e).sqrt()
    resid = {
        (p, t): [_a(M.W_E[t, i]) + _a(M.W_pos[p, i]) for i in range(M.d)]
        for p in range(k)
        for t in range(v)
    }
    keys, outs = {}, {}
    for hh in range(h):
        for (p, t), r in resid.items():
            keys[hh, p, t] = [
                a + _a(b) for a, b in zip(_vec_mat(r, M.W_K[hh]), M.b_K[hh], strict=True)
            ]
            val = [a + _a(b) for a, b in zip(_vec_mat(r, M.W_V[hh]), M.b_V[hh], strict=True)]
            outs[hh, p, t] = _vec_mat(_vec_mat(val, M.W_O[hh]), M.W_U)
    queries = {
        (hh, q): [
            a + _a(b) for a, b in zip(_vec_mat(resid[k - 1, q], M.W_Q[hh]), M.b_Q[hh], strict=True)
        ]
        for hh in range(h)
        for q in range(v)
    }
    bias_out = [
        a + _a(b) for a, b in zip(_vec_mat([_a(x) for x in M.b_O], M.W_U), M.b_U, strict=True)
    ]
    direct = {
        q: [a + b for a, b in zip(_vec_mat(resid[k - 1, q], M.W_U), bias_out, strict=True)]
        for q in range(v)
    }
    out: dict[tuple[int, ...], bool | None] = {}
    for x in itertools.product(range(v), repeat=k):
        q, m = x[-1], max(x)
        logits = list(direct[q])
        for hh in range(h):
            scores = [
                sum((a * b for a, b in zip(queries[hh, q], keys[hh, p, x[p]], strict=True)), arb(0))
                * inv
                for p in range(k)
            ]
            exps = [s.exp() for s in scores]
            z = sum(exps, arb(0))
            for y in range(v):
                logits[y] += sum((exps[p] * outs[hh, p, x[p]][y] for p in range(k)), arb(0)) / z
        margins = [logits[m] - logits[y] for y in range(v) if y != m]
        if all(mg > 0 for mg in margins):
            out[x] = True
        elif any(mg <= 0 for mg in margins):
            out[x] = False
        else:
            out[x] = None
    return out
