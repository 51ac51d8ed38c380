"""``python -m checker CERT --model MODEL [--json]``: the kernel's own entry point.

A reviewer can check a certificate with nothing but this package; ``mechproof check`` calls
the same ``run``.  VERIFIED is printed once, at the end, and is the only exit status 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from checker.errors import CheckError
from checker.kernel import CHECKER_VERSION, Progress, check
from checker.shard import Pool


def run(
    cert: str,
    model: str,
    as_json: bool,
    pool: Pool | None = None,
    progress: Progress | None = None,
) -> int:
    """Check ``cert`` against ``model`` (sharded over ``pool`` if given); print the verdict;
    return the exit status."""
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
    out = verdict.to_json()
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
        print(f"VERIFIED accuracy >= {b} = {num / den:.6f}")
    return 0


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
