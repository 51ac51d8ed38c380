"""Deliberately unsound ("lying") proof generators, and the adversarial models that expose them.

DESIGN.md §7: each liar below reasons with a lemma the kernel does not have (or miscounts),
lays out a well-formed version-2 trace with :class:`generators.trace.Trace` exactly as an
honest generator would, edits only the claim, hint, citation or bound its lie needs, and
claims more than it may.  ``checker.kernel.check`` must reject every
one of them with the specific :class:`checker.Reason` listed in :data:`LIARS`.  The
adversarial models built by :func:`table_model` make each lie a *real* lie: on at least one
of them the liar's claimed bound exceeds the model's exact accuracy (tests/test_lying.py).

Liars may use kernel code, as the honest generators do (they are untrusted either way).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from checker import Model, Reason, load_model
from checker import balls as B
from checker import lemmas as L
from checker.facts import MarginBound, Tensor
from checker.rules import RULES
from checker.rules import enumerate as en
from generators.search.cases import choose_sets, choose_split, tau_table
from generators.strategies.brute_force import BruteForce
from generators.tinymodels import write_model
from generators.trace import Proof, Trace

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
#
# Every liar lays out a version-2 trace with generators.trace.Trace, as an honest strategy
# does (so each step is well-formed and every claim the liar does not lie about is the
# kernel's own value), then edits the one thing its unsound reasoning changes: a claimed
# count, a hint array, a citation, a tensor claim or the header bound.

PerQuery = Callable[[Trace, int, str, B.Ball], tuple[np.ndarray, int]]


def _proof(t: Trace, name: str, claimed: int) -> Proof:
    """The liar's certificate: the trace's steps and arrays, claiming ``claimed`` / v^k."""
    total = t.model.total
    return Proof(name, Fraction(min(max(claimed, 0), total), total), t.steps, t.arrays)


def _cubic_liar(model: Model, name: str, values: str, per_query: PerQuery) -> Proof:
    """A cubic-family trace (head 0; ``values`` paper | positional | paired) whose ``cases``
    step for query q carries the sets and the claimed count of ``per_query(t, q, w, tau)``
    (w the margin step's id, tau the kernel's tau table for q)."""
    t = Trace(model)
    eu, (head,) = t.path_tables(range(1))
    val = ""
    if values != "paired":
        val = t.value(head["evou"], head["pvou"], "worst" if values == "paper" else "each")
    g, f = t.results[head["g"]].ball, t.results[head["f"]].ball
    claimed = 0
    for q in range(model.v):
        if values == "paired":
            w = t.paired(eu, head["evou"], head["pvou"], q)
        else:
            w = t.margin(eu, val, q)
        sets, count = per_query(t, q, w, tau_table(t.results[w].ball, g[q], f[q]))
        t.cases(w, head["g"], head["f"], q, sets, None)
        t.steps[-1]["claim"]["correct"] = int(count)
        claimed += int(count)
    return _proof(t, name, claimed)


def _allowed(v: int, k: int, q: int) -> np.ndarray:
    """Booleans [m, c, t]: hint bits the kernel admits (valid case, t < m)."""
    valid = L.valid_cases(v, k, q)
    return valid[:, :, None] & (np.arange(v)[None, None, :] < np.arange(v)[:, None, None])


def _count(sets: np.ndarray, proven: np.ndarray, k: int, q: int) -> int:
    """C(k-1, c) |G|^c summed over the (m, c) cases marked proven (the count lemma), with
    the kernel's convention that a case with G empty and c > 0 is empty."""
    v = sets.shape[0]
    sizes = sets.sum(axis=2)
    counted = L.valid_cases(v, k, q) & ((sizes > 0) | (np.arange(k)[None, :] == 0))
    return L.count_cases(k, sizes, proven & counted)


def _singleton_bounds(tau: B.Ball, q: int, v: int, k: int) -> np.ndarray:
    """Booleans [m, c, t]: the kernel's bound for G = {t} alone is certainly positive."""
    allowed = _allowed(v, k, q)
    out = np.zeros((v, k, v), dtype=bool)
    for t in range(v):
        sets = allowed & (np.arange(v)[None, None, :] == t)
        out[:, :, t] = B.positive(L.case_bounds(tau, q, sets)) & allowed[:, :, t]
    return out


