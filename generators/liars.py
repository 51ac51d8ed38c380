"""Deliberately unsound ("lying") proof generators, and the adversarial models that expose them.

DESIGN.md §7: each liar below reasons with a lemma the kernel does not have (or miscounts),
writes a well-formed certificate with ``certificates/writer.py`` exactly as an honest
generator would, and claims more than it may.  ``checker.kernel.check`` must reject every
one of them with the specific :class:`checker.Reason` listed in :data:`LIARS`.  The
adversarial models built by :func:`table_model` make each lie a *real* lie: on at least one
of them the liar's claimed bound exceeds the model's exact accuracy (tests/test_lying.py).

Liars may use kernel code, as the honest generators do (they are untrusted either way).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from checker import Model, Reason, cases, load_model
from checker import balls as B
from checker.tables import Tables, path_tables
from generators.strategies import Proof
from generators.strategies.brute_force import prove as brute_prove
from generators.strategies.cubic import choose_sets
from generators.tinymodels import write_model

# ---- adversarial models with prescribed path tables ----------------------------------------


@dataclass(frozen=True)
class Head:
    """The path tables one head should have: effective scores s[t] + r[p], EVOU, PVOU."""

    s: list[float]  # [v] token part of the (already 1/sqrt(e)-scaled) score
    r: list[float]  # [k] position part of the score
    evou: list[list[float]]  # [v(t), v(y)]
    pvou: list[list[float]]  # [k(p), v(y)]


def table_weights(heads: list[Head], eupu: list[list[float]]) -> dict[str, np.ndarray]:
    """Return TL weights whose path tables are exactly the given ones (dyadic inputs).

    Residual coordinates: token one-hot (v), position one-hot (k), one output direction per
    logit (v).  Every query has the coordinate of position k-1, so W_Q reads it; W_K writes
    3 s[t] / 3 r[p] into head dimension 0 with e = 9 or 16 (sqrt(e) is exact, so the scaled
    score is s[t] + r[p] exactly); W_V copies the token and position one-hots into head
    dimensions, W_O writes the rows of EVOU / PVOU into the output directions, W_U reads them
    and the direct path EUPU[q] from the token coordinates.
    """
    v, k = len(eupu), len(heads[0].r)
    d = 2 * v + k
    e = 9 if v + k <= 9 else 16
    root = math.isqrt(e)
    if v + k > e:
        raise ValueError("table_weights: v + k must be at most 16")
    h = len(heads)
    W_E = np.zeros((v, d))
    W_E[np.arange(v), np.arange(v)] = 1.0
    W_pos = np.zeros((k, d))
    W_pos[np.arange(k), v + np.arange(k)] = 1.0
    W_Q = np.zeros((h, d, e))
    W_K = np.zeros((h, d, e))
    W_V = np.zeros((h, d, e))
    W_O = np.zeros((h, e, d))
    for i, hd in enumerate(heads):
        W_Q[i, v + k - 1, 0] = 1.0
        W_K[i, :v, 0] = root * np.asarray(hd.s, dtype=np.float64)
        W_K[i, v : v + k, 0] = root * np.asarray(hd.r, dtype=np.float64)
        W_V[i, np.arange(v + k), np.arange(v + k)] = 1.0
        W_O[i, :v, v + k :] = np.asarray(hd.evou, dtype=np.float64)
        W_O[i, v : v + k, v + k :] = np.asarray(hd.pvou, dtype=np.float64)
    W_U = np.zeros((d, v))
    W_U[:v] = np.asarray(eupu, dtype=np.float64)
    W_U[v + k :] = np.eye(v)
    return {
        "embed.W_E": W_E,
        "pos_embed.W_pos": W_pos,
        "blocks.0.attn.W_Q": W_Q,
        "blocks.0.attn.W_K": W_K,
        "blocks.0.attn.W_V": W_V,
        "blocks.0.attn.W_O": W_O,
        "unembed.W_U": W_U,
    }


def table_model(path: Path, heads: list[Head], eupu: list[list[float]]) -> Path:
    """Write the model of :func:`table_weights` to ``path`` (float64) and return the path."""
    return write_model(path, table_weights(heads, eupu))


def mixture_trap(path: Path) -> Path:
    """v=3, k=3: position-dependent values on which two *pure* cases are correct and their
    mixture is not (the pure-token shortcut without position-independence is unsound).

    For query q = 2 the scaled margin
    of x = (x0, x1, 2) is tau(0, x0) + tau(1, x1) + tau(2, 2), tau(p, t) = g_t (a_t + b_p):
    pure (1, 1, 2) and (0, 0, 2) are correct, the mixture (1, 0, 2) is not.
    """
    head = Head(
        s=[0.0, 2.375, 1.625],
        r=[0.0, 0.0, 0.0],
        evou=[[0.0, 0.0, 1.0], [0.0, 0.0, -0.9375], [0.0, 0.0, 0.0]],
        pvou=[[0.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.09375]],
    )
    # The direct path pushes logit 2 for queries 0 and 1, so that their inputs are decided
    # (max 2: correct, provably; max < 2: incorrect) and the trap is at query 2 alone.
    return table_model(path, [head], [[0.0, 0.0, 100.0], [0.0, 0.0, 100.0], [0.0, 0.0, 0.0]])


def direct_trap(path: Path) -> Path:
    """v=3, k=2: the direct path favours the query token by 3, attention on the max copies it
    by 4 (a_max - a_query in (3/8, 3/4)): the three inputs with query < max are incorrect,
    and become "correct" if the direct path is halved or attention is assumed all on the max.
    """
    g = 0.84375  # score gap per token: a_m / a_q = exp(g) ~ 2.33 for adjacent tokens
    head = Head(
        s=[0.0, g, 2 * g],
        r=[0.0, 0.0],
        evou=[[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]],
        pvou=[[0.0] * 3, [0.0] * 3],
    )
    return table_model(path, [head], [[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0]])


def poison_trap(path: Path) -> Path:
    """v=4, k=3: attention on the max (scores 8t), which it copies, except that token 0 draws
    as much attention as the top token and votes for logit 0: every input holding a 0 below
    its max is incorrect, every input over {1, 2, 3} is correct (and provably so)."""
    head = Head(
        s=[24.0, 8.0, 16.0, 24.0],
        r=[0.0, 0.0, 0.0],
        evou=[[9.0, 0, 0, 0], [0, 4.0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 4.0]],
        pvou=[[0.0] * 4 for _ in range(3)],
    )
    return table_model(path, [head], [[0.0] * 4 for _ in range(4)])


def two_head_trap(path: Path) -> Path:
    """v=3, k=2, two heads: head 0 copies the max (a perfect one-head model), head 1 attends
    to the query and copies it twice as strongly, so every input with query < max is wrong."""
    copy = Head(
        s=[0.0, 4.0, 8.0], r=[0.0, 0.0], evou=np.eye(3).tolist(), pvou=[[0.0] * 3, [0.0] * 3]
    )
    spoil = Head(
        s=[0.0, 0.0, 0.0], r=[0.0, 8.0], evou=(2 * np.eye(3)).tolist(), pvou=[[0.0] * 3] * 2
    )
    return table_model(path, [copy, spoil], [[0.0] * 3 for _ in range(3)])


def tie_model(path: Path, v: int = 3, k: int = 3, heads: int = 1) -> Path:
    """Uniform attention, logit[y] = #{p : x_p = y} / k, no direct path: x is correct iff its
    max is strictly its most frequent token (closed form; many exact ties)."""
    hd = Head(
        s=[0.0] * v,
        r=[0.0] * k,
        evou=(np.eye(v) / heads).tolist(),
        pvou=[[0.0] * v for _ in range(k)],
    )
    return table_model(path, [hd] * heads, [[0.0] * v for _ in range(v)])


# ---- the liars ------------------------------------------------------------------------------


def _step(q: int, variant: str, count: int) -> dict:
    return {
        "id": f"q{q}",
        "rule": "position-cases",
        "args": {"tables": "tables", "query": q, "values": variant, "sets": f"G{q}"},
        "claim": {"correct": int(count)},
    }


def _cubic_proof(
    model: Model, name: str, variant: str, per_query: Callable[[int], tuple[np.ndarray, int]]
) -> Proof:
    """Assemble a position-cases certificate from per-query (sets [m, c, t], claimed count)."""
    steps: list[dict] = [{"id": "tables", "rule": "path-tables", "args": {}, "claim": {}}]
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for q in range(model.v):
        sets, count = per_query(q)
        arrays[f"G{q}"] = np.packbits(sets, axis=2)
        steps.append(_step(q, variant, count))
        total += count
    return Proof(name, Fraction(min(total, model.total), model.total), steps, arrays)


def _allowed(v: int, k: int, q: int) -> np.ndarray:
    """Booleans [m, c, t]: hint bits the kernel admits (valid case, t < m)."""
    valid = cases.valid_cases(v, k, q)
    return valid[:, :, None] & (np.arange(v)[None, None, :] < np.arange(v)[:, None, None])


def _count(sets: np.ndarray, proven: np.ndarray, k: int, q: int) -> int:
    """C(k-1, c) |G|^c summed over the (m, c) cases marked proven (the count lemma)."""
    v = sets.shape[0]
    valid = cases.valid_cases(v, k, q)
    sizes = sets.sum(axis=2)
    n = 0
    for m, c in zip(*np.nonzero(proven & valid), strict=True):
        if c == 0 or sizes[m, c] > 0:
            n += math.comb(k - 1, int(c)) * int(sizes[m, c]) ** int(c)
    return n


def liar_max_attention(model: Model) -> Proof:
    """(a) Assume attention is entirely on the max token: the case (q, m, *) is "proven" when
    the max token's own value beats every wrong logit, whatever the other tokens are, and
    G = every t < m.  Ignores the non-max tokens' (and the query's) values."""
    T = path_tables(model)
    v, k = model.v, model.k
    eu, ev, pv = T.EUPU.mid, T.EVOU.mid[0], T.PVOU.mid[0]

    def per_query(q: int) -> tuple[np.ndarray, int]:
        sets = _allowed(v, k, q)
        proven = np.zeros((v, k), dtype=bool)
        for m in range(q, v):
            ys = [y for y in range(v) if y != m]
            val = min(eu[q, m] - eu[q, y] + ev[m, m] - ev[m, y] for y in ys)
            val += min(float(np.min(pv[:, m] - pv[:, y])) for y in ys)
            proven[m] = val > 0
        return sets, _count(sets, proven, k, q)

    return _cubic_proof(model, "liar-max-attention", "paper", per_query)


def _singleton_bounds(tau: B.Ball, q: int, v: int, k: int) -> np.ndarray:
    """Booleans [m, c, t]: the kernel's bound for G = {t} alone is certainly positive."""
    allowed = _allowed(v, k, q)
    out = np.zeros((v, k, v), dtype=bool)
    for t in range(v):
        sets = allowed & (np.arange(v)[None, None, :] == t)
        out[:, :, t] = B.positive(cases.case_bounds(tau, q, sets)) & allowed[:, :, t]
    return out


