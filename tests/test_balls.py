"""Tests of the trusted ball layer ``checker/balls.py``: closed forms, containment, mutants.

Oracle.  Every float is read as the exact rational it denotes (``fmpq`` from
``float.as_integer_ratio``).  For each output entry the exact image of the input boxes is
computed with exact interval arithmetic: for +, -, x, scaling, sums, dot products, min and max
the extremes are attained at endpoints, so this is the exact hull of the image, i.e. the check
at the endpoint points.  The output ball must contain it with ZERO tolerance.  The property
tests also evaluate the operation exactly at random interior rational points.  The oracle never
calls ``balls``: it reads ``mid`` and ``rad`` directly, and an unbounded range (an input with
``rad = inf``, or an image that is all of R) requires an unknown output (``rad = inf``).

Mutants.  ``MUTANTS`` holds a deliberately wrong variant of every primitive and of the
constants and helpers its lemma rests on.  Each ``check_*`` function returns a list of
violations on a deterministic adversarial input set; it must return ``[]`` for the real module
and a non-empty list with the mutant monkeypatched into ``checker.balls``.
"""

from __future__ import annotations

import itertools
import math
import random
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from flint import arb, arf, fmpq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import checker.balls as balls
from checker.balls import Ball
from checker.errors import CheckError, Reason, require

U = 2.0**-53
ETA = 2.0**-1022
TINY = 5e-324  # 2^-1074, the smallest subnormal
MAXSUB = 2.225073858507201e-308  # largest subnormal
MINN = 2.2250738585072014e-308  # 2^-1022, the smallest normal
MAXF = 1.7976931348623157e308
INF = math.inf
UQ = fmpq(1, 2**53)

Iv = tuple[fmpq | None, fmpq | None]  # exact closed interval; None marks an unbounded end

PROPS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---- exact oracle (independent of balls) --------------------------------------------------


def q(x: float) -> fmpq:
    """The exact rational value of the finite float ``x``."""
    n, d = float(x).as_integer_ratio()
    return fmpq(n, d)


def mk(mid: Any, rad: Any) -> Ball:
    """A Ball built directly (no validation, so a mutated ``balls.ball`` cannot interfere)."""
    m = np.array(mid, dtype=np.float64)
    r = np.array(rad, dtype=np.float64)
    m.flags.writeable = False
    r.flags.writeable = False
    return Ball(m, r)


def mkl(pairs: Sequence[tuple[float, float]]) -> Ball:
    """A 1-D Ball from (mid, rad) pairs."""
    return mk([m for m, _ in pairs], [r for _, r in pairs])


def ivs(b: Ball) -> list[Iv]:
    """Exact intervals of the (valid) ball ``b`` in C order."""
    out: list[Iv] = []
    for m, r in zip(np.ravel(b.mid).tolist(), np.ravel(b.rad).tolist(), strict=True):
        if math.isinf(r):
            out.append((None, None))
        else:
            mq, rq = q(m), q(r)
            out.append((mq - rq, mq + rq))
    return out


def i_add(x: Iv, y: Iv) -> Iv:
    lo = None if x[0] is None or y[0] is None else x[0] + y[0]
    hi = None if x[1] is None or y[1] is None else x[1] + y[1]
    return lo, hi


def i_neg(x: Iv) -> Iv:
    return (None if x[1] is None else -x[1]), (None if x[0] is None else -x[0])


def i_sub(x: Iv, y: Iv) -> Iv:
    return i_add(x, i_neg(y))


def _is_zero(x: Iv) -> bool:
    return x[0] is not None and x[1] is not None and x[0] == 0 and x[1] == 0


def i_mul(x: Iv, y: Iv) -> Iv:
    if _is_zero(x) or _is_zero(y):
        return fmpq(0), fmpq(0)  # 0 * (anything, even all of R) = {0}
    if None in x or None in y:
        return None, None  # R times a set containing a nonzero number is R
    if x[0] == x[1] and y[0] == y[1]:
        p = x[0] * y[0]
        return p, p
    c = [a * b for a in x for b in y]
    return min(c), max(c)


def i_sum(xs: Sequence[Iv]) -> Iv:
    lo: fmpq | None = fmpq(0)
    hi: fmpq | None = fmpq(0)
    for a, b in xs:
        lo = None if lo is None or a is None else lo + a
        hi = None if hi is None or b is None else hi + b
    return lo, hi


def i_min(xs: Sequence[Iv]) -> Iv:
    lo = None if any(a is None for a, _ in xs) else min(a for a, _ in xs)
    fin = [b for _, b in xs if b is not None]
    return lo, (min(fin) if fin else None)


def i_max(xs: Sequence[Iv]) -> Iv:
    hi = None if any(b is None for _, b in xs) else max(b for _, b in xs)
    fin = [a for a, _ in xs if a is not None]
    return (max(fin) if fin else None), hi


def fmt(v: fmpq | None) -> str:
    """A short decimal rendering of an exact end (never overflows)."""
    return "unbounded" if v is None else arb(v).str(8, radius=False)


def member(out: Ball, k: int, z: fmpq) -> bool:
    """Whether the exact real ``z`` lies in entry ``k`` (C order) of the output ball."""
    m = float(np.ravel(out.mid)[k])
    r = float(np.ravel(out.rad)[k])
    if not math.isfinite(m) or math.isnan(r) or r < 0:
        return False
    if math.isinf(r):
        return True
    d = z - q(m)
    return (d if d >= 0 else -d) <= q(r)


def contain(out: Ball, want: Sequence[Iv], tag: str) -> list[str]:
    """Violations of: each entry of ``out`` is a valid ball containing ``want[k]`` exactly."""
    mids = np.ravel(out.mid).tolist()
    rads = np.ravel(out.rad).tolist()
    if np.shape(out.mid) != np.shape(out.rad) or len(mids) != len(want):
        return [f"{tag}: shapes {np.shape(out.mid)}, {np.shape(out.rad)}, want {len(want)}"]
    bad = []
    for k, (m, r, (lo, hi)) in enumerate(zip(mids, rads, want, strict=True)):
        if not math.isfinite(m) or math.isnan(r) or r < 0:
            bad.append(f"{tag}[{k}]: invalid ball ({m!r}, {r!r})")
        elif math.isinf(r):
            continue
        elif lo is None or hi is None:
            bad.append(f"{tag}[{k}]: finite ball ({m!r}, {r!r}) for an unbounded range")
        elif not (q(m) - q(r) <= lo and hi <= q(m) + q(r)):
            bad.append(f"{tag}[{k}]: ({m!r}, {r!r}) misses [{fmt(lo)}, {fmt(hi)}]")
    return bad


BIG = fmpq(2) ** 1100  # a real far outside every float ball


def pts(x: Iv, rng: random.Random) -> list[fmpq]:
    """Members of ``x``: both endpoints and two random interior rationals (non-dyadic)."""
    lo, hi = x
    if lo is None or hi is None:
        return [fmpq(0), BIG, -BIG]
    ts = [fmpq(rng.randrange(1, 1_000_003), 1_000_003) for _ in range(2)]
    return [lo, hi, *(lo + (hi - lo) * t for t in ts)]


def _bcast(*bs: Ball) -> list[Ball]:
    shape = np.broadcast_shapes(*(b.shape for b in bs))
    return [Ball(np.broadcast_to(b.mid, shape), np.broadcast_to(b.rad, shape)) for b in bs]


def elementwise(
    out: Ball,
    ins: Sequence[Ball],
    f_iv: Callable[..., Iv],
    f_pt: Callable[..., fmpq],
    tag: str,
    rng: random.Random | None,
) -> list[str]:
    """Range check of an elementwise op; with ``rng`` also a check at sampled member points."""
    cols = [ivs(b) for b in _bcast(*ins)]
    rows = list(zip(*cols, strict=True))
    bad = contain(out, [f_iv(*xs) for xs in rows], tag)
    if rng is not None and not bad:
        for k, xs in enumerate(rows):
            for p in itertools.product(*(pts(x, rng) for x in xs)):
                if not member(out, k, f_pt(*p)):
                    bad.append(f"{tag}[{k}]: misses the value at point {[fmt(v) for v in p]}")
    return bad


def _rows(b: Ball, axis: int) -> list[list[Iv]]:
    """Intervals of ``b`` grouped by output entry of a reduction along ``axis`` (C order)."""
    n = b.shape[axis]
    rows = math.prod(np.delete(np.array(b.shape), axis).tolist())
    mid = np.moveaxis(b.mid, axis, -1).reshape(rows, n)
    rad = np.moveaxis(b.rad, axis, -1).reshape(rows, n)
    return [ivs(Ball(m, r)) for m, r in zip(mid, rad, strict=True)]


def rejects(fn: Callable[[], Any], reason: Reason = Reason.LEMMA_FAILED) -> bool:
    """Whether ``fn()`` rejects with a CheckError of ``reason``."""
    try:
        fn()
    except CheckError as e:
        return e.reason == reason
    return False


def _arb_iv(x: arb) -> Iv:
    """Exact interval of an arb (None ends if it is not finite)."""
    if not x.is_finite():
        return None, None

    def dy(a: arb) -> fmpq:
        man, exp = a.man_exp()
        return fmpq(int(man)) * fmpq(2) ** int(exp)

    m, r = dy(x.mid()), dy(x.rad())
    return m - r, m + r


def dyarb(man: int, exp: int, rman: int = 0, rexp: int = 0) -> arb:
    """The arb [man 2^exp +- rman 2^rexp] (mid exact; radius rounded up by arb)."""
    return arb(arf((man, exp)), arf((rman, rexp)))


# ---- deterministic adversarial sets -------------------------------------------------------

VALUES = [
    0.0,
    -0.0,
    TINY,
    -TINY,
    3 * TINY,
    MAXSUB,
    MINN,
    -1.5 * MINN,
    1e-300,
    2.0**-60,
    U,
    -(2.0**-54),
    1 / 3,
    0.1,
    1.0,
    -1.0,
    1 + 2.0**-52,
    1 - U,
    -1.5,
    3.0,
    2.0**53 + 2,
    1e16,
    -1e16,
    1e300,
    2.0**1023,
    1.7e308,
    -1.7e308,
    MAXF,
    -MAXF,
]
RADS = [0.0, TINY, 2.0**-60, 2.0**-54, U, 0.5, 1.0, 1e300, MAXF, INF]
RADS_BIN = [0.0, TINY, 2.0**-54, 1.0, MAXF, INF]

