"""Run one measured task in a fresh process; print a JSON line with seconds and peak RSS.

``python -m bench._child TASK MODEL [CERT] [STRATEGY]``.  Seconds are wall-clock for the task
itself (imports excluded); ``peak_rss_mb`` is the process's maximum resident set size, which
includes the interpreter and numpy (about 40-60 MB; see ``idle`` for the floor).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str]) -> int:
    task, model = argv[0], argv[1]
    out: dict[str, object] = {"task": task}
    if task == "idle":
        import numpy  # noqa: F401

        from checker import kernel  # noqa: F401

        t0 = time.perf_counter()
    elif task == "float64-fast":
        from generators.model import load_params
        from generators.zoo import exhaustive_correct

        params = load_params(model)
        t0 = time.perf_counter()
        out["correct"] = exhaustive_correct(params)
    elif task == "float64-forward":
        import numpy as np

        from generators.model import forward, load_params

        params = load_params(model)
        t0 = time.perf_counter()
        v, k = params.v, params.k
        correct = 0
        chunk = 1 << 18
        total = v**k
        for start in range(0, total, chunk):
            idx = np.arange(start, min(start + chunk, total))
            x = np.stack([(idx // v ** (k - 1 - i)) % v for i in range(k)], axis=1)
            logits = forward(params, x)
            rows = np.arange(len(x))
            lab = x.max(axis=1)
            top = logits[rows, lab].copy()
            logits[rows, lab] = -np.inf
            correct += int(np.count_nonzero(top > logits.max(axis=1)))
        out["correct"] = correct
    elif task == "accuracy":
        from checker import kernel
        from checker.model import load_model

        m = load_model(model)
        t0 = time.perf_counter()
        c, i, u, n = kernel.exact_accuracy(m)
        out.update(correct=c, incorrect=i, undecided=u, total=n)
    elif task == "prove":
        from checker.model import load_model
        from generators.strategies import STRATEGIES

        cert, strategy = argv[2], argv[3]
        m = load_model(model)
        t0 = time.perf_counter()
        proof = STRATEGIES()[strategy][0](m, None)
        out["certificate_bytes"] = proof.write(cert, m.sha256)
    elif task == "check":
        from checker import kernel

        t0 = time.perf_counter()
        verdict = kernel.check(argv[2], model)
        out.update(verdict.to_json())
    else:
        raise SystemExit(f"unknown task {task!r}")
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mb"] = _peak_mb()
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