def liar_mixture(model: Model) -> Proof:
    """(b) The pure-token shortcut with position-dependent values: put t in G(m, c) when the
    *pure* case (every non-max position holds t) is proven with the positional values, and
    claim every mixture of those tokens without bounding the mixture.  The pure-token lemma
    needs position-independent values; with per-position values the argmin token can differ
    between positions (tests/lying.py: mixture_trap)."""
    T = path_tables(model)
    v, k = model.v, model.k
    parts, _ = cases.value_parts(T, "positional")

    def per_query(q: int) -> tuple[np.ndarray, int]:
        tau, _ = cases.tau_table(T, q, "positional", parts)
        sets = _singleton_bounds(tau, q, v, k)
        base = B.positive(cases.case_bounds(tau, q, np.zeros((v, k, v), dtype=bool)))
        proven = sets.any(axis=2)
        proven[:, 0] = base[:, 0]
        return sets, _count(sets, proven, k, q)

    return _cubic_proof(model, "liar-mixture", "positional", per_query)


def liar_best_positions(model: Model) -> Proof:
    """(b') Per-position values used to choose G the wrong way round: t joins G(m, c) when the
    case holding t at its c *best* positions is proven (the c largest tau(p, t) - tau(p, m)),
    and every placement of G's tokens is claimed.  The kernel's lemma needs each token bounded
    at the positions where it does worst."""
    T = path_tables(model)
    v, k = model.v, model.k
    parts, _ = cases.value_parts(T, "positional")

    def per_query(q: int) -> tuple[np.ndarray, int]:
        tau, _ = cases.tau_table(T, q, "positional", parts)
        lo, ms = B.lower(tau), np.arange(v)
        base = lo[ms, :, ms][:, : k - 1].sum(axis=1) + lo[:, k - 1, q]  # [m]
        gain = lo[:, : k - 1, :] - B.upper(tau)[ms, :, ms][:, : k - 1, None]  # [m, p, t]
        best = -np.sort(-gain, axis=1)  # descending over p
        csum = np.concatenate([np.zeros((v, 1, v)), np.cumsum(best, axis=1)], axis=1)
        sets = _allowed(v, k, q) & (base[:, None, None] + csum > 0)
        proven = sets.any(axis=2)
        proven[:, 0] = B.positive(cases.case_bounds(tau, q, sets))[:, 0]
        return sets, _count(sets, proven, k, q)

    return _cubic_proof(model, "liar-best-positions", "positional", per_query)


