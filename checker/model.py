"""Read a model file and state the theorem — the kernel does both itself.

A model is a ``safetensors`` file of a one-layer, attention-only transformer with
TransformerLens key names (DESIGN.md §1).  This module parses the container directly
(8-byte little-endian header length, JSON header, raw little-endian data) rather than
trusting a library: every declared size is checked against the actual size before anything
is allocated, and every weight must be finite.  float32 and float64 weights are both exact
dyadic rationals and are widened to float64 without rounding.

Reject if: the file is not a well-formed safetensors file; a required key is missing; a key
is unexpected (layer norm, MLP, a second layer, anything else); a shape is inconsistent; a
dtype is not F32/F64; a weight is NaN or infinite.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from checker.errors import Reason, reject, require, unique_keys

F64 = npt.NDArray[np.float64]

MAX_HEADER_BYTES = 1 << 24
MAX_MODEL_BYTES = 1 << 31
TASK = "max-of-k"

REQUIRED = (
    "embed.W_E",
    "pos_embed.W_pos",
    "blocks.0.attn.W_Q",
    "blocks.0.attn.W_K",
    "blocks.0.attn.W_V",
    "blocks.0.attn.W_O",
    "unembed.W_U",
)
OPTIONAL = (
    "blocks.0.attn.b_Q",
    "blocks.0.attn.b_K",
    "blocks.0.attn.b_V",
    "blocks.0.attn.b_O",
    "unembed.b_U",
)
_DTYPES: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}


@dataclass(frozen=True)
class Model:
    """The weights of a one-layer attention-only transformer, widened exactly to float64.

    Axes: v vocabulary, k context length, d model width, h heads, e head width (d_head).
    """

    W_E: F64  # [v, d]
    W_pos: F64  # [k, d]
    W_Q: F64  # [h, d, e]
    W_K: F64  # [h, d, e]
    W_V: F64  # [h, d, e]
    W_O: F64  # [h, e, d]
    b_Q: F64  # [h, e]
    b_K: F64  # [h, e]
    b_V: F64  # [h, e]
    b_O: F64  # [d]
    W_U: F64  # [d, v]
    b_U: F64  # [v]
    sha256: str
    dtype: str
    metadata: dict[str, str]

    @property
    def v(self) -> int:
        return int(self.W_E.shape[0])

    @property
    def k(self) -> int:
        return int(self.W_pos.shape[0])

    @property
    def d(self) -> int:
        return int(self.W_E.shape[1])

    @property
    def h(self) -> int:
        return int(self.W_Q.shape[0])

    @property
    def e(self) -> int:
        return int(self.W_Q.shape[2])

    @property
    def total(self) -> int:
        """Number of inputs: every x in {0..v-1}^k."""
        return int(self.v**self.k)

    def theorem(self) -> str:
        """The statement the kernel proves about this model (the certificate cannot change it)."""
        return (
            f"{TASK}: for x uniform on {{0..{self.v - 1}}}^{self.k}, the model with sha256 "
            f"{self.sha256} has logit[max(x)] > logit[y] for all y != max(x) at the last "
            f"position (exact real arithmetic, scores scaled by 1/sqrt({self.e}))"
        )


def _fail(detail: str) -> None:
    reject(Reason.MODEL_UNREADABLE, f"model: {detail}")


def _require_tiling(header: dict[str, Any], size: int) -> None:
    """The tensors' [lo, hi) byte ranges must tile the data section exactly: no overlap (two
    keys sharing bytes), no gap, nothing after the last tensor (as the safetensors format
    requires), so the file's bytes and sha256 determine one model."""
    spans = sorted(
        (int(spec["data_offsets"][0]), int(spec["data_offsets"][1]), key)
        for key, spec in header.items()
    )
    end, prev = 0, "the start of the data"
    for lo, hi, key in spans:
        require(
            lo == end,
            Reason.MODEL_UNREADABLE,
            f"model: {key}'s data [{lo}, {hi}) "
            + (f"overlaps {prev}'s" if lo < end else f"leaves a gap after {prev}"),
        )
        end, prev = hi, key
    require(
        end == size,
        Reason.MODEL_UNREADABLE,
        f"model: the data section has {size} bytes but the tensors cover {end}",
    )


