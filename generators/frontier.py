"""``mechproof frontier``: prove and check strategies on models; the CSV and the two plots.

For every model x strategy: prove (untrusted, timed), write the certificate, check it with
the kernel (timed), and record one CSV row: model, strategy, family, bound, bound/accuracy,
ops, certificate bytes and gzip bytes, check and prove seconds (plus the residual row-spread
bound a rank-1 strategy certified, for the compounding plot).  Accuracy for normalising is
the exact count: zoo/index.json's ``exact_correct`` / ``total`` when the model's sha256 is
listed there, else the kernel's own exact count (checker.kernel.exact_accuracy) — never a
float evaluation.  Models x strategies run in a process pool with ``jobs`` workers.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "zoo" / "index.json"
FIELDS = [
    "model",
    "strategy",
    "family",
    "bound",
    "bound_over_accuracy",
    "ops",
    "certificate_bytes",
    "certificate_gzip_bytes",
    "check_seconds",
    "prove_seconds",
    "residual",
    "attention",
    "k",
    "v",
]
# The paper's published points (REFERENCE.md: seed 50, their FLOP count; cubic over 151 seeds).
PAPER = [
    ("brute force", 8.76e11, 1.0),
    ("cubic", 3.52e7, 0.9539),
    ("max-diff exact / mean+diff / exact EQKE", 2.53e6, 0.838),
    ("max-diff exact / mean+diff / max-diff", 3.51e6, 0.814),
    ("max-diff exact / mean+diff / max-diff on subproduct", 2.75e6, 0.823),
    ("max-diff exact / mean+diff / SVD", 4.71e6, 0.755),
    ("mean query / mean+diff / max-diff (default)", 3.25e6, 0.708),
    ("mean query / mean+diff / recursive max-diff", 1.96e6, 0.313),
    ("max-diff exact / no mean+diff / exact EQKE", 2.49e6, 0.457),
]


ENUMERATE_LIMIT = 1 << 27  # inputs; past this there is no exact count (as `accuracy`)


def exact_accuracy(path: str) -> Fraction | None:
    """correct / total for the model at ``path``: the zoo index's exact record, or the
    kernel's exact count; None when neither exists (more than 2^27 inputs): such rows are
    reported unnormalised (never against a float or sampled accuracy)."""
    from checker import kernel, load_model

    model = load_model(path)
    if INDEX.exists():
        for rec in json.loads(INDEX.read_text()):
            if rec.get("sha256") == model.sha256 and "exact_correct" in rec:
                return Fraction(int(rec["exact_correct"]), int(rec["total"]))
    if model.total > ENUMERATE_LIMIT:
        return None
    c, _, _, total = kernel.exact_accuracy(model)
    return Fraction(c, total)


def run_one(task: tuple[str, str, str, str]) -> dict[str, Any]:
    """Prove and check one (model, strategy); return its CSV row."""
    from checker import kernel, load_model
    from generators.strategies import REGISTRY

    path, name, out, acc = task
    model = load_model(path)
    config = REGISTRY[name]
    t0 = time.perf_counter()
    proof = config.prove(model)
    prove_s = time.perf_counter() - t0
    proof.write(out, model.sha256)
    t0 = time.perf_counter()
    verdict = kernel.check(out, path)
    check_s = time.perf_counter() - t0
    bound = Fraction(int(verdict.bound.p), int(verdict.bound.q))
    return {
        "model": path,
        "strategy": name,
        "family": config.family,
        "bound": float(bound),
        "bound_over_accuracy": float(bound / Fraction(acc)) if acc and Fraction(acc) > 0 else "",
        "ops": verdict.ops,
        "certificate_bytes": verdict.certificate_bytes,
        "certificate_gzip_bytes": verdict.certificate_gzip_bytes,
        "check_seconds": round(check_s, 3),
        "prove_seconds": round(prove_s, 3),
        "k": model.k,
        "v": model.v,
        "residual": proof.notes.get("residual", ""),
        "attention": proof.notes.get("attention", ""),
    }


def run(
    models: list[str],
    strategies: list[str],
    out: Path,
    jobs: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Prove and check every strategy on every model; write frontier.csv and the plots."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "certs").mkdir(exist_ok=True)
    accs = {m: exact_accuracy(m) for m in models}
    tasks = [
        (
            m,
            s,
            str(out / "certs" / f"{Path(m).parent.name}-{Path(m).stem}.{s}.cert"),
            str(accs[m] or ""),
        )
        for m in models
        for s in strategies
    ]
    rows: list[dict[str, Any]] = []
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for row in pool.map(run_one, tasks):
                rows.append(row)
                if progress:
                    progress("frontier", 1, len(tasks))
    else:
        for task in tasks:
            rows.append(run_one(task))
            if progress:
                progress("frontier", 1, len(tasks))
    with (out / "frontier.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS)
        w.writeheader()
        w.writerows(rows)
    plot_frontier(rows, out / "frontier.png")
    plot_compounding(rows, out / "compounding.png")
    return rows


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per strategy: family, models, mean and std of bound/accuracy, mean ops."""
    out = []
    for name in dict.fromkeys(r["strategy"] for r in rows):
        rs = [r for r in rows if r["strategy"] == name]
        ratio = np.array([_y(r) for r in rs])
        out.append(
            {
                "strategy": name,
                "family": rs[0]["family"],
                "models": len(rs),
                "mean": float(ratio.mean()),
                "std": float(ratio.std(ddof=1)) if len(rs) > 1 else 0.0,
                "ops": float(np.mean([float(r["ops"]) for r in rs])),
                "residual": rs[0].get("residual", ""),
            }
        )
    return out


