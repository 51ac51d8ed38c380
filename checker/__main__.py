"""``python -m checker CERT --model MODEL [--json]``: the kernel's own entry point.

A reviewer can check a certificate with nothing but this package; ``mechproof check`` calls
the same ``run``.  VERIFIED is printed once, at the end, and is the only exit status 0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checker.errors import CheckError
from checker.kernel import CHECKER_VERSION, Progress, Verdict, check


def run(
    cert: str, model: str, as_json: bool, extra: Callable[[Verdict], dict[str, Any]] | None = None,
    pool: Any = None, progress: Progress | None = None,
) -> int:  # fmt: skip
    """Check ``cert`` against ``model`` (sharded over ``pool`` if given); print the verdict
    (plus ``extra``'s untrusted report fields, e.g. compression); return the exit status."""
    try:
        verdict = check(cert, model, progress, pool)
    except CheckError as exc:
        if as_json:
            print(
                json.dumps(
                    {
                        "verified": False,
                        "reason": exc.reason.value,
                        "detail": exc.detail,
                        "step": exc.step,
                        "checker_version": CHECKER_VERSION,
                    }
                )
            )
        else:
            where = f" at step {exc.step}" if exc.step is not None else ""
            print(f"REJECTED ({exc.reason.value}){where}: {exc.detail}", file=sys.stderr)
        return 1
    out = verdict.to_json() | (extra(verdict) if extra is not None else {})
    if as_json:
        print(json.dumps(out))
    else:
        b = out["bound"]
        num, den = (int(s) for s in b.split("/"))
        print(out["theorem"])
        print(
            f"proven {out['proven']}/{out['total']} inputs; proof length {out['ops']:.3e} ops, "
            f"{out['certificate_bytes']} bytes ({out['certificate_gzip_bytes']} gzipped), "
            f"{out['seconds']:.2f}s"
        )
        print(f"VERIFIED accuracy >= {b} >= {decimal_down(num, den)}")
    return 0


def decimal_down(num: int, den: int, places: int = 6) -> str:
    """num/den (>= 0) as a decimal rounded *down* to ``places`` digits (never above it)."""
    whole = num * 10**places // den
    return f"{whole // 10**places}.{whole % 10**places:0{places}d}"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) != 3 or args[1] != "--model":
        print("usage: python -m checker CERT --model MODEL [--json]", file=sys.stderr)
        return 2
    for path in (args[0], args[2]):
        if not Path(path).is_file():
            what = "is a directory" if Path(path).is_dir() else "does not exist"
            print(f"python -m checker: {path} {what}", file=sys.stderr)
            return 2
    return run(args[0], args[2], as_json)


if __name__ == "__main__":
    sys.exit(main())
