"""Regenerate the example models and certificates of certificates/examples/ (deterministically).

    python -m generators.examples [OUT_DIR]     # default: certificates/examples/

Untrusted and outside ``certificates/`` (the format package imports no generator).

Every weight is a hand-chosen dyadic constant (no random numbers, no training), and
``save_model`` writes canonical bytes, so the same code gives the same files on any machine.
The expected verdict of each certificate is listed in README.md; tests/test_examples.py
checks both (and that this module reproduces the committed bytes).

* ``tiny.safetensors`` (v=2, k=2, d=2, one head, float32): the unembedding bias gives token
  1 a head start of 2 that the small weights cannot overcome, so the model always answers
  1.  Right on 10, 01, 11 (max 1), wrong on 00: accuracy exactly 3/4.  It is the model of
  the worked example in certificates/FORMAT.md.
* ``small.safetensors`` (v=4, k=3, d=4, d_head=1, float32): a soft max detector.  The
  residual stream holds [token, 1, 0, 0]; the query (from the constant 1) times the key
  (the token) gives attention score ``BETA * token``, so attention leans towards the
  largest token; the value copies the token into dimension 3 as s = sum_p a_p x_p, and
  the unembedding reads logit[y] = 2 y s - y^2, largest at the y nearest s.  Accuracy is
  exactly 1 (brute force proves it); the cubic strategies prove less.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from certificates.writer import encode, rational
from checker import load_model
from generators.model import Params, save_model
from generators.strategies import REGISTRY

EXAMPLES = Path(__file__).resolve().parents[1] / "certificates" / "examples"
BETA = 1.0
# The models' metadata names the maker's old path: changing it would change their bytes
# (and the hashes FORMAT.md and the README quote).
META = {"construction": "hand-built (certificates/examples/make_examples.py)"}


def _a(x: object) -> np.ndarray:
    return np.array(x, dtype=np.float64)


def tiny_params() -> Params:
    """v=2, k=2: always answers 1 (accuracy 3/4)."""
    return Params(
        W_E=_a([[0.5, -0.25], [0.25, 0.5]]),
        W_pos=_a([[0.125, 0.0], [0.0, 0.125]]),
        W_Q=_a([[[1.0], [0.5]]]),
        W_K=_a([[[0.5], [-1.0]]]),
        W_V=_a([[[1.0], [1.0]]]),
        W_O=_a([[[0.5, -0.5]]]),
        b_Q=_a([[0.0]]),
        b_K=_a([[0.0]]),
        b_V=_a([[0.0]]),
        b_O=_a([0.0, 0.0]),
        W_U=_a([[0.25, -0.25], [0.0, 0.25]]),
        b_U=_a([0.0, 2.0]),
    )


def small_params() -> Params:
    """v=4, k=3: a soft max detector (accuracy 1)."""
    v, k, d, e = 4, 3, 4, 1
    W_E = np.zeros((v, d))
    W_E[:, 0] = np.arange(v)
    W_E[:, 1] = 1.0
    W_Q = np.zeros((1, d, e))
    W_Q[0, 1, 0] = BETA
    W_K = np.zeros((1, d, e))
    W_K[0, 0, 0] = 1.0
    W_V = np.zeros((1, d, e))
    W_V[0, 0, 0] = 1.0
    W_O = np.zeros((1, e, d))
    W_O[0, 0, 3] = 1.0
    W_U = np.zeros((d, v))
    W_U[3] = 2.0 * np.arange(v)
    W_U[1] = -(np.arange(v) ** 2.0)
    return Params(
        W_E=W_E,
        W_pos=np.zeros((k, d)),
        W_Q=W_Q,
        W_K=W_K,
        W_V=W_V,
        W_O=W_O,
        b_Q=np.zeros((1, e)),
        b_K=np.zeros((1, e)),
        b_V=np.zeros((1, e)),
        b_O=np.zeros(d),
        W_U=W_U,
        b_U=np.zeros(v),
    )


def certificate(model_path: Path, strategy: str, **override: Any) -> bytes:
    """The certificate ``strategy`` writes for the model at ``model_path`` (fields overridable)."""
    m = load_model(model_path)
    proof = REGISTRY[strategy].prove(m, None)
    fields: dict[str, Any] = {
        "model_sha256": m.sha256,
        "strategy": proof.strategy,
        "bound": proof.bound,
        "steps": proof.steps,
        "arrays": proof.arrays,
    }
    fields.update(override)
    return encode(**fields)


def brute_steps(model_path: Path) -> list[dict[str, Any]]:
    """A fresh copy of the brute-force trace's steps for the model (to edit)."""
    steps = REGISTRY["brute-force"].prove(load_model(model_path), None).steps
    return json.loads(json.dumps(steps))


