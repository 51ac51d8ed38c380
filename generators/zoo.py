"""Train the model zoo and write its index: ``python -m generators.zoo --out zoo [--jobs 2]``.

Groups (d_model = d_head = 32, one head, the paper's recipe, stored float32):

* ``k4``:      K = 4,  v = 64,  seeds 0..150 (the paper's 151 seeds)
* ``k5``:      K = 5,  v = 64,  seeds 0..4
* ``k10``:     K = 10, v = 64,  seeds 0..2
* ``k10v128``: K = 10, v = 128, seeds 0..2 (the paper's larger configurations)
* ``k20v512``: K = 20, v = 512, seeds 0..2

The larger configurations keep the K = 4 recipe unchanged (AdamW lr 1e-3, batch 128, 3,000
steps): the paper's code trains them with ``MAX_OF_10_CONFIG(seed, d_vocab_out=128)`` and
``MAX_OF_20_CONFIG(seed, d_vocab_out=512)``, which are ``MAX_OF_4_CONFIG`` with only the
sequence length and vocabulary changed (an earlier Max-of-10 config there trained 50,000 steps
with Adam; it was replaced).  Measured here (one core, numpy): 5 s per K=10/v=128 seed and
11 s per K=20/v=512 seed, float64 sampled accuracy about 0.998 and 0.990 (docs/scale.md).
``make zoo-large`` (re)builds only these two groups.

Files are ``OUT/<group>/seed<NNN>.safetensors``; ``OUT/index.json`` lists one record per file
(paths relative to OUT).  Each record carries a float64 (non-rigorous) accuracy of the stored
float32 weights: exhaustive over all v^k inputs when v^k <= 2^24, otherwise sampled with a 95%
Wilson interval.  :func:`add_exact_accuracy` then adds the kernel's rigorous accuracy (exact
for K=4, a rigorous decision of the first 100,000 sampled inputs otherwise); comparing the two
is the check that the float64 evaluation and the rigorous one agree.

Reproducibility: BLAS and OpenMP are pinned to one thread (set here, before numpy loads, and
inherited by the spawned workers), so regenerating gives bit-for-bit identical files on the
same machine.  Different CPUs may round BLAS products differently.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from generators.model import F64, Params, forward, load_params, save_model  # noqa: E402
from generators.sampling import wilson95  # noqa: E402
from generators.train import Recipe, train  # noqa: E402

Record = dict[str, Any]

EXHAUSTIVE_LIMIT = 1 << 24  # v^k up to this: evaluate every input
SAMPLE_SIZE = 1_000_000
RIGOROUS_SAMPLE = 100_000  # inputs decided by the kernel for sampled groups
WILSON_Z = 1.959963984540054  # two-sided 95%


@dataclass(frozen=True)
class Job:
    group: str
    seed: int
    recipe: Recipe

    @property
    def relpath(self) -> str:
        return f"{self.group}/seed{self.seed:03d}.safetensors"


def zoo_jobs() -> list[Job]:
    """Every model of the zoo, in index order."""
    jobs = [Job("k4", s, Recipe(k=4)) for s in range(151)]
    jobs += [Job("k5", s, Recipe(k=5)) for s in range(5)]
    jobs += [Job("k10", s, Recipe(k=10)) for s in range(3)]
    jobs += [Job("k10v128", s, Recipe(k=10, v=128)) for s in range(3)]
    jobs += [Job("k20v512", s, Recipe(k=20, v=512)) for s in range(3)]
    return jobs


GROUPS = list(dict.fromkeys(j.group for j in zoo_jobs()))


# --------------------------------------------------------------------------- evaluation


def _margin_tables(p: Params, q: int) -> tuple[F64, F64, F64]:
    """For query token q at position k-1: per-head exps E [h, k, v] of the attention scores
    (shifted, which cancels in the softmax), value-to-logit rows W [h, k, v, v]
    (row (p, t) = what token t at position p contributes to the logits when fully attended),
    and the direct path D [v] (the last residual and the biases b_O, b_U)."""
    h, d, e = p.W_Q.shape
    resid = p.W_E[None, :, :] + p.W_pos[:, None, :]  # [k, v, d]
    last = resid[-1, q]  # [d]
    qv = np.einsum("d,hde->he", last, p.W_Q) + p.b_Q  # [h, e]
    keys = np.einsum("ptd,hde->hpte", resid, p.W_K) + p.b_K[:, None, None, :]
    sc = np.einsum("he,hpte->hpt", qv, keys) / math.sqrt(e)  # [h, k, v]
    # Shift by the query position's own score: it is in every input, so Z >= 1, and no exp
    # overflows or underflows to 0 as long as the scores span less than ~700.
    span = float((sc.max(axis=(1, 2)) - sc.min(axis=(1, 2))).max())
    if span > 700.0:
        raise ValueError(f"attention scores for query {q} span {span:.0f} > 700")
    E = np.exp(sc - sc[:, -1:, q : q + 1])
    vals = np.einsum("ptd,hde->hpte", resid, p.W_V) + p.b_V[:, None, None, :]
    W = np.einsum("hpte,hed,dy->hpty", vals, p.W_O, p.W_U)  # [h, k, v, v]
    D = (last + p.b_O) @ p.W_U + p.b_U
    return E, W, D


def exhaustive_correct(params: Params, block_elems: int = 1 << 20) -> int:
    """Number of x in {0..v-1}^k with logit[max x] > logit[y] for all y != max x, in float64.

    Not rigorous (float64 rounding, reassociated relative to :func:`forward`); exact ties count
    as wrong.  Cost O(v^(k+1) h) with small constants.  For each query token q (position k-1)
    the grid over positions 0..k-2 is built in blocks: the last two grid positions by
    broadcasting, the earlier ones ("outer") by gathering one block of their digits.  With one
    head the softmax denominator Z > 0 is multiplied out: x is correct iff
    sum_p E_p[x_p] (W_p[x_p] + D) is largest at max(x).  Raises ValueError if the attention
    scores of one query span more than 700 (the shifted exps would overflow).
    """
    p = params
    v, k, h = p.v, p.k, p.h
    inner = min(2, k - 1)  # grid positions handled by broadcasting
    n_outer = k - 1 - inner  # grid positions enumerated in blocks
    outer_total = v**n_outer
    block = max(1, min(outer_total, block_elems // (v ** (inner + 1))))
    correct = 0
    for q in range(v):
        E, W, D = _margin_tables(p, q)
        if h == 1:
            terms = [E[0, pos, :, None] * (W[0, pos] + D) for pos in range(k)]  # [v, v] each
        else:
            nums = [[E[j, pos, :, None] * W[j, pos] for pos in range(k)] for j in range(h)]
            zs = [[E[j, pos, :, None] for pos in range(k)] for j in range(h)]
        for start in range(0, outer_total, block):
            idx = np.arange(start, min(start + block, outer_total))
            digits = [(idx // v ** (n_outer - 1 - i)) % v for i in range(n_outer)]
            b = len(idx)
            if h == 1:
                logits = _grid_sum(terms, digits, b, terms[k - 1][q])
            else:
                logits = D
                for num, z in zip(nums, zs, strict=True):
                    logits = logits + _grid_sum(num, digits, b, num[k - 1][q]) / _grid_sum(
                        z, digits, b, z[k - 1][q]
                    )
            labels = np.full(len(idx), q)
            for dgt in digits:
                labels = np.maximum(labels, dgt)
            for i in range(inner):
                labels = np.maximum(labels[..., None], np.arange(v).reshape((1,) * (i + 1) + (v,)))
            flat = logits.reshape(-1, v)
            lab = labels.reshape(-1, 1)
            top = np.take_along_axis(flat, lab, axis=1)[:, 0]
            np.put_along_axis(flat, lab, -np.inf, axis=1)
            correct += int(np.count_nonzero(top > flat.max(axis=1)))
    return correct


def _grid_sum(terms: list[F64], digits: list[np.ndarray], b: int, const: F64) -> F64:
    """const + sum over grid positions p of terms[p][x_p], as an array [b, v, .., v, w].

    terms[p] is [v, w] for p = 0..k-1 (the last, the query's, is ignored: it is in const).
    The first len(digits) positions take the block's digits ([b] each); the remaining grid
    positions up to k-2 each add one broadcast axis of all v tokens.
    """
    k = len(terms)
    w = terms[0].shape[-1]
    acc = np.broadcast_to(const, (b, w)).copy()
    for i, dgt in enumerate(digits):
        acc += terms[i][dgt]
    for n_axes, pos in enumerate(range(len(digits), k - 1)):
        v = terms[pos].shape[0]
        acc = acc[..., None, :] + terms[pos].reshape((1,) * (n_axes + 1) + (v, w))
    return acc


def sampled_correct(params: Params, n: int, rng: np.random.Generator, chunk: int = 20_000) -> int:
    """Correct count (as :func:`exhaustive_correct`) on n uniform random inputs, float64."""
    correct = 0
    for start in range(0, n, chunk):
        x = rng.integers(0, params.v, size=(min(chunk, n - start), params.k))
        logits = forward(params, x)
        rows = np.arange(len(x))
        lab = x.max(axis=1)
        top = logits[rows, lab]
        logits[rows, lab] = -np.inf
        correct += int(np.count_nonzero(top > logits.max(axis=1)))
    return correct


# --------------------------------------------------------------------------- building


def sample_rng(seed: int) -> np.random.Generator:
    """The generator of the sampled-accuracy inputs for the model trained with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))


