"""The kernel worker: reads one JSON request per line on stdin, answers one JSON line.

Request: ``{"cert": PATH, "model": PATH, "rounding": "upward"|...}``; answer: ``status``
(verified / rejected / crash / memory), ``bound``, ``reason``, ``detail``, ``seconds``.
Run under the limits :class:`generators.audit.checkers.KernelChecker` sets; an exception
other than the kernel's ``CheckError`` is reported as a crash with its traceback, exactly as
it would escape from ``mechproof check``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import sys
import time
import traceback
from typing import Any

ROUNDING = {"nearest": 0x000, "downward": 0x400, "upward": 0x800, "towardzero": 0xC00}  # x86


def _fesetround(mode: str) -> None:
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.fesetround(ctypes.c_int(ROUNDING[mode]))


def answer(req: dict[str, Any]) -> dict[str, Any]:
    from checker import CheckError, kernel

    t0 = time.perf_counter()
    rounding = req.get("rounding")
    try:
        if rounding:
            _fesetround(rounding)
        try:
            v = kernel.check(req["cert"], req["model"])
        finally:
            if rounding:
                _fesetround("nearest")
        b = v.bound
        out = {"status": "verified", "bound": f"{int(b.p)}/{int(b.q)}"}
        out.update(proven=int(v.proven), total=int(v.total))
    except CheckError as exc:
        out = {"status": "rejected", "reason": exc.reason.value, "detail": exc.detail[:500]}
    except MemoryError:
        out = {"status": "memory", "detail": traceback.format_exc()[-2000:]}
    except BaseException:  # noqa: BLE001 -- everything else escaping the kernel is a crash
        out = {"status": "crash", "detail": traceback.format_exc()[-2000:]}
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    out = os.fdopen(os.dup(1), "w")
    sys.stdout = sys.stderr  # nothing the kernel prints can corrupt the protocol
    import checker.kernel  # noqa: F401 -- import once, before the first case

    for line in sys.stdin:
        out.write(json.dumps(answer(json.loads(line))) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
