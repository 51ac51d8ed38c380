"""``python -m bench.cubic_table`` (``make cubic-table``): the cubic family over the zoo.

For every zoo model of the chosen groups and every cubic-family strategy: prove, write the
certificate, check it with the kernel, and record the verified bound, the bound normalised by
the model's accuracy (exact for K=4, from ``zoo/index.json``; for K=5/K=10 the kernel's
rigorous decision of 100,000 sampled inputs, so the ratio is an estimate), the proof length
in ops, the check seconds and the certificate size.  Writes ``bench/results/cubic.csv``,
``bench/results/cubic.md`` (the README table) and ``bench/results/cubic.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"
STRATEGIES = (
    "cubic",
    "cubic-positional",
    "cubic-paired",
    "cubic-positional-split",
    "cubic-paired-split",
)
PAPER = {"cubic_normalised": (0.9539, 0.0080), "cubic_flops": 3.52e7, "brute_flops": 8.76e11}


def reference_accuracy(rec: dict[str, Any]) -> tuple[Fraction | None, str]:
    if "exact_correct" in rec:
        return Fraction(rec["exact_correct"], rec["total"]), "exact"
    if "rigorous_sample_correct" in rec:
        return (
            Fraction(rec["rigorous_sample_correct"], rec["rigorous_sample_size"]),
            "sampled",
        )
    return None, "none"


def run_one(args: tuple[str, str, list[str]]) -> list[dict[str, Any]]:
    from checker import kernel
    from checker.model import load_model
    from generators.strategies import STRATEGIES as REG

    path, rel, strategies = args
    m = load_model(path)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in strategies:
            t0 = time.perf_counter()
            proof = REG()[name][0](m, None)
            prove_s = time.perf_counter() - t0
            cert = Path(tmp) / "c.cert"
            size = proof.write(cert, m.sha256)
            t0 = time.perf_counter()
            verdict = kernel.check(cert, path)
            check_s = time.perf_counter() - t0
            rows.append(
                {
                    "model": rel,
                    "strategy": name,
                    "bound": f"{verdict.bound.p}/{verdict.bound.q}",
                    "bound_float": float(Fraction(int(verdict.bound.p), int(verdict.bound.q))),
                    "ops": verdict.ops,
                    "prove_seconds": round(prove_s, 3),
                    "check_seconds": round(check_s, 3),
                    "certificate_bytes": size,
                    "certificate_gzip_bytes": verdict.to_json()["certificate_gzip_bytes"],
                }
            )
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    for group in sorted({r["group"] for r in rows}, key=lambda g: int(g[1:])):
        for name in STRATEGIES:
            sel = [r for r in rows if r["group"] == group and r["strategy"] == name]
            if not sel:
                continue
            norm = np.array([r["normalised"] for r in sel if r["normalised"] is not None])
            out[group, name] = {
                "n": len(sel),
                "bound_mean": float(np.mean([r["bound_float"] for r in sel])),
                "norm_mean": float(norm.mean()) if len(norm) else float("nan"),
                "norm_std": float(norm.std(ddof=1)) if len(norm) > 1 else 0.0,
                "norm_min": float(norm.min()) if len(norm) else float("nan"),
                "ops_mean": float(np.mean([r["ops"] for r in sel])),
                "check_mean": float(np.mean([r["check_seconds"] for r in sel])),
                "check_max": float(np.max([r["check_seconds"] for r in sel])),
                "prove_mean": float(np.mean([r["prove_seconds"] for r in sel])),
                "gzip_mean": float(np.mean([r["certificate_gzip_bytes"] for r in sel])),
            }
    return out


def render(summary: dict[tuple[str, str], dict[str, float]], rows: list[dict[str, Any]]) -> str:
    lines = [
        "| group | strategy | models | bound (mean) | bound / accuracy (mean ± std) | min "
        "| ops (mean) | check s (mean / max) | prove s (mean) | cert gzip bytes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (group, name), s in summary.items():
        kind = {r["accuracy_kind"] for r in rows if r["group"] == group}.pop()
        lines.append(
            f"| {group}{' (sampled acc.)' if kind == 'sampled' else ''} | {name} | {s['n']:.0f} "
            f"| {s['bound_mean']:.4f} | {s['norm_mean']:.4f} ± {s['norm_std']:.4f} "
            f"| {s['norm_min']:.4f} | {s['ops_mean']:.3e} | {s['check_mean']:.2f} / "
            f"{s['check_max']:.2f} | {s['prove_mean']:.2f} | {s['gzip_mean']:.0f} |"
        )
    m, sd = PAPER["cubic_normalised"]
    lines.append(
        f"| paper (K=4) | cubic | 151 | – | {m:.4f} ± {sd:.4f} | – | "
        f"{PAPER['cubic_flops']:.3e} FLOPs | – | – | – |"
    )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sel = [r for r in rows if r["group"] == "k4" and r["normalised"] is not None]
    if not sel:
        return
    fig, ax = plt.subplots(figsize=(9, 4.5))
    names = [n for n in STRATEGIES if any(r["strategy"] == n for r in sel)]
    labels = []
    for i, name in enumerate(names):
        vals = [r["normalised"] for r in sel if r["strategy"] == name]
        ops = np.mean([r["ops"] for r in sel if r["strategy"] == name])
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(vals))
        ax.scatter(np.full(len(vals), i) + jitter, vals, s=8, alpha=0.6)
        labels.append(f"{name}\n{ops:.2e} ops")
    m, sd = PAPER["cubic_normalised"]
    ax.axhline(m, color="k", ls="--", lw=1, label=f"paper cubic {m} ± {sd}")
    ax.axhspan(m - sd, m + sd, color="k", alpha=0.08)
    ax.set_xticks(range(len(names)), labels, fontsize=8)
    ax.set_ylabel("verified bound / exact accuracy")
    ax.set_title(f"Cubic-family proofs over {len(sel) // len(names)} K=4 zoo models")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cubic_table", description=__doc__)
    ap.add_argument("--zoo", type=Path, default=Path("zoo"))
    ap.add_argument("--groups", default="k4,k5,k10")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--limit", type=int, default=None, help="at most this many models per group")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--from-csv",
        action="store_true",
        help="only redraw cubic.md and cubic.png from an existing bench/results/cubic.csv",
    )
    ap.add_argument(
        "--renormalise",
        action="store_true",
        help="only recompute each row's reference accuracy from the zoo index (e.g. after exact "
        "accuracy was added for K=5), rewrite cubic.csv and redraw; bounds are not re-proved",
    )
    a = ap.parse_args(argv)
    if a.from_csv:
        return report(read_csv(RESULTS / "cubic.csv"))
    if a.renormalise:
        index = {r["path"]: r for r in json.loads((a.zoo / "index.json").read_text())}
        rows = read_csv(RESULTS / "cubic.csv")
        for row in rows:
            acc, kind = reference_accuracy(index[row["model"]])
            row["accuracy_kind"] = kind
            row["accuracy"] = float(acc) if acc is not None else None
            row["normalised"] = (
                float(Fraction(row["bound"]) / acc) if acc is not None and acc > 0 else None
            )
        with open(RESULTS / "cubic.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return report(rows)
    index = json.loads((a.zoo / "index.json").read_text())
    groups = a.groups.split(",")
    recs = [r for r in index if r["group"] in groups]
    if a.limit is not None:
        recs = [r for g in groups for r in [x for x in recs if x["group"] == g][: a.limit]]
    strategies = a.strategies.split(",")
    jobs = [(str(a.zoo / r["path"]), r["path"], strategies) for r in recs]
    by_path = {r["path"]: r for r in recs}
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(a.jobs) as pool:
        for i, res in enumerate(pool.imap(run_one, jobs), 1):
            for row in res:
                rec = by_path[row["model"]]
                acc, kind = reference_accuracy(rec)
                row["group"] = rec["group"]
                row["accuracy_kind"] = kind
                row["accuracy"] = float(acc) if acc is not None else None
                row["normalised"] = (
                    float(Fraction(row["bound"]) / acc) if acc is not None and acc > 0 else None
                )
                rows.append(row)
            brief = "  ".join(f"{r['strategy']} {r['bound_float']:.4f}" for r in res)
            print(
                f"[{i}/{len(jobs)}] {res[0]['model']}  {brief}  ({time.perf_counter() - t0:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "cubic.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return report(rows)


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of cubic.csv with their numeric fields restored."""
    rows: list[dict[str, Any]] = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            row: dict[str, Any] = dict(r)
            for key in ("bound_float", "prove_seconds", "check_seconds", "accuracy", "normalised"):
                row[key] = float(r[key]) if r[key] not in ("", "None") else None
            for key in ("ops", "certificate_bytes", "certificate_gzip_bytes"):
                row[key] = int(r[key])
            rows.append(row)
    return rows


def report(rows: list[dict[str, Any]]) -> int:
    md = render(summarise(rows), rows)
    (RESULTS / "cubic.md").write_text(md)
    plot(rows, RESULTS / "cubic.png")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
