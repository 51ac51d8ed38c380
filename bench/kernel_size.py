"""``python -m bench.kernel_size``: the trusted kernel's size, per file.

Counts lines of ``checker/*.py`` that hold code: not blank, not only a comment, not part of a
docstring.  The ``cubic`` column removes what the cubic family added (``cases.py`` and the
``position-cases`` rule in ``kernel.py``), i.e. the kernel's size before the cubic issue.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

CHECKER = Path(__file__).resolve().parent.parent / "checker"
CUBIC_ONLY_FILES = frozenset({"cases.py"})
CUBIC_RULE_FUNCS = frozenset({"rule_position_cases", "_bitset_arg"})


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


def main() -> int:
    total = before = 0
    print("| file | code lines | before the cubic issue |")
    print("|---|---:|---:|")
    for path in sorted(CHECKER.glob("*.py")):
        src = path.read_text()
        n = code_lines(src)
        b = 0 if path.name in CUBIC_ONLY_FILES else code_lines(src, CUBIC_RULE_FUNCS)
        total, before = total + n, before + b
        print(f"| checker/{path.name} | {n} | {b} |")
    print(f"| **total** | **{total}** | **{before}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