def _y(row: dict[str, Any]) -> float:
    """bound / accuracy where the exact accuracy is known, else the bound itself."""
    r = row["bound_over_accuracy"]
    return float(r) if r != "" else float(row["bound"])


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points not dominated by a cheaper-or-equal, tighter-or-equal one, by cost."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


COLOURS = {"brute-force": "tab:red", "cubic": "tab:blue", "subcubic": "tab:green"}


def plot_frontier(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6.5))
    summ = summary(rows)
    for fam in dict.fromkeys(r["family"] for r in rows):
        rs = [r for r in rows if r["family"] == fam]
        c = COLOURS.get(fam, "tab:purple")
        ax.scatter(
            [float(r["ops"]) for r in rs],
            [_y(r) for r in rs],
            s=8,
            alpha=0.25,
            color=c,
        )
        ss = [s for s in summ if s["family"] == fam]
        ax.errorbar(
            [s["ops"] for s in ss],
            [s["mean"] for s in ss],
            yerr=[s["std"] for s in ss],
            fmt="o",
            ms=7,
            color=c,
            capsize=3,
            label=f"mechproof {fam} (mean ± std per strategy)",
        )
    front = pareto([(s["ops"], s["mean"]) for s in summ])
    for s in summ:  # name the strategies on the front (the others: frontier.csv)
        if (s["ops"], s["mean"]) in front:
            ax.annotate(
                s["strategy"], (s["ops"], s["mean"]), fontsize=7, xytext=(5, -10),
                textcoords="offset points",
            )  # fmt: skip
    ax.step(
        [x for x, _ in front], [y for _, y in front], where="post", color="black", lw=1.2,
        label="mechproof Pareto front (strategy means)",
    )  # fmt: skip
    ks = sorted({int(r["k"]) for r in rows if r.get("k")})
    paper = PAPER if set(ks) <= {4} else []
    ax.scatter(
        [p[1] for p in paper], [p[2] for p in paper], marker="x", s=50, color="tab:orange",
        label="paper (published; float32, unsound mean+diff)",
    )  # fmt: skip
    for label, x, y in paper:
        ax.annotate(
            label, (x, y), fontsize=6, color="tab:orange", xytext=(4, -9),
            textcoords="offset points",
        )  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("proof length (operations, log scale)")
    normed = all(r["bound_over_accuracy"] != "" for r in rows)
    ax.set_ylabel("certified bound / exact accuracy" if normed else "certified bound")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    kk = f"K = {', '.join(map(str, ks))}, " if ks else ""
    ax.set_title(f"Max-of-K frontier ({kk}{len({r['model'] for r in rows})} models)")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_compounding(rows: list[dict[str, Any]], path: Path) -> None:
    """Horizontal bars: bound / accuracy per subcubic strategy, coloured by attention-error
    handling, each labelled with the residual bound R it certified and its mean ops."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sub = [r for r in rows if r.get("attention")]
    summ = sorted(summary(sub), key=lambda s: s["mean"]) if sub else []
    fig, ax = plt.subplots(figsize=(14, 1.4 + 0.38 * max(len(summ), 6)))
    if not summ:
        ax.text(0.5, 0.5, "no subcubic strategies in this run", ha="center")
    hue = {"eqke": "tab:green", "rank1-exact": "tab:blue", "rank1-mrd": "tab:orange",
           "rank1-mean-mrd": "tab:gray", "rank1-2max": "tab:red", "rank1-svd": "tab:brown",
           "rank1-sub-mrd": "tab:pink",
           "rank1-cs": "tab:purple", "rank2-cs": "tab:olive", "lowrank": "tab:cyan"}  # fmt: skip
    att = {r["strategy"]: r.get("attention", "") for r in sub}
    for i, s in enumerate(summ):
        a = att[s["strategy"]]
        ax.barh(i, s["mean"], xerr=s["std"], color=hue.get(a, "tab:gray"), capsize=2)
        rs = [float(r["residual"] or 0) for r in sub if r["strategy"] == s["strategy"]]
        ax.text(
            s["mean"] + s["std"] + 0.01, i, f"{s['mean']:.3f}   R = {np.mean(rs):.3g}   "
            f"{s['ops']:.2e} ops", va="center", fontsize=7,
        )  # fmt: skip
    ax.set_yticks(range(len(summ)), [s["strategy"] for s in summ], fontsize=7)
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("certified bound / exact accuracy (mean ± std over models)")
    from matplotlib.patches import Patch

    names = {"eqke": "exact EQKE (R = 0)", "rank1-exact": "rank-1 + exact residual",
             "rank1-mrd": "rank-1 + max-row-diff residual",
             "rank1-mean-mrd": "rank-1 + mean + max-row-diff residual",
             "rank1-2max": "rank-1 + 2 max|.| residual",
             "rank1-svd": "rank-1 + certified spectral-norm residual",
             "rank1-sub-mrd": "rank-1 off both factors + max-row-diff on the subproduct",
             "rank1-cs": "rank-1 off both factors + Cauchy-Schwarz residual",
             "rank2-cs": "rank-2 off both factors + Cauchy-Schwarz residual",
             "lowrank": "no v x v product through d (EU, EVOU, EQKE low rank)"}  # fmt: skip
    present = set(att.values())
    handles = [Patch(color=c, label=names[a]) for a, c in hue.items() if a in present]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.set_title(
        "Compounding: bound per attention-error approximation\n"
        "(R = the EQKE residual bound certified: row spread, or entry width for low-rank "
        "enclosures; max over rows, mean over models)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def replot(csvs: list[Path], out: Path) -> list[dict[str, Any]]:
    """Merge frontier.csv files (rows of several runs) into ``out``: frontier.csv and plots."""
    rows: list[dict[str, Any]] = []
    for p in csvs:
        rows += list(csv.DictReader(p.open()))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "frontier.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS)
        w.writeheader()
        w.writerows(rows)
    plot_frontier(rows, out / "frontier.png")
    plot_compounding(rows, out / "compounding.png")
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The README table: per strategy, models, mean ± std of bound/accuracy, mean ops."""
    lines = [
        "| strategy | family | models | bound / accuracy (mean ± std) | mean ops |",
        "|---|---|---:|---|---:|",
    ]
    for s in sorted(summary(rows), key=lambda s: -s["mean"]):
        lines.append(
            f"| `{s['strategy']}` | {s['family']} | {s['models']} | "
            f"{s['mean']:.4f} ± {s['std']:.4f} | {s['ops']:.3g} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m generators.frontier OUT CSV... (merge runs, replot)
    import sys

    merged = replot([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]))
    print(table(merged))
