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
def prove(model, strategy, out, as_json):
    """Search for a proof and write a certificate (untrusted; `check` verifies it)."""
    from generators.strategies import STRATEGIES, UnsupportedModel

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
    from generators.metrics import compression

    def extra(verdict):
        m = load_model(model)
        return {"compression": compression(m, verdict.ops)}

    sys.exit(run(cert, model, as_json, extra))


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
        )
