"""``mechproof exp-audit``: the proven float64 reference against arb, the ulp function, the
measurement on controls (correctly rounded: <= 1/2; perturbed by 3 ulps: >= 3) and broken
implementations (NaN, tail, non-monotone), and the command line."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from flint import arb, ctx

from generators import exp_audit as ea
from generators.cli import main


def _f32(xs) -> np.ndarray:
    return np.asarray(xs, dtype=np.float32)


def _rel_err_arb(x: float, y: float):
    """|y - exp(x)| / exp(x) as a 200-bit arb ball."""
    old, ctx.prec = ctx.prec, 200
    try:
        e = arb(x).exp()
        return abs(arb(y) - e) / e
    finally:
        ctx.prec = old


def _edge_domain_x() -> np.ndarray:
    b = ea.edge_bits()
    return b[(b < ea.FLUSH_BITS)].view(np.float32)


# --- ulp and the domain -----------------------------------------------------------------------


def test_ulp32_at_and_below_powers_of_two():
    for e in range(-126, 128):
        p = 2.0**e
        assert ea.ulp32(np.array([p]))[0] == 2.0 ** (e - 23)
        assert ea.ulp32(np.array([p * 1.5]))[0] == 2.0 ** (e - 23)
        below = np.nextafter(p, 0.0)
        assert ea.ulp32(np.array([below]))[0] == 2.0 ** max(e - 24, -149)
    for y in (2.0**-127, 2.0**-140, 2.0**-149, 2.0**-150, 3 * 2.0**-152):
        assert ea.ulp32(np.array([y]))[0] == 2.0**-149


def test_ulp_below_never_exceeds_the_true_ulp():
    """Within REF_EPS above a power of two, exp(x) may lie below it: the smaller ulp is used."""
    assert ea.ulp_below(np.array([1.0]))[0] == 2.0**-24
    assert ea.ulp_below(np.array([1.0 + 2.0**-50]))[0] == 2.0**-24
    assert ea.ulp_below(np.array([1.0 + 2.0**-30]))[0] == 2.0**-23
    assert ea.ulp_below(np.array([2.0**-126]))[0] == 2.0**-149


def test_flush_threshold_and_domain_size():
    """x_min is the last float32 with exp(x) > 2^-150; the next one down is in the tail."""
    assert ea.FLUSH_BITS == 0xC2CFF1B5
    lo = ea._from_bits(ea.FLUSH_BITS)
    assert lo < ea.X_MIN == float(np.nextafter(np.float32(lo), np.float32(0)))
    assert ea.exp_arb(ea.X_MIN) > arb(2) ** -150 > ea.exp_arb(lo)
    assert ea.DOMAIN_SIZE == 1_120_924_086 == ea.FLUSH_BITS - 0x80000000 + 1
    assert ea.TAIL_SIZE == 0xFF800000 - ea.FLUSH_BITS + 1


# --- the reference ----------------------------------------------------------------------------


def test_reference_bound_is_derived_and_below_ref_eps():
    eps = ea.reference_error_bound()
    assert Fraction(1, 2**53) < eps <= ea.REF_EPS
    assert eps < Fraction(1, 2**48)  # about 14 u: a slip in the derivation would show here


def test_reference_exact_at_zero():
    assert list(ea.reference_exp(_f32([0.0, -0.0]))) == [1.0, 1.0]


@pytest.mark.parametrize("where", ["random", "edges", "powers"])
def test_reference_agrees_with_arb_within_its_bound(where):
    eps = ea.reference_error_bound()
    if where == "random":
        rng = np.random.default_rng(7)
        bits = rng.integers(0x80000000, ea.FLUSH_BITS, size=3000, dtype=np.uint64)
        x = bits.astype(np.uint32).view(np.float32)
        x = np.concatenate([x, _f32(-rng.uniform(0, 104, size=2000))])
    elif where == "edges":  # 0, -0, subnormal x, -k ln 2 (binade crossings), x_min, ...
        x = _edge_domain_x()
        assert {0.0, ea.X_MIN, -(2.0**-149)} <= set(map(float, x))
    else:  # exp(x) near the smallest normal 2^-126 and near every 2^-k
        x = _f32([-k * math.log(2) for k in range(0, 150)])
    x = x[x >= ea.X_MIN]
    y = ea.reference_exp(x)
    worst = max(float(_rel_err_arb(float(a), float(b)).upper()) for a, b in zip(x, y, strict=True))
    assert worst <= float(eps)


def test_reference_at_the_flush_threshold_and_smallest_normal():
    x = _f32([ea.X_MIN, -87.33654, -87.33655, -103.27893])
    for a, y in zip(x, ea.reference_exp(x), strict=True):
        assert float(_rel_err_arb(float(a), float(y)).upper()) <= ea.reference_error_bound()
    assert ea.reference_exp(_f32([ea.X_MIN]))[0] > 2.0**-150


# --- implementations and measurement ----------------------------------------------------------


def _three_up(x: np.ndarray) -> np.ndarray:
    y = ea._correct(x)
    for _ in range(3):
        y = np.nextafter(y, np.float32(np.inf))
    return y


def test_correct_matches_arb_rounding():
    rng = np.random.default_rng(3)
    x = np.concatenate([_edge_domain_x(), _f32(-rng.uniform(0, 104, size=300))])
    got = ea._correct(x)
    want = [ea._round_arb(float(a)) for a in x]
    assert [float(g) for g in got] == [float(w) for w in want]


def test_arb_ulp_error_in_every_binade():
    """The slow reference at the correctly rounded value is at most 1/2 in every binade of the
    result, the subnormals and [2^-126, 2^-125) (ulp 2^-149 in both) included."""
    x = np.concatenate([_edge_domain_x(), _f32(-np.linspace(0, 103.97, 3000))])
    for a, c in zip(x, ea._correct(x), strict=True):
        assert ea.arb_ulp_error(float(a), float(c)) <= Fraction(1, 2)
    x = _f32([-87.2211, -86.7, -87.3, -88.0, -100.0])  # exp in [2^-126, 2^-125) and below
    for a, c in zip(x, ea._correct(x), strict=True):
        assert ea.arb_ulp_error(float(a), float(c)) <= Fraction(1, 2)


def test_arb_ulp_error_is_tight():
    """At x = -2^-25, exp(x) = 1 - 2^-25 + 2^-51 - ..., 2^-51 above the midpoint 1 - 2^-25:
    the correct rounding 1.0 is off by 1/2 - 2^-27 + O(2^-50) ulps of 2^-24.  Rounding the arb
    work to 53 bits would add ~2^-29."""
    e = ea.arb_ulp_error(-(2.0**-25), 1.0)
    assert abs(e - (Fraction(1, 2) - Fraction(1, 2**27))) < Fraction(1, 2**45)
    assert ea._correct(_f32([-(2.0**-25)]))[0] == 1.0


def test_control_correct_measures_at_most_half():
    r = ea.audit("correct", sample=20000, seed=1)
    assert not r.exhaustive
    assert r.worst_ulp <= 0.5 and r.worst_ulp_arb <= 0.5
    assert r.worst_ulp > 0.49  # the sample includes -2^-25, 2^-51 from a midpoint
    assert r.u == Fraction(1, 2)
    assert r.tail_ok and r.nonfinite == 0 and r.mono_breaks == 0
    assert r.tail_worst_x is None  # every tail output is 0


def test_perturbed_by_three_ulps_measures_at_least_three():
    r = ea.audit("perturbed", sample=20000, seed=2, impl_fn=_three_up)
    assert r.worst_ulp >= 3 and r.u >= 3
    assert abs(r.worst_ulp_arb - r.worst_ulp) < 1e-6


def test_numpy_sample_against_arb_at_its_maximum():
    r = ea.audit("numpy", sample=20000, seed=0)
    assert r.nonfinite == 0 and r.tail_ok
    assert 0.5 < r.worst_ulp < 8  # numpy's SIMD float32 exp is not correctly rounded
    x = np.float32(r.worst_x)
    direct = ea.arb_ulp_error(float(x), float(np.exp(_f32([x]))[0]))
    assert abs(float(direct) - r.worst_ulp) <= float(ea.domain_bound(0)) + 1e-12
    assert r.domain_bound >= direct and r.u >= r.domain_bound
    assert r.u - r.domain_bound < ea.U_QUANTUM


def test_math_impl_double_rounding_is_near_half():
    r = ea.audit("math", sample=5000, seed=4)
    assert r.worst_ulp <= 0.5 + 2.0**-28


def test_nan_is_reported_and_gives_no_u():
    def nan_at_minus_one(x):
        y = np.exp(x)
        y[x == np.float32(-1.0)] = np.nan
        return y

    r = ea.audit("nan", sample=1000, impl_fn=nan_at_minus_one)
    assert r.nonfinite == 1 and r.nonfinite_x == -1.0 and r.u is None


def test_tail_violation_is_reported_and_counted_in_u():
    def tail_too_big(x):
        y = ea._correct(x)
        y[x < ea.X_MIN] = np.float32(2.0**-147)
        return y

    r = ea.audit("tail", sample=1000, impl_fn=tail_too_big)
    assert not r.tail_ok and r.tail_bound == Fraction(9, 2) and r.u == Fraction(9, 2)
    assert r.tail_worst_x is not None and r.tail_worst_x < ea.X_MIN


def test_negative_tail_output_is_a_violation():
    def negative_tail(x):
        y = ea._correct(x)
        y[x < ea.X_MIN] = -np.float32(2.0**-149)
        return y

    r = ea.audit("neg", sample=1000, impl_fn=negative_tail)
    assert not r.tail_ok and r.tail_bound == Fraction(3, 2)


def test_tail_of_tiny_outputs_is_bounded_below_one():
    def tail_tiny(x):
        y = ea._correct(x)
        y[(x < ea.X_MIN) & (x > -104.5)] = np.float32(2.0**-149)
        return y

    r = ea.audit("tail", sample=4000, impl_fn=tail_tiny)
    assert r.tail_ok and Fraction(1, 2) < r.tail_bound < 1


def test_non_monotone_is_reported():
    def bump(x):
        y = ea._correct(x)
        y[x == np.float32(-1.0)] = np.float32(0.9)
        return y

    r = ea.audit("bump", sample=1000, impl_fn=bump)
    assert r.mono_breaks == 1 and r.mono_x == -1.0


def test_monotone_across_task_seams():
    """A rise exactly where one block ends and the next starts is seen by merge."""
    lo = ea._bits(-1.0)
    seam = lo + ea.BLOCK

    def rise_at_seam(x):
        y = ea._correct(x)
        y[x.view(np.uint32) == seam] = np.float32(0.9)
        return y

    r = ea.run_task(("rise", "domain", (lo, lo + 2 * ea.BLOCK)), rise_at_seam)
    assert r.mono_breaks == 1 and r.mono_bits == seam and r.count == 2 * ea.BLOCK


def test_exhaustive_block_range_matches_sample_mode():
    """One exhaustive block of numpy near the worst region: the same error the arb check sees."""
    lo = ea._bits(-12.0)
    r = ea.run_task(("numpy", "domain", (lo, lo + ea.BLOCK)))
    assert r.count == ea.BLOCK and r.cands and r.cands[0][2] == r.worst
    x = ea._from_bits(r.worst_bits)
    direct = ea.arb_ulp_error(x, float(np.exp(_f32([x]))[0]))
    assert abs(float(direct) - r.worst) < 1e-6
    assert r.rest <= r.worst


@pytest.mark.parametrize("window", [1e-4, 0.5])
def test_block_candidates_cover_every_input_near_the_maximum(monkeypatch, window):
    """Every input off the candidate list has computed error <= rest <= every candidate's,
    with few candidates (1e-4) and with the BLOCK_CANDS cap in force (0.5: thousands)."""
    monkeypatch.setattr(ea, "CAND_WINDOW", window)
    lo = ea._bits(-3.0)
    bits = np.arange(lo, lo + ea.BLOCK, dtype=np.uint32)
    r = ea.measure_block(ea._numpy, bits)
    x = bits.view(np.float32)
    ref = ea.reference_exp(x)
    err = np.abs(np.exp(x).astype(np.float64) - ref) / ea.ulp_below(ref)
    inside = {b for b, _, _ in r.cands}
    assert r.cands[0][2] == err.max() == r.worst
    others = err[[int(b) not in inside for b in bits]]
    assert others.max() <= r.rest <= min(e for _, _, e in r.cands)
    n_near = int(np.sum(err >= err.max() - window))
    assert len(inside) == min(n_near, ea.BLOCK_CANDS)
    assert (window == 1e-4) == (n_near <= ea.BLOCK_CANDS)


def test_correct_over_2_24_consecutive_inputs_proves_exactly_half():
    """Exhaustive on [-8, -2): ~60 inputs lie within the reference's slack (2^-21) of 1/2;
    each is re-decided in arb, so the bound is below 1/2 and U = 1/2 exactly."""
    lo = ea._bits(-2.0)
    r = ea.run_task(("correct", "domain", (lo, lo + (1 << 24))))
    assert r.count == 1 << 24 and r.mono_breaks == 0 and len(r.cands) > 32
    db, at_worst = ea.decide_domain(r)
    assert r.worst < 0.5 and at_worst < 0.5 and db < Fraction(1, 2)
    assert ea.domain_bound(r.worst) > Fraction(1, 2)  # without arb, 513/1024
    assert ea.u_bound(db, Fraction(1, 2)) == Fraction(1, 2)


def test_u_bound_rounds_up_to_a_multiple_of_1_1024():
    half = Fraction(1, 2)
    assert ea.u_bound(half, half) == half
    assert ea.u_bound(half + Fraction(1, 2**40), half) == Fraction(513, 1024)
    assert ea.u_bound(Fraction(2), Fraction(3)) == 3
    assert ea.domain_bound(0.0) == ea.REF_EPS * 2**24


def test_jobs_two_agrees_with_one():
    a = ea.audit("numpy", jobs=1, sample=3000, seed=5)
    b = ea.audit("numpy", jobs=2, sample=3000, seed=5)
    assert (a.worst_ulp, a.worst_x, a.u, a.inputs) == (b.worst_ulp, b.worst_x, b.u, b.inputs)


@pytest.mark.skipif(ea.available("torch"), reason="torch is installed here")
def test_torch_absent_is_a_usage_error():
    r = CliRunner().invoke(main, ["exp-audit", "--impl", "torch", "--sample", "10"])
    assert r.exit_code == 2 and "torch" in r.output


def test_torch_impl_where_installed():
    pytest.importorskip("torch")
    r = ea.audit("torch", sample=2000)
    assert r.nonfinite == 0 and r.u is not None


# --- command line -----------------------------------------------------------------------------


def test_cli_json_on_a_sample():
    r = CliRunner().invoke(main, ["exp-audit", "--sample", "2000", "--jobs", "1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    for key in ("impl", "inputs", "worst_ulp", "worst_x", "worst_x_hex", "U", "seconds"):
        assert key in out
    assert out["impl"] == "numpy" and out["exhaustive"] is False and out["tail_ok"] is True
    assert float.fromhex(out["worst_x_hex"]) == float(out["worst_x"])
    assert out["U"] == float(Fraction(out["U_exact"])) >= out["worst_ulp"]


def test_cli_text_says_not_exhaustive():
    r = CliRunner().invoke(
        main, ["exp-audit", "--impl", "correct", "--sample", "500", "--jobs", "1"]
    )
    assert r.exit_code == 0, r.output
    assert "NOT EXHAUSTIVE" in r.output and "U = 1/2" in r.output


def test_cli_exit_1_without_a_u(monkeypatch):
    monkeypatch.setitem(ea.IMPLS, "numpy", lambda x: np.full(x.shape, np.nan, np.float32))
    r = CliRunner().invoke(main, ["exp-audit", "--sample", "100", "--jobs", "1"])
    assert r.exit_code == 1 and "no U" in r.output


@pytest.mark.slow
def test_exhaustive_numpy():
    """The whole measurement (about 2 minutes on 2 cores): every input, a finite U."""
    r = ea.audit("numpy", jobs=2)
    assert r.exhaustive and r.inputs == ea.DOMAIN_SIZE and r.tail_inputs == ea.TAIL_SIZE
    assert r.nonfinite == 0 and r.tail_ok and r.u is not None and r.u >= r.worst_ulp


def test_a_wrong_reference_is_caught_by_the_arb_check(monkeypatch):
    """If the fast reference were off (here by 2^-20), an implementation that agrees with it
    would measure ~1/2 ulp; the arb re-check at the maximum refuses to print a U."""
    good = ea.reference_exp

    def off(x):
        return good(x) * (1 + 2.0**-20)

    def agrees(x):
        y = np.zeros(x.shape, np.float32)
        dom = x.view(np.uint32) < ea.FLUSH_BITS
        y[dom] = off(x[dom]).astype(np.float32)
        return y

    monkeypatch.setattr(ea, "reference_exp", off)
    with pytest.raises(ArithmeticError, match="exceeds its bound"):
        ea.audit("agrees", sample=2000, impl_fn=agrees)
