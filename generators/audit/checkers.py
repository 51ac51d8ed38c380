"""The checker under audit, run with time and memory limits, and what it answered.

Two kinds, one interface (:class:`Checker`): ``check(cert, model, timeout) -> Outcome``.

* :class:`KernelChecker` -- the built-in kernel, in a long-lived worker subprocess
  (``python -m generators.audit.worker``) under ``RLIMIT_AS``; a case past its time limit
  kills the worker (a fresh one starts for the next case).  Fast: no interpreter start-up
  per case.
* :class:`CommandChecker` -- any command with ``check``'s contract (DESIGN.md §6):
  ``CMD CERT --model MODEL --json``, exit 0 iff verified with ``bound`` "p/q", exit 1 with a
  ``reason`` on rejection; one subprocess per case, under ``RLIMIT_AS`` and a timeout.

An :class:`Outcome` is one of: ``verified`` (with its bound), ``rejected`` (with its reason),
``crash`` (a traceback, a signal or output outside the contract), ``hang`` (past the time
limit) or ``memory`` (past the memory limit).
"""

from __future__ import annotations

import json
import os
import re
import resource
import select
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

STATUSES = ("verified", "rejected", "crash", "hang", "memory")
_RATIONAL = re.compile(r"^([0-9]+)/([0-9]+)$")
_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class Limits:
    """Per-case limits: wall seconds and address space (MiB)."""

    seconds: float = 10.0
    memory_mb: int = 2048


@dataclass
class Outcome:
    status: str
    bound: Fraction | None = None
    reason: str | None = None
    detail: str = ""
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return self.status == "verified"


# A case's CPU time is limited to its seconds (RLIMIT_CPU: a busy loop is a hang); its wall
# time may take this many times longer before it counts as a hang, so that a loaded machine
# (CI beside other jobs) does not turn a slow rejection into a finding.
WALL_SLACK = 3.0


def _limit(memory_mb: int, cpu_s: float) -> Any:
    """A ``preexec_fn`` applying the limits in the child (and a new session, so that a
    hang can be killed with everything it started)."""

    def apply() -> None:
        os.setsid()
        nbytes = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
        cpu = int(cpu_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def parse_bound(text: object) -> Fraction | None:
    mt = _RATIONAL.match(text) if isinstance(text, str) else None
    return None if mt is None or int(mt.group(2)) == 0 else Fraction(int(mt[1]), int(mt[2]))


def classify(rc: int, stdout: str, stderr: str, seconds: float) -> Outcome:
    """Read a contract-following checker's answer (exit status, JSON on stdout)."""
    tail = stderr[-2000:]
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return Outcome("memory", detail=tail, seconds=seconds)
    if "Traceback (most recent call last)" in stderr or "Traceback" in stdout:
        return Outcome("crash", detail=tail, seconds=seconds)
    if rc < 0:
        if -rc in (signal.SIGXCPU, signal.SIGKILL):
            return Outcome("hang", detail=f"killed by signal {-rc}", seconds=seconds)
        return Outcome("crash", detail=f"killed by signal {-rc}; {tail}", seconds=seconds)
    obj: Any = None
    for line in reversed(stdout.strip().splitlines()):
        try:
            obj = json.loads(line)
            break
        except ValueError:
            continue
    if rc == 0:
        bound = parse_bound(obj.get("bound")) if isinstance(obj, dict) else None
        if bound is None or obj.get("verified") is not True:
            return Outcome("crash", detail=f"exit 0 without a verified bound: {stdout[-500:]}")
        return Outcome("verified", bound=bound, seconds=seconds, extra=obj)
    if rc in (1, 2):
        reason = obj.get("reason") if isinstance(obj, dict) else None
        if rc == 1 and not isinstance(reason, str):
            return Outcome("crash", detail=f"exit 1 without a reason: {tail}", seconds=seconds)
        return Outcome(
            "rejected",
            reason=reason if isinstance(reason, str) else "usage",
            detail=str(obj.get("detail", "")) if isinstance(obj, dict) else tail,
            seconds=seconds,
        )
    return Outcome("crash", detail=f"exit status {rc}: {tail}", seconds=seconds)


class Checker:
    """Interface: ``check(cert, model, limits) -> Outcome``; ``close()`` when done."""

    name = "checker"
    command: list[str] = []

    def check(self, cert: Path, model: Path, limits: Limits, **opts: Any) -> Outcome:
        raise NotImplementedError

    def reproduce(self, cert: str, model: str) -> str:
        """The shell command that replays one case."""
        return shlex.join([*self.command, cert, "--model", model, "--json"])

    def close(self) -> None:
        pass


class CommandChecker(Checker):
    """Any command following ``check``'s contract, one subprocess per case."""

    def __init__(self, command: str | list[str], name: str | None = None) -> None:
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.name = name or " ".join(self.command)

    def check(self, cert: Path, model: Path, limits: Limits, **opts: Any) -> Outcome:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                [*self.command, str(cert), "--model", str(model), "--json"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=_limit(limits.memory_mb, limits.seconds),
                env={**os.environ, **_ENV},
            )
        except OSError as exc:
            return Outcome("crash", detail=f"cannot run {self.command[0]}: {exc}")
        try:
            out, err = proc.communicate(timeout=limits.seconds * WALL_SLACK)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Outcome(
                "hang",
                detail=f"still running after {limits.seconds * WALL_SLACK:.1f}s",
                seconds=limits.seconds,
            )
        dt = time.perf_counter() - t0
        return classify(
            proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), dt
        )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


