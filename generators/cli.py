"""The ``mechproof`` command line (DESIGN.md §6; a stable contract)."""

from __future__ import annotations

import json
import sys
import time
from fractions import Fraction

import click
import numpy as np

from checker import CheckError, kernel, load_model
from generators.progress import Bar

ENUMERATE_LIMIT = 1 << 37  # inputs (K=6 at v=64 is 2^36); past this `accuracy` asks for --sample


def _big(n: int) -> str:
    """An input count as short text, whatever its size (no float overflow, no 4,000 digits)."""
    if n < 10**15:
        return f"{n:,}"
    if n.bit_length() < 1000:
        return f"{float(n):.3e}"
    return f"~2^{n.bit_length() - 1}"


def _jobs_option(f):
    return click.option(
        "--jobs",
        type=click.IntRange(1),
        default=None,
        help="worker processes, sharded by query token [default: all cores; one for models "
        "with fewer than 2^22 inputs]",
    )(f)


def _scheduler_option(f):
    return click.option(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="run the shards on an existing Dask cluster, e.g. tcp://HOST:8786 "
        "(needs pip install 'mechproof[dask]')",
    )(f)


DEFAULT_EXP_ULP = "4"  # float32: covers the exps measured by exp-audit here (README)
SMALL_MODEL = 1 << 22  # inputs: without --jobs, smaller models run in one process (< ~1 s)


def _pool(jobs, scheduler, total=None):
    """The context manager for --jobs/--scheduler; exit 2 with how to install Dask if needed.
    Without --jobs, all cores, except for models with fewer than SMALL_MODEL inputs, where
    starting workers would cost more than it saves."""
    from generators.parallel import DASK_HINT, make_pool

    if scheduler is not None and jobs is not None:
        _fail("--jobs and --scheduler exclude each other (the cluster decides the workers)", 2)
    if jobs is None and scheduler is None and total is not None and total < SMALL_MODEL:
        jobs = 1
    try:
        return make_pool(jobs, scheduler)
    except ImportError:
        _fail(DASK_HINT, 2)
    except OSError as exc:  # the scheduler cannot be reached
        _fail(f"cannot connect to the Dask scheduler {scheduler}: {exc}", 2)


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


@main.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--sample", type=click.IntRange(1), default=None, help="estimate from N uniform inputs"
)
@click.option("--seed", type=int, default=0, show_default=True, help="sampling seed")
@_jobs_option
@_scheduler_option
def accuracy(model, as_json, sample, seed, jobs, scheduler):
    """Exact accuracy over every input (rigorous: ball arithmetic, exps from arb)."""
    m = _load(model)
    bar = Bar(enabled=True)
    t0 = time.perf_counter()
    if sample is None:
        if m.total > ENUMERATE_LIMIT:
            _fail(
                f"{m.v}^{m.k} = {_big(m.total)} inputs is too many to enumerate (limit "
                f"{_big(ENUMERATE_LIMIT)}); use --sample N for an estimate with a confidence "
                "interval, or a proof strategy for a bound",
                2,
            )
        with _pool(jobs, scheduler, m.total) as pool:
            try:
                c, i, u, n = kernel.exact_accuracy(m, bar, pool, path=model)
            except CheckError as exc:
                _fail(f"{model}: {exc}", 1)
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
        from generators.sampling import decide_inputs, wilson95

        c, i, u = decide_inputs(m, x)
        lo, hi = wilson95(c, sample)
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
@click.option(
    "--semantics",
    type=click.Choice(["real", "float32"]),
    default="real",
    show_default=True,
    help="the theorem's arithmetic: exact reals, or every float32 evaluation (docs/float32.md)",
)
@click.option(
    "--exp-ulp",
    default=DEFAULT_EXP_ULP,
    show_default=True,
    metavar="U",
    help="float32: the exp's error bound in ulps, p or p/q (measure it: mechproof exp-audit)",
)
@_jobs_option
def prove(model, strategy, out, as_json, semantics, exp_ulp, jobs):
    """Search for a proof and write a certificate (untrusted; `check` verifies it).

    --jobs shards brute force's per-query counting; the other strategies run in one process.
    """
    from checker import float32
    from generators.strategies import REGISTRY, STRATEGIES, UnsupportedModel

    reg = STRATEGIES()
    if strategy not in reg:
        _fail(f"unknown strategy {strategy!r}; choose from {', '.join(sorted(reg))}", 2)
    sem = "real" if semantics == "real" else f"float32:{exp_ulp}"
    try:
        m = float32.bind(_load(model), sem)
    except CheckError as exc:
        _fail(f"{model}: {exc.detail}", 2 if exc.reason.value == "cert-schema" else 1)
    t0 = time.perf_counter()
    bar = Bar()
    try:
        if strategy == "brute-force":
            with _pool(jobs, None, m.total) as pool:
                proof = REGISTRY[strategy].prove(m, bar, pool=pool, path=model)
        else:
            proof = reg[strategy][0](m, bar)
    except UnsupportedModel as exc:
        _fail(str(exc), 1)
    except CheckError as exc:
        _fail(f"{model}: {exc}", 1)
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
        "semantics": sem,
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
@_jobs_option
@_scheduler_option
def check(cert, model, as_json, jobs, scheduler):
    """Replay a certificate in the trusted kernel; exit 0 iff VERIFIED."""
    from checker.__main__ import run
    from generators.metrics import compression

    def extra(verdict):
        return {"compression": compression(load_model(model), verdict.ops)}

    try:
        total = load_model(model).total
    except CheckError:
        total = None  # run() reports the rejection in check's own format
    with _pool(jobs, scheduler, total) as pool:
        status = run(cert, model, as_json, extra, pool=pool, progress=Bar() if pool else None)
    sys.exit(status)


