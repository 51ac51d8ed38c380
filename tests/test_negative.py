"""Negative corpus (DESIGN.md §7, STYLE.md 11): minimal one-field mutants of good version-2
certificates (a brute-force, a cubic and a split trace), each rejected with its specific
reason; malformed files end in a clear rejection; any single-byte change is rejected or
verifies a bound no higher than the original; a checker that always accepts fails this
corpus.

A mutant changes one thing: a header field, one field of one step (rule, cite, args,
claim), one array declaration or its bytes, or the order / number of steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prove_util import prove_to

from checker import CheckError, Reason, kernel, load_model
from generators.tinymodels import make_weights, write_model
from generators.trace import Trace

Mutate = Callable[[bytes], bytes]


def split(raw: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(raw[8:16], "little")
    return json.loads(raw[16 : 16 + n]), raw[16 + n :]


def join(header: Any, payload: bytes) -> bytes:
    text = json.dumps(header).encode()
    return b"MECHPROF" + len(text).to_bytes(8, "little") + text + payload


def edit(fn: Callable[[dict], Any]) -> Mutate:
    """A mutant that edits the parsed header in place (payload unchanged)."""

    def mutate(raw: bytes) -> bytes:
        h, p = split(raw)
        fn(h)
        return join(h, p)

    return mutate


def step(h: dict, sid: str) -> dict:
    return next(s for s in h["steps"] if s["id"] == sid)


def first(h: dict, rule: str) -> dict:
    return next(s for s in h["steps"] if s["rule"] == rule)


def on(sid: str, field: str, fn: Callable[[dict], Any]) -> Mutate:
    """Edit field ``field`` (cite / args / claim) of step ``sid``."""
    return edit(lambda h: fn(step(h, sid)[field]))


def set_step(sid: str, **fields: Any) -> Mutate:
    return edit(lambda h: step(h, sid).update(fields))


def with_array(name: str, arr: np.ndarray, fn: Callable[[dict], Any]) -> Mutate:
    """Append array ``name`` to the payload (declared after the others), then edit the
    header with ``fn``."""

    def mutate(raw: bytes) -> bytes:
        h, p = split(raw)
        a = np.ascontiguousarray(arr)
        code = {np.dtype("<f8"): "f8", np.dtype("<i8"): "i8", np.dtype("u1"): "u1"}[a.dtype]
        h["arrays"][name] = {
            "dtype": code,
            "shape": list(a.shape),
            "offset": len(p),
            "nbytes": a.nbytes,
        }
        fn(h)
        return join(h, p + a.tobytes())

    return mutate


def move(sid: str, after: str) -> Mutate:
    """Move step ``sid`` to just after step ``after``."""

    def fn(h: dict) -> None:
        s = step(h, sid)
        h["steps"].remove(s)
        h["steps"].insert(h["steps"].index(step(h, after)) + 1, s)

    return edit(fn)


def delete(sid: str) -> Mutate:
    return edit(lambda h: h["steps"].remove(step(h, sid)))


def duplicate(sid: str, new_id: str) -> Mutate:
    return edit(lambda h: h["steps"].append(dict(step(h, sid), id=new_id)))


def claim_plus(sid: str, n: int) -> Mutate:
    return on(sid, "claim", lambda c: c.update(correct=c["correct"] + n))


def set_bit(sid: str, arg: str, m: int, c: int, t: int | None = None) -> Mutate:
    """Set bit [m, c, t] of the bit array named by ``arg`` of step ``sid``; t=None takes a
    token that is in G (the step's 'sets') for that (m, c)."""

    def mutate(raw: bytes) -> bytes:
        h, p = split(raw)
        s = step(h, sid)

        def bits_of(key: str) -> tuple[dict, np.ndarray]:
            a = h["arrays"][s["args"][key]]
            arr = np.frombuffer(p, np.uint8, a["nbytes"], a["offset"]).reshape(a["shape"])
            return a, np.unpackbits(arr, axis=2).copy()

        a, bits = bits_of(arg)
        tt = t if t is not None else int(np.flatnonzero(bits_of("sets")[1][m, c])[0])
        bits[m, c, tt] = 1
        data = np.packbits(bits, axis=2).tobytes()
        return join(h, p[: a["offset"]] + data + p[a["offset"] + a["nbytes"] :])

    return mutate


def v1_certificate(raw: bytes) -> bytes:
    """A certificate of format version 1 (three monolithic rules, hint-only steps) for the
    same model: what this checker no longer reads."""
    h, _ = split(raw)
    v1 = {
        "format": "mechproof-certificate",
        "version": 1,
        "task": h["task"],
        "model_sha256": h["model_sha256"],
        "strategy": "brute-force",
        "bound": h["bound"],
        "arrays": {},
        "steps": [{"id": "tables", "rule": "path-tables", "args": {}, "claim": {}}]
        + [
            {
                "id": s["id"],
                "rule": "enumerate",
                "args": {"tables": "tables", "query": s["args"]["query"]},
                "claim": s["claim"],
            }
            for s in h["steps"]
            if s["rule"] == "enumerate"
        ],
    }
    return join(v1, b"")


def _raw_bound(raw: bytes, text: bytes) -> bytes:
    """Replace the bound field's JSON text (for what json.dumps cannot write)."""
    h, p = split(raw)
    body = json.dumps(h).encode().replace(b'"bound": "' + h["bound"].encode() + b'"', text)
    return b"MECHPROF" + len(body).to_bytes(8, "little") + body + p


R = Reason
EU_SHAPE = (8, 8)  # the small model: v = 8, k = 3

HEADER_MUTANTS: dict[str, tuple[Mutate, Reason]] = {
    "magic": (lambda r: b"MECHPROG" + r[8:], R.CERT_UNREADABLE),
    "empty": (lambda r: b"", R.CERT_UNREADABLE),
    "not-json": (lambda r: r[:16] + b"{" * (len(r) - 16), R.CERT_UNREADABLE),
    "nan-json": (lambda r: _raw_bound(r, b'"bound": NaN'), R.CERT_UNREADABLE),
    "duplicate-json-key": (
        lambda r: _raw_bound(r, b'"bound": "0/1", "bound": "0/1"'),
        R.CERT_UNREADABLE,
    ),
    "header-not-object": (lambda r: join([1, 2], split(r)[1]), R.CERT_SCHEMA),
    "header-length-huge": (lambda r: r[:8] + (1 << 40).to_bytes(8, "little") + r[16:], R.CERT_SIZE),
    "format": (edit(lambda h: h.update(format="other")), R.CERT_SCHEMA),
    "version-1": (edit(lambda h: h.update(version=1)), R.CERT_VERSION),
    "version-3": (edit(lambda h: h.update(version=3)), R.CERT_VERSION),
    "version-string": (edit(lambda h: h.update(version="2")), R.CERT_VERSION),
    "semantics-float32": (edit(lambda h: h.update(semantics="float32")), R.CERT_SCHEMA),
    "semantics-int": (edit(lambda h: h.update(semantics=1)), R.CERT_SCHEMA),
    "semantics-missing": (edit(lambda h: h.pop("semantics")), R.CERT_SCHEMA),
    "task": (edit(lambda h: h.update(task="sort")), R.TASK_MISMATCH),
    "task-empty": (edit(lambda h: h.update(task="")), R.CERT_SCHEMA),
    "model-hash": (edit(lambda h: h.update(model_sha256="0" * 64)), R.MODEL_MISMATCH),
    "model-hash-int": (edit(lambda h: h.update(model_sha256=0)), R.CERT_SCHEMA),
    "strategy-empty": (edit(lambda h: h.update(strategy="")), R.CERT_SCHEMA),
    "strategy-list": (edit(lambda h: h.update(strategy=["cubic"])), R.CERT_SCHEMA),
    "bound-raised": (edit(lambda h: h.update(bound="1/1")), R.BOUND_NOT_PROVEN),
    "bound-not-rational": (edit(lambda h: h.update(bound="0.5")), R.CERT_SCHEMA),
    "bound-above-one": (edit(lambda h: h.update(bound="3/2")), R.CERT_SCHEMA),
    "bound-negative": (edit(lambda h: h.update(bound="-1/2")), R.CERT_SCHEMA),
    "bound-zero-denominator": (edit(lambda h: h.update(bound="1/0")), R.CERT_SCHEMA),
    "bound-number": (edit(lambda h: h.update(bound=0.5)), R.CERT_SCHEMA),
    "missing-field": (edit(lambda h: h.pop("strategy")), R.CERT_SCHEMA),
    "unknown-field": (edit(lambda h: h.update(trust=True)), R.CERT_SCHEMA),
    "arrays-list": (edit(lambda h: h.update(arrays=[])), R.CERT_SCHEMA),
    "steps-empty": (edit(lambda h: h.update(steps=[])), R.CERT_SCHEMA),
    "steps-object": (edit(lambda h: h.update(steps={})), R.CERT_SCHEMA),
    "truncated": (lambda r: r[:-1], R.CERT_SIZE),
    "truncated-header": (lambda r: r[:40], R.CERT_SIZE),
    "trailing-byte": (lambda r: r + b"\0", R.CERT_SIZE),
}

BRUTE_MUTANTS: dict[str, tuple[Mutate, Reason]] = {
    **HEADER_MUTANTS,
    # the step record
    "step-not-object": (edit(lambda h: h["steps"].__setitem__(0, "EU")), R.CERT_SCHEMA),
    "step-missing-claim": (edit(lambda h: step(h, "q0").pop("claim")), R.CERT_SCHEMA),
    "step-extra-field": (set_step("q0", trust=True), R.CERT_SCHEMA),
    "step-id-int": (set_step("q0", id=7), R.CERT_SCHEMA),
    "step-id-malformed": (set_step("q0", id="q 0"), R.CERT_SCHEMA),
    "step-id-duplicate": (set_step("q1", id="q0"), R.CERT_SCHEMA),
    "rule-unknown": (set_step("q0", rule="trust-me"), R.UNKNOWN_RULE),
    "rule-int": (set_step("q0", rule=3), R.CERT_SCHEMA),
    "rule-swapped": (set_step("EVOU0", rule="exp"), R.CERT_SCHEMA),
    "cite-not-object": (set_step("q0", cite=["EU"]), R.CERT_SCHEMA),
    "args-not-object": (set_step("q0", args=[0]), R.CERT_SCHEMA),
    "claim-not-object": (set_step("q0", claim=5), R.CERT_SCHEMA),
    # cite
    "cite-missing-role": (on("q0", "cite", lambda c: c.pop("eupu")), R.CERT_SCHEMA),
    "cite-extra-role": (on("q0", "cite", lambda c: c.update(extra="EU")), R.CERT_SCHEMA),
    "cite-unknown-id": (on("q0", "cite", lambda c: c.update(eupu="nope")), R.BAD_REFERENCE),
    "cite-int-id": (on("q0", "cite", lambda c: c.update(eupu=0)), R.BAD_REFERENCE),
    "cite-count-as-tensor": (on("q1", "cite", lambda c: c.update(eupu="q0")), R.BAD_REFERENCE),
    "cite-list-for-one": (on("q0", "cite", lambda c: c.update(eupu=["EU"])), R.BAD_REFERENCE),
    "cite-one-for-list": (on("q0", "cite", lambda c: c.update(evou="EVOU0")), R.BAD_REFERENCE),
    "cite-too-many-heads": (
        on("q0", "cite", lambda c: c["g"].append("exp.EQKE0")),
        R.BAD_REFERENCE,
    ),
    "cite-eqkp-for-eqke": (on("q0", "cite", lambda c: c.update(g=["exp.EQKP0"])), R.BAD_REFERENCE),
    "cite-scores-for-exp": (on("q0", "cite", lambda c: c.update(g=["EQKE0"])), R.BAD_REFERENCE),
    "cite-evou-for-eupu": (on("q0", "cite", lambda c: c.update(eupu="EVOU0")), R.BAD_REFERENCE),
    "cite-self": (on("q0", "cite", lambda c: c.update(eupu="q0")), R.BAD_REFERENCE),
    # EVOU0 becomes PV0 @ OU0, which PVOU0 then repeats: refused before any count uses it
    "cite-matmul-wrong-factor": (on("EVOU0", "cite", lambda c: c.update(a="PV0")), R.CERT_SCHEMA),
    # args
    "args-missing": (on("q0", "args", lambda a: a.pop("query")), R.CERT_SCHEMA),
    "args-extra": (on("q0", "args", lambda a: a.update(fast=True)), R.CERT_SCHEMA),
    "query-out-of-range": (on("q0", "args", lambda a: a.update(query=8)), R.BAD_HINT),
    "query-negative": (on("q0", "args", lambda a: a.update(query=-1)), R.BAD_HINT),
    "query-bool": (on("q0", "args", lambda a: a.update(query=True)), R.BAD_HINT),
    "query-string": (on("q0", "args", lambda a: a.update(query="0")), R.BAD_HINT),
    "query-float": (on("q0", "args", lambda a: a.update(query=0.0)), R.BAD_HINT),
    "query-repeated": (on("q1", "args", lambda a: a.update(query=0)), R.OVERLAP),
    "factor-name": (on("EQ0", "args", lambda a: a.update(name="WQ")), R.BAD_HINT),
    "factor-head": (on("EQ0", "args", lambda a: a.update(head=1)), R.BAD_HINT),
    # EK0 becomes the PK factor, which step PK0 then repeats
    "factor-other": (on("EK0", "args", lambda a: a.update(name="PK")), R.CERT_SCHEMA),
    "transpose-not-bool": (on("EQKE0", "args", lambda a: a.update(transpose_b=1)), R.BAD_HINT),
    "transpose-flipped": (
        on("EQKP0", "args", lambda a: a.update(transpose_b=False)),
        R.LEMMA_FAILED,
    ),
    # claim
    "claim+1": (claim_plus("q0", 1), R.CLAIM_MISMATCH),
    "claim-1": (claim_plus("q0", -1), R.CLAIM_MISMATCH),
    "claim-negative": (on("q0", "claim", lambda c: c.update(correct=-1)), R.CERT_SCHEMA),
    "claim-float": (on("q0", "claim", lambda c: c.update(correct=1.0)), R.CERT_SCHEMA),
    "claim-string": (on("q0", "claim", lambda c: c.update(correct="1")), R.CERT_SCHEMA),
    "claim-missing": (set_step("q0", claim={}), R.CERT_SCHEMA),
    "claim-extra-key": (on("q0", "claim", lambda c: c.update(incorrect=0)), R.CERT_SCHEMA),
    "claim-on-exp": (set_step("exp.EQKE0", claim={"correct": 1}), R.CERT_SCHEMA),
    "tensor-claim-no-array": (
        set_step("EU", claim={"mid": "nope", "rad": "nope"}),
        R.BAD_HINT,
    ),
    "tensor-claim-half": (set_step("EU", claim={"mid": "EUm"}), R.CERT_SCHEMA),
    "tensor-claim-too-tight": (
        with_array(
            "EUz",
            np.zeros(EU_SHAPE),
            lambda h: step(h, "EU").update(claim={"mid": "EUz", "rad": "EUz"}),
        ),
        R.CLAIM_MISMATCH,
    ),
    "tensor-claim-wrong-shape": (
        with_array(
            "EUs",
            np.full((8, 7), 1e9),
            lambda h: step(h, "EU").update(claim={"mid": "EUs", "rad": "EUs"}),
        ),
        R.BAD_HINT,
    ),
    "tensor-claim-wrong-dtype": (
        with_array(
            "EUi",
            np.full(EU_SHAPE, 10**9, np.int64),
            lambda h: step(h, "EU").update(claim={"mid": "EUi", "rad": "EUi"}),
        ),
        R.BAD_HINT,
    ),
    "tensor-claim-nan": (
        with_array(
            "EUn",
            np.full(EU_SHAPE, np.nan),
            lambda h: step(h, "EU").update(claim={"mid": "EUn", "rad": "EUn"}),
        ),
        R.LEMMA_FAILED,
    ),
    "tensor-claim-negative-radius": (
        with_array(
            "EUneg",
            np.full(EU_SHAPE, -1.0),
            lambda h: step(h, "EU").update(claim={"mid": "EUneg", "rad": "EUneg"}),
        ),
        R.CLAIM_MISMATCH,  # encloses nothing
    ),
    # order and number of steps
    "order-reversed": (edit(lambda h: h["steps"].reverse()), R.BAD_REFERENCE),
    "order-cite-later-step": (move("EVOU0", "q0"), R.BAD_REFERENCE),
    "order-factor-after-use": (move("EQ0", "EQKP0"), R.BAD_REFERENCE),
    "deleted-table-step": (delete("PVOU0"), R.BAD_REFERENCE),
    "deleted-count-step": (delete("q3"), R.BOUND_NOT_PROVEN),
    "duplicated-count-step": (duplicate("q2", "again"), R.OVERLAP),
    "duplicated-step-same-id": (duplicate("EU", "EU"), R.CERT_SCHEMA),
}

CUBIC_MUTANTS: dict[str, tuple[Mutate, Reason]] = {
    "positions": (on("value.worst", "args", lambda a: a.update(positions="best")), R.BAD_HINT),
    "value-cites-eupu": (on("value.worst", "cite", lambda c: c.update(evou="EU")), R.BAD_REFERENCE),
    "margin-cites-evou": (on("w0", "cite", lambda c: c.update(eupu="EVOU0")), R.BAD_REFERENCE),
    "margin-cites-margin": (on("w1", "cite", lambda c: c.update(value="w0")), R.BAD_REFERENCE),
    "cases-cites-value": (
        on("q0", "cite", lambda c: c.update(margin="value.worst")),
        R.BAD_REFERENCE,
    ),
    "cases-eqkp-for-eqke": (on("q0", "cite", lambda c: c.update(g="exp.EQKP0")), R.BAD_REFERENCE),
    "cases-g-f-swapped": (
        on("q0", "cite", lambda c: c.update(g=c["f"], f=c["g"])),
        R.BAD_REFERENCE,
    ),
    # q1 counting query 0's margin: the kernel counts the cited bound's own query (0), so the
    # claim made for query 1 does not match; repeated whole, the step overlaps q0
    "cases-other-query": (on("q1", "cite", lambda c: c.update(margin="w0")), R.CLAIM_MISMATCH),
    "cases-repeats-query": (
        edit(
            lambda h: step(h, "q1").update({k: step(h, "q0")[k] for k in ("cite", "args", "claim")})
        ),
        R.OVERLAP,
    ),
    "sets-missing": (on("q0", "args", lambda a: a.update(sets="nope")), R.BAD_HINT),
    "sets-not-a-name": (on("q0", "args", lambda a: a.update(sets=3)), R.BAD_HINT),
    "sets-wrong-array": (on("q0", "args", lambda a: a.update(sets="G1")), R.CLAIM_MISMATCH),
    "bit-t-equals-m": (set_bit("q0", "sets", 3, 1, 3), R.BAD_HINT),
    "bit-t-above-m": (set_bit("q0", "sets", 3, 1, 5), R.BAD_HINT),
    "bit-impossible-case": (set_bit("q0", "sets", 5, 2, 0), R.BAD_HINT),  # q=0 < m, c = k-1
    "bit-below-query": (set_bit("q4", "sets", 2, 1, 0), R.BAD_HINT),  # m < q: empty case
    "claim+1": (claim_plus("q0", 1), R.CLAIM_MISMATCH),
    "claim-1": (claim_plus("q5", -1), R.CLAIM_MISMATCH),
    "array-name": (
        edit(lambda h: h.update(arrays={k.replace("G", "G "): a for k, a in h["arrays"].items()})),
        R.CERT_SCHEMA,
    ),
    "array-renamed": (
        edit(lambda h: h.update(arrays={k.lower(): a for k, a in h["arrays"].items()})),
        R.BAD_HINT,
    ),
    "array-dtype-f8": (edit(lambda h: h["arrays"]["G0"].update(dtype="f8")), R.CERT_SIZE),
    "array-dtype-unknown": (edit(lambda h: h["arrays"]["G0"].update(dtype="f4")), R.CERT_SCHEMA),
    "array-dtype-i8-all": (
        edit(
            lambda h: [a.update(dtype="i8", shape=[a["nbytes"] // 8]) for a in h["arrays"].values()]
        ),
        R.BAD_HINT,
    ),
    "array-shape": (edit(lambda h: h["arrays"]["G0"].update(shape=[8, 3, 2])), R.CERT_SIZE),
    "array-shape-negative": (
        edit(lambda h: h["arrays"]["G0"].update(shape=[-8, 3, 1])),
        R.CERT_SCHEMA,
    ),
    "array-shape-flat": (
        edit(lambda h: [a.update(shape=[a["nbytes"]]) for a in h["arrays"].values()]),
        R.BAD_HINT,
    ),
    "array-offset": (edit(lambda h: h["arrays"]["G0"].update(offset=1)), R.CERT_SIZE),
    "array-nbytes": (edit(lambda h: h["arrays"]["G0"].update(nbytes=25)), R.CERT_SIZE),
    "array-missing-key": (edit(lambda h: h["arrays"]["G0"].pop("nbytes")), R.CERT_SCHEMA),
    "array-undeclared": (edit(lambda h: h["arrays"].pop("G7")), R.CERT_SIZE),
}

SPLIT_MUTANTS: dict[str, tuple[Mutate, Reason]] = {
    "split-missing": (on("q0", "args", lambda a: a.update(split="nope")), R.BAD_HINT),
    "split-extra-arg": (on("q0", "args", lambda a: a.update(hard="S0")), R.CERT_SCHEMA),
    "split-bit-c0": (set_bit("q0", "split", 3, 0, 1), R.BAD_HINT),
    "split-bit-t-equals-m": (set_bit("q0", "split", 3, 1, 3), R.BAD_HINT),
    "split-bit-in-g": (set_bit("q0", "split", 7, 1), R.BAD_HINT),
    "split-claim+1": (claim_plus("q0", 1), R.CLAIM_MISMATCH),
    "paired-cites-value": (on("w0", "cite", lambda c: c.update(evou="PVOU0")), R.BAD_REFERENCE),
    "paired-query": (on("w0", "args", lambda a: a.update(query=99)), R.BAD_HINT),
    "paired-rule-as-margin": (set_step("w0", rule="margin"), R.CERT_SCHEMA),
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


def test_the_mutants_apply(good):
    """Every mutant changes the certificate (a mutant that silently did nothing would pass
    for the wrong reason), and the corpus is at least as large as format v1's (41)."""
    for kind, table in TABLES:
        for name, (mutate, _) in table.items():
            assert mutate(good[kind]) != good[kind], f"{kind}/{name}"
    assert sum(len(t) for _, t in TABLES) >= 100


def test_negative_corpus(good, small_trained, tmp_path):
    bad = run_corpus(kernel.check, good, small_trained, tmp_path)
    assert bad == [], "\n".join(bad)


def test_always_accepting_checker_fails_the_corpus(good, small_trained, tmp_path):
    def accept_all(cert: Path, model: Path) -> object:
        return True

    missed = run_corpus(accept_all, good, small_trained, tmp_path)
    assert len(missed) == sum(len(t) for _, t in TABLES)


def test_enclosing_tensor_claim_verifies(good, small_trained, tmp_path):
    """Positive control for the tensor-claim mutants: a claim that encloses the kernel's
    ball (here: EU's midpoints with radius 1) is accepted, the bound unchanged."""
    m = load_model(small_trained)
    from checker.rules.factor import make

    eu = make(m, "EU", 0)
    mutate = with_array(
        "EUr",
        np.ones(EU_SHAPE),
        lambda h: step(h, "EU").update(claim={"mid": "EUm", "rad": "EUr"}),
    )
    mid = with_array("EUm", np.array(eu.mid, dtype=np.float64), lambda h: None)
    p = tmp_path / "claim.cert"
    p.write_bytes(mutate(mid(good["brute"])))
    assert kernel.check(p, small_trained).to_json()["bound"] == split(good["brute"])[0]["bound"]


def test_version_1_certificate_says_how_to_regenerate(good, small_trained, tmp_path):
    p = tmp_path / "v1.cert"
    p.write_bytes(v1_certificate(good["brute"]))
    with pytest.raises(CheckError) as exc:
        kernel.check(p, small_trained)
    assert exc.value.reason is Reason.CERT_VERSION
    assert "version 1" in exc.value.detail and "mechproof prove" in exc.value.detail


def test_wrong_model_rejected(good, tmp_path):
    rng = np.random.default_rng(0)
    other = write_model(tmp_path / "other.safetensors", make_weights(rng, 8, 3, 8, 1, 8, "random"))
    p = tmp_path / "bf.cert"
    p.write_bytes(good["brute"])
    with pytest.raises(CheckError) as exc:
        kernel.check(p, other)
    assert exc.value.reason is Reason.MODEL_MISMATCH


def test_cubic_on_two_heads_unsupported(tmp_path):
    """A well-formed ``cases`` step on a two-head model: the rule covers one head only."""
    rng = np.random.default_rng(1)
    path = write_model(tmp_path / "h2.safetensors", make_weights(rng, 4, 2, 4, 2, 2, "random"))
    m = load_model(path)
    t = Trace(m)
    eu, (head,) = t.path_tables(range(1))
    w = t.paired(eu, head["evou"], head["pvou"], 0)
    t.cases(w, head["g"], head["f"], 0, np.zeros((4, 2, 4), bool), None)
    t.proof("x").write(tmp_path / "c.cert", m.sha256)
    with pytest.raises(CheckError) as exc:
        kernel.check(tmp_path / "c.cert", path)
    assert exc.value.reason is Reason.UNSUPPORTED and exc.value.step == "q0"


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


def _huge_trace(tmp: Path, rule: str, v: int, k: int) -> tuple[Path, Path]:
    """A well-formed trace on a model too large for ``rule``: the path tables, then one
    ``rule`` step written by hand (the generator could not evaluate it)."""
    rng = np.random.default_rng(2)
    path = write_model(tmp / "big.safetensors", make_weights(rng, v, k, 2, 1, 2, "random"))
    m = load_model(path)
    t = Trace(m)
    eu, heads = t.path_tables()
    if rule == "enumerate":
        cite = {"eupu": eu, **{r: [h[r] for h in heads] for r in ("evou", "pvou", "g", "f")}}
        args: dict[str, Any] = {"query": 0}
    else:
        w = t.paired(eu, heads[0]["evou"], heads[0]["pvou"], 0)
        cite = {"margin": w, "g": heads[0]["g"], "f": heads[0]["f"]}
        args = {"sets": t.bits("G0", np.zeros((v, k, v), bool))}
    t.steps.append({"id": "s", "rule": rule, "cite": cite, "args": args, "claim": {"correct": 0}})
    cert = tmp / "c.cert"
    t.proof("x").write(cert, m.sha256)
    return cert, path


@pytest.mark.parametrize(("rule", "v", "k"), [("enumerate", 2, 30), ("cases", 2, 500)])
def test_work_limit_refuses_huge_steps(tmp_path, rule, v, k):
    """A step whose work is beyond the limit (inputs that could not be enumerated, case
    tables that could not be held): the kernel refuses quickly with `unsupported`, before
    doing the work, instead of hanging."""
    cert, path = _huge_trace(tmp_path, rule, v, k)
    with pytest.raises(CheckError) as exc:
        kernel.check(cert, path)
    assert exc.value.reason is Reason.UNSUPPORTED and exc.value.step == "s"
    assert "limit" in exc.value.detail
