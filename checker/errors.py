"""The closed set of reasons the kernel rejects, and the one way it rejects.

Every rejection in ``checker`` is ``raise CheckError(reason, step, detail)``, usually through
:func:`require`.  ``assert`` is never used for a check (``python -O`` removes asserts).
Messages start with the name of the rule or reader that failed.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn


class Reason(enum.Enum):
    """Stable rejection codes (printed as ``reason`` by ``check --json``)."""

    MODEL_UNREADABLE = "model-unreadable"  # not a safetensors file, truncated, bad header
    MODEL_LAYOUT = "model-layout"  # missing/unexpected/misshapen key, unsupported layout
    MODEL_NONFINITE = "model-nonfinite"  # NaN or Inf weight
    MODEL_MISMATCH = "model-mismatch"  # certificate bound to another model (sha256)
    CERT_UNREADABLE = "cert-unreadable"  # bad magic, truncated, bad header JSON
    CERT_VERSION = "cert-version"  # unknown format version
    CERT_SCHEMA = "cert-schema"  # a field missing, of the wrong type, or out of range
    CERT_SIZE = "cert-size"  # a declared size disagrees with the actual size or a limit
    TASK_MISMATCH = "task-mismatch"  # certificate names another task
    UNKNOWN_RULE = "unknown-rule"  # step names a rule the kernel does not have
    BAD_REFERENCE = "bad-reference"  # step refers to a missing/later/wrong-kind result
    BAD_HINT = "bad-hint"  # a hint is out of range or of the wrong shape
    CLAIM_MISMATCH = "claim-mismatch"  # a claimed value disagrees with the re-derived one
    LEMMA_FAILED = "lemma-failed"  # a lemma's precondition does not hold
    UNSUPPORTED = "unsupported"  # the model needs a case this rule does not cover
    OVERLAP = "overlap"  # two cases cover the same inputs
    BOUND_NOT_PROVEN = "bound-not-proven"  # claimed bound exceeds proven/total
    ENVIRONMENT = "environment"  # unsafe floating-point environment (FTZ/DAZ)
    SHARD = "shard"  # a shard result is lost, duplicated, or for another model/certificate


class CheckError(Exception):
    """The kernel's only exception: a rejection with a stable reason code."""

    def __init__(self, reason: Reason, step: str | None, detail: str) -> None:
        self.reason = reason
        self.step = step
        self.detail = detail
        where = f" at step {step}" if step is not None else ""
        super().__init__(f"{reason.value}{where}: {detail}")

    def __reduce__(self) -> tuple[type[CheckError], tuple[Reason, str | None, str]]:
        """Pickle as (reason, step, detail), so a rejection raised in a worker process
        arrives intact (the default would replay __init__ with the message only)."""
        return (CheckError, (self.reason, self.step, self.detail))


def reject(reason: Reason, detail: str, step: str | None = None) -> NoReturn:
    """Raise ``CheckError(reason, step, detail)``; never returns."""
    raise CheckError(reason, step, detail)


def require(cond: bool, reason: Reason, detail: str, step: str | None = None) -> None:
    """Reject with ``reason`` unless ``cond`` is exactly ``True``.

    NB: ``cond`` must be a Python bool; a numpy bool or an array is refused, so a check
    can never pass by the truthiness of an unexpected object.
    """
    if cond is not True:
        if not isinstance(cond, bool):
            raise TypeError(f"require() needs a bool, got {type(cond).__name__}")
        raise CheckError(reason, step, detail)


def read_regular(path: str | Path, limit: int, reason: Reason, what: str) -> bytes:
    """Return the bytes of the regular file at ``path``.

    Reject (``reason``) a special file (a FIFO, a device such as /dev/zero, a directory) or
    one over ``limit`` bytes before reading, and a file that changes size while read: only a
    regular file's size is known in advance.  O_NONBLOCK: opening a FIFO does not wait for a
    writer (no effect on regular files).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            info = os.fstat(fd)
            where = f"{what}: cannot read {str(path)[:200]}"
            require(stat.S_ISREG(info.st_mode), reason, f"{where}: not a regular file")
            require(info.st_size <= limit, reason, f"{where}: {info.st_size} bytes, over {limit}")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                raw = fh.read(info.st_size + 1)  # one byte more reveals a file that grew
        finally:
            os.close(fd)
    except OSError as exc:
        reject(reason, f"{what}: cannot read {str(path)[:200]}: {exc.strerror}")
    require(len(raw) == info.st_size, reason, f"{what}: the file changed size while being read")
    return raw


def unique_keys(reason: Reason, what: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A ``json.loads`` object hook refusing a repeated key (two readers could otherwise
    pick different values for it), rejecting with ``reason``; ``what`` names the file kind."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            require(key not in out, reason, f"{what}: duplicate key {key!r:.60}")
            out[key] = value
        return out

    return hook
