"""The ``mechproof`` command line (DESIGN.md §6; a stable contract)."""

from __future__ import annotations

import json
import math
import sys
import time
from fractions import Fraction

import click
import numpy as np

from checker import CheckError, kernel, load_model
from checker.brute import decide_inputs
from checker.tables import path_tables
from generators.progress import Bar

ENUMERATE_LIMIT = 1 << 27  # inputs; past this `accuracy` asks for --sample


def _fail(msg: str, code: int = 1) -> None:
    click.echo(f"mechproof: {msg}", err=True)
    sys.exit(code)


def _load(path: str):
    try:
        return load_model(path)
    except CheckError as exc:
        _fail(f"{path}: {exc.detail}", 1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="mechproof")
def main() -> None:
    """mechproof: machine-checked proofs of a transformer's accuracy on Max-of-K."""


@main.command()
@click.option("--k", "k", type=click.IntRange(1, 64), required=True, help="sequence length K")
@click.option("--vocab", type=click.IntRange(2, 4096), required=True, help="vocabulary size v")
@click.option("--d-model", type=click.IntRange(1, 1024), default=32, show_default=True)
@click.option("--heads", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option("--seed", type=int, required=True)
@click.option("--steps", type=click.IntRange(1), default=3000, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option("--batch", type=click.IntRange(1), default=128, show_default=True)
@click.option(
    "--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@click.option("--quiet", is_flag=True)
def train(k, vocab, d_model, heads, seed, steps, lr, weight_decay, batch, dtype, out, quiet):
    """Train a one-layer attention-only model on Max-of-K (numpy, AdamW)."""
    from generators.model import save_model
    from generators.train import Recipe
    from generators.train import train as run

    if d_model % heads:
        _fail("--d-model must be divisible by --heads", 2)
    recipe = Recipe(
        v=vocab,
        k=k,
        d_model=d_model,
        heads=heads,
        d_head=d_model // heads,
        lr=lr,
        weight_decay=weight_decay,
        batch=batch,
        steps=steps,
    )
    t0 = time.perf_counter()
    params, loss = run(recipe, seed=seed, quiet=quiet)
    try:
        save_model(out, params, {"seed": str(seed), "recipe": recipe.to_json()}, dtype=dtype)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror}", 2)
    click.echo(
        f"trained k={k} v={vocab} seed={seed} in {time.perf_counter() - t0:.1f}s, "
        f"final loss {loss:.5f} -> {out}"
    )


def _wilson(c: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = c / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


@main.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--sample", type=click.IntRange(1), default=None, help="estimate from N uniform inputs"
)
@click.option("--seed", type=int, default=0, show_default=True, help="sampling seed")
def accuracy(model, as_json, sample, seed):
    """Exact accuracy over every input (rigorous: ball arithmetic, exps from arb)."""
    m = _load(model)
    bar = Bar(enabled=True)
    t0 = time.perf_counter()
    if sample is None:
        if m.total > ENUMERATE_LIMIT:
            _fail(
                f"{m.v}^{m.k} = {m.total:.3e} inputs is too many to enumerate here; "
                "use --sample N for an estimate with a confidence interval",
                2,
            )
        c, i, u, n = kernel.exact_accuracy(m, bar)
        bar.finish()
        out = {
            "correct": c,
            "incorrect": i,
            "undecided": u,
            "total": n,
            "accuracy": f"{Fraction(c, n).numerator}/{Fraction(c, n).denominator}",
        }
    else:
        rng = np.random.default_rng(seed)
        x = rng.integers(0, m.v, size=(sample, m.k))
        c, i, u = decide_inputs(path_tables(m), x)
        lo, hi = _wilson(c, sample)
        out = {
            "correct": c,
            "incorrect": i,
            "undecided": u,
            "total": sample,
            "sampled": True,
            "accuracy": f"{Fraction(c, sample).numerator}/{Fraction(c, sample).denominator}",
            "ci95": [lo, hi],
            "population": m.total,
        }
    out["seconds"] = round(time.perf_counter() - t0, 3)
    if as_json:
        click.echo(json.dumps(out))
    else:
        acc = out["correct"] / out["total"]
        what = "sampled" if sample else "exact"
        click.echo(
            f"{what} accuracy {out['accuracy']} = {acc:.6f}  (correct {out['correct']}, "
            f"incorrect {out['incorrect']}, undecided {out['undecided']}, total {out['total']}) "
            f"in {out['seconds']:.1f}s"
        )
        if sample:
            click.echo(
                f"95% Wilson interval [{out['ci95'][0]:.6f}, {out['ci95'][1]:.6f}] "
                f"over {m.total:.3e} inputs"
            )


@main.command()
@click.option("--json", "as_json", is_flag=True)
def strategies(as_json):
    """List the proof strategies."""
    from generators.strategies import STRATEGIES

    reg = STRATEGIES()
    if as_json:
        click.echo(json.dumps(sorted(reg)))
    else:
        for name, (_, doc) in reg.items():
            click.echo(f"{name:20s} {doc}")


@main.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--strategy", required=True, help="see `mechproof strategies`")
@click.option("--out", type=click.Path(dir_okay=False), required=True)
@click.option("--json", "as_json", is_flag=True)
def prove(model, strategy, out, as_json):
    """Search for a proof and write a certificate (untrusted; `check` verifies it)."""
    from generators.strategies import STRATEGIES
    from generators.strategies.cubic import UnsupportedModel

    reg = STRATEGIES()
    if strategy not in reg:
        _fail(f"unknown strategy {strategy!r}; choose from {', '.join(sorted(reg))}", 2)
    m = _load(model)
    t0 = time.perf_counter()
    bar = Bar()
    try:
        proof = reg[strategy][0](m, bar)
    except UnsupportedModel as exc:
        _fail(str(exc), 1)
    bar.finish()
    try:
        size = proof.write(out, m.sha256)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror}", 2)
    res = {
        "strategy": strategy,
        "bound": f"{proof.bound.numerator}/{proof.bound.denominator}",
        "bound_float": float(proof.bound),
        "certificate": str(out),
        "certificate_bytes": size,
        "seconds": round(time.perf_counter() - t0, 3),
        **proof.notes,
    }
    if as_json:
        click.echo(json.dumps(res))
    else:
        click.echo(
            f"{strategy}: claimed bound {res['bound']} = {float(proof.bound):.6f}; "
            f"certificate {out} ({size} bytes) in {res['seconds']:.1f}s"
        )


@main.command()
@click.argument("cert", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "model", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--json", "as_json", is_flag=True)
def check(cert, model, as_json):
    """Replay a certificate in the trusted kernel; exit 0 iff VERIFIED."""
    from checker.__main__ import run

    sys.exit(run(cert, model, as_json))


@main.command()
@click.option(
    "--budget",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="seconds; the audit stops cleanly when they are spent",
)
@click.option("--seed", type=int, default=0, show_default=True, help="fixes every model and mutant")
@click.option(
    "--strategies", "strategy_list", default=None, help="NAME,... (default: every strategy)"
)
@click.option(
    "--checker",
    "checker_cmd",
    default=None,
    help="a command with check's contract: CMD CERT --model MODEL --json",
)
@click.option(
    "--cert", type=click.Path(dir_okay=False), default=None, help="audit this certificate"
)
@click.option(
    "--model", type=click.Path(dir_okay=False), default=None, help="its model (with --cert)"
)
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="write JUnit XML here")
@click.option("--self-test", is_flag=True, help="check that the audit catches broken checkers")
@click.option(
    "--findings",
    "findings_dir",
    type=click.Path(file_okay=False),
    default="audit-findings",
    show_default=True,
    help="reproducer folders go here",
)
@click.option(
    "--phases",
    default="liars,hostile,differential",
    show_default=True,
    help="which phases to run, in order",
)
@click.option("--max-models", type=click.IntRange(0), default=None, help="stop after N models")
@click.option(
    "--mutants-per-cert",
    type=click.IntRange(1),
    default=40,
    show_default=True,
    help="mutants sampled per certificate in the differential phase",
)
@click.option(
    "--flips",
    type=click.IntRange(0),
    default=8,
    show_default=True,
    help="random byte flips per certificate (--cert: at least 64)",
)
@click.option(
    "--case-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="seconds per check (hostile cases: a third, at least 1)",
)
@click.option(
    "--case-memory",
    type=click.IntRange(256),
    default=2048,
    show_default=True,
    help="MiB of address space per check (hostile cases: a quarter, at least 256)",
)
def audit(
    budget,
    seed,
    strategy_list,
    checker_cmd,
    cert,
    model,
    as_json,
    junit,
    self_test,
    findings_dir,
    phases,
    max_models,
    mutants_per_cert,
    flips,
    case_timeout,
    case_memory,
):
    """Soundness audit: differential, mutants, liars, hostile inputs (exit 1 on a finding)."""
    from pathlib import Path

    from generators.audit import report
    from generators.audit.checkers import Limits, make_checker
    from generators.audit.runner import Audit, Options, strategy_registry

    bar = Bar(enabled=True)
    if self_test:
        from generators.audit.selftest import run_self_test

        ok, found = run_self_test(min(budget, 120.0), seed, bar)
        bar.finish()
        from generators.audit.selftest import CONTROL

        for name, first in found.items():
            if name == CONTROL:
                what = f"FINDING {first}" if first else "no finding"
                click.echo(f"self-test: {name}: {what}")
            else:
                what = f"caught by {first}" if first else "NOT CAUGHT"
                click.echo(f"self-test: broken checker {name!r}: {what}")
        click.echo(
            "self-test passed"
            if ok
            else "self-test FAILED (a broken checker missed, or the control flagged)"
        )
        sys.exit(0 if ok else 1)
    if (cert is None) != (model is None):
        _fail("--cert and --model go together", 2)
    names = None
    if strategy_list:
        names = [n.strip() for n in strategy_list.split(",") if n.strip()]
        unknown = sorted(set(names) - set(strategy_registry()))
        if unknown:
            _fail(f"unknown strategies {', '.join(unknown)}; see `mechproof strategies`", 2)
    if cert is not None:
        for p in (cert, model):
            if not Path(p).is_file():
                _fail(f"{p} is not a file", 2)
    phase_list = tuple(p.strip() for p in phases.split(",") if p.strip())
    bad = sorted(set(phase_list) - {"liars", "hostile", "differential"})
    if bad or not phase_list:
        _fail(f"unknown phases {', '.join(bad)}; choose from liars, hostile, differential", 2)
    opts = Options(
        phases=phase_list,
        seed=seed,
        budget=budget,
        strategies=names,
        mutants_per_cert=mutants_per_cert,
        flips=flips,
        max_models=max_models,
        limits=Limits(case_timeout, case_memory),
        hostile_limits=Limits(max(1.0, case_timeout / 3), max(256, case_memory // 4)),
        findings_dir=Path(findings_dir),
    )
    run = Audit(make_checker(checker_cmd), opts, bar)
    if cert is not None:
        run.audit_certificate(Path(cert), Path(model))
    else:
        run.run()
    bar.finish()
    summary = run.summary()
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(report.table(summary))
    if junit:
        report.junit(summary, Path(junit))
    sys.exit(1 if summary["findings"] else 0)


if __name__ == "__main__":
    main()
