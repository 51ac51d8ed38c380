"""``python -m bench.parallel``: sharded `accuracy` and `check` with ``--jobs 1`` and ``--jobs N``.

Each figure is the wall clock of the whole ``mechproof`` command as a user runs it (process
start, imports, worker start-up and the merge included), best of ``--repeat`` runs, and the
peak memory of the command's whole process tree: the sum of the resident set sizes of the
command and all its descendants, sampled every 50 ms (shared library pages are counted once
per process, so this over-estimates the true total), and its CPU seconds (user + system,
summed over the tree from the same samples, so up to 50 ms per process is missed).
Throughput is inputs per CPU second (v^k / CPU seconds: the per-core rate, robust to other
processes on the machine) and inputs per wall second per job.  The 1-minute load average
before and after each run is recorded: on a shared machine other processes take cores too.
Results:
``bench/results/parallel.json`` and ``parallel.md`` (``--out`` changes the stem).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
MECHPROOF = (sys.executable, "-m", "generators.cli")


TICKS = os.sysconf("SC_CLK_TCK")


def _tree(root: int) -> dict[int, tuple[int, int]]:
    """{pid: (VmRSS KiB, utime + stime ticks)} for ``root`` and its descendants (/proc)."""
    parent: dict[int, int] = {}
    info: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/status") as fh:
                rss = [line for line in fh if line.startswith("VmRSS:")]
        except OSError:
            continue
        pid = int(entry)
        parent[pid] = int(fields[1])
        kb = int(rss[0].split()[1]) if rss else 0
        info[pid] = (kb, int(fields[11]) + int(fields[12]))
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier += kids
    return {p: info[p] for p in tree if p in info}


def _loadavg() -> float:
    try:
        with open("/proc/loadavg") as fh:
            return float(fh.read().split()[0])
    except OSError:
        return float("nan")


def measure(args: list[str]) -> dict[str, Any]:
    """Run ``mechproof ARGS``; return its JSON output, wall seconds, tree peak MB and the
    1-minute load average just before and after (other processes share the cores)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    load_before = _loadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*MECHPROOF, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak = [0]
    ticks: dict[int, int] = {}  # last CPU ticks seen per process of the tree

    def poll() -> None:
        while proc.poll() is None:
            tree = _tree(proc.pid)
            peak[0] = max(peak[0], sum(kb for kb, _ in tree.values()))
            for pid, (_, t) in tree.items():
                ticks[pid] = max(ticks.get(pid, 0), t)
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"mechproof {' '.join(args)} failed:\n{err[-2000:]}")
    res = dict(json.loads(out.strip().splitlines()[-1]))
    return {
        "wall_seconds": wall,
        "peak_tree_mb": peak[0] / 1024.0,
        "cpu_seconds": sum(ticks.values()) / TICKS,
        "out": res,
        "load": [load_before, _loadavg()],
    }


