"""Sharded accuracy and checking (checker/shard.py, kernel.check(..., pool=...)).

The pool is untrusted plumbing: the merge must turn a lost, duplicated or foreign shard into
a ``shard`` rejection, never a wrong total, and a sharded run must give exactly the
sequential answer (counts, proven, ops).  Most tests use in-process "pools" (objects with a
``map``) that lose or repeat results on purpose; one runs a real process pool.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prove_util import prove_to

from certificates.writer import write
from checker import CheckError, Reason, kernel, load_model, shard
from generators.parallel import ProcessPool
from generators.tinymodels import make_weights, write_model


class Inline:
    """A pool that runs each task here, then lets ``edit`` lose, repeat or alter results."""

    def __init__(self, edit: Callable[[list[Any]], list[Any]] | None = None) -> None:
        self.edit = edit
        self.tasks: list[Any] = []

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        self.tasks = list(items)
        out = [fn(t) for t in self.tasks]
        return iter(self.edit(out) if self.edit else out)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("shard")
    w = make_weights(np.random.default_rng(3), 6, 3, 5, 1, 3, "trained-like")
    return write_model(d / "m.safetensors", w)


@pytest.fixture(scope="module")
def two_head_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("shard2")
    w = make_weights(np.random.default_rng(4), 5, 3, 4, 2, 2, "biased")
    return write_model(d / "m2.safetensors", w)


# ------------------------------------------------------------------ accuracy


@pytest.mark.parametrize("which", ["model_path", "two_head_path"])
def test_sharded_accuracy_equals_the_sequential_one(which: str, request) -> None:
    path = request.getfixturevalue(which)
    expected = kernel.exact_accuracy(load_model(path))
    assert kernel.exact_accuracy(load_model(path), None, None, str(path)) == expected
    pool = Inline(lambda out: out[::-1])  # any order
    assert kernel.exact_accuracy(load_model(path), None, pool, str(path)) == expected
    assert len(pool.tasks) == load_model(path).v  # one query per shard by default


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda out: out[1:], "not covered"),
        (lambda out: out + out[:1], "covered twice"),
        (lambda out: [], "not covered"),
        (lambda out: [dataclasses.replace(out[0], model_sha256="0" * 64), *out[1:]], "not a check"),
        (
            lambda out: [dataclasses.replace(out[0], reports=out[0].reports[:-1]), *out[1:]],
            "not covered",
        ),
        (lambda out: [None, *out[1:]], "not a check"),
    ],
    ids=["lost", "duplicated", "none", "foreign-model", "lost-step", "junk"],
)
def test_accuracy_merge_refuses_bad_shards(model_path: Path, edit, words: str) -> None:
    with pytest.raises(CheckError) as info:
        kernel.exact_accuracy(load_model(model_path), None, Inline(edit), str(model_path))
    assert info.value.reason is Reason.SHARD and words in info.value.detail


def test_worker_refuses_another_model(model_path: Path, two_head_path: Path) -> None:
    task = shard.CheckTask(
        str(two_head_path), load_model(model_path).sha256, None, "brute", ("EU",)
    )
    with pytest.raises(CheckError) as info:
        shard.check_shard(task)
    assert info.value.reason is Reason.SHARD


def test_check_errors_survive_pickling() -> None:
    err = CheckError(Reason.CLAIM_MISMATCH, "q3", "enumerate: claimed 1")
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, back.step, back.detail, str(back)) == (
        err.reason,
        err.step,
        err.detail,
        str(err),
    )


def test_a_real_process_pool(model_path: Path, two_head_path: Path, tmp_path: Path) -> None:
    with ProcessPool(2) as pool:
        for path in (model_path, two_head_path):
            assert kernel.exact_accuracy(
                load_model(path), None, pool, str(path)
            ) == kernel.exact_accuracy(load_model(path))
        cert = prove_to(model_path, "cubic-positional-split", tmp_path / "c.cert")
        a, b = kernel.check(cert, model_path), kernel.check(cert, model_path, pool=pool)
        assert (a.proven, a.ops, a.bound) == (b.proven, b.ops, b.bound)
        # a rejection raised in a worker arrives as the kernel's own CheckError
        bad = _rewrite(cert, model_path, tmp_path / "bad.cert", claim_delta=1)
        with pytest.raises(CheckError) as info:
            kernel.check(bad, model_path, pool=pool)
        assert info.value.reason is Reason.CLAIM_MISMATCH


# ------------------------------------------------------------------ check


STRATEGIES = ("brute-force", "cubic", "cubic-paired-split", "cubic-positional-split")


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("which", ["model_path", "two_head_path"])
def test_sharded_check_equals_the_sequential_one(
    strategy: str, which: str, request, tmp_path: Path
) -> None:
    path = request.getfixturevalue(which)
    if strategy != "brute-force" and load_model(path).h != 1:
        pytest.skip("the cubic family is one-head")
    cert = prove_to(path, strategy, tmp_path / "c.cert")
    a = kernel.check(cert, path)
    pool = Inline(lambda out: out[::-1])
    b = kernel.check(cert, path, pool=pool)
    assert pool.tasks, "the counting steps went to the pool"
    assert (a.proven, a.ops, a.bound, a.total, a.theorem) == (
        b.proven,
        b.ops,
        b.bound,
        b.total,
        b.theorem,
    )


def _steps_of(cert: Path) -> tuple[dict, list[dict], dict]:
    """(header fields, steps, arrays) of a certificate, through the kernel's parser."""
    from checker.cert import parse_certificate

    c = parse_certificate(cert.read_bytes())
    steps = [
        {
            "id": s.id,
            "rule": s.rule,
            "cite": dict(s.cite),
            "args": dict(s.args),
            "claim": dict(s.claim),
        }
        for s in c.steps
    ]
    return {"strategy": c.strategy, "bound": c.bound}, steps, dict(c.arrays)


