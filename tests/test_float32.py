"""The float32 semantics (checker/float32.py, docs/float32.md).

* grammar of ``semantics``; float32 needs float32 weights; rules outside FLOAT32 refused;
* Lemma F, closed form: ``deviation`` equals an independent exact (fmpq/arb) transcription
  of docs/float32.md's formula, up to the ball layer's outward rounding (a dropped or shrunk
  term fails: the mutants below);
* Lemma F, zero-tolerance containment: float32 forward passes simulated *adversarially*
  (random summation orders and trees, FMA or not, every exp off by up to U - 1/2 ulp of the
  correctly rounded value) never deviate from the exact logits (arb) by more than delta;
* the near-tie model: exact arithmetic gets an input right that one float32 summation order
  gets wrong; ``real`` counts it, ``float32`` does not; a lying certificate (a real proof
  relabelled float32) is rejected;
* the differential against reality on a zoo model (float32 forward pass in numpy).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import support as S
from flint import arb, ctx, fmpq
from hypothesis import given
from hypothesis import strategies as st
from support import FAST, model_of, reason_of, save

from checker import CheckError, Reason, float32, kernel, load_model
from checker.rules import FLOAT32, RULES
from generators.strategies import REGISTRY, UnsupportedModel

U32 = Fraction(1, 2**24)
ETA = Fraction(1, 2**149)
A = "blocks.0.attn."


# ---- float32 arithmetic, exactly ----------------------------------------------------------


def f32(x: Fraction) -> Fraction:
    """x rounded to the nearest binary32 (ties to even), exactly; subnormals kept."""
    c = np.float32(float(x))
    cands = [np.nextafter(c, np.float32(-np.inf)), c, np.nextafter(c, np.float32(np.inf))]
    best = min(cands, key=lambda f: (abs(Fraction(float(f)) - x), int(f.view(np.uint32)) & 1))
    return Fraction(float(best))


def exp_f32(x: Fraction, j: int) -> Fraction:
    """exp(x) correctly rounded to binary32, then moved j ulps (|j| <= U - 1/2 keeps it
    within U ulp of the true value)."""
    ctx.prec = 200
    y = arb(fmpq(x.numerator, x.denominator)).exp()
    c = f32(Fraction(str(y.mid().str(60, radius=False))))
    f = np.float32(float(c))
    step = np.float32(np.inf) if j > 0 else np.float32(-np.inf)
    for _ in range(abs(j)):
        f = np.nextafter(f, step)
    return Fraction(float(max(f, np.float32(0))))


def fl_dot(pairs: list[tuple[Fraction, Fraction]], rng: np.random.Generator) -> Fraction:
    """sum of a*b over ``pairs`` in binary32 in a random order and tree, FMA or not."""
    pool: list[tuple] = [("p", a, b) for a, b in pairs]
    rng.shuffle(pool)
    while len(pool) > 1:
        i, j = sorted(rng.choice(len(pool), 2, replace=False))
        y, x = pool.pop(j), pool.pop(i)
        if x[0] == "p" and y[0] == "v" and rng.random() < 0.5:
            pool.append(("v", f32(x[1] * x[2] + y[1])))  # fma
            continue
        xv = f32(x[1] * x[2]) if x[0] == "p" else x[1]
        yv = f32(y[1] * y[2]) if y[0] == "p" else y[1]
        pool.insert(int(rng.integers(len(pool) + 1)), ("v", f32(xv + yv)))
    (t,) = pool
    return f32(t[1] * t[2]) if t[0] == "p" else t[1]


def forward_f32(m, x, rng: np.random.Generator, U: int) -> list[Fraction]:
    """One adversarial binary32 evaluation of the logits at the last position."""

    def F(a: float) -> Fraction:
        return Fraction(float(a))

    k, d, e = len(x), m.d, m.e
    r = [[f32(F(m.W_E[t, j]) + F(m.W_pos[p, j])) for j in range(d)] for p, t in enumerate(x)]
    scale = f32(Fraction(math.isqrt(e * 4**80), 2**80))  # sqrt(e) to 2^-80, then rounded
    zs = []
    for h in range(m.h):

        def proj(W, b, rp, h=h):
            return [fl_dot([(rp[j], F(W[h, j, i])) for j in range(d)] + [(F(b[h, i]), 1)], rng)
                    for i in range(e)]  # fmt: skip

        q = proj(m.W_Q, m.b_Q, r[k - 1])
        ks = [proj(m.W_K, m.b_K, r[p]) for p in range(k)]
        vs = [proj(m.W_V, m.b_V, r[p]) for p in range(k)]
        s = [f32(fl_dot(list(zip(q, ks[p], strict=True)), rng) / scale) for p in range(k)]
        top = max(s)
        ex = [exp_f32(f32(sp - top), int(rng.integers(-(U - 1), U))) for sp in s]
        S = fl_dot([(y, Fraction(1)) for y in ex], rng)
        a = [f32(y / S) for y in ex]
        zs.append([fl_dot([(a[p], vs[p][i]) for p in range(k)], rng) for i in range(e)])
    o = []
    for j in range(d):
        pairs = [(zs[h][i], F(m.W_O[h, i, j])) for h in range(m.h) for i in range(e)]
        o.append(fl_dot(pairs + [(F(m.b_O[j]), Fraction(1))], rng))
    post = [f32(r[k - 1][j] + o[j]) for j in range(d)]
    one = Fraction(1)
    return [fl_dot([(post[j], F(m.W_U[j, y])) for j in range(d)] + [(F(m.b_U[y]), one)], rng)
            for y in range(m.v)]  # fmt: skip


def exact_logits(m, x) -> list[arb]:
    """The exact real logits (arb, 200 bits; exp and sqrt enclosed)."""
    ctx.prec = 200
    A_ = lambda a: arb(fmpq(*Fraction(float(a)).as_integer_ratio()))  # noqa: E731
    k, d, e = len(x), m.d, m.e
    r = [[A_(m.W_E[t, j]) + A_(m.W_pos[p, j]) for j in range(d)] for p, t in enumerate(x)]
    o = [A_(m.b_O[j]) for j in range(d)]
    for h in range(m.h):

        def proj(W, b, rp, h=h):
            return [sum((rp[j] * A_(W[h, j, i]) for j in range(d)), A_(b[h, i])) for i in range(e)]

        q = proj(m.W_Q, m.b_Q, r[k - 1])
        ks = [proj(m.W_K, m.b_K, r[p]) for p in range(k)]
        vs = [proj(m.W_V, m.b_V, r[p]) for p in range(k)]
        s = [sum((q[i] * ks[p][i] for i in range(e)), arb(0)) / arb(e).sqrt() for p in range(k)]
        w = [(sp - s[0]).exp() for sp in s]
        Z = sum(w, arb(0))
        z = [sum((w[p] / Z * vs[p][i] for p in range(k)), arb(0)) for i in range(e)]
        o = [o[j] + sum((z[i] * A_(m.W_O[h, i, j]) for i in range(e)), arb(0)) for j in range(d)]
    post = [r[k - 1][j] + o[j] for j in range(d)]
    return [sum((post[j] * A_(m.W_U[j, y]) for j in range(d)), A_(m.b_U[y])) for y in range(m.v)]


# ---- models ---------------------------------------------------------------------------------


def f32_weights(seed: int, v: int, k: int, d: int, h: int, e: int, scale: float) -> dict:
    """Random TL weights whose values are float32 numbers (biases included)."""
    rng = np.random.default_rng(seed)

    def n(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = {"embed.W_E": n(v, d), "pos_embed.W_pos": n(k, d), "unembed.W_U": n(d, v)}
    w |= {A + x: n(h, d, e) for x in ("W_Q", "W_K", "W_V")} | {A + "W_O": n(h, e, d)}
    w |= {A + x: n(h, e) for x in ("b_Q", "b_K", "b_V")} | {A + "b_O": n(d), "unembed.b_U": n(v)}
    return w


def f32_model(tmp, name: str, w: dict, sem: str = "float32:4"):
    from generators.tinymodels import write_model

    path = write_model(tmp / f"{name}.safetensors", w, dtype="float32")
    return path, float32.bind(load_model(path), sem)


def near_tie_weights() -> dict:
    """v = 2, k = 1, d = 5, no attention: for x = (1), logit[1] = 1 + 2^-23 and logit[0] =
    1 + 3 * 2^-25 (real margin 2^-25); for x = (0), logit[0] = 1, logit[1] = 0."""
    z = np.zeros
    WU = z((5, 2))
    WU[0] = [1.0, 1.0 + 2.0**-23]
    WU[1:4, 0] = 2.0**-25
    WU[4, 0] = 1.0
    WE = np.array([[0, 0, 0, 0, 1], [1, 1, 1, 1, 0]], dtype=float)
    w = {"embed.W_E": WE, "pos_embed.W_pos": z((1, 5)), "unembed.W_U": WU}
    w |= {A + x: z((1, 5, 1)) for x in ("W_Q", "W_K", "W_V")} | {A + "W_O": z((1, 1, 5))}
    return w


# ---- the statement --------------------------------------------------------------------------


def test_semantics_grammar():
    assert float32.exp_ulp("real") is None
    assert float32.exp_ulp("float32:4") == 4
    assert float32.exp_ulp("float32:1/2") == fmpq(1, 2)
    for bad in ("float32", "float32:", "float32:-1", "float32:1e3", "float64:1", "float32:1/0",
                "float32:0.5", "Real", "float32:1234567"):  # fmt: skip
        assert reason_of(lambda b=bad: float32.exp_ulp(b)) == Reason.CERT_SCHEMA, bad


def test_float32_needs_float32_weights(tmp_path):
    m = model_of(tmp_path, "m64", near_tie_weights())  # float64 file
    assert reason_of(lambda: float32.bind(m, "float32:4")) == Reason.UNSUPPORTED
    assert float32.bind(m, "real").semantics == "real"


def test_theorem_names_the_semantics(tmp_path):
    _, m = f32_model(tmp_path, "t", near_tie_weights(), "float32:3/2")
    assert "every IEEE binary32 evaluation" in m.theorem() and "3/2 ulp" in m.theorem()
    assert "exact real arithmetic" in float32.bind(m, "real").theorem()


# ---- Lemma F: closed form -------------------------------------------------------------------


def _fr(a) -> np.ndarray:
    return np.vectorize(lambda x: Fraction(float(x)), otypes=[object])(np.asarray(a))


def reference_deviation(m, U: Fraction) -> np.ndarray:
    """docs/float32.md's delta, transcribed independently in exact Fractions (exp via arb,
    rounded up; sqrt(e) bounded below)."""
    u, eta = U32, ETA
    v, k, d, e, h = m.v, m.k, m.d, m.e, m.h

    def g(n: int) -> Fraction:
        return n * u / (1 - n * u)

    ab = np.vectorize(abs, otypes=[object])
    E, P, WU = _fr(m.W_E), _fr(m.W_pos), _fr(m.W_U)
    resid = E[:, None, :] + P[None, :, :]
    Rq = ab(resid[:, k - 1])
    sqrt_lo = Fraction(math.isqrt(e * 4**60), 2**60)  # <= sqrt(e)
    u2, uc, mu = 2 * u / (1 - u), (1 + u) / (1 - u), U * eta
    om = (1 + u) / (1 - g(k - 1)) - 1 + k * eta / 2
    att = np.full((v, v), Fraction(0), dtype=object)
    zerr_y = np.full(v, Fraction(0), dtype=object)
    Om = ab(_fr(m.b_O))
    for i in range(h):
        out = {}
        for name in ("Q", "K", "V"):
            W, b = _fr(getattr(m, "W_" + name)[i]), _fr(getattr(m, "b_" + name)[i])
            r = resid[:, k - 1] if name == "Q" else resid
            RW = ab(r) @ ab(W)
            err = u * RW + g(d + 1) * ((1 + u) * RW + ab(b)) + (d + 1) * eta
            out[name] = (ab(r @ W + b), err)
        (Qm, dQ), (Km, dK), (Vm, dV) = out["Q"], out["K"], out["V"]
        Kx, dKx = (Km + dK).reshape(-1, e).max(0), dK.reshape(-1, e).max(0)
        Vx, dVx = (Vm + dV).reshape(-1, e).max(0), dV.reshape(-1, e).max(0)
        Wq = (Qm + dQ) @ Kx
        eps1 = g(e) * Wq + e * eta
        sig = (u2 * Wq + uc * eps1 + dQ @ Kx + Qm @ dKx) / sqrt_lo + eta / 2
        Dl = sig + 2 * u * (Wq / sqrt_lo + sig)
        ctx.prec = 100
        c = fmpq(*(1 + 2 * U * u).as_integer_ratio())
        lam = [Fraction((arb(fmpq(x.numerator, x.denominator)).exp() * c - 1)
                        .upper().str(40, radius=False)) for x in Dl]  # fmt: skip
        lam = [x * (1 + Fraction(1, 10**30)) for x in lam]  # above the decimal's rounding
        den = [(1 - g(k - 1)) * (1 - x - 2 * k * mu) for x in lam]
        ak = np.array([(1 + x) * (1 + u) / z - 1 + k * (2 * mu * (1 + u) / z + eta / 2)
                       for x, z in zip(lam, den, strict=True)], dtype=object)  # fmt: skip
        OU = _fr(m.W_O[i]) @ WU
        EVOU = (E @ _fr(m.W_V[i])) @ OU
        PVOU = (P @ _fr(m.W_V[i]) + _fr(m.b_V[i])) @ OU
        hi, lo = EVOU.max(0) + PVOU.max(0), EVOU.min(0) + PVOU.min(0)
        att = att + np.outer(ak, (hi - lo) / 2) + om * ab(hi + lo)[None, :]
        akm = max(ak)
        zerr = (1 + akm) * (dVx + g(k) * Vx) + k * eta
        zerr_y = zerr_y + zerr @ ab(OU)
        Om = Om + ((1 + akm) * Vx + zerr) @ ab(_fr(m.W_O[i]))
    errO = g(h * e + 1) * Om + (h * e + 1) * eta
    post = (1 + u) * Rq + (Om + errO)[None, :]
    errU = g(d + 1) * ((1 + u) * (post @ ab(WU)) + ab(_fr(m.b_U))[None, :]) + (d + 1) * eta
    return u * (Rq @ ab(WU)) + att + zerr_y[None, :] + (errO @ ab(WU))[None, :] + u * (
        post @ ab(WU)) + errU  # fmt: skip


def _closed_form(tmp, seed) -> None:
    """Detector: the kernel's delta is the documented formula, never below it (sound), and
    above it only by the ball layer's outward rounding (no term dropped, shrunk or inflated).
    ``seed`` None: an all-zero model but W_U = 1, where only the underflow terms remain."""
    if seed is None:
        w = f32_weights(0, 2, 2, 2, 1, 2, 0.0)
        w["unembed.W_U"][:] = 1.0
    else:
        rng = np.random.default_rng(seed)
        v, k, d, h, e = (int(x) for x in rng.integers(2, 4, 5))
        w = f32_weights(seed, v, k, d, h, e, 2.0)
    _, m = f32_model(tmp, f"m{seed}", w, "float32:3")
    got = float32.deviation(m, fmpq(3))
    want = reference_deviation(m, Fraction(3))
    for (q, y), x in np.ndenumerate(want):
        g = Fraction(float(got[q, y]))
        assert x <= g <= x * (1 + Fraction(1, 10**9)), f"CLOSED FORM {q, y}: {float(g)} {float(x)}"


@pytest.mark.parametrize("seed", [0, 1, 2, None])
def test_deviation_closed_form(tmp_path, seed):
    _closed_form(tmp_path, seed)


def _budget_refused(tmp) -> None:
    """Detector: scores so large that the softmax budget cannot close are refused."""
    w = f32_weights(3, 3, 2, 3, 1, 3, 300.0)
    _, m = f32_model(tmp, "huge", w)
    with pytest.raises(CheckError) as exc:
        float32.deviation(m, fmpq(4))
    assert exc.value.reason == Reason.UNSUPPORTED


def test_budget_that_cannot_close_is_refused(tmp_path):
    _budget_refused(tmp_path)


def _near_tie(tmp) -> None:
    """Detector: under float32 the near-tie input is not counted."""
    _, m = f32_model(tmp, "tie", near_tie_weights())
    got = kernel.exact_accuracy(m)[0]
    assert got == 1, f"FLOAT32 COUNTED A TIE: {got}"


DETECTORS = {
    "closed-form": lambda tmp: _closed_form(tmp, 0),
    "closed-form-zero": lambda tmp: _closed_form(tmp, None),
    "budget": _budget_refused,
    "near-tie": _near_tie,
}
MUTANTS = {
    "no-widening": S.Mutant(
        float32,
        "widen",
        (("return B.add(eu, B.from_bounds(-dl, dl))", "return eu"),),
        (("near-tie", "FLOAT32 COUNTED A TIE"),),
        "EU not widened: the real theorem",
    ),
    "max-subtract-unrounded": S.Mutant(
        float32,
        "deviation",
        (("_m(2 * u, _s(_m(inv_c, Wq), sig))", "_m(0 * u, _s(_m(inv_c, Wq), sig))"),),
        (("closed-form", "CLOSED FORM"),),
        "the rounding of s - max dropped",
    ),
    "weights-sum-exact": S.Mutant(
        float32,
        "deviation",
        (("_m(om, mid)[None, :]", "_m(0.0, mid)[None, :]"),),
        (("closed-form", "CLOSED FORM"),),
        "sum of the float32 weights taken as exactly 1",
    ),
    "value-sum-one-term": S.Mutant(
        float32,
        "deviation",
        (("_m(_g(k), Vx)", "_m(_g(1), Vx)"),),
        (("closed-form", "CLOSED FORM"),),
        "gamma_1 for the k-term value sum",
    ),
    "exp-half-ulp": S.Mutant(
        float32,
        "deviation",
        (("_up(U * 2 * U32)", "_up(U * U32)"),),
        (("closed-form", "CLOSED FORM"),),
        "exp's U ulp taken as U 2^-24 relative",
    ),
    "unembed-no-underflow": S.Mutant(
        float32,
        "deviation",
        (("bU)), (d + 1) * ETA)", "bU)), 0 * ETA)"),),
        (("closed-form-zero", "CLOSED FORM"),),
        "the unembedding's underflow term dropped",
    ),
    "no-budget-check": S.Mutant(
        float32,
        "deviation",
        (("all(x + 2 * k * arb(mu) < arb(0.5) for x in lam)", "True"),),
        (("budget", "DID NOT RAISE"),),
        "a softmax budget that does not close accepted",
    ),
}


_, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)


# ---- Lemma F: zero-tolerance containment against adversarial float32 evaluations ------------


@FAST
@given(
    seed=st.integers(0, 10**6),
    dims=st.tuples(
        st.integers(2, 4),
        st.integers(1, 3),
        st.integers(1, 3),
        st.integers(1, 2),
        st.integers(1, 3),
    ),  # fmt: skip
    scale=st.sampled_from([0.5, 2.0, 6.0]),
    U=st.sampled_from([1, 4]),
)
def test_float32_evaluations_stay_within_delta(tmp_path, seed, dims, scale, U):
    v, k, d, h, e = dims
    try:
        _, m = f32_model(
            tmp_path, f"p{seed}", f32_weights(seed, v, k, d, h, e, scale), f"float32:{U}"
        )
        delta = float32.deviation(m, fmpq(U))
    except CheckError as exc:  # a budget that does not close is refused, never wrong
        assert exc.reason == Reason.UNSUPPORTED
        return
    rng = np.random.default_rng(seed)
    for _ in range(2):
        x = [int(t) for t in rng.integers(0, v, k)]
        exact = exact_logits(m, x)
        got = forward_f32(m, x, rng, U)
        for y in range(v):
            diff = arb(fmpq(got[y].numerator, got[y].denominator)) - exact[y]
            assert diff.abs_upper() <= arb(float(delta[x[-1], y])), (x, y)


# ---- the near-tie model and the lying certificate -------------------------------------------


def test_near_tie_real_counts_float32_does_not(tmp_path):
    path, m = f32_model(tmp_path, "tie", near_tie_weights())
    # an order in which float32 loses: ((2^-25 + 2^-25) + 2^-25) + 1 rounds up to 1 + 2^-23
    third = Fraction(2) ** -25
    lost = f32(f32(f32(third + third) + third) + 1)
    assert lost == 1 + Fraction(2) ** -23 == Fraction(float(m.W_U[0, 1]))  # a tie: wrong
    assert f32(f32(f32(1 + third) + third) + third) == 1  # left to right: right
    real = kernel.exact_accuracy(float32.bind(m, "real"))
    f32c = kernel.exact_accuracy(m)
    assert real[0] == 2 and f32c[0] == 1  # x = (1) is counted by real only
    for sem, want in (("real", 2), ("float32:4", 1)):
        proof = REGISTRY["brute-force"].prove(float32.bind(m, sem))
        proof.write(tmp_path / f"{sem[:4]}.cert", m.sha256)
        verdict = kernel.check(tmp_path / f"{sem[:4]}.cert", path)
        assert (verdict.proven, verdict.semantics) == (want, sem)
    # the liar: the real proof relabelled float32 claims x = (1) too
    liar = REGISTRY["brute-force"].prove(float32.bind(m, "real"))
    liar.semantics = "float32:4"
    liar.write(tmp_path / "liar.cert", m.sha256)
    assert reason_of(lambda: kernel.check(tmp_path / "liar.cert", path)) == Reason.CLAIM_MISMATCH


def test_rules_outside_float32_are_refused(tmp_path, monkeypatch):
    path, m = f32_model(tmp_path, "tie", near_tie_weights())
    REGISTRY["brute-force"].prove(m).write(tmp_path / "b.cert", m.sha256)
    assert kernel.check(tmp_path / "b.cert", path).proven == 1
    monkeypatch.setattr(kernel, "FLOAT32", FLOAT32 - {"enumerate"})
    assert reason_of(lambda: kernel.check(tmp_path / "b.cert", path)) == Reason.UNSUPPORTED
    assert set(FLOAT32) <= set(RULES)


def test_every_strategy_proves_float32_at_most_real(tmp_path):
    """Every registry strategy runs under float32 on a one-head float32 model; its checked
    bound never exceeds the real one, and the float32 count never exceeds the numpy float32
    forward pass's."""
    from generators.float32_forward import correct_numpy

    w = f32_weights(7, 5, 3, 4, 1, 4, 1.0)
    w["embed.W_E"][:, 0] = np.arange(5) * 2.0  # roughly max-of-k
    w["unembed.W_U"][0] = np.arange(5) * 1.5
    path, m = f32_model(tmp_path, "s", w)
    fwd, _ = correct_numpy(m)
    refused = []
    for name, cfg in REGISTRY.items():
        got = {}
        for sem in ("real", "float32:4"):
            try:
                proof = cfg.prove(float32.bind(m, sem))
            except (CheckError, UnsupportedModel) as exc:  # a rule not admitted under float32
                assert (
                    sem != "real"
                    and getattr(exc, "reason", Reason.UNSUPPORTED) == Reason.UNSUPPORTED
                ), (name, exc)
                real_rules = {s["rule"] for s in cfg.prove(float32.bind(m, "real")).steps}
                real_factors = {
                    s["args"].get("name") for s in cfg.prove(float32.bind(m, "real")).steps
                }
                assert real_rules - FLOAT32 or real_factors & {"E", "U"}, name
                refused.append(name)
                break
            proof.write(tmp_path / "c.cert", m.sha256)
            got[sem] = kernel.check(tmp_path / "c.cert", path).proven
        if name in refused:
            continue
        assert got["float32:4"] <= got["real"], name
        assert got["float32:4"] <= fwd, name
    assert len(refused) < len(REGISTRY) // 2, refused


