"""Models as TransformerLens saves them, and hostile model files (checker/model.py).

``safetensors.torch.save_file(model.state_dict(), path)`` on a one-layer attention-only
``HookedTransformer`` (``attn_only=True, normalization_type=None``) writes the twelve weights
plus two buffers: ``blocks.0.attn.mask`` (BOOL [n_ctx, n_ctx], ``torch.tril(ones).bool()``)
and ``blocks.0.attn.IGNORE`` (F32 scalar, ``-inf``; ``-1e5`` in older releases).  The first
tests build that file without torch; the last round-trips a real ``HookedTransformer`` and is
skipped when torch or transformer_lens is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from checker import CheckError, Reason, kernel, load_model
from checker.model import IGNORE, MASK, parse_model
from generators.tinymodels import make_weights

ROOT = Path(__file__).resolve().parents[1]
V, K, D, H, E = 5, 3, 6, 1, 3

# the key order of HookedTransformer.state_dict() for this configuration
TL_ORDER = (
    "embed.W_E",
    "pos_embed.W_pos",
    "blocks.0.attn.W_Q",
    "blocks.0.attn.W_O",
    "blocks.0.attn.b_Q",
    "blocks.0.attn.b_O",
    "blocks.0.attn.W_K",
    "blocks.0.attn.W_V",
    "blocks.0.attn.b_K",
    "blocks.0.attn.b_V",
    MASK,
    IGNORE,
    "unembed.W_U",
    "unembed.b_U",
)


def tl_state_dict(ignore: float = float("-inf")) -> dict[str, np.ndarray]:
    """What ``HookedTransformer.state_dict()`` holds (as numpy), dtypes included."""
    w = make_weights(np.random.default_rng(11), V, K, D, H, E, "biased")
    sd = {key: np.ascontiguousarray(w[key], dtype=np.float32) for key in TL_ORDER if key in w}
    sd[MASK] = np.tril(np.ones((K, K))).astype(bool)
    sd[IGNORE] = np.array(ignore, dtype=np.float32)  # a 0-d tensor
    return {key: sd[key] for key in TL_ORDER}


def write(path: Path, sd: dict[str, np.ndarray], metadata: dict | None = None) -> Path:
    save_file(sd, str(path), metadata=metadata)
    return path


def test_the_file_is_what_transformerlens_writes(tmp_path: Path) -> None:
    raw = write(tmp_path / "tl.safetensors", tl_state_dict()).read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert header[MASK]["dtype"] == "BOOL" and header[MASK]["shape"] == [K, K]
    assert header[IGNORE]["dtype"] == "F32" and header[IGNORE]["shape"] == []
    assert header["blocks.0.attn.W_Q"]["shape"] == [H, D, E]
    assert set(header) == set(TL_ORDER)


@pytest.mark.parametrize("ignore", [float("-inf"), -1e5])
@pytest.mark.parametrize("metadata", [None, {"format": "pt"}])
def test_transformerlens_file_is_accepted(tmp_path: Path, ignore: float, metadata) -> None:
    sd = tl_state_dict(ignore)
    m = load_model(write(tmp_path / "tl.safetensors", sd, metadata))
    assert (m.v, m.k, m.d, m.h, m.e) == (V, K, D, H, E)
    assert m.buffers == (MASK, IGNORE) and m.dtype == "float32"
    assert np.array_equal(m.W_Q, sd["blocks.0.attn.W_Q"].astype(np.float64))
    th = m.theorem()
    assert "causal mask" in th and MASK in th and IGNORE in th


def test_buffers_change_nothing_but_the_theorem(tmp_path: Path) -> None:
    """The same weights with and without the buffers: same exact accuracy and certificate
    counts (the mask is causal, so the last position sees everything either way)."""
    from prove_util import prove_to

    sd = tl_state_dict()
    with_b = write(tmp_path / "tl.safetensors", sd)
    plain = write(
        tmp_path / "plain.safetensors", {k: a for k, a in sd.items() if k not in (MASK, IGNORE)}
    )
    a, b = load_model(with_b), load_model(plain)
    assert b.buffers == () and "TransformerLens" not in b.theorem()
    assert kernel.exact_accuracy(a) == kernel.exact_accuracy(b)
    verdict = kernel.check(prove_to(with_b, "brute-force", tmp_path / "bf.cert"), with_b)
    assert verdict.proven == kernel.exact_accuracy(a)[0] and "causal mask" in verdict.theorem


@pytest.mark.parametrize(
    "mask",
    [
        np.tril(np.ones((K, K))).astype(np.uint8),
        np.tril(np.ones((K, K))).astype(np.float32),
        np.tril(np.ones((K, K))).astype(np.float64),
    ],
    ids=["U8", "F32", "F64"],
)
def test_other_mask_dtypes(tmp_path: Path, mask: np.ndarray) -> None:
    sd = tl_state_dict()
    sd[MASK] = mask
    assert load_model(write(tmp_path / "m.safetensors", sd)).buffers == (MASK, IGNORE)


def test_either_buffer_alone(tmp_path: Path) -> None:
    for drop in (MASK, IGNORE):
        sd = {k: a for k, a in tl_state_dict().items() if k != drop}
        m = load_model(write(tmp_path / "m.safetensors", sd))
        assert drop not in m.buffers and len(m.buffers) == 1


def _refused(tmp_path: Path, sd: dict[str, np.ndarray], *words: str) -> CheckError:
    with pytest.raises(CheckError) as info:
        load_model(write(tmp_path / "bad.safetensors", sd))
    err = info.value
    assert err.reason is Reason.MODEL_LAYOUT, err
    for w in words:
        assert w in err.detail, (w, err.detail)
    return err


def _with(**changes: np.ndarray) -> dict[str, np.ndarray]:
    sd = tl_state_dict()
    sd.update({{"mask": MASK, "IGNORE": IGNORE}[k]: a for k, a in changes.items()})
    return sd


def test_local_attention_mask_is_refused(tmp_path: Path) -> None:
    """TransformerLens's "local" attention with window 2: the last position misses position 0."""
    causal = np.tril(np.ones((K, K)))
    local = np.triu(causal, 1 - 2).astype(bool)
    _refused(tmp_path, _with(mask=local), MASK, "last row", "local")


