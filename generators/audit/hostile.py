"""The robustness corpus: hostile model files and certificates (DESIGN.md §7, issue 9 item 6).

Each case is a (certificate, model) pair, most of a few kilobytes (the largest a few MB),
run by the checker under audit with the hostile limits (by default 3.3 s and 512 MiB of
address space, in a subprocess).  The checker must
reject it with a reason -- a finding is a traceback, a hang past the limit, memory past the
limit, or a VERIFIED.  Model cases pair the hostile model with a real certificate re-bound to
that model's sha256 (found and replaced as a string in the header, so that the check goes
past the hash comparison into the rules); certificate cases use a real small model.

Two cases are special: ``directed-rounding`` asks the kernel worker to run one honest check
under round-upward (the kernel must notice its unsafe environment: only a process embedding
the kernel can do that, so this case runs for the built-in kernel only), and
``text-verdict-rounding`` reads the kernel's text verdict, whose decimal must not exceed
the exact bound it stands beside.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from checker.model import REQUIRED as KEYS  # the required tensors (DESIGN.md §1)
from generators.audit.container import parse, walk
from generators.liars import Head, table_model
from generators.tinymodels import make_weights, write_model

if TYPE_CHECKING:
    from generators.audit.runner import Audit


@dataclass
class Case:
    name: str
    kind: str  # "model" or "certificate" (which file is hostile)
    cert: Path
    model: Path
    opts: dict[str, Any] = field(default_factory=dict)
    ceiling: Fraction | None = None  # None: any VERIFIED is a finding


# ---- raw safetensors ------------------------------------------------------------------------


def st_bytes(
    tensors: dict[str, np.ndarray],
    patch: Callable[[dict[str, Any]], None] | None = None,
    extra: bytes = b"",
) -> bytes:
    """A safetensors file of float32 ``tensors``; ``patch`` may rewrite the header dict."""
    header: dict[str, Any] = {}
    chunks, off = [], 0
    for key, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    if patch is not None:
        patch(header)
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + b"".join(chunks) + extra


def tiny_weights(v: int, k: int, d: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    r = np.random.default_rng(seed).standard_normal
    return {
        "embed.W_E": r((v, d)),
        "pos_embed.W_pos": r((k, d)),
        "blocks.0.attn.W_Q": r((1, d, 1)),
        "blocks.0.attn.W_K": r((1, d, 1)),
        "blocks.0.attn.W_V": r((1, d, 1)),
        "blocks.0.attn.W_O": r((1, 1, d)),
        "unembed.W_U": r((d, v)),
    }


def _extra_tensor(
    key: str, spec: dict[str, Any], nbytes: int = 0
) -> Callable[[dict[str, Any]], None]:
    """Add tensor ``key`` with ``spec`` and ``nbytes`` of data (appended by the caller)."""

    def patch(h: dict[str, Any]) -> None:
        end = max(x["data_offsets"][1] for x in h.values())
        h[key] = {"dtype": "F32", "data_offsets": [end, end + nbytes], **spec}

    return patch


def _set_shape(key: str, shape: Any) -> Callable[[dict[str, Any]], None]:
    def patch(h: dict[str, Any]) -> None:
        h[key]["shape"] = shape

    return patch


def _set(key: str, field_: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def patch(h: dict[str, Any]) -> None:
        h[key][field_] = value

    return patch


def model_files(base: dict[str, np.ndarray]) -> dict[str, bytes]:
    """Hostile model files, name -> bytes (a few kB each)."""
    good = st_bytes(base)
    n = int.from_bytes(good[:8], "little")
    nan, inf = dict(base), dict(base)
    nan["unembed.W_U"] = base["unembed.W_U"].copy()
    nan["unembed.W_U"].flat[0] = np.nan
    inf["embed.W_E"] = base["embed.W_E"].copy()
    inf["embed.W_E"].flat[0] = np.inf
    missing = {key: a for key, a in base.items() if key != "embed.W_E"}
    wrong = {**base, "unembed.W_U": np.zeros((base["unembed.W_U"].shape[0], 7))}
    out = {
        "empty": b"",
        "seven-bytes": good[:7],
        "header-length-2^64-1": (2**64 - 1).to_bytes(8, "little") + good[8:],
        "header-length-past-end": (len(good) + 1).to_bytes(8, "little") + good[8:],
        "header-not-json": n.to_bytes(8, "little") + b"\xff" * n + good[8 + n :],
        "header-nested-100000": _header_raw(b"[" * 100000 + b"]" * 100000),
        "truncated-data": good[:-3],
        "nan-weight": st_bytes(nan),
        "inf-weight": st_bytes(inf),
        "wrong-shape": st_bytes(wrong),
        "missing-key": st_bytes(missing),
        "unexpected-key": st_bytes({**base, "blocks.1.attn.W_Q": base["blocks.0.attn.W_Q"]}),
        "dtype-F16": st_bytes(base, _set("embed.W_E", "dtype", "F16")),
        "dtype-unknown": st_bytes(base, _set("embed.W_E", "dtype", "Q99")),
        "shape-2^62x2^62": st_bytes(base, _set_shape("embed.W_E", [2**62, 2**62])),
        "shape-zero-beside-huge": st_bytes(
            base, _extra_tensor("unembed.b_U", {"shape": [0] + [2**31 - 1] * 3})
        ),
        "shape-10^400": st_bytes(base, _set_shape("embed.W_E", [10**400, 1])),
        "shape-negative": st_bytes(base, _set_shape("embed.W_E", [-1, -1])),
        "shape-float": st_bytes(base, _set_shape("embed.W_E", [1.5, 2.0])),
        "shape-strings": st_bytes(base, _set_shape("embed.W_E", ["2", "1"])),
        "dims-65": st_bytes(base, _extra_tensor("unembed.b_U", {"shape": [1] * 65}, 4), b"\0" * 4),
        "dims-20000-large": st_bytes(
            base, _extra_tensor("unembed.b_U", {"shape": [2**31 - 1] * 20000})
        ),
        # 3 MB: a product of 10^6 factors costs quadratic time in the factor count
        "dims-1000000-slow-size": st_bytes(
            base, _extra_tensor("unembed.b_U", {"shape": [3] * 1_000_000})
        ),
        "data-offsets-2^70": st_bytes(base, _set("embed.W_E", "data_offsets", [0, 2**70])),
        "data-offsets-negative": st_bytes(base, _set("embed.W_E", "data_offsets", [-8, 0])),
        "data-offsets-10^400": st_bytes(
            base, _set("embed.W_E", "data_offsets", [10**400, 10**400])
        ),
        "duplicate-key": _header_raw(json.dumps({"a": 1}).encode()[:-1] + b',"a":2}'),
        "metadata-not-strings": st_bytes(
            base, lambda h: h.update({"__metadata__": {"a": [1] * 10}})
        ),
        "k-15000": st_bytes(tiny_weights(2, 15000)),
        "v-2^17-path-tables": st_bytes(tiny_weights(1 << 17, 2)),
        "v-600-brute-table": st_bytes(tiny_weights(600, 2)),
        "v-128-k-5-2^28-inputs": st_bytes(tiny_weights(128, 5, d=2)),
    }
    return out


def _header_raw(text: bytes) -> bytes:
    return len(text).to_bytes(8, "little") + text


# ---- certificates ---------------------------------------------------------------------------


def rebind(cert: bytes, old_sha: str, new_sha: str) -> bytes:
    """The certificate with every header string equal to ``old_sha`` replaced by ``new_sha``
    (the header length adjusted); byte-identical elsewhere."""
    c = parse(cert)
    if c is None:
        return cert

    def sub(x: Any) -> Any:
        if isinstance(x, dict):
            return {key: sub(v) for key, v in x.items()}
        if isinstance(x, list):
            return [sub(v) for v in x]
        return new_sha if x == old_sha else x

    return c.encode(sub(c.header))


def _first_array_decl(header: Any) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    for path, node in walk(header):
        if isinstance(node, dict) and isinstance(node.get("offset"), int) and "nbytes" in node:
            return path, node
    return None


def _with(header: Any, path: tuple[Any, ...], value: Any) -> Any:
    from generators.audit.mutants import replace_at

    return replace_at(header, path, value)


def _decl_variant(raw: bytes, change: Callable[[dict[str, Any]], dict[str, Any]]) -> bytes | None:
    c = parse(raw)
    found = _first_array_decl(c.header) if c is not None else None
    if c is None or found is None:
        return None
    path, decl = found
    return c.encode(_with(c.header, path, change(dict(decl))))


def _shape(
    shape: list[int], nbytes: int | None = None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(decl: dict[str, Any]) -> dict[str, Any]:
        for key, val in decl.items():
            if isinstance(val, list) and all(isinstance(x, int) for x in val):
                decl[key] = shape
        if nbytes is not None:
            decl["nbytes"] = nbytes
        return decl

    return change


def repeat_steps(raw: bytes, times: int) -> bytes | None:
    """The longest list of objects in the header (the steps), its first element repeated
    ``times`` times in front; string fields whose values are unique across the list (ids)
    get a distinct suffix per copy."""
    c = parse(raw)
    if c is None:
        return None
    lists = [
        (p, n)
        for p, n in walk(c.header)
        if isinstance(n, list) and n and all(isinstance(x, dict) for x in n)
    ]
    if not lists:
        return None
    path, steps = max(lists, key=lambda pn: len(pn[1]))
    first = steps[0]
    ids = [
        key
        for key, val in first.items()
        if isinstance(val, str) and len({str(s.get(key)) for s in steps}) == len(steps) > 1
    ]
    copies = [{**first, **{key: f"{first[key]}-r{i}" for key in ids}} for i in range(times)]
    return c.encode(_with(c.header, path, copies + steps))


def certificate_files(cert: bytes, cubic: bytes) -> dict[str, bytes]:
    """Hostile certificates for the base model, name -> bytes."""
    n = int.from_bytes(cert[8:16], "little")
    out: dict[str, bytes | None] = {
        "empty": b"",
        "wrong-magic": b"NOTMECHP" + cert[8:],
        "header-length-2^64-1": cert[:8] + (2**64 - 1).to_bytes(8, "little") + cert[16:],
        "header-length-past-end": cert[:8] + (len(cert)).to_bytes(8, "little") + cert[16:],
        "header-invalid-utf8": cert[:8]
        + n.to_bytes(8, "little")
        + b"\xff\xfe" * (n // 2)
        + b"}" * (n % 2)
        + cert[16 + n :],
        "header-nested-100000": cert[:8]
        + (200000).to_bytes(8, "little")
        + b"[" * 100000
        + b"]" * 100000,
        "json-nan": _replace_json(cert, lambda h: _first_string_to(h, float("nan"))),
        "json-int-10^5000": _replace_json(cert, lambda h: _first_int_to(h, 5000)),
        "json-int-10^400": _replace_json(cert, lambda h: _first_int_to(h, 400)),
        "bound-10^399-digits": _replace_rational(cert, f"{10**399}/{10**399 - 1}"),
        "array-shape-2^62x2^62": _decl_variant(cubic, _shape([2**62, 2**62])),
        "array-shape-zero-beside-huge": _decl_variant(cubic, _shape([0] + [2**40 - 1] * 7, 0)),
        "array-100-dims": _decl_variant(cubic, _shape([1] * 100)),
        "array-shape-10^400": _decl_variant(cubic, _shape([10**400])),
        "array-nbytes-2^63": _decl_variant(cubic, lambda d: {**d, "nbytes": 2**63}),
        "steps-repeated-100000": repeat_steps(cert, 100000),
    }
    return {key: val for key, val in out.items() if val is not None}


def _replace_json(raw: bytes, change: Callable[[Any], str]) -> bytes | None:
    c = parse(raw)
    if c is None:
        return None
    text = change(c.header).encode()
    return raw[:8] + len(text).to_bytes(8, "little") + text + c.payload


def _first_int_to(header: Any, digits: int) -> str:
    """The header with its first integer replaced by 10^digits (written as text: past 4300
    digits Python's own ``json`` refuses to write it)."""
    mark = 987654321987654321987
    for path, node in walk(header):
        if isinstance(node, int) and not isinstance(node, bool) and path:
            return json.dumps(_with(header, path, mark)).replace(str(mark), "1" + "0" * digits)
    return json.dumps(header)


def _first_string_to(header: Any, value: float) -> str:
    for path, node in walk(header):
        if isinstance(node, str) and re.match(r"^[0-9]+/[0-9]+$", node):
            return json.dumps(_with(header, path, value))  # writes NaN
    return json.dumps(header)


def _replace_rational(raw: bytes, new: str) -> bytes | None:
    c = parse(raw)
    if c is None:
        return None
    for path, node in walk(c.header):
        if isinstance(node, str) and re.match(r"^[0-9]+/[0-9]+$", node):
            return c.encode(_with(c.header, path, new))
    return None


# ---- running --------------------------------------------------------------------------------


def _prove(strategy: str, model_path: Path, out: Path) -> tuple[bytes, Fraction, str]:
    from checker import load_model
    from generators.audit.runner import strategy_registry

    m = load_model(model_path)
    proof = strategy_registry()[strategy](m, None)
    proof.write(out, m.sha256)
    return out.read_bytes(), proof.bound, m.sha256


def build_cases(folder: Path) -> list[Case]:
    """Write every hostile case into ``folder`` and return them."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    base_w = make_weights(rng, 4, 3, 3, 1, 2, "trained-like")
    base = write_model(folder / "base.safetensors", base_w)
    cert, _, sha = _prove("brute-force", base, folder / "base.cert")
    cubic, _, _ = _prove("cubic", base, folder / "base-cubic.cert")
    cases: list[Case] = []
    for name, data in model_files({k: base_w[k] for k in KEYS}).items():
        mp = folder / f"model-{name}.safetensors"
        mp.write_bytes(data)
        cp = folder / f"model-{name}.cert"
        cp.write_bytes(rebind(cert, sha, hashlib.sha256(data).hexdigest()))
        cases.append(Case(f"model:{name}", "model", cp, mp))
    for name, data in certificate_files(cert, cubic).items():
        cp = folder / f"cert-{name}.cert"
        cp.write_bytes(data)
        cases.append(Case(f"cert:{name}", "certificate", cp, base))
    for what, target in (("dev-zero", "/dev/zero"), ("dir", str(folder))):
        link = folder / f"link-{what}"
        if not link.exists():
            os.symlink(target, link)
        cases.append(Case(f"cert:symlink-to-{what}", "certificate", link, base))
        cases.append(Case(f"model:symlink-to-{what}", "model", folder / "base.cert", link))
    fifo = folder / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    cases.append(Case("cert:fifo", "certificate", fifo, base))
    cases.append(Case("model:fifo", "model", folder / "base.cert", fifo))
    if platform.machine() in ("x86_64", "AMD64"):  # the worker's fesetround constants
        opts = {"rounding": "upward"}
        cases.append(Case("env:directed-rounding", "environment", folder / "base.cert", base, opts))
    return cases


def perfect_model(path: Path) -> Path:
    """v=3, k=2: attention on the max by a wide margin, which it copies: every input correct."""
    head = Head(
        s=[0.0, 8.0, 16.0], r=[0.0, 0.0], evou=(4 * np.eye(3)).tolist(), pvou=[[0.0] * 3] * 2
    )
    return table_model(path, [head], [[0.0] * 3 for _ in range(3)])


def text_verdict_case(folder: Path) -> tuple[str, Path, Path, Fraction] | None:
    """A certificate claiming 999999999/1000000000 on a model whose every input is correct
    (so it verifies); its text verdict must not print a decimal above that bound."""
    model = perfect_model(folder / "perfect.safetensors")
    raw, bound, _ = _prove("brute-force", model, folder / "perfect.cert")
    if bound != 1:
        return None
    low = Fraction(999999999, 1000000000)
    data = _replace_rational(raw, f"{low.numerator}/{low.denominator}")
    if data is None:
        return None
    cert = folder / "perfect-low.cert"
    cert.write_bytes(data)
    return "text-verdict-rounding", cert, model, low


def check_text_verdict(cert: Path, model: Path, bound: Fraction, seconds: float) -> str | None:
    """None if the kernel's text verdict prints no decimal above ``bound``; else the problem."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "checker", str(cert), "--model", str(model)],
            capture_output=True,
            text=True,
            timeout=seconds * 4,
        )
    except subprocess.TimeoutExpired:
        return f"the text verdict took over {seconds * 4:.1f}s"
    for num in re.findall(r"=\s*([0-9]+\.[0-9]+)", proc.stdout):
        if Fraction(num) > bound:
            return f"text verdict prints {num} beside the bound {bound} (it must round down)"
    return None