@pytest.mark.slow
def test_zoo_differential_float32_forward():
    """seed 0: the kernel's float32 brute-force count <= the numpy float32 forward pass's,
    and within 1e-4 of the real count."""
    from generators.float32_forward import correct_numpy

    m = float32.bind(load_model("zoo/k4/seed000.safetensors"), "float32:4")
    proven = kernel.exact_accuracy(m)[0]
    fwd, total = correct_numpy(m)
    real = kernel.exact_accuracy(float32.bind(m, "real"))[0]
    assert proven <= fwd and (real - proven) / total < 1e-4


def test_cli_prove_float32_and_check(tmp_path):
    """`prove --semantics float32 --exp-ulp U` writes a float32:U certificate; `check` names
    the theorem; a malformed U or a float64 model is a clean error."""
    import json
    import subprocess
    import sys

    path, _ = f32_model(tmp_path, "tie", near_tie_weights())
    cli = [sys.executable, "-m", "generators.cli"]
    cert = tmp_path / "f.cert"
    r = subprocess.run([*cli, "prove", str(path), "--strategy", "brute-force", "--out",
                        str(cert), "--semantics", "float32", "--exp-ulp", "3/2", "--json"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["semantics"] == "float32:3/2"
    r = subprocess.run([*cli, "check", str(cert), "--model", str(path), "--json"],
                       capture_output=True, text=True)  # fmt: skip
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["semantics"] == "float32:3/2" and out["proven"] == 1
    assert "binary32" in out["theorem"] and "3/2 ulp" in out["theorem"]
    bad = subprocess.run([*cli, "prove", str(path), "--strategy", "brute-force", "--out",
                          str(cert), "--semantics", "float32", "--exp-ulp", "x"],
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "semantics" in bad.stderr
    p64 = save(tmp_path, "m64", near_tie_weights())
    r = subprocess.run([*cli, "prove", str(p64), "--strategy", "brute-force", "--out",
                        str(cert), "--semantics", "float32"],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 1 and "float32 weights" in r.stderr and "Traceback" not in r.stderr


def test_sharded_check_keeps_the_semantics(tmp_path):
    """The sharded replay (checker.shard) replays float32 certificates under float32: the
    tasks carry the semantics and a shard under another semantics is refused."""
    from checker import shard

    class Serial:
        map = staticmethod(map)

    path, m = f32_model(tmp_path, "tie", near_tie_weights())
    REGISTRY["brute-force"].prove(m).write(tmp_path / "b.cert", m.sha256)
    assert kernel.check(tmp_path / "b.cert", path, pool=Serial()).proven == 1
    raw, cert = kernel.read_certificate(tmp_path / "b.cert")
    import hashlib

    sha = hashlib.sha256(raw).hexdigest()
    task = shard.tasks(cert, str(path), m.sha256, str(tmp_path / "b.cert"), sha, 2)[0]
    assert task.semantics == "float32:4"
    import dataclasses

    wrong = dataclasses.replace(task, semantics="real")
    assert reason_of(lambda: shard.check_shard(wrong)) == Reason.SHARD
