"""certificates/FORMAT.md documents exactly the kernel: its rule table lists the registry's
rules (checker.rules.RULES) and its reason table the closed Reason enum, no more, no less."""

from __future__ import annotations

import re
from pathlib import Path

from checker.errors import Reason
from checker.rules import RULES

FORMAT = Path(__file__).resolve().parents[1] / "certificates" / "FORMAT.md"


def table_names(heading: str) -> list[str]:
    """The backquoted names in the first column of the markdown table under ``heading``."""
    text = FORMAT.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    names = []
    for line in section.splitlines():
        m = re.match(r"^\|\s*`([^`]+)`\s*\|", line)
        if m:
            names.append(m.group(1))
    return names


def test_rule_table_is_the_registry():
    names = table_names("## Rules")
    assert len(names) == len(set(names)), names
    assert set(names) == set(RULES), (
        sorted(set(names) - set(RULES)),
        sorted(set(RULES) - set(names)),
    )


def test_reason_table_is_the_enum():
    names = table_names("## Rejection reasons")
    assert len(names) == len(set(names)), names
    want = {r.value for r in Reason}
    assert set(names) == want, (sorted(set(names) - want), sorted(want - set(names)))
