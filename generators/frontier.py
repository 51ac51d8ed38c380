"""``mechproof frontier``: prove and check strategies on models; the CSV and the two plots.

For every model x strategy: prove (untrusted, timed), write the certificate, check it with
the kernel (timed), and record one CSV row: model, strategy, family, bound, bound/accuracy,
ops, certificate bytes and gzip bytes, check and prove seconds (plus the residual row-spread
bound a rank-1 strategy certified, for the compounding plot).

Accuracy for normalising (columns ``accuracy``, ``accuracy_source``, ``accuracy_lo/hi``):

* ``exact``: zoo/index.json's ``exact_correct`` / ``total`` when the model's sha256 is listed
  there, else the kernel's own exact count (checker.kernel.exact_accuracy) when the model has
  at most 2^27 inputs;
* ``sampled``: past that (K = 10, 20) no exact count exists: the kernel's rigorous decision of
  a uniform sample of inputs (the index's ``rigorous_sample_*`` record, else 100,000 inputs
  decided here), with its 95% Wilson interval.  bound / accuracy is then an *estimate* (the
  bound itself is still a theorem), and the table and plots say so.

Never a float evaluation.  A strategy that cannot run on a model gets a row whose ``status``
is ``does not fit: <reason>`` (no bound, no ops) instead of an error: predicted before proving
from the shapes and the kernel rules' ``work()`` formulas (brute force at 512^20 inputs, cubic
rules past the kernel's per-step limit ``checker.kernel.WORK_LIMIT`` = 2^28), or reported by
the kernel itself (``unsupported``: a step's work past its limits), or a prover out of memory.
Models x strategies run in a process pool with ``jobs`` workers (BLAS pinned to one thread
each), optionally stopping at a deadline (:func:`run_tasks`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
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
    "status",
    "group",
    "accuracy",
    "accuracy_source",
    "accuracy_lo",
    "accuracy_hi",
    "machine",
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
SAMPLE_N = 100_000  # inputs decided by the kernel when the index has no sampled record
OK = "ok"
NOFIT = "does not fit"


def exact_accuracy(path: str) -> Fraction | None:
    """correct / total for the model at ``path``: the zoo index's exact record, or the
    kernel's exact count; None when neither exists (more than 2^27 inputs)."""
    from checker import kernel, load_model

    model = load_model(path)
    rec = _index_record(model.sha256)
    if "exact_correct" in rec:
        return Fraction(int(rec["exact_correct"]), int(rec["total"]))
    if model.total > ENUMERATE_LIMIT:
        return None
    c, _, _, total = kernel.exact_accuracy(model)
    return Fraction(c, total)


def _index_record(sha256: str) -> dict[str, Any]:
    if INDEX.exists():
        for rec in json.loads(INDEX.read_text()):
            if rec.get("sha256") == sha256:
                return dict(rec)
    return {}


def reference_accuracy(path: str) -> dict[str, Any]:
    """The accuracy a model's bounds are normalised by, as CSV fields: ``accuracy`` ("p/q"),
    ``accuracy_source`` (``exact`` or ``sampled``), ``accuracy_lo`` / ``accuracy_hi`` (the
    95% Wilson interval of a sampled accuracy; equal to the accuracy when exact)."""
    from checker import load_model
    from generators.sampling import wilson95

    exact = exact_accuracy(path)
    if exact is not None:
        return {
            "accuracy": f"{exact.numerator}/{exact.denominator}",
            "accuracy_source": "exact",
            "accuracy_lo": float(exact),
            "accuracy_hi": float(exact),
        }
    model = load_model(path)
    rec = _index_record(model.sha256)
    if "rigorous_sample_correct" in rec and not rec.get("rigorous_sample_undecided"):
        c, n = int(rec["rigorous_sample_correct"]), int(rec["rigorous_sample_size"])
    else:
        from generators.sampling import decide_inputs

        x = np.random.default_rng(0).integers(0, model.v, size=(SAMPLE_N, model.k))
        c, _, _ = decide_inputs(model, x)
        n = SAMPLE_N
    lo, hi = wilson95(c, n)
    return {
        "accuracy": f"{c}/{n}",
        "accuracy_source": "sampled",
        "accuracy_lo": lo,
        "accuracy_hi": hi,
    }