GRID = mkl([(v, r) for v in VALUES for r in RADS])
_BIN = [(v, r) for v in VALUES for r in RADS_BIN]
_EXTRA_PAIRS = [
    ((0.0, 1.0), (0.0, U)),  # the radius sum 1 + u rounds down to 1
    ((0.0, 1.0), (0.0, 2.0**-54)),
    ((1.0, 0.0), (2.0**-60, 0.0)),  # the midpoint sum rounds
    ((1 + 2.0**-52, 0.0), (1 + 2.0**-52, 0.0)),  # the midpoint product rounds
    ((TINY, 0.0), (0.5, 0.0)),  # the product 2^-1075 underflows to 0
    ((3 * TINY, 0.0), (-0.5, 0.0)),
    ((1e16, 0.0), (-1e16 + 2, 0.0)),  # cancellation
    ((1.0, 0.0), (-1 + U, 0.0)),
    ((1.0, 2.0**-60), (-1.0, 2.0**-60)),
    ((MAXF, 0.0), (MAXF, 0.0)),  # overflow
    ((0.0, MAXF), (0.0, MAXF)),  # radius overflow
    ((1e200, 0.0), (1e200, 0.0)),
    ((0.0, INF), (0.0, 0.0)),  # R * {0} = {0}
    ((0.0, 1.0), (0.0, 1.0)),  # |x y| <= ar br
]
_PA = [a for a, _ in _EXTRA_PAIRS] + [a for a in _BIN for _ in _BIN]
_PB = [b for _, b in _EXTRA_PAIRS] + [b for _ in _BIN for b in _BIN]
PAIRS = (mkl(_PA), mkl(_PB))
NEAR = mkl(
    [
        (1.0, 2.0**-60),
        (1.5, 2.0**-60),
        (-1.0, 2.0**-60),
        (-1.5, 2.0**-60),
        (1.0, 2.0**-54 - 2.0**-70),
        (1.0, 2.0**-54 + 2.0**-70),
        (MINN, TINY),
        (TINY, TINY),
        (-TINY, 0.0),
        (2.0**-1000, 2.0**-1060),
        (MAXF, 1e292),
        (-MAXF, 1e292),
        (1e308, 1e308),
        (0.0, 0.0),
        (-0.0, 0.0),
        (1.0, 1.0),
        (1.0, 1.0 - U),
        (1.0, 1.0 + 2.0**-52),
        (-1.0, 1.0),
        (TINY, 0.0),
    ]
)
LOWUP = mk(np.concatenate([GRID.mid, NEAR.mid]), np.concatenate([GRID.rad, NEAR.rad]))


