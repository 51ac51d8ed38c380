"""The float32 semantics: how far the deployed forward pass can stray from the exact one.

A certificate's ``semantics`` is ``real`` (DESIGN.md §1: the model in exact real arithmetic)
or ``float32:U`` (DESIGN.md §9): for every input, **every** IEEE binary32 evaluation of the
TransformerLens forward pass -- round-to-nearest for each +, x, /; sums and dot products in
any order and parenthesisation, FMA or not; no flush-to-zero; scores divided by the float32
value of sqrt(e); softmax as max-subtract, exp, sum, divide; an exp within U ulp of the true
value for every float32 x <= 0 -- puts the max token's logit strictly above every other.

**Lemma F (logit deviation).**  For every input with query token q, every such evaluation
and every y, |l^_y - l_y| <= delta[q, y] (:func:`deviation`), where l is the exact logit.
Proof: docs/float32.md derives each stage with u = 2^-24, g_n = nu/(1-nu) and eta = 2^-149:
a dot product of n terms in any order (FMA or not) errs by <= g_n sum|a_i b_i| + n eta; the
residual add by u|r|; the score by sigma (dot, then the division by fl(sqrt(e)) = sqrt(e)
(1 + d), |d| <= u); the softmax argument by Delta = sigma + u|s^ - max| (the max is exact);
exp by U ulp <= U 2^-23 y + U 2^-149; so every weight a^_p = a_p (1 + theta) + t with
|theta| <= alpha, |t| <= tau (alpha, tau below; needs lambda + 2k mu < 1/2, so that
sigma < ln 1.5 and the sum of the exact weights is >= e^-sigma >= 1/2); the weighted value
sum, the output projection, the residual add and the unembedding then as dot products.
Every bound here is a ball upper end, so delta holds for the model's exact weights.

**Use.**  Under ``float32:U`` rule ``factor`` widens every entry EU[q, y] of the direct path
by delta[q, y] (:func:`widen`).  Every counting rule decides positivity for *every* point of
its cited balls, in particular for EU* = EU - delta on (q, m) and + delta on (q, y != m): so
an input it counts has real margin l_m - l_y > delta[q, m] + delta[q, y] >= the float32
deviation of l^_m - l^_y, and every float32 evaluation gets it right.  No rule changes.

Reject (UNSUPPORTED) float32 semantics for a model not stored in float32 (the deployed model
would round its weights first), when a magnitude could overflow binary32 (any bound >=
2^100), or when the softmax budget does not close (lambda + 2k mu >= 1/2).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from flint import arb, fmpq

from checker import balls as B
from checker.errors import Reason, require

if TYPE_CHECKING:
    from checker.model import Model

F64 = npt.NDArray[np.float64]
U32 = fmpq(1, 2**24)  # unit roundoff of binary32
ETA = 2.0**-149  # the smallest positive subnormal binary32
LIMIT = 2.0**100  # magnitudes above this could overflow a binary32 partial sum
_SEM = re.compile(r"^float32:([0-9]{1,6})(?:/([1-9][0-9]{0,6}))?$")


def exp_ulp(semantics: str) -> fmpq | None:
    """Return U for ``float32:U`` (U = p or p/q, integers of at most 6 digits), None for
    ``real``.  Reject (CERT_SCHEMA) anything else."""
    m = _SEM.match(semantics)
    require(semantics == "real" or m is not None, Reason.CERT_SCHEMA,
            "semantics must be 'real' or 'float32:U' (U = p or p/q: the exp's ulps)")  # fmt: skip
    return None if m is None else fmpq(int(m.group(1)), int(m.group(2) or 1))


def statement(model: Model) -> str:
    """The arithmetic the theorem speaks of (part of ``Model.theorem``)."""
    U = exp_ulp(model.semantics)
    if U is None:
        return f"exact real arithmetic, scores scaled by 1/sqrt({model.e})"
    return (f"every IEEE binary32 evaluation: round-to-nearest, sums and dot products in any "
            f"order, FMA or not, no flush-to-zero, scores divided by fl32(sqrt({model.e})), "
            f"softmax as max-subtract/exp/sum/divide with an exp within {U} ulp")  # fmt: skip


def check_model(model: Model) -> None:
    """Reject float32 semantics for a model whose weights are not all float32."""
    ok = exp_ulp(model.semantics) is None or model.dtype == "float32"
    require(ok, Reason.UNSUPPORTED, f"float32 semantics needs float32 weights ({model.dtype})")


def bind(model: Model, semantics: str) -> Model:
    """``model`` under ``semantics`` (checked: the grammar, float32 weights for float32)."""
    exp_ulp(semantics)
    out = dataclasses.replace(model, semantics=semantics)
    check_model(out)
    return out


def _up(q: Any) -> float:
    """A float >= the rational or arb q."""
    return float(B.upper(B.from_arb([arb(q)], (1,)))[0])


def _g(n: int) -> float:
    return _up(n * U32 / (1 - n * U32))


def _abs(b: B.Ball) -> F64:
    return np.maximum(B.upper(b), -B.lower(b))


def _s(*xs: Any) -> F64:
    """An upper bound of the sum of the nonnegative floats/arrays ``xs`` (broadcast)."""
    acc = B.exact(np.asarray(xs[0], dtype=np.float64))
    for x in xs[1:]:
        acc = B.add(acc, B.exact(np.asarray(x, dtype=np.float64)))
    return B.upper(acc)


def _m(a: Any, b: Any) -> F64:
    """An upper bound of a * b (nonnegative, broadcast)."""
    return B.upper(B.mul(B.exact(np.asarray(a, np.float64)), B.exact(np.asarray(b, np.float64))))


def _mm(a: F64, b: F64) -> F64:
    """An upper bound of a @ b (nonnegative matrices)."""
    return B.upper(B.matmul(B.exact(a), B.exact(b)))


def _proj(model: Model, mag: F64, RW: F64, b: F64) -> tuple[F64, F64]:
    """(|r W + b| <= mag, >= the error of fl(r^ W + b)) for residuals r with |r| @ |W| <= RW
    whose float32 values r^ err by <= u |r| (d + 1 terms: d products and the bias)."""
    u, d = _up(U32), model.d
    dot = _s(_m(_g(d + 1), _s(_m(1 + u, RW), np.abs(b))), (d + 1) * ETA)
    return mag, _s(_m(u, RW), dot)


def deviation(model: Model, U: fmpq) -> F64:
    """Return delta [v(q), v(y)]: Lemma F's bound on |l^_y - l_y| for inputs with query q."""
    X, u, (v, k, d, e, h) = B.exact, _up(U32), (model.v, model.k, model.d, model.e, model.h)
    R = _abs(B.add(X(model.W_E)[:, None, :], X(model.W_pos)[None, :, :]))  # [t, p, d] |r|
    resid = B.add(X(model.W_E), X(model.W_pos[k - 1])[None, :])  # [q, d] the query's row
    Rq, R2 = R[:, k - 1], R.reshape(v * k, d)
    inv_c, u2, uc = _up(1 / arb(e).sqrt()), _up(2 * U32 / (1 - U32)), _up((1 + U32) / (1 - U32))
    eU, mu, gk1 = _up(U * 2 * U32), _up(U * fmpq(1, 2**149)), _g(k - 1)
    om = _up((1 + U32) / (1 - (k - 1) * U32 / (1 - (k - 1) * U32)) - 1 + k * fmpq(1, 2**150))
    att = np.zeros((v, v))
    zerr_y = np.zeros(v)
    Om, big = np.abs(model.b_O), float(np.max(R))
    for i in range(h):
        WQ, WK, WV = (np.abs(w[i]) for w in (model.W_Q, model.W_K, model.W_V))
        qm = _abs(B.add(B.matmul(resid, X(model.W_Q[i])), X(model.b_Q[i])))
        Qm, dQ = _proj(model, qm, _mm(Rq, WQ), model.b_Q[i])  # [q, e]
        # keys and values at every (t, p): r W + b = E[t] W + (P[p] W + b)
        tp = []
        for W, aW, b in ((model.W_K[i], WK, model.b_K[i]), (model.W_V[i], WV, model.b_V[i])):
            ew, pw = B.matmul(X(model.W_E), X(W)), B.add(B.matmul(X(model.W_pos), X(W)), X(b))
            RW = _mm(R2, aW).reshape(v, k, e)
            tp.append(_proj(model, _abs(B.add(ew[:, None, :], pw[None, :, :])), RW, b))
        (Km, dK), (Vm, dV) = tp  # [t, p, e]
        Kx, dKx = _s(Km, dK).reshape(-1, e).max(0), dK.reshape(-1, e).max(0)
        Vx, dVx = _s(Vm, dV).reshape(-1, e).max(0), dV.reshape(-1, e).max(0)
        Wq = _mm(_s(Qm, dQ), Kx[:, None])[:, 0]  # [q] >= sum_i |q^_i| |k^_i|
        big = max(big, *(float(np.max(x)) for x in (Qm, Kx, Vx, Wq)))
        eps1 = _s(_m(_g(e), Wq), e * ETA)
        sig = _s(_m(inv_c, _s(_m(u2, Wq), _m(uc, eps1), _mm(dQ, Kx[:, None])[:, 0],
                              _mm(Qm, dKx[:, None])[:, 0])), ETA / 2)  # fmt: skip
        Dl = _s(sig, _m(2 * u, _s(_m(inv_c, Wq), sig)))
        lam = [arb(x).exp() * (1 + arb(eU)) - 1 for x in Dl.tolist()]
        ok = all(x + 2 * k * arb(mu) < arb(0.5) for x in lam)  # so sigma < ln 1.5, W >= 2/3
        require(ok, Reason.UNSUPPORTED, "float32: the softmax error bound does not close")
        den = [(1 - arb(gk1)) * (1 - x - 2 * k * arb(mu)) for x in lam]
        al = B.upper(B.from_arb([(1 + x) * (1 + arb(u)) / z - 1 for x, z in zip(lam, den, strict=True)], (v,)))  # fmt: skip  # noqa: E501
        ta = B.upper(B.from_arb([2 * arb(mu) * (1 + arb(u)) / z + arb(ETA) / 2 for z in den], (v,)))  # fmt: skip  # noqa: E501
        OUb = B.matmul(X(model.W_O[i]), X(model.W_U))  # [e, y]
        OU, ak = _abs(OUb), _s(al, _m(k, ta))  # ak [q]: alpha + k tau
        EVOU = B.matmul(B.matmul(X(model.W_E), X(model.W_V[i])), OUb)  # c_p = v_p . OU[:, y]
        PVOU = B.matmul(B.add(B.matmul(X(model.W_pos), X(model.W_V[i])), X(model.b_V[i])), OUb)
        hi = _s(B.upper(EVOU).max(0), B.upper(PVOU).max(0))  # [y] >= max_{t,p} c
        lo = -_s(-B.lower(EVOU).min(0), -B.lower(PVOU).min(0))  # [y] <= min_{t,p} c
        half, mid = B.upper(B.mul(B.sub(X(hi), X(lo)), X(0.5))), _abs(B.add(X(hi), X(lo)))
        att = _s(att, _m(ak[:, None], half), _m(om, mid)[None, :])  # the weights' errors
        zerr = _s(_m(_s(1, ak.max()), _s(dVx, _m(_g(k), Vx))), k * ETA)  # [e]
        zerr_y = _s(zerr_y, _mm(zerr[None, :], OU)[0])
        Om = _s(Om, _mm(_s(_m(_s(1, ak.max()), Vx), zerr)[None, :], np.abs(model.W_O[i]))[0])
    errO = _s(_m(_g(h * e + 1), Om), (h * e + 1) * ETA)  # Om includes |b_O|
    post = _s(_m(1 + u, Rq), (Om + errO)[None, :])  # [q, d] >= |r^_q| + |o^|
    WU = np.abs(model.W_U)
    pWU, bU = _mm(post, WU), np.abs(model.b_U)[None, :]  # [q, y]
    errU = _s(_m(_g(d + 1), _s(_m(1 + u, pWU), bU)), (d + 1) * ETA)
    direct = _s(_mm(_m(u, Rq), WU), _mm(errO[None, :], WU), _m(u, pWU))
    out = _s(direct, att, zerr_y[None, :], errU)
    big = max(big, *(float(np.max(x)) for x in (post, errU, out)))
    require(big < LIMIT, Reason.UNSUPPORTED, "float32: magnitudes too large to rule out overflow")
    return out


def work(model: Model) -> int:
    """Elements of work for :func:`deviation` (checked before it runs)."""
    v, k, d, e, h = model.v, model.k, model.d, model.e, model.h
    return 8 * h * ((v + k) * d * e + v * k * d * e + v * v * e) + 4 * v * d * v


def widen(model: Model, eu: B.Ball) -> B.Ball:
    """The direct path EU for ``model.semantics``: as is for ``real``, each entry widened by
    delta[q, y] for ``float32:U`` (see Use, above)."""
    U = exp_ulp(model.semantics)
    if U is None:
        return eu
    check_model(model)
    dl = deviation(model, U)
    return B.add(eu, B.from_bounds(-dl, dl))