# --------------------------------------------------------------------------- what fits


def predicted_work(model: Any, config: Any) -> list[tuple[str, int, int]]:
    """(rule, work of one step, steps) for the rules of ``config`` whose work depends on the
    model's shape only, by the formulas of each rule's ``work()`` (checker/rules/*.py):
    ``enumerate`` v^(k-1) k + v^3 k h per query; ``value`` and ``paired`` 2 v^3 k;
    ``cases`` v^2 k^2 (k + 3) per query; ``wrong-values`` 8 v^2 k; ``gap-cases``
    8 v (v + k^2) per query.  Rules whose work depends on hints (gaps) are left to the kernel."""
    v, k, h = int(model.v), int(model.k), int(model.h)
    fam = getattr(config, "family", "")
    out: list[tuple[str, int, int]] = []
    if fam == "brute-force":
        out.append(("enumerate", v ** (k - 1) * k + v**3 * k * h, v))
    elif fam == "cubic":
        if getattr(config, "values", "") == "paired":
            out.append(("paired", 2 * v**3 * k, v))
        else:
            out.append(("value", 2 * v**3 * k, 1))
        out.append(("cases", v * k * k * v * (k + 3), v))
    elif fam == "subcubic":
        out.append(("wrong-values", 8 * v * v * k, 1))
        out.append(("gap-cases", 8 * v * (v + k * k), v))
    return out


def _pow2(n: float) -> str:
    return f"2^{math.log2(n):.1f}" if n > 0 else "0"


def fit_reason(model: Any, config: Any) -> str:
    """Why ``config`` cannot be checked on ``model`` by the kernel (its per-step and total
    work limits), predicted from the shapes; "" when nothing predicts a misfit."""
    from checker.kernel import TOTAL_WORK_LIMIT, WORK_LIMIT

    total = 0
    for rule, work, steps in predicted_work(model, config):
        if work > WORK_LIMIT:
            return (
                f"{rule} needs {float(work):.3g} = {_pow2(work)} elements of work per step; the "
                f"kernel's per-step limit is 2^28 = {WORK_LIMIT:.3g}"
            )
        total += work * steps
    if total > TOTAL_WORK_LIMIT:
        return (
            f"needs {float(total):.3g} = {_pow2(total)} elements of work in all; the kernel's "
            f"limit is 2^35 = {TOTAL_WORK_LIMIT:.3g}"
        )
    return ""


# --------------------------------------------------------------------------- running

Task = tuple[str, str, str, dict[str, Any]]  # model path, strategy, certificate path, accuracy


MACHINE = f"{os.cpu_count()}-cpu {platform.machine()}, numpy {np.__version__}"


def _base_row(path: str, name: str, family: str, acc: dict[str, Any], model: Any) -> dict:
    return {
        "machine": MACHINE,
        "model": path,
        "strategy": name,
        "family": family,
        "group": Path(path).parent.name,
        "k": model.k,
        "v": model.v,
        **acc,
    }


