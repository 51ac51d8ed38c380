"""``python -m bench.parallel``: sharded `accuracy` and `check` with ``--jobs 1`` and ``--jobs N``.

Each figure is the wall clock of the whole ``mechproof`` command as a user runs it (process
start, imports, worker start-up and the merge included), best of ``--repeat`` runs, and the
peak memory of the command's whole process tree: the sum of the resident set sizes of the
command and all its descendants, sampled every 50 ms (shared library pages are counted once
per process, so this over-estimates the true total).  Throughput is inputs per second per
job: v^k / (seconds x jobs).  Results: ``bench/results/parallel.json`` and ``parallel.md``.
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


def _tree_rss_kb(root: int) -> int:
    """Sum of VmRSS (KiB) over ``root`` and its descendants, from /proc (Linux)."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        parent[pid] = int(fields.get("PPid", "0").strip())
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier += kids
    return sum(rss.get(p, 0) for p in tree)


def measure(args: list[str]) -> dict[str, Any]:
    """Run ``mechproof ARGS``; return its JSON output, wall seconds and tree peak MB."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*MECHPROOF, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"mechproof {' '.join(args)} failed:\n{err[-2000:]}")
    res = dict(json.loads(out.strip().splitlines()[-1]))
    return {"wall_seconds": wall, "peak_tree_mb": peak[0] / 1024.0, "out": res}


def best(repeat: int, args: list[str]) -> dict[str, Any]:
    runs = [measure(args) for _ in range(repeat)]
    out = min(runs, key=lambda r: r["wall_seconds"])
    out["all_seconds"] = [round(r["wall_seconds"], 2) for r in runs]
    out["peak_tree_mb"] = max(r["peak_tree_mb"] for r in runs)
    print(
        f"  mechproof {' '.join(a for a in args if '/' not in a):40s} "
        f"{out['wall_seconds']:7.2f} s (runs {out['all_seconds']})  "
        f"peak {out['peak_tree_mb']:.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return out


def run_group(model: str, jobs: int, repeat: int, tmp: str) -> dict[str, Any]:
    """accuracy and brute-force check of ``model`` with --jobs 1 and --jobs ``jobs``."""
    cert = str(Path(tmp) / (Path(model).stem + ".cert"))
    subprocess.run(
        [
            *MECHPROOF,
            "prove",
            model,
            "--strategy",
            "brute-force",
            "--out",
            cert,
            "--json",
            "--jobs",
            str(jobs),
        ],
        check=True,
        capture_output=True,
    )
    g: dict[str, Any] = {"model": model}
    for task, base in (
        ("accuracy", ["accuracy", model, "--json"]),
        ("check", ["check", cert, "--model", model, "--json"]),
    ):
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
            "peak_tree_mb_1": one["peak_tree_mb"],
            f"peak_tree_mb_{jobs}": many["peak_tree_mb"],
            "same_result": same,
            "result": many["out"].get("accuracy") or many["out"].get("bound"),
        }
    return g


def render(r: dict[str, Any]) -> str:
    j = r["jobs"]
    lines = [
        f"Sharded `mechproof accuracy` / `check` (brute-force certificate), `--jobs 1` vs "
        f"`--jobs {j}`; wall clock of the whole command, best of {r['repeat']}; peak = "
        f"resident memory summed over the command's process tree; {r['cpus']} cpus.",
        "",
        f"| model | task | inputs | s, 1 job | s, {j} jobs | speed-up | inputs/s/core, 1 job "
        f"| inputs/s/core, {j} jobs | peak MB, 1 job | peak MB, {j} jobs | same result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for g in r["groups"]:
        for task in ("accuracy", "check"):
            t = g[task]
            lines.append(
                f"| {g['model']} | {task} | {t['total']:.3e} | {t['seconds_1']:.2f} "
                f"| {t[f'seconds_{j}']:.2f} | {t['speedup']:.2f}x "
                f"| {t['inputs_per_s_per_core_1']:.3e} | {t[f'inputs_per_s_per_core_{j}']:.3e} "
                f"| {t['peak_tree_mb_1']:.0f} | {t[f'peak_tree_mb_{j}']:.0f} | {t['same_result']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.parallel", description=__doc__)
    ap.add_argument("--models", default="zoo/k4/seed000.safetensors,zoo/k5/seed000.safetensors")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="runs per K=4 figure (K>4: one)")
    a = ap.parse_args(argv)
    r: dict[str, Any] = {"jobs": a.jobs, "repeat": a.repeat, "cpus": os.cpu_count(), "groups": []}
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models.split(","):
            print(f"bench.parallel: {model}", file=sys.stderr, flush=True)
            k5 = "/k4/" not in model
            r["groups"].append(run_group(model, a.jobs, 1 if k5 else a.repeat, tmp))
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "parallel.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
            (RESULTS / "parallel.md").write_text(render(r))
    print(render(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