def float64_accuracy(params: Params, seed: int) -> Record:
    """Index fields for the float64 accuracy: exhaustive if v^k <= 2^24, else sampled."""
    total = params.v**params.k
    if total <= EXHAUSTIVE_LIMIT:
        c = exhaustive_correct(params)
        return {
            "float64_eval": "exhaustive",
            "float64_correct": c,
            "total": total,
            "float64_accuracy": f"{c}/{total}",
            "float64_accuracy_float": c / total,
        }
    c = sampled_correct(params, SAMPLE_SIZE, sample_rng(seed))
    lo, hi = wilson95(c, SAMPLE_SIZE)
    return {
        "float64_eval": "sampled",
        "total": total,
        "sample_size": SAMPLE_SIZE,
        "sample_correct": c,
        "sample_rng": f"SeedSequence({seed}, spawn_key=(2,))",
        "float64_sampled_accuracy": c / SAMPLE_SIZE,
        "float64_wilson95": [lo, hi],
    }


def build_one(job: Job, out: Path, force: bool) -> tuple[Record, float | None, float]:
    """Train (unless the file exists and not ``force``), save, reload through the kernel's
    reader, evaluate.  Returns (index record, training seconds or None, evaluation seconds)."""
    path = out / job.relpath
    train_s = None
    if force or not path.exists():
        t0 = time.perf_counter()
        params, loss = train(job.recipe, job.seed, quiet=True)
        train_s = time.perf_counter() - t0
        meta = {"seed": str(job.seed), "recipe": job.recipe.to_json(), "final_loss": repr(loss)}
        save_model(path, params, meta, dtype="float32")
    t0 = time.perf_counter()
    stored = load_params(path)  # the float32 weights as the kernel reads them
    raw = path.read_bytes()
    rec: Record = {
        "path": job.relpath,
        "group": job.group,
        "k": stored.k,
        "v": stored.v,
        "d_model": stored.d,
        "heads": stored.h,
        "d_head": stored.e,
        "seed": job.seed,
        "recipe": asdict(job.recipe),
        "dtype": "float32",
        "sha256": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
        "final_loss": float(_metadata(raw).get("final_loss", "nan")),
    }
    rec.update(float64_accuracy(stored, job.seed))
    return rec, train_s, time.perf_counter() - t0


