"""``python -m bench.compare_v1``: the version-2 trace kernel against the version-1 kernel.

For each chosen zoo model and strategy, both kernels prove and check their own certificate
in the same run: the v1 code is checked out from git (``--baseline``, default the last
version-1 commit) into a temporary worktree and run in its own processes, alternating with
the current code, best of ``--repeat`` check times each.  Writes
``bench/results/compare_v1.csv`` and ``compare_v1.md``: per strategy the verified bounds
(v2 - v1, which must be >= 0), the check-time ratio v2 / v1 and the gzip-size ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
BASELINE = "ce3e73f"  # the last commit with format version 1
STRATEGIES = (
    "brute-force",
    "cubic",
    "cubic-positional",
    "cubic-paired",
    "cubic-positional-split",
    "cubic-paired-split",
)

_CHILD = r"""
import json, sys, time
root, model, strategy, cert, repeat = sys.argv[1:6]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, root)
from checker.kernel import check
from checker.model import load_model
from generators.strategies import STRATEGIES
m = load_model(model)
t = time.perf_counter()
STRATEGIES()[strategy][0](m, None).write(cert, m.sha256)
prove = time.perf_counter() - t
best = None
for _ in range(int(repeat)):
    t = time.perf_counter()
    v = check(cert, model)
    s = time.perf_counter() - t
    best = s if best is None else min(best, s)
out = v.to_json()
print(json.dumps({"bound": out["bound"], "ops": out["ops"], "check_s": best, "prove_s": prove,
                  "gzip": out["certificate_gzip_bytes"], "bytes": out["certificate_bytes"]}))
"""


def _run(root: Path, model: str, strategy: str, repeat: int) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        args = [sys.executable, "-c", _CHILD, str(root), model, strategy, f"{tmp}/c", str(repeat)]
        out = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--models", default="zoo/k4/seed0[0-9]0.safetensors")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    models = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(a.models))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "v1"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old), a.baseline],
            check=True,
        )
        try:
            for i, model in enumerate(models):
                for s in a.strategies.split(","):
                    o = _run(old, str(ROOT / model), s, a.repeat)
                    n = _run(ROOT, str(ROOT / model), s, a.repeat)
                    rows.append(
                        {
                            "model": model,
                            "strategy": s,
                            **{f"v1_{k}": v for k, v in o.items()},
                            **{f"v2_{k}": v for k, v in n.items()},
                        }
                    )
                print(f"[{i + 1}/{len(models)}] {model}", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)])
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "compare_v1.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    from fractions import Fraction

    lines = [
        f"v2 (trace kernel) against v1 (baseline {a.baseline}) on {len(models)} models, "
        f"check time best of {a.repeat}, both in the same run.",
        "",
        "| strategy | models | bound v2 - v1 (min / max) | check s v1 / v2 (mean) "
        "| check v2/v1 (mean, max) | gzip v2/v1 (max) | ops v2 (mean) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in a.strategies.split(","):
        rs = [r for r in rows if r["strategy"] == s]
        d = [float(Fraction(r["v2_bound"]) - Fraction(r["v1_bound"])) for r in rs]
        t = [r["v2_check_s"] / r["v1_check_s"] for r in rs]
        g = [r["v2_gzip"] / r["v1_gzip"] for r in rs]
        lines.append(
            f"| {s} | {len(rs)} | {min(d):.3g} / {max(d):.3g} | "
            f"{statistics.mean(r['v1_check_s'] for r in rs):.3f} / "
            f"{statistics.mean(r['v2_check_s'] for r in rs):.3f} | "
            f"{statistics.mean(t):.2f}, {max(t):.2f} | {max(g):.2f} | "
            f"{statistics.mean(r['v2_ops'] for r in rs):.3e} |"
        )
    (RESULTS / "compare_v1.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
