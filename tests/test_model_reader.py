"""The kernel's own safetensors reader (checker/model.py) and generators.model's save/load.

Every malformed or unsupported model file is a ``CheckError`` with the right ``Reason`` and a
message naming the problem (DESIGN.md §1, §7 "Robustness"); good files round-trip exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load as st_load

from checker import CheckError, Reason, load_model
from checker.model import OPTIONAL, REQUIRED, parse_model
from generators.model import TL_KEYS, Params, init_params, load_params, save_model
from generators.tinymodels import make_weights, write_model

CODES = {"f4": "F32", "f8": "F64", "f2": "F16", "i4": "I32", "i8": "I64", "u1": "U8"}
V, K, D, H, E = 3, 2, 4, 2, 2


def weights(style: str = "biased") -> dict[str, np.ndarray]:
    """Float64 TL-named weights (v=3, k=2, d=4, two heads of width 2), all twelve keys."""
    return make_weights(np.random.default_rng(7), V, K, D, H, E, style)


def encode(
    arrays: dict[str, np.ndarray],
    metadata: dict | None = None,
    edit: Callable[[dict], None] | None = None,
) -> bytes:
    """A safetensors file written by hand, so the header can be bent by ``edit``."""
    header: dict = {} if metadata is None else {"__metadata__": metadata}
    data = b""
    for name, a in arrays.items():
        b = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": CODES[a.dtype.str[1:]],
            "shape": list(a.shape),
            "data_offsets": [len(data), len(data) + len(b)],
        }
        data += b
    if edit is not None:
        edit(header)
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def rejects(raw: bytes, reason: Reason, *words: str) -> CheckError:
    with pytest.raises(CheckError) as info:
        parse_model(raw)
    err = info.value
    assert err.reason is reason, err
    for w in words:
        assert w in err.detail, (w, err.detail)
    assert err.detail.startswith("model: ")
    assert "\n" not in err.detail
    return err


def with_(**changes: np.ndarray | None) -> dict[str, np.ndarray]:
    """Base weights with keys (dots written as __) replaced, added, or (None) removed."""
    w = weights()
    for key, a in changes.items():
        name = key.replace("__", ".")
        if a is None:
            del w[name]
        else:
            w[name] = a
    return w


# ---------------------------------------------------------------- good files


def test_base_file_is_accepted_and_agrees_with_safetensors() -> None:
    w = weights()
    raw = encode(w, {"task": "max-of-k"})
    m = parse_model(raw)
    assert (m.v, m.k, m.d, m.h, m.e) == (V, K, D, H, E)
    assert m.total == V**K
    assert m.dtype == "float64"
    assert m.metadata == {"task": "max-of-k"}
    lib = st_load(raw)  # the reference implementation reads the same numbers
    for field, key in TL_KEYS.items():
        np.testing.assert_array_equal(getattr(m, field), lib[key])
        np.testing.assert_array_equal(getattr(m, field), w[key])
        assert not getattr(m, field).flags.writeable


def test_file_written_by_the_safetensors_library(tmp_path: Path) -> None:
    w = weights()
    p = write_model(tmp_path / "m.safetensors", w, "float32")
    m = load_model(p)
    assert m.dtype == "float32"
    for field, key in TL_KEYS.items():
        np.testing.assert_array_equal(getattr(m, field), w[key].astype(np.float32))


def test_optional_biases_default_to_zero() -> None:
    w = {k: a for k, a in weights().items() if k in REQUIRED}
    m = parse_model(encode(w))
    for field in ("b_Q", "b_K", "b_V"):
        assert getattr(m, field).shape == (H, E) and not getattr(m, field).any()
    assert m.b_O.shape == (D,) and not m.b_O.any()
    assert m.b_U.shape == (V,) and not m.b_U.any()


def test_mixed_float_dtypes_are_exact() -> None:
    w = weights()
    w["embed.W_E"] = w["embed.W_E"].astype(np.float32)
    m = parse_model(encode(w))
    assert m.dtype == "mixed"
    np.testing.assert_array_equal(m.W_E, w["embed.W_E"].astype(np.float64))


def test_sha256_is_over_the_file_bytes(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    p.write_bytes(encode(weights(), {"a": "b"}))
    assert load_model(p).sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    # one byte of padding-free metadata changes the hash, not the weights
    q = tmp_path / "n.safetensors"
    q.write_bytes(encode(weights(), {"a": "c"}))
    assert load_model(q).sha256 != load_model(p).sha256
    np.testing.assert_array_equal(load_model(q).W_E, load_model(p).W_E)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_model_round_trip(tmp_path: Path, dtype: str) -> None:
    params = init_params(5, 3, 6, 2, 3, seed=11)
    params.b_U = np.linspace(-1, 1, 5)  # a nonzero bias too
    p = tmp_path / f"m-{dtype}.safetensors"
    save_model(p, params, {"seed": "11", "note": "round trip"}, dtype=dtype)
    m = load_model(p)
    assert m.dtype == dtype
    assert (m.v, m.k, m.d, m.h, m.e) == (5, 3, 6, 2, 3)
    for field in TL_KEYS:
        want = getattr(params, field).astype(dtype).astype(np.float64)
        np.testing.assert_array_equal(getattr(m, field), want)
    back = load_params(p)
    assert isinstance(back, Params)
    for field in TL_KEYS:
        np.testing.assert_array_equal(getattr(back, field), getattr(m, field))
    assert m.metadata["task"] == "max-of-k"
    assert m.metadata["v"] == "5" and m.metadata["k"] == "3"
    assert m.metadata["seed"] == "11" and m.metadata["note"] == "round trip"
    assert "mechproof_version" in m.metadata
    assert m.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    # saving again gives the same bytes (metadata order is canonical)
    q = tmp_path / f"again-{dtype}.safetensors"
    save_model(
        q, back if dtype == "float64" else params, {"note": "round trip", "seed": "11"}, dtype
    )
    assert q.read_bytes() == p.read_bytes()


def test_save_model_float64_is_exact_bit_for_bit(tmp_path: Path) -> None:
    params = init_params(4, 2, 4, 1, 4, seed=0)
    params.W_E[0, 0] = 2.0**-1074  # the smallest subnormal survives
    params.W_E[0, 1] = np.nextafter(1.0, 2.0)
    p = tmp_path / "m.safetensors"
    save_model(p, params, {}, dtype="float64")
    m = load_model(p)
    assert m.W_E[0, 0] == 2.0**-1074 and m.W_E[0, 1] == np.nextafter(1.0, 2.0)


def test_save_model_refuses_other_dtypes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="float32 or float64"):
        save_model(tmp_path / "m.safetensors", init_params(3, 2, 2, 1, 2, 0), {}, dtype="float16")


# ---------------------------------------------------------------- layout


@pytest.mark.parametrize("key", REQUIRED)
def test_missing_required_key(key: str) -> None:
    w = weights()
    del w[key]
    rejects(encode(w), Reason.MODEL_LAYOUT, "missing required key", key)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("blocks.0.attn.W_X", ("unexpected key", "blocks.0.attn.W_X", "not part of")),
        ("embed.W_e", ("unexpected key", "embed.W_e")),
        ("blocks.0.ln1.w", ("unexpected key", "blocks.0.ln1.w", "layer norm")),
        ("blocks.0.ln1.b", ("layer norm",)),
        ("ln_final.w", ("unexpected key", "ln_final.w", "layer norm")),
        ("blocks.0.mlp.W_in", ("unexpected key", "blocks.0.mlp.W_in", "MLP")),
        ("blocks.0.mlp.b_out", ("MLP",)),
        ("blocks.1.attn.W_Q", ("unexpected key", "blocks.1.attn.W_Q", "one layer")),
        ("blocks.1.attn.b_O", ("one layer",)),
        ("blocks.0.attn.rotary_sin", ("unexpected key", "rotary")),
        ("blocks.0.attn.IGNORE_", ("unexpected key",)),
    ],
)
def test_unexpected_key(key: str, words: tuple[str, ...]) -> None:
    w = weights()
    w[key] = np.ones((D,))
    rejects(encode(w), Reason.MODEL_LAYOUT, *words)


@pytest.mark.parametrize(
    ("key", "shape", "words"),
    [
        ("embed.W_E", (V * D,), ("embed.W_E must be [v, d]",)),
        ("embed.W_E", (V, D, 1), ("embed.W_E must be [v, d]",)),
        ("pos_embed.W_pos", (K, D + 1), ("pos_embed.W_pos has shape", f"[{K}, {D + 1}]")),
        ("pos_embed.W_pos", (K * D,), ("W_pos must be [k, d]",)),
        ("blocks.0.attn.W_Q", (D, E), ("W_Q must be [h, d, e]",)),
        ("blocks.0.attn.W_K", (H, D, E + 1), ("blocks.0.attn.W_K has shape",)),
        ("blocks.0.attn.W_V", (H + 1, D, E), ("blocks.0.attn.W_V has shape",)),
        ("blocks.0.attn.W_O", (H, D, E), ("blocks.0.attn.W_O has shape", f"[{H}, {E}, {D}]")),
        ("unembed.W_U", (V, D), ("unembed.W_U has shape", f"[{D}, {V}]")),
        ("unembed.W_U", (D, V + 1), ("unembed.W_U has shape",)),
        ("blocks.0.attn.b_Q", (E,), ("blocks.0.attn.b_Q has shape", f"[{H}, {E}]")),
        ("blocks.0.attn.b_O", (D + 1,), ("blocks.0.attn.b_O has shape",)),
        ("unembed.b_U", (1, V), ("unembed.b_U has shape", f"[{V}]")),
    ],
)
def test_misshapen_key(key: str, shape: tuple[int, ...], words: tuple[str, ...]) -> None:
    w = weights()
    w[key] = np.ones(shape)
    rejects(encode(w), Reason.MODEL_LAYOUT, *words)


@pytest.mark.parametrize(
    ("key", "shape"),
    [("embed.W_E", (1, D)), ("pos_embed.W_pos", (0, D)), ("blocks.0.attn.W_Q", (0, D, E))],
)
def test_degenerate_sizes(key: str, shape: tuple[int, ...]) -> None:
    w = weights()
    w[key] = np.ones(shape)
    if key == "embed.W_E":  # keep the other shapes consistent with v = 1
        w["unembed.W_U"] = np.ones((D, 1))
        w["unembed.b_U"] = np.ones(1)
    rejects(encode(w), Reason.MODEL_LAYOUT, "degenerate")


@pytest.mark.parametrize("dtype", ["F16", "BF16", "I32", "I64", "U8", "BOOL", "F8_E4M3", "f32"])
def test_unsupported_dtype(dtype: str) -> None:
    def bend(h: dict) -> None:
        h["embed.W_E"]["dtype"] = dtype

    rejects(encode(weights(), edit=bend), Reason.MODEL_LAYOUT, "embed.W_E", repr(dtype), "F32")


@pytest.mark.parametrize("np_dtype", [np.float16, np.int32, np.int64])
def test_unsupported_dtype_with_consistent_sizes(np_dtype: type) -> None:
    w = weights()
    w["unembed.b_U"] = np.ones(V, dtype=np_dtype)
    rejects(encode(w), Reason.MODEL_LAYOUT, "unembed.b_U", "only F32 and F64")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("key", ["embed.W_E", "blocks.0.attn.W_O", "unembed.b_U"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_weight(bad: float, key: str, dtype: type) -> None:
    w = {k: a.astype(dtype) for k, a in weights().items()}
    w[key].flat[-1] = bad
    rejects(encode(w), Reason.MODEL_NONFINITE, key, "NaN or Inf")


def test_nonfinite_weight_in_an_unused_position_is_still_refused() -> None:
    w = weights()
    w["pos_embed.W_pos"][0, 0] = np.nan  # position 0 never queries; still not a real model
    rejects(encode(w), Reason.MODEL_NONFINITE, "pos_embed.W_pos")


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_signalling_nan_float32() -> None:
    w = {k: a.astype(np.float32) for k, a in weights().items()}
    w["embed.W_E"].view(np.uint32)[0, 0] = 0x7F800001  # a signalling NaN
    rejects(encode(w), Reason.MODEL_NONFINITE, "embed.W_E")


# ---------------------------------------------------------------- container


def good() -> bytes:
    return encode(weights())


def test_empty_file() -> None:
    rejects(b"", Reason.MODEL_UNREADABLE, "shorter than 8 bytes")
    rejects(b"\x00" * 7, Reason.MODEL_UNREADABLE, "shorter than 8 bytes")


def test_only_a_header_length() -> None:
    rejects((0).to_bytes(8, "little"), Reason.MODEL_UNREADABLE, "not JSON")


@pytest.mark.parametrize("cut", [1, 8, 100])
def test_truncated_data(cut: int) -> None:
    err = rejects(good()[:-cut], Reason.MODEL_UNREADABLE, "declares", "bytes")
    assert any(key in err.detail for key in REQUIRED + OPTIONAL)


def test_truncated_header() -> None:
    raw = good()
    n = int.from_bytes(raw[:8], "little")
    rejects(raw[: 8 + n // 2], Reason.MODEL_UNREADABLE, "header length", "exceeds the file")


@pytest.mark.parametrize("n", [None, 1 << 24, 1 << 40, (1 << 64) - 1])
def test_header_length_larger_than_file(n: int | None) -> None:
    raw = good()
    n = len(raw) - 8 + 1 if n is None else n
    rejects(n.to_bytes(8, "little") + raw[8:], Reason.MODEL_UNREADABLE, "header length", str(n))


@pytest.mark.parametrize(
    "text",
    [b"not json", b"{", b"\xff\xfe{}", b'{"a": }', b"[1, 2", b"{'single': 'quotes'}"],
)
def test_header_not_json(text: bytes) -> None:
    rejects(len(text).to_bytes(8, "little") + text, Reason.MODEL_UNREADABLE, "not JSON")


@pytest.mark.parametrize("text", [b"[]", b"1", b'"embed.W_E"', b"null"])
def test_header_not_an_object(text: bytes) -> None:
    rejects(len(text).to_bytes(8, "little") + text, Reason.MODEL_UNREADABLE, "not an object")


def test_deeply_nested_header() -> None:
    text = b"[" * 200_000
    rejects(len(text).to_bytes(8, "little") + text, Reason.MODEL_UNREADABLE, "not JSON")


def _entry(edit: Callable[[dict], None], key: str = "blocks.0.attn.W_V") -> bytes:
    def bend(h: dict) -> None:
        edit(h[key])

    return encode(weights(), edit=bend)


@pytest.mark.parametrize(
    "shape", [[-1, 4, 2], [2.0, 4, 2], [True, 4, 2], ["2", 4, 2], "2,4,2", None, [1 << 31, 1, 1]]
)
def test_malformed_shape(shape: object) -> None:
    raw = _entry(lambda e: e.update(shape=shape))
    rejects(raw, Reason.MODEL_UNREADABLE, "blocks.0.attn.W_V", "malformed shape")


def test_shape_disagrees_with_byte_count() -> None:
    raw = _entry(lambda e: e.update(shape=[H, D, E + 1]))
    rejects(raw, Reason.MODEL_UNREADABLE, "blocks.0.attn.W_V", "declares")


def test_huge_shape_is_refused_before_allocation() -> None:
    raw = _entry(lambda e: e.update(shape=[(1 << 31) - 1] * 3))
    rejects(raw, Reason.MODEL_UNREADABLE, "blocks.0.attn.W_V", "declares")


@pytest.mark.parametrize(
    "offsets", [None, [0], [0, 1, 2], [0.0, 64.0], [False, True], "0-64", {"a": 0}]
)
def test_malformed_data_offsets(offsets: object) -> None:
    raw = _entry(lambda e: e.update(data_offsets=offsets))
    rejects(raw, Reason.MODEL_UNREADABLE, "blocks.0.attn.W_V", "malformed data_offsets")


def test_entry_not_an_object() -> None:
    def bend(h: dict) -> None:
        h["blocks.0.attn.W_V"] = [1, 2, 3]

    rejects(encode(weights(), edit=bend), Reason.MODEL_UNREADABLE, "W_V", "not an object")


@pytest.mark.parametrize(
    "shift",
    [
        lambda lo, hi: [hi, lo],  # reversed
        lambda lo, hi: [lo - 10_000, hi - 10_000],  # before the data section
        lambda lo, hi: [lo + 10_000, hi + 10_000],  # past the end of the file
        lambda lo, hi: [lo, hi + 8],  # longer than the tensor
        lambda lo, hi: [lo + 8, hi],  # shorter than the tensor
        lambda lo, hi: [1 << 62, (1 << 62) + hi - lo],
    ],
)
def test_out_of_range_data_offsets(shift: Callable[[int, int], list[int]]) -> None:
    key = "unembed.W_U"

    def bend(h: dict) -> None:
        h[key]["data_offsets"] = shift(*h[key]["data_offsets"])

    rejects(encode(weights(), edit=bend), Reason.MODEL_UNREADABLE, key, "declares")


def _alias(h: dict) -> None:
    """Point W_K at W_Q's bytes: two tensors share data (the safetensors library refuses)."""
    h["blocks.0.attn.W_K"]["data_offsets"] = list(h["blocks.0.attn.W_Q"]["data_offsets"])