def _metadata(raw: bytes) -> dict[str, str]:
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n]).get("__metadata__", {})
    return {str(a): str(b) for a, b in meta.items()}


def _exact_worker(path: str) -> tuple[int, int, int, int, float]:
    from checker import kernel  # the trusted evaluator; imported in the worker only
    from checker.model import load_model

    t0 = time.perf_counter()
    c, i, u, n = kernel.exact_accuracy(load_model(path))
    return c, i, u, n, time.perf_counter() - t0


def _rigorous_sample_worker(args: tuple[str, int, int]) -> tuple[int, int, int, float]:
    from checker.model import load_model
    from generators.sampling import decide_inputs

    path, seed, n = args
    t0 = time.perf_counter()
    m = load_model(path)
    x = sample_rng(seed).integers(0, m.v, size=(n, m.k))
    c, i, u = decide_inputs(m, x)
    return c, i, u, time.perf_counter() - t0


def add_exact_accuracy(index: list[Record], root: Path, jobs: int = 2) -> list[Record]:
    """Add the kernel's rigorous accuracy to each record of ``index`` (files under ``root``).

    Exhaustive groups (v^k <= 2^24) get ``exact_correct``, ``exact_incorrect``,
    ``exact_undecided``, ``exact_accuracy`` ("p/q") and ``exact_seconds`` from
    :func:`checker.kernel.exact_accuracy`.  Sampled groups get the rigorous decision of the same
    first ``RIGOROUS_SAMPLE`` inputs that the float64 estimate drew (``rigorous_sample_*``).
    Records whose file hash matches an existing record with these fields are reused.
    """
    old: dict[str, Record] = {}
    if (root / "index.json").exists():
        old = {r["sha256"]: r for r in json.loads((root / "index.json").read_text())}
    keys = ("exact_correct", "exact_incorrect", "exact_undecided", "exact_accuracy")
    skeys = ("rigorous_sample_size", "rigorous_sample_correct", "rigorous_sample_undecided")
    todo_exact, todo_sample = [], []
    for r in index:
        prev = old.get(r["sha256"], {})
        want = keys if r.get("float64_eval") == "exhaustive" else skeys
        if all(key in prev for key in want):
            r.update({key: prev[key] for key in prev if key.startswith(("exact_", "rigorous_"))})
        elif r.get("float64_eval") == "exhaustive":
            todo_exact.append(r)
        else:
            todo_sample.append(r)
    t_start = time.perf_counter()
    with mp.get_context("spawn").Pool(max(1, jobs)) as pool:
        paths = [str(root / r["path"]) for r in todo_exact]
        for j, (r, res) in enumerate(zip(todo_exact, pool.imap(_exact_worker, paths), strict=True)):
            c, i, u, n, secs = res
            r.update(
                exact_correct=c,
                exact_incorrect=i,
                exact_undecided=u,
                exact_accuracy=f"{c}/{n}",
                exact_seconds=round(secs, 2),
            )
            print(
                f"[exact {j + 1}/{len(todo_exact)}] {r['path']:28s} {c}/{n} undecided {u} "
                f"({secs:.1f}s, {time.perf_counter() - t_start:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
        args = [(str(root / r["path"]), r["seed"], RIGOROUS_SAMPLE) for r in todo_sample]
        for r, res2 in zip(todo_sample, pool.imap(_rigorous_sample_worker, args), strict=True):
            c, i, u, secs = res2
            r.update(
                rigorous_sample_size=RIGOROUS_SAMPLE,
                rigorous_sample_correct=c,
                rigorous_sample_undecided=u,
                rigorous_sample_wilson95=list(wilson95(c, RIGOROUS_SAMPLE)),
            )
            print(
                f"[sample] {r['path']:28s} {c}/{RIGOROUS_SAMPLE} undecided {u} ({secs:.1f}s)",
                file=sys.stderr,
                flush=True,
            )
    return index


SHARDED_EXACT_LIMIT = 1 << 30  # v^k up to this (K=5 at v=64): exact by sharded enumeration


def add_sharded_exact(
    index: list[Record], root: Path, jobs: int = 2, save: Callable[[], None] | None = None
) -> list[Record]:
    """Add the kernel's exact accuracy to sampled records with v^k <= SHARDED_EXACT_LIMIT
    (the K=5 group), enumerating every input with ``checker.shard.exact_accuracy`` sharded by
    query token over ``jobs`` processes.  Adds ``exact_correct``, ``exact_incorrect``,
    ``exact_undecided``, ``exact_accuracy`` ("p/q"), ``exact_seconds`` (wall clock) and
    ``exact_jobs``; records that already have them are left as they are.  ``save`` is called
    after each model, so an interrupted run keeps its work."""
    from checker import kernel
    from checker.model import load_model
    from generators.parallel import ProcessPool

    todo = [
        r
        for r in index
        if r.get("float64_eval") == "sampled"
        and r["total"] <= SHARDED_EXACT_LIMIT
        and "exact_correct" not in r
    ]
    if not todo:
        return index
    with ProcessPool(jobs) as pool:
        for r in todo:
            path = root / r["path"]
            if hashlib.sha256(path.read_bytes()).hexdigest() != r["sha256"]:
                raise ValueError(f"{path} does not match the index's sha256")
            t0 = time.perf_counter()
            c, i, u, n = kernel.exact_accuracy(load_model(path), None, pool, str(path))
            secs = time.perf_counter() - t0
            r.update(
                exact_correct=c,
                exact_incorrect=i,
                exact_undecided=u,
                exact_accuracy=f"{c}/{n}",
                exact_seconds=round(secs, 2),
                exact_jobs=jobs,
            )
            print(
                f"[exact, {jobs} jobs] {r['path']:28s} {c}/{n} undecided {u} ({secs:.1f}s)",
                file=sys.stderr,
                flush=True,
            )
            if save is not None:
                save()
    return index


def write_index(index: list[Record], out: Path) -> None:
    """Write ``out/index.json`` deterministically (sorted keys, fixed indentation)."""
    text = json.dumps(index, indent=1, sort_keys=True) + "\n"
    (out / "index.json").write_text(text)


def _worker(args: tuple[Job, str, bool]) -> tuple[Record, float | None, float]:
    job, out, force = args
    return build_one(job, Path(out), force)


def build_zoo(out: Path, jobs: int, only: set[str] | None, force: bool) -> list[Record]:
    """Build (or complete) the zoo under ``out`` and write its index; return the index."""
    todo = [j for j in zoo_jobs() if only is None or j.group in only]
    # longest first (cost grows with k), so the pool does not end on a straggler
    order = sorted(todo, key=lambda j: (-j.recipe.k, -j.recipe.v))
    results: dict[str, Record] = {}
    seconds: dict[str, list[float]] = {}
    t_start = time.perf_counter()

    def report(i: int, rec: Record, train_s: float | None, eval_s: float) -> None:
        results[rec["path"]] = rec
        if train_s is not None:
            seconds.setdefault(rec["group"], []).append(train_s)
        acc = rec.get("float64_accuracy_float", rec.get("float64_sampled_accuracy"))
        tr = f"train {train_s:5.1f}s" if train_s is not None else "exists     "
        print(
            f"[{i}/{len(order)}] {rec['path']:28s} {tr} eval {eval_s:4.1f}s "
            f"float64 acc {acc:.5f} ({time.perf_counter() - t_start:.0f}s)",
            file=sys.stderr,
            flush=True,
        )

    args = [(j, str(out), force) for j in order]
    if jobs <= 1:
        for i, a in enumerate(args, 1):
            report(i, *_worker(a))
    else:
        with mp.get_context("spawn").Pool(jobs) as pool:
            for i, res in enumerate(pool.imap_unordered(_worker, args), 1):
                report(i, *res)
    for group, secs in seconds.items():
        print(
            f"{group}: {np.mean(secs):.2f} s/seed training ({len(secs)} seeds, {jobs} jobs)",
            file=sys.stderr,
        )

    old: list[Record] = []
    if only is not None and (out / "index.json").exists():
        old = json.loads((out / "index.json").read_text())
    merged = {r["path"]: r for r in old}
    merged.update(results)
    rank = {j.relpath: i for i, j in enumerate(zoo_jobs())}
    index = sorted(merged.values(), key=lambda r: (rank.get(r["path"], len(rank)), r["path"]))
    index = add_exact_accuracy(index, out, jobs)
    write_index(index, out)
    return index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m generators.zoo", description="Train the zoo.")
    ap.add_argument("--out", type=Path, default=Path("zoo"), help="zoo directory (default zoo)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--only", action="append", choices=GROUPS, help="build only this group")
    ap.add_argument("--force", action="store_true", help="retrain models whose file exists")
    ap.add_argument(
        "--exact-only",
        action="store_true",
        help="only add the kernel's rigorous accuracy to the existing index (no training)",
    )
    ap.add_argument(
        "--exact-sharded",
        action="store_true",
        help="only add exact accuracy to the sampled groups small enough to enumerate "
        "(K=5), sharded over --jobs processes",
    )
    a = ap.parse_args(argv)
    if a.exact_sharded:
        index = json.loads((a.out / "index.json").read_text())
        add_sharded_exact(index, a.out, a.jobs, save=lambda: write_index(index, a.out))
    elif a.exact_only:
        index = json.loads((a.out / "index.json").read_text())
        index = add_exact_accuracy(index, a.out, a.jobs)
        write_index(index, a.out)
    else:
        index = build_zoo(a.out, a.jobs, set(a.only) if a.only else None, a.force)
    exh = [r["float64_accuracy_float"] for r in index if r.get("float64_eval") == "exhaustive"]
    if exh:
        print(
            f"exhaustive float64 accuracy over {len(exh)} models: mean {np.mean(exh):.5f} "
            f"± {np.std(exh, ddof=1) if len(exh) > 1 else 0:.5f}, min {min(exh):.5f}, "
            f"max {max(exh):.5f}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
