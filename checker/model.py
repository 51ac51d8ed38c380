"""Read a model file and state the theorem — the kernel does both itself.

A model is a ``safetensors`` file of a one-layer, attention-only transformer with
TransformerLens key names (DESIGN.md §1).  This module parses the container directly
(8-byte little-endian header length, JSON header, raw little-endian data) rather than
trusting a library: every declared size is checked against the actual size before anything
is allocated, and every weight must be finite.  float32 and float64 weights are both exact
dyadic rationals and are widened to float64 without rounding.

TransformerLens's attention buffers, which ``safetensors.torch.save_file(model.state_dict())``
writes beside the weights, are accepted: ``blocks.0.attn.mask`` ([k, k], BOOL, U8 or float
0/1) must be exactly the causal mask (position i sees positions 0..i; the theorem reads the
last position, which then sees every position), and ``blocks.0.attn.IGNORE`` (a scalar
fill value, F16/BF16/F32/F64, -inf or -1e5 in TransformerLens) is never used: nothing is
masked at the last position.  The theorem says which buffers were read and checked.

Reject if: the path is not a regular file or is too large; the file is not a well-formed
safetensors file; a required key is missing; a key is unexpected (layer norm, MLP, a second
layer, rotary embeddings, anything else); a shape is inconsistent or too large; a weight's
dtype is not F32/F64; a weight is NaN or infinite; the mask is not the causal mask.
NB: no message formats an integer read from the file without bounding its size first
(:func:`_num`), and JSON integers longer than 4,300 digits (Python's own limit) or, where
that limit is off, 40 digits are refused while parsing.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from checker import float32
from checker.errors import Reason, read_regular, reject, require, unique_keys

F64 = npt.NDArray[np.float64]

MAX_HEADER_BYTES = 1 << 24
MAX_MODEL_BYTES = 1 << 31
MAX_DIMS = 4  # the layout needs at most 3 axes; numpy allows 32 or 64
MAX_INT_DIGITS = 40  # JSON integers longer than this are refused while parsing
TASK = "max-of-k"

_A = "blocks.0.attn."
REQUIRED = ("embed.W_E", "pos_embed.W_pos", *(_A + n for n in ("W_Q", "W_K", "W_V", "W_O")))
REQUIRED += ("unembed.W_U",)
OPTIONAL = (*(_A + n for n in ("b_Q", "b_K", "b_V", "b_O")), "unembed.b_U")
MASK, IGNORE = "blocks.0.attn.mask", "blocks.0.attn.IGNORE"  # TransformerLens's buffers
BUFFERS = (MASK, IGNORE)
_DTYPES: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
# safetensors stores a bool as one byte, 0 or 1
_MASK_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype("u1"),
    "U8": np.dtype("u1"),
    "F16": np.dtype("<f2"),
    **_DTYPES,
}
_IGNORE_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}  # the fill value is never decoded


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
    buffers: tuple[str, ...] = ()  # TransformerLens buffers read and checked (module doc)
    semantics: str = "real"  # the theorem's arithmetic (checker.float32); the certificate's

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
        read = {MASK: f"{MASK} checked to be the causal mask", IGNORE: f"{IGNORE} unused "
                "(nothing is masked at the last position)"}  # fmt: skip
        read_s = "".join(f"; TransformerLens buffer read: {read[b]}" for b in self.buffers)
        return (
            f"{TASK}: for x uniform on {{0..{self.v - 1}}}^{self.k}, the model with sha256 "
            f"{self.sha256} has logit[max(x)] > logit[y] for all y != max(x) at the last "
            f"position ({float32.statement(self)}{read_s})"
        )


def _num(n: int) -> str:
    """``n`` as text, bounded in length whatever its size (never a 4,000-digit string)."""
    if -(10**15) < n < 10**15:
        return str(n)
    if n.bit_length() < 1000:
        return f"{float(n):.3g}"
    return f"{'-' if n < 0 else ''}~2^{n.bit_length()}"


# Python >= 3.10.7 refuses int literals over 4,300 digits (json raises ValueError) unless the
# limit was switched off; only then is each integer checked by a (slower) Python hook.
_INT_DIGITS_LIMITED = getattr(sys, "get_int_max_str_digits", lambda: 0)() != 0


def _parse_int(text: str) -> int:
    """json's integer hook where the interpreter has no digit limit: refuse huge literals
    before converting them (conversion is quadratic in the number of digits)."""
    require(
        len(text) <= MAX_INT_DIGITS,
        Reason.MODEL_UNREADABLE,
        f"model: header has a {len(text)}-digit integer",
    )
    return int(text)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


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
        if lo != end:
            reject(
                Reason.MODEL_UNREADABLE,
                f"model: {key}'s data [{_num(lo)}, {_num(hi)}) "
                + (f"overlaps {prev}'s" if lo < end else f"leaves a gap after {prev}"),
            )
        end, prev = hi, key
    if end != size:
        reject(
            Reason.MODEL_UNREADABLE,
            f"model: the data section has {size} bytes but the tensors cover {_num(end)}",
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
            parse_int=None if _INT_DIGITS_LIMITED else _parse_int,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reject(Reason.MODEL_UNREADABLE, f"model: header is not JSON ({str(exc):.80})")
    require(isinstance(header, dict), Reason.MODEL_UNREADABLE, "model: header is not an object")
    return header, 8 + n


def _unsupported_hint(key: str) -> str:
    if ".ln" in key or key.startswith("ln_final"):
        return "layer norm is not supported; save with normalization_type=None"
    if ".mlp." in key:
        return "MLP layers are not supported; save with attn_only=True"
    if key.startswith("blocks.") and not key.startswith("blocks.0."):
        return "only one layer is supported (n_layers=1)"
    if "rotary" in key:
        return "rotary positional embeddings are not supported; only learned pos_embed.W_pos"
    return "not part of the one-layer attention-only layout"


def _span(raw: bytes, start: int, key: str, spec: Any, dtypes: dict[str, int]) -> list[int]:
    """Return the shape of ``key`` after checking its entry: dtype among ``dtypes`` (name to
    item size), at most MAX_DIMS non-negative dims, and data_offsets inside the data section
    matching the byte size.  Bounded work whatever the header says."""
    bad = Reason.MODEL_UNREADABLE
    require(isinstance(spec, dict), bad, f"model: entry {key} is not an object")
    name, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    names = " and ".join(dtypes) if len(dtypes) == 2 else ", ".join(dtypes)
    ok = isinstance(name, str) and name in dtypes
    require(ok, Reason.MODEL_LAYOUT, f"model: {key} has dtype {str(name)[:20]!r}; only {names} "
            "are supported")  # fmt: skip
    ndim = len(shape) if isinstance(shape, list) else 0
    ok = isinstance(shape, list) and ndim <= MAX_DIMS
    many = f" ({ndim} dims; at most {MAX_DIMS})" if ndim > MAX_DIMS else ""
    require(ok and all(_is_int(n) and 0 <= n < 1 << 31 for n in shape), bad,
            f"model: {key} has a malformed shape{many}")  # fmt: skip
    ok = isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
    require(ok, bad, f"model: {key} has malformed data_offsets")
    count, nonzero = math.prod(shape), math.prod(max(n, 1) for n in shape)  # <= 4 factors
    zero = f"a malformed shape ({_num(nonzero)} elements beside a zero)"  # numpy can't shape it
    huge = zero if count == 0 else f"{_num(count)} elements, over the limit"
    require(nonzero <= MAX_MODEL_BYTES, bad, f"model: {key} declares {huge}")
    lo, hi = offsets
    ok = 0 <= lo <= hi and start + hi <= len(raw) and hi - lo == count * dtypes[name]
    require(ok, bad, f"model: {key} declares {_num(count)} x {dtypes[name]} bytes at "
            f"[{_num(lo)}, {_num(hi)}) but the data section has {len(raw) - start}")  # fmt: skip
    return list(shape)


def _tensor(raw: bytes, start: int, key: str, spec: Any) -> F64:
    """Return the weight ``key`` widened exactly to float64.  Reject if it is not finite."""
    shape = _span(raw, start, key, spec, {n: dt.itemsize for n, dt in _DTYPES.items()})
    dt = _DTYPES[spec["dtype"]]
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    arr = np.frombuffer(raw, dtype=dt, count=count, offset=start + spec["data_offsets"][0])
    with np.errstate(invalid="ignore"):  # a signalling NaN is refused just below
        out: F64 = arr.reshape(shape).astype(np.float64)  # exact: every float32 is a float64
    require(bool(np.isfinite(out).all()), Reason.MODEL_NONFINITE, f"model: {key} has NaN or Inf")
    out.setflags(write=False)
    return out


def _check_buffers(raw: bytes, start: int, header: dict[str, Any], k: int) -> None:
    """Check TransformerLens's buffers (module doc): the mask must be the causal [k, k] mask
    (values exactly 0/1, position i sees 0..i, so the last position sees all k); IGNORE must be
    a well-formed scalar and is otherwise unused."""
    lay = Reason.MODEL_LAYOUT
    if IGNORE in header:
        shape = _span(raw, start, IGNORE, header[IGNORE], _IGNORE_BYTES)
        require(shape in ([], [1]), lay, f"model: {IGNORE} must be a scalar, has shape {shape}")
    if MASK in header:
        spec = header[MASK]
        shape = _span(raw, start, MASK, spec, {n: dt.itemsize for n, dt in _MASK_DTYPES.items()})
        require(shape == [k, k], lay, f"model: {MASK} has shape {shape}, expected [{k}, {k}]")
        dt, at = _MASK_DTYPES[spec["dtype"]], start + spec["data_offsets"][0]
        vals = np.frombuffer(raw, dtype=dt, count=k * k, offset=at).reshape(k, k)
        with np.errstate(invalid="ignore"):
            ok01 = bool(((vals == 0) | (vals == 1)).all())
        require(ok01, lay, f"model: {MASK} must hold only 0/1 (False/True)")
        require(bool((vals[k - 1] == 1).all()), lay, f"model: {MASK}'s last row must be all "
                "True (the last position sees every position; no local attention)")  # fmt: skip
        causal = bool(((vals == 1) == np.tril(np.ones((k, k), dtype=bool))).all())
        require(causal, lay, f"model: {MASK} is not the causal (lower-triangular) mask")


def load_model(path: str | Path) -> Model:
    """Return the model stored at ``path``.  Reject (``CheckError``) on any deviation, and if
    ``path`` is not a regular file (errors.read_regular)."""
    return parse_model(read_regular(path, MAX_MODEL_BYTES, Reason.MODEL_UNREADABLE, "model"))


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
        if not (key in REQUIRED or key in OPTIONAL or key in BUFFERS):
            reject(
                Reason.MODEL_LAYOUT,
                f"model: unexpected key {key!r:.80} ({_unsupported_hint(str(key))})",
            )
    for key in REQUIRED:
        require(key in header, Reason.MODEL_LAYOUT, f"model: missing required key {key!r}")
    weights = {key: spec for key, spec in header.items() if key not in BUFFERS}
    t = {key: _tensor(raw, start, key, spec) for key, spec in weights.items()}
    dtypes = {weights[key]["dtype"] for key in weights}

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
    _check_buffers(raw, start, header, k)
    _require_tiling(header, len(raw) - start)
    for name in ("W_Q", "W_K", "W_V"):
        shape_is(f"blocks.0.attn.{name}", h, d, e)
    shape_is("blocks.0.attn.W_O", h, e, d)
    shape_is("unembed.W_U", d, v)
    zeros = {
        **{_A + n: (h, e) for n in ("b_Q", "b_K", "b_V")},
        _A + "b_O": (d,),
        "unembed.b_U": (v,),
    }
    for key, dims in zeros.items():
        if key in t:
            shape_is(key, *dims)
        else:
            z = np.zeros(dims)
            z.setflags(write=False)
            t[key] = z
    names = {"W_E": "embed.W_E", "W_pos": "pos_embed.W_pos", "W_U": "unembed.W_U"}
    names |= {"b_U": "unembed.b_U", **{n: _A + n for n in ("W_Q", "W_K", "W_V", "W_O")}}
    names |= {n: _A + n for n in ("b_Q", "b_K", "b_V", "b_O")}
    return Model(
        **{n: t[key] for n, key in names.items()},  # type: ignore[arg-type]
        sha256=hashlib.sha256(raw).hexdigest(),
        dtype="float32" if dtypes == {"F32"} else "float64" if dtypes == {"F64"} else "mixed",
        metadata={str(a): str(b) for a, b in meta_raw.items()},
        buffers=tuple(b for b in BUFFERS if b in header),
    )