def test_overlapping_data_offsets() -> None:
    raw = encode(weights(), edit=_alias)
    with pytest.raises(Exception, match="invalid offset"):
        st_load(raw)
    rejects(raw, Reason.MODEL_UNREADABLE, "blocks.0.attn.W_K")


def test_trailing_bytes_after_the_data() -> None:
    raw = good() + b"\x00" * 8
    with pytest.raises(Exception, match="not fully covered"):
        st_load(raw)
    rejects(raw, Reason.MODEL_UNREADABLE)


def _duplicate_key(raw: bytes, key: str = "embed.W_E") -> bytes:
    """Append a second entry for ``key`` (pointing at other bytes) to the header."""
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    other = dict(header["unembed.W_U"], shape=header[key]["shape"])
    text = raw[8 : 8 + n].rstrip()[:-1] + f', "{key}": {json.dumps(other)}}}'.encode()
    return len(text).to_bytes(8, "little") + text + raw[8 + n :]


def test_duplicate_header_key() -> None:
    w = weights()
    w["unembed.W_U"] = np.ones((V, D)).T.copy()  # same element count as W_E ([3, 4] vs [4, 3])
    raw = _duplicate_key(encode(w))
    rejects(raw, Reason.MODEL_UNREADABLE, "duplicate", "embed.W_E")


