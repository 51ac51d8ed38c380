"""The kernel's size budget per rule (DESIGN.md §2) and the rule table of FORMAT.md.

Each rule module has at most 120 code lines (not blank, not a comment, not a docstring), and
certificates/FORMAT.md's rule table lists exactly the rules of the registry.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

from checker.rules import RULES

ROOT = Path(__file__).resolve().parents[1]


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not inside a docstring."""
    src = path.read_text()
    doc: set[int] = set()
    for node in ast.walk(ast.parse(src)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            val = body[0].value
            if isinstance(val, ast.Constant) and isinstance(val.value, str):
                doc.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                            tokenize.DEDENT, tokenize.ENDMARKER):  # fmt: skip
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - doc)


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_module_within_budget(name):
    path = Path(RULES[name].__file__)
    n = code_lines(path)
    assert n <= 120, f"{path.name}: {n} code lines (budget 120)"


def test_code_lines_counts_code_only(tmp_path):
    p = tmp_path / "m.py"
    src = '"""doc\\nmore"""\n\n# comment\nx = 1  # c\n\ndef f():\n    """d"""\n    return x\n'
    p.write_text(src)
    assert code_lines(p) == 3


def test_format_rule_table_matches_registry():
    text = (ROOT / "certificates" / "FORMAT.md").read_text()
    table = text.split("## Rules", 1)[1].split("\n\n", 2)[1]
    names = {line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]}
    assert names == set(RULES)