def test_non_causal_mask_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, _with(mask=np.ones((K, K), dtype=bool)), "not the causal")
    _refused(tmp_path, _with(mask=np.triu(np.ones((K, K))).astype(bool)), "last row")


@pytest.mark.parametrize(
    ("mask", "words"),
    [
        (np.tril(np.ones((K + 1, K + 1))).astype(bool), ("has shape", f"[{K}, {K}]")),
        (np.tril(np.ones((K, K))).astype(bool)[None], ("has shape",)),
        (np.tril(np.ones((K, K))).astype(np.uint8) * 2, ("only 0/1",)),
        (np.where(np.tril(np.ones((K, K))) > 0, 0.0, -np.inf), ("only 0/1",)),  # additive form
        (np.tril(np.ones((K, K))).astype(np.int64), ("dtype", "BOOL")),
    ],
)
def test_malformed_mask_is_refused(tmp_path: Path, mask: np.ndarray, words) -> None:
    _refused(tmp_path, _with(mask=mask), MASK, *words)


@pytest.mark.parametrize(
    ("ignore", "words"),
    [
        (np.full((2,), -np.inf, dtype=np.float32), ("scalar",)),
        (np.array(-100000, dtype=np.int32), ("dtype",)),
    ],
)
def test_malformed_ignore_is_refused(tmp_path: Path, ignore: np.ndarray, words) -> None:
    _refused(tmp_path, _with(IGNORE=ignore), IGNORE, *words)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("blocks.0.ln1.w", ("layer norm", "normalization_type=None")),
        ("ln_final.b", ("layer norm",)),
        ("blocks.0.mlp.W_in", ("MLP", "attn_only=True")),
        ("blocks.1.attn.mask", ("one layer",)),
        ("blocks.0.attn.rotary_cos", ("rotary",)),
    ],
)
def test_other_transformerlens_layouts_are_refused(tmp_path: Path, key: str, words) -> None:
    sd = tl_state_dict()
    sd[key] = np.ones((D,), dtype=np.float32)
    _refused(tmp_path, sd, "unexpected key", key, *words)


# ------------------------------------------------------------------ hostile files (issue 9)


def _raw_with_entry(key: str, entry: dict) -> bytes:
    """A valid TL file whose header entry for ``key`` is replaced by ``entry`` (JSON text)."""
    text = json.dumps({**_header(), key: entry}).encode()
    return len(text).to_bytes(8, "little") + text + _data()


def _parts() -> tuple[dict, bytes]:
    """The header and data section of the TL file."""
    from safetensors.numpy import save

    raw = save(tl_state_dict())
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _header() -> dict:
    return _parts()[0]


def _data() -> bytes:
    return _parts()[1]


def _fast_one_line_rejection(raw: bytes, reason: Reason, *words: str) -> None:
    t0 = time.process_time()  # CPU seconds: robust to a busy machine
    with pytest.raises(CheckError) as info:
        parse_model(raw)
    assert time.process_time() - t0 < 1.0
    err = info.value
    assert err.reason is reason, err
    assert "\n" not in err.detail and len(err.detail) < 400, err.detail
    for w in words:
        assert w in err.detail, (w, err.detail)


@pytest.mark.parametrize("ndim", [5, 33, 65, 100_000, 2_000_000])
def test_too_many_dims_is_refused_fast(ndim: int) -> None:
    entry = {"dtype": "F32", "shape": [1] * ndim, "data_offsets": [0, 4]}
    raw = _raw_with_entry("blocks.0.attn.W_V", entry)
    _fast_one_line_rejection(raw, Reason.MODEL_UNREADABLE, "malformed shape", f"{ndim} dims")