def best(repeat: int, args: list[str]) -> dict[str, Any]:
    runs = [measure(args) for _ in range(repeat)]
    out = min(runs, key=lambda r: r["wall_seconds"])
    out["all_seconds"] = [round(r["wall_seconds"], 2) for r in runs]
    out["peak_tree_mb"] = max(r["peak_tree_mb"] for r in runs)
    print(
        f"  mechproof {' '.join(a for a in args if '/' not in a):40s} "
        f"{out['wall_seconds']:7.2f} s (runs {out['all_seconds']}) cpu {out['cpu_seconds']:.1f} s "
        f"peak {out['peak_tree_mb']:.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return out


def run_group(model: str, jobs: int, repeat: int, tmp: str, tasks: list[str]) -> dict[str, Any]:
    """``tasks`` (accuracy; check of a brute-force certificate) of ``model`` with --jobs 1
    and --jobs ``jobs``."""
    cert = str(Path(tmp) / (Path(model).stem + ".cert"))
    if "check" in tasks:
        prove = ["prove", model, "--strategy", "brute-force", "--out", cert, "--jobs", str(jobs)]
        subprocess.run([*MECHPROOF, *prove], check=True, capture_output=True)
    g: dict[str, Any] = {"model": model}
    for task, base in (
        ("accuracy", ["accuracy", model, "--json"]),
        ("check", ["check", cert, "--model", model, "--json"]),
    ):
        if task not in tasks:
            continue
        one = best(repeat, [*base, "--jobs", "1"])
        many = best(repeat, [*base, "--jobs", str(jobs)])
        total = int(one["out"]["total"])
        if task == "accuracy":
            same = {k: one["out"][k] for k in ("correct", "incorrect", "undecided")} == {
                k: many["out"][k] for k in ("correct", "incorrect", "undecided")
            }
        else:
            same = (one["out"]["proven"], one["out"]["ops"]) == (
                many["out"]["proven"],
                many["out"]["ops"],
            )
        g[task] = {
            "total": total,
            "seconds_1": one["wall_seconds"],
            f"seconds_{jobs}": many["wall_seconds"],
            "speedup": one["wall_seconds"] / many["wall_seconds"],
            "inputs_per_s_per_core_1": total / one["wall_seconds"],
            f"inputs_per_s_per_core_{jobs}": total / (many["wall_seconds"] * jobs),
            "cpu_seconds_1": one["cpu_seconds"],
            f"cpu_seconds_{jobs}": many["cpu_seconds"],
            "inputs_per_cpu_s_1": total / one["cpu_seconds"],
            f"inputs_per_cpu_s_{jobs}": total / many["cpu_seconds"],
            "peak_tree_mb_1": one["peak_tree_mb"],
            f"peak_tree_mb_{jobs}": many["peak_tree_mb"],
            "same_result": same,
            "load_1": one["load"],
            f"load_{jobs}": many["load"],
            "result": many["out"].get("accuracy") or many["out"].get("bound"),
        }
    return g


def render(r: dict[str, Any]) -> str:
    j = r["jobs"]
    lines = [
        f"Sharded `mechproof accuracy` / `check` (brute-force certificate), `--jobs 1` vs "
        f"`--jobs {j}`; wall clock of the whole command, best of {r['repeat']} (K > 4: one "
        f"run); peak = "
        f"resident memory summed over the command's process tree; {r['cpus']} cpus.",
        "",
        f"| model | task | inputs | s, 1 job | s, {j} jobs | speed-up | CPU s, 1 job "
        f"| CPU s, {j} jobs | inputs per CPU s, 1 job | inputs per CPU s, {j} jobs "
        f"| peak MB, 1 job | peak MB, {j} jobs | same result | load avg (1 job; {j} jobs) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for g in r["groups"]:
        for task in ("accuracy", "check"):
            if task not in g:
                continue
            t = g[task]
            lines.append(
                f"| {g['model']} | {task} | {t['total']:.3e} | {t['seconds_1']:.2f} "
                f"| {t[f'seconds_{j}']:.2f} | {t['speedup']:.2f}x "
                f"| {t['cpu_seconds_1']:.1f} | {t[f'cpu_seconds_{j}']:.1f} "
                f"| {t['inputs_per_cpu_s_1']:.3e} | {t[f'inputs_per_cpu_s_{j}']:.3e} "
                f"| {t['peak_tree_mb_1']:.0f} | {t[f'peak_tree_mb_{j}']:.0f} | {t['same_result']} "
                f"| {t['load_1'][0]:.1f}-{t['load_1'][1]:.1f}; "
                f"{t[f'load_{j}'][0]:.1f}-{t[f'load_{j}'][1]:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.parallel", description=__doc__)
    ap.add_argument("--models", default="zoo/k4/seed000.safetensors,zoo/k5/seed000.safetensors")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="runs per K=4 figure (K>4: one)")
    ap.add_argument("--tasks", default="accuracy,check", help="accuracy and/or check")
    ap.add_argument("--out", default="parallel", help="results file stem under bench/results")
    a = ap.parse_args(argv)
    r: dict[str, Any] = {"jobs": a.jobs, "repeat": a.repeat, "cpus": os.cpu_count(), "groups": []}
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models.split(","):
            print(f"bench.parallel: {model}", file=sys.stderr, flush=True)
            k5 = "/k4/" not in model
            g = run_group(model, a.jobs, 1 if k5 else a.repeat, tmp, a.tasks.split(","))
            r["groups"].append(g)
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / f"{a.out}.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
            (RESULTS / f"{a.out}.md").write_text(render(r))
    print(render(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