def run_one(task: Task) -> dict[str, Any]:
    """Prove and check one (model, strategy); return its CSV row (``status`` ``ok``, or
    ``does not fit: ...`` / ``failed: ...`` with no bound)."""
    from checker import kernel, load_model
    from checker.errors import CheckError, Reason
    from generators.strategies import REGISTRY, UnsupportedModel

    path, name, out, acc = task
    model = load_model(path)
    config = REGISTRY[name]
    row = _base_row(path, name, config.family, acc, model)
    reason = fit_reason(model, config)
    if reason:
        return {**row, "status": f"{NOFIT}: {reason}"}
    t0 = time.perf_counter()
    try:
        proof = config.prove(model)
        prove_s = time.perf_counter() - t0
        proof.write(out, model.sha256)
        t0 = time.perf_counter()
        verdict = kernel.check(out, path)
    except UnsupportedModel as e:
        return {**row, "status": f"{NOFIT}: {e}"}
    except MemoryError:
        return {**row, "status": f"{NOFIT}: the prover ran out of memory"}
    except CheckError as e:
        if e.reason == Reason.UNSUPPORTED:
            return {**row, "status": f"{NOFIT}: kernel: {e.detail}"}
        return {**row, "status": f"failed: rejected ({e})"}
    except Exception as e:  # noqa: BLE001 - a row, not a crash, for one bad pair
        return {**row, "status": f"failed: {type(e).__name__}: {str(e)[:200]}"}
    check_s = time.perf_counter() - t0
    bound = Fraction(int(verdict.bound.p), int(verdict.bound.q))
    a = Fraction(acc["accuracy"]) if acc.get("accuracy") else Fraction(0)
    return {
        **row,
        "bound": float(bound),
        "bound_over_accuracy": float(bound / a) if a > 0 else "",
        "ops": verdict.ops,
        "certificate_bytes": verdict.certificate_bytes,
        "certificate_gzip_bytes": verdict.certificate_gzip_bytes,
        "check_seconds": round(check_s, 3),
        "prove_seconds": round(prove_s, 3),
        "residual": proof.notes.get("residual", ""),
        "attention": proof.notes.get("attention", ""),
        "status": OK,
    }


def _run_timed(task: Task) -> dict[str, Any]:
    """run_one under the worker's time limit (if any)."""
    if not _TASK_TIMEOUT:
        return run_one(task)
    import signal

    signal.alarm(_TASK_TIMEOUT)
    try:
        return run_one(task)
    except _TimedOut:
        from checker import load_model
        from generators.strategies import REGISTRY

        path, name, _, acc = task
        row = _base_row(path, name, REGISTRY[name].family, acc, load_model(path))
        return {**row, "status": f"timed out: prove + check took over {_TASK_TIMEOUT} s"}
    finally:
        signal.alarm(0)


def _run_and_drop(task: Task) -> dict[str, Any]:
    """_run_timed, then delete the certificate (bulk runs keep rows, not certificates)."""
    try:
        return _run_timed(task)
    finally:
        Path(task[2]).unlink(missing_ok=True)


THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


_TASK_TIMEOUT = 0  # seconds one (model, strategy) may take in a worker; 0: no limit


class _TimedOut(BaseException):  # not an Exception: run_one's catch-all must not take it
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _TimedOut


def _init_worker(mem_bytes: int | None, timeout: int = 0) -> None:
    """One BLAS thread per worker; an address-space limit so a prover too big for the machine
    raises MemoryError (a ``does not fit`` row) instead of taking the machine down; a time
    limit per task (SIGALRM: a ``timed out`` row)."""
    global _TASK_TIMEOUT
    for var in THREAD_VARS:
        os.environ[var] = "1"
    if mem_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    if timeout:
        import signal

        _TASK_TIMEOUT = int(timeout)
        signal.signal(signal.SIGALRM, _alarm)


def run_tasks(
    tasks: list[Task],
    jobs: int = 1,
    deadline: float | None = None,
    mem_bytes: int | None = None,
    keep_certs: bool = True,
    task_timeout: int = 0,
) -> Iterator[dict[str, Any]]:
    """Yield the row of each task as it finishes (in completion order).  With ``deadline``
    (a time.time() value), stop there: unfinished tasks are dropped and the workers ended.
    Without ``keep_certs`` each certificate is deleted once checked.  ``mem_bytes`` and
    ``task_timeout`` limit each worker (see :func:`_init_worker`)."""
    fn = _run_timed if keep_certs else _run_and_drop
    if jobs <= 1 and deadline is None and mem_bytes is None and not task_timeout:
        for task in tasks:
            yield fn(task)
        return
    import multiprocessing as mp

    for var in THREAD_VARS:  # inherited by the workers before they import numpy
        os.environ[var] = "1"
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    pool = mp.get_context(method).Pool(max(1, jobs), _init_worker, (mem_bytes, task_timeout))
    try:
        it = pool.imap_unordered(fn, tasks, chunksize=1)
        for _ in range(len(tasks)):
            if deadline is None:
                yield it.next()
                continue
            left = deadline - time.time()
            if left <= 0:
                return
            try:
                yield it.next(timeout=left)
            except mp.TimeoutError:
                return
    finally:
        pool.terminate()
        pool.join()


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
    accs = {m: reference_accuracy(m) for m in models}
    tasks = [
        (m, s, str(out / "certs" / f"{Path(m).parent.name}-{Path(m).stem}.{s}.cert"), accs[m])
        for m in models
        for s in strategies
    ]
    rows: list[dict[str, Any]] = []
    for row in run_tasks(tasks, jobs):
        rows.append(row)
        if progress:
            progress("frontier", 1, len(tasks))
    rows = sort_rows(rows, strategies)
    write_csv(rows, out / "frontier.csv")
    plot_frontier(rows, out / "frontier.png")
    plot_compounding(rows, out / "compounding.png")
    return rows