def _proven(tau: B.Ball, q: int, sets: np.ndarray) -> np.ndarray:
    """Booleans [m, c]: the kernel's bound proves case (m, c) with these sets."""
    return B.positive(L.case_bounds(tau, q, sets))


def liar_max_attention(model: Model) -> Proof:
    """(a) Assume attention is entirely on the max token: the case (q, m, *) is "proven" when
    the max token's own value beats every wrong logit, whatever the other tokens are, and
    G = every t < m.  Ignores the non-max tokens' (and the query's) values."""
    v, k = model.v, model.k

    def per_query(t: Trace, q: int, w: str, tau: B.Ball) -> tuple[np.ndarray, int]:
        eu, ev, pv = (t.results[i].ball.mid for i in ("EU", "EVOU0", "PVOU0"))
        sets = _allowed(v, k, q)
        proven = np.zeros((v, k), dtype=bool)
        for m in range(q, v):
            ys = [y for y in range(v) if y != m]
            val = min(eu[q, m] - eu[q, y] + ev[m, m] - ev[m, y] for y in ys)
            val += min(float(np.min(pv[:, m] - pv[:, y])) for y in ys)
            proven[m] = val > 0
        return sets, _count(sets, proven, k, q)

    return _cubic_liar(model, "liar-max-attention", "paper", per_query)


def liar_mixture(model: Model) -> Proof:
    """(b) The pure-token shortcut with position-dependent values: put t in G(m, c) when the
    *pure* case (every non-max position holds t) is proven with the positional values, and
    claim every mixture of those tokens without bounding the mixture.  The pure-token lemma
    needs position-independent values; with per-position values the argmin token can differ
    between positions (mixture_trap)."""
    v, k = model.v, model.k

    def per_query(t: Trace, q: int, w: str, tau: B.Ball) -> tuple[np.ndarray, int]:
        sets = _singleton_bounds(tau, q, v, k)
        proven = sets.any(axis=2)
        proven[:, 0] = _proven(tau, q, np.zeros((v, k, v), dtype=bool))[:, 0]
        return sets, _count(sets, proven, k, q)

    return _cubic_liar(model, "liar-mixture", "positional", per_query)


def liar_best_positions(model: Model) -> Proof:
    """(b') Per-position values used to choose G the wrong way round: t joins G(m, c) when the
    case holding t at its c *best* positions is proven (the c largest tau(p, t) - tau(p, m)),
    and every placement of G's tokens is claimed.  The kernel's lemma needs each token bounded
    at the positions where it does worst."""
    v, k = model.v, model.k

    def per_query(t: Trace, q: int, w: str, tau: B.Ball) -> tuple[np.ndarray, int]:
        lo, ms = B.lower(tau), np.arange(v)
        base = lo[ms, :, ms][:, : k - 1].sum(axis=1) + lo[:, k - 1, q]  # [m]
        gain = lo[:, : k - 1, :] - B.upper(tau)[ms, :, ms][:, : k - 1, None]  # [m, p, t]
        best = -np.sort(-gain, axis=1)  # descending over p
        csum = np.concatenate([np.zeros((v, 1, v)), np.cumsum(best, axis=1)], axis=1)
        sets = _allowed(v, k, q) & (base[:, None, None] + csum > 0)
        proven = sets.any(axis=2)
        proven[:, 0] = _proven(tau, q, sets)[:, 0]
        return sets, _count(sets, proven, k, q)

    return _cubic_liar(model, "liar-best-positions", "positional", per_query)