def _parse_header(raw: bytes) -> tuple[dict[str, Any], int]:
    require(len(raw) >= 8, Reason.MODEL_UNREADABLE, "model: file shorter than 8 bytes")
    n = int.from_bytes(raw[:8], "little")
    require(
        n <= MAX_HEADER_BYTES and 8 + n <= len(raw),
        Reason.MODEL_UNREADABLE,
        f"model: header length {n} exceeds the file ({len(raw)} bytes) or the limit",
    )
    try:
        header = json.loads(
            raw[8 : 8 + n].decode("utf-8"),
            object_pairs_hook=unique_keys(Reason.MODEL_UNREADABLE, "model"),
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reject(Reason.MODEL_UNREADABLE, f"model: header is not JSON ({str(exc):.80})")
    require(isinstance(header, dict), Reason.MODEL_UNREADABLE, "model: header is not an object")
    return header, 8 + n


def _unsupported_hint(key: str) -> str:
    if ".ln" in key or key.startswith("ln_final"):
        return "layer norm is not supported"
    if ".mlp." in key:
        return "MLP layers are not supported"
    if key.startswith("blocks.") and not key.startswith("blocks.0."):
        return "only one layer is supported"
    return "not part of the one-layer attention-only layout"


def _tensor(raw: bytes, start: int, key: str, spec: Any) -> F64:
    require(isinstance(spec, dict), Reason.MODEL_UNREADABLE, f"model: entry {key} is not an object")
    dtype_name = spec.get("dtype")
    require(
        isinstance(dtype_name, str) and dtype_name in _DTYPES,
        Reason.MODEL_LAYOUT,
        f"model: {key} has dtype {dtype_name!r}; only F32 and F64 are supported",
    )
    shape = spec.get("shape")
    offsets = spec.get("data_offsets")
    ok_shape = isinstance(shape, list) and all(
        isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 1 << 31 for s in shape
    )
    require(ok_shape, Reason.MODEL_UNREADABLE, f"model: {key} has a malformed shape")
    ok_off = (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    )
    require(ok_off, Reason.MODEL_UNREADABLE, f"model: {key} has malformed data_offsets")
    dt = _DTYPES[str(dtype_name)]
    count = math.prod(shape)
    lo, hi = int(offsets[0]), int(offsets[1])
    require(
        0 <= lo <= hi and start + hi <= len(raw) and hi - lo == count * dt.itemsize,
        Reason.MODEL_UNREADABLE,
        f"model: {key} declares {count} x {dt.itemsize} bytes at [{lo}, {hi}) "
        f"but the data section has {len(raw) - start} bytes",
    )
    arr = np.frombuffer(raw, dtype=dt, count=count, offset=start + lo).reshape(shape)
    with np.errstate(invalid="ignore"):  # a signalling NaN is refused just below
        out: F64 = arr.astype(np.float64)  # exact: every float32 is a float64
    require(bool(np.isfinite(out).all()), Reason.MODEL_NONFINITE, f"model: {key} has NaN or Inf")
    out.setflags(write=False)
    return out


def load_model(path: str | Path) -> Model:
    """Return the model stored at ``path``.  Reject (``CheckError``) on any deviation."""
    p = Path(path)
    try:
        size = p.stat().st_size
        require(size <= MAX_MODEL_BYTES, Reason.MODEL_UNREADABLE, f"model: file is {size} bytes")
        raw = p.read_bytes()
    except OSError as exc:
        reject(Reason.MODEL_UNREADABLE, f"model: cannot read {path}: {exc.strerror}")
    return parse_model(raw)


def parse_model(raw: bytes) -> Model:
    """Return the model serialised in ``raw`` (see :func:`load_model`)."""
    header, start = _parse_header(raw)
    meta_raw = header.pop("__metadata__", {})
    require(
        isinstance(meta_raw, dict) and all(isinstance(x, str) for x in meta_raw.values()),
        Reason.MODEL_UNREADABLE,
        "model: __metadata__ must map strings to strings",
    )
    for key in header:
        require(
            key in REQUIRED or key in OPTIONAL,
            Reason.MODEL_LAYOUT,
            f"model: unexpected key {key!r} ({_unsupported_hint(str(key))})",
        )
    for key in REQUIRED:
        require(key in header, Reason.MODEL_LAYOUT, f"model: missing required key {key!r}")
    t = {key: _tensor(raw, start, key, spec) for key, spec in header.items()}
    _require_tiling(header, len(raw) - start)
    dtypes = {header[key]["dtype"] for key in header}

    def shape_is(key: str, *dims: int) -> None:
        require(
            t[key].shape == dims,
            Reason.MODEL_LAYOUT,
            f"model: {key} has shape {list(t[key].shape)}, expected {list(dims)}",
        )

    require(t["embed.W_E"].ndim == 2, Reason.MODEL_LAYOUT, "model: embed.W_E must be [v, d]")
    v, d = t["embed.W_E"].shape
    require(t["blocks.0.attn.W_Q"].ndim == 3, Reason.MODEL_LAYOUT, "model: W_Q must be [h, d, e]")
    h, _, e = t["blocks.0.attn.W_Q"].shape
    require(t["pos_embed.W_pos"].ndim == 2, Reason.MODEL_LAYOUT, "model: W_pos must be [k, d]")
    k = t["pos_embed.W_pos"].shape[0]
    require(
        v >= 2 and k >= 1 and d >= 1 and h >= 1 and e >= 1,
        Reason.MODEL_LAYOUT,
        f"model: degenerate sizes v={v}, k={k}, d={d}, h={h}, d_head={e}",
    )
    shape_is("pos_embed.W_pos", k, d)
    for name in ("W_Q", "W_K", "W_V"):
        shape_is(f"blocks.0.attn.{name}", h, d, e)
    shape_is("blocks.0.attn.W_O", h, e, d)
    shape_is("unembed.W_U", d, v)
    zeros = {
        "blocks.0.attn.b_Q": (h, e),
        "blocks.0.attn.b_K": (h, e),
        "blocks.0.attn.b_V": (h, e),
        "blocks.0.attn.b_O": (d,),
        "unembed.b_U": (v,),
    }
    for key, dims in zeros.items():
        if key in t:
            shape_is(key, *dims)
        else:
            z = np.zeros(dims)
            z.setflags(write=False)
            t[key] = z
    return Model(
        W_E=t["embed.W_E"],
        W_pos=t["pos_embed.W_pos"],
        W_Q=t["blocks.0.attn.W_Q"],
        W_K=t["blocks.0.attn.W_K"],
        W_V=t["blocks.0.attn.W_V"],
        W_O=t["blocks.0.attn.W_O"],
        b_Q=t["blocks.0.attn.b_Q"],
        b_K=t["blocks.0.attn.b_K"],
        b_V=t["blocks.0.attn.b_V"],
        b_O=t["blocks.0.attn.b_O"],
        W_U=t["unembed.W_U"],
        b_U=t["unembed.b_U"],
        sha256=hashlib.sha256(raw).hexdigest(),
        dtype="float32" if dtypes == {"F32"} else "float64" if dtypes == {"F64"} else "mixed",
        metadata={str(a): str(b) for a, b in meta_raw.items()},
    )