def _mixed(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    """n floats with random signs, mantissas and exponents in [lo, hi]."""
    m = rng.uniform(1.0, 2.0, n) * rng.choice([-1.0, 1.0], n)
    return np.ldexp(m, rng.integers(lo, hi, n))


_R = np.random.default_rng(20240601)
_LONG = _mixed(_R, 3000, -40, 40)
_LONG_RAD = np.abs(_mixed(_R, 3000, -60, -20))
_CANCEL = np.array([1e16, 1.0, -1e16] * 700 + [3.0, -(2.0**-60)])

SUM_CASES: list[tuple[Ball, int]] = [
    (mk([1e16, 1.0, -1e16], [0.0, 0.0, 0.0]), 0),  # fl sum 0, exact sum 1
    (mk([1.0, 2.0**-60], [0.0, 0.0]), 0),
    (mk([0.0, 0.0], [1.0, U]), 0),  # the radius sum rounds down
    (mk([1.0, 1.0, 2.0**-53 * 3], [0.0, 0.0, 0.0]), 0),
    (mk(_LONG, np.zeros(3000)), 0),
    (mk(_LONG, _LONG_RAD), 0),
    (mk(_CANCEL, np.zeros(_CANCEL.size)), 0),
    (mk(np.full(2000, 0.1), np.zeros(2000)), 0),
    (mk(np.full(1000, TINY), np.zeros(1000)), 0),  # subnormal sum, exact
    (mk([MAXF, MAXF, -MAXF], [0.0, 0.0, 0.0]), 0),  # overflow on the way
    (mk([0.0, 0.0], [MAXF, MAXF]), 0),  # radius overflow
    (mk([1.0, 2.0], [0.0, INF]), 0),  # an unknown term
    (mk(np.zeros(0), np.zeros(0)), 0),  # empty sum
    (mk(_LONG[:35].reshape(5, 7), _LONG_RAD[:35].reshape(5, 7)), 0),
    (mk(_LONG[:35].reshape(5, 7), _LONG_RAD[:35].reshape(5, 7)), 1),
    (mk(_LONG[:60].reshape(3, 4, 5), np.zeros((3, 4, 5))), -2),
]

MATMUL_CASES: list[tuple[Ball, Ball]] = [
    (mk([[1 + 2.0**-52]], [[0.0]]), mk([[1 + 2.0**-52]], [[0.0]])),  # product rounds, n = 1
    (mk([[1.0]], [[0.0]]), mk([[0.0]], [[1.0]])),  # only |A| Br
    (mk([[0.0]], [[1.0]]), mk([[3.0]], [[0.0]])),  # only Ar |B|
    (mk([[0.0]], [[1.0]]), mk([[0.0]], [[1.0]])),  # only Ar Br
    (mk([[1.0, 1.0]], [[0.0, 0.0]]), mk([[0.0], [0.0]], [[1.0], [2.0**-54]])),  # D1 rounds
    (mk([[1e16, 1.0, -1e16]], [[0, 0, 0]]), mk([[1.0], [1.0], [1.0]], [[0], [0], [0]])),
    (mk([[TINY]], [[0.0]]), mk([[0.5]], [[0.0]])),  # underflow
    (mk([[TINY, TINY]], [[TINY, 0.0]]), mk([[0.5], [-0.5]], [[TINY], [0.0]])),
    (mk([[MAXF, MAXF]], [[0.0, 0.0]]), mk([[1.0], [1.0]], [[0.0], [0.0]])),  # overflow
    (mk([[0.0, 1.0]], [[0.0, 0.0]]), mk([[5.0], [2.0]], [[INF], [0.0]])),  # 0 * R
    (mk([[1.0, 1.0]], [[0.0, 0.0]]), mk([[5.0], [2.0]], [[INF], [0.0]])),  # unknown
    (mk(np.zeros((2, 0)), np.zeros((2, 0))), mk(np.zeros((0, 3)), np.zeros((0, 3)))),
    (
        mk(_LONG[None, :], np.zeros((1, 3000))),
        mk(np.stack([_LONG, _LONG[::-1]], 1), np.zeros((3000, 2))),
    ),
    (
        mk(_LONG[None, :], _LONG_RAD[None, :]),
        mk(np.stack([_LONG[::-1], _LONG], 1), np.stack([_LONG_RAD, _LONG_RAD[::-1]], 1)),
    ),
    (
        mk(_LONG[:24].reshape(2, 3, 4), _LONG_RAD[:24].reshape(2, 3, 4)),
        mk(_LONG[24:40].reshape(2, 4, 2), _LONG_RAD[24:40].reshape(2, 4, 2)),
    ),
    (
        mk(_LONG[:12].reshape(3, 4), np.zeros((3, 4))),
        mk(_LONG[12:20].reshape(4, 2), _LONG_RAD[12:20].reshape(4, 2)),
    ),
    (  # 3000 products 2^-1075 or 3 2^-1075, each may round: the n 2^-1074 tail of (M3)
        mk([[TINY, 3 * TINY] * 1500], np.zeros((1, 3000))),
        mk(np.full((3000, 1), 0.5), np.zeros((3000, 1))),
    ),
    (  # non-contiguous (transposed) operands: numpy may not call BLAS
        Ball(_LONG[:12].reshape(4, 3).T, _LONG_RAD[:12].reshape(4, 3).T),
        Ball(_LONG[12:28].reshape(2, 8).T[::2], _LONG_RAD[12:28].reshape(2, 8).T[::2]),
    ),
]

MINMAX_CASES: list[tuple[Ball, int]] = [
    (mk([1.0, 0.9], [0.0, 0.5]), 0),  # the max may come from the entry with the smaller mid
    (mk([0.0, 0.1], [0.0, 0.5]), 0),  # likewise the min
    (mk([1.0, 1.5], [2.0**-60, 2.0**-60]), 0),  # mid -+ rad rounds
    (mk([-1.5, -1.0], [2.0**-60, 2.0**-60]), 0),
    (mk([1.0, 2.0], [0.0, INF]), 0),  # an unknown entry
    (mk([-MAXF, MAXF], [MAXF, MAXF]), 0),  # overflow of mid -+ rad
    (mk([TINY, -TINY, 0.0], [0.0, TINY, 0.0]), 0),
    (mk([-0.0, 0.0], [0.0, 0.0]), 0),
    (mk(_LONG, _LONG_RAD), 0),
    (mk(GRID.mid.reshape(29, 10), GRID.rad.reshape(29, 10)), 0),
    (mk(GRID.mid.reshape(29, 10), GRID.rad.reshape(29, 10)), 1),
    (mk(_LONG[:60].reshape(3, 4, 5), _LONG_RAD[:60].reshape(3, 4, 5)), -2),
]

_FB = [(lo, hi) for lo in VALUES for hi in VALUES if lo <= hi] + [
    (0.0, TINY),  # the midpoint TINY/2 rounds to 0
    (-1.0, U),
    (1.0, 1 + 2.0**-52),
    (1 - U, 1.0),
    (-TINY, TINY),
    (-0.0, 0.0),
    (0.0, -0.0),
    (-MAXF, MAXF),  # radius overflow
    (MAXF, MAXF),
    (-INF, 0.0),
    (0.0, INF),
    (-INF, INF),
    (1e-300, 1e300),
]
BOUNDS = (np.array([lo for lo, _ in _FB]), np.array([hi for _, hi in _FB]))

ARB_CASES: list[arb] = [
    arb(0),
    arb(1.5, 0.25),
    arb(fmpq(1, 3)),
    dyarb(2**80 + 1, 0),  # more than 53 bits: f = 2^80, |f - m| = 1
    dyarb(2**80 + 1, 0, 3, 0),
    dyarb(2**120 + 2**60 + 1, -120),  # 1 + 2^-60 + 2^-120
    dyarb(-(2**120 + 1), -120, 1, -200),
    dyarb(5, -1, 1, -1100),  # radius below 2^-1100
    dyarb(1, -1074),  # TINY
    dyarb(3, -1076),  # 0.75 TINY, between subnormals
    dyarb(2**53 + 1, -1127),
    dyarb(1, -1200),  # below 2^-1100: mid 0
    dyarb(-3, -1200, 1, -1300),
    dyarb(1, -1101, 1, -1101),
    dyarb(2**1024 - 2**970, 0),  # MAXF exactly
    dyarb(2**1024 - 2**969 - 1, 0),  # rounds down to MAXF
    dyarb(2**1024 - 2**969, 0),  # rounds to 2^1024: unknown
    dyarb(2**1024 - 1, 0),
    dyarb(1, 3000),  # too big: unknown
    dyarb(1, 0, 1, 3000),  # radius too big
    dyarb(-7, 1020, 1, 1000),
    dyarb(1, 0, 1, 1023),  # radius rounds up to 2^1023 + ...: finite
    arb("nan"),
    arb("inf"),
    arb(1.0, INF),
]


# ---- check functions (return violations; [] means the property holds) --------------------


def check_add(a: Ball | None = None, b: Ball | None = None, rng: Any = None) -> list[str]:
    """add(a, b) contains x + y for x in a, y in b."""
    if a is None or b is None:
        a, b = PAIRS
    return elementwise(balls.add(a, b), [a, b], i_add, lambda x, y: x + y, "add", rng)


def check_sub(a: Ball | None = None, b: Ball | None = None, rng: Any = None) -> list[str]:
    """sub(a, b) contains x - y for x in a, y in b."""
    if a is None or b is None:
        a, b = PAIRS
    return elementwise(balls.sub(a, b), [a, b], i_sub, lambda x, y: x - y, "sub", rng)


def check_mul(a: Ball | None = None, b: Ball | None = None, rng: Any = None) -> list[str]:
    """mul(a, b) contains x y for x in a, y in b."""
    if a is None or b is None:
        a, b = PAIRS
    return elementwise(balls.mul(a, b), [a, b], i_mul, lambda x, y: x * y, "mul", rng)


def check_index(b: Ball | None = None) -> list[str]:
    """Ball indexing b[idx], .T and .bcast select the same entries of mid and rad (exact)."""
    b = GRID if b is None else b
    g2 = mk(b.mid.reshape(-1, 1) * np.ones((1, 3)), b.rad.reshape(-1, 1) * np.ones((1, 3)))
    bad: list[str] = []
    n = b.shape[0]
    for idx in (
        [0, n - 1, -1, n // 2, n // 2],
        slice(1, None, 2),
        np.array([[n - 1], [0]]),
        n // 2,
    ):
        want = mk(b.mid[idx], b.rad[idx])
        bad += contain(b[idx], ivs(want), "index")
    bad += contain(g2.T, ivs(mk(g2.mid.T, g2.rad.T)), "T")
    r = b[np.arange(min(3, n))]
    sh = (2, r.shape[0])
    w = mk(np.broadcast_to(r.mid, sh).copy(), np.broadcast_to(r.rad, sh).copy())
    bad += contain(r.bcast(sh), ivs(w), "bcast")
    return bad


def _where_rows(b: Ball, axis: int, where: np.ndarray) -> list[list[Iv]]:
    w = np.broadcast_to(where, b.shape)
    rows = _rows(b, axis)
    wr = np.moveaxis(w, axis, -1).reshape(-1, b.shape[axis])
    return [
        [x for x, keep in zip(r, m, strict=True) if keep] for r, m in zip(rows, wr, strict=True)
    ]


def check_min_where(cases: Sequence[tuple[Ball, int, np.ndarray]] | None = None) -> list[str]:
    """min/max(b, axis, where) contain the min/max over the selected entries (none: unknown)."""
    if cases is None:
        g = mk(GRID.mid[:24].reshape(4, 6), GRID.rad[:24].reshape(4, 6))
        rng = np.random.default_rng(0)
        h = mk([[1.0, 5.0, 3.0, 7.0], [2.0, 0.0, 9.0, 4.0]], [[0.0, 0.5, 0.0, 1.0], [0.25] * 4])
        cases = [(g, 1, rng.random((4, 6)) < 0.5), (g, 0, ~np.eye(4, 6, dtype=bool))]
        cases += [(h, 1, np.array([[False, True, True, False], [True, False, True, True]]))]
    bad: list[str] = []
    for b, axis, where in cases:
        for name, red in (("min", i_min), ("max", i_max)):
            out = getattr(balls, name)(b, axis, where=where)
            want = [red(r) if r else (None, None) for r in _where_rows(b, axis, where)]
            bad += contain(out, want, f"{name}(where)")
    return bad


def check_min_lower(cases: Sequence[tuple[Ball, int]] | None = None) -> list[str]:
    """min_lower(b, axis) <= min along axis of every x in b (exact comparison)."""
    bad: list[str] = []
    for b, axis in MINMAX_CASES if cases is None else cases:
        out = np.ravel(balls.min_lower(b, axis))
        for k, r in enumerate(_rows(b, axis)):
            lo = i_min(r)[0]
            if lo is not None and math.isfinite(out[k]) and q(out[k]) > lo:
                bad.append(f"min_lower[{k}] = {out[k]!r} above the min {fmt(lo)}")
            if lo is not None and out[k] == INF:
                bad.append(f"min_lower[{k}] = inf")
    return bad


def check_sort_lower(cases: Sequence[tuple[Ball, int]] | None = None) -> list[str]:
    """sort_lower(b, axis)[j] <= the j-th smallest of every x in b (exact comparison)."""
    bad: list[str] = []
    for b, axis in MINMAX_CASES if cases is None else cases:
        out = np.moveaxis(balls.sort_lower(b, axis), axis, -1).reshape(-1, b.shape[axis])
        for k, r in enumerate(_rows(b, axis)):
            los = sorted(x[0] for x in r if x[0] is not None)
            if len(los) != len(r):
                continue
            for j, lo in enumerate(los):
                if math.isfinite(out[k, j]) and q(out[k, j]) > lo:
                    bad.append(f"sort_lower[{k}, {j}] above the j-th smallest lower end")
    return bad


def check_exp_scaled(b: Ball | None = None, e: int = 3) -> list[str]:
    """exp_scaled(b, e) contains exp(x / sqrt(e)) for x = both ends of every entry of b (exp
    is monotone); mpmath intervals, precision raised (300, 1500, 6000 bits) while undecided."""
    import mpmath

    b = mk([0.0, -1.5, 2.0, 1e-300, -700.0], [0.0, 0.25, 2.0**-40, 0.0, 1.0]) if b is None else b
    out = balls.exp_scaled(b, e)
    le = mpmath.libmp.mpf_le
    iv = mpmath.iv
    bad: list[str] = []
    old = iv.prec
    try:
        for k, (lo, hi) in enumerate(ivs(b)):
            m, rr = float(np.ravel(out.mid)[k]), float(np.ravel(out.rad)[k])
            if lo is None or hi is None or math.isinf(rr):
                continue
            L, H = (
                mpmath.libmp.from_rational(int(x.p), int(x.q), 6000)
                for x in (q(m) - q(rr), q(m) + q(rr))
            )
            for end in (lo, hi):
                for prec in (300, 1500, 6000):
                    iv.prec = prec
                    a, c = iv.exp(iv.mpf(int(end.p)) / iv.mpf(int(end.q)) / iv.sqrt(e))._mpi_
                    if le(L, a) and le(c, H):
                        break
                    if not le(a, H) or not le(L, c):
                        bad.append(f"exp_scaled[{k}] misses exp of an end")
                        break
                else:
                    bad.append(f"exp_scaled[{k}] undecided at 6000 bits")
    finally:
        iv.prec = old
    return bad


def _endpoint(f: Any, k: int) -> float:
    return float(np.ravel(f)[k])


def check_lower(b: Ball | None = None) -> list[str]:
    """lower(b) <= mid - rad exactly (-inf iff unknown); never nan."""
    b = LOWUP if b is None else b
    lo = balls.lower(b)
    bad = [] if np.shape(lo) == b.shape else [f"lower: shape {np.shape(lo)}"]
    for k, (a, _) in enumerate(ivs(b)):
        v = _endpoint(lo, k)
        if math.isnan(v) or v == INF:
            bad.append(f"lower[{k}] = {v}")
        elif v != -INF and (a is None or q(v) > a):
            bad.append(f"lower[{k}] = {v!r} > exact lower end {fmt(a)}")
    return bad


def check_upper(b: Ball | None = None) -> list[str]:
    """upper(b) >= mid + rad exactly (+inf iff unknown); never nan."""
    b = LOWUP if b is None else b
    hi = balls.upper(b)
    bad = [] if np.shape(hi) == b.shape else [f"upper: shape {np.shape(hi)}"]
    for k, (_, z) in enumerate(ivs(b)):
        v = _endpoint(hi, k)
        if math.isnan(v) or v == -INF:
            bad.append(f"upper[{k}] = {v}")
        elif v != INF and (z is None or q(v) < z):
            bad.append(f"upper[{k}] = {v!r} < exact upper end {fmt(z)}")
    return bad


def check_positive(b: Ball | None = None) -> list[str]:
    """positive(b)[k] implies every member of entry k is > 0."""
    b = LOWUP if b is None else b
    pos = np.ravel(balls.positive(b)).tolist()
    return [
        f"positive[{k}] but lower end {fmt(a)}"
        for k, (p, (a, _)) in enumerate(zip(pos, ivs(b), strict=True))
        if p and (a is None or not a > 0)
    ]


def check_nonpositive(b: Ball | None = None) -> list[str]:
    """nonpositive(b)[k] implies every member of entry k is <= 0."""
    b = LOWUP if b is None else b
    npos = np.ravel(balls.nonpositive(b)).tolist()
    return [
        f"nonpositive[{k}] but upper end {fmt(z)}"
        for k, (p, (_, z)) in enumerate(zip(npos, ivs(b), strict=True))
        if p and (z is None or not z <= 0)
    ]


def check_sum(cases: Sequence[tuple[Ball, int]] | None = None, rng: Any = None) -> list[str]:
    """sum(b, axis) contains the sum along axis of every x in b."""
    bad: list[str] = []
    for b, axis in SUM_CASES if cases is None else cases:
        out = balls.sum(b, axis)
        rows = _rows(b, axis)
        bad += contain(out, [i_sum(r) for r in rows], f"sum(n={b.shape[axis]})")
        if rng is not None and not bad:
            for k, r in enumerate(rows):
                for _ in range(3):
                    z = fmpq(0)
                    for x in r:
                        z += rng.choice(pts(x, rng))
                    if not member(out, k, z):
                        bad.append(f"sum[{k}] misses a point sum")
    return bad


def _mat_ivs(b: Ball) -> list[list[Iv]]:
    flat = ivs(b)
    cols = b.shape[1]
    return [flat[i * cols : (i + 1) * cols] for i in range(b.shape[0])]


def check_matmul(cases: Sequence[tuple[Ball, Ball]] | None = None, rng: Any = None) -> list[str]:
    """matmul(a, b) contains X @ Y for every X in a, Y in b (each entry's exact range)."""
    bad: list[str] = []
    for a, b in MATMUL_CASES if cases is None else cases:
        out = balls.matmul(a, b)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        A = _bcast_to(a, batch + a.shape[-2:])
        Bb = _bcast_to(b, batch + b.shape[-2:])
        want: list[Iv] = []
        mats = []
        for t in np.ndindex(*batch):
            X, Y = _mat_ivs(Ball(A.mid[t], A.rad[t])), _mat_ivs(Ball(Bb.mid[t], Bb.rad[t]))
            mats.append((X, Y))
            n, p = len(Y), (len(Y[0]) if Y else b.shape[-1])
            for row in X:
                want += [i_sum([i_mul(row[k], Y[k][j]) for k in range(n)]) for j in range(p)]
        tag = f"matmul{a.shape}@{b.shape}"
        if out.shape != batch + (a.shape[-2], b.shape[-1]):
            bad.append(f"{tag}: shape {out.shape}")
        bad += contain(out, want, tag)
        if rng is not None and not bad:
            base = 0
            for X, Y in mats:
                px = [[rng.choice(pts(x, rng)) for x in row] for row in X]
                py = [[rng.choice(pts(y, rng)) for y in row] for row in Y]
                p = b.shape[-1]
                for i in range(len(X)):
                    for j in range(p):
                        z = fmpq(0)
                        for k in range(len(Y)):
                            z += px[i][k] * py[k][j]
                        if not member(out, base + i * p + j, z):
                            bad.append(f"{tag}[{i},{j}] misses a point product")
                base += len(X) * p
    return bad


def _bcast_to(b: Ball, shape: tuple[int, ...]) -> Ball:
    return Ball(np.broadcast_to(b.mid, shape), np.broadcast_to(b.rad, shape))


def _check_reduce(
    name: str, i_red: Callable[[Sequence[Iv]], Iv], red: Callable[..., fmpq], cases: Any, rng: Any
) -> list[str]:
    bad: list[str] = []
    for b, axis in MINMAX_CASES if cases is None else cases:
        out = getattr(balls, name)(b, axis)
        rows = _rows(b, axis)
        bad += contain(out, [i_red(r) for r in rows], f"{name}(n={b.shape[axis]})")
        if rng is not None and not bad:
            for k, r in enumerate(rows):
                z = red(rng.choice(pts(x, rng)) for x in r)
                if not member(out, k, z):
                    bad.append(f"{name}[{k}] misses a point value")
    return bad


def check_min(cases: Sequence[tuple[Ball, int]] | None = None, rng: Any = None) -> list[str]:
    """min(b, axis) contains the min along axis of every x in b."""
    return _check_reduce("min", i_min, min, cases, rng)


def check_max(cases: Sequence[tuple[Ball, int]] | None = None, rng: Any = None) -> list[str]:
    """max(b, axis) contains the max along axis of every x in b."""
    return _check_reduce("max", i_max, max, cases, rng)


def _end(x: float) -> fmpq | None:
    return None if math.isinf(x) else q(x)


def check_from_bounds(lo: Any = None, hi: Any = None) -> list[str]:
    """from_bounds(lo, hi) contains [lo, hi]; nan or lo > hi is rejected."""
    if lo is None or hi is None:
        lo, hi = BOUNDS
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    pairs = zip(lo.ravel().tolist(), hi.ravel().tolist(), strict=True)
    want = [(_end(a), _end(b)) for a, b in pairs]
    bad = contain(balls.from_bounds(lo, hi), want, "from_bounds")
    for a, b in [(math.nan, 1.0), (0.0, math.nan), (2.0, 1.0), (TINY, 0.0), (INF, -INF)]:
        if not rejects(lambda a=a, b=b: balls.from_bounds(np.array([a]), np.array([b]))):
            bad.append(f"from_bounds({a}, {b}) not rejected")
    return bad


_BAD_BALLS = [
    ([math.nan], [0.0]),
    ([INF], [0.0]),
    ([-INF], [1.0]),
    ([0.0], [-1.0]),
    ([0.0], [-TINY]),
    ([0.0], [math.nan]),
    ([0.0, 1.0], [0.0]),
    (np.array([1 + 1j]), [0.0]),
    (np.array([1.0], dtype=np.longdouble), [0.0]),
    (np.array([fmpq(1, 3)], dtype=object), [0.0]),
]
# integers: exact below 2^53 in magnitude, otherwise (conversion could round) rejected
_INTS = [0, 1, -7, 2**53 - 1, -(2**53 - 1), 2**53, 2**53 + 1, -(2**53 + 1), 2**63 - 1, -(2**63)]


def _exact_or_rejected(fn: Callable[[], Ball], want: Sequence[fmpq], tag: str) -> list[str]:
    try:
        out = fn()
    except CheckError as e:
        return [] if e.reason == Reason.LEMMA_FAILED else [f"{tag}: wrong reason {e.reason}"]
    return contain(out, [(w, w) for w in want], tag)


def check_ball() -> list[str]:
    """ball() keeps mid and rad exactly and rejects every invalid input."""
    bad = [
        f"ball{m, r} not rejected"
        for m, r in _BAD_BALLS
        if not rejects(lambda m=m, r=r: balls.ball(m, r))
    ]
    mids = np.concatenate([GRID.mid, NEAR.mid])
    rads = np.concatenate([GRID.rad, NEAR.rad])
    b = balls.ball(mids, rads)
    if not (np.array_equal(b.mid, mids) and np.array_equal(b.rad, rads)):
        bad.append("ball changed mid or rad")
    if b.mid.flags.writeable or b.rad.flags.writeable:
        bad.append("ball arrays writeable")
    for v in _INTS:
        bad += _exact_or_rejected(
            lambda v=v: balls.ball(np.array([v]), np.array([0])), [fmpq(v)], f"ball({v})"
        )
    return bad


def check_exact() -> list[str]:
    """exact() is the radius-0 ball of its exactly represented input; non-finite is rejected."""
    bad = [
        f"exact({v}) not rejected"
        for v in (math.nan, INF, -INF)
        if not rejects(lambda v=v: balls.exact([1.0, v]))
    ]
    bad += contain(balls.exact(np.array(VALUES)), [(q(v), q(v)) for v in VALUES], "exact")
    f32 = np.array([0.1, 1e-40, -3.4e38], dtype=np.float32)
    bad += contain(balls.exact(f32), [(q(v), q(v)) for v in f32.tolist()], "exact(float32)")
    for v in _INTS:
        bad += _exact_or_rejected(lambda v=v: balls.exact(np.array([v])), [fmpq(v)], f"exact({v})")
        bad += _exact_or_rejected(lambda v=v: balls.exact([v]), [fmpq(v)], f"exact([{v}])")
    return bad


def check_from_arb(cases: Sequence[arb] | None = None) -> list[str]:
    """from_arb(xs, shape) contains each arb of xs; bad input rejected."""
    xs = list(ARB_CASES if cases is None else cases)
    want = [_arb_iv(x) for x in xs]
    bad = contain(balls.from_arb(xs, (len(xs),)), want, "from_arb(list)")
    for x, w in zip(xs, want, strict=True):
        bad += contain(balls.from_arb([x], ()), [w], f"from_arb({x})")
    fin = [x for x in xs if x.is_finite()][:4]
    if len(fin) == 4:
        bad += contain(balls.from_arb(fin, (2, 2)), [_arb_iv(x) for x in fin], "from_arb(2x2)")
    for x, shape in (([1.0], (1,)), ([fmpq(1)], (1,)), ([arb(1)], (2,)), (["1"], (1,))):
        if not rejects(lambda x=x, shape=shape: balls.from_arb(x, shape)):
            bad.append(f"from_arb({x!r}, {shape}) not rejected")
    return bad


def check_to_arb(b: Ball | None = None) -> list[str]:
    """to_arb(b)[k] contains entry k of b (an unknown entry gives a non-finite arb)."""
    b = LOWUP if b is None else b
    out = balls.to_arb(b)
    if len(out) != int(np.prod(b.shape)):
        return [f"to_arb: {len(out)} arbs for shape {b.shape}"]
    bad = []
    for k, (x, (lo, hi)) in enumerate(zip(out, ivs(b), strict=True)):
        alo, ahi = _arb_iv(x)
        if alo is None or ahi is None:
            continue
        if lo is None or hi is None or lo < alo or hi > ahi:
            bad.append(f"to_arb[{k}] = {x} misses [{fmt(lo)}, {fmt(hi)}]")
    return bad


def check_to_fmpq_bounds(b: Ball | None = None) -> list[str]:
    """to_fmpq_bounds(b) is exactly (mid - rad, mid + rad), None where rad = inf."""
    b = LOWUP if b is None else b
    lo, hi = balls.to_fmpq_bounds(b)
    want = ivs(b)
    if (list(lo), list(hi)) == ([a for a, _ in want], [z for _, z in want]):
        return []
    return [f"to_fmpq_bounds: {k}" for k, w in enumerate(want) if (lo[k], hi[k]) != w] or ["?"]


_ORIG_BITS = balls._bits


def _ftz_bits(x: float) -> int:
    """_bits as seen under flush-to-zero: a subnormal result reads as 0."""
    return _ORIG_BITS(0.0 if abs(x) < MINN else x)


def _daz_numpy() -> types.ModuleType:
    """A numpy whose np.full treats a subnormal fill value as 0 (denormals-are-zero)."""
    proxy = types.ModuleType("numpy_daz")
    proxy.__dict__.update(np.__dict__)

    def full(shape: Any, value: float, *args: Any, **kw: Any) -> np.ndarray:
        return np.full(shape, 0.0 if abs(value) < MINN else value, *args, **kw)

    proxy.full = full  # type: ignore[attr-defined]
    return proxy


def check_fp_environment() -> list[str]:
    """check_fp_environment passes here and refuses (ENVIRONMENT) under simulated FTZ/DAZ."""
    bad = []
    try:
        balls.check_fp_environment()
    except CheckError as e:
        bad.append(f"refused the real environment: {e}")
    for name, value in (("_bits", _ftz_bits), ("np", _daz_numpy())):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(balls, name, value)
            if not rejects(balls.check_fp_environment, Reason.ENVIRONMENT):
                bad.append(f"accepted a simulated flush-to-zero environment ({name})")
    return bad


# ---- mutants ------------------------------------------------------------------------------

_quiet = np.errstate(over="ignore", invalid="ignore", under="ignore")
_ORIG_GAMMA = balls._gamma


def _fresh(x: Any) -> np.ndarray:
    return np.array(x, dtype=np.float64)


def m_ball(mid: Any, rad: Any) -> Ball:
    """ball without the shape/finiteness/sign validation."""
    return Ball(balls._f64(mid, "mid"), balls._f64(rad, "rad"))


def m_exact(x: Any) -> Ball:
    """exact without the finiteness check."""
    m = balls._f64(x, "value")
    return Ball(m, np.zeros_like(m))


def m_f64(x: Any, what: str) -> np.ndarray:
    """_f64 admitting integers up to 2^53 inclusive, tested on the rounded value (old bug)."""
    a = np.asarray(x)
    kind, size = a.dtype.kind, a.dtype.itemsize
    ok = (kind == "f" and size <= 8) or kind == "b" or (kind in "iu" and a.size == 0)
    if kind in "iu" and a.size > 0:
        ok = bool(np.all(np.abs(a.astype(np.float64)) <= 2.0**53))
    require(ok, Reason.LEMMA_FAILED, f"ball: {what} of dtype {a.dtype}")
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


@_quiet
def m_hull(lo: np.ndarray, hi: np.ndarray) -> Ball:
    """_hull with radius fl(fl(hi - lo)/2), not rounded up."""
    return balls._finish(_fresh(lo * 0.5 + hi * 0.5), _fresh((hi - lo) * 0.5))


@_quiet
def m_lower(b: Ball) -> np.ndarray:
    """lower rounded to nearest."""
    return _fresh(b.mid - b.rad)


@_quiet
def m_upper(b: Ball) -> np.ndarray:
    """upper rounded to nearest."""
    return _fresh(b.mid + b.rad)


def m_down(d: np.ndarray) -> np.ndarray:
    """_down subtracting ETA only (no relative term)."""
    d -= ETA
    return d


def m_upward(d: np.ndarray) -> np.ndarray:
    """_upward adding ETA only (no relative term)."""
    d += ETA
    return d


def m_positive(b: Ball) -> np.ndarray:
    """positive with >= instead of >."""
    return np.greater_equal(b.mid, b.rad)


def m_nonpositive(b: Ball) -> np.ndarray:
    """nonpositive from the mids only."""
    return np.less_equal(b.mid, 0.0)


@_quiet
def m_add(a: Ball, b: Ball) -> Ball:
    """add without the rounding term u|mid|."""
    mid = _fresh(a.mid + b.mid)
    r = np.zeros(mid.shape)
    r += a.rad
    r += b.rad
    return balls._finish(mid, balls._up(r, balls._C3))


@_quiet
def m_sub(a: Ball, b: Ball) -> Ball:
    """sub forgetting the radius of b."""
    mid = _fresh(a.mid - b.mid)
    r = np.abs(mid) * U
    r += a.rad
    return balls._finish(mid, balls._up(r, balls._C3))


@_quiet
def m_mul(a: Ball, b: Ball) -> Ball:
    """mul dropping the ar br term."""
    mid = _fresh(a.mid * b.mid)
    r = np.abs(a.mid) * b.rad + a.rad * np.abs(b.mid) + np.abs(mid) * U
    return balls._finish(mid, balls._up(_fresh(r), balls._C4))


@_quiet
def m_sum(a: Ball, axis: int) -> Ball:
    """sum without the g_n |mid| term."""
    n = a.shape[axis]
    mid = _fresh(np.sum(a.mid, axis=axis))
    return balls._finish(mid, balls._up(_fresh(np.sum(a.rad, axis=axis)), balls._c_sum(n)))


def m_gamma(n: int) -> float:
    """g_{n-1} instead of g_n."""
    return _ORIG_GAMMA(n - 1) if n >= 1 else 0.0


@_quiet
def _matmul(a: Ball, b: Ball, with_abr: bool, with_ar: bool) -> Ball:
    n = a.shape[-1]
    mid = _fresh(a.mid @ b.mid)
    y = np.abs(b.mid) * balls._gamma(n) + (b.rad if with_abr else 0.0) + ETA
    r = _fresh(np.abs(a.mid) @ y)
    if with_ar:
        r += a.rad @ (np.abs(b.mid) + b.rad)
    return balls._finish(mid, balls._up(r, balls._c_matmul(n)))


def m_matmul_abr(a: Ball, b: Ball) -> Ball:
    """matmul dropping |A| Br."""
    return _matmul(a, b, False, True)


def m_matmul_ar(a: Ball, b: Ball) -> Ball:
    """matmul dropping Ar (|B| + Br)."""
    return _matmul(a, b, True, False)


def m_up(s: np.ndarray, c: float) -> np.ndarray:
    """_up without the + ETA (underflow not covered)."""
    s *= c
    return s


def m_finish(mid: np.ndarray, rad: np.ndarray) -> Ball:
    """_finish keeping a non-finite mid / nan rad."""
    return Ball(mid, rad)


@_quiet
def m_min(a: Ball, axis: int) -> Ball:
    """min of the mids only."""
    m = _fresh(np.min(a.mid, axis=axis))
    return balls._hull(m, m.copy())


@_quiet
def m_max(a: Ball, axis: int) -> Ball:
    """max whose upper end is that of the entry with the largest mid."""
    j = np.expand_dims(np.argmax(a.mid, axis=axis), axis)
    hi = np.take_along_axis(a.mid + a.rad, j, axis=axis).squeeze(axis)
    lo = balls._down(_fresh(np.max(a.mid - a.rad, axis=axis)))
    return balls._hull(lo, balls._upward(_fresh(hi)))


def m_getitem(self: Ball, idx: Any) -> Ball:
    """Ball indexing dropping the radius."""
    return Ball(self.mid[idx], np.zeros(np.shape(self.mid[idx])))


def m_transpose(self: Ball) -> Ball:
    """.T transposing the midpoints only."""
    return Ball(self.mid.T, self.rad)


def m_bcast(self: Ball, shape: tuple[int, ...]) -> Ball:
    """bcast with a zero radius."""
    return Ball(np.broadcast_to(self.mid, shape), np.zeros(shape))


_REAL_REDUCE = balls._reduce


def m_min_where(a: Ball, axis: int, where: Any = None) -> Ball:
    """min ignoring ``where`` (the minimum over every entry)."""
    return _REAL_REDUCE(a, axis, np.min, None)


def m_max_where(a: Ball, axis: int, where: Any = None) -> Ball:
    """max ignoring ``where``."""
    return _REAL_REDUCE(a, axis, np.max, None)


def m_min_lower(b: Ball, axis: int, where: Any = None) -> np.ndarray:
    """min_lower of the midpoints."""
    lo = b.mid if where is None else np.where(where, b.mid, INF)
    return np.asarray(lo.min(axis=axis))


def m_sort_lower(b: Any, axis: int) -> np.ndarray:
    """sort_lower of the midpoints."""
    return np.sort(b.mid if isinstance(b, Ball) else b, axis=axis)


_REAL_EXP_SCALED = balls.exp_scaled


def m_exp_scaled(b: Ball, e: int) -> Ball:
    """exp_scaled dropping the radius of its result."""
    out = _REAL_EXP_SCALED(b, e)
    return Ball(out.mid, np.zeros(out.shape))


def m_exp_unscaled(b: Ball, e: int) -> Ball:
    """exp_scaled forgetting 1/sqrt(e)."""
    return _REAL_EXP_SCALED(b, 1)


def m_from_arb(vals: Sequence[arb], shape: tuple[int, ...]) -> Ball:
    """from_arb without the |f - mid| term: float(mid) and float(rad) taken as exact."""
    ok = all(isinstance(v, arb) for v in vals) and len(vals) == math.prod(shape)
    require(ok, Reason.LEMMA_FAILED, "from_arb: expects arbs filling the shape")
    mid = np.array([float(v.mid()) for v in vals], dtype=np.float64).reshape(shape)
    rad = np.array([float(v.rad()) for v in vals], dtype=np.float64).reshape(shape)
    return balls._finish(mid, rad)


def m_float_up(x: fmpq) -> float:
    """_float_up rounding to nearest."""
    try:
        return int(x.p) / int(x.q)
    except OverflowError:
        return INF


def m_to_arb(b: Ball) -> list[arb]:
    """to_arb dropping the radius."""
    return [arb(m) for m in b.mid.ravel().tolist()]


def m_to_fmpq_bounds(b: Ball) -> tuple[list[Any], list[Any]]:
    """to_fmpq_bounds computing mid -+ rad in floats."""
    pairs = zip(b.mid.ravel().tolist(), b.rad.ravel().tolist(), strict=True)
    ends = [(m - r, m + r) for m, r in pairs]
    lo = [_end(a) for a, _ in ends]
    hi = [_end(z) for _, z in ends]
    return lo, hi


def m_check_fp_environment() -> None:
    """An environment check that accepts everything."""


# (id, attribute of checker.balls, replacement, check that must then fail)
MUTANTS: list[tuple[str, str, Any, Callable[[], list[str]]]] = [
    ("ball-no-validation", "ball", m_ball, check_ball),
    ("exact-accepts-nonfinite", "exact", m_exact, check_exact),
    ("f64-int-bound-inclusive", "_f64", m_f64, check_exact),
    ("hull-radius-not-rounded-up", "_hull", m_hull, check_from_bounds),
    ("lower-round-to-nearest", "lower", m_lower, check_lower),
    ("upper-round-to-nearest", "upper", m_upper, check_upper),
    ("K_LOW-halved", "_K_LOW", U / 2, check_lower),
    ("down-eta-only", "_down", m_down, check_lower),
    ("upward-eta-only", "_upward", m_upward, check_upper),
    ("down-eta-only-in-min", "_down", m_down, check_min),
    ("upward-eta-only-in-max", "_upward", m_upward, check_max),
    ("positive-non-strict", "positive", m_positive, check_positive),
    ("nonpositive-mids-only", "nonpositive", m_nonpositive, check_nonpositive),
    ("add-no-rounding-term", "add", m_add, check_add),
    ("C3-without-rounding", "_C3", 1.0, check_add),
    ("C3-without-rounding-in-sub", "_C3", 1.0, check_sub),
    ("sub-ignores-b-rad", "sub", m_sub, check_sub),
    ("mul-drops-ar-br", "mul", m_mul, check_mul),
    ("C4-without-rounding", "_C4", 1.0, check_mul),
    ("sum-no-gamma-term", "sum", m_sum, check_sum),
    ("c_sum-one", "_c_sum", lambda n: 1.0, check_sum),
    ("gamma-n-minus-1", "_gamma", m_gamma, check_matmul),
    ("matmul-drops-abs-a-rad-b", "matmul", m_matmul_abr, check_matmul),
    ("matmul-drops-rad-a", "matmul", m_matmul_ar, check_matmul),
    ("c_matmul-one", "_c_matmul", lambda n: 1.0, check_matmul),
    ("up-without-eta", "_up", m_up, check_mul),
    ("finish-keeps-nonfinite", "_finish", m_finish, check_add),
    ("min-mids-only", "min", m_min, check_min),
    ("max-argmax-of-mids", "max", m_max, check_max),
    ("getitem-drops-rad", "Ball.__getitem__", m_getitem, check_index),
    ("T-mid-only", "Ball.T", property(m_transpose), check_index),
    ("bcast-zero-rad", "Ball.bcast", m_bcast, check_index),
    ("min-where-ignored", "min", m_min_where, check_min_where),
    ("max-where-ignored", "max", m_max_where, check_min_where),
    ("min-lower-of-mids", "min_lower", m_min_lower, check_min_lower),
    ("sort-lower-of-mids", "sort_lower", m_sort_lower, check_sort_lower),
    ("exp-scaled-drops-rad", "exp_scaled", m_exp_scaled, check_exp_scaled),
    ("exp-scaled-unscaled", "exp_scaled", m_exp_unscaled, check_exp_scaled),
    ("from-arb-mid-exact", "from_arb", m_from_arb, check_from_arb),
    ("to-arb-drops-rad", "to_arb", m_to_arb, check_to_arb),
    ("to-fmpq-bounds-float-arith", "to_fmpq_bounds", m_to_fmpq_bounds, check_to_fmpq_bounds),
    ("fp-check-accepts-all", "check_fp_environment", m_check_fp_environment, check_fp_environment),
]

CHECKS = sorted({c for *_, c in MUTANTS}, key=lambda c: c.__name__)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_adversarial_check_passes(check: Callable[[], list[str]]) -> None:
    """Lemma of each primitive: on the deterministic adversarial set there is no violation."""
    assert check() == []


@pytest.mark.parametrize(
    ("attr", "mutant", "check"), [m[1:] for m in MUTANTS], ids=[m[0] for m in MUTANTS]
)
def test_mutant_is_caught(
    monkeypatch: pytest.MonkeyPatch, attr: str, mutant: Any, check: Any
) -> None:
    """Each deliberately wrong variant makes its adversarial check report a violation."""
    owner, name = (balls.Ball, attr[5:]) if attr.startswith("Ball.") else (balls, attr)
    assert hasattr(owner, name)
    monkeypatch.setattr(owner, name, mutant)
    assert check() != []


def test_every_primitive_has_a_mutant() -> None:
    """The mutant table covers every public primitive of the ball layer."""
    public = [
        "ball", "exact", "from_bounds", "lower", "upper", "positive", "nonpositive", "index",
        "add", "sub", "mul", "sum", "matmul", "min", "max", "min_where", "min_lower",
        "sort_lower", "exp_scaled", "from_arb",
        "to_arb", "to_fmpq_bounds", "fp_environment",
    ]  # fmt: skip
    checked = {c.__name__ for *_, c in MUTANTS}
    assert {"check_" + p for p in public} <= checked


# ---- closed forms (values derived by hand; u = 2^-53) -------------------------------------


def _one(m: float, r: float = 0.0) -> Ball:
    return mk([m], [r])


def test_constants_closed_form() -> None:
    """Lemma UP constants: c(1-u)^2 >= K exactly, and each c is the float just above K/(1-u)^2.

    (1+u)/(1-u)^2 = 1 + 3u + O(u^2) -> 1 + 2^-51; (1+u)^k/(1-u)^2 = 1 + (k+2)u + O(u^2) rounds
    up to 1 + 3 2^-52 (k = 2, 3) and 1 + 4 2^-52 (k = 4); 2u/(1-u)^3 -> 2^-52 (1 + 2^-51);
    g_1 = u/(1-u) -> 2^-53 (1 + 2^-52); c_sum(1) ~ 1 + 5u -> 1 + 3 2^-52; c_matmul(1) ~ 1 + 7u.
    """
    assert balls.U == U and balls.ETA == ETA
    assert balls._C1 == 1 + 2.0**-51
    assert balls._C3 == 1 + 3 * 2.0**-52
    assert balls._C4 == 1 + 4 * 2.0**-52
    assert balls._K_LOW == 2.0**-52 * (1 + 2.0**-51)
    assert balls._gamma(1) == 2.0**-53 * (1 + 2.0**-52)
    assert balls._c_sum(1) == 1 + 3 * 2.0**-52
    assert balls._c_matmul(1) == 1 + 4 * 2.0**-52
    for k, c in ((1, balls._C1), (3, balls._C3), (4, balls._C4)):
        assert q(c) * (1 - UQ) ** 2 >= (1 + UQ) ** k
    assert q(balls._K_LOW) * (1 - UQ) ** 3 >= 2 * UQ
    for n in (0, 1, 2, 3, 1000, 3000, 2**20, 2**40):
        g = n * UQ / (1 - n * UQ)
        assert q(balls._gamma(n)) >= g
        assert q(balls._c_sum(n)) * (1 - UQ) ** 2 >= (1 + UQ) ** 2 / (1 - g)
        assert q(balls._c_matmul(n)) * (1 - UQ) ** 2 >= (1 + UQ) / ((1 - UQ) ** 3 * (1 - g))
    assert rejects(lambda: balls._gamma(2**40 + 1), Reason.UNSUPPORTED)


def test_ball_closed_form() -> None:
    """ball keeps its floats exactly (float32 and small ints widen exactly) and validates."""
    b = balls.ball([1.5, -0.0], [0.25, INF])
    assert b.mid.tolist() == [1.5, -0.0] and b.rad.tolist() == [0.25, INF]
    assert math.copysign(1.0, b.mid[1]) == -1.0
    assert not b.mid.flags.writeable and not b.rad.flags.writeable
    assert b.shape == (2,)
    f = balls.ball(np.float32(0.1), np.float32(0.0))
    assert f.mid == np.float64(np.float32(0.1)) and f.mid.dtype == np.float64
    assert balls.ball(np.array([2**53 - 1]), np.array([0])).mid[0] == 2**53 - 1
    assert balls.ball([True], [False]).mid[0] == 1.0
    for m, r in _BAD_BALLS:
        assert rejects(lambda m=m, r=r: balls.ball(m, r)), (m, r)
    assert rejects(lambda: balls.ball(np.array([2**53 + 1]), np.array([0])))
    assert check_ball() == []


def test_exact_closed_form() -> None:
    """exact(x) = Ball(x, 0); nan and +-inf are rejected."""
    b = balls.exact([[1.0, -2.5], [TINY, -MAXF]])
    assert b.mid.tolist() == [[1.0, -2.5], [TINY, -MAXF]] and not b.rad.any()
    assert b.rad.shape == (2, 2)
    for v in (math.nan, INF, -INF):
        assert rejects(lambda v=v: balls.exact(v))
    assert rejects(lambda: balls.exact(np.array([2**53 + 1])))
    assert rejects(lambda: balls.exact(np.array([-(2**53) - 1])))
    assert check_exact() == []


def test_f64_integer_bound_regression() -> None:
    """Regression: 2^53 + 1 rounds to 2^53 in float64; it must be rejected, not become {2^53}."""
    assert float(2**53 + 1) == 2.0**53
    for v in (2**53 + 1, -(2**53 + 1), 2**53 + 3, 2**62 + 1):
        assert rejects(lambda v=v: balls.exact(np.array([v], dtype=np.int64)))
        assert rejects(lambda v=v: balls.ball(np.array([v]), np.array([0.0])))
    assert rejects(lambda: balls.exact(np.array([2**64 - 1], dtype=np.uint64)))


def test_from_bounds_closed_form() -> None:
    """from_bounds: mid = lo/2 + hi/2, rad = fl(fl(max(hi - m, m - lo)) C1) + ETA."""
    b = balls.from_bounds(np.array([1.0]), np.array([3.0]))
    assert b.mid[0] == 2.0 and b.rad[0] == 1 + 2.0**-51  # fl(1 C1) + ETA = C1
    t = balls.from_bounds(np.array([0.0]), np.array([TINY]))  # TINY/2 rounds to 0 (even)
    assert t.mid[0] == 0.0 and t.rad[0] == ETA + TINY
    w = balls.from_bounds(np.array([-MAXF, -INF, 0.0]), np.array([MAXF, 0.0, INF]))
    assert w.rad.tolist() == [INF, INF, INF] and np.isfinite(w.mid).all()
    assert rejects(lambda: balls.from_bounds(np.array([3.0]), np.array([1.0])))
    assert rejects(lambda: balls.from_bounds(np.array([math.nan]), np.array([1.0])))
    assert rejects(lambda: balls.from_bounds(np.array([1.0, 2.0]), np.array([3.0])))
    assert check_from_bounds() == []


def test_lower_upper_closed_form() -> None:
    """lower/upper move fl(mid -+ rad) outward by fl(|d| K_LOW) + ETA, so are strict here.

    lower(1) = fl(1 - 2^-52 (1 + 2^-51)) = 1 - 2^-52; lower([3 +- 1]) = 2 - 2^-51;
    upper([3 +- 1]) = 4 + 2^-50; lower(0) = -ETA; unknown gives -+inf.
    """
    e = balls.exact([1.0, 0.0])
    assert balls.lower(e).tolist() == [1 - 2.0**-52, -ETA]
    assert balls.upper(e).tolist() == [1 + 2.0**-52, ETA]
    b = _one(3.0, 1.0)
    assert balls.lower(b)[0] == 2 - 2.0**-51 and balls.upper(b)[0] == 4 + 2.0**-50
    n = _one(1.0, 2.0**-60)  # mid - rad rounds to 1: lower must still be < 1 - 2^-60
    assert q(balls.lower(n)[0]) <= 1 - fmpq(1, 2**60)
    assert q(balls.upper(n)[0]) >= 1 + fmpq(1, 2**60)
    u = mk([0.0, -MAXF], [INF, MAXF])
    assert balls.lower(u).tolist() == [-INF, -INF]
    assert balls.upper(u).tolist() == [INF, ETA]  # fl(-MAXF + MAXF) = 0, moved up by ETA
    s = balls.lower(balls.exact(np.zeros((2, 3))))
    assert s.shape == (2, 3)
    assert check_lower() == [] and check_upper() == []


def test_positive_nonpositive_closed_form() -> None:
    """positive iff mid > rad; nonpositive iff mid <= -rad (both exact comparisons)."""
    p = mk([1.0, 1.0, 0.5, 0.0, -0.0, TINY, 2.0, 1.0], [0.5, 1.0, 1.0, 0.0, 0.0, 0.0, INF, 1 - U])
    assert balls.positive(p).tolist() == [True, False, False, False, False, True, False, True]
    n = mk([-1.0, -1.0, 0.0, -0.0, 0.5, TINY, -2.0, -TINY], [0.5, 1.0, 0.0, 0.0, 1.0, 0, INF, 0])
    assert balls.nonpositive(n).tolist() == [True, True, True, True, False, False, False, True]
    assert check_positive() == [] and check_nonpositive() == []


def test_index_closed_form() -> None:
    """b[idx], .T and .bcast apply one numpy view to mid and rad (no arithmetic)."""
    b = mk([[1.0, -0.0], [-MAXF, 3.0]], [[0.5, INF], [TINY, 0.0]])
    assert b[1].mid.tolist() == [-MAXF, 3.0] and b[1].rad.tolist() == [TINY, 0.0]
    assert b[:, 0].rad.tolist() == [0.5, TINY] and b.T.rad.tolist() == [[0.5, TINY], [INF, 0.0]]
    assert b[0].bcast((3, 2)).rad.tolist() == [[0.5, INF]] * 3
    assert check_index() == []


def test_add_sub_closed_form() -> None:
    """add/sub radius fl(fl(fl(u|mid|) + ar + br) C3) + ETA, C3 = 1 + 3 2^-52.

    1 + 2: r = 3u, 3u C3 = 3u + 4.5 ulp(3u) -> 3u + 2^-102 (tie to even);
    [0 +- 1] + [0 +- u]: fl(1 + u) = 1 (tie), rad = C3 = 1 + 3 2^-52 > 1 + u;
    [1 +- .5] - [1 +- .25]: r = .75, .75 C3 = .75 + 4.5 ulp -> .75 + 2^-51.
    """
    a = balls.add(_one(1.0), _one(2.0))
    assert a.mid[0] == 3.0 and a.rad[0] == 3 * U + 2.0**-102
    r = balls.add(_one(0.0, 1.0), _one(0.0, U))
    assert r.mid[0] == 0.0 and r.rad[0] == 1 + 3 * 2.0**-52
    s = balls.sub(_one(1.0, 0.5), _one(1.0, 0.25))
    assert s.mid[0] == 0.0 and s.rad[0] == 0.75 + 2.0**-51
    assert balls.sub(_one(1.0), _one(1.0)).rad[0] == ETA
    c = balls.add(_one(1.0), _one(2.0**-60))  # rounds to 1; 1 + 2^-60 must be inside
    assert c.mid[0] == 1.0 and q(c.rad[0]) >= fmpq(1, 2**60)
    o = balls.add(mk([MAXF, 0.0], [0.0, MAXF]), mk([MAXF, 0.0], [0.0, MAXF]))
    assert o.mid.tolist() == [0.0, 0.0] and o.rad.tolist() == [INF, INF]
    bc = balls.add(balls.exact([1.0, 2.0, 3.0]), balls.exact([[10.0], [20.0]]))
    assert bc.shape == (2, 3) and bc.mid.tolist() == [[11, 12, 13], [21, 22, 23]]
    assert check_add() == [] and check_sub() == []


def test_mul_closed_form() -> None:
    """mul: [2 +- 1][3 +- .5] = [2.5, 10.5] -> mid 6, rad 4.5 + 6 2^-50 (hand-rounded).

    r = fl(fl(2 .5 + 1 (3 + .5)) + 6u) = 4.5 + 2^-50; times C4 = 1 + 2^-50 gives
    4.5 + 5.5 2^-50 + O(2^-100) -> 4.5 + 6 2^-50.  TINY * 0.5 = 2^-1075 rounds to 0: rad ETA.
    """
    m = balls.mul(_one(2.0, 1.0), _one(3.0, 0.5))
    assert m.mid[0] == 6.0 and m.rad[0] == 4.5 + 6 * 2.0**-50
    t = balls.mul(_one(TINY), _one(0.5))
    assert t.mid[0] == 0.0 and t.rad[0] == ETA
    p = balls.mul(_one(1 + 2.0**-52), _one(1 + 2.0**-52))
    assert p.mid[0] == 1 + 2.0**-51 and q(p.rad[0]) >= fmpq(1, 2**104)
    z = balls.mul(mk([0.0, 1e200, 1.0], [INF, 0.0, INF]), mk([0.0, 1e200, 0.0], [0.0, 0, 1]))
    assert z.rad.tolist() == [INF, INF, INF] and z.mid.tolist() == [0.0, 0.0, 0.0]
    assert check_mul() == []


def test_sum_closed_form() -> None:
    """sum([1e16, 1, -1e16]): fl sum 0, exact 1; rad ~ g_3 (2e16 + 1) = 6.661 (in (6.66, 6.67))."""
    s = balls.sum(balls.exact([1e16, 1.0, -1e16]), 0)
    assert s.shape == () and s.mid == 0.0 and 6.66 < s.rad < 6.67
    e = balls.sum(mk(np.zeros((2, 0)), np.zeros((2, 0))), 1)
    assert e.mid.tolist() == [0.0, 0.0] and e.rad.tolist() == [ETA, ETA]
    t = balls.sum(balls.exact(np.full(1000, TINY)), 0)
    assert t.mid == 1000 * TINY and q(t.rad) >= 0
    assert balls.sum(balls.exact([MAXF, MAXF, -MAXF]), 0).rad == INF
    assert balls.sum(mk([[1.0, 2.0], [3.0, 4.0]], np.zeros((2, 2))), 0).mid.tolist() == [4, 6]
    assert check_sum() == []


def test_matmul_closed_form() -> None:
    """matmul: exact-integer products keep their mid; rad ~ g_2 |A||B|; shapes are checked.

    [[0 +- 1]] @ [[3]]: r = Ar |Bm| = 3, times c_matmul(1) = 1 + 4 2^-52 -> 3 + 3 2^-50.
    """
    m = balls.matmul(balls.exact([[1.0, 2.0], [3.0, 4.0]]), balls.exact([[5.0, 6.0], [7.0, 8.0]]))
    assert m.mid.tolist() == [[19, 22], [43, 50]]
    assert np.all(m.rad >= 2 * U * m.mid) and np.all(m.rad <= 3 * U * m.mid)
    r = balls.matmul(mk([[0.0]], [[1.0]]), balls.exact([[3.0]]))
    assert r.mid[0, 0] == 0.0 and r.rad[0, 0] == 3 + 3 * 2.0**-50
    b = balls.matmul(balls.exact(np.ones((2, 3, 4))), balls.exact(np.ones((2, 4, 5))))
    assert b.shape == (2, 3, 5) and np.all(b.mid == 4.0)
    z = balls.matmul(balls.exact(np.zeros((2, 0))), balls.exact(np.zeros((0, 3))))
    assert z.mid.tolist() == [[0.0] * 3] * 2 and np.all(z.rad == ETA)
    o = balls.matmul(balls.exact([[MAXF, MAXF]]), balls.exact([[1.0], [1.0]]))
    assert o.rad[0, 0] == INF and o.mid[0, 0] == 0.0
    assert rejects(lambda: balls.matmul(balls.exact([1.0]), balls.exact([[1.0]])))
    assert rejects(lambda: balls.matmul(balls.exact([[1.0, 2.0]]), balls.exact([[1.0]])))
    assert check_matmul() == []


def test_min_max_closed_form() -> None:
    """min/max of [1 +- 0], [0.9 +- 0.5]: ranges [0.4, 1] and [1, 1.4] (exact decimals)."""
    b = mk([1.0, 0.9], [0.0, 0.5])
    lo9, hi9 = q(0.9) - q(0.5), q(0.9) + q(0.5)
    (mn,) = ivs(balls.min(b, 0))
    (mx,) = ivs(balls.max(b, 0))
    assert mn[0] is not None and mn[1] is not None and mn[0] <= lo9 and mn[1] >= 1
    assert mx[0] is not None and mx[1] is not None and mx[0] <= 1 and mx[1] >= hi9
    u = mk([1.0, 2.0], [0.0, INF])
    assert balls.min(u, 0).rad == INF and balls.max(u, 0).rad == INF
    g = mk([[1.0, 5.0], [3.0, 2.0]], np.zeros((2, 2)))
    assert balls.min(g, 1).mid.tolist() == [1.0, 2.0] and balls.max(g, 0).mid.tolist() == [3, 5]
    assert rejects(lambda: balls.min(mk(np.zeros((2, 0)), np.zeros((2, 0))), 1))
    assert check_min() == [] and check_max() == []


def test_where_lower_sort_exp_closed_form() -> None:
    """min/max with where; min_lower; sort_lower; exp_scaled(0) = 1."""
    g = mk([[1.0, 2.0, 3.0], [4.0, 0.0, 6.0]], [[0.0, 0.5, 0.0], [0.0, 0.0, 1.0]])
    w = np.array([[False, True, True], [True, False, False]])
    assert balls.min(g, 1, where=w).mid.tolist() == [2.0, 4.0]
    assert balls.max(g, 1, where=~w).rad[0] < 1e-15 and balls.max(g, 1, where=~w).mid[1] == 6.0
    lo = balls.lower(g)  # rounded outward: just below mid - rad
    assert balls.min_lower(g, 1).tolist() == [lo[0, 0], lo[1, 1]]
    assert balls.min_lower(g, 1, where=w).tolist()[1] == lo[1, 0]
    assert balls.sort_lower(g, 1)[1].tolist() == sorted(lo[1].tolist())
    assert balls.sort_lower(np.array([3.0, -1.0, 2.0]), 0).tolist() == [-1.0, 2.0, 3.0]
    one = balls.exp_scaled(mk([0.0], [0.0]), 7)
    assert one.mid[0] == 1.0 and one.rad[0] < 1e-30
    assert check_min_where() == [] and check_min_lower() == [] and check_sort_lower() == []
    assert check_exp_scaled() == []


def test_from_arb_closed_form() -> None:
    """from_arb: float mid, radius float(rad) + 2^-52 |mid| rounded up; too big/tiny handled."""
    a = balls.from_arb([arb(1.5, 0.25)], ())  # arb rounds the radius up to 0.25 + 2^-31
    assert a.mid == 1.5 and 0.25 <= a.rad <= 0.25 + 2.0**-30  # mid exact: no |f - mid| term
    b = balls.from_arb([dyarb(2**80 + 1, 0)], ())  # 2^80 + 1: its float is 1 away
    assert b.mid in (2.0**80, 2.0**80 + 2.0**28) and 1.0 <= b.rad <= 2.0**29
    c = balls.from_arb([dyarb(1, -1200)], ())  # |x| < 2^-1100: mid 0, a tiny radius >= |x|
    assert c.mid == 0.0 and 0 < c.rad <= 2.0**-1000
    for x in (arb("nan"), arb("inf"), dyarb(1, 3000), arb(1.0, INF)):
        assert balls.from_arb([x], ()).rad == INF, x
    assert balls.from_arb([arb(1), arb(2), arb(3)], (1, 3)).shape == (1, 3)
    assert balls.from_arb([arb(x) for x in (1, 2, 3, 4)], (2, 2)).mid.tolist() == [[1, 2], [3, 4]]
    assert balls.from_arb([], (0,)).shape == (0,)
    assert rejects(lambda: balls.from_arb([arb(1)], (1, 2)))
    assert rejects(lambda: balls.from_arb([1.0], (1,)))
    assert check_from_arb() == []


def test_to_arb_closed_form() -> None:
    """to_arb(Ball(m, r)) = arb(m, r): mid exact, radius rounded up; unknown -> not finite."""
    x, y, z = balls.to_arb(mk([1.5, 0.0, 2.0], [0.25, INF, 0.0]))
    lo, hi = _arb_iv(x)
    assert x.mid() == arb(1.5) and lo is not None and hi is not None
    assert lo <= q(1.25) and q(1.75) <= hi and hi - lo < q(0.5) + fmpq(1, 2**25)
    assert not y.is_finite() and _arb_iv(z) == (2, 2)
    assert len(balls.to_arb(balls.exact(np.zeros((2, 3))))) == 6
    assert check_to_arb() == []


def test_to_fmpq_bounds_closed_form() -> None:
    """to_fmpq_bounds gives the exact ends mid -+ rad, None where rad = inf."""
    lo, hi = balls.to_fmpq_bounds(mk([1.0, 0.0, 1.0], [0.5, INF, 2.0**-60]))
    assert lo == [fmpq(1, 2), None, 1 - fmpq(1, 2**60)]
    assert hi == [fmpq(3, 2), None, 1 + fmpq(1, 2**60)]
    assert check_to_fmpq_bounds() == []


def test_fp_environment_passes() -> None:
    """check_fp_environment accepts this process (no FTZ/DAZ)."""
    assert balls.check_fp_environment() is None


def test_fp_environment_refuses_ftz(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a probe that sees flushed subnormals, check_fp_environment rejects (ENVIRONMENT)."""
    monkeypatch.setattr(balls, "_bits", _ftz_bits)
    with pytest.raises(CheckError) as e:
        balls.check_fp_environment()
    assert e.value.reason == Reason.ENVIRONMENT


def test_fp_environment_refuses_numpy_daz(monkeypatch: pytest.MonkeyPatch) -> None:
    """With numpy treating subnormal inputs as zero (DAZ), check_fp_environment rejects."""
    monkeypatch.setattr(balls, "np", _daz_numpy())
    with pytest.raises(CheckError) as e:
        balls.check_fp_environment()
    assert e.value.reason == Reason.ENVIRONMENT


def test_nan_and_inf_never_give_a_finite_ball() -> None:
    """A nan/inf mid or nan rad reaching an operation yields unknown, never a finite ball."""
    poison = [mk([math.nan], [0.0]), mk([INF], [0.0]), mk([-INF], [1.0]), mk([1.0], [math.nan])]
    one = _one(1.0)
    for p in poison:
        outs = [balls.add(p, one), balls.sub(one, p), balls.mul(p, one), balls.mul(one, p)]
        outs += [balls.sum(p, 0), balls.min(p, 0), balls.max(p, 0)]
        p2 = Ball(p.mid.reshape(1, 1), p.rad.reshape(1, 1))
        outs += [balls.matmul(p2, balls.exact([[1.0]])), balls.matmul(balls.exact([[1.0]]), p2)]
        for o in outs:
            assert np.all(np.isfinite(o.mid)) and np.all(o.rad == INF), (p, o)
        assert not math.isfinite(balls.lower(p)[0]) and not math.isfinite(balls.upper(p)[0])
    nan = mk([math.nan, 1.0, -1.0], [0.0, math.nan, math.nan])
    assert not balls.positive(nan).any() and not balls.nonpositive(nan).any()


def test_zero_dim_add() -> None:
    """add of two 0-d balls (e.g. two full sums) works (was a ValueError from _finish)."""
    s = balls.sum(balls.exact([1.0, 2.0]), 0)
    assert balls.add(s, s).mid == 6.0


# ---- property tests (hypothesis; exact rationals, zero tolerance) -------------------------

_mant = st.integers(-(2**53), 2**53)
finite = st.one_of(
    st.sampled_from(VALUES),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-8.0, 8.0),
    st.builds(math.ldexp, _mant, st.integers(-1130, 970)),
)
seeds = st.integers(0, 2**32 - 1)


@st.composite
def entry(draw: Any) -> tuple[float, float]:
    """A (mid, rad) pair: rad special, arbitrary, dyadic, or relative to mid."""
    m = draw(finite)
    kind = draw(st.integers(0, 3))
    if kind == 0:
        r = draw(st.sampled_from(RADS))
    elif kind == 1:
        r = draw(st.floats(0.0, MAXF))
    elif kind == 2:
        r = math.ldexp(draw(st.integers(0, 2**53)), draw(st.integers(-1130, 970)))
    else:
        r = abs(m) * 2.0 ** -draw(st.integers(0, 60))
    return m, r


def vec(n: int) -> st.SearchStrategy[Ball]:
    return st.lists(entry(), min_size=n, max_size=n).map(mkl)


@st.composite
def pair(draw: Any) -> tuple[Ball, Ball]:
    """Two 1-D balls of length n, or n and 1 (broadcasting)."""
    n = draw(st.integers(1, 4))
    return draw(vec(n)), draw(vec(draw(st.sampled_from([n, 1]))))


@st.composite
def grid(draw: Any, rows: tuple[int, int], cols: tuple[int, int]) -> Ball:
    r, c = draw(st.integers(*rows)), draw(st.integers(*cols))
    e = draw(st.lists(entry(), min_size=r * c, max_size=r * c))
    return mk(np.array([m for m, _ in e]).reshape(r, c), np.array([x for _, x in e]).reshape(r, c))


@PROPS
@given(pair(), seeds)
def test_add_contains(ab: tuple[Ball, Ball], seed: int) -> None:
    """add(a, b) contains x + y at every endpoint and random interior point."""
    assert check_add(*ab, rng=random.Random(seed)) == []


@PROPS
@given(pair(), seeds)
def test_sub_contains(ab: tuple[Ball, Ball], seed: int) -> None:
    """sub(a, b) contains x - y at every endpoint and random interior point."""
    assert check_sub(*ab, rng=random.Random(seed)) == []


@PROPS
@given(pair(), seeds)
def test_mul_contains(ab: tuple[Ball, Ball], seed: int) -> None:
    """mul(a, b) contains x y at every endpoint and random interior point."""
    assert check_mul(*ab, rng=random.Random(seed)) == []


@PROPS
@given(st.integers(1, 6).flatmap(vec), seeds)
def test_index_endpoints_signs(b: Ball, seed: int) -> None:
    """indexing is exact; lower <= every member <= upper; positive/nonpositive are certain;
    min_lower, sort_lower and exp_scaled are sound."""
    assert check_index(b) == [] and check_exp_scaled(b, 1 + seed % 5) == []
    assert check_min_lower([(b, 0)]) == [] and check_sort_lower([(b, 0)]) == []
    assert check_lower(b) == [] and check_upper(b) == []
    assert check_positive(b) == [] and check_nonpositive(b) == []
    assert check_to_arb(b) == [] and check_to_fmpq_bounds(b) == []


@PROPS
@given(grid((1, 3), (0, 8)), st.sampled_from([0, 1, -1]), seeds)
def test_sum_contains(b: Ball, axis: int, seed: int) -> None:
    """sum(b, axis) contains the exact sum of every choice of members."""
    assert check_sum([(b, axis)], rng=random.Random(seed)) == []


@settings(PROPS, max_examples=25)
@given(seeds, st.integers(100, 3000), st.integers(-1074, 900), st.integers(0, 120))
def test_long_sum_and_dot_contain(seed: int, n: int, lo: int, width: int) -> None:
    """Long sums and dot products (n up to 3000, mixed magnitudes) contain the exact result."""
    g = np.random.default_rng(seed)
    hi = min(lo + width, 1000)
    x, y = _mixed(g, n, lo, hi + 1), _mixed(g, n, -30, 30)
    rx = np.abs(_mixed(g, n, lo - 60, hi - 20)) * (g.random(n) < 0.5)
    assert check_sum([(mk(x, rx), 0)]) == []
    a, b = mk(x[None, :], rx[None, :]), mk(y[:, None], np.zeros((n, 1)))
    assert check_matmul([(a, b)]) == []


@PROPS
@given(grid((1, 3), (0, 5)), grid((1, 3), (1, 3)), seeds)
def test_matmul_contains(a: Ball, b0: Ball, seed: int) -> None:
    """matmul(a, b) contains X @ Y: exact entry ranges and random member matrices."""
    n, p = a.shape[1], b0.shape[1]
    b = mk(np.resize(b0.mid, (n, p)), np.resize(b0.rad, (n, p)))
    assert check_matmul([(a, b)], rng=random.Random(seed)) == []


@settings(PROPS, max_examples=60)
@given(grid((2, 6), (1, 3)), grid((2, 6), (1, 3)), seeds)
def test_batched_matmul_contains(a0: Ball, b0: Ball, seed: int) -> None:
    """Batched matmul (2, m, n) @ (1, n, p) contains every member product."""
    m, n, p = a0.shape[1], b0.shape[1], b0.shape[0] % 3 + 1
    a = mk(np.resize(a0.mid, (2, m, n)), np.resize(a0.rad, (2, m, n)))
    b = mk(np.resize(b0.mid, (1, n, p)), np.resize(b0.rad, (1, n, p)))
    assert check_matmul([(a, b)], rng=random.Random(seed)) == []


@PROPS
@given(grid((1, 3), (1, 6)), st.sampled_from([0, 1, -1]), seeds)
def test_min_max_contain(b: Ball, axis: int, seed: int) -> None:
    """min/max along axis contain the min/max of every choice of members."""
    assert check_min([(b, axis)], rng=random.Random(seed)) == []
    assert check_max([(b, axis)], rng=random.Random(seed)) == []


_end_f = st.one_of(finite, st.sampled_from([-INF, INF]))


@PROPS
@given(st.lists(st.tuples(_end_f, _end_f), min_size=1, max_size=6))
def test_from_bounds_contains(ends: list[tuple[float, float]]) -> None:
    """from_bounds(lo, hi) contains [lo, hi] (unbounded ends give unknown)."""
    ends = [(a, b) if a <= b else (b, a) for a, b in ends]
    ends = [(a, b) for a, b in ends if not (a == b and math.isinf(a))] or [(0.0, 1.0)]
    assert check_from_bounds([a for a, _ in ends], [b for _, b in ends]) == []


_arbs = st.builds(
    dyarb,
    st.integers(-(2**200), 2**200),
    st.integers(-1400, 1100),
    st.integers(0, 2**64),
    st.integers(-1400, 1100),
)


@PROPS
@given(st.lists(_arbs, min_size=1, max_size=5))
def test_from_arb_contains(xs: list[arb]) -> None:
    """from_arb(x) contains every real of the arb x (exact dyadic mid and radius)."""
    assert check_from_arb(xs) == []


@PROPS
@given(st.integers(1, 6).flatmap(vec), st.lists(st.booleans(), min_size=6, max_size=6))
def test_min_max_where_contains(b: Ball, keep: list[bool]) -> None:
    """min/max with where contain the min/max over the selected entries."""
    where = np.array(keep[: b.shape[0]])
    assert check_min_where([(b, 0, where)]) == []


_NEAR_2_53 = [s * (2**53 + k) for s in (1, -1) for k in range(-2, 4)]


@PROPS
@given(
    st.lists(entry(), min_size=1, max_size=6),
    st.one_of(st.integers(-(2**60), 2**60), st.sampled_from(_NEAR_2_53)),
)
def test_ball_exact_keep_values(e: list[tuple[float, float]], i: int) -> None:
    """ball/exact keep floats exactly; an integer is kept exactly or rejected."""
    b = balls.ball([m for m, _ in e], [r for _, r in e])
    assert b.mid.tolist() == [m for m, _ in e] and b.rad.tolist() == [r for _, r in e]
    assert contain(balls.exact([m for m, _ in e]), [(q(m), q(m)) for m, _ in e], "exact") == []
    assert _exact_or_rejected(lambda: balls.exact(np.array([i])), [fmpq(i)], "exact") == []
