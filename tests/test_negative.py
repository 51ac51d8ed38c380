"""Negative corpus (DESIGN.md §7): minimal mutants of good certificates, each rejected with
its specific reason; malformed files end in a clear rejection; any single-byte change is
rejected or verifies a bound no higher than the original; a checker that always accepts
fails this corpus."""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prove_util import prove_to

from checker import CheckError, Reason, kernel
from generators.tinymodels import make_weights, write_model


def split(raw: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(raw[8:16], "little")
    return json.loads(raw[16 : 16 + n]), raw[16 + n :]


def join(header: dict, payload: bytes) -> bytes:
    text = json.dumps(header).encode()
    return b"MECHPROF" + len(text).to_bytes(8, "little") + text + payload


def edit(fn: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def mutate(raw: bytes) -> bytes:
        h, p = split(raw)
        fn(h)
        return join(h, p)

    return mutate


def _set_bit(raw: bytes, m: int, c: int, t: int, arg: str = "sets") -> bytes:
    h, p = split(raw)
    step = next(s for s in h["steps"] if s["rule"] == "position-cases")
    a = h["arrays"][step["args"][arg]]
    arr = np.frombuffer(p, np.uint8, a["nbytes"], a["offset"]).reshape(a["shape"]).copy()
    bits = np.unpackbits(arr, axis=2)
    bits[m, c, t] = 1
    arr = np.packbits(bits, axis=2)
    p = p[: a["offset"]] + arr.tobytes() + p[a["offset"] + a["nbytes"] :]
    return join(h, p)


def _first(h: dict, rule: str) -> dict:
    return next(s for s in h["steps"] if s["rule"] == rule)


BRUTE_MUTANTS: dict[str, tuple[Callable[[bytes], bytes], Reason]] = {
    "magic": (lambda r: b"MECHPROG" + r[8:], Reason.CERT_UNREADABLE),
    "version": (edit(lambda h: h.update(version=2)), Reason.CERT_VERSION),
    "bound-raised": (edit(lambda h: h.update(bound="1/1")), Reason.BOUND_NOT_PROVEN),
    "bound-not-rational": (edit(lambda h: h.update(bound="0.5")), Reason.CERT_SCHEMA),
    "bound-above-one": (edit(lambda h: h.update(bound="3/2")), Reason.CERT_SCHEMA),
    "model-hash": (edit(lambda h: h.update(model_sha256="0" * 64)), Reason.MODEL_MISMATCH),
    "task": (edit(lambda h: h.update(task="sort")), Reason.TASK_MISMATCH),
    "claim+1": (
        edit(
            lambda h: _first(h, "enumerate")["claim"].update(
                correct=_first(h, "enumerate")["claim"]["correct"] + 1
            )
        ),
        Reason.CLAIM_MISMATCH,
    ),
    "claim-1": (
        edit(
            lambda h: _first(h, "enumerate")["claim"].update(
                correct=_first(h, "enumerate")["claim"]["correct"] - 1
            )
        ),
        Reason.CLAIM_MISMATCH,
    ),
    "claim-negative": (
        edit(lambda h: _first(h, "enumerate")["claim"].update(correct=-1)),
        Reason.CERT_SCHEMA,
    ),
    "claim-float": (
        edit(lambda h: _first(h, "enumerate")["claim"].update(correct=1.0)),
        Reason.CERT_SCHEMA,
    ),
    "query-out-of-range": (
        edit(lambda h: _first(h, "enumerate")["args"].update(query=999)),
        Reason.BAD_HINT,
    ),
    "query-bool": (
        edit(lambda h: _first(h, "enumerate")["args"].update(query=True)),
        Reason.BAD_HINT,
    ),
    "query-duplicate": (
        edit(lambda h: h["steps"].append(dict(_first(h, "enumerate"), id="dup"))),
        Reason.OVERLAP,
    ),
    "unknown-rule": (
        edit(lambda h: _first(h, "enumerate").update(rule="trust-me")),
        Reason.UNKNOWN_RULE,
    ),
    "bad-reference": (
        edit(lambda h: _first(h, "enumerate")["args"].update(tables="nope")),
        Reason.BAD_REFERENCE,
    ),
    "forward-reference": (edit(lambda h: h["steps"].reverse()), Reason.BAD_REFERENCE),
    "duplicate-step-id": (
        edit(lambda h: h["steps"][1].update(id=h["steps"][0]["id"])),
        Reason.CERT_SCHEMA,
    ),
    "missing-field": (edit(lambda h: h.pop("strategy")), Reason.CERT_SCHEMA),
    "unknown-field": (edit(lambda h: h.update(trust=True)), Reason.CERT_SCHEMA),
    "extra-arg": (
        edit(lambda h: _first(h, "enumerate")["args"].update(fast=True)),
        Reason.CERT_SCHEMA,
    ),
    "no-steps": (edit(lambda h: h.update(steps=[])), Reason.CERT_SCHEMA),
    "truncated": (lambda r: r[:-1] if split(r)[1] else r[: len(r) - 5], Reason.CERT_SIZE),
    "trailing-byte": (lambda r: r + b"\0", Reason.CERT_SIZE),
    "header-length-huge": (
        lambda r: r[:8] + (1 << 40).to_bytes(8, "little") + r[16:],
        Reason.CERT_SIZE,
    ),
    "nan-json": (lambda r: join_raw(r, b'"bound":NaN'), Reason.CERT_UNREADABLE),
    "not-json": (lambda r: r[:16] + b"{" * (len(r) - 16), Reason.CERT_UNREADABLE),
    "empty": (lambda r: b"", Reason.CERT_UNREADABLE),
}


def join_raw(raw: bytes, bound_field: bytes) -> bytes:
    h, p = split(raw)
    text = json.dumps(h).encode()
    text = text.replace(b'"bound": "' + h["bound"].encode() + b'"', bound_field)
    return b"MECHPROF" + len(text).to_bytes(8, "little") + text + p


CUBIC_MUTANTS: dict[str, tuple[Callable[[bytes], bytes], Reason]] = {
    "variant": (
        edit(lambda h: _first(h, "position-cases")["args"].update(values="optimistic")),
        Reason.BAD_HINT,
    ),
    "sets-missing": (
        edit(lambda h: _first(h, "position-cases")["args"].update(sets="nope")),
        Reason.BAD_HINT,
    ),
    "bit-t-equals-m": (lambda r: _set_bit(r, 3, 1, 3), Reason.BAD_HINT),
    "bit-impossible-case": (lambda r: _set_bit(r, 5, 2, 0), Reason.BAD_HINT),  # q=0 < m, c = k-1
    "claim+1": (
        edit(
            lambda h: _first(h, "position-cases")["claim"].update(
                correct=_first(h, "position-cases")["claim"]["correct"] + 1
            )
        ),
        Reason.CLAIM_MISMATCH,
    ),
    "array-dtype": (
        edit(lambda h: next(iter(h["arrays"].values())).update(dtype="f8")),
        Reason.CERT_SIZE,
    ),
    "array-offset": (
        edit(lambda h: next(iter(h["arrays"].values())).update(offset=1)),
        Reason.CERT_SIZE,
    ),
}


SPLIT_MUTANTS: dict[str, tuple[Callable[[bytes], bytes], Reason]] = {
    "split-missing": (
        edit(lambda h: _first(h, "position-cases")["args"].update(split="nope")),
        Reason.BAD_HINT,
    ),
    "split-extra-arg": (
        edit(lambda h: _first(h, "position-cases")["args"].update(hard="S0")),
        Reason.CERT_SCHEMA,
    ),
    "split-bit-c0": (lambda r: _set_bit(r, 3, 0, 1, "split"), Reason.BAD_HINT),
    "split-bit-t-equals-m": (lambda r: _set_bit(r, 3, 1, 3, "split"), Reason.BAD_HINT),
    "split-claim+1": (
        edit(
            lambda h: _first(h, "position-cases")["claim"].update(
                correct=_first(h, "position-cases")["claim"]["correct"] + 1
            )
        ),
        Reason.CLAIM_MISMATCH,
    ),
}

TABLES = (("brute", BRUTE_MUTANTS), ("cubic", CUBIC_MUTANTS), ("split", SPLIT_MUTANTS))


@pytest.fixture(scope="module")
def good(small_trained, tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    return {
        "brute": prove_to(small_trained, "brute-force", d / "bf.cert").read_bytes(),
        "cubic": prove_to(small_trained, "cubic", d / "cubic.cert").read_bytes(),
        "split": prove_to(small_trained, "cubic-paired-split", d / "split.cert").read_bytes(),
    }


def run_corpus(
    check: Callable[[Path, Path], object], good: dict, model: Path, tmp: Path
) -> list[str]:
    """Return the mutants the given checker failed to reject with the expected reason."""
    missed = []
    for kind, table in TABLES:
        if kind not in good:
            continue
        for name, (mutate, reason) in table.items():
            path = tmp / f"{kind}-{name}.cert"
            path.write_bytes(mutate(good[kind]))
            try:
                check(path, model)
                missed.append(f"{kind}/{name}: accepted")
            except CheckError as exc:
                if exc.reason is not reason:
                    missed.append(f"{kind}/{name}: {exc.reason} instead of {reason}: {exc}")
    return missed


def test_good_certificates_verify(good, small_trained, tmp_path):
    for kind in good:
        p = tmp_path / f"{kind}.cert"
        p.write_bytes(good[kind])
        assert kernel.check(p, small_trained).verified


def test_negative_corpus(good, small_trained, tmp_path):
    assert run_corpus(kernel.check, good, small_trained, tmp_path) == []


def test_always_accepting_checker_fails_the_corpus(good, small_trained, tmp_path):
    def accept_all(cert: Path, model: Path) -> object:
        return True

    missed = run_corpus(accept_all, good, small_trained, tmp_path)
    assert len(missed) == len(BRUTE_MUTANTS) + len(CUBIC_MUTANTS) + len(SPLIT_MUTANTS)


def test_wrong_model_rejected(good, tmp_path):
    rng = np.random.default_rng(0)
    other = write_model(tmp_path / "other.safetensors", make_weights(rng, 8, 3, 8, 1, 8, "random"))
    p = tmp_path / "bf.cert"
    p.write_bytes(good["brute"])
    with pytest.raises(CheckError) as exc:
        kernel.check(p, other)
    assert exc.value.reason is Reason.MODEL_MISMATCH


def test_cubic_on_two_heads_unsupported(tmp_path):
    from certificates.writer import write
    from checker import load_model

    rng = np.random.default_rng(1)
    path = write_model(tmp_path / "h2.safetensors", make_weights(rng, 4, 2, 4, 2, 2, "random"))
    m = load_model(path)
    sets = np.zeros((4, 2, 1), np.uint8)
    steps = [
        {"id": "t", "rule": "path-tables", "args": {}, "claim": {}},
        {
            "id": "c",
            "rule": "position-cases",
            "args": {"tables": "t", "query": 0, "values": "paper", "sets": "G"},
            "claim": {"correct": 0},
        },
    ]
    write(
        tmp_path / "c.cert",
        model_sha256=m.sha256,
        strategy="x",
        bound="0/1",
        steps=steps,
        arrays={"G": sets},
    )
    with pytest.raises(CheckError) as exc:
        kernel.check(tmp_path / "c.cert", path)
    assert exc.value.reason is Reason.UNSUPPORTED


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_single_byte_changes(good, small_trained, tmp_path, data):
    kind = data.draw(st.sampled_from(sorted(good)))
    raw = bytearray(good[kind])
    pos = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[pos]))
    original = Fraction(split(bytes(raw))[0]["bound"])
    raw[pos] = new
    path = tmp_path / "mut.cert"
    path.write_bytes(bytes(raw))
    try:
        verdict = kernel.check(path, small_trained)
    except CheckError:
        return
    assert Fraction(int(verdict.bound.p), int(verdict.bound.q)) <= original


@pytest.mark.parametrize(("rule", "v", "k"), [("enumerate", 2, 30), ("position-cases", 2, 110)])
def test_work_limit_refuses_huge_enumerations(tmp_path, rule, v, k):
    """A model whose inputs could not be enumerated (or case tables not held) in reasonable
    time: the kernel refuses quickly with `unsupported`, instead of hanging."""

    from certificates.writer import write
    from checker import load_model

    rng = np.random.default_rng(2)
    path = write_model(tmp_path / "big.safetensors", make_weights(rng, v, k, 2, 1, 2, "random"))
    m = load_model(path)
    args: dict = {"tables": "t", "query": 0}
    arrays = {}
    if rule == "position-cases":
        args.update(values="paper", sets="G")
        arrays["G"] = np.zeros((v, k, 1), np.uint8)
    steps = [
        {"id": "t", "rule": "path-tables", "args": {}, "claim": {}},
        {"id": "s", "rule": rule, "args": args, "claim": {"correct": 0}},
    ]
    cert = tmp_path / "c.cert"
    write(cert, model_sha256=m.sha256, strategy="x", bound="0/1", steps=steps, arrays=arrays)
    with pytest.raises(CheckError) as exc:
        kernel.check(cert, path)
    assert exc.value.reason is Reason.UNSUPPORTED
    assert "limit" in exc.value.detail
