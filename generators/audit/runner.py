"""The audit's phases, budget and findings (DESIGN.md §7).

Phases, in this order: lying generators, the robustness corpus, then differential +
mutants over the model families round-robin until the budget or the model cap is spent.
Everything random is drawn from ``numpy.random.default_rng([seed, ...])`` keyed by what it
is for, so a seed fixes every model, certificate and mutant; the budget only decides how far
down that fixed sequence the run gets.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from generators.audit import families as fam
from generators.audit.checkers import Checker, Limits, Outcome
from generators.audit.mutants import all_mutants, sample
from generators.audit.reference import Accuracy, ReferenceError, reference_accuracy
from generators.tinymodels import write_model

# Strategies also proved under float32 semantics on float32 models (the ceiling is the count of
# an actual float32 forward pass, generators.float32_forward: the float32 theorem implies it).
F32_STRATEGIES = ("brute-force", "cubic-paired-split", "subcubic-paired-eqke-near")
F32_SEMANTICS = "float32:4"


def strategy_registry() -> dict[str, Callable[..., Any]]:
    """The proof strategies to audit, name -> prove(model, progress) -> Proof.

    The one place the audit reads ``generators.strategies.STRATEGIES``."""
    from generators.strategies import STRATEGIES

    return {name: entry[0] for name, entry in STRATEGIES().items()}


def is_refusal(exc: BaseException) -> bool:
    """A strategy declining a model it does not cover (not a finding)."""
    from checker import CheckError
    from generators.strategies.cubic import UnsupportedModel

    return isinstance(exc, UnsupportedModel | CheckError)


@dataclass
class Finding:
    kind: str  # unsound | liar-accepted | false-verified | crash | hang | memory | generator-crash
    phase: str
    case: str
    detail: str
    family: str = ""
    strategy: str = ""
    folder: str = ""


@dataclass
class Row:
    models: int = 0
    proofs: int = 0
    mutants: int = 0
    cases: int = 0
    findings: int = 0
    seconds: float = 0.0


@dataclass
class Options:
    seed: int = 0
    budget: float = 300.0
    strategies: list[str] | None = None
    mutants_per_cert: int | None = 40
    flips: int = 8
    max_models: int | None = None
    limits: Limits = field(default_factory=Limits)
    hostile_limits: Limits = field(default_factory=lambda: Limits(3.0, 512))
    phases: tuple[str, ...] = ("liars", "hostile", "differential")
    findings_dir: Path | None = Path("audit-findings")
    stop_on_finding: bool = False


class Audit:
    def __init__(self, checker: Checker, opts: Options, progress: Any = None) -> None:
        self.checker = checker
        self.opts = opts
        self.progress = progress
        self.t0 = time.perf_counter()
        self.findings: list[Finding] = []
        self.generator_errors: list[Finding] = []
        self.notes: list[str] = []
        self.hostile: dict[str, str] = {}  # case -> what the checker did
        self.families: dict[str, Row] = {}
        self.strategies: dict[str, Row] = {}
        self.phases: dict[str, Row] = {}
        self.stopped = ""  # why the differential loop stopped
        self._shown_ms = 0
        self.mutants_planned = 0
        self.trace = hashlib.sha256()  # every case and its outcome, in order (determinism)
        self.liar_cases: list[str] = []
        self.work = Path(tempfile.mkdtemp(prefix="mechproof-audit-"))
        reg = strategy_registry()
        wanted = opts.strategies or list(reg)
        self.registry = {name: reg[name] for name in wanted}

    # ---- bookkeeping ----------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def over_budget(self) -> bool:
        """The budget is spent (or, with ``stop_on_finding``, a finding is in)."""
        return self.elapsed() >= self.opts.budget or bool(
            self.opts.stop_on_finding and self.findings
        )

    def row(self, table: dict[str, Row], key: str) -> Row:
        return table.setdefault(key, Row())

    def tick(self) -> None:
        """Progress on stderr: the share of the budget spent (``generators.progress.Bar``)."""
        if self.progress is not None:
            ms = int(self.elapsed() * 1000)
            self.progress("audit (budget)", ms - self._shown_ms, int(self.opts.budget * 1000))
            self._shown_ms = ms

    def record(self, f: Finding, files: dict[str, Path | bytes], command: str) -> None:
        """Keep a finding (a generator's crash separately) and, with a findings folder, its
        reproducer."""
        (self.generator_errors if f.kind == "generator-crash" else self.findings).append(f)
        if self.opts.findings_dir is None:
            return
        slug = "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in f.case)[:60]
        n = len(self.findings) + len(self.generator_errors)
        folder = self.opts.findings_dir / f"{n:04d}-{f.kind}-{slug}"
        folder.mkdir(parents=True, exist_ok=True)
        f.folder = str(folder)
        for name, src in files.items():
            dst = folder / name
            if isinstance(src, bytes):
                dst.write_bytes(src)
            elif src.is_symlink() or not src.is_file():
                dst.write_text(f"special file: {src} -> {src.resolve()}\n")
            elif src.stat().st_size <= 64 << 20:
                shutil.copyfile(src, dst)
        (folder / "command.sh").write_text(command + "\n")
        (folder / "finding.json").write_text(json.dumps(asdict(f), indent=2) + "\n")

    def log(self, case: str, out: Outcome) -> None:
        """Fold one checked case into the run's trace hash."""
        self.trace.update(f"{case}\t{out.status}\t{out.bound}\t{out.reason}\n".encode())

    def judge(
        self,
        out: Outcome,
        *,
        phase: str,
        case: str,
        cert: Path,
        model: Path,
        ceiling: Fraction | None,
        family: str = "",
        strategy: str = "",
        unsound_kind: str = "unsound",
    ) -> bool:
        """Record a finding if ``out`` is one: a crash, hang or memory blow-up, or a
        verified bound above ``ceiling`` (None: any VERIFIED is a finding).  True if so."""
        self.log(case, out)
        kind = ""
        if out.status in ("crash", "hang", "memory"):
            kind = out.status
            detail = out.detail
        elif out.verified and (ceiling is None or (out.bound or 0) > ceiling):
            kind = unsound_kind if ceiling is not None else "false-verified"
            detail = (
                f"VERIFIED bound {out.bound} > {ceiling}" if ceiling is not None else "VERIFIED"
            )
        if not kind:
            return False
        cmd = self.checker.reproduce("cert.mechproof", "model.safetensors")
        files: dict[str, Path | bytes] = {"cert.mechproof": cert, "model.safetensors": model}
        self.record(Finding(kind, phase, case, detail[-1500:], family, strategy), files, cmd)
        return True

    # ---- phases ---------------------------------------------------------------------------

    def run(self) -> None:
        try:
            for phase in self.opts.phases:
                if self.over_budget():
                    self.stopped = f"budget spent before phase {phase}"
                    break
                t = time.perf_counter()
                getattr(self, "phase_" + phase)()
                self.row(self.phases, phase).seconds += time.perf_counter() - t
        finally:
            self.checker.close()
            shutil.rmtree(self.work, ignore_errors=True)

    def phase_liars(self) -> None:
        from generators.audit.liars import run_liars

        run_liars(self)

    def phase_hostile(self) -> None:
        from generators.audit.hostile import run_hostile

        run_hostile(self)

    def phase_differential(self) -> None:
        names = list(fam.FAMILIES)
        i = 0
        while True:
            if self.opts.max_models is not None and i >= self.opts.max_models:
                self.stopped = f"model cap {self.opts.max_models} reached"
                return
            if self.over_budget():
                self.stopped = f"budget {self.opts.budget:.0f}s spent after {i} models"
                return
            name = names[i % len(names)]
            t = time.perf_counter()
            self.one_model(name, i)
            self.row(self.families, name).seconds += time.perf_counter() - t
            i += 1

    def one_model(self, family: str, index: int) -> None:
        rng = np.random.default_rng([self.opts.seed, index])
        weights, info = fam.FAMILIES[family](rng)
        dtype = "float32" if info.get("style") == "trained" or rng.random() < 0.3 else "float64"
        if info.get("style") in ("subnormal", "tiny", "huge", "mixed"):
            dtype = "float64"
        d = self.work / f"m{index}"
        d.mkdir()
        model = write_model(d / "model.safetensors", weights, dtype)
        frow = self.row(self.families, family)
        frow.models += 1
        try:
            acc = reference_accuracy(model)
        except ReferenceError as exc:
            self.notes.append(f"{family} #{index}: reference skipped the model ({exc})")
            return
        self.tick()
        for strategy in self.registry:
            if self.over_budget():
                return
            t = time.perf_counter()
            srow = self.row(self.strategies, strategy)
            n_find = len(self.findings)
            self.prove_check_mutate(family, index, strategy, model, acc, rng, d)
            new = len(self.findings) - n_find
            frow.findings += new
            srow.findings += new
            srow.seconds += time.perf_counter() - t
        if dtype == "float32":
            self.float32_proofs(family, index, model, rng, d)
        shutil.rmtree(d, ignore_errors=True)

    def float32_proofs(
        self, family: str, index: int, model: Path, rng: np.random.Generator, d: Path
    ) -> None:
        """Prove and check F32_STRATEGIES under float32; a verified bound above the accuracy of
        a real float32 forward pass (numpy, every input) is unsound."""
        from generators.float32_forward import correct_numpy, load

        c, n = correct_numpy(load(model))
        for strategy in (s for s in F32_STRATEGIES if s in self.registry):
            if self.over_budget():
                return
            cert, case = d / f"{strategy}.f32.cert", f"{family}#{index}/{strategy}/float32"
            err = self.prove(strategy, model, cert, F32_SEMANTICS)
            if err is not None:
                if err != "refused":
                    self.notes.append(f"{case}: generator error {err.splitlines()[-1][:80]}")
                continue
            out = self.checker.check(cert, model, self.opts.limits)
            self.row(self.strategies, strategy).proofs += 1
            ceiling = Fraction(c, n)
            bad = self.judge(out, phase="differential", case=case, cert=cert, model=model,
                             ceiling=ceiling, family=family, strategy=strategy)  # fmt: skip
            if out.verified and not bad:
                self.mutate(cert, model, out, ceiling, case, family, strategy, rng)

    def prove(self, strategy: str, model: Path, cert: Path, semantics: str = "real") -> str | None:
        """Run a strategy (in-process: generators are not under audit); None on success,
        'refused', or a traceback."""
        from checker import float32, load_model

        try:
            m = float32.bind(load_model(model), semantics)
            proof = self.registry[strategy](m, None)
            proof.write(cert, m.sha256)
        except Exception as exc:  # noqa: BLE001
            return "refused" if is_refusal(exc) else traceback.format_exc()
        return None

    def prove_check_mutate(
        self,
        family: str,
        index: int,
        strategy: str,
        model: Path,
        acc: Accuracy,
        rng: np.random.Generator,
        d: Path,
    ) -> None:
        srow = self.row(self.strategies, strategy)
        frow = self.row(self.families, family)
        srow.models += 1
        cert = d / f"{strategy}.cert"
        case = f"{family}#{index}/{strategy}"
        err = self.prove(strategy, model, cert)
        if err == "refused":
            return
        if err is not None:
            cmd = f"mechproof prove model.safetensors --strategy {strategy} --out cert.mechproof"
            self.record(
                Finding("generator-crash", "differential", case, err[-1500:], family, strategy),
                {"model.safetensors": model},
                cmd,
            )
            return
        out = self.checker.check(cert, model, self.opts.limits)
        srow.proofs += 1
        frow.proofs += 1
        if self.judge(
            out,
            phase="differential",
            case=case,
            cert=cert,
            model=model,
            ceiling=acc.upper,
            family=family,
            strategy=strategy,
        ):
            return
        if not out.verified:
            self.notes.append(
                f"{case}: honest certificate rejected ({out.reason}: {out.detail[:80]})"
            )
            return
        self.mutate(cert, model, out, acc.upper, case, family, strategy, rng)

    def mutate(
        self,
        cert: Path,
        model: Path,
        original: Outcome,
        exact: Fraction | None,
        case: str,
        family: str,
        strategy: str,
        rng: np.random.Generator,
        cap: int | None = -1,
        work: Path | None = None,
    ) -> None:
        """Check the mutants of a verified certificate: a finding is a crash, a hang, a
        memory blow-up, or a VERIFIED bound above both the original's bound and its proven
        fraction (and, where known, whether it also exceeds the exact accuracy)."""
        srow = self.row(self.strategies, strategy)
        frow = self.row(self.families, family)
        ceiling = original.bound or Fraction(0)
        ex = original.extra
        if isinstance(ex.get("proven"), int) and isinstance(ex.get("total"), int) and ex["total"]:
            ceiling = max(ceiling, Fraction(ex["proven"], ex["total"]))
        raw = cert.read_bytes()
        mutants = all_mutants(raw, rng, self.opts.flips)
        mutants = sample(mutants, rng, self.opts.mutants_per_cert if cap == -1 else cap)
        self.mutants_planned += len(mutants)
        for i, mt in enumerate(mutants):
            if self.over_budget():
                self.stopped = (
                    f"budget spent after {i} of this certificate's {len(mutants)} mutants"
                )
                return
            path = (work / cert.name if work else cert).with_suffix(".mutant")
            path.write_bytes(mt.data)
            out = self.checker.check(path, model, self.opts.limits)
            self.log(f"{case}/{mt.name}", out)
            srow.mutants += 1
            frow.mutants += 1
            note = "" if exact is None or out.bound is None else f" (exact accuracy {exact})"
            if out.verified and out.bound is not None and out.bound > ceiling:
                kind = "unsound" if exact is None or out.bound > exact else "mutant-higher-bound"
                self.record(
                    Finding(
                        kind,
                        "mutants",
                        f"{case}/{mt.name}",
                        f"mutant VERIFIED with bound {out.bound} > original {ceiling}{note}",
                        family,
                        strategy,
                    ),
                    {
                        "cert.mechproof": mt.data,
                        "original.mechproof": raw,
                        "model.safetensors": model,
                    },
                    self.checker.reproduce("cert.mechproof", "model.safetensors"),
                )
            elif out.status in ("crash", "hang", "memory"):
                self.judge(
                    out,
                    phase="mutants",
                    case=f"{case}/{mt.name}",
                    cert=path,
                    model=model,
                    ceiling=exact,
                    family=family,
                    strategy=strategy,
                )
            self.tick()

    def audit_certificate(self, cert: Path, model: Path, max_inputs: int = 4096) -> None:
        """``--cert C --model M``: check C, compare its bound with the reference when M has at
        most ``max_inputs`` inputs, then check every single-field mutant and
        max(flips, 64) random byte flips."""
        from generators.audit.reference import read_model

        t = time.perf_counter()
        frow = self.row(self.families, "certificate")
        srow = self.row(self.strategies, "certificate")
        frow.models += 1
        exact = None
        try:
            M = read_model(model)
            if M.v**M.k <= max_inputs:
                exact = reference_accuracy(model).upper
        except ReferenceError as exc:
            self.notes.append(f"reference skipped the model: {exc}")
        out = self.checker.check(cert, model, self.opts.limits)
        frow.proofs += 1
        srow.proofs += 1
        case = cert.name
        try:
            unknown_ok = exact is None and out.verified  # no reference: nothing to compare
            if not unknown_ok and self.judge(
                out,
                phase="certificate",
                case=case,
                cert=cert,
                model=model,
                ceiling=exact,
                family="certificate",
                strategy="certificate",
            ):
                return
            if not out.verified:
                self.record(
                    Finding(
                        "original-rejected",
                        "certificate",
                        case,
                        f"the certificate itself is rejected: {out.reason}: {out.detail}",
                    ),
                    {"cert.mechproof": cert, "model.safetensors": model},
                    self.checker.reproduce("cert.mechproof", "model.safetensors"),
                )
                return
            self.opts.flips = max(self.opts.flips, 64)
            rng = np.random.default_rng([self.opts.seed, 1 << 30])
            self.mutate(
                cert,
                model,
                out,
                exact,
                case,
                "certificate",
                "certificate",
                rng,
                cap=None,
                work=self.work,
            )
        finally:
            frow.seconds = srow.seconds = time.perf_counter() - t
            frow.findings = srow.findings = len(self.findings)
            self.stopped = self.stopped or "certificate audited"
            self.checker.close()

    # ---- results --------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        def rows(t: dict[str, Row]) -> dict[str, Any]:
            return {k: {**asdict(r), "seconds": round(r.seconds, 2)} for k, r in t.items()}

        fams, strs = self.families.values(), self.strategies.values()
        return {
            "checker": self.checker.name,
            "seed": self.opts.seed,
            "budget": self.opts.budget,
            "seconds": round(self.elapsed(), 2),
            "stopped": self.stopped or "all phases done",
            "models": sum(r.models for r in fams),
            "proofs": sum(r.proofs for r in strs) + self.phases.get("liars", Row()).proofs,
            "mutants": sum(r.mutants for r in strs),
            "mutants_planned": self.mutants_planned,
            "hostile_cases": self.phases.get("hostile", Row()).cases,
            "findings": len(self.findings),
            "trace_sha256": self.trace.hexdigest(),
            "by_kind": {
                k: sum(f.kind == k for f in self.findings)
                for k in sorted({f.kind for f in self.findings})
            },
            "families": rows(self.families),
            "strategies": rows(self.strategies),
            "phases": rows(self.phases),
            "finding_list": [asdict(f) for f in self.findings],
            "generator_errors": [asdict(f) for f in self.generator_errors],
            "hostile": self.hostile,
            "liar_cases": self.liar_cases,
            "notes": self.notes[:200],
        }
