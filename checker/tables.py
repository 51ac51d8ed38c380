"""Path tables of the one-layer attention-only transformer, as rigorous balls.

Rule ``path-tables``.  Notation (DESIGN.md §4): q = query (last) token, E_q = W_E[q] +
W_pos[k-1], and for each head h (biases folded in):

  Q_h      = E_q W_Q[h] + b_Q[h]                                   [v, e]
  EQKE_h   = Q_h (W_E W_K[h])^T                 token part of the score     [v(q), v(t)]
  EQKP_h   = Q_h (W_pos W_K[h] + b_K[h])^T      position part of the score  [v(q), k(p)]
  EVOU_h   = W_E W_V[h] W_O[h] W_U              token part of the value     [v(t), v(y)]
  PVOU_h   = (W_pos W_V[h] + b_V[h]) W_O[h] W_U position part of the value  [k(p), v(y)]
  EUPU     = E_q W_U + b_O W_U + b_U            direct path                 [v(q), v(y)]

Lemma (exact path decomposition).  For an input x with x_{k-1} = q, the logits at the last
position are  EUPU[q] + sum_h sum_p a^h_p (EVOU_h[x_p] + PVOU_h[p]),  where a^h is the
softmax over p of (EQKE_h[q, x_p] + EQKP_h[q, p]) / sqrt(e).
Proof sketch: the residual at position p is W_E[x_p] + W_pos[p]; the score of key p is
(E_q W_Q + b_Q).((W_E[x_p] + W_pos[p]) W_K + b_K) which splits bilinearly into a token and a
position part (b_K joins the position part); the value is ((W_E[x_p] + W_pos[p]) W_V + b_V)
W_O, and since sum_p a_p = 1 the b_V term can be placed in the position part; the output
adds b_O once and the unembedding is linear.  Every product is a ball matmul (balls.matmul),
so every table entry is a ball containing the exact real value.

Attention weights are handled without division (DESIGN.md §3): for each query q and head h
the kernel encloses  g_h[q, t] = exp((EQKE_h[q, t] - s_h[q]) / sqrt(e))  and
f_h[q, p] = exp((EQKP_h[q, p] - r_h[q]) / sqrt(e))  in arb (s, r are float shifts, exact), so
that a^h_p = g f / sum_p' g f: the shifts cancel in the softmax, and every factor is > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flint import arb, ctx

from checker import balls as B
from checker.model import Model

PREC = 128  # bits for arb work


@dataclass(frozen=True)
class Tables:
    """Ball tables for one model.  Head axis first where a table is per head."""

    EQKE: B.Ball  # [h, v(q), v(t)]
    EQKP: B.Ball  # [h, v(q), k(p)]
    EVOU: B.Ball  # [h, v(t), v(y)]
    PVOU: B.Ball  # [h, k(p), v(y)]
    EUPU: B.Ball  # [v(q), v(y)]
    g: B.Ball  # [h, v(q), v(t)]  exp of shifted token scores, all > 0
    f: B.Ball  # [h, v(q), k(p)]  exp of shifted position scores, all > 0
    ops: int  # scalar operations used (DESIGN.md §5 convention)


def _matmul_ops(m: int, k: int, n: int) -> int:
    return m * n * (2 * k - 1)


def _mm(a: B.Ball, b: B.Ball) -> B.Ball:
    return B.matmul(a, b)


def _exp_table(score: B.Ball, e: int) -> B.Ball:
    """Return balls containing exp((score - shift_row) / sqrt(e)), shift_row = max row midpoint.

    The shift is an exact float per row; it is the same for every entry of a row, so it
    cancels in the softmax.  exp is evaluated by arb (never np.exp), at PREC bits.
    """
    old = ctx.prec
    ctx.prec = PREC
    try:
        inv_sqrt = arb(1) / arb(e).sqrt()
        shift = np.max(score.mid, axis=-1, keepdims=True)
        centred = B.sub(score, B.exact(np.broadcast_to(shift, score.shape).copy()))
        flat = B.to_arb(B.Ball(centred.mid.reshape(-1), centred.rad.reshape(-1)))
        vals = [(x * inv_sqrt).exp() for x in flat]
        out = B.from_arb(vals)
    finally:
        ctx.prec = old
    return B.Ball(out.mid.reshape(score.shape), out.rad.reshape(score.shape))


def path_tables(model: Model) -> Tables:
    """Return the path tables of ``model`` (exact path decomposition lemma, above)."""
    v, k, d, h, e = model.v, model.k, model.d, model.h, model.e
    X = B.exact
    E_q = B.add(X(model.W_E), X(np.broadcast_to(model.W_pos[k - 1], (v, d)).copy()))
    WU = X(model.W_U)
    direct_bias = B.add(_mm(X(model.b_O[None, :]), WU), X(model.b_U[None, :]))
    EUPU = B.add(_mm(E_q, WU), direct_bias)
    ops = v * d + _matmul_ops(v, d, v) + _matmul_ops(1, d, v) + 2 * v * v
    eqke, eqkp, evou, pvou, gs, fs = [], [], [], [], [], []
    for i in range(h):
        Q = B.add(_mm(E_q, X(model.W_Q[i])), X(np.broadcast_to(model.b_Q[i], (v, e)).copy()))
        Kt = _mm(X(model.W_E), X(model.W_K[i]))
        Kp = B.add(
            _mm(X(model.W_pos), X(model.W_K[i])), X(np.broadcast_to(model.b_K[i], (k, e)).copy())
        )
        OU = _mm(X(model.W_O[i]), WU)
        Vt = _mm(X(model.W_E), X(model.W_V[i]))
        Vp = B.add(
            _mm(X(model.W_pos), X(model.W_V[i])), X(np.broadcast_to(model.b_V[i], (k, e)).copy())
        )
        s_tok = _mm(Q, B.Ball(Kt.mid.T.copy(), Kt.rad.T.copy()))
        s_pos = _mm(Q, B.Ball(Kp.mid.T.copy(), Kp.rad.T.copy()))
        eqke.append(s_tok)
        eqkp.append(s_pos)
        evou.append(_mm(Vt, OU))
        pvou.append(_mm(Vp, OU))
        gs.append(_exp_table(s_tok, e))
        fs.append(_exp_table(s_pos, e))
        ops += (
            _matmul_ops(v, d, e)
            + v * e  # Q
            + _matmul_ops(v, d, e)
            + _matmul_ops(k, d, e)
            + k * e  # K
            + _matmul_ops(e, d, v)
            + _matmul_ops(v, d, e)
            + _matmul_ops(k, d, e)
            + k * e  # OU, V
            + _matmul_ops(v, e, v)
            + _matmul_ops(v, e, k)  # scores
            + _matmul_ops(v, e, v)
            + _matmul_ops(k, e, v)  # values
            + 3 * (v * v + v * k)  # shift, scale, exp
        )

    def stack(xs: list[B.Ball]) -> B.Ball:
        return B.Ball(np.stack([x.mid for x in xs]), np.stack([x.rad for x in xs]))

    return Tables(
        EQKE=stack(eqke),
        EQKP=stack(eqkp),
        EVOU=stack(evou),
        PVOU=stack(pvou),
        EUPU=EUPU,
        g=stack(gs),
        f=stack(fs),
        ops=ops,
    )
