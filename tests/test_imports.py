"""The trust boundary (DESIGN.md §2): the kernel imports only the standard library, numpy,
python-flint, mpmath and itself — never the generators, the certificate writer, safetensors
or click — both as written (AST scan) and as run (sys.modules after a real check)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from prove_util import prove_to

from generators.tinymodels import make_weights, write_model

ROOT = Path(__file__).resolve().parents[1]
KERNEL_FILES = sorted((ROOT / "checker").rglob("*.py"))
ALLOWED_THIRD_PARTY = {"numpy", "flint", "mpmath"}
FORBIDDEN = ("generators", "certificates", "safetensors", "click", "tests")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute top-level module) for every import in ``path``, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside checker
                out.append((node.lineno, "checker"))
            else:
                out.append((node.lineno, str(node.module).split(".")[0]))
    return out


def allowed(module: str) -> bool:
    return module == "checker" or module in ALLOWED_THIRD_PARTY or module in sys.stdlib_module_names


def test_kernel_files_exist() -> None:
    names = {p.name for p in KERNEL_FILES}
    assert {"__init__.py", "__main__.py", "kernel.py", "model.py", "cert.py"} <= names
    assert {"facts.py", "lemmas.py"} <= names
    rules = {p.stem for p in KERNEL_FILES if p.parent.name == "rules"} - {"__init__"}
    from checker.rules import RULES

    assert rules == {m.__name__.rsplit(".", 1)[1] for m in RULES.values()}  # all scanned


@pytest.mark.parametrize("path", KERNEL_FILES, ids=lambda p: p.name)
def test_kernel_imports_only_allowed_modules(path: Path) -> None:
    bad = [(line, m) for line, m in imported_modules(path) if not allowed(m)]
    assert not bad, f"{path.relative_to(ROOT)} imports outside the trust boundary: {bad}"


@pytest.mark.parametrize("path", KERNEL_FILES, ids=lambda p: p.name)
def test_kernel_has_no_dynamic_imports(path: Path) -> None:
    """``__import__``/``importlib``/``exec``/``eval`` would hide an import from the scan above."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"__import__", "exec", "eval", "compile", "__builtins__"}
    assert not attrs & {"__import__", "import_module", "exec", "eval"}
    assert "importlib" not in {m for _, m in imported_modules(path)}
    assert "pickle" not in {m for _, m in imported_modules(path)}  # certificates load as data


def test_the_scan_sees_what_it_should(tmp_path: Path) -> None:
    """The scanner itself: forbidden imports at top level, in functions, relative, aliased."""
    src = tmp_path / "x.py"
    src.write_text(
        "import os, numpy.linalg as la\n"
        "from . import balls\n"
        "def f():\n"
        "    from generators.model import save_model\n"
        "    import safetensors.numpy\n"
        "    return save_model\n"
    )
    found = imported_modules(src)
    assert [m for _, m in found] == ["os", "numpy", "checker", "generators", "safetensors"]
    assert [m for _, m in found if not allowed(m)] == ["generators", "safetensors"]


CHILD = r"""
import json, sys
import checker
import checker.kernel
from checker.__main__ import main

verdicts = [checker.kernel.check(c, m).to_json() for c, m in json.loads(sys.argv[1])]
status = main([json.loads(sys.argv[1])[0][0], "--model", json.loads(sys.argv[1])[0][1], "--json"])
print(json.dumps({
    "bounds": [v["bound"] for v in verdicts],
    "status": status,
    "modules": sorted(sys.modules),
}))
"""


def test_running_the_kernel_loads_no_untrusted_module(tmp_path: Path) -> None:
    path = write_model(
        tmp_path / "m.safetensors",
        make_weights(np.random.default_rng(2), 4, 3, 4, 1, 2, "trained-like"),
    )
    pairs = [
        (str(prove_to(path, s, tmp_path / f"{s}.cert")), str(path))
        for s in ("brute-force", "cubic", "cubic-paired")
    ]
    r = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(pairs)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["status"] == 0 and len(out["bounds"]) == 3
    loaded = out["modules"]
    assert "checker.kernel" in loaded and "checker.rules.cases" in loaded and "flint" in loaded
    leaked = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert not leaked, f"the kernel pulled in untrusted modules: {leaked}"
