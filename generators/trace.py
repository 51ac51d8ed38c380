"""The trace builder: the one place outside the kernel where rule and argument names appear.

A :class:`Trace` builds a version-2 certificate step by step.  Each method mirrors one kernel
rule (``checker.rules``), appends the step, and evaluates it with the kernel's own rule
function, so the generator can read every result (to choose hints) and every claim it writes
is the value the kernel will re-derive.  Untrusted: the kernel replays everything anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from checker import Model
from checker.facts import Count, Result
from checker.rules import FLOAT32, RULES

Progress = Callable[[str, int, int], None]


@dataclass
class Proof:
    """What a strategy produces: the steps and arrays of a certificate and its claimed bound."""

    strategy: str
    bound: Fraction
    steps: list[dict[str, Any]]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    semantics: str = "real"

    def encode(self, model_sha256: str) -> bytes:
        """Return this proof as certificate bytes bound to ``model_sha256``."""
        from certificates.writer import encode

        return encode(
            model_sha256=model_sha256,
            strategy=self.strategy,
            bound=self.bound,
            steps=self.steps,
            arrays=self.arrays,
            semantics=self.semantics,
        )

    def write(self, path: str | Path, model_sha256: str) -> int:
        """Write this proof as a certificate bound to ``model_sha256``; return its size."""
        data = self.encode(model_sha256)
        Path(path).write_bytes(data)
        return len(data)


class Trace:
    """A certificate under construction for ``model``; methods return step ids."""

    def __init__(self, model: Model, progress: Progress | None = None) -> None:
        self.model = model
        self.progress = progress
        self.steps: list[dict[str, Any]] = []
        self.arrays: dict[str, np.ndarray] = {}
        self.results: dict[str, Result] = {}
        self.proven = 0
        self.undecided = 0

    def step(
        self,
        rule: str,
        sid: str,
        cite: dict[str, Any],
        args: dict[str, Any],
        result: Result | None = None,
    ) -> str:
        """Append one step of ``rule`` and evaluate it with the kernel's rule (unless its
        ``result`` was computed elsewhere, e.g. by a sharded replay); return ``sid``."""
        mod = RULES[rule]
        if self.model.semantics != "real" and rule not in FLOAT32:
            from generators.strategies import UnsupportedModel

            raise UnsupportedModel(
                f"rule {rule} is not admitted under {self.model.semantics} semantics "
                "(docs/float32.md); choose a strategy without it"
            )
        cites = {
            r: [self.results[i] for i in c] if isinstance(c, list) else self.results[c]
            for r, c in cite.items()
        }
        kinds = {a.rstrip("?"): kind for a, kind in mod.ARGS.items()}
        decoded = {a: self._decode(kinds[a], x) for a, x in args.items()}

        def tick(n: int, total: int) -> None:
            if self.progress is not None:
                self.progress(f"prove {rule}", n, total)

        res = result if result is not None else mod.apply(self.model, cites, decoded, tick)
        self.results[sid] = res
        claim: dict[str, Any] = {}
        if isinstance(res, Count):
            claim = {"correct": res.correct}
            self.proven += res.correct
            self.undecided += res.undecided
        self.steps.append({"id": sid, "rule": rule, "cite": cite, "args": args, "claim": claim})
        return sid

    def _decode(self, kind: Any, x: Any) -> Any:
        if kind == "bits":
            return self._unpack(x)
        return self._hint(x) if kind in ("f8", "i8") else x

    def _unpack(self, name: str) -> np.ndarray:
        return np.unpackbits(self.arrays[name], axis=2, count=self.model.v).astype(bool)

    def bits(self, name: str, mask: np.ndarray) -> str:
        """Store a boolean [v, k, v] hint as a packed u1 array; return its name."""
        self.arrays[name] = np.packbits(mask.astype(bool), axis=2)
        return name

    # ---- one method per kernel rule --------------------------------------------------------

    def factor(self, name: str, head: int = 0) -> str:
        sid = name if name == "EU" else f"{name}{head}"
        return self.step("factor", sid, {}, {"name": name, "head": head})

    def matmul(self, a: str, b: str, transpose_b: bool = False, sid: str | None = None) -> str:
        sid = sid or f"{a}.{b}{'T' if transpose_b else ''}"
        return self.step("matmul", sid, {"a": a, "b": b}, {"transpose_b": transpose_b})

    def exp(self, scores: str) -> str:
        return self.step("exp", f"exp.{scores}", {"scores": scores}, {})

    def enumerate(
        self, eupu: str, heads: list[dict[str, str]], query: int, result: Count | None = None
    ) -> str:
        cite = {"eupu": eupu, **{r: [h[r] for h in heads] for r in ("evou", "pvou", "g", "f")}}
        return self.step("enumerate", f"q{query}", cite, {"query": query}, result)

    def value(self, evou: str, pvou: str, positions: str) -> str:
        cite = {"evou": evou, "pvou": pvou}
        return self.step("value", f"value.{positions}", cite, {"positions": positions})

    def margin(self, eupu: str, value: str, query: int) -> str:
        return self.step("margin", f"w{query}", {"eupu": eupu, "value": value}, {"query": query})

    def paired(self, eupu: str, evou: str, pvou: str, query: int) -> str:
        cite = {"eupu": eupu, "evou": evou, "pvou": pvou}
        return self.step("paired", f"w{query}", cite, {"query": query})

    def cases(
        self, margin: str, g: str, f: str, query: int, sets: np.ndarray, split: np.ndarray | None
    ) -> str:
        args = {"sets": self.bits(f"G{query}", sets)}
        if split is not None:
            args["split"] = self.bits(f"S{query}", split)
        return self.step("cases", f"q{query}", {"margin": margin, "g": g, "f": f}, args)

    def array(self, name: str, values: np.ndarray, dtype: str) -> str:
        """Store a numeric hint array (``f8`` or ``i8``); return its name."""
        self.arrays[name] = np.ascontiguousarray(values, dtype=np.dtype(dtype))
        return name

    def _hint(self, name: str) -> Any:
        from checker.facts import Hint

        return Hint(name, self.arrays[name])

    def rank1(self, factor: str, a: np.ndarray, b: np.ndarray, tag: str) -> str:
        args = {"a": self.array(f"a.{tag}", a, "f8"), "b": self.array(f"b.{tag}", b, "f8")}
        return self.step("rank1", f"R.{tag}", {"factor": factor}, args)

    def low_rank(
        self, a: str, b: str, transpose_b: bool, p: np.ndarray, sid: str, diag: bool = False,
        residual: str = "cs",
    ) -> str:  # fmt: skip
        """Rule ``low-rank``: the product a @ b (b^T) enclosed from a rank-r split with hint
        P = Q = ``p`` [n, r] (``diag``: its diagonal exactly)."""
        args = {"transpose_b": transpose_b, "p": self.array(f"p.{sid}", p, "f8"), "q": f"p.{sid}"}
        if diag:
            args["diag"] = True
        if residual != "cs":
            args["residual"] = residual
        return self.step("low-rank", sid, {"a": a, "b": b}, args)

    def spectral(
        self, a: str, b: str, transpose_b: bool, lam: float, chol: np.ndarray, sid: str
    ) -> str:
        """Rule ``spectral``: a RowSpread of a @ b (b^T) from ||B||_2 <= sqrt(lam), certified by
        the Cholesky factor ``chol`` of lam I - B B^T."""
        args = {"transpose_b": transpose_b, "lam": self.array(f"lam.{sid}", np.array([lam]), "f8"),
                "chol": self.array(f"chol.{sid}", chol, "f8")}  # fmt: skip
        return self.step("spectral", sid, {"a": a, "b": b}, args)

    def max_row_diff(
        self, a: str, b: str, transpose_b: bool, sid: str, two_max: bool = False,
        center: np.ndarray | None = None,
    ) -> str:  # fmt: skip
        args: dict[str, Any] = {"transpose_b": transpose_b}
        if two_max:
            args["abs"] = True
        if center is not None:
            args["center"] = self.array(f"mu.{sid}", center, "f8")
        return self.step("max-row-diff", sid, {"a": a, "b": b}, args)

    def row_spread(self, m: str, sid: str) -> str:
        return self.step("row-spread", sid, {"m": m}, {})

    def score_gap(self, scores: str, gap: np.ndarray, sid: str = "gap") -> str:
        args = {"gap": self.array(f"{sid}.g", gap, "i8")}
        return self.step("score-gap", sid, {"scores": scores}, args)

    def rank1_gap(self, q: str, k: str, spread: str, tag: str, gap: np.ndarray) -> str:
        args = {"a": f"a.{tag}", "b": f"b.{tag}", "gap": self.array(f"gap.{tag}.g", gap, "i8")}
        return self.step("rank1-gap", f"gap.{tag}", {"q": q, "k": k, "spread": spread}, args)

    def wrong_values(self, evou: str, pvou: str) -> str:
        return self.step("wrong-values", "values", {"evou": evou, "pvou": pvou}, {})

    def gap_cases(
        self, eupu: str, values: str, gap: str, f: str, query: int, direct: str, near: bool = False
    ) -> str:
        cite = {"eupu": eupu, "values": values, "gap": gap, "f": f}
        args: dict[str, Any] = {"query": query, "direct": direct}
        if near:
            args["near"] = True
        return self.step("gap-cases", f"q{query}", cite, args)

    # ---- common compositions ---------------------------------------------------------------

    def path_tables(self, heads: range | None = None) -> tuple[str, list[dict[str, str]]]:
        """Build EU and, per head, EVOU, PVOU and the exps g, f; return (EU, per-head ids)."""
        eu = self.factor("EU")
        out = []
        for h in heads if heads is not None else range(self.model.h):
            eq, ek, pk, ev, pv, ou = (
                self.factor(n, h) for n in ("EQ", "EK", "PK", "EV", "PV", "OU")
            )
            out.append(
                {
                    "evou": self.matmul(ev, ou, sid=f"EVOU{h}"),
                    "pvou": self.matmul(pv, ou, sid=f"PVOU{h}"),
                    "g": self.exp(self.matmul(eq, ek, True, sid=f"EQKE{h}")),
                    "f": self.exp(self.matmul(eq, pk, True, sid=f"EQKP{h}")),
                }
            )
        return eu, out

    def proof(self, strategy: str, **notes: Any) -> Proof:
        """The finished certificate, claiming proven / v^k."""
        bound = Fraction(self.proven, self.model.total)
        notes = {"undecided": self.undecided, **notes}
        return Proof(strategy, bound, self.steps, self.arrays, notes, self.model.semantics)