def _proven(tau: B.Ball, q: int, sets: np.ndarray) -> np.ndarray:
    """Booleans [m, c]: the kernel's bound proves case (m, c) with these sets (G non-empty
    unless c = 0, as the kernel counts)."""
    k = tau.shape[1]
    counted = sets.any(axis=2) | (np.arange(k)[None, :] == 0)
    return B.positive(cases.case_bounds(tau, q, sets)) & counted


def liar_failing_token(model: Model) -> Proof:
    """(c) Count tokens whose bound failed: the honest ``cubic-paired`` sets, plus, in every
    proven case, every token whose own (pure) bound is not positive; claim C(k-1, c) |G|^c."""
    T = path_tables(model)
    v, k = model.v, model.k

    def per_query(q: int) -> tuple[np.ndarray, int]:
        tau, _ = cases.tau_table(T, q, "paired", None)
        sets = choose_sets(tau, q)
        proven = _proven(tau, q, sets)
        failing = _allowed(v, k, q) & ~_singleton_bounds(tau, q, v, k)
        failing[:, 0] = False
        sets = sets | (failing & proven[:, :, None])
        return sets, _count(sets, proven, k, q)

    return _cubic_proof(model, "liar-failing-token", "paired", per_query)


def liar_failing_token_in_bound(model: Model) -> Proof:
    """(c') The bookkeeping form of (c): every step is honest (the sets and claims of
    ``cubic-paired``, which the kernel re-derives), but the header bound also counts the
    inputs (c) would have added with its failing tokens."""
    T = path_tables(model)
    v, k = model.v, model.k
    extra = 0

    def per_query(q: int) -> tuple[np.ndarray, int]:
        nonlocal extra
        tau, _ = cases.tau_table(T, q, "paired", None)
        sets = choose_sets(tau, q)
        count, _, _ = cases.count_query(T, q, "paired", None, sets, f"q{q}")
        proven = _proven(tau, q, sets)
        failing = _allowed(v, k, q) & ~_singleton_bounds(tau, q, v, k)
        failing[:, 0] = False
        extra += _count(sets | (failing & proven[:, :, None]), proven, k, q) - count
        return sets, count

    proof = _cubic_proof(model, "liar-failing-token-in-bound", "paired", per_query)
    proven = int(proof.bound * model.total)
    proof.bound = Fraction(min(proven + extra, model.total), model.total)
    return proof