def sort_rows(rows: list[dict[str, Any]], strategies: list[str]) -> list[dict[str, Any]]:
    """Rows by model path, then in the order of ``strategies`` (deterministic CSVs)."""
    rank = {s: i for i, s in enumerate(strategies)}
    return sorted(rows, key=lambda r: (r["model"], rank.get(r["strategy"], len(rank))))


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


# --------------------------------------------------------------------------- summaries


def is_ok(row: dict[str, Any]) -> bool:
    """A row with a verified bound (rows of older CSVs have no ``status``: they are)."""
    return row.get("status", "") in ("", OK) and row.get("bound", "") != ""


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per strategy with at least one verified row: family, models, mean and std of
    bound/accuracy, mean ops, mean check and prove seconds (rows that did not fit are left
    out: see :func:`misfits`)."""
    good = [r for r in rows if is_ok(r)]
    out = []
    for name in dict.fromkeys(r["strategy"] for r in good):
        rs = [r for r in good if r["strategy"] == name]
        ratio = np.array([_y(r) for r in rs])
        out.append(
            {
                "strategy": name,
                "family": rs[0]["family"],
                "models": len(rs),
                "mean": float(ratio.mean()),
                "std": float(ratio.std(ddof=1)) if len(rs) > 1 else 0.0,
                "ops": float(np.mean([float(r["ops"]) for r in rs])),
                "check_seconds": float(np.mean([float(r["check_seconds"]) for r in rs])),
                "prove_seconds": float(np.mean([float(r["prove_seconds"]) for r in rs])),
                "residual": rs[0].get("residual", ""),
                "normalised": _source(rs),
            }
        )
    return out


def _source(rs: list[dict[str, Any]]) -> str:
    """'exact', 'sampled', 'none' (bound itself) or 'mixed' for a set of rows."""
    srcs = {r.get("accuracy_source") or ("exact" if r["bound_over_accuracy"] != "" else "none")
            for r in rs}  # fmt: skip
    return srcs.pop() if len(srcs) == 1 else "mixed"


def misfits(rows: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """{strategy: (first reason, number of rows)} for rows that did not fit or failed."""
    out: dict[str, tuple[str, int]] = {}
    for r in rows:
        if not is_ok(r):
            reason, n = out.get(r["strategy"], (r.get("status", ""), 0))
            out[r["strategy"]] = (reason, n + 1)
    return out


def _y(row: dict[str, Any]) -> float:
    """bound / accuracy where an accuracy is known, else the bound itself."""
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
SPARE = ["tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]


def family_colours(families: list[str]) -> dict[str, str]:
    """One colour per family: the fixed ones, then distinct spares for any new family."""
    spare = iter(SPARE * 3)
    return {f: COLOURS.get(f) or next(spare) for f in families}


def _ylabel(rows: list[dict[str, Any]]) -> str:
    src = _source([r for r in rows if is_ok(r)]) if any(is_ok(r) for r in rows) else "none"
    return {
        "exact": "certified bound / exact accuracy",
        "sampled": "certified bound / sampled accuracy (estimate)",
        "mixed": "certified bound / accuracy (exact or sampled)",
    }.get(src, "certified bound")


def _spread_labels(ys: list[float], gap: float) -> list[float]:
    """Label heights near ``ys`` (any order) at least ``gap`` apart, keeping their order."""
    order = sorted(range(len(ys)), key=lambda i: -ys[i])
    out = list(ys)
    last = math.inf
    for i in order:
        out[i] = min(ys[i], last - gap)
        last = out[i]
    return out


def plot_frontier(rows: list[dict[str, Any]], path: Path) -> None:
    """Two panels: every strategy (log proof length, one colour per family, each model a
    faint dot, strategy means with std bars, the Pareto front of the means as a step line,
    the paper's published points as numbered orange crosses, listed in a key), and a zoom on
    the subcubic/cubic region with the front's strategies named.  Strategies that do not fit
    are listed under the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = summary(rows)
    miss = misfits(rows)
    ks = sorted({int(r["k"]) for r in rows if r.get("k")})
    vs = sorted({int(r["v"]) for r in rows if r.get("v")})
    paper = PAPER if ks == [4] and vs in ([], [64]) else []
    fams = list(dict.fromkeys(r["family"] for r in rows if is_ok(r)))
    colour = family_colours(fams)
    front = pareto([(s["ops"], s["mean"]) for s in summ])
    fig, (ax, zx) = plt.subplots(1, 2, figsize=(15, 7.2), gridspec_kw={"width_ratios": [1.0, 1.15]})
    sub = [s for s in summ if s["family"] not in ("brute-force",)]
    zoom_x = (min((s["ops"] for s in sub), default=1e6) / 1.6,
              max((s["ops"] for s in sub), default=1e7) * 1.6)  # fmt: skip
    good = [s["mean"] for s in summ if s["mean"] > 0.5] or [0.5]
    zoom_y = (max(0.0, min(good) - 0.05), min(1.02, max(s["mean"] + s["std"] for s in summ) + 0.02)
              if summ else 1.02)  # fmt: skip
    for a in (ax, zx):
        for fam in fams:
            rs = [r for r in rows if is_ok(r) and r["family"] == fam]
            a.scatter([float(r["ops"]) for r in rs], [_y(r) for r in rs], s=7, alpha=0.2,
                      color=colour[fam], linewidths=0)  # fmt: skip
            ss = [s for s in summ if s["family"] == fam]
            a.errorbar([s["ops"] for s in ss], [s["mean"] for s in ss],
                       yerr=[s["std"] for s in ss], fmt="o", ms=6, color=colour[fam],
                       capsize=3, label=f"mechproof {fam} (mean ± std over models)")  # fmt: skip
        if front:
            xs = [x for x, _ in front] + [a.get_xlim()[1] if a is zx else front[-1][0] * 3]
            ys = [y for _, y in front] + [front[-1][1]]
            a.step(xs, ys, where="post", color="black", lw=1.2, zorder=1,
                   label="mechproof Pareto front (strategy means)")  # fmt: skip
        for i, (_, x, y) in enumerate(paper, 1):
            a.scatter([x], [y], marker="x", s=55, color="tab:orange", zorder=5,
                      label="paper's published points (float32, unsound mean+diff)"
                      if i == 1 else None)  # fmt: skip
            a.annotate(f"P{i}", (x, y), fontsize=8, color="tab:orange", xytext=(4, 3),
                       textcoords="offset points", fontweight="bold")  # fmt: skip
        a.set_xscale("log")
        a.grid(True, which="both", alpha=0.3)
        a.set_xlabel("proof length (kernel operations, log scale)")
    ax.set_ylabel(_ylabel(rows))
    ax.set_ylim(-0.02, 1.05)
    zx.set_xlim(*zoom_x)
    zx.set_ylim(*zoom_y)
    ax.add_patch(plt.Rectangle((zoom_x[0], zoom_y[0]), zoom_x[1] - zoom_x[0],
                               zoom_y[1] - zoom_y[0], fill=False, ls="--", lw=0.8,
                               color="gray"))  # fmt: skip
    ax.set_title("all strategies (dashed box: right panel)", fontsize=10)
    zx.set_title("zoom: the front's strategies named", fontsize=10)
    # name the front's strategies in the zoom, labels spread so they do not overlap
    named = [
        s
        for s in summ
        if (s["ops"], s["mean"]) in front
        and zoom_x[0] <= s["ops"] <= zoom_x[1]
        and zoom_y[0] <= s["mean"] <= zoom_y[1]
    ]
    span = zoom_y[1] - zoom_y[0]
    heights = _spread_labels([s["mean"] for s in named], 0.045 * span)
    mid = math.sqrt(zoom_x[0] * zoom_x[1])
    for s, hy in zip(named, heights, strict=True):
        right = s["ops"] > mid * 4  # near the right edge: label to the left of the point
        zx.annotate(
            f"{s['strategy']} ({s['mean']:.3f})", (s["ops"], s["mean"]), xytext=(s["ops"] *
            (1 / 1.08 if right else 1.08), hy - 0.02 * span), fontsize=7.5,
            ha="right" if right else "left", arrowprops={"arrowstyle": "-", "lw": 0.5,
            "color": "gray"},
        )  # fmt: skip
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=7.5)
    if paper:
        key = "\n".join(f"P{i}  {lab}: {y:.3f} at {x:.3g}" for i, (lab, x, y) in
                        enumerate(paper, 1))  # fmt: skip
        zx.text(0.99, 0.01, "paper (REFERENCE.md; their FLOP count, seed 50 / cubic over 151 "
                "seeds):\n" + key, transform=zx.transAxes, fontsize=6.5, ha="right",
                va="bottom", color="tab:orange", bbox={"fc": "white", "alpha": 0.85,
                "ec": "tab:orange"})  # fmt: skip
    kk = f"K = {', '.join(map(str, ks))}, v = {', '.join(map(str, vs))}, " if ks else ""
    title = f"Max-of-K frontier ({kk}{len({r['model'] for r in rows})} models)"
    if "sampled" in {r.get("accuracy_source") for r in rows}:
        title += " — normalised by a sampled accuracy (kernel-decided inputs, 95% Wilson CI)"
    if miss:
        title += "\n" + "; ".join(f"{n}: {why.split(':')[0]}" for n, (why, _) in miss.items())
    fig.suptitle(title, fontsize=10 if not miss else 8.5)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
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
    write_csv(rows, out / "frontier.csv")
    plot_frontier(rows, out / "frontier.png")
    plot_compounding(rows, out / "compounding.png")
    return rows


