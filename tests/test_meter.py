"""The proof-length meter (checker.balls.Meter; DESIGN.md §5): each primitive charges per
the stated convention, a hand-countable certificate's length is pinned exactly, and the
brute-force length formula (generators.metrics.brute_force_length, the reference of
``compression``) equals the meter's count of the brute-force trace.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import balls as B
from checker import kernel, load_model
from checker.rules import enumerate as en
from generators.metrics import brute_force_length, compression
from generators.tinymodels import make_weights


def charged(fn) -> int:
    before = B.METER.ops
    fn()
    return B.METER.ops - before


def ball(*shape: int) -> B.Ball:
    rng = np.random.default_rng(sum(shape))
    return B.ball(rng.standard_normal(shape), np.abs(rng.standard_normal(shape)))


# ---- primitives ----------------------------------------------------------------------------


def test_primitive_charges():
    a, b = ball(3, 4), ball(3, 4)
    assert charged(lambda: B.add(a, b)) == 12  # add: one per output entry
    assert charged(lambda: B.sub(a, b[0])) == 12  # broadcasting: the output's size
    assert charged(lambda: B.mul(a, b)) == 12
    assert charged(lambda: B.sum(a, 1)) == 3 * 3  # (n - 1) per output
    assert charged(lambda: B.sum(a, 0)) == 2 * 4
    assert charged(lambda: B.sum(ball(3, 0), 1)) == 0
    assert charged(lambda: B.matmul(a, ball(4, 5))) == 3 * 5 * (2 * 4 - 1)  # m p (2n - 1)
    assert charged(lambda: B.matmul(ball(2, 3, 4), ball(2, 4, 1))) == 2 * 3 * 1 * 7
    assert charged(lambda: B.min(a, 1)) == 3 * 3  # (n - 1) comparisons per output
    assert charged(lambda: B.max(a, 0)) == 4 * 2
    where = np.array([[True, False, True, True]] * 3)
    assert charged(lambda: B.min(a, 1, where=where)) == 3 * 2  # n = the entries selected
    assert charged(lambda: B.min_lower(a, 1)) == 3 * 3
    assert charged(lambda: B.sort_lower(ball(2, 5), 1)) == 2 * 5 * math.ceil(math.log2(5))
    assert charged(lambda: B.sort_lower(ball(2, 1), 1)) == 0
    assert charged(lambda: B.positive(a)) == 12 and charged(lambda: B.nonpositive(a)) == 12
    assert charged(lambda: B.exp_scaled(ball(2, 3), 4)) == 2 * 6  # 2 per entry
    free = [
        lambda: B.exact(np.ones(5)),
        lambda: B.ball(np.ones(5), np.zeros(5)),
        lambda: B.from_bounds(np.zeros(5), np.ones(5)),
        lambda: B.lower(a),
        lambda: B.upper(a),
        lambda: a[1:, ::2].T.bcast((2, 2, 2)),
    ]
    for fn in free:  # ball bookkeeping is not counted
        assert charged(fn) == 0


# ---- a hand-countable certificate ----------------------------------------------------------

# v=2, k=2, d=1, one head, e=1, no biases; W_K = 0 (uniform attention).  logit_1 - logit_0
# = 2 r with r = E[q] + 1 + ((E[x0] + 1) + (E[q] + 1)) / 2, E = [-2, 3]: every input is
# correct and passes the fast sufficient test.
PIN = {
    "embed.W_E": [[-2.0], [3.0]],
    "pos_embed.W_pos": [[1.0], [1.0]],
    "blocks.0.attn.W_Q": [[[3.0]]],
    "blocks.0.attn.W_K": [[[0.0]]],
    "blocks.0.attn.W_V": [[[1.0]]],
    "blocks.0.attn.W_O": [[[1.0]]],
    "unembed.W_U": [[-1.0, 1.0]],
}
v, k, d, e = 2, 2, 1, 1
READS = 2  # a factor step reads name and head
# factor EU: E_q = W_E + W_pos[k-1] (v d adds); b_O W_U (v (2d-1)); + b_U (v); E_q W_U
# (v v (2d-1)); + bias (v v):  2 + 2 + 2 + 4 + 4 = 14
EU = v * d + v * (2 * d - 1) + v + v * v * (2 * d - 1) + v * v
EQ = v * d + v * e * (2 * d - 1) + v * e  # E_q; E_q W_Q; + b_Q        = 6
EK = v * e * (2 * d - 1)  # W_E W_K                                      = 2
PK = k * e * (2 * d - 1) + k * e  # W_pos W_K + b_K                       = 4
EV = v * e * (2 * d - 1)  #                                               = 2
PV = k * e * (2 * d - 1) + k * e  #                                       = 4
OU = e * v * (2 * d - 1)  # W_O W_U                                      = 2
FACTOR = EU + EQ + EK + PK + EV + PV + OU + 7 * READS  # = 34 + 14 = 48
# matmul: EVOU [v,e]@[e,v], PVOU [k,e]@[e,v], EQKE [v,e]@[e,v], EQKP [v,e]@[e,k]; each step
# reads its two cites and transpose_b
MATMUL = (v * v + k * v + v * v + v * k) * (2 * e - 1) + 4 * 3  # = 16 + 12 = 28
# exp: subtract the row shift (one per entry) and 2 per entry for exp_scaled; reads 1 cite
EXP = 3 * (v * v) + 3 * (v * k) + 2 * 1  # = 26
# enumerate, per query: reads query, 5 cites, the claim (7); the fast table: e = f g (k v),
# A = EVOU + PVOU (k v v), + EUPU[q] (k v v), delta = A_m - A (v k v v), min over y != m
# ((v - 2) per output: 0), times e (v k v); per input a sum of k (k - 1) and a sign (1)
FAST = k * v + 2 * k * v * v + v * k * v * v + (v - 2) * v * k * v + v * k * v  # = 44
ENUMERATE = v * (7 + FAST + v ** (k - 1) * k)  # = 2 * (7 + 44 + 4) = 110
HEADER = 1  # the bound
PINNED = HEADER + FACTOR + MATMUL + EXP + ENUMERATE  # = 213


def test_pinned_length(tmp_path):
    path = S.save(tmp_path, "pin", PIN)
    verdict = kernel.check(S.prove_to(path, "brute-force", tmp_path / "pin.cert"), path)
    assert verdict.proven == 4
    assert PINNED == 213
    assert verdict.ops == PINNED
    by = verdict.ops_by_rule
    assert by["(header)"]["ops"] == HEADER and by["factor"] == {"steps": 7, "ops": FACTOR}
    assert by["matmul"] == {"steps": 4, "ops": MATMUL} and by["exp"] == {"steps": 2, "ops": EXP}
    assert by["enumerate"] == {"steps": 2, "ops": ENUMERATE}
    M = load_model(path)
    assert brute_force_length(M) == PINNED and compression(M, verdict.ops) == 1.0


def test_bits_are_read_one_op_each(tiny_path):
    """A cases step reads its bit array bit by bit: v k v ops for ``sets``, whatever they say."""
    M = load_model(tiny_path)
    t, eu, heads = S.tables_trace(M)
    h = heads[0]
    w = t.paired(eu, h["evou"], h["pvou"], 0)
    step = S.step("c", "cases", cite={"margin": w, "g": h["g"], "f": h["f"]}, args={"sets": "G"})
    ops = []
    for bits in (np.zeros((M.v, M.k, M.v), dtype=bool), S.allowed_bits(M.v, M.k, 0)):
        cert = S.certificate(M, [*t.steps, step], {"G": np.packbits(bits, axis=2)})
        ops.append(kernel.replay(cert, M, claims=False).reports[-1].ops)
    assert min(ops) >= M.v * M.k * M.v + 3  # the bits and the three cites


# ---- the brute-force length formula --------------------------------------------------------


def _meter_of_brute_force(tmp, w, mp) -> tuple[int, int]:
    """(meter's count of the brute-force certificate with the exact path counting nothing,
    brute_force_length)."""
    path = S.save(tmp, "bf", w)
    M = load_model(path)
    with mp.context() as m:  # every input decided on the fast path: the slow path is free
        m.setattr(en, "_decide_exact", lambda T, q, x: (0, 0))
        cert = S.prove_to(path, "brute-force", tmp / "bf.cert")  # claims as the kernel's
        ops = kernel.check(cert, path).ops
    return ops, brute_force_length(M)


@S.FAST
@given(
    v=st.integers(2, 6),
    k=st.integers(2, 4),
    d=st.integers(1, 5),
    e=st.integers(1, 4),
    style=st.sampled_from(["random", "biased", "trained-like"]),
)
def test_brute_force_length_is_the_meter(tmp_path, v, k, d, e, style):
    w = make_weights(np.random.default_rng(v * k * d * e), v, k, d, 1, e, style)
    ops, formula = _meter_of_brute_force(tmp_path, w, pytest.MonkeyPatch())
    assert ops == formula, f"meter {ops} != brute_force_length {formula} (v={v} k={k} d={d} e={e})"


def test_brute_force_length_several_heads_is_a_lower_bound(tmp_path, tiny2_path):
    M = load_model(tiny2_path)
    cert = S.prove_to(tiny2_path, "brute-force", tmp_path / "h2.cert")
    assert kernel.check(cert, tiny2_path).ops >= brute_force_length(M)


def test_proof_length_counts_hints(tiny_path, tmp_path):
    """A bigger claim or more steps never makes the proof shorter: the cubic certificate's
    length includes its hints (one op per bit read)."""
    M = load_model(tiny_path)
    c = kernel.check(S.prove_to(tiny_path, "cubic", tmp_path / "c.cert"), tiny_path)
    assert c.ops_by_rule["cases"]["ops"] >= M.v * (M.v * M.k * M.v)
    assert Fraction(int(c.bound.p), int(c.bound.q)) <= 1
