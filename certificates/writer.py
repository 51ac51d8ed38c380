"""Write mechproof certificates (grammar: certificates/FORMAT.md).

Untrusted: the checker has its own reader (checker/cert.py) and never imports this module.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"MECHPROF"
VERSION = 2
_DTYPES = {np.dtype("u1"): "u1", np.dtype("<i8"): "i8", np.dtype("<f8"): "f8"}


def rational(x: Fraction | int | str) -> str:
    """Return ``x`` as the exact string 'p/q' used by the format."""
    f = Fraction(x)
    return f"{f.numerator}/{f.denominator}"


def encode(
    *,
    model_sha256: str,
    strategy: str,
    bound: Fraction | str,
    steps: list[dict[str, Any]],
    arrays: dict[str, np.ndarray] | None = None,
    task: str = "max-of-k",
    semantics: str = "real",
) -> bytes:
    """Return the bytes of a certificate with the given header fields, steps and arrays."""
    arrays = arrays or {}
    decl: dict[str, Any] = {}
    payload: list[bytes] = []
    offset = 0
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        if a.dtype.newbyteorder("<") in _DTYPES and a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        code = _DTYPES.get(a.dtype)
        if code is None:
            raise ValueError(f"array {name}: dtype {a.dtype} not in the format (u1, i8, f8)")
        data = a.tobytes()
        decl[name] = {"dtype": code, "shape": list(a.shape), "offset": offset, "nbytes": len(data)}
        payload.append(data)
        offset += len(data)
    header = {
        "format": "mechproof-certificate",
        "version": VERSION,
        "task": task,
        "model_sha256": model_sha256,
        "semantics": semantics,
        "strategy": strategy,
        "bound": rational(bound),
        "arrays": decl,
        "steps": steps,
    }
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    return MAGIC + len(text).to_bytes(8, "little") + text + b"".join(payload)


def write(path: str | Path, **fields: Any) -> int:
    """Write a certificate (see :func:`encode`) to ``path``; return its size in bytes."""
    data = encode(**fields)
    Path(path).write_bytes(data)
    return len(data)