def _failing_sets(tau: B.Ball, q: int, v: int, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(honest sets, sets plus every failing token in each proven case, the count with them)."""
    sets = choose_sets(tau, q)
    proven = _proven(tau, q, sets)
    failing = _allowed(v, k, q) & ~_singleton_bounds(tau, q, v, k)
    failing[:, 0] = False
    more = sets | (failing & proven[:, :, None])
    return sets, more, _count(more, proven, k, q)


def liar_failing_token(model: Model) -> Proof:
    """(c) Count tokens whose bound failed: the honest ``cubic-paired`` sets, plus, in every
    proven case, every token whose own (pure) bound is not positive; claim C(k-1, c) |G|^c."""

    def per_query(t: Trace, q: int, w: str, tau: B.Ball) -> tuple[np.ndarray, int]:
        _, more, count = _failing_sets(tau, q, model.v, model.k)
        return more, count

    return _cubic_liar(model, "liar-failing-token", "paired", per_query)


def liar_failing_token_in_bound(model: Model) -> Proof:
    """(c') The bookkeeping form of (c): every step is honest (the sets and claims of
    ``cubic-paired``, which the kernel re-derives), but the header bound also counts the
    inputs (c) would have added with its failing tokens."""
    extra = 0

    def per_query(t: Trace, q: int, w: str, tau: B.Ball) -> tuple[np.ndarray, int]:
        nonlocal extra
        sets, _, lying = _failing_sets(tau, q, model.v, model.k)
        honest = _count(sets, _proven(tau, q, sets), model.k, q)
        extra += lying - honest
        return sets, honest

    proof = _cubic_liar(model, "liar-failing-token-in-bound", "paired", per_query)
    claimed = int(proof.bound * model.total) + extra
    proof.bound = Fraction(min(claimed, model.total), model.total)
    return proof


def liar_half_direct(model: Model) -> Proof:
    """(d) Halve the direct-path (residual) term where it hurts: the paper's cubic with
    w = min_y D_y / 2 + W instead of min_y D_y + W when min_y D_y < 0 (sets and counts
    from that tau; the margin step itself is honest, so the count claims do not match)."""

    def per_query(t: Trace, q: int, w: str, tau: B.Ball) -> tuple[np.ndarray, int]:
        eu = t.results["EU"].ball
        dmin = L.min_wrong(B.sub(eu[q][:, None], eu[q][None, :]), 1)  # [m]
        gain = np.maximum(-0.5 * dmin.mid, 0.0)[:, None, None]
        wb = t.results[w].ball
        w_lie = B.add(wb, B.exact(np.broadcast_to(gain, wb.shape).copy()))
        g, f = t.results["exp.EQKE0"].ball, t.results["exp.EQKP0"].ball
        lie = tau_table(w_lie, g[q], f[q])
        sets = choose_sets(lie, q)
        return sets, _count(sets, _proven(lie, q, sets), model.k, q)

    return _cubic_liar(model, "liar-half-direct", "paper", per_query)


def liar_ignore_heads(model: Model) -> Proof:
    """(g) Apply the one-head cubic lemma to a multi-head model, ignoring every head but 0
    (the trace is the honest ``cubic-paired`` one of head 0; the kernel's ``cases`` rule
    covers one-head models only)."""

    def per_query(t: Trace, q: int, w: str, tau: B.Ball) -> tuple[np.ndarray, int]:
        sets = choose_sets(tau, q)
        return sets, _count(sets, _proven(tau, q, sets), model.k, q)

    return _cubic_liar(model, "liar-ignore-heads", "paired", per_query)


def _brute(model: Model) -> tuple[Proof, dict[int, int]]:
    """The honest brute-force proof and {step index: claimed count} of its enumerate steps."""
    proof = BruteForce().prove(model)
    counts = {
        i: int(s["claim"]["correct"]) for i, s in enumerate(proof.steps) if s["rule"] == "enumerate"
    }
    return proof, counts


def liar_brute_plus_one(model: Model) -> Proof:
    """(e) Brute force claiming one more correct input than there is (step claim and bound)."""
    proof, counts = _brute(model)
    full = model.v ** (model.k - 1)
    i = next((i for i, c in counts.items() if c < full), next(iter(counts)))
    proof.steps[i]["claim"]["correct"] += 1
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
    best = max(counts, key=lambda i: counts[i])
    worst = min(counts, key=lambda i: counts[i])
    dup = dict(proof.steps[best], id="again")
    proof.steps = [s for i, s in enumerate(proof.steps) if i != worst] + [dup]
    proof.bound = Fraction(sum(counts.values()) - counts[worst] + counts[best], model.total)
    return proof


# ---- liars the trace structure makes possible ----------------------------------------------


def liar_head0_for_all_heads(model: Model) -> Proof:
    """(h) Wrong meaning: brute force on a multi-head model that cites head 0's tables for
    every head (as if every head attended and copied like head 0).  ``enumerate`` must
    cite EVOU_h, PVOU_h and the exps of head h in position h (bad-reference)."""
    t = Trace(model)
    eu, (h0,) = t.path_tables(range(1))
    heads = [h0] * model.h
    T = en.Tables(
        t.results[eu].ball,
        *(en._stack([t.results[h[r]].ball for h in heads]) for r in ("evou", "pvou", "g", "f")),
    )
    claimed = 0
    for q in range(model.v):
        res = en.decide(model, T, q)
        cite = {"eupu": eu, **{r: [h[r] for h in heads] for r in ("evou", "pvou", "g", "f")}}
        t.steps.append(
            {
                "id": f"q{q}",
                "rule": "enumerate",
                "cite": cite,
                "args": {"query": q},
                "claim": {"correct": res.correct},
            }
        )
        claimed += res.correct
    return _proof(t, "liar-head0-for-all-heads", claimed)


def liar_eqkp_for_eqke(model: Model) -> Proof:
    """(i) Wrong meaning: the cubic ``cases`` step cites the positional attention table
    rowexp(EQKP) where the token table rowexp(EQKE) is required (possible when v = k: the
    shapes agree), so attention is taken as depending on positions only.  Counts are the
    kernel's ``cases`` function on those inputs (bad-reference)."""
    if model.v != model.k:
        raise ValueError("liar eqkp-for-eqke: needs v = k (the two tables' shapes must agree)")
    t = Trace(model)
    eu, (head,) = t.path_tables(range(1))
    g, f = t.results[head["f"]].ball, t.results[head["f"]].ball
    claimed = 0
    for q in range(model.v):
        w = t.paired(eu, head["evou"], head["pvou"], q)
        sets = choose_sets(tau_table(t.results[w].ball, g[q], f[q]), q)
        t.cases(w, head["f"], head["f"], q, sets, None)
        claimed += int(t.steps[-1]["claim"]["correct"])
    return _proof(t, "liar-eqkp-for-eqke", claimed)


def liar_value_as_margin(model: Model) -> Proof:
    """(j) Wrong type: the ``cases`` steps cite the query-independent ValueBound (positions
    kept) as if it were the per-query MarginBound, dropping the direct path D_y.  Counts are
    the kernel's ``cases`` function on that bound (bad-reference: a MarginBound is needed)."""
    t = Trace(model)
    eu, (head,) = t.path_tables(range(1))
    val = t.value(head["evou"], head["pvou"], "each")
    g, f = t.results[head["g"]].ball, t.results[head["f"]].ball
    W = t.results[val].ball
    claimed = 0
    for q in range(model.v):
        sets = choose_sets(tau_table(W, g[q], f[q]), q)
        name = t.bits(f"G{q}", sets)
        cites: dict[str, Any] = {
            "margin": MarginBound(q, W),
            "g": t.results[head["g"]],
            "f": t.results[head["f"]],
        }
        res = RULES["cases"].apply(model, cites, {"sets": sets}, lambda n, total: None)
        t.steps.append(
            {
                "id": f"q{q}",
                "rule": "cases",
                "cite": {"margin": val, "g": head["g"], "f": head["f"]},
                "args": {"sets": name},
                "claim": {"correct": res.correct},
            }
        )
        claimed += res.correct
    return _proof(t, "liar-value-as-margin", claimed)


def liar_other_query_margin(model: Model) -> Proof:
    """(k) A count citing a margin for another query: every query's ``cases`` step cites the
    margin bound (and sets) of the query the honest ``cubic-paired`` proof does best on, and
    claims that query's count for each of the v queries.  The kernel counts a MarginBound's
    own query, so the second such step covers a query already counted (overlap)."""
    t = Trace(model)
    eu, (head,) = t.path_tables(range(1))
    g, f = t.results[head["g"]].ball, t.results[head["f"]].ball
    best, best_n, best_sets = 0, -1, None
    paired = {"eupu": t.results[eu], **{r: t.results[head[r]] for r in ("evou", "pvou")}}
    for q in range(model.v):  # search (not written): the honest count per query
        w = RULES["paired"].apply(model, paired, {"query": q}, None)
        sets = choose_sets(tau_table(w.ball, g[q], f[q]), q)
        n = _count(sets, _proven(tau_table(w.ball, g[q], f[q]), q, sets), model.k, q)
        if n > best_n:
            best, best_n, best_sets = q, n, sets
    w = t.paired(eu, head["evou"], head["pvou"], best)
    name = t.bits(f"G{best}", best_sets)
    for q in range(model.v):
        t.steps.append(
            {
                "id": f"q{q}",
                "rule": "cases",
                "cite": {"margin": w, "g": head["g"], "f": head["f"]},
                "args": {"sets": name},
                "claim": {"correct": best_n},
            }
        )
    return _proof(t, "liar-other-query-margin", best_n * model.v)


def liar_claimed_direct_path(model: Model) -> Proof:
    """(l) A tensor claim that does not enclose the kernel's: the EU step claims the direct
    path halved (mid/2, radius 0), and the brute-force counts are computed from that claim
    (the residual bound halved, as a claimed tensor).  Rejected at the EU step."""
    t = Trace(model)
    eu, heads = t.path_tables()
    ball = t.results[eu].ball
    half = B.exact(ball.mid / 2)
    t.results[eu] = Tensor("EU", half)
    t.arrays["EU.mid"] = np.ascontiguousarray(half.mid, dtype=np.float64)
    t.arrays["EU.rad"] = np.zeros_like(half.mid)
    next(s for s in t.steps if s["id"] == eu)["claim"] = {"mid": "EU.mid", "rad": "EU.rad"}
    for q in range(model.v):
        t.enumerate(eu, heads, q)
    return _proof(t, "liar-claimed-direct-path", t.proven)


def liar_split_in_g(model: Model) -> Proof:
    """(m) Split cases whose outlier token is already in G: ``cubic-paired-split`` plus, in
    every live case, a split bit for each token of G whose split bound is positive, counted
    C(k-1, c) c |G|^(c-1) again.  Those inputs are already in the G case (the split lemma
    needs t outside G for disjointness): bad-hint."""
    t = Trace(model)
    eu, (head,) = t.path_tables(range(1))
    g, f = t.results[head["g"]].ball, t.results[head["f"]].ball
    v, k = model.v, model.k
    claimed = 0
    for q in range(v):
        w = t.paired(eu, head["evou"], head["pvou"], q)
        tau = tau_table(t.results[w].ball, g[q], f[q])
        sets = choose_sets(tau, q)
        split = choose_split(tau, q, sets)
        t.cases(w, head["g"], head["f"], q, sets, split)
        sizes = sets.sum(axis=2)
        live = (np.arange(k)[None, :] == 1) | (sizes > 0)
        extra = sets & live[:, :, None] & B.positive(L.split_bounds(tau, q, sets))
        extra[:, 0] = False
        t.bits(f"S{q}", split | extra)
        count = int(t.steps[-1]["claim"]["correct"]) + L.count_splits(k, sizes, extra)
        t.steps[-1]["claim"]["correct"] = count
        claimed += count
    return _proof(t, "liar-split-in-g", claimed)


def liar_value_other_head(model: Model) -> Proof:
    """(n) A margin built from a value bound of the wrong head: on a multi-head model, the
    cubic trace takes its value bound from the last head's EVOU and PVOU and combines it
    with head 0's attention (as if head 0 wrote the last head's values).  The ``value``
    rule must cite head 0's tables (bad-reference, at the value step)."""
    t = Trace(model)
    eu, heads = t.path_tables()
    last, first = heads[-1], heads[0]
    val = t.value(last["evou"], last["pvou"], "each")
    g, f = t.results[first["g"]].ball, t.results[first["f"]].ball
    for q in range(model.v):
        w = t.margin(eu, val, q)
        sets = choose_sets(tau_table(t.results[w].ball, g[q], f[q]), q)
        t.cases(w, first["g"], first["f"], q, sets, None)
    return _proof(t, "liar-value-other-head", t.proven)


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
    "head0-for-all-heads": Liar(liar_head0_for_all_heads, Reason.BAD_REFERENCE),
    "eqkp-for-eqke": Liar(liar_eqkp_for_eqke, Reason.BAD_REFERENCE),
    "value-as-margin": Liar(liar_value_as_margin, Reason.BAD_REFERENCE),
    "other-query-margin": Liar(liar_other_query_margin, Reason.OVERLAP),
    "claimed-direct-path": Liar(liar_claimed_direct_path, Reason.CLAIM_MISMATCH),
    "split-in-g": Liar(liar_split_in_g, Reason.BAD_HINT),
    "value-other-head": Liar(liar_value_other_head, Reason.BAD_REFERENCE),
}


