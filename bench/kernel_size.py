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
SHARED_BUDGET = 300  # the shared lemmas, result types and the float32 error model
FIXED_BUDGET = 1250  # readers, ball layer, replay loop, sharding merge, errors, entry point
TOTAL_BUDGET = 2500  # DESIGN.md §2, the subcubic family included
SHARED = ("checker/lemmas.py", "checker/facts.py", "checker/float32.py")


def parts() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """(rule modules, shared lemmas and types, fixed part): code lines per kernel file."""
    rules: dict[str, int] = {}
    shared: dict[str, int] = {}
    fixed: dict[str, int] = {}
    for p in sorted(CHECKER.rglob("*.py")):
        name = str(p.relative_to(CHECKER.parent))
        is_rule = p.parent.name == "rules" and p.name != "__init__.py"
        part = rules if is_rule else shared if name in SHARED else fixed
        part[name] = code_lines(p.read_text(encoding="utf-8"))
    return rules, shared, fixed


def main() -> int:
    rules, shared, fixed = parts()
    print("| file | code lines | budget |")
    print("|---|---:|---:|")
    for path, n in sorted({**rules, **shared, **fixed}.items()):
        print(f"| {path} | {n} | {RULE_BUDGET if path in rules else ''} |")
    print(f"| rules ({len(rules)}) | {sum(rules.values())} | {RULE_BUDGET} each |")
    print(f"| shared lemmas and result types | {sum(shared.values())} | {SHARED_BUDGET} |")
    print(f"| fixed part | {sum(fixed.values())} | {FIXED_BUDGET} |")
    total = sum(rules.values()) + sum(shared.values()) + sum(fixed.values())
    print(f"| **total** | **{total}** | {TOTAL_BUDGET} (version 1: {BEFORE_TRACE}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
