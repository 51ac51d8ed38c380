"""``python -m bench`` (``make bench``): the brute-force check against a float64 baseline.

Every figure is measured in this run, each task in a fresh process (so peak memory is the
task's own), the best of ``--repeat`` runs:

* ``float64-fast``: an unsound float64 numpy evaluation of every input (the zoo's evaluator,
  which factors the softmax per query; the strongest baseline we have);
* ``float64-forward``: the plain batched float64 forward pass over every input;
* ``accuracy``: the kernel's rigorous exact accuracy (``mechproof accuracy``);
* ``prove``/``check`` for brute force and each cubic-family strategy.

Throughput is inputs decided per second on one core (v^k / seconds).  ``make bench`` then
runs ``python -m bench.parallel`` (``--jobs 1`` against ``--jobs 2``, K=4 and K=5).

The headline ratio is brute-force ``check`` seconds / ``float64-fast`` seconds (target <= 3),
with the check's seconds (target <= 30 s on 2 cores) and peak RSS (target <= 1 GB).  Results
go to ``bench/results/bench.json`` and ``bench/results/bench.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

PAPER_BRUTE_FLOPS = 8.76e11
PAPER_CUBIC_FLOPS = 3.52e7
RESULTS = Path(__file__).parent / "results"


def child(*args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    res = subprocess.run(
        [sys.executable, "-m", "bench._child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if res.returncode != 0:
        raise SystemExit(f"bench task {args[0]} failed:\n{res.stderr[-2000:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def best(repeat: int, *args: str) -> dict[str, Any]:
    runs = [child(*args) for _ in range(repeat)]
    out = min(runs, key=lambda r: r["seconds"])
    out["all_seconds"] = [round(r["seconds"], 3) for r in runs]
    out["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    print(
        f"  {args[0]:16s} {' '.join(args[3:4]):18s} {out['seconds']:7.2f} s  "
        f"(runs {out['all_seconds']})  peak {out['peak_rss_mb']:.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="zoo/k4/seed000.safetensors")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--strategies",
        default="brute-force,cubic,cubic-positional,cubic-paired,cubic-positional-split,"
        "cubic-paired-split",
        help="comma-separated strategies to prove and check",
    )
    a = ap.parse_args(argv)
    model = a.model
    cpu = platform.processor() or platform.machine()
    print(f"bench on {model} ({os.cpu_count()} cpus, {cpu})", file=sys.stderr)
    r: dict[str, Any] = {"model": model, "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    r["idle"] = best(1, "idle", model)
    r["float64_fast"] = best(a.repeat, "float64-fast", model)
    r["float64_forward"] = best(1, "float64-forward", model)
    r["accuracy"] = best(a.repeat, "accuracy", model)
    acc = Fraction(r["accuracy"]["correct"], r["accuracy"]["total"])
    r["strategies"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for strat in a.strategies.split(","):
            cert = str(Path(tmp) / f"{strat}.cert")
            prove = best(1, "prove", model, cert, strat)
            check = best(a.repeat, "check", model, cert, strat)
            bound = Fraction(check["bound"])
            r["strategies"][strat] = {
                "prove_seconds": prove["seconds"],
                "check_seconds": check["seconds"],
                "check_peak_rss_mb": check["peak_rss_mb"],
                "bound": check["bound"],
                "bound_float": float(bound),
                "normalised": float(bound / acc),
                "ops": check["ops"],
                "certificate_bytes": check["certificate_bytes"],
                "certificate_gzip_bytes": check["certificate_gzip_bytes"],
            }
    bf = r["strategies"].get("brute-force")
    if bf is not None:
        r["ratio_check_vs_float64_fast"] = bf["check_seconds"] / r["float64_fast"]["seconds"]
        r["ratio_check_vs_float64_forward"] = bf["check_seconds"] / r["float64_forward"]["seconds"]
        r["brute_bound_equals_accuracy"] = Fraction(bf["bound"]) == acc
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
    md = render(r, acc)
    (RESULTS / "bench.md").write_text(md)
    print(md)
    return 0


def render(r: dict[str, Any], acc: Fraction) -> str:
    n = r["accuracy"]["total"]  # inputs; every task below decides all of them
    lines = [
        f"Model `{r['model']}`, exact accuracy {acc.numerator}/{acc.denominator} = "
        f"{float(acc):.6f}; {r['cpus']} cpus, Python {r['python']}.",
        "",
        "| task | seconds | inputs per second (one core) | peak RSS (MB) |",
        "|---|---:|---:|---:|",
        f"| process floor (interpreter + numpy + kernel imports) | – | – | "
        f"{r['idle']['peak_rss_mb']:.0f} |",
        f"| float64 evaluation, factored (unsound baseline) | {r['float64_fast']['seconds']:.2f} "
        f"| {n / r['float64_fast']['seconds']:.3e} | {r['float64_fast']['peak_rss_mb']:.0f} |",
        f"| float64 forward pass, batched (unsound) | {r['float64_forward']['seconds']:.2f} "
        f"| {n / r['float64_forward']['seconds']:.3e} "
        f"| {r['float64_forward']['peak_rss_mb']:.0f} |",
        f"| `mechproof accuracy` (rigorous, exact) | {r['accuracy']['seconds']:.2f} "
        f"| {n / r['accuracy']['seconds']:.3e} | {r['accuracy']['peak_rss_mb']:.0f} |",
        "",
        "| strategy | bound | bound / accuracy | ops | prove s | check s | check peak MB "
        "| cert bytes (gzip) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in r["strategies"].items():
        lines.append(
            f"| {name} | {s['bound_float']:.6f} | {s['normalised']:.4f} | {s['ops']:.3e} "
            f"| {s['prove_seconds']:.2f} | {s['check_seconds']:.2f} | "
            f"{s['check_peak_rss_mb']:.0f} | {s['certificate_bytes']} "
            f"({s['certificate_gzip_bytes']}) |"
        )
    if "ratio_check_vs_float64_fast" in r:
        bf = r["strategies"]["brute-force"]
        lines += [
            "",
            f"Brute-force check / float64 factored evaluation: "
            f"**{r['ratio_check_vs_float64_fast']:.2f}x** (target <= 3x); / float64 forward "
            f"pass: {r['ratio_check_vs_float64_forward']:.2f}x.  Check {bf['check_seconds']:.1f} s "
            f"(target <= 30 s), peak {bf['check_peak_rss_mb']:.0f} MB (target <= 1024 MB).  "
            f"Proof length {bf['ops']:.3e} ops vs the paper's brute force "
            f"{PAPER_BRUTE_FLOPS:.3g} FLOPs ({PAPER_BRUTE_FLOPS / bf['ops']:.0f}x fewer).  "
            f"Bound equals exact accuracy: {r['brute_bound_equals_accuracy']}.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