def table(rows: list[dict[str, Any]], paper: dict[str, str] | None = None) -> str:
    """The README table: per strategy, models, mean ± std of bound/accuracy, mean ops, mean
    check seconds (and the paper's number where ``paper`` names one); then the strategies
    that did not fit, with the reason."""
    paper = paper or {}
    head = "| strategy | family | models | bound / accuracy (mean ± std) | mean ops | check s |"
    rule = "|---|---|---:|---|---:|---:|"
    if paper:
        head, rule = head + " paper |", rule + "---|"
    lines = [head, rule]
    for s in sorted(summary(rows), key=lambda s: -s["mean"]):
        line = (
            f"| `{s['strategy']}` | {s['family']} | {s['models']} | "
            f"{s['mean']:.4f} ± {s['std']:.4f} | {s['ops']:.3g} | {s['check_seconds']:.2f} |"
        )
        lines.append(line + (f" {paper.get(s['strategy'], '')} |" if paper else ""))
    for name, (why, n) in misfits(rows).items():
        fam = next(r["family"] for r in rows if r["strategy"] == name)
        cells = f"| `{name}` | {fam} | {n} | {why} | — | — |"
        lines.append(cells + (f" {paper.get(name, '')} |" if paper else ""))
    return "\n".join(lines)


if __name__ == "__main__":  # python -m generators.frontier OUT CSV... (merge runs, replot)
    import sys

    merged = replot([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]))
    print(table(merged))