def write_liar(name: str, model_path: Path, out: Path) -> tuple[Path, Fraction]:
    """Write liar ``name``'s certificate for the model; return (path, its claimed bound)."""
    model = load_model(model_path)
    proof = LIARS[name].make(model)
    proof.write(out, model.sha256)
    return out, proof.bound


# ---- liars of the subcubic family ------------------------------------------------------------


def _subcubic(model: Model, direct: str, attention: str) -> tuple[Proof, Trace]:
    """The honest subcubic proof and a replayed Trace of its steps (results readable)."""
    from generators.strategies.subcubic import Subcubic

    proof = Subcubic(direct, attention).prove(model)
    t = Trace(model)
    t.arrays = proof.arrays
    for s in proof.steps:
        t.step(s["rule"], s["id"], s["cite"], s["args"])
    return proof, t


def _gap_terms(t: Trace, q: int, sg: Any) -> dict[str, np.ndarray]:
    """Float midpoints of gap-cases' quantities for query q: P_y, N_y [m, y], rho [m],
    F_N, F_M [m, c] (the liar's own, unverified arithmetic)."""
    model, v, k = t.model, t.model.v, t.model.k
    eu, val = t.results["EU"].ball.mid[q], t.results["values"]
    f = t.results["exp.EQKP0"].ball.mid[q]
    j = np.arange(v) - sg.gap[q]
    D = eu[None, :] - eu[:, None]  # [m, y]
    P = D + val.A
    N = D + np.where(j >= 0, val.Bbar[np.arange(v), np.maximum(j, 0)], 0.0)[:, None]
    rho = np.exp(-sg.delta[q] / math.sqrt(model.e))
    fs = np.sort(f[: k - 1])
    c = np.arange(k)
    fn = np.array([fs[::-1][:ci].sum() for ci in c])
    fm = np.array([fs[: k - 1 - ci].sum() for ci in c])
    top = (np.arange(v) == q)[:, None]
    FN = fn[None, :] + np.where(top, 0.0, f[k - 1])
    FM = fm[None, :] + np.where(top, f[k - 1], 0.0)
    return {"P": P, "N": N, "rho": rho, "FN": FN, "FM": FM, "j": j}