def _rewrite(
    cert: Path,
    model: Path,
    out: Path,
    claim_delta: int = 0,
    edit: Callable[[list[dict]], list[dict]] | None = None,
) -> Path:
    from fractions import Fraction

    head, steps, arrays = _steps_of(cert)
    if claim_delta:
        last = [s for s in steps if s["rule"] in shard.SHARDED][-1]
        last["claim"]["correct"] += claim_delta
    if edit is not None:
        steps = edit(steps)
    b = head["bound"]
    write(
        out,
        model_sha256=load_model(model).sha256,
        strategy=head["strategy"],
        bound=Fraction(int(b.p), int(b.q)),
        steps=steps,
        arrays=arrays,
    )
    return out


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda out: out[1:], "not covered"),
        (lambda out: out + out[-1:], "covered twice"),
        (lambda out: [], "not covered"),
        (lambda out: [dataclasses.replace(out[0], cert_sha256="0" * 64), *out[1:]], "not a check"),
    ],
    ids=["lost", "duplicated", "none", "foreign-cert"],
)
def test_check_merge_refuses_bad_shards(model_path: Path, tmp_path: Path, edit, words) -> None:
    cert = prove_to(model_path, "brute-force", tmp_path / "c.cert")
    with pytest.raises(CheckError) as info:
        kernel.check(cert, model_path, pool=Inline(edit))
    assert info.value.reason is Reason.SHARD and words in info.value.detail


def test_sharded_check_rejects_what_the_sequential_one_rejects(
    model_path: Path, tmp_path: Path
) -> None:
    """A wrong claim, two steps for one query (in different shards), and a step citing
    tables made after it: each rejected with the sequential run's reason."""
    cert = prove_to(model_path, "brute-force", tmp_path / "c.cert")

    def dup(steps: list[dict]) -> list[dict]:
        extra = dict(next(s for s in steps if s["rule"] == "enumerate"), id="again")
        return [*steps, extra]

    def forward(steps: list[dict]) -> list[dict]:
        late = dict(steps[0], id="late")  # the EU factor again, after the counts
        first = next(s for s in steps if s["rule"] == "enumerate")
        first["cite"]["eupu"] = "late"
        return [*steps, late]

    cases = [
        (_rewrite(cert, model_path, tmp_path / "claim.cert", claim_delta=1), Reason.CLAIM_MISMATCH),
        (_rewrite(cert, model_path, tmp_path / "dup.cert", edit=dup), Reason.OVERLAP),
        (_rewrite(cert, model_path, tmp_path / "fwd.cert", edit=forward), Reason.BAD_REFERENCE),
    ]
    for bad, reason in cases:
        for pool in (None, Inline(), Inline(lambda out: out[::-1])):
            with pytest.raises(CheckError) as info:
                kernel.check(bad, model_path, pool=pool)
            assert info.value.reason is reason, (bad.name, pool, info.value)


def test_the_kernel_imports_no_scheduler() -> None:
    """DESIGN.md §8: scheduling lives outside the kernel (generators/parallel.py)."""
    from test_imports import KERNEL_FILES, imported_modules

    schedulers = {"concurrent", "multiprocessing", "distributed", "dask", "threading", "asyncio"}
    bad = [(p.name, m) for p in KERNEL_FILES for _, m in imported_modules(p) if m in schedulers]
    assert not bad, bad
    assert any(p.name == "shard.py" for p in KERNEL_FILES)
