"""``python -m bench.bounds_vs_v1``: every verified bound of the trace kernel (format v2,
``bench/results/cubic.csv`` from ``make cubic-table``) against the record of the version-1
kernel (``bench/results/cubic_v1.csv``), model by model.  Writes ``bounds_vs_v1.md``."""

from __future__ import annotations

import csv
import sys
from fractions import Fraction
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def _rows(name: str) -> dict[tuple[str, str], dict[str, str]]:
    with open(RESULTS / name) as fh:
        return {(r["model"], r["strategy"]): r for r in csv.DictReader(fh)}


def main() -> int:
    old, new = _rows("cubic_v1.csv"), _rows("cubic.csv")
    lines = [
        "| strategy | models | v2 higher | equal | v2 lower | gzip v2/v1 (max) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    worse = 0
    for s in sorted({k[1] for k in old}):
        keys = [k for k in old if k[1] == s and k in new]
        d = [Fraction(new[k]["bound"]) - Fraction(old[k]["bound"]) for k in keys]
        g = max(
            int(new[k]["certificate_gzip_bytes"]) / int(old[k]["certificate_gzip_bytes"])
            for k in keys
        )
        worse += sum(x < 0 for x in d)
        lines.append(
            f"| {s} | {len(keys)} | {sum(x > 0 for x in d)} | {sum(x == 0 for x in d)} | "
            f"{sum(x < 0 for x in d)} | {g:.2f} |"
        )
    (RESULTS / "bounds_vs_v1.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