def liar_half_direct(model: Model) -> Proof:
    """(d) Halve the direct-path (residual) term where it hurts: the paper's cubic with
    w(t, p) = min_y D_y / 2 + EP(t) instead of min_y D_y + EP(t) when min_y D_y < 0."""
    T = path_tables(model)
    parts, _ = cases.value_parts(T, "paper")
    eu = T.EUPU

    def per_query(q: int) -> tuple[np.ndarray, int]:
        w, _ = cases.value_table(T, q, "paper", parts)  # [m, p, t]
        D = B.sub(B.Ball(eu.mid[q][:, None], eu.rad[q][:, None]), B.Ball(eu.mid[q], eu.rad[q]))
        dmin = cases._min_excluding_m(D, axis=1)  # [m]
        gain = np.maximum(-0.5 * dmin.mid, 0.0)[:, None, None]
        w_lie = B.add(w, B.exact(np.broadcast_to(gain, w.shape).copy()))
        f = B.Ball(T.f.mid[0, q][None, :, None], T.f.rad[0, q][None, :, None])
        g = B.Ball(T.g.mid[0, q][None, None, :], T.g.rad[0, q][None, None, :])
        tau = B.mul(B.mul(f, g), w_lie)
        sets = choose_sets(tau, q)
        return sets, _count(sets, _proven(tau, q, sets), model.k, q)

    return _cubic_proof(model, "liar-half-direct", "paper", per_query)


