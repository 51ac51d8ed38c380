"""Rigorous float64 midpoint-radius balls: the kernel's bulk arithmetic.

A ``Ball(mid, rad)`` denotes, elementwise, the closed real interval [mid - rad, mid + rad]
taken in exact real arithmetic (a float is an exact dyadic rational).  ``rad = +inf`` means
"unknown" (all of R).  Every operation returns a Ball that contains the exact real result for
every choice of reals from its input balls.

Rounding model.  IEEE binary64, round-to-nearest, no rounding-mode changes, no FTZ/DAZ
(checked at import by :func:`check_fp_environment`); u = U = 2^-53, e = 2^-1075.  For one
operation with exact result z >= 0 and computed fl(z):
  (M1) z <= fl(z)(1+u) + e  and  fl(z) >= z(1-u) - e, with e = 0 for + and -;
  (M2) |fl(z) - z| <= u|fl(z)| for + and - of any sign (a sum in the subnormal range is exact);
  (M3) a sum or dot product of n terms, in any order, FMA allowed (Higham sec. 3.5):
       |fl(S) - S| <= g_n S_abs + n 2^-1074 (the last term only for products), where
       g_n = nu/(1-nu) and S_abs is the sum of |terms|.
inf and nan are absorbing under + and x with finite operands, so a finite result met no
overflow and (M1)-(M3) apply to it; :func:`_finish` turns a non-finite mid or a nan rad into
"unknown", and a radius that overflows to +inf stays a (useless but true) upper bound.

Lemma UP (outward rounding of a radius).  Let s be real and s^ >= 0 a float with
s <= K s^ + T, T <= 2^-1023.  If c is a float with c(1-u)^2 >= K, then
r = fl(fl(c s^) + ETA) >= s.  Proof: by (M1), r >= (c s^ (1-u) - e + ETA)(1-u)
= c s^ (1-u)^2 + (ETA - e)(1-u) >= K s^ + T.  Every c below is made by :func:`_factor` from
an exact rational K and re-checked with fmpq, at import or (n-dependent ones) when first used.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from flint import arb, ctx, fmpq

from checker.errors import Reason, require

F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

U = 2.0**-53
ETA = 2.0**-1022
_UQ = fmpq(1, 2**53)
_quiet = np.errstate(over="ignore", invalid="ignore")  # overflow is handled, not warned
_NMAX = 2**40  # largest n for sums/dots: keeps g_n tiny and the tails n 2^-1074 << ETA/2


@dataclass(frozen=True, slots=True)
class Ball:
    """Elementwise [mid - rad, mid + rad]; mid finite, rad >= 0 or +inf, same shape.

    Indexing, ``.T`` and :meth:`bcast` apply the same numpy view to mid and rad (exact: no
    arithmetic), so no formula is written twice.
    """

    mid: F64
    rad: F64

    @property
    def shape(self) -> tuple[int, ...]:
        return self.mid.shape

    def __getitem__(self, idx: Any) -> Ball:
        return Ball(self.mid[idx], self.rad[idx])

    @property
    def T(self) -> Ball:
        return Ball(self.mid.T, self.rad.T)

    def bcast(self, shape: tuple[int, ...]) -> Ball:
        return Ball(np.broadcast_to(self.mid, shape), np.broadcast_to(self.rad, shape))


class Meter:
    """Proof length (DESIGN.md §5): real operations, counted by the primitives themselves.

    Convention (the paper's FLOP count): each real +, -, x, comparison and exp is 1; a sum of
    n terms is n - 1; a matrix product [m, n] @ [n, p] is m p (2n - 1); a min/max over n is
    n - 1 comparisons; sorting n numbers is n ceil(log2 n) comparisons.  Radii, endpoint
    extraction, exact negation, indexing and conversions are ball bookkeeping and are not
    counted.  The replay loop adds one per number read from the certificate.
    """

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops = 0


METER = Meter()


def charge(n: int) -> None:
    """Add n real operations to the proof length."""
    METER.ops += int(n)


# ---- exact conversions and verified constants ---------------------------------------------


def _q(x: float) -> fmpq:
    """Return the exact rational value of the finite float ``x``."""
    n, d = float(x).as_integer_ratio()
    return fmpq(n, d)


def _float_up(q: fmpq) -> float:
    """Return a float >= q (q >= 0): the nearest float, bumped one ulp if below; inf if too big.

    Reject (ENVIRONMENT) if the result is not >= q exactly.
    """
    try:
        f = int(q.p) / int(q.q)  # CPython long division: correctly rounded
    except OverflowError:
        return math.inf
    if _q(f) < q:
        f += f * 2.0**-52 if f >= ETA else 2.0**-1074
    require(f == math.inf or _q(f) >= q, Reason.ENVIRONMENT, f"balls: rounding up {q} failed")
    return f


def _factor(K: fmpq) -> float:
    """Return c with c(1-u)^2 >= K exactly (the constant of Lemma UP); reject otherwise."""
    c = _float_up(K / (1 - _UQ) ** 2)
    require(_q(c) * (1 - _UQ) ** 2 >= K, Reason.ENVIRONMENT, f"balls: constant {c} < {K}")
    return c


def _gamma_q(n: int) -> fmpq:
    require(0 <= n <= _NMAX, Reason.UNSUPPORTED, f"balls: length {n} exceeds {_NMAX}")
    return n * _UQ / (1 - n * _UQ)


@functools.lru_cache(maxsize=256)
def _gamma(n: int) -> float:
    """Return a float >= g_n = nu/(1-nu), verified exactly."""
    return _float_up(_gamma_q(n))


@functools.lru_cache(maxsize=256)
def _c_sum(n: int) -> float:
    return _factor((1 + _UQ) ** 2 / (1 - _gamma_q(n)))


@functools.lru_cache(maxsize=256)
def _c_matmul(n: int) -> float:
    return _factor((1 + _UQ) / ((1 - _UQ) ** 3 * (1 - _gamma_q(n))))


_C1 = _factor((1 + _UQ) ** 1)  # from_bounds: one rounding
_C3 = _factor((1 + _UQ) ** 3)  # add, sub
_C4 = _factor((1 + _UQ) ** 4)  # mul
_K_LOW = _float_up(2 * _UQ / (1 - _UQ) ** 3)  # lower/upper: K(1-u)^3 >= 2u
require(_q(_K_LOW) * (1 - _UQ) ** 3 >= 2 * _UQ, Reason.ENVIRONMENT, "balls: K_LOW too small")


def _up(s: F64, c: float) -> F64:
    """In place s := fl(fl(c s) + ETA) (Lemma UP); returns s."""
    s *= c
    s += ETA
    return s


def _arr(x: Any) -> F64:
    return np.asarray(x, dtype=np.float64)


def _finish(mid: F64, rad: F64) -> Ball:
    """Return Ball(mid, rad) from fresh arrays, with non-finite mid or nan rad -> unknown.

    Fast test: a sum containing inf or nan is not finite (absorbing), so a finite sum of mid
    and a non-nan sum of rad (rad >= 0) prove every entry fine; otherwise fix elementwise.
    (0-d results of numpy ufuncs are scalars; they are made 0-d arrays first.)
    """
    if mid.ndim == 0 or rad.ndim == 0:
        mid, rad = np.array(mid, dtype=np.float64), np.array(rad, dtype=np.float64)
    if not (math.isfinite(float(np.sum(mid))) and not math.isnan(float(np.sum(rad)))):
        bad = ~np.isfinite(mid)
        mid[bad] = 0.0
        bad |= np.isnan(rad)
        rad[bad] = math.inf
    mid.flags.writeable = False
    rad.flags.writeable = False
    return Ball(mid, rad)


# ---- construction -------------------------------------------------------------------------


def _f64(x: Any, what: str) -> F64:
    """Return a read-only float64 copy of ``x``; reject a dtype whose conversion could round.

    Integers must satisfy |float(i)| < 2^53 (strict): rounding is monotone and 2^53 is a float,
    so this means |i| < 2^53, where the conversion is exact.  (A bound of <= 2^53 let 2^53 + 1
    through: it rounds to 2^53 and passed the test on its rounded value.)
    """
    a = np.asarray(x)
    kind, size = a.dtype.kind, a.dtype.itemsize
    ok = (kind == "f" and size <= 8) or kind == "b" or (kind in "iu" and a.size == 0)
    if kind in "iu" and a.size > 0:
        ok = bool(np.all(np.abs(a.astype(np.float64)) < 2.0**53))
    require(ok, Reason.LEMMA_FAILED, f"ball: {what} of dtype {a.dtype} is not exactly float64")
    out = np.array(a, dtype=np.float64, copy=True)
    out.flags.writeable = False
    return out


def ball(mid: Any, rad: Any) -> Ball:
    """Return Ball(mid, rad).  Reject if shapes differ, mid is not finite, or rad is nan or < 0."""
    m, r = _f64(mid, "mid"), _f64(rad, "rad")
    require(m.shape == r.shape, Reason.LEMMA_FAILED, f"ball: shapes {m.shape} != {r.shape}")
    require(bool(np.all(np.isfinite(m))), Reason.LEMMA_FAILED, "ball: mid not finite")
    require(bool(np.all(r >= 0)), Reason.LEMMA_FAILED, "ball: rad nan or negative")
    return Ball(m, r)


def exact(x: Any) -> Ball:
    """Return the radius-0 ball of the floats ``x``.  Reject if any is not finite."""
    m = _f64(x, "value")
    return ball(m, np.zeros_like(m))


@_quiet
def _hull(lo: F64, hi: F64) -> Ball:
    """Ball containing [lo, hi] (lo <= hi, not nan; +-inf gives unknown).

    Lemma: m = fl(lo/2 + hi/2) is any float; the exact radius needed is
    s = max(hi - m, m - lo) >= 0, and by (M1) s <= max(fl(hi - m), fl(m - lo))(1+u): K = 1+u.
    """
    m = _arr(lo * 0.5)
    m += hi * 0.5
    r = _arr(hi - m)
    np.maximum(r, m - lo, out=r)
    return _finish(m, _up(r, _C1))


def from_bounds(lo: Any, hi: Any) -> Ball:
    """Return a ball containing [lo, hi] elementwise.  Reject if nan, lo > hi, shapes differ."""
    a, b = _f64(lo, "lo"), _f64(hi, "hi")
    require(a.shape == b.shape, Reason.LEMMA_FAILED, "from_bounds: shapes differ")
    require(bool(np.all(a <= b)), Reason.LEMMA_FAILED, "from_bounds: lo > hi or nan")
    return _hull(a, b)


# ---- endpoints and certain signs ----------------------------------------------------------


@_quiet
def lower(b: Ball) -> F64:
    """Return floats <= mid - rad exactly (-inf when unknown).

    Lemma: d = fl(mid - rad) has |x - d| <= u|d| (M2) for x = mid - rad; t = fl(fl(|d| K) + ETA)
    >= |d| K (1-u)^2 by (M1); L = fl(d - t) <= d - t + u(|d| + t) = d + u|d| - t(1-u)
    <= d - u|d| <= x since t(1-u) >= |d| K (1-u)^3 >= 2u|d| (K = _K_LOW, checked at import).
    """
    return _down(_arr(b.mid - b.rad))


def _down(d: F64) -> F64:
    """In place d := fl(d - fl(fl(|d| K) + ETA)) <= d - u|d| (lemma of :func:`lower`)."""
    t = np.abs(d)
    t *= _K_LOW
    t += ETA
    d -= t
    return d


def _upward(d: F64) -> F64:
    """In place d := fl(d + fl(fl(|d| K) + ETA)) >= d + u|d| (mirror of :func:`_down`)."""
    t = np.abs(d)
    t *= _K_LOW
    t += ETA
    d += t
    return d


@_quiet
def upper(b: Ball) -> F64:
    """Return floats >= mid + rad exactly (+inf when unknown).  Lemma: mirror of :func:`lower`."""
    return _upward(_arr(b.mid + b.rad))


def positive(b: Ball) -> Bools:
    """Return where the ball is certainly > 0: mid > rad, an exact float comparison."""
    charge(b.mid.size)
    return np.greater(b.mid, b.rad)


def nonpositive(b: Ball) -> Bools:
    """Return where the ball is certainly <= 0: mid <= -rad (negation is exact)."""
    charge(b.mid.size)
    return np.less_equal(b.mid, -b.rad)


# ---- arithmetic ---------------------------------------------------------------------------


def _ro(x: F64) -> F64:
    x.flags.writeable = False
    return x


def _addsub(a: Ball, b: Ball, mid: F64) -> Ball:
    charge(mid.size)
    r = np.abs(mid)
    r *= U
    r += a.rad
    r += b.rad
    return _finish(mid, _up(r, _C3))


@_quiet
def add(a: Ball, b: Ball) -> Ball:
    """Return a ball containing x + y for x in a, y in b (numpy broadcasting).

    Lemma: |x + y - mid| <= ar + br + u|mid| (M2); computed as s^ = fl(fl(fl(u|mid|) + ar) + br)
    this is <= s^(1+u)^3 + e by (M1): Lemma UP with K = (1+u)^3.
    """
    return _addsub(a, b, _arr(a.mid + b.mid))


@_quiet
def sub(a: Ball, b: Ball) -> Ball:
    """Return a ball containing x - y for x in a, y in b.  Lemma: as :func:`add`."""
    return _addsub(a, b, _arr(a.mid - b.mid))


@_quiet
def mul(a: Ball, b: Ball) -> Ball:
    """Return a ball containing x y for x in a, y in b (numpy broadcasting).

    Lemma: x = am + p, y = bm + q, |p| <= ar, |q| <= br: |xy - am bm| <= |am| br + ar(|bm| + br),
    and |am bm - mid| <= u|mid| + e (M1).  The radius s^ = fl(fl(P1 + P2) + P3) of
    P1 = fl(|am| br), P2 = fl(ar fl(|bm| + br)), P3 = fl(u|mid|) satisfies
    s <= s^(1+u)^4 + 6e by (M1) (at most four roundings on any path, operands of each product
    exact or a sum): Lemma UP with K = (1+u)^4.
    """
    mid = _arr(a.mid * b.mid)
    charge(mid.size)
    r = np.empty(mid.shape)
    t = np.empty(mid.shape)
    np.abs(a.mid, out=r)
    r *= b.rad
    np.abs(b.mid, out=t)
    t += b.rad
    t *= a.rad
    r += t
    np.abs(mid, out=t)
    t *= U
    r += t
    return _finish(mid, _up(r, _C4))


@_quiet
def sum(a: Ball, axis: int) -> Ball:
    """Return a ball containing the sum along ``axis`` of any x in a.  Reject if n > 2^40.

    Lemma: |sum x - mid| <= sum ar + g_n sum|am| (M3) <= sum t_k (1+u)^2 + 2ne with
    t_k = fl(fl(g|am_k|) + ar_k), g >= g_n; sum t_k <= fl(sum t_k)/(1-g_n) by (M3):
    Lemma UP with K = (1+u)^2/(1-g_n), T = 2ne.
    """
    n = a.shape[axis]
    mid = _arr(np.sum(a.mid, axis=axis))
    charge((n - 1 if n else 0) * mid.size)
    t = np.abs(a.mid)
    t *= _gamma(n)
    t += a.rad
    return _finish(mid, _up(_arr(np.sum(t, axis=axis)), _c_sum(n)))


@_quiet
def matmul(a: Ball, b: Ball) -> Ball:
    """Return a ball containing X @ Y for X in a, Y in b (2-D or batched; inner length n).

    Reject if ndim < 2, inner dimensions differ, or n > 2^40.
    Lemma (Rump 1999): |XY - Am Bm| <= |Am| Br + Ar(|Bm| + Br) and |fl(Am Bm) - Am Bm| <=
    g_n |Am||Bm| + n2^-1074 (M3).  Y = fl(fl(fl(g|Bm|) + Br) + ETA) >= (Br + g|Bm|)(1-u)^3 and
    Z = fl(|Bm| + Br) >= (|Bm| + Br)(1-u) by (M1) (ETA absorbs the underflow of g|Bm|);
    D1 = fl(|Am| Y), D2 = fl(Ar Z) satisfy |Am| Y <= (D1 + n2^-1074)/(1-g_n) (M3), likewise D2.
    So s <= fl(D1 + D2)(1+u)/((1-u)^3 (1-g_n)) + 3.01 n2^-1074: Lemma UP with that K.
    (D2 is skipped when Ar is all zero.)  NB: relies on BLAS summing each entry's n products
    in some order in float64, as every dgemm does.
    """
    require(
        a.mid.ndim >= 2 and b.mid.ndim >= 2 and a.shape[-1] == b.shape[-2],
        Reason.LEMMA_FAILED,
        f"matmul: shapes {a.shape} @ {b.shape}",
    )
    n = a.shape[-1]
    mid = _arr(a.mid @ b.mid)
    charge(mid.size * (2 * n - 1))
    y = np.abs(b.mid)
    y *= _gamma(n)
    y += b.rad
    y += ETA
    r = _arr(np.abs(a.mid) @ y)
    if a.rad.any():
        z = np.abs(b.mid)
        z += b.rad
        r += a.rad @ z
    return _finish(mid, _up(r, _c_matmul(n)))


@_quiet
def min(a: Ball, axis: int, where: Bools | None = None) -> Ball:
    """Return a ball containing min along ``axis`` of any x in a.  Reject if the axis is empty.

    With ``where`` (broadcastable to a), the minimum is over the entries where it is true;
    a row with none gives an unknown ball.

    Lemma: x_i in [mid_i - rad_i, mid_i + rad_i] gives min x_i in [min(mid - rad), min(mid + rad)].
    With d_i = fl(mid_i -+ rad_i) and the increasing maps p(d) = d - u|d|, q(d) = d + u|d|:
    mid_i - rad_i >= p(d_i) >= p(min d) >= _down(min d) (M2 and lemma of :func:`lower`), and
    min(mid + rad) <= q(d_j) <= _upward(d_j) at j = argmin d; so round after reducing.
    """
    return _reduce(a, axis, np.min, where)


@_quiet
def max(a: Ball, axis: int, where: Bools | None = None) -> Ball:
    """Return a ball containing max along ``axis`` of any x in a.  Reject if the axis is empty.

    Lemma: mirror of :func:`min` (max x_i in [max(mid - rad), max(mid + rad)]).
    """
    return _reduce(a, axis, np.max, where)


def _reduce(a: Ball, axis: int, red: Any, where: Bools | None = None) -> Ball:
    require(a.shape[axis] > 0, Reason.LEMMA_FAILED, "min/max: empty axis")
    n = a.shape[axis] if where is None else int(np.broadcast_to(where, a.shape).sum(axis).max())
    charge(n * (a.mid.size // a.shape[axis]) - a.mid.size // a.shape[axis])
    fill = np.inf if red is np.min else -np.inf
    d = _arr(a.mid - a.rad)
    if where is not None:
        d = np.where(where, d, fill)
    lo = _down(_arr(red(d, axis=axis)))
    np.add(a.mid, a.rad, out=d)
    if where is not None:
        d = np.where(where, d, fill)
    return _hull(lo, _upward(_arr(red(d, axis=axis))))


# ---- arb interface ------------------------------------------------------------------------

_C_ARB = _factor((1 + _UQ) * (1 + 2 * _UQ))  # from_arb


def from_arb(vals: Sequence[arb], shape: tuple[int, ...]) -> Ball:
    """Return balls containing the arbs ``vals`` (C order) as an array of ``shape``.

    Reject if an entry is not an arb or the count differs.
    Lemma: f = float(mid) and g = float(rad) are faithful roundings of the exact dyadic mid and
    rad (error below one ulp in either direction; 0 or inf outside the float range), so
    |f - mid| <= 2^-52 |f| + 2^-1074 and rad <= g (1 + 2^-52) + 2^-1074.  Hence rad + |f - mid|
    <= (g + 2^-52 |f|)(1 + 2u) + 2^-1073, and with t = fl(2^-52 |f|) (exact but for underflow,
    2^-1075) and s^ = fl(g + t), (M1) gives <= s^ (1+u)(1+2u) + 2^-1072: Lemma UP with
    K = (1+u)(1+2u).  Where f = mid exactly (checked in arb: arb(f) is exact) the |f - mid|
    term is 0.  A non-finite f or g (overflow, a non-finite arb) gives an unknown ball.
    """
    ok = all(isinstance(v, arb) for v in vals) and len(vals) == math.prod(shape)
    require(ok, Reason.LEMMA_FAILED, "from_arb: expects arbs filling the shape")
    fs = [float(v.mid()) for v in vals]
    exact = np.array([arb(f) == v.mid() for f, v in zip(fs, vals, strict=True)], dtype=bool)
    mid = np.array(fs, dtype=np.float64).reshape(shape)
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.where(exact.reshape(shape), 0.0, np.abs(mid) * 2.0**-52)
        t += np.array([float(v.rad()) for v in vals], dtype=np.float64).reshape(shape)
        return _finish(mid, _up(t, _C_ARB))


def exp_scaled(b: Ball, e: int) -> Ball:
    """Return balls containing exp(x / sqrt(e)) for every x in ``b`` (e >= 1); 2 ops an entry.

    Lemma: arb(m, r) contains [m - r, m + r] (:func:`to_arb`); arb's sqrt, division, product
    and exp return balls containing the exact results at any precision; :func:`from_arb`
    encloses them.  exp is never taken from numpy (not correctly rounded).
    """
    require(isinstance(e, int) and e >= 1, Reason.LEMMA_FAILED, "exp: bad scale")
    charge(2 * b.mid.size)
    old = ctx.prec
    ctx.prec = 128
    try:
        inv = arb(1) / arb(e).sqrt()
        return from_arb([(x * inv).exp() for x in to_arb(b)], b.shape)
    finally:
        ctx.prec = old


def min_lower(b: Ball, axis: int, where: Bools | None = None) -> F64:
    """Return floats <= the min along ``axis`` of any x in b (over the entries where ``where``
    is true; +inf for none): the min of the lower ends (exact on floats); n - 1 ops a row."""
    lo = lower(b)
    if where is not None:
        lo = np.where(where, lo, np.inf)
    charge(lo.size - lo.size // lo.shape[axis] if lo.size else 0)
    return np.asarray(lo.min(axis=axis))


def sort_lower(b: Ball | F64, axis: int) -> F64:
    """Return the lower ends of ``b`` (or the floats ``b``, taken as lower bounds) sorted
    ascending along ``axis``; n ceil(log2 n) ops a row.

    Lemma: if x_i >= l_i for every i then the j-th smallest x is >= the j-th smallest l (the j
    smallest x lie above j of the l's, so above the j-th smallest l).
    """
    lo = lower(b) if isinstance(b, Ball) else b
    n = lo.shape[axis]
    charge(n * math.ceil(math.log2(n)) * (lo.size // n) if n > 1 else 0)
    return np.sort(lo, axis=axis)


def to_arb(b: Ball) -> list[arb]:
    """Return, in C order, an arb containing each entry's ball.

    arb(m, r) stores m exactly and rounds r up (to 30 bits), so it contains [m - r, m + r].
    """
    return [arb(m, r) for m, r in zip(b.mid.ravel().tolist(), b.rad.ravel().tolist(), strict=True)]


def to_fmpq_bounds(b: Ball) -> tuple[list[fmpq | None], list[fmpq | None]]:
    """Return exact (lo, hi) lists in C order; None marks an unbounded end (rad = inf)."""
    lo: list[fmpq | None] = []
    hi: list[fmpq | None] = []
    for m, r in zip(b.mid.ravel().tolist(), b.rad.ravel().tolist(), strict=True):
        if math.isinf(r):
            lo.append(None)
            hi.append(None)
        else:
            mq, rq = _q(m), _q(r)
            lo.append(mq - rq)
            hi.append(mq + rq)
    return lo, hi


# ---- floating-point environment -----------------------------------------------------------


def _from_bits(n: int) -> float:
    return float(struct.unpack("<d", struct.pack("<q", n))[0])


def _bits(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0])


def check_fp_environment() -> None:
    """Return if subnormals work in Python floats and numpy arrays, ufuncs, sums and matmul.

    Reject (ENVIRONMENT) if flush-to-zero or denormals-are-zero is active: results are
    compared bit for bit (DAZ would make a subnormal compare equal to 0).
    """
    tiny, tiny2, half_min = _from_bits(1), _from_bits(2), _from_bits(1 << 51)
    min_normal = _from_bits(1 << 52)
    ok = _bits(tiny * 2.0) == 2 and _bits(tiny + tiny) == 2 and _bits(min_normal / 2.0) == 1 << 51
    ok = ok and _bits(min_normal * 0.5) == 1 << 51 and _bits(tiny2 - tiny) == 1
    v = np.full(64, tiny)
    w = np.full(64, min_normal)
    ok = ok and bool(np.all((v * 2.0).view(np.int64) == 2))
    ok = ok and bool(np.all((w * 0.5).view(np.int64) == 1 << 51))
    ok = ok and bool(np.all((v + v).view(np.int64) == 2))
    ok = ok and _bits(float(np.sum(v))) == 64 and _bits(float(v @ np.ones(64))) == 64
    m = np.full((8, 8), min_normal) @ np.full((8, 8), 2.0**-10)
    ok = ok and bool(np.all(m.view(np.int64) == 1 << 45)) and half_min != 0.0
    require(ok, Reason.ENVIRONMENT, "balls: flush-to-zero or denormals-are-zero is active")
    one, tiny3 = _from_bits(0x3FF0000000000000), _from_bits(0x3C30000000000000)  # 1, 2^-60
    near = one + tiny3 == one and one - tiny3 == one and -one - tiny3 == -one
    ones = np.full(8, one)
    near = near and bool(np.all(ones + tiny3 == one)) and bool(np.all(-ones + tiny3 == -one))
    near = near and bool(np.all(ones - tiny3 == one)) and bool(np.all(-ones - tiny3 == -one))
    require(near, Reason.ENVIRONMENT, "balls: the rounding mode is not round-to-nearest")


check_fp_environment()