def run_hostile(audit: Audit) -> None:
    from generators.audit.checkers import KernelChecker, Outcome
    from generators.audit.runner import Finding

    row = audit.row(audit.phases, "hostile")
    lim = audit.opts.hostile_limits
    builtin = isinstance(audit.checker, KernelChecker)
    try:  # the corpus is built with the generators, which may not cover a new format yet
        corpus = build_cases(audit.work / "hostile")
        tv = text_verdict_case(audit.work / "hostile") if builtin else None
    except Exception:  # noqa: BLE001
        audit.record(
            Finding("generator-crash", "hostile", "building the corpus", traceback.format_exc()),
            {},
            "mechproof audit --phases hostile",
        )
        return
    for case in corpus:
        if audit.over_budget():
            audit.stopped = "budget spent during the hostile phase"
            return
        if case.opts and not builtin:
            continue
        out: Outcome = audit.checker.check(case.cert, case.model, lim, **case.opts)
        row.cases += 1
        audit.hostile[case.name] = (
            out.status if out.status != "rejected" else f"rejected ({out.reason})"
        )
        if audit.judge(
            out,
            phase="hostile",
            case=case.name,
            cert=case.cert,
            model=case.model,
            ceiling=case.ceiling,
        ):
            row.findings += 1
        elif not out.verified and out.reason is None and out.status == "rejected":
            audit.notes.append(f"hostile {case.name}: rejected without a reason")
        audit.tick()
    if tv is not None and not audit.over_budget():
        name, cert, model, bound = tv
        row.cases += 1
        problem = check_text_verdict(cert, model, bound, lim.seconds)
        audit.hostile[name] = "false-verified" if problem else "ok"
        if problem:
            row.findings += 1
            audit.record(
                Finding("false-verified", "hostile", name, problem),
                {"cert.mechproof": cert, "model.safetensors": model},
                f"{sys.executable} -m checker cert.mechproof --model model.safetensors",
            )