@pytest.mark.parametrize(
    "shape",
    [
        [(1 << 31) - 1] * 4,
        [0, (1 << 31) - 1, (1 << 31) - 1],  # zero beside huge: 0 bytes, then a shape mismatch
        [(1 << 31) - 1, 0],
    ],
)
@pytest.mark.parametrize("key", ["blocks.0.attn.W_V", MASK, IGNORE])
def test_astronomical_or_empty_shapes(shape: list[int], key: str) -> None:
    lo = _header()[key]["data_offsets"][0]
    raw = _raw_with_entry(key, {"dtype": "F32", "shape": shape, "data_offsets": [lo, lo]})
    with pytest.raises(CheckError) as info:
        parse_model(raw)
    assert "\n" not in info.value.detail and len(info.value.detail) < 400


def _with_long_offset(digits: int) -> bytes:
    """The TL file with unembed.b_U's end offset replaced by a ``digits``-digit integer."""
    marker = 987654321987
    raw = _raw_with_entry(
        "unembed.b_U", {"dtype": "F32", "shape": [V], "data_offsets": [0, marker]}
    )
    n = int.from_bytes(raw[:8], "little")
    text = raw[8 : 8 + n].replace(str(marker).encode(), b"1" + b"0" * (digits - 1))
    return len(text).to_bytes(8, "little") + text + raw[8 + n :]


@pytest.mark.parametrize("digits", [41, 4000, 5000, 1_000_000])
def test_huge_json_integers_are_refused_quickly(digits: int) -> None:
    _fast_one_line_rejection(_with_long_offset(digits), Reason.MODEL_UNREADABLE)


def test_huge_json_integers_without_the_interpreter_limit(monkeypatch) -> None:
    """Where Python's int digit limit is off, the reader's own hook refuses them."""
    import checker.model as cm

    monkeypatch.setattr(cm, "_INT_DIGITS_LIMITED", False)
    _fast_one_line_rejection(_with_long_offset(51), Reason.MODEL_UNREADABLE, "51-digit")


def test_huge_offsets_are_printed_bounded() -> None:
    big = 10**39
    raw = _raw_with_entry(
        "unembed.b_U", {"dtype": "F32", "shape": [V], "data_offsets": [big, big + 4 * V]}
    )
    _fast_one_line_rejection(raw, Reason.MODEL_UNREADABLE, "declares", "1e+39")


def test_huge_unexpected_key_is_printed_bounded() -> None:
    key = "x" * 1_000_000
    raw = _raw_with_entry(key, {"dtype": "F32", "shape": [], "data_offsets": [0, 0]})
    _fast_one_line_rejection(raw, Reason.MODEL_LAYOUT, "unexpected key")


def test_special_files_are_not_read(tmp_path: Path) -> None:
    """A link to /dev/zero, a FIFO with no writer, a directory: refused at once, unread."""
    zero = tmp_path / "zero.safetensors"
    zero.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    for path in (zero, fifo, tmp_path):
        t0 = time.process_time()
        with pytest.raises(CheckError) as info:
            load_model(path)
        assert time.process_time() - t0 < 1.0
        assert info.value.reason is Reason.MODEL_UNREADABLE
        assert "not a regular file" in info.value.detail


def test_cli_refuses_a_link_to_dev_zero_in_one_line(tmp_path: Path) -> None:
    zero = tmp_path / "zero.safetensors"
    zero.symlink_to("/dev/zero")
    r = subprocess.run(
        [sys.executable, "-m", "generators.cli", "accuracy", str(zero)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 1 and "not a regular file" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ a real HookedTransformer


def test_round_trip_a_real_hooked_transformer(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    tl = pytest.importorskip("transformer_lens")
    from safetensors.torch import load_file
    from safetensors.torch import save_file as torch_save_file

    cfg = tl.HookedTransformerConfig(
        n_layers=1,
        d_model=D,
        n_ctx=K,
        d_head=E,
        n_heads=H,
        d_vocab=V,
        attn_only=True,
        normalization_type=None,
        act_fn=None,
        seed=0,
    )
    model = tl.HookedTransformer(cfg)
    path = tmp_path / "tl.safetensors"
    torch_save_file(model.state_dict(), str(path))  # the first of the README's two lines
    m = load_model(path)
    assert m.buffers == (MASK, IGNORE)
    assert np.array_equal(m.W_E, model.W_E.detach().numpy().astype(np.float64))
    # the reverse: a file mechproof reads (no buffers) into TransformerLens
    plain = {k: v for k, v in load_file(str(path)).items() if k not in (MASK, IGNORE)}
    back = tl.HookedTransformer(cfg)
    back.load_state_dict(plain, strict=False)
    x = torch.randint(0, V, (8, K))
    assert torch.equal(model(x), back(x))
