"""``--jobs`` and ``--scheduler`` on the command line (DESIGN.md §6, §8)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from generators import cli
from generators.tinymodels import make_weights, write_model

ROOT = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "generators.cli")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = make_weights(np.random.default_rng(5), 7, 4, 6, 1, 3, "trained-like")
    return write_model(tmp_path_factory.mktemp("cli") / "m.safetensors", w)


def test_accuracy_is_the_same_with_any_number_of_jobs(model: Path) -> None:
    outs = []
    for jobs in ("1", "2", "3"):
        r = run("accuracy", str(model), "--json", "--jobs", jobs)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        del out["seconds"]
        outs.append(out)
    assert outs[0] == outs[1] == outs[2]
    assert outs[0]["correct"] + outs[0]["incorrect"] + outs[0]["undecided"] == 7**4


def test_check_and_prove_with_jobs(model: Path, tmp_path: Path) -> None:
    certs = []
    for jobs in ("1", "2"):
        cert = tmp_path / f"bf{jobs}.cert"
        r = run(
            "prove", str(model), "--strategy", "brute-force", "--out", str(cert), "--jobs", jobs
        )
        assert r.returncode == 0, r.stderr
        certs.append(cert.read_bytes())
    assert certs[0] == certs[1]  # the same certificate, byte for byte
    verdicts = []
    for jobs in ("1", "2"):
        r = run(
            "check", str(tmp_path / "bf1.cert"), "--model", str(model), "--json", "--jobs", jobs
        )
        assert r.returncode == 0, r.stderr
        v = json.loads(r.stdout)
        del v["seconds"]
        verdicts.append(v)
    assert verdicts[0] == verdicts[1]


def test_scheduler_without_dask_says_how_to_install(model: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    for args in (
        ["accuracy", str(model), "--scheduler", "tcp://127.0.0.1:1"],
        ["check", str(model), "--model", str(model), "--scheduler", "tcp://127.0.0.1:1"],
    ):
        r = CliRunner().invoke(cli.main, args)
        assert r.exit_code == 2, r.output
        assert "pip install 'mechproof[dask]'" in r.output


def test_jobs_and_scheduler_exclude_each_other(model: Path) -> None:
    r = CliRunner().invoke(cli.main, ["accuracy", str(model), "--jobs", "2", "--scheduler", "x"])
    assert r.exit_code == 2 and "exclude" in r.output


@pytest.mark.parametrize(("v", "k", "words"), [(2, 38, "274,877,906,944"), (2, 5000, "~2^5000")])
def test_hopeless_enumeration_is_refused_with_a_short_message(
    tmp_path: Path, v: int, k: int, words: str
) -> None:
    w = make_weights(np.random.default_rng(0), v, k, 1, 1, 1, "random")
    path = write_model(tmp_path / "big.safetensors", w)
    r = run("accuracy", str(path))
    assert r.returncode == 2 and "--sample" in r.stderr and words in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr) < 400
