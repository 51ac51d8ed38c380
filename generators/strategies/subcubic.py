"""The subcubic family (paper §4.3, made sound) as compositions of kernel rules.

Trace (one head): factors EU, EQ, EK, PK, EV, PV, OU; EVOU = EV @ OU and PVOU = PV @ OU
(``matmul``); the positional attention rowexp(EQ @ PK^T) (``matmul`` + ``exp``, O(v k e));
``wrong-values`` (O(v^2 k)); then the score gaps by one of the attention-error handlings

  ``eqke``         EQKE = EQ @ EK^T formed (``matmul``, O(v^2 e)), ``score-gap`` (O(v^2));
  ``rank1-exact``  ``rank1`` of EQ (O(v e)), its residual product with EK formed (``matmul``,
                   O(v^2 e)) and its exact ``row-spread``, ``rank1-gap``;
  ``rank1-mrd``    ``rank1``, then ``max-row-diff`` of the residual product (O(v e)), then
                   ``rank1-gap``: no v x v product through e on the attention side;

and one ``gap-cases`` step per query, with the direct path handled ``paired`` (each wrong
logit's direct path paired with the max token's value, O(v^2) per query) or ``split`` (their
maxima taken apart, O(v) per query).  Search: generators.search.gaps (directions by float SVD,
gaps per (q, m) by the kernel's own lemma), untrusted and uncounted.

Further residual handlings (for the compounding comparison): ``rank1-2max`` and
``rank1-mean-mrd`` (modes of ``max-row-diff``), ``rank1-svd`` (rule ``spectral``),
``rank1-sub-mrd``, ``rank1-cs``, ``rank2-cs`` (rule ``low-rank`` on EQ @ EK^T: rank 1 or 2
peeled off both factors, cross terms exact).  :class:`LowRank`: no v x v product through d
or e at all (EU, EVOU, EQKE enclosed by ``low-rank``).

Complexity: O(v^2 e) from the factors EU, EVOU (and EQKE for ``eqke`` / ``rank1-exact``),
plus O(v^2 k) (``split``) or O(v^3) (``paired``); never O(v^3 k^2) as the cubic family.
Precondition: one head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checker import Model
from generators.search.gaps import choose_gaps, directions, inner_basis, spectral_hint
from generators.strategies import UnsupportedModel
from generators.trace import Progress, Proof, Trace

ATTENTION = {
    "eqke": "exact EQKE (O(v^2 e)) and prefix-max score gaps",
    "rank1-exact": "rank-1 size direction, residual formed exactly (O(v^2 e))",
    "rank1-mrd": "rank-1 size direction, residual by max-row-diff (no v^2 e attention term)",
}
RESIDUAL = {  # further attention-error handlings, for the compounding comparison
    "rank1-2max": "rank-1 size direction, residual by 2 max|.| (O(v e))",
    "rank1-mean-mrd": "rank-1 size direction, residual by mean + max-row-diff (O(v e))",
    "rank1-svd": "rank-1 size direction, residual by a certified spectral norm (O(v e^2))",
    "rank1-sub-mrd": "rank-1 peeled off EQ and EK, cross terms exact, max-row-diff on the rest",
    "rank1-cs": "rank-1 peeled off EQ and EK, cross terms exact, Cauchy-Schwarz residual",
    "rank2-cs": "rank-2 split of EQ EK^T, cross terms exact, Cauchy-Schwarz residual",
}
GAPS = {
    "search": "gap per (query, max) searched",
    "per-m": "one gap per max token",
    "one": "gap 1 everywhere (no search)",
}
DIRECT = {
    "paired": "direct path paired per wrong logit with the max token's value (O(v^3))",
    "split": "direct path and values pessimised apart (O(v^2 k))",
}


@dataclass(frozen=True)
class Subcubic:
    direct: str = "paired"  # paired | split
    attention: str = "eqke"  # eqke | rank1-exact | rank1-mrd
    gaps: str = "search"  # search | per-m | one
    near: bool = False  # near cases: one token between m - g and m, its own score gap
    family: str = "subcubic"

    @property
    def name(self) -> str:
        tail = ("" if self.gaps == "search" else f"-g{self.gaps}") + ("-near" if self.near else "")
        return f"subcubic-{self.direct}-{self.attention}{tail}"

    @property
    def doc(self) -> str:
        near = " and near cases (one token between m - g and m)" if self.near else ""
        gaps = f"gap cases ({GAPS[self.gaps]}){near}"
        return f"{gaps}; {DIRECT[self.direct]}; {(ATTENTION | RESIDUAL)[self.attention]}"

    def prove(self, model: Model, progress: Progress | None = None) -> Proof:
        if model.h != 1:
            raise UnsupportedModel(f"strategy {self.name} needs a one-head model (use brute-force)")
        t = Trace(model)
        eu = t.factor("EU")
        eq, ek, pk, ev, pv, ou = (t.factor(n, 0) for n in ("EQ", "EK", "PK", "EV", "PV", "OU"))
        evou = t.matmul(ev, ou, sid="EVOU0")
        pvou = t.matmul(pv, ou, sid="PVOU0")
        f = t.exp(t.matmul(eq, pk, True, sid="EQKP0"))
        values = t.wrong_values(evou, pvou)
        cites = {"eupu": t.results[eu], "values": t.results[values], "f": t.results[f]}
        from checker.facts import Hint
        from checker.rules import RULES

        def run(rule: str, cite: dict[str, str], args: dict[str, object]):  # type: ignore[no-untyped-def]
            return RULES[rule].apply(model, {r: t.results[c] for r, c in cite.items()}, args, None)

        if self.attention in ("eqke", "rank1-sub-mrd", "rank1-cs", "rank2-cs"):
            if self.attention == "eqke":
                s = t.matmul(eq, ek, True, sid="EQKE0")
            else:  # rule low-rank: EQKE enclosed, never formed
                EQ, EK = t.results[eq].ball.mid, t.results[ek].ball.mid
                P = inner_basis(EQ, EK.T, 2 if self.attention == "rank2-cs" else 1)
                mode = "mrd" if self.attention == "rank1-sub-mrd" else "cs"
                s = t.low_rank(eq, ek, True, P, "EQKE0", residual=mode)

            def gap_of(g: np.ndarray):  # type: ignore[no-untyped-def]
                return run("score-gap", {"scores": s}, {"gap": Hint("g", g)})

            gap = choose_gaps(model, gap_of, cites, self.direct, self.gaps, near=self.near)
            sg = t.score_gap(s, gap)
        else:
            EQ, EK = t.results[eq].ball.mid, t.results[ek].ball.mid
            a, b = directions(EQ, EK)
            r = t.rank1(eq, a, b, "q")
            if self.attention == "rank1-exact":
                spread = t.row_spread(t.matmul(r, ek, True, sid="RK"), "spread")
            elif self.attention == "rank1-svd":
                lam, chol = spectral_hint(EK.T)
                spread = t.spectral(r, ek, True, lam, chol, "spread")
            else:
                mu = None
                if self.attention == "rank1-mean-mrd":  # the mean residual row (a hint)
                    mu = t.results[r].ball.mid.mean(axis=0)  # type: ignore[union-attr]
                two = self.attention == "rank1-2max"
                spread = t.max_row_diff(r, ek, True, "spread", two, mu)
            ha, hb = Hint("a.q", t.arrays["a.q"]), Hint("b.q", t.arrays["b.q"])

            def gap_of(g: np.ndarray):  # type: ignore[no-untyped-def]
                cite = {"q": eq, "k": ek, "spread": spread}
                return run("rank1-gap", cite, {"a": ha, "b": hb, "gap": Hint("g", g)})

            gap = choose_gaps(model, gap_of, cites, self.direct, self.gaps, near=self.near)
            sg = t.rank1_gap(eq, ek, spread, "q", gap)
        residual = 0.0
        if self.attention in ("rank1-sub-mrd", "rank1-cs", "rank2-cs"):  # residual widths
            residual = 2 * float(np.max(t.results["EQKE0"].ball.rad))  # type: ignore[union-attr]
        elif self.attention != "eqke":
            residual = float(np.max(t.results[spread].rho))  # type: ignore[union-attr]
        for q in range(model.v):
            t.gap_cases(eu, values, sg, f, q, self.direct, self.near)
            if progress is not None:
                progress(f"prove {self.name}", 1, model.v)
        return t.proof(self.name, residual=residual, attention=self.attention)


CONFIGS = [Subcubic(d, a, g) for g in GAPS for d in DIRECT for a in ATTENTION]
CONFIGS += [Subcubic(d, a, "search", near=True) for d in DIRECT for a in ATTENTION]
CONFIGS += [Subcubic(d, a) for d in DIRECT for a in RESIDUAL]


@dataclass(frozen=True)
class LowRank:
    """No v x v product through d or e anywhere: EU, EVOU and EQKE are each enclosed by rule
    ``low-rank`` (a rank-r split u w plus a Cauchy-Schwarz residual ball, O(v e r + v^2 r)
    each; EVOU's diagonal exactly, O(v e)) instead of formed (O(v^2 d), O(v^2 e)); then
    ``wrong-values``, ``score-gap`` and ``gap-cases`` as for ``subcubic-{direct}-eqke``, on
    the enclosures.  The direct path is the
    product of the factors E = [E_q | 1] and U = [W_U ; bias] (rule ``factor``).

    Complexity: O(v d e + v e r + v^2 r) for the tables (r = the largest rank, a constant),
    O(v^2 k) for ``wrong-values``, O(v^2) per query (``paired``: O(v^3) in all) or O(v) per
    query (``split``: O(v^2 k) in all) for the cases; no O(v^2 d) or O(v^2 e) term.  Hints
    (directions by SVDs of the factors, O(v e^2); gaps by the kernel's own lemma) are
    untrusted and uncounted.  Precondition: one head."""

    direct: str = "split"  # paired | split
    ranks: tuple[int, int, int] = (4, 8, 2)  # EU, EVOU, EQKE
    near: bool = True
    family: str = "subcubic"

    @property
    def name(self) -> str:
        r = "-".join(map(str, self.ranks))
        return f"subcubic-{self.direct}-lowrank-{r}" + ("-near" if self.near else "")

    @property
    def doc(self) -> str:
        eu, ev, qk = self.ranks
        near = " and near cases" if self.near else ""
        return (
            f"gap cases (gap per (query, max)){near}; {DIRECT[self.direct]}; no v x v product "
            f"through d: EU, EVOU, EQKE enclosed from ranks {eu}, {ev}, {qk} + Cauchy-Schwarz "
            "residuals"
        )

    def prove(self, model: Model, progress: Progress | None = None) -> Proof:
        if model.h != 1:
            raise UnsupportedModel(f"strategy {self.name} needs a one-head model (use brute-force)")
        from checker.facts import Hint
        from checker.rules import RULES

        t = Trace(model)
        e_, u_ = t.factor("E"), t.factor("U")
        eq, ek, pk, ev, pv, ou = (t.factor(n, 0) for n in ("EQ", "EK", "PK", "EV", "PV", "OU"))
        mid = {x: t.results[x].ball.mid for x in (e_, u_, eq, ek, ev, ou)}  # type: ignore[union-attr]
        n = {x: mid[x].shape[1] for x in (e_, eq, ev)}
        r_eu, r_ev, r_qk = (min(r, n[x]) for r, x in zip(self.ranks, (e_, ev, eq), strict=True))
        eu = t.low_rank(e_, u_, False, inner_basis(mid[e_], mid[u_], r_eu), "EU")
        evou = t.low_rank(ev, ou, False, inner_basis(mid[ev], mid[ou], r_ev), "EVOU0", True)
        pvou = t.matmul(pv, ou, sid="PVOU0")
        f = t.exp(t.matmul(eq, pk, True, sid="EQKP0"))
        values = t.wrong_values(evou, pvou)
        s = t.low_rank(eq, ek, True, inner_basis(mid[eq], mid[ek].T, r_qk), "EQKE0")
        cites = {"eupu": t.results[eu], "values": t.results[values], "f": t.results[f]}

        def gap_of(g: np.ndarray):  # type: ignore[no-untyped-def]
            scores = {"scores": t.results[s]}
            return RULES["score-gap"].apply(model, scores, {"gap": Hint("g", g)}, None)

        gap = choose_gaps(model, gap_of, cites, self.direct, "search", near=self.near)
        sg = t.score_gap(s, gap)
        residual = float(np.max(t.results[s].ball.rad)) * 2  # type: ignore[union-attr]
        for q in range(model.v):
            t.gap_cases(eu, values, sg, f, q, self.direct, self.near)
            if progress is not None:
                progress(f"prove {self.name}", 1, model.v)
        return t.proof(self.name, residual=residual, attention="lowrank")


LOWRANK = [(1, 4, 1), (2, 6, 2), (2, 8, 2), (4, 8, 2), (4, 12, 2)]
CONFIGS += [LowRank(d, r) for d in DIRECT for r in LOWRANK]