def _regap(t: Trace, proof: Proof, name: str, proven_of: Callable[[int], np.ndarray]) -> Proof:
    """The honest trace with every gap-cases claim replaced by the count of ``proven_of(q)``
    ([m, c] booleans, the liar's own verdicts) under the kernel's count lemma."""
    claimed = 0
    sg = t.results[next(s["cite"]["gap"] for s in proof.steps if s["rule"] == "gap-cases")]
    for s in proof.steps:
        if s["rule"] == "gap-cases":
            q = s["args"]["query"]
            ok = proven_of(q) & L.valid_cases(t.model.v, t.model.k, q)
            s["claim"]["correct"] = int(
                sum(L.count_gaps(t.model.k, np.arange(t.model.v) - sg.gap[q], ok))
            )
            claimed += s["claim"]["correct"]
    return Proof(
        name, Fraction(min(claimed, t.model.total), t.model.total), proof.steps, proof.arrays
    )


def liar_mean_diff(model: Model) -> Proof:
    """(n) The paper's "mean+diff" attention linearisation: the wrong-logit bound h(a) =
    max_y ((1 - a) P_y + a N_y) at a query's largest non-max attention a_hi is estimated from
    the mean ā over queries as h(ā) + (a_hi - ā) * (the *largest* slope max_y (N_y - P_y)),
    also where a_hi < ā, where a sound bound needs the smallest (h is convex).  Counts from
    those estimates (the kernel re-derives the honest count: claim-mismatch)."""
    proof, t = _subcubic(model, "paired", "eqke")
    sg = t.results["gap"]
    v, k = model.v, model.k
    terms = [_gap_terms(t, q, sg) for q in range(v)]
    a_hi = [x["rho"][:, None] * x["FN"] / (x["rho"][:, None] * x["FN"] + x["FM"]) for x in terms]
    mean = np.mean(a_hi, axis=0)  # [m, c]
    off = ~np.eye(v, dtype=bool)

    def h(x: dict[str, np.ndarray], a: np.ndarray) -> np.ndarray:  # [m, c]
        val = (1 - a)[:, :, None] * x["P"][:, None, :] + a[:, :, None] * x["N"][:, None, :]
        return np.where(off[:, None, :], val, -np.inf).max(axis=2)

    def proven(q: int) -> np.ndarray:
        x, a = terms[q], a_hi[q]
        slope = np.where(off, x["N"] - x["P"], -np.inf).max(axis=1)[:, None]  # largest
        est = np.where(a < mean, h(x, mean) + (a - mean) * slope, h(x, a))
        allowed = (np.arange(v) == q) | (q <= x["j"])
        return (
            (est < 0) & allowed[:, None] & ((np.arange(k)[None, :] == 0) | (x["j"] >= 0)[:, None])
        )

    return _regap(t, proof, "liar-mean-diff", proven)