class KernelChecker(Checker):
    """The built-in kernel (``checker.kernel.check``) in a limited worker subprocess."""

    name = "built-in kernel"

    def __init__(self) -> None:
        self.command = [sys.executable, "-m", "checker"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.memory_mb = 0
        self.restarts = 0
        self.fresh = False

    def _start(self, limits: Limits) -> subprocess.Popen[bytes]:
        self.fresh = False
        if (
            self.proc is not None
            and self.proc.poll() is None
            and self.memory_mb == limits.memory_mb
        ):
            return self.proc
        self.fresh = True
        self.close()
        self.memory_mb = limits.memory_mb
        self.restarts += 1
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "generators.audit.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limit(limits.memory_mb, 10**6),
            env={**os.environ, **_ENV},
        )
        return self.proc

    def check(self, cert: Path, model: Path, limits: Limits, **opts: Any) -> Outcome:
        proc = self._start(limits)
        assert proc.stdin is not None and proc.stdout is not None
        req = json.dumps({"cert": str(cert), "model": str(model), **opts}) + "\n"
        t0 = time.perf_counter()
        try:
            proc.stdin.write(req.encode())
            proc.stdin.flush()
        except BrokenPipeError:
            self.close()
            return Outcome("crash", detail="the kernel worker died before the case")
        grace = 5.0 if self.fresh else 0.5  # the worker's start-up (imports)
        ready, _, _ = select.select([proc.stdout], [], [], limits.seconds * WALL_SLACK + grace)
        dt = time.perf_counter() - t0
        if not ready:
            self.close()
            return Outcome("hang", detail=f"still running after {limits.seconds:.1f}s", seconds=dt)
        line = proc.stdout.readline()
        if not line:
            rc = proc.wait()
            self.close()
            status = "memory" if rc in (-signal.SIGKILL, -signal.SIGSEGV) else "crash"
            return Outcome(status, detail=f"the kernel worker died (status {rc})", seconds=dt)
        res = json.loads(line)
        dt = float(res.get("seconds", dt))
        if dt > limits.seconds * WALL_SLACK:  # finished, but past the per-case limit
            return Outcome(
                "hang", detail=f"took {dt:.1f}s (limit {limits.seconds:.1f}s)", seconds=dt
            )
        return Outcome(
            res["status"],
            bound=parse_bound(res.get("bound")),
            reason=res.get("reason"),
            detail=res.get("detail", ""),
            seconds=dt,
            extra={k: v for k, v in res.items() if k in ("proven", "total")},
        )

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                _kill_group(self.proc)
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None:
                    f.close()
            self.proc = None


def make_checker(command: str | None) -> Checker:
    return CommandChecker(command) if command else KernelChecker()
