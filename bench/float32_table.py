"""``python -m bench.float32_table``: real vs float32 theorems on the zoo, and reality.

Three phases, each writing JSON lines keyed by model path (so they can run on different
machines and be merged):

* ``proofs``: per model, the kernel's brute-force count under ``real`` (from zoo/index.json,
  itself the kernel's) and under ``float32:U`` (the kernel's own brute-force trace replayed,
  ``kernel.exact_accuracy``), and the best cubic strategy proved and *checked* under both.
* ``forward``: the float32 forward pass (generators.float32_forward: numpy, and torch where
  installed) over every input; needs only numpy and safetensors.
* ``table``: merges them into bench/results/float32/TABLE.md and asserts the differential:
  proven float32 count <= every float32 forward pass's count, on every model.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "float32"
CUBIC = "cubic-paired-split"  # the best cubic-family strategy on the zoo (README)


def _proofs_one(args: tuple[str, str]) -> dict:
    path, sem = args
    from checker import float32, kernel, load_model
    from generators.strategies import REGISTRY

    model = load_model(path)
    row: dict = {"model": path, "semantics": sem, "total": model.total}
    t0 = time.perf_counter()
    row["float32_brute"] = kernel.exact_accuracy(float32.bind(model, sem))[0]
    row["float32_brute_seconds"] = round(time.perf_counter() - t0, 2)
    for name, s in (("real", "real"), ("float32", sem)):
        m = float32.bind(model, s)
        proof = REGISTRY[CUBIC].prove(m)
        with tempfile.TemporaryDirectory() as tmp:
            cert = Path(tmp) / "c.cert"
            proof.write(cert, model.sha256)
            verdict = kernel.check(cert, path)
        assert verdict.semantics == s
        row[f"{name}_cubic"] = verdict.proven
    return row


def _forward_one(args: tuple[str, str]) -> dict:
    from generators import float32_forward as F

    path, impl = args
    model = F.load(path)
    row: dict = {"model": path}
    for name, fn in F.available().items():
        if impl not in ("all", name):
            continue
        t0 = time.perf_counter()
        kw = {"device": "cuda"} if name == "torch" and _cuda() else {}
        row[f"{name}_correct"], row["total"] = fn(model, **kw)
        row[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
    return row


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def _models(pattern: str) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(pattern))


def _run(fn, items, jobs: int, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f, mp.get_context("spawn").Pool(jobs) as pool:
        rows = map(fn, items) if jobs == 1 else pool.imap_unordered(fn, items)
        for n, row in enumerate(rows, 1):
            f.write(json.dumps(row) + "\n")
            f.flush()
            print(f"\r{n}/{len(items)} {row['model']}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def _read(path: Path) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            rows[r["model"]] = r
    return rows


def table(out: Path) -> str:
    """The markdown table (and a summary) from proofs.jsonl, forward.jsonl and the index."""
    index = {"zoo/" + r["path"]: r for r in json.loads((ROOT / "zoo/index.json").read_text())}
    proofs, fwd = _read(out / "proofs.jsonl"), {}
    for part in sorted(out.glob("forward-*.jsonl")):
        for key, row in _read(part).items():
            fwd.setdefault(key, {}).update(row)
    lines = [
        "| model | real brute | float32 brute | loss | float32 forward (numpy) | "
        f"{CUBIC} real | float32 | loss |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    losses, closs, bad = [], [], []
    for path in sorted(proofs):
        p, f, ix = proofs[path], fwd.get(path, {}), index[path]
        n = p["total"]
        real = ix["exact_correct"]
        loss, cl = (real - p["float32_brute"]) / n, (p["real_cubic"] - p["float32_cubic"]) / n
        losses.append(loss)
        closs.append(cl)
        for key in ("numpy_correct", "torch_correct"):
            if key in f and p["float32_brute"] > f[key]:
                bad.append((path, key))
        fw = f"{f['numpy_correct'] / n:.6f}" if "numpy_correct" in f else "—"
        lines.append(
            f"| {Path(path).stem} | {real / n:.6f} | {p['float32_brute'] / n:.6f} | {loss:.2e} "
            f"| {fw} | {p['real_cubic'] / n:.6f} | {p['float32_cubic'] / n:.6f} | {cl:.2e} |"
        )
    sem = next(iter(proofs.values()))["semantics"] if proofs else "?"
    summary = [
        f"Semantics {sem}; {len(proofs)} models; forward passes on {len(fwd)} models.",
        f"Brute force: float32 loses at most {max(losses, default=0):.2e} of bound "
        f"(mean {sum(losses) / max(len(losses), 1):.2e}); models within 1e-4: "
        f"{sum(x <= 1e-4 for x in losses)}/{len(losses)}.",
        f"{CUBIC}: float32 loses at most {max(closs, default=0):.2e} (mean "
        f"{sum(closs) / max(len(closs), 1):.2e}); models under 1e-3: "
        f"{sum(x < 1e-3 for x in closs)}/{len(closs)}.",
        f"Differential: proven float32 count > a float32 forward pass's count on {len(bad)} "
        "models (must be 0).",
    ]
    return "\n".join(["\n".join(summary), "", *lines]), bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("phase", choices=["proofs", "forward", "table"])
    ap.add_argument("--models", default="zoo/k4/seed*.safetensors")
    ap.add_argument("--semantics", default="float32:4")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--impl", choices=["all", "numpy", "torch"], default="all")
    a = ap.parse_args()
    if a.phase == "proofs":
        done = _read(a.out / "proofs.jsonl")
        todo = [(m, a.semantics) for m in _models(a.models) if m not in done]
        _run(_proofs_one, todo, a.jobs, a.out / "proofs.jsonl")
    elif a.phase == "forward":
        out = a.out / f"forward-{a.impl}.jsonl"
        done = _read(out)
        todo = [(m, a.impl) for m in _models(a.models) if m not in done]
        _run(_forward_one, todo, a.jobs, out)
    else:
        text, bad = table(a.out)
        (a.out / "TABLE.md").write_text(text + "\n")
        print(text.split("\n\n")[0])
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
