"""Measured ulp error of a float32 ``exp`` over every input a softmax gives it (DESIGN.md §9).

The float32 theorem assumes ``|exp_impl(x) - exp(x)| <= U * ulp(exp(x))`` for **every** float32
``x <= 0`` (the softmax subtracts the max first).  This module measures that U for a named
implementation, exhaustively:

* the *domain*: every float32 ``x <= 0`` (``-0.0`` and ``+0.0`` included) with
  ``exp(x) > 2^-150``, i.e. ``x > -150 ln 2``, where a correct rounding is nonzero
  (1,120,924,086 inputs; :data:`DOMAIN`);
* the *tail*: every float32 from the next one below down to ``-inf`` (:data:`TAIL`), where
  ``exp(x) < 2^-150`` and the implementation must return ``0`` or ``2^-149``.

Errors are taken against :func:`reference_exp`, a float64 exp written here whose relative
error is proved (:func:`reference_error_bound`, derived in arb from the very constants it
uses, and ``docs/exp-audit.md``) to be below :data:`REF_EPS` = 2^-45.  The U reported is an
upper bound: the measured maximum, plus the reference's contribution, rounded *up* to a
multiple of 1/1024 (:func:`u_bound`).

Untrusted like every generator: the kernel takes U as part of the statement; this tool is
how a user finds a U that is true for their machine.  ``docs/exp-audit.md`` has the
derivation and the measured numbers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

# --- Domain vocabulary ----------------------------------------------------------------------

Impl = Callable[[np.ndarray], np.ndarray]  # float32[n] (x <= 0) -> float32[n]
BitRange = tuple[int, int]  # half-open range [lo, hi) of float32 bit patterns (uint32)
Candidate = tuple[int, float, float]  # (bit pattern of x, impl output, computed ulp error)

U64 = 2.0**-53  # unit roundoff of float64
REF_EPS = Fraction(1, 2**45)  # proven relative error bound of reference_exp (checked in arb)
U_QUANTUM = Fraction(1, 1024)  # U is rounded up to a multiple of this
TINY = 2.0**-149  # the smallest positive float32 (subnormal)
TASK = 1 << 22  # bit patterns per worker task
# Inputs whose computed error is within CAND_WINDOW of the maximum are re-decided in arb.
# 2^-19 is twice the reference's 2^-21 (REF_EPS 2^24) with room for the float64 roundings: an
# input left out then has domain_bound(err) below the arb error at the maximum, so the bound is
# the exact error there (a correctly rounded exp gets U = 1/2).
CAND_WINDOW = 2.0**-19
BLOCK_CANDS = 256  # candidates kept per block (more: the rest raise ``rest``, still sound)
CAND_MAX = 8192  # candidates kept per merge (correct rounding has ~4,300 within the window)
BLOCK = 1 << 16  # bit patterns per vectorised block inside a task (fits in L2)


@contextmanager
def _prec(bits: int = 200) -> Iterator[None]:
    """Run arb at ``bits`` of precision (every arb operation rounds to the current one)."""
    from flint import ctx

    old, ctx.prec = ctx.prec, bits
    try:
        yield
    finally:
        ctx.prec = old


def _bits(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def _from_bits(b: int) -> float:
    return float(np.array([b], dtype=np.uint32).view(np.float32)[0])


def _first_flushed_bits() -> int:
    """Bit pattern of the largest float32 below ``-150 ln 2`` (exp there is < 2^-150).

    ``-150 ln 2`` is irrational, so no float32 equals it; arb decides on which side each
    candidate lies (the balls are far narrower than a float32 ulp).
    """
    from flint import arb

    with _prec():
        t = -150 * arb.const_log2()
        b = _bits(float(t.mid()))  # within one ulp; step to the exact neighbour
        while arb(_from_bits(b)) > t:  # x above the threshold: move down (bits up)
            b += 1
        while arb(_from_bits(b - 1)) < t:  # the next one up is below as well
            b -= 1
        if not (arb(_from_bits(b)) < t < arb(_from_bits(b - 1))):
            raise ArithmeticError("flush threshold not separated")  # pragma: no cover
        return b


FLUSH_BITS = _first_flushed_bits()  # 0xC2CFF1B5: x = -103.97208..., exp(x) < 2^-150
NEG_INF_BITS = 0xFF800000
DOMAIN: tuple[BitRange, ...] = ((0, 1), (0x80000000, FLUSH_BITS))  # +0.0; -0.0 .. x_min
TAIL: tuple[BitRange, ...] = ((FLUSH_BITS, NEG_INF_BITS + 1),)  # next below .. -inf
DOMAIN_SIZE = sum(hi - lo for lo, hi in DOMAIN)
TAIL_SIZE = sum(hi - lo for lo, hi in TAIL)
X_MIN = _from_bits(FLUSH_BITS - 1)  # the most negative input in the domain


# --- Reference: a float64 exp with a proven error bound --------------------------------------
#
# exp(x) = 2^m * 2^(j/32) * exp(r),  n = rint(x * 32/ln2) = 32 m + j,  r = x - n ln2/32.
# Cody-Waite: ln2/32 = L1 + L2true with L1 a multiple of 2^-30, so n*L1 and x - n*L1 are exact
# for every float32 x in the domain (docs/exp-audit.md, step 1).  exp(r), |r| <= ln2/64 (1+tiny),
# by its degree-6 Taylor polynomial in Horner form.


def _constants() -> tuple[float, float, float, np.ndarray, tuple[float, ...]]:
    """(C = 32/ln2, L1, L2, T[j] = 2^(j/32) for j < 32, Taylor coefficients 1/k!, k <= 6),
    each a float64 computed from a 200-bit arb ball; their actual errors enter the bound."""
    from flint import arb, fmpq

    with _prec():
        ln2 = arb.const_log2()
        c = float((32 / ln2).mid())
        l1 = math.floor(float((ln2 / 32 * 2**30).mid())) / 2**30  # exact: 25-bit integer/2^30
        l2 = float((ln2 / 32 - arb(l1)).mid())
        table = np.array([float((arb(2) ** fmpq(j, 32)).mid()) for j in range(32)])
        coef = tuple(float(Fraction(1, math.factorial(k))) for k in range(7))
        return c, l1, l2, table, coef


C32, L1, L2, T32, COEF = _constants()
N_MAX = 4801  # |n| <= |x| 32/ln2 + 1/2 <= 103.98 * 46.17 + 1/2 < 4801 on the domain


def reference_exp(x: np.ndarray) -> np.ndarray:
    """Return exp(x) in float64 for float32 ``x`` (any shape) with ``-103.98 <= x <= 0``.

    Postcondition: relative error at most :data:`REF_EPS` (:func:`reference_error_bound`).
    Precondition (not checked, for speed): x is float32 and in that range.  Cost: ~25
    float64 operations per element.
    """
    xd = x.astype(np.float64)
    n = np.rint(xd * C32)
    r = (xd - n * L1) - n * L2  # x - n*L1 exact; one rounding in n*L2, one in the subtraction
    p = COEF[6] * r + COEF[5]
    for k in (4, 3, 2, 1, 0):
        p = p * r + COEF[k]
    ni = n.astype(np.int64)
    return np.ldexp(T32[ni & 31] * p, (ni >> 5).astype(np.int32))  # scaling by 2^m is exact


def reference_error_bound() -> Fraction:
    """Return an upper bound on |reference_exp(x) - exp(x)| / exp(x) over the domain.

    Proof (docs/exp-audit.md has it in full; every quantity below is an arb ball at 200 bits
    and the bound is its upper end, converted exactly to a Fraction):

    1. n = rint(fl(x C)), |x| <= 104: |x 32/ln2 - n| <= 1/2 + 104 (|C - 32/ln2| + C u), so
       |r_true| <= R0 = ln2/32 (1/2 + that slack).
    2. x - n L1 and n L1 are exact (both are multiples of 2^-30 below 2^7 for n != 0, and
       n = 0 gives r = x).  t = fl(n L2): |t - n L2true| <= dt = N (|L2 - L2true| + |L2| u);
       r = fl(r1 - t): |r - r_true| <= dr = dt + u (R0 + dt);  |r| <= R = R0 + dr.
    3. Horner (Higham, Accuracy and Stability, eq. 5.3): |p_hat - p(r)| <= g12 sum|c_k| R^k;
       coefficient rounding sum|c_k - 1/k!| R^k; Taylor remainder R^7 e^R / 7!.  Their sum A
       bounds |p_hat - exp(r)|, so p_hat = exp(r_true)(1 + t3), |t3| <= (1 + A e^R) e^dr - 1.
    4. T_hat_j = 2^(j/32)(1 + t1), |t1| <= eT (measured in arb for each j); the product
       T_hat p_hat rounds once (u); scaling by 2^m is exact (results >= 2^-151 are normal
       float64).  Total: (1 + eT)(1 + u)(1 + t3) - 1; the lower side is no worse.
    """
    from flint import arb, fmpq

    with _prec():
        u = arb(U64)
        ln2 = arb.const_log2()
        slack = 104 * (abs(arb(C32) - 32 / ln2) + arb(C32) * u)
        r0 = ln2 / 32 * (fmpq(1, 2) + slack)
        l2true = ln2 / 32 - arb(L1)
        dt = N_MAX * (abs(arb(L2) - l2true) + abs(arb(L2)) * u)
        dr = dt + u * (r0 + dt)
        big_r = r0 + dr
        g12 = 12 * u / (1 - 12 * u)
        horner = g12 * sum(abs(arb(c)) * big_r**k for k, c in enumerate(COEF))
        coef = sum(abs(arb(c) - fmpq(1, math.factorial(k))) * big_r**k for k, c in enumerate(COEF))
        trunc = big_r**7 * big_r.exp() / 5040
        a = horner + coef + trunc
        t3 = (1 + a * big_r.exp()) * dr.exp() - 1
        e_t = max(
            (abs(arb(float(t)) - arb(2) ** fmpq(j, 32)) / arb(2) ** fmpq(j, 32)).upper()
            for j, t in enumerate(T32)
        )
        eps = (1 + e_t) * (1 + u) * (1 + t3) - 1
        return _upper(eps)


def ulp32(y: np.ndarray) -> np.ndarray:
    """ulp of float32 at each positive float64 ``y``: 2^(e-23) for y in [2^e, 2^(e+1)),
    e >= -126; 2^-149 below 2^-126.  Exact (powers of two built from the exponent bits)."""
    e = ((y.view(np.uint64) >> np.uint64(52)).astype(np.int64) & 0x7FF) - 1023
    return ((np.maximum(e, -126) - 23 + 1023) << 52).view(np.float64)


def ulp_below(ref: np.ndarray) -> np.ndarray:
    """ulp32 of a lower bound of exp(x) for each reference value ``ref`` = reference_exp(x):
    at most ulp(exp(x)), since ulp is nondecreasing.  fl(ref (1 - 2^-40)) <= ref (1 - 2^-40)
    (1 + u) <= ref / (1 + REF_EPS) <= exp(x).  (Only near a power of two does this halve the
    ulp; it can only overstate the error.)"""
    return ulp32(ref * (1 - 2.0**-40))


def exp_arb(x: float, prec: int = 200):
    """exp(x) as an arb ball (the slow reference the fast one is tested against).  NB: work
    on the ball under ``_prec`` too; at the default 53 bits every operation rounds."""
    from flint import arb

    with _prec(prec):
        return arb(x).exp()


# --- Implementations -------------------------------------------------------------------------


def _numpy(x: np.ndarray) -> np.ndarray:
    return np.exp(x)


def _math(x: np.ndarray) -> np.ndarray:
    return np.array(list(map(math.exp, x.tolist())), dtype=np.float64).astype(np.float32)


def _correct(x: np.ndarray) -> np.ndarray:
    """exp(x) correctly rounded to float32 (round to nearest even, subnormals included).

    The float64 reference y has |y - exp(x)| <= REF_EPS y, so exp(x) lies in [lo, hi] below;
    rounding is monotone, so where lo and hi round to the same float32 so does exp(x).  The
    rest (none are expected: it needs exp(x) within 2^-40 of a float32 midpoint) go to arb.
    """
    out = np.zeros(x.shape, dtype=np.float32)
    dom = x.view(np.uint32) < FLUSH_BITS  # x >= x_min; below, exp < 2^-150 rounds to 0
    xs = x[dom]
    y = reference_exp(xs)
    lo = (y * (1 - 2.0**-40)).astype(np.float32)
    hi = (y * (1 + 2.0**-40)).astype(np.float32)
    res = lo.copy()
    for i in np.flatnonzero(lo != hi):
        res[i] = _round_arb(float(xs[i]))
    out[dom] = res
    return out


def _round_arb(x: float) -> np.float32:
    """exp(x) correctly rounded to float32, decided in arb (raises if 1000 bits cannot)."""
    with _prec(1000):
        return _round_arb_ball(exp_arb(x, 1000), x)


def _round_arb_ball(e, x: float) -> np.float32:
    cand = np.float32(float(e.mid()))
    for c in (np.nextafter(cand, np.float32(0)), cand, np.nextafter(cand, np.float32(np.inf))):
        below = np.nextafter(c, np.float32(0))
        above = np.nextafter(c, np.float32(np.inf))
        lo_mid = (float(below) + float(c)) / 2  # exact in float64
        hi_mid = (float(c) + float(above)) / 2
        if lo_mid < e < hi_mid:
            return c
    raise ArithmeticError(f"exp({x!r}) is too close to a float32 midpoint")  # pragma: no cover


def _torch(x: np.ndarray) -> np.ndarray:
    import torch

    torch.set_num_threads(1)
    return torch.exp(torch.from_numpy(np.ascontiguousarray(x))).numpy()


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


IMPLS: dict[str, Impl] = {
    "numpy": _numpy,  # np.exp on a contiguous float32 array (SIMD dispatch of this CPU)
    "math": _math,  # math.exp (C libm, double) then rounded to float32: double rounding
    "correct": _correct,  # the control: correctly rounded, must measure <= 1/2
    "torch": _torch,  # torch.exp on a CPU float32 tensor, one thread; where installed
}
AVAILABLE: dict[str, Callable[[], bool]] = {"torch": _torch_available}


def available(name: str) -> bool:
    """Whether implementation ``name`` can run here (``torch`` needs torch installed)."""
    return name in IMPLS and AVAILABLE.get(name, lambda: True)()


# --- Per-chunk measurement -------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkResult:
    """What one task measured.  ``kind`` is "domain" or "tail"; bits are uint32 patterns.

    Domain: ``worst``/``worst_bits`` the computed max of |impl - ref| / ulp32(ref lower
    bound); ``first``/``last`` the outputs at the chunk ends (for monotonicity across chunks),
    ``first_bits`` where it starts.  ``cands``: the inputs whose computed error is within
    CAND_WINDOW of the maximum (at most BLOCK_CANDS per block, CAND_MAX after a merge; largest
    first); every other input's computed error is at most ``rest``.  ``cpu``: process CPU
    seconds spent (set by run_task).
    Tail: ``worst`` the largest output (times 2^149), ``worst_bits`` where; ``deepest_nonzero``
    the most negative x (largest bit pattern) with a nonzero output, or -1; ``odd`` how many
    finite outputs are neither 0 nor 2^-149.
    """

    kind: str
    count: int
    worst: float
    worst_bits: int
    nonfinite: int
    nonfinite_bits: int
    mono_breaks: int
    mono_bits: int
    first: float
    last: float
    first_bits: int
    deepest_nonzero: int = -1
    cands: tuple[Candidate, ...] = ()
    rest: float = 0.0
    cpu: float = 0.0
    odd: int = 0


def measure_block(impl: Impl, bits: np.ndarray) -> ChunkResult:
    """Measure ``impl`` on the domain inputs with bit patterns ``bits`` (uint32, ascending,
    all in :data:`DOMAIN`).  Cost O(len(bits)), vectorised."""
    x = bits.view(np.float32)
    out = np.asarray(impl(x), dtype=np.float32)
    ok = np.isfinite(out)
    ref = reference_exp(x)
    ulp = ulp_below(ref)
    err = np.abs(out.astype(np.float64) - ref) / ulp
    err[~ok] = 0.0
    i = int(np.argmax(err))
    near = np.flatnonzero(err >= err[i] - CAND_WINDOW)
    near = near[np.argsort(-err[near], kind="stable")]
    cands = tuple((int(bits[k]), float(out[k]), float(err[k])) for k in near[:BLOCK_CANDS])
    rest = float(err[near[BLOCK_CANDS]]) if len(near) > BLOCK_CANDS else float(err[i]) - CAND_WINDOW
    return ChunkResult(
        kind="domain",
        worst=float(err[i]),
        worst_bits=int(bits[i]),
        **_common(bits, out, ok),
        cands=cands,
        rest=max(rest, 0.0),
    )


def _common(bits: np.ndarray, out: np.ndarray, ok: np.ndarray) -> dict[str, Any]:
    """The fields a domain and a tail chunk report alike: counts, the first non-finite output,
    monotonicity (increasing bit patterns of negative floats mean decreasing x: outputs must
    not go up) and the ends."""
    bad = np.flatnonzero(~ok)
    ups = np.flatnonzero(np.diff(out) > 0)
    return {
        "count": len(bits),
        "nonfinite": len(bad),
        "nonfinite_bits": int(bits[bad[0]]) if len(bad) else -1,
        "mono_breaks": len(ups),
        "mono_bits": int(bits[ups[0] + 1]) if len(ups) else -1,
        "first": float(out[0]),
        "last": float(out[-1]),
        "first_bits": int(bits[0]),
    }


def _keep(cands: Iterable[Candidate], rest: float) -> tuple[tuple[Candidate, ...], float]:
    """Candidates within CAND_WINDOW of their maximum (CAND_MAX at most); the computed error
    of every one dropped is folded into ``rest``."""
    c = sorted(cands, key=lambda t: -t[2])
    if not c:
        return (), rest
    keep = [t for t in c if t[2] >= c[0][2] - CAND_WINDOW][:CAND_MAX]
    dropped = c[len(keep) :]
    return tuple(keep), max([rest] + [t[2] for t in dropped])


def measure_tail(impl: Impl, bits: np.ndarray) -> ChunkResult:
    """Measure ``impl`` on tail inputs (bit patterns in :data:`TAIL`, ascending): every output
    must be 0 or 2^-149 (exp(x) < 2^-150 there).  ``worst`` is the largest |output| / 2^-149,
    ``odd`` the number of finite outputs that are neither 0 nor 2^-149."""
    x = bits.view(np.float32)
    out = np.asarray(impl(x), dtype=np.float32)
    ok = np.isfinite(out)
    scaled = np.where(ok, np.abs(out.astype(np.float64)) / TINY, 0.0)
    i = int(np.argmax(scaled))
    nz = np.flatnonzero(out != 0)
    odd = int(np.sum(ok & (out != 0) & (out != np.float32(TINY))))
    return ChunkResult(
        kind="tail",
        worst=float(scaled[i]),
        worst_bits=int(bits[i]),
        **_common(bits, out, ok),
        deepest_nonzero=int(bits[nz[-1]]) if len(nz) else -1,
        odd=odd,
    )


def merge(parts: Iterable[ChunkResult]) -> ChunkResult | None:
    """Combine results of consecutive pieces of one ascending run of bit patterns (x going
    down): worst of the worsts (first on ties), sums of counts, and a monotonicity break
    wherever a piece starts above where the previous one ended."""
    acc: ChunkResult | None = None
    for p in parts:
        if acc is None:
            acc = p
            continue
        seam = p.first > acc.last
        cands, rest = _keep(acc.cands + p.cands, max(acc.rest, p.rest))
        acc = ChunkResult(
            kind=acc.kind,
            count=acc.count + p.count,
            worst=max(acc.worst, p.worst),
            worst_bits=acc.worst_bits if acc.worst >= p.worst else p.worst_bits,
            nonfinite=acc.nonfinite + p.nonfinite,
            nonfinite_bits=acc.nonfinite_bits if acc.nonfinite else p.nonfinite_bits,
            mono_breaks=acc.mono_breaks + p.mono_breaks + int(seam),
            mono_bits=acc.mono_bits if acc.mono_breaks else p.first_bits if seam else p.mono_bits,
            first=acc.first,
            last=p.last,
            first_bits=acc.first_bits,
            cands=cands,
            rest=rest,
            cpu=acc.cpu + p.cpu,
            odd=acc.odd + p.odd,
            deepest_nonzero=max(acc.deepest_nonzero, p.deepest_nonzero),
        )
    return acc


# --- The audit -------------------------------------------------------------------------------

Task = tuple[str, str, "tuple[int, int] | np.ndarray"]  # (impl name, kind, range or bits)


def _pieces(spec: tuple[int, int] | np.ndarray) -> Iterator[np.ndarray]:
    if isinstance(spec, np.ndarray):
        for s in range(0, len(spec), BLOCK):
            yield spec[s : s + BLOCK]
    else:
        lo, hi = spec
        for s in range(lo, hi, BLOCK):
            yield np.arange(s, min(s + BLOCK, hi), dtype=np.uint32)


def run_task(task: Task, impl: Impl | None = None) -> ChunkResult:
    """Measure one task (module level, so worker processes can run it): the named
    implementation (or ``impl``, in this process) on a range or array of bit patterns."""
    t0 = time.process_time()
    name, kind, spec = task
    fn = IMPLS[name] if impl is None else impl
    measure = measure_block if kind == "domain" else measure_tail
    res = merge(measure(fn, b) for b in _pieces(spec))
    if res is None:  # pragma: no cover - tasks are never empty
        raise ValueError("empty task")
    return replace(res, cpu=time.process_time() - t0)


def _split(ranges: Iterable[BitRange], size: int) -> list[tuple[int, int]]:
    return [(s, min(s + size, hi)) for lo, hi in ranges for s in range(lo, hi, size)]


def edge_bits() -> np.ndarray:
    """Bit patterns of the inputs where an exp goes wrong if it does (ascending): +-0, the
    subnormals' ends, the reduction's switch points (n = 0 -> -1 near -ln2/64), the nearest
    floats to -k ln 2 for every k (result crossing a binade; k = 126 is the smallest normal
    result, k = 149, 150 the subnormal end), the flush threshold, -max and -inf."""
    pts = [0.0, -0.0, -(2.0**-149), -(2.0**-126), -(2.0**-24), -(2.0**-25), -1.0, -0.5]
    pts += [-math.log(2) / 64, -math.log(2) / 32, -87.33654, -103.27892, X_MIN]
    pts += [-k * math.log(2) for k in range(1, 151)]
    bits = {_bits(p) for p in pts}
    for b in list(bits):
        bits.update(b + d for d in (-2, -1, 1, 2) if 0x80000000 < b + d <= NEG_INF_BITS)
    bits |= {FLUSH_BITS, FLUSH_BITS + 1, 0xFF7FFFFF, NEG_INF_BITS}
    return np.array(sorted(bits), dtype=np.uint32)


def _sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(domain bits, tail bits): n uniform domain inputs plus the edges; n // 8 tail inputs."""
    rng = np.random.default_rng(seed)
    dom = rng.integers(0x80000000, FLUSH_BITS, size=n, dtype=np.uint64).astype(np.uint32)
    tail = rng.integers(FLUSH_BITS, NEG_INF_BITS + 1, size=max(n // 8, 1), dtype=np.uint64)
    edges = edge_bits()
    return _sorted_set(dom, edges[edges < FLUSH_BITS]), _sorted_set(
        tail, edges[edges >= FLUSH_BITS]
    )


def _sorted_set(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted union of two arrays of bit patterns, as uint32 (sort and drop repeats)."""
    s = np.sort(np.concatenate([a.astype(np.uint32), b.astype(np.uint32)]))
    return s[np.concatenate([[True], s[1:] != s[:-1]])]


@dataclass(frozen=True)
class AuditResult:
    """The audit's findings.  ``u`` (the U to state) is None when some output is NaN or infinite.

    ``worst_ulp`` is the computed maximum over the domain of |impl - ref| / ulp (ulp of a
    lower bound of exp(x)); ``worst_ulp_arb`` the same error at ``worst_x`` recomputed in arb;
    ``domain_bound`` and ``tail_bound`` are proved upper bounds of the error in each part;
    ``u`` (the U to state) their maximum rounded up to a multiple of 1/1024.
    ``tail_worst_x``: where the tail's largest output is (None when every output is 0).
    ``cpu_seconds``: CPU time of the measuring tasks summed over workers (wall time depends
    on the load; this does not, much).
    """

    impl: str
    exhaustive: bool
    inputs: int
    tail_inputs: int
    worst_ulp: float
    worst_x: float
    worst_ulp_arb: float
    domain_bound: Fraction
    tail_bound: Fraction
    tail_ok: bool
    tail_worst_x: float | None
    nonfinite: int
    nonfinite_x: float | None
    mono_breaks: int
    mono_x: float | None
    u: Fraction | None
    seconds: float
    cpu_seconds: float
    jobs: int
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The ``--json`` object (DESIGN.md §6 style: flat, stable keys)."""
        return {
            "impl": self.impl,
            "exhaustive": self.exhaustive,
            "inputs": self.inputs,
            "tail_inputs": self.tail_inputs,
            "worst_ulp": self.worst_ulp,
            "worst_ulp_arb": self.worst_ulp_arb,
            "worst_x": repr(self.worst_x),
            "worst_x_hex": self.worst_x.hex(),
            "domain_bound": float(self.domain_bound),
            "tail_bound": float(self.tail_bound),
            "tail_ok": self.tail_ok,
            "tail_worst_x": None if self.tail_worst_x is None else repr(self.tail_worst_x),
            "nonfinite": self.nonfinite,
            "nonfinite_x": None if self.nonfinite_x is None else repr(self.nonfinite_x),
            "monotone_breaks": self.mono_breaks,
            "monotone_break_x": None if self.mono_x is None else repr(self.mono_x),
            "U": None if self.u is None else float(self.u),
            "U_exact": None if self.u is None else f"{self.u.numerator}/{self.u.denominator}",
            "reference_eps": f"1/{REF_EPS.denominator}",
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "jobs": self.jobs,
            **self.extra,
        }


def u_bound(domain_bound: Fraction, tail_bound: Fraction) -> Fraction:
    """The U to state: max of the two proved bounds, rounded up to a multiple of 1/1024."""
    b = max(domain_bound, tail_bound)
    return Fraction(math.ceil(b / U_QUANTUM)) * U_QUANTUM


def domain_bound(measured: float) -> Fraction:
    """Upper bound of |impl - exp| / ulp(exp) over the domain from the computed maximum.

    The computed error is fl(|o - ref|) / ulp_lo (the division by a power of two is exact),
    so |o - ref| <= measured ulp_lo / (1 - u); ulp_lo <= ulp(exp(x)); |ref - exp| <= REF_EPS
    exp(x) < REF_EPS 2^24 ulp(exp(x)).
    """
    return Fraction(measured) / (1 - Fraction(U64)) + REF_EPS * 2**24


def tail_bound(res: ChunkResult | None) -> Fraction:
    """Upper bound of |impl - exp| / ulp(exp) = |o - exp| 2^149 over the tail.

    All outputs 0: < 1/2 (exp < 2^-150).  All in {0, 2^-149}: at most 1 - exp(x_d) 2^149,
    x_d the most negative input with a nonzero output (exp is increasing).  Any other output
    v (``odd``): |v - exp| <= |v| + exp < (|v| 2^149 + 1/2) ulps.
    """
    if res is None or res.worst == 0:
        return Fraction(1, 2)
    if res.odd:
        return Fraction(res.worst) + Fraction(1, 2)
    # every output is 0 or 2^-149, and some are 2^-149
    with _prec():
        e = exp_arb(_from_bits(res.deepest_nonzero)) * 2**149
        man, ex = e.lower().man_exp()
    return max(Fraction(1, 2), 1 - Fraction(int(man)) * Fraction(2) ** int(ex))


def _upper(ball) -> Fraction:
    """The upper end of an arb ball, exactly (call under ``_prec``: upper() rounds up)."""
    man, ex = ball.upper().man_exp()
    return Fraction(int(man)) * Fraction(2) ** int(ex)


def arb_ulp_error(x: float, out: float) -> Fraction:
    """An upper bound of |out - exp(x)| / ulp(exp(x)) from a 200-bit arb ball (exact to
    ~2^-150 relative), for one input with exp(x) >= 2^-150.  The slow reference."""
    with _prec():
        e = exp_arb(x)
        b0 = float(ulp32(np.array([float(e.mid())]))[0])  # float() may round up to 2^k
        for b in (b0, b0 / 2) if b0 > TINY else (b0,):
            # ulp 2^-149 covers the subnormals and the binade [2^-126, 2^-125) alike
            bottom, top = (0.0, 2.0**-125) if b == TINY else (b * 2.0**23, b * 2.0**24)
            if e.lower() >= bottom and e.upper() < top:
                return _upper(abs(e - out) / b)
    raise ArithmeticError(f"exp({x!r}) straddles a binade")  # pragma: no cover - 200-bit balls


def decide_domain(d: ChunkResult) -> tuple[Fraction, float]:
    """(proved bound of the domain error, arb error at ``d.worst_bits``) for merged domain
    results: the candidates are re-decided in arb, every other input is bounded through
    ``rest`` (:func:`domain_bound`).  Raise ArithmeticError if arb finds a candidate's error
    above the bound its computed error implies: the reference would be wrong."""
    db = domain_bound(d.rest)
    err_arb = math.inf
    for b, out, err in d.cands:
        if not math.isfinite(out):
            continue
        e = arb_ulp_error(_from_bits(b), out)
        if e > domain_bound(err):  # the reference broke its bound: refuse to print a U
            raise ArithmeticError(f"arb error {float(e)} at bits {b:#x} exceeds its bound")
        db = max(db, e)
        if b == d.worst_bits:
            err_arb = float(e)
    return db, err_arb


def audit(
    impl: str = "numpy",
    jobs: int = 1,
    sample: int | None = None,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
    impl_fn: Impl | None = None,
) -> AuditResult:
    """Measure implementation ``impl`` (or the callable ``impl_fn``, in this process) over the
    whole domain and tail, or over ``sample`` random inputs plus the edges (not exhaustive).

    Cost: 2.1e9 evaluations of the implementation and ~40 float64 operations per domain
    input; measured 70 CPU s for numpy, 111 for correct, 259 for math (docs/exp-audit.md).
    ``progress(label, n_done, total)`` after each task.
    """
    from generators.parallel import make_pool

    t0 = time.perf_counter()
    eps = reference_error_bound()
    if eps > REF_EPS:  # pragma: no cover - a changed constant would trip this
        raise ArithmeticError(f"reference error {float(eps)} exceeds REF_EPS")
    if sample is None:
        dom_specs: list = _split(DOMAIN, TASK)
        tail_specs: list = _split(TAIL, TASK)
    else:
        d, t = _sample(sample, seed)
        dom_specs = [d[i : i + TASK] for i in range(0, len(d), TASK)]
        tail_specs = [t[i : i + TASK] for i in range(0, len(t), TASK)]
    tasks: list[Task] = [(impl, "domain", s) for s in dom_specs]
    tasks += [(impl, "tail", s) for s in tail_specs]
    # progress in units of work: a tail input costs about a quarter of a domain input
    sizes = [
        ((s[1] - s[0]) if isinstance(s, tuple) else len(s)) // (1 if kind == "domain" else 4)
        for _, kind, s in tasks
    ]
    total = sum(sizes)
    label = f"exp-audit {impl}" + (" (sample)" if sample is not None else "")
    results: list[ChunkResult] = []
    if impl_fn is not None:
        jobs = 1
    with make_pool(jobs) as pool:
        if pool is None:
            it: Iterator[ChunkResult] = (run_task(t, impl_fn) for t in tasks)
        else:
            it = pool.map(run_task, tasks)
        for res, n in zip(it, sizes, strict=True):
            results.append(res)
            if progress is not None:
                progress(label, n, total)
    dom = [r for r in results if r.kind == "domain"]
    tail = [r for r in results if r.kind == "tail"]
    d = merge(dom)
    tl = merge(tail)
    if d is None:  # pragma: no cover
        raise ValueError("no domain inputs")
    # the domain run (+0, -0 .. x_min) continues into the tail (x going down): one more seam
    seam = tl is not None and tl.first > d.last
    mono = d.mono_breaks + (tl.mono_breaks if tl else 0) + int(seam)
    mono_bits = (
        d.mono_bits
        if d.mono_breaks
        else (tl.first_bits if seam else tl.mono_bits)
        if tl is not None
        else -1
    )
    nonfinite = d.nonfinite + (tl.nonfinite if tl else 0)
    nf_bits = d.nonfinite_bits if d.nonfinite else (tl.nonfinite_bits if tl else -1)
    worst_x = _from_bits(d.worst_bits)
    db, err_arb = decide_domain(d)
    tb = tail_bound(tl)
    tail_ok = tl is None or (tl.nonfinite == 0 and tl.odd == 0)
    return AuditResult(
        impl=impl,
        exhaustive=sample is None,
        inputs=d.count,
        tail_inputs=tl.count if tl else 0,
        worst_ulp=d.worst,
        worst_x=worst_x,
        worst_ulp_arb=err_arb,
        domain_bound=db,
        tail_bound=tb,
        tail_ok=tail_ok,
        tail_worst_x=_from_bits(tl.worst_bits) if tl and tl.worst > 0 else None,
        nonfinite=nonfinite,
        nonfinite_x=_from_bits(nf_bits) if nonfinite else None,
        mono_breaks=mono,
        mono_x=_from_bits(mono_bits) if mono else None,
        u=None if nonfinite else u_bound(db, tb),
        seconds=time.perf_counter() - t0,
        cpu_seconds=d.cpu + (tl.cpu if tl else 0.0),
        jobs=jobs,
        extra={"numpy": np.__version__},
    )


def report(r: AuditResult) -> list[str]:
    """The human-readable summary ``mechproof exp-audit`` prints."""
    what = (
        "exhaustive"
        if r.exhaustive
        else "SAMPLE, NOT EXHAUSTIVE (random inputs plus edge cases; U is not a bound)"
    )
    lines = [
        f"exp-audit {r.impl} (numpy {np.__version__}): {what}",
        f"  domain: {r.inputs:,} float32 inputs x <= 0 with exp(x) > 2^-150 "
        f"(x >= {X_MIN!r}; +0.0 and -0.0 included)",
        f"  worst error {r.worst_ulp:.10f} ulp at x = {r.worst_x!r} ({r.worst_x.hex()}); "
        f"in arb {r.worst_ulp_arb:.10f}",
        f"  tail: {r.tail_inputs:,} inputs below, down to -inf: "
        + ("every output 0 or 2^-149" if r.tail_ok else "OUTPUTS OTHER THAN 0 OR 2^-149")
        + f" (error < {float(r.tail_bound):.6f} ulp)",
        "  non-finite outputs: "
        + ("none" if not r.nonfinite else f"{r.nonfinite:,}, first at x = {r.nonfinite_x!r}"),
        "  monotone: "
        + ("yes" if not r.mono_breaks else f"NO, {r.mono_breaks:,} rises, first at {r.mono_x!r}"),
        f"  reference: float64, relative error < 2^-45 (proved); {r.seconds:.1f} s, "
        f"{r.jobs} job{'s' if r.jobs > 1 else ''}, {r.cpu_seconds:.1f} CPU s in the tasks",
    ]
    if r.u is None:
        lines.append("no U: the implementation returns NaN or infinity for some x <= 0")
    else:
        lines.append(
            f"U = {r.u.numerator}/{r.u.denominator} = {float(r.u)!r} ulp"
            + ("" if r.exhaustive else "  (from a sample: NOT a bound)")
        )
        if r.exhaustive:
            lines.append(
                "  for the float32 theorem: mechproof prove MODEL --strategy S "
                f"--semantics float32 --exp-ulp {r.u.numerator}/{r.u.denominator}"
            )
    return lines