def head0(T: Tables) -> Tables:
    """The tables of head 0 alone (what a liar ignoring the other heads works with)."""

    def first(b: B.Ball) -> B.Ball:
        return B.Ball(b.mid[:1], b.rad[:1])

    return replace(
        T,
        EQKE=first(T.EQKE),
        EQKP=first(T.EQKP),
        EVOU=first(T.EVOU),
        PVOU=first(T.PVOU),
        g=first(T.g),
        f=first(T.f),
    )


def liar_ignore_heads(model: Model) -> Proof:
    """(g) Apply the one-head cubic lemma to a multi-head model, ignoring every head but 0."""
    T0 = head0(path_tables(model))

    def per_query(q: int) -> tuple[np.ndarray, int]:
        tau, _ = cases.tau_table(T0, q, "paired", None)
        sets = choose_sets(tau, q)
        count, _, _ = cases.count_query(T0, q, "paired", None, sets, f"q{q}")
        return sets, count

    return _cubic_proof(model, "liar-ignore-heads", "paired", per_query)


def _brute(model: Model) -> tuple[Proof, list[int]]:
    proof = brute_prove(model)
    counts = [int(s["claim"]["correct"]) for s in proof.steps if s["rule"] == "enumerate"]
    return proof, counts


def liar_brute_plus_one(model: Model) -> Proof:
    """(e) Brute force claiming one more correct input than there is (step claim and bound)."""
    proof, counts = _brute(model)
    q = next((i for i, c in enumerate(counts) if c < model.v ** (model.k - 1)), 0)
    proof.steps[1 + q]["claim"]["correct"] += 1
    proof.bound = min(proof.bound + Fraction(1, model.total), Fraction(1))
    return proof


def liar_brute_bound_plus_one(model: Model) -> Proof:
    """(e') Brute force with honest steps and a bound one input higher than their sum."""
    proof, _ = _brute(model)
    proof.bound = min(proof.bound + Fraction(1, model.total), Fraction(1))
    return proof


def liar_double_count(model: Model) -> Proof:
    """(f) Cover the best query twice and drop the worst one: no single claim is wrong, but
    the counted inputs overlap."""
    proof, counts = _brute(model)
    best, worst = int(np.argmax(counts)), int(np.argmin(counts))
    dup = dict(proof.steps[1 + best], id="again")
    proof.steps = [s for i, s in enumerate(proof.steps) if i != 1 + worst] + [dup]
    proof.bound = Fraction(sum(counts) - counts[worst] + counts[best], model.total)
    return proof


@dataclass(frozen=True)
class Liar:
    make: Callable[[Model], Proof]
    reason: Reason  # the rejection the kernel must give


LIARS: dict[str, Liar] = {
    "max-attention": Liar(liar_max_attention, Reason.CLAIM_MISMATCH),
    "mixture-positional": Liar(liar_mixture, Reason.CLAIM_MISMATCH),
    "failing-token": Liar(liar_failing_token, Reason.CLAIM_MISMATCH),
    "best-positions": Liar(liar_best_positions, Reason.CLAIM_MISMATCH),
    "failing-token-in-bound": Liar(liar_failing_token_in_bound, Reason.BOUND_NOT_PROVEN),
    "half-direct-path": Liar(liar_half_direct, Reason.CLAIM_MISMATCH),
    "ignore-other-heads": Liar(liar_ignore_heads, Reason.UNSUPPORTED),
    "brute-plus-one": Liar(liar_brute_plus_one, Reason.CLAIM_MISMATCH),
    "brute-bound-plus-one": Liar(liar_brute_bound_plus_one, Reason.BOUND_NOT_PROVEN),
    "double-count": Liar(liar_double_count, Reason.OVERLAP),
}


def write_liar(name: str, model_path: Path, out: Path) -> tuple[Path, Fraction]:
    """Write liar ``name``'s certificate for the model; return (path, its claimed bound)."""
    model = load_model(model_path)
    proof = LIARS[name].make(model)
    proof.write(out, model.sha256)
    return out, proof.bound