@main.command()
@click.argument("cert", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "model", type=click.Path(exists=True, dir_okay=False), default=None)
def explain(cert, model):
    """Print a certificate's trace as a proof outline (with --model: costs and conclusions)."""
    from checker.cert import read_certificate
    from checker.kernel import replay
    from generators.explain import outline

    try:
        _, c = read_certificate(cert)
        reports = None
        if model is not None:
            m = _load(model)
            if c.model_sha256 != m.sha256:
                _fail(f"{cert} is bound to another model ({c.model_sha256[:16]}...)", 1)
            reports = replay(c, m).reports
    except CheckError as exc:
        where = f" at step {exc.step}" if exc.step else ""
        _fail(f"REJECTED ({exc.reason.value}){where}: {exc.detail}", 1)
    for line in outline(c, reports):
        click.echo(line)


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


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), required=True)
@click.option("--strategies", default="", help="comma-separated names (default: all)")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True)
def frontier(models, out, strategies, jobs):
    """Prove and check strategies on models: frontier.csv, frontier.png, compounding.png."""
    from pathlib import Path

    from generators import frontier as fr
    from generators.strategies import REGISTRY

    names = [s for s in strategies.split(",") if s] or list(REGISTRY)
    unknown = [s for s in names if s not in REGISTRY]
    if unknown:
        _fail(f"unknown strategies: {', '.join(unknown)}", 2)
    bar = Bar()
    rows = fr.run(list(models), names, Path(out), jobs, bar)
    bar.finish()
    for s in fr.summary(rows):
        click.echo(
            f"{s['strategy']:<34} {s['family']:<12} n={s['models']:<4} "
            f"bound/acc {s['mean']:.4f} ± {s['std']:.4f}  ops {s['ops']:.3g}"
            + ("  (accuracy sampled: an estimate)" if s["normalised"] != "exact" else "")
        )
    for name, (why, n) in fr.misfits(rows).items():
        click.echo(f"{name:<34} n={n:<4} {why}")


@main.command("exp-audit")
@click.option(
    "--impl",
    type=click.Choice(["numpy", "math", "correct", "torch"]),
    default="numpy",
    show_default=True,
    help="numpy: np.exp on float32; math: math.exp rounded to float32; correct: correctly "
    "rounded (a control); torch: torch.exp on CPU (where installed)",
)
@click.option("--jobs", type=click.IntRange(1), default=None, help="worker processes [all cores]")
@click.option(
    "--sample",
    type=click.IntRange(1),
    default=None,
    help="N random inputs plus the edge cases instead of all of them (NOT exhaustive)",
)
@click.option("--seed", type=int, default=0, show_default=True, help="sampling seed")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def exp_audit(impl, jobs, sample, seed, as_json):
    """Worst ulp error of a float32 exp over every float32 x <= 0 a softmax can give it,
    against a proven float64 reference; prints the U to state (DESIGN.md §9)."""
    from generators import exp_audit as ea
    from generators.parallel import default_jobs

    if not ea.available(impl):
        _fail(f"--impl {impl}: not importable here (pip install {impl})", 2)
    bar = Bar()
    res = ea.audit(impl, jobs or default_jobs(), sample, seed, bar)
    bar.finish()
    if as_json:
        click.echo(json.dumps(res.to_json()))
    else:
        for line in ea.report(res):
            click.echo(line)
    if res.u is None:
        sys.exit(1)