@pytest.mark.parametrize("meta", [{"a": 1}, {"a": None}, {"a": ["b"]}, [], "text", 3])
def test_malformed_metadata(meta: object) -> None:
    def bend(h: dict) -> None:
        h["__metadata__"] = meta

    rejects(encode(weights(), edit=bend), Reason.MODEL_UNREADABLE, "__metadata__")


def test_directory_path(tmp_path: Path) -> None:
    with pytest.raises(CheckError) as info:
        load_model(tmp_path)
    assert info.value.reason is Reason.MODEL_UNREADABLE
    assert "cannot read" in info.value.detail and str(tmp_path) in info.value.detail


def test_missing_path(tmp_path: Path) -> None:
    p = tmp_path / "nope.safetensors"
    with pytest.raises(CheckError) as info:
        load_model(p)
    assert info.value.reason is Reason.MODEL_UNREADABLE
    assert "cannot read" in info.value.detail and "nope.safetensors" in info.value.detail


def test_load_params_goes_through_the_kernel_reader(tmp_path: Path) -> None:
    p = tmp_path / "m.safetensors"
    p.write_bytes(encode(with_(blocks__0__ln1__w=np.ones(D))))
    with pytest.raises(CheckError) as info:
        load_params(p)
    assert info.value.reason is Reason.MODEL_LAYOUT
