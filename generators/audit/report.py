"""Reports of an audit: the summary table (stdout), JSON, and JUnit XML for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

COLUMNS = ("models", "proofs", "mutants", "cases", "findings", "seconds")


def table(summary: dict[str, Any]) -> str:
    """The per-phase, per-family and per-strategy table, then the totals and findings."""
    lines = []
    for title, key in (("phase", "phases"), ("family", "families"), ("strategy", "strategies")):
        rows = summary[key]
        if not rows:
            continue
        lines.append(f"{title:24s} " + " ".join(f"{c:>9s}" for c in COLUMNS))
        for name, r in rows.items():
            cells = [f"{r[c]:9.1f}" if c == "seconds" else f"{r[c]:9d}" for c in COLUMNS]
            lines.append(f"  {name:22s} " + " ".join(cells))
        lines.append("")
    s = summary
    lines.append(
        f"audit of {s['checker']}: {s['models']} models, {s['proofs']} proofs checked, "
        f"{s['mutants']} of {s['mutants_planned']} mutants, {s['hostile_cases']} hostile cases, "
        f"{s['findings']} findings "
        f"in {s['seconds']:.1f}s (budget {s['budget']:.0f}s, seed {s['seed']}; {s['stopped']})"
    )
    if s["generator_errors"]:
        lines.append(f"generator errors (not findings): {len(s['generator_errors'])}")
        groups: dict[tuple[str, str], list[str]] = {}
        for f in s["generator_errors"]:
            last = f["detail"].strip().splitlines()[-1] if f["detail"].strip() else ""
            groups.setdefault((f["strategy"], last[:100]), []).append(f["case"])
        for (strategy, last), where in groups.items():
            lines.append(f"  {strategy}: {last} ({len(where)}x, e.g. {where[0]})")
    for f in s["finding_list"]:
        first = f["detail"].strip().splitlines()[-1] if f["detail"].strip() else ""
        lines.append(f"FINDING {f['kind']} [{f['phase']}] {f['case']}: {first[:140]}")
        if f["folder"]:
            lines.append(f"  reproducer: {f['folder']}")
    return "\n".join(lines)


def junit(summary: dict[str, Any], path: Path) -> None:
    """JUnit XML: one test suite per phase; one test case per family x strategy, liar model
    or hostile case, failing with each finding in it."""
    by_case: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for f in summary["finding_list"]:
        if f["phase"] in ("differential", "mutants"):
            key = ("differential", f"{f['family']}/{f['strategy']}")
        elif f["phase"] == "liars":
            key = ("liars", f["case"])
        else:
            key = (f["phase"], f["case"])
        by_case.setdefault(key, []).append(f)
    cases: dict[str, list[str]] = {"differential": [], "liars": [], "hostile": []}
    for fam in summary["families"]:
        for strat in summary["strategies"]:
            cases["differential"].append(f"{fam}/{strat}")
    cases["hostile"] = list(summary["hostile"])
    cases["liars"] = list(summary["liar_cases"])
    for suite, name in by_case:
        if name not in cases.setdefault(suite, []):
            cases[suite].append(name)
    root = ET.Element("testsuites", name="mechproof audit", time=f"{summary['seconds']:.2f}")
    for suite, names in cases.items():
        failures = sum(1 for n in names if (suite, n) in by_case)
        s = ET.SubElement(
            root,
            "testsuite",
            name=f"audit.{suite}",
            tests=str(len(names)),
            failures=str(failures),
            errors="0",
            skipped="0",
        )
        for n in names:
            tc = ET.SubElement(s, "testcase", classname=f"audit.{suite}", name=n)
            for f in by_case.get((suite, n), []):
                fail = ET.SubElement(tc, "failure", type=f["kind"], message=f["case"][:200])
                fail.text = f["detail"] + (f"\nreproducer: {f['folder']}" if f["folder"] else "")
    root.set("tests", str(sum(len(v) for v in cases.values())))
    root.set("failures", str(len(by_case)))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
