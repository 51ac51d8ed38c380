"""``python -m bench.kernel_size``: the trusted kernel's size, per file.

Counts lines of ``checker/*.py`` that hold code: not blank, not only a comment, not part of a
docstring.  Rule modules (``checker/rules/*.py``) have a budget each; the rest is the fixed part.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

CHECKER = Path(__file__).resolve().parent.parent / "checker"


def code_lines(src: str, skip_funcs: frozenset[str] = frozenset()) -> int:
    tree = ast.parse(src)
    doc_lines: set[int] = set()
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                doc_lines.update(range(first.lineno, (first.end_lineno or 0) + 1))
        if isinstance(node, ast.FunctionDef) and node.name in skip_funcs:
            skipped.update(range(node.lineno, (node.end_lineno or 0) + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            continue
        lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - doc_lines - skipped)


BEFORE_TRACE = 1512  # code lines of checker/ before the trace format (version 1)
RULE_BUDGET = 120  # code lines per rule module
FIXED_BUDGET = 1350  # everything else (readers, ball layer, loop, sharding merge, lemmas, errors)


def sizes() -> dict[str, int]:
    """Code lines per kernel file, keyed by its path relative to the repository."""
    return {
        str(p.relative_to(CHECKER.parent)): code_lines(p.read_text())
        for p in sorted(CHECKER.rglob("*.py"))
    }


def main() -> int:
    rows = sizes()
    rules = {
        k: n for k, n in rows.items() if k.startswith("checker/rules/") and "__init__" not in k
    }
    fixed = sum(n for k, n in rows.items() if k not in rules)
    print("| file | code lines | budget |")
    print("|---|---:|---:|")
    for path, n in rows.items():
        print(f"| {path} | {n} | {RULE_BUDGET if path in rules else ''} |")
    print(f"| fixed part | {fixed} | {FIXED_BUDGET} |")
    print(f"| rules ({len(rules)}) | {sum(rules.values())} | {RULE_BUDGET} each |")
    print(f"| **total** | **{fixed + sum(rules.values())}** | (before: {BEFORE_TRACE}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