def liar_gap_count(model: Model) -> Proof:
    """(o) The gap count off by one the other way: the honest subcubic proof whose claims count
    m - g + 2 token choices per non-max position (tokens 0..m-g+1) where the cases cover
    m - g + 1 (claim-mismatch)."""
    proof, t = _subcubic(model, "paired", "eqke")
    sg = t.results["gap"]
    claimed = 0
    for s in proof.steps:
        if s["rule"] == "gap-cases":
            q = s["args"]["query"]
            cites = {r: t.results[c] for r, c in s["cite"].items()}
            from checker.rules import gap_cases

            ok, j, _ = gap_cases.proven(model, cites, q, "paired")
            s["claim"]["correct"] = int(sum(L.count_gaps(model.k, j + 1, ok)))
            claimed += s["claim"]["correct"]
    del sg
    return Proof(
        "liar-gap-count",
        Fraction(min(claimed, model.total), model.total),
        proof.steps,
        proof.arrays,
    )


def _spread_lie(
    model: Model, name: str, factor: Callable[[Trace], np.ndarray], attention: str = "rank1-exact"
) -> tuple[Proof, Trace]:
    """The honest subcubic proof (``paired``, ``attention``) with claims recounted from a
    residual spread ``factor(t)`` of the liar's choosing (the kernel recomputes the certified
    spread)."""
    from checker.facts import Hint, ScoreGap
    from checker.rules import gap_cases, rank1_gap

    proof, t = _subcubic(model, "paired", attention)
    step = next(s for s in proof.steps if s["rule"] == "rank1-gap")
    cites = {r: t.results[c] for r, c in step["cite"].items()}
    from checker.facts import RowSpread

    cites["spread"] = RowSpread(cites["spread"].of, factor(t))
    args = {a: Hint(x, proof.arrays[x]) for a, x in step["args"].items()}
    sg: ScoreGap = rank1_gap.apply(model, cites, args, None)

    def proven(q: int) -> np.ndarray:
        gc = next(s for s in proof.steps if s["id"] == f"q{q}")
        c = {r: t.results[x] for r, x in gc["cite"].items()} | {"gap": sg}
        return gap_cases.proven(model, c, q, "paired")[0]

    t.results[step["id"]] = sg
    out = _regap(t, proof, name, proven)
    out.notes["gap"] = sg  # the liar's score gaps (tests compare them with the exact ones)
    return out, t


