"""The census of the kernel's source-level mutants (DESIGN.md §7, STYLE.md item 11).

Each kernel test module (tests/rules/test_<rule>.py, tests/test_lemmas.py, tests/test_loop.py)
holds a ``MUTANTS`` table of source-level edits of the kernel code it guards, with the
detectors (checks of that module) that must fail under each and the tag of their failure
(``FALSE BOUND``: the mutated kernel verified a bound above the exact accuracy from the arb
reference); its ``test_mutant_is_caught`` runs them.  This module only reads the tables
(it loads the modules by path; it imports no helpers from them): enough mutants, every
rule and the loop covered, every edit still applies, and the kernel is restored after each.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import support as S

TESTS = Path(__file__).resolve().parent
RULES = ("factor", "matmul", "exp", "enumerate", "value", "margin", "paired", "cases")
RULES += ("max_row_diff", "score_gap", "wrong_values", "gap_cases", "lowrank", "spectral")
TABLES = [TESTS / "rules" / f"test_{r}.py" for r in RULES] + [
    TESTS / "test_lemmas.py",
    TESTS / "test_loop.py",
    TESTS / "test_float32.py",
]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"census_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tables() -> dict[str, dict[str, S.Mutant]]:
    return {p.stem: _load(p).MUTANTS for p in TABLES}


def test_every_rule_and_the_loop_has_mutants(tables):
    assert all(len(t) >= 3 for t in tables.values()), {k: len(t) for k, t in tables.items()}


def test_mutants_are_enough(tables):
    """At least as many as before the trace format (22 kernel + 6 split mutants), and at
    least 8 that a real false bound exposes."""
    every = [m for t in tables.values() for m in t.values()]
    assert len(every) >= 28, len(every)
    assert sum(any(tag == S.FB for _, tag in m.caught_by) for m in every) >= 8
    assert all(m.caught_by for m in every)
    keys = [(m.module.__name__, m.func, m.edits) for m in every]
    assert len(keys) == len(set(keys)), "two mutants make the same edit"


def test_mutants_restore_the_kernel(tables, monkeypatch):
    """Every mutant compiles, differs from the original, and is gone after its context."""
    for t in tables.values():
        for m in t.values():
            orig = getattr(m.module, m.func)
            with monkeypatch.context() as mp:
                S.apply(mp, m)
                assert getattr(m.module, m.func) is not orig
            assert getattr(m.module, m.func) is orig
