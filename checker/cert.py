"""Read a certificate file without executing anything (grammar: certificates/FORMAT.md).

Format version 2: the header's ``steps`` are a trace, each step ``{id, rule, cite, args,
claim}`` citing earlier steps by id (checker.kernel replays them).

Layout: 8-byte magic ``MECHPROF``, 8-byte little-endian header length H, H bytes of UTF-8
JSON (the header), then the payload: the concatenation of the arrays the header declares,
in declaration order, little-endian, with no gaps.  Every declared size is checked against
the actual size before any array is touched; arrays are read-only views (no copies).

Reject if: the magic, the version or a field is wrong; JSON holds NaN/Infinity, duplicate
keys or unknown top-level fields; an array's declared size disagrees with its shape, with
its neighbours or with the file; the file is larger than the limits.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
from flint import fmpq

from checker.errors import Reason, read_regular, reject, require, unique_keys
from checker.float32 import exp_ulp

MAGIC = b"MECHPROF"
VERSION = 2
FORMAT = "mechproof-certificate"
MAX_HEADER_BYTES = 1 << 26
MAX_CERT_BYTES = 1 << 32
MAX_STEPS = 1 << 20
DTYPES: dict[str, np.dtype[Any]] = {
    "u1": np.dtype("u1"),
    "i8": np.dtype("<i8"),
    "f8": np.dtype("<f8"),
}
TOP_KEYS = {"format", "version", "task", "model_sha256", "semantics", "strategy", "bound"}
TOP_KEYS |= {"arrays", "steps"}
STEP_KEYS = {"id", "rule", "cite", "args", "claim"}
_RATIONAL = re.compile(r"^(-?[0-9]{1,400})(?:/([0-9]{1,400}))?$")
_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


@dataclass(frozen=True)
class Step:
    """One rule application: ``rule`` applied to the results of the steps ``cite`` names,
    with hints ``args``, asserting ``claim``."""

    index: int
    id: str
    rule: str
    cite: dict[str, Any]
    args: dict[str, Any]
    claim: dict[str, Any]


@dataclass(frozen=True)
class Certificate:
    """A parsed certificate: header fields, arrays (read-only views) and the step list."""

    task: str
    model_sha256: str
    semantics: str
    strategy: str
    bound: fmpq
    arrays: dict[str, npt.NDArray[Any]]
    steps: tuple[Step, ...]
    header_numbers: int = 1  # numbers read outside the steps (the bound)


def _schema(cond: bool, detail: str, reason: Reason = Reason.CERT_SCHEMA) -> None:
    require(cond, reason, f"certificate: {detail}")


def read_certificate(path: str | Path) -> tuple[bytes, Certificate]:
    """Return (the bytes, the certificate) of the regular file at ``path`` (errors.read_regular:
    a special file or one over the size limit is refused before reading)."""
    raw = read_regular(path, MAX_CERT_BYTES, Reason.CERT_UNREADABLE, "certificate")
    return raw, parse_certificate(raw)


def parse_rational(text: object, what: str, step: str | None = None) -> fmpq:
    """Return the exact rational written as ``"p/q"`` or ``"p"`` (q > 0).  No floats."""
    mt = _RATIONAL.match(text) if isinstance(text, str) else None
    if mt is None:
        reject(Reason.CERT_SCHEMA, f"{what}: expected a rational 'p/q', got {text!r:.60}", step)
    den = int(mt.group(2)) if mt.group(2) is not None else 1
    require(den > 0, Reason.CERT_SCHEMA, f"{what}: zero denominator", step)
    return fmpq(int(mt.group(1)), den)


def _no_constants(name: str) -> None:
    reject(Reason.CERT_UNREADABLE, f"certificate: JSON constant {name} is not allowed")


def is_int(x: object) -> TypeGuard[int]:
    """True for a JSON integer (bool excluded)."""
    return isinstance(x, int) and not isinstance(x, bool)


def parse_certificate(raw: bytes) -> Certificate:
    """Return the certificate serialised in ``raw``.  Reject on any malformation."""
    _schema(len(raw) <= MAX_CERT_BYTES, "file exceeds the limit", Reason.CERT_SIZE)
    magic = len(raw) >= 16 and raw[:8] == MAGIC
    _schema(magic, "missing magic 'MECHPROF' (not a mechproof certificate)", Reason.CERT_UNREADABLE)
    hlen = int.from_bytes(raw[8:16], "little")
    _schema(hlen <= MAX_HEADER_BYTES and 16 + hlen <= len(raw), "header length", Reason.CERT_SIZE)
    try:
        header = json.loads(
            raw[16 : 16 + hlen].decode("utf-8"),
            parse_constant=_no_constants,
            object_pairs_hook=unique_keys(Reason.CERT_UNREADABLE, "certificate"),
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reject(Reason.CERT_UNREADABLE, f"certificate: header is not valid JSON ({str(exc):.80})")
    _schema(isinstance(header, dict), "header is not an object")
    _schema(header.get("format") == FORMAT, "wrong 'format' field")
    version = header.get("version")
    _schema(
        is_int(version) and version == VERSION,
        f"format version {version!r:.20} is not supported (this checker reads version "
        f"{VERSION}); regenerate it with `mechproof prove MODEL --strategy NAME`",
        Reason.CERT_VERSION,
    )
    keys = set(header)
    _schema(keys == TOP_KEYS, f"header fields: missing {sorted(TOP_KEYS - keys)}, unknown "
            f"{sorted(keys - TOP_KEYS)[:5]}")  # fmt: skip
    for key in ("task", "model_sha256", "strategy", "semantics"):
        _schema(isinstance(header[key], str) and 0 < len(header[key]) <= 200, f"bad '{key}'")
    exp_ulp(header["semantics"])  # 'real' or 'float32:U' (checker.float32)
    bound = parse_rational(header["bound"], "certificate: bound")
    _schema(fmpq(0) <= bound <= fmpq(1), "bound must lie in [0, 1]")
    arrays = _arrays(raw, 16 + hlen, header["arrays"])
    steps = header["steps"]
    _schema(isinstance(steps, list) and 0 < len(steps) <= MAX_STEPS, "'steps' must be a list")
    parsed = []
    for i, s in enumerate(steps):
        _schema(isinstance(s, dict) and set(s) == STEP_KEYS, f"step {i}: keys must be {STEP_KEYS}")
        sid, rule = s["id"], s["rule"]
        _schema(isinstance(sid, str) and _NAME.match(sid) is not None, f"step {i}: bad id")
        _schema(isinstance(rule, str) and _NAME.match(rule) is not None, f"step {i}: bad rule")
        objs = all(isinstance(s[key], dict) for key in ("cite", "args", "claim"))
        _schema(objs, f"step {sid}: cite, args and claim must be objects")
        parsed.append(Step(i, sid, rule, s["cite"], s["args"], s["claim"]))
    return Certificate(
        header["task"], header["model_sha256"], header["semantics"], header["strategy"],
        bound, arrays, tuple(parsed),
    )  # fmt: skip


def _arrays(raw: bytes, start: int, spec: object) -> dict[str, npt.NDArray[Any]]:
    _schema(isinstance(spec, dict), "'arrays' must be an object")
    decl: dict[str, Any] = spec  # type: ignore[assignment]
    out: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for name, a in decl.items():
        _schema(_NAME.match(name) is not None, "malformed array name")
        fields = isinstance(a, dict) and set(a) == {"dtype", "shape", "offset", "nbytes"}
        _schema(fields, f"array {name} must have exactly dtype, shape, offset, nbytes")
        _schema(isinstance(a["dtype"], str) and a["dtype"] in DTYPES, f"array {name}: bad dtype")
        dt, shape = DTYPES[str(a["dtype"])], a["shape"]
        ok = isinstance(shape, list) and len(shape) <= 8
        _schema(ok and all(is_int(n) and 0 <= n < 1 << 40 for n in shape), f"array {name}: shape")
        big = math.prod(max(n, 1) for n in shape) * dt.itemsize > MAX_CERT_BYTES
        _schema(
            not big,
            f"array {name} declares more bytes than a certificate may hold",
            Reason.CERT_SIZE,
        )
        nbytes = math.prod(shape) * dt.itemsize
        ok = is_int(a["offset"]) and a["offset"] == offset and is_int(a["nbytes"])
        _schema(ok and a["nbytes"] == nbytes and start + offset + nbytes <= len(raw),
                f"array {name}: offset/nbytes must be {offset}/{nbytes} within the file",
                Reason.CERT_SIZE)  # fmt: skip
        arr = np.frombuffer(raw, dtype=dt, count=math.prod(shape), offset=start + offset)
        out[name] = arr.reshape(shape)
        offset += nbytes
    _schema(start + offset == len(raw), "bytes after the last array", Reason.CERT_SIZE)
    return out