def liar_half_residual(model: Model) -> Proof:
    """(p) The rank-1 residual's row spread halved (the exact spread / 2) when the score gaps
    are formed; the certificate is the honest rank1-exact trace (claim-mismatch)."""
    return _spread_lie(model, "liar-half-residual", lambda t: t.results["spread"].rho / 2)[0]


def svd_lambda(t: Trace) -> float:
    """The uncertified SVD liar's lambda: numpy's top singular value of the residual product
    R EK^T (a matrix the proof never certifies), squared and divided by max_q |R_q|^2, as if
    it bounded ||EK||_2^2 (it does not: sigma_1(R EK^T) <= |R|_2 sigma_1(EK) only)."""
    R, EK = t.results["R.q"].ball.mid, t.results["EK0"].ball.mid  # type: ignore[union-attr]
    s = float(np.linalg.svd(R @ EK.T, compute_uv=False)[0])
    return s * s / float(np.max(np.sum(R * R, axis=1)))


def liar_svd(model: Model) -> Proof:
    """(q) An uncertified float SVD in the ``spectral`` step: the honest
    ``subcubic-paired-rank1-svd`` trace with its hint lambda replaced by :func:`svd_lambda`
    (the Cholesky hint kept) and the counts that lambda's spread sqrt(2 lambda) |R_q| would
    prove; lambda is below sigma_1(EK)^2, so no remainder is diagonally dominant and the kernel
    refuses the step (lemma-failed)."""

    def spread(t: Trace) -> np.ndarray:
        R = t.results["R.q"].ball.mid  # type: ignore[union-attr]
        return np.sqrt(2 * svd_lambda(t) * np.sum(R * R, axis=1))

    proof, t = _spread_lie(model, "liar-svd", spread, "rank1-svd")
    proof.arrays["lam.spread"] = np.array([svd_lambda(t)])
    proof.notes["lam"] = svd_lambda(t)
    return proof


