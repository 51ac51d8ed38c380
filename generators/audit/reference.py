"""The audit's independent reference: exact per-input verdicts, sharing no code with checker/.

It reads the model with ``safetensors.numpy`` (not the kernel's reader) and evaluates the
forward pass of DESIGN.md §1 itself:

* everything before the softmax is bilinear in the stored dyadic floats, so scores, values
  and the direct path are computed **exactly** in ``fmpq`` (``fmpq_mat`` products);
* softmax weights are ``exp`` of exact rationals times 1/sqrt(d_head), evaluated in ``arb``
  (rigorous balls) after subtracting an exact per-(head, query) shift, which cancels;
* an input is correct iff every margin logit[max] - logit[y] (y != max) is > 0; ties fail.

Deciding a sign.  With Z_h = sum_p exp(s^h_p / sqrt(e)) > 0, the margin times prod_h Z_h is
``sum over tuples (p_1..p_H) of exp((sum_h s^h_{p_h}) / sqrt(e)) * (D + sum_h dO^h_{p_h})``
with exact rational coefficients.  Grouping tuples by their (exact) exponent gives
``sum_j C_j exp(a_j)`` with distinct algebraic a_j; by Lindemann-Weierstrass the exps are
linearly independent over the algebraic numbers, so the margin is exactly 0 iff every C_j
is 0 -- decided exactly -- and otherwise nonzero, so arb at rising precision decides its
sign.  Only if 8192 bits do not suffice is an input reported undecided (never seen).

Complexity: O(v^k * v * k * h) arb operations (the fast path) plus the grouped fallback for
the few margins the first precision cannot decide; meant for v^k up to a few thousand.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from flint import arb, ctx, fmpq, fmpq_mat

PRECISIONS = (128, 512, 2048, 8192)
PREFIX = "blocks.0.attn."
_IGNORED = {PREFIX + "IGNORE", PREFIX + "mask"}  # TransformerLens buffers (unused at k-1)


class ReferenceError(ValueError):
    """The file is not a model the reference can evaluate (the audit then skips it)."""


@dataclass(frozen=True)
class RefModel:
    """Weights as exact rationals: lists of lists of fmpq, axes named as in DESIGN.md §1."""

    v: int
    k: int
    d: int
    h: int
    e: int
    w: dict[str, np.ndarray]  # float64 copies (exact: float32 -> float64 is exact)


def read_model(path: str | Path) -> RefModel:
    """Read a safetensors model with the safetensors library; missing biases are zero."""
    from safetensors.numpy import load_file

    try:
        raw = load_file(str(path))
    except Exception as exc:  # any reader failure: not a model we evaluate
        raise ReferenceError(f"reference: cannot read {path}: {exc}") from exc
    w = {key: np.asarray(a, dtype=np.float64) for key, a in raw.items() if key not in _IGNORED}
    try:
        v, d = w["embed.W_E"].shape
        k = w["pos_embed.W_pos"].shape[0]
        h, _, e = w[PREFIX + "W_Q"].shape
    except (KeyError, ValueError) as exc:
        raise ReferenceError(f"reference: layout: {exc}") from exc
    zeros = {"b_Q": (h, e), "b_K": (h, e), "b_V": (h, e), "b_O": (d,)}
    for name, shape in zeros.items():
        w.setdefault(PREFIX + name, np.zeros(shape))
    w.setdefault("unembed.b_U", np.zeros(v))
    for key, a in w.items():
        if not np.all(np.isfinite(a)):
            raise ReferenceError(f"reference: {key} is not finite")
    return RefModel(v=v, k=k, d=d, h=h, e=e, w=w)


def _q(x: float) -> fmpq:
    return fmpq(*float(x).as_integer_ratio())


def _mat(a: np.ndarray) -> fmpq_mat:
    a = np.atleast_2d(a)
    return fmpq_mat(a.shape[0], a.shape[1], [_q(x) for x in a.ravel()])


def _rows(m: fmpq_mat) -> list[list[fmpq]]:
    return [[m[i, j] for j in range(m.ncols())] for i in range(m.nrows())]


def _add_row(m: fmpq_mat, b: np.ndarray) -> list[list[fmpq]]:
    bias = [_q(x) for x in b]
    return [[x + y for x, y in zip(r, bias, strict=True)] for r in _rows(m)]


@dataclass
class _Exact:
    """Exact tables: scores [h][q][p][t], values [h][p][t][y], direct [q][y]."""

    score: list
    out: list
    direct: list


def _exact_tables(M: RefModel) -> _Exact:
    w, v, k, h = M.w, M.v, M.k, M.h
    # residual rows indexed p * v + t
    resid = np.concatenate([w["embed.W_E"] + w["pos_embed.W_pos"][p] for p in range(k)])
    R = _mat(resid)
    WU = _mat(w["unembed.W_U"])
    score, out = [], []
    for hh in range(h):
        Kmat = _add_row(R * _mat(w[PREFIX + "W_K"][hh]), w[PREFIX + "b_K"][hh])
        Qmat = _add_row(R * _mat(w[PREFIX + "W_Q"][hh]), w[PREFIX + "b_Q"][hh])
        S = _mat_from_rows(Qmat) * _mat_from_rows(Kmat).transpose()  # [(p,t), (p',t')]
        score.append(
            [
                [[S[(k - 1) * v + q, p * v + t] for t in range(v)] for p in range(k)]
                for q in range(v)
            ]
        )
        V = _add_row(R * _mat(w[PREFIX + "W_V"][hh]), w[PREFIX + "b_V"][hh])
        O = _rows(_mat_from_rows(V) * _mat(w[PREFIX + "W_O"][hh]) * WU)
        out.append([[O[p * v + t] for t in range(v)] for p in range(k)])
    bias = _rows(_mat(w[PREFIX + "b_O"][None, :]) * WU)[0]
    bU = [_q(x) for x in w["unembed.b_U"]]
    D = _rows(R * WU)
    direct = [[D[(k - 1) * v + q][y] + bias[y] + bU[y] for y in range(v)] for q in range(v)]
    return _Exact(score, out, direct)


def _mat_from_rows(rows: list[list[fmpq]]) -> fmpq_mat:
    return fmpq_mat(len(rows), len(rows[0]), [x for r in rows for x in r])


class Reference:
    """Per-input verdicts of one model; build once, then :meth:`decide` or :meth:`counts`."""

    def __init__(self, M: RefModel) -> None:
        self.M = M
        self.T = _exact_tables(M)
        self.shift = [
            [max(x for row in self.T.score[hh][q] for x in row) for q in range(M.v)]
            for hh in range(M.h)
        ]
        self._arb_tables(PRECISIONS[0])

    def _arb_tables(self, prec: int) -> None:
        M, T = self.M, self.T
        old = ctx.prec
        ctx.prec = prec
        try:
            inv = arb(1) / arb(M.e).sqrt()
            self.E = [
                [
                    [
                        [(arb(s - self.shift[hh][q]) * inv).exp() for s in row]
                        for row in T.score[hh][q]
                    ]
                    for q in range(M.v)
                ]
                for hh in range(M.h)
            ]
            self.Oa = [
                [[[arb(x) for x in ys] for ys in row] for row in T.out[hh]] for hh in range(M.h)
            ]
            self.Da = [[arb(x) for x in row] for row in T.direct]
        finally:
            ctx.prec = old

    def _margin_sign(self, x: tuple[int, ...], m: int, y: int) -> int | None:
        """Exact sign of logit[m] - logit[y] on input x (None: undecided at 8192 bits)."""
        M, T = self.M, self.T
        q = x[-1]
        # group the expanded form by exact exponent (see the module docstring)
        groups: dict[fmpq, fmpq] = {}
        D = T.direct[q][m] - T.direct[q][y]
        for ps in itertools.product(range(M.k), repeat=M.h):
            expo = sum(
                (T.score[hh][q][p][x[p]] - self.shift[hh][q] for hh, p in enumerate(ps)), fmpq(0)
            )
            c = D + sum(
                (T.out[hh][p][x[p]][m] - T.out[hh][p][x[p]][y] for hh, p in enumerate(ps)), fmpq(0)
            )
            groups[expo] = groups.get(expo, fmpq(0)) + c
        terms = [(a, c) for a, c in groups.items() if c != 0]
        if not terms:
            return 0
        if all(c > 0 for _, c in terms):
            return 1
        if all(c < 0 for _, c in terms):
            return -1
        old = ctx.prec
        try:
            for prec in PRECISIONS[1:]:
                ctx.prec = prec
                inv = arb(1) / arb(M.e).sqrt()
                s = sum(((arb(a) * inv).exp() * arb(c) for a, c in terms), arb(0))
                if s > 0:
                    return 1
                if s < 0:
                    return -1
        finally:
            ctx.prec = old
        return None

    def decide(self, x: tuple[int, ...]) -> bool | None:
        """True: correct; False: incorrect (a tie is incorrect); None: undecided."""
        M = self.M
        q, m = x[-1], max(x)
        old = ctx.prec
        ctx.prec = PRECISIONS[0]
        try:
            es = [[self.E[hh][q][p][x[p]] for p in range(M.k)] for hh in range(M.h)]
            Zs = [sum(e, arb(0)) for e in es]
            undecided = False
            for y in range(M.v):
                if y == m:
                    continue
                mg = self.Da[q][m] - self.Da[q][y]
                for hh in range(M.h):
                    O = self.Oa[hh]
                    n = sum(
                        (es[hh][p] * (O[p][x[p]][m] - O[p][x[p]][y]) for p in range(M.k)), arb(0)
                    )
                    mg += n / Zs[hh]
                if mg > 0:
                    continue
                if mg < 0:
                    return False
                sign = self._margin_sign(x, m, y)
                if sign is None:
                    undecided = True
                elif sign <= 0:
                    return False
            return None if undecided else True
        finally:
            ctx.prec = old

    def counts(self) -> tuple[int, int, int]:
        """(correct, incorrect, undecided) over all v^k inputs."""
        c = i = u = 0
        for x in itertools.product(range(self.M.v), repeat=self.M.k):
            r = self.decide(x)
            if r is True:
                c += 1
            elif r is False:
                i += 1
            else:
                u += 1
        return c, i, u


@dataclass(frozen=True)
class Accuracy:
    """The reference's verdict on a model: exact accuracy lies in [lower, upper]."""

    correct: int
    incorrect: int
    undecided: int

    @property
    def total(self) -> int:
        return self.correct + self.incorrect + self.undecided

    @property
    def upper(self) -> Fraction:
        """Exact accuracy is at most this (= it, when nothing is undecided)."""
        return Fraction(self.correct + self.undecided, self.total)


def reference_accuracy(path: str | Path) -> Accuracy:
    """Exact accuracy of the model file by the independent reference."""
    M = read_model(path)
    return Accuracy(*Reference(M).counts())
