"""The committed examples (certificates/examples/) give the verdicts their README states.

The README's tables are parsed here, so the documentation cannot drift from the files:
every certificate in the folder has a row, every row is checked (in-process and through
``python -m checker``), the model table's sizes, accuracies and hashes are the real ones,
FORMAT.md's worked example is the real ``tiny-brute.cert``, and ``python -m
generators.examples`` regenerates the folder byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from checker import CheckError, Reason, kernel, load_model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "certificates" / "examples"
README = (EXAMPLES / "README.md").read_text()

CERT_ROW = re.compile(
    r"^\| `(?P<cert>[\w.-]+\.cert)` \| `(?P<model>[\w.-]+\.safetensors)` \| "
    r"(?:VERIFIED (?P<bound>\d+/\d+)|REJECTED (?P<reason>[a-z-]+)) \|",
    re.MULTILINE,
)
MODEL_ROW = re.compile(
    r"^\| `(?P<model>[\w.-]+\.safetensors)` \| (?P<v>\d+) \| (?P<k>\d+) \| (?P<d>\d+) \| "
    r"(?P<h>\d+) \| (?P<dtype>float32|float64) \| (?P<acc>\d+/\d+) \| `(?P<sha>[0-9a-f]{64})` \|",
    re.MULTILINE,
)
ROWS = [m.groupdict() for m in CERT_ROW.finditer(README)]
MODELS = [m.groupdict() for m in MODEL_ROW.finditer(README)]


def ratio(s: str) -> Fraction:
    p, q = s.split("/")
    return Fraction(int(p), int(q))


def row_id(row: dict) -> str:
    return f"{row['cert']}@{row['model']}"


def test_readme_tables_parse() -> None:
    table_rows = [ln for ln in README.splitlines() if ln.startswith("| `")]
    assert len(ROWS) + len(MODELS) == len(table_rows), "a README row does not match the grammar"
    assert len(ROWS) >= 8 and len(MODELS) >= 1
    assert len({row_id(r) for r in ROWS}) == len(ROWS)
    assert sum(r["bound"] is not None for r in ROWS) >= 2
    assert {r["reason"] for r in ROWS} >= {
        "model-mismatch",
        "bound-not-proven",
        "cert-size",
        "claim-mismatch",
        "bad-reference",
        "overlap",
        "cert-version",
    }
    for r in ROWS:
        assert r["reason"] is None or r["reason"] in {x.value for x in Reason}, r


def test_every_file_is_documented() -> None:
    certs = {p.name for p in EXAMPLES.glob("*.cert")}
    models = {p.name for p in EXAMPLES.glob("*.safetensors")}
    assert certs == {r["cert"] for r in ROWS}
    assert models == {m["model"] for m in MODELS} == {r["model"] for r in ROWS}
    others = {p.name for p in EXAMPLES.iterdir()} - certs - models
    assert others <= {"README.md", "__pycache__"}  # the maker lives in generators/


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_example_verdict(row: dict) -> None:
    cert, model = EXAMPLES / row["cert"], EXAMPLES / row["model"]
    if row["bound"] is not None:
        v = kernel.check(cert, model)
        assert Fraction(int(v.bound.p), int(v.bound.q)) == ratio(row["bound"])
        assert v.to_json()["bound"] == row["bound"]  # as printed, not just equal in value
        assert v.model_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
        assert Fraction(v.proven, v.total) >= ratio(row["bound"])
    else:
        with pytest.raises(CheckError) as info:
            kernel.check(cert, model)
        assert info.value.reason.value == row["reason"]
        if row["reason"] == "cert-version":
            assert "regenerate" in info.value.detail and "mechproof prove" in info.value.detail


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_example_verdict_on_the_command_line(row: dict) -> None:
    cert, model = EXAMPLES / row["cert"], EXAMPLES / row["model"]
    r = subprocess.run(
        [sys.executable, "-m", "checker", cert, "--model", model, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    out = json.loads(r.stdout)
    if row["bound"] is not None:
        assert r.returncode == 0 and out["verified"] is True
        assert ratio(out["bound"]) == ratio(row["bound"])
    else:
        assert r.returncode == 1 and out["verified"] is False
        assert out["reason"] == row["reason"]


@pytest.mark.parametrize("info", MODELS, ids=lambda m: m["model"])
def test_model_table(info: dict) -> None:
    path = EXAMPLES / info["model"]
    m = load_model(path)
    assert (m.v, m.k, m.d, m.h) == tuple(int(info[x]) for x in "vkdh")
    assert m.dtype == info["dtype"]
    assert m.sha256 == info["sha"] == hashlib.sha256(path.read_bytes()).hexdigest()
    c, i, u, n = kernel.exact_accuracy(m)
    assert u == 0 and Fraction(c, n) == ratio(info["acc"])
    # a brute-force example for this model proves exactly its accuracy
    brute = [r for r in ROWS if r["model"] == info["model"] and r["cert"].endswith("-brute.cert")]
    assert brute and all(ratio(r["bound"]) == ratio(info["acc"]) for r in brute if r["bound"])


def test_verified_bounds_never_exceed_the_exact_accuracy() -> None:
    acc = {m["model"]: ratio(m["acc"]) for m in MODELS}
    for r in ROWS:
        if r["bound"] is not None:
            assert ratio(r["bound"]) <= acc[r["model"]], r


def test_format_worked_example_is_tiny_brute() -> None:
    text = (ROOT / "certificates" / "FORMAT.md").read_text()
    block = text.split("## Worked example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    raw = (EXAMPLES / "tiny-brute.cert").read_bytes()
    n = int.from_bytes(raw[8:16], "little")
    assert raw[:8] == bytes.fromhex("4D 45 43 48 50 52 4F 46") and len(raw) == 16 + n
    sha = hashlib.sha256((EXAMPLES / "tiny.safetensors").read_bytes()).hexdigest()
    documented = json.loads(block.replace("<sha256 of tiny.safetensors>", sha))
    assert json.loads(raw[16:]) == documented
    m = load_model(EXAMPLES / "tiny.safetensors")
    assert (m.v, m.k) == (2, 2) and "(v = 2, k = 2" in text


def test_every_certificate_but_one_is_version_2() -> None:
    versions = {}
    for p in EXAMPLES.glob("*.cert"):
        raw = p.read_bytes()
        n = int.from_bytes(raw[8:16], "little")
        try:
            versions[p.name] = json.loads(raw[16 : 16 + n])["version"]
        except ValueError:  # the truncated one is cut in its payload, not its header
            versions[p.name] = None
    assert {n for n, v in versions.items() if v != 2} == {"tiny-v1.cert"}
    assert versions["tiny-v1.cert"] == 1


def test_certificates_package_imports_no_generator() -> None:
    """The format package (certificates/) is below the generators: it imports none."""
    for path in (ROOT / "certificates").rglob("*.py"):
        assert "generators" not in path.read_text(), path


def test_make_examples_reproduces_the_committed_files(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "generators.examples", tmp_path],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    made = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {
        p.name: p.read_bytes() for p in EXAMPLES.iterdir() if p.suffix in (".cert", ".safetensors")
    }
    assert set(made) == set(committed)
    differ = sorted(name for name in made if made[name] != committed[name])
    assert not differ, f"run python -m generators.examples; stale: {differ}"