def liar_lowrank_no_residual(model: Model) -> Proof:
    """(r) Low rank taken for the whole: the honest ``LowRank`` trace (ranks 1, 1, 1, paired)
    with every count recomputed from the rank-r part alone (each ``low-rank`` enclosure's
    radius dropped: the Cauchy-Schwarz residual R_A R_B ignored); the kernel re-derives the
    honest counts (claim-mismatch)."""
    from checker.facts import Count, Tensor
    from generators.strategies.subcubic import LowRank

    proof = LowRank("paired", (1, 1, 1), near=False).prove(model)
    t = Trace(model)
    t.arrays = proof.arrays
    for s in proof.steps:
        t.step(s["rule"], s["id"], s["cite"], s["args"])
        res = t.results[s["id"]]
        if s["rule"] == "low-rank" and isinstance(res, Tensor):
            t.results[s["id"]] = Tensor(res.meaning, B.Ball(res.ball.mid, 0 * res.ball.rad))
    claimed = 0
    for s in proof.steps:
        res = t.results[s["id"]]
        if isinstance(res, Count):
            s["claim"]["correct"] = res.correct
            claimed += res.correct
    bound = Fraction(min(claimed, model.total), model.total)
    return Proof("liar-lowrank-no-residual", bound, proof.steps, proof.arrays,
                 {"tables": {s["id"]: t.results[s["id"]] for s in proof.steps
                             if s["rule"] == "low-rank"}})  # fmt: skip


LIARS.update(
    {
        "mean-diff": Liar(liar_mean_diff, Reason.CLAIM_MISMATCH),
        "gap-count": Liar(liar_gap_count, Reason.CLAIM_MISMATCH),
        "half-residual": Liar(liar_half_residual, Reason.CLAIM_MISMATCH),
        "uncertified-svd": Liar(liar_svd, Reason.LEMMA_FAILED),
        "lowrank-no-residual": Liar(liar_lowrank_no_residual, Reason.CLAIM_MISMATCH),
    }
)