def version_1(model_path: Path, strategy: str = "brute-force") -> bytes:
    """The brute-force certificate as format version 1 wrote it (three monolithic rules,
    hint-only steps; no ``semantics``): the bytes the old tiny-brute.cert had."""
    m = load_model(model_path)
    proof = REGISTRY[strategy].prove(m, None)
    counts = [
        (s["args"]["query"], s["claim"]["correct"]) for s in proof.steps if s["rule"] == "enumerate"
    ]
    header = {
        "format": "mechproof-certificate",
        "version": 1,
        "task": "max-of-k",
        "model_sha256": m.sha256,
        "strategy": strategy,
        "bound": rational(proof.bound),
        "arrays": {},
        "steps": [{"id": "tables", "rule": "path-tables", "args": {}, "claim": {}}]
        + [
            {
                "id": f"q{q}",
                "rule": "enumerate",
                "args": {"tables": "tables", "query": q},
                "claim": {"correct": n},
            }
            for q, n in counts
        ],
    }
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return b"MECHPROF" + len(text).to_bytes(8, "little") + text


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tiny, small = out / "tiny.safetensors", out / "small.safetensors"
    save_model(tiny, tiny_params(), META)
    save_model(small, small_params(), META)
    files: dict[str, bytes] = {
        "tiny-brute.cert": certificate(tiny, "brute-force"),
        "tiny-cubic.cert": certificate(tiny, "cubic"),
        "small-brute.cert": certificate(small, "brute-force"),
        "small-cubic.cert": certificate(small, "cubic"),
        "small-cubic-paired.cert": certificate(small, "cubic-paired"),
        "small-cubic-paired-split.cert": certificate(small, "cubic-paired-split"),
    }
    # Bad certificates, each checked against tiny.safetensors (README.md).
    files["tiny-overclaim.cert"] = certificate(tiny, "brute-force", bound="1")
    files["tiny-truncated.cert"] = files["tiny-cubic.cert"][:-1]
    lying = brute_steps(tiny)
    q0 = next(s for s in lying if s["id"] == "q0")
    q0["claim"]["correct"] += 1  # query 0: claims 2 correct inputs, the kernel finds 1
    files["tiny-claim-mismatch.cert"] = certificate(tiny, "brute-force", steps=lying)
    early = brute_steps(tiny)  # q0 first: it cites EU and the tables before they exist
    early.insert(0, early.pop(next(i for i, s in enumerate(early) if s["id"] == "q0")))
    files["tiny-forward-cite.cert"] = certificate(tiny, "brute-force", steps=early)
    meaning = brute_steps(tiny)  # q0 takes the positional exps for the token exps
    next(s for s in meaning if s["id"] == "q0")["cite"]["g"] = ["exp.EQKP0"]
    files["tiny-wrong-meaning.cert"] = certificate(tiny, "brute-force", steps=meaning)
    twice = brute_steps(tiny)  # query 1 counted a second time (its 2 inputs again)
    twice.append(dict(next(s for s in twice if s["id"] == "q1"), id="again"))
    files["tiny-overlap.cert"] = certificate(tiny, "brute-force", steps=twice, bound="1")
    files["tiny-v1.cert"] = version_1(tiny)
    # A proof for a model one float32 ulp away from tiny (W_E[0, 0]): bound to another model.
    other = tiny_params()
    other.W_E[0, 0] = float(np.nextafter(np.float32(other.W_E[0, 0]), np.float32(1)))
    other_path = out / "other.safetensors.tmp"
    save_model(other_path, other, META)
    files["tiny-wrong-model.cert"] = certificate(other_path, "brute-force")
    other_path.unlink()
    for name, data in files.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else EXAMPLES)
