"""The command line as a user runs it (DESIGN.md §6, a stable contract), through subprocesses:
``python -m generators.cli`` (the ``mechproof`` entry point) and ``python -m checker``."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from checker import Reason, load_model
from generators.tinymodels import make_weights, write_model

ROOT = Path(__file__).resolve().parents[1]
CLI = (sys.executable, "-m", "generators.cli")
CHECKER = (sys.executable, "-m", "checker")
CHECK_KEYS = {
    "verified",
    "bound",
    "proven",
    "total",
    "ops",
    "certificate_bytes",
    "certificate_gzip_bytes",
    "model_sha256",
    "certificate_sha256",
    "checker_version",
    "seconds",
}
ACCURACY_KEYS = {"correct", "incorrect", "undecided", "total", "accuracy"}
REASONS = {r.value for r in Reason}
V, K, STEPS = 5, 2, 100  # 20 of 25 inputs right: accuracy 4/5 (reduced)
TRAIN = f"train --k {K} --vocab {V} --d-model 8 --seed 5 --steps {STEPS} --lr 3e-3 --quiet".split()


def run(*args: object, prog: tuple[str, ...] = CLI) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prog, *(str(a) for a in args)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def sh(words: str, *more: object) -> subprocess.CompletedProcess[str]:
    """``run`` with the leading arguments written as one string."""
    return run(*words.split(), *more)


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    return lines[0]


def ratio(s: str) -> Fraction:
    p, q = s.split("/")
    return Fraction(int(p), int(q))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def model(work: Path) -> Path:
    out = work / "m.safetensors"
    r = run(*TRAIN, "--out", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def other_model(work: Path) -> Path:
    out = work / "other.safetensors"
    r = sh(f"train --k {K} --vocab {V} --d-model 4 --seed 6 --steps 5 --quiet --out", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def accuracy(model: Path) -> dict:
    r = run("accuracy", model, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(one_line(r.stdout))


@pytest.fixture(scope="module")
def brute_cert(work: Path, model: Path) -> Path:
    out = work / "m-brute.cert"
    r = run("prove", model, "--strategy", "brute-force", "--out", out, "--json")
    assert r.returncode == 0, r.stderr
    return out


# ---------------------------------------------------------------- strategies, train


def test_strategies() -> None:
    r = run("strategies", "--json")
    assert r.returncode == 0 and r.stderr == ""
    names = json.loads(one_line(r.stdout))
    assert names == sorted(names) and len(set(names)) == len(names)
    assert {"brute-force", "cubic"} <= set(names)
    r = run("strategies")
    assert r.returncode == 0
    listed = [ln.split()[0] for ln in r.stdout.splitlines() if ln.strip()]
    assert sorted(listed) == names
    assert all(len(ln.split()) > 1 for ln in r.stdout.splitlines())  # each has a description


def test_train_writes_a_loadable_model(model: Path, work: Path) -> None:
    m = load_model(model)
    assert (m.v, m.k, m.d, m.h) == (V, K, 8, 1)
    assert m.dtype == "float32"
    assert m.metadata["seed"] == "5" and m.metadata["task"] == "max-of-k"
    assert json.loads(m.metadata["recipe"])["steps"] == STEPS
    again = work / "again.safetensors"
    r = run(*TRAIN, "--out", again)
    assert r.returncode == 0
    assert again.read_bytes() == model.read_bytes()  # same seed, same bytes
    assert "trained" in r.stdout and str(again) in r.stdout


def test_train_float64_two_heads(work: Path) -> None:
    out = work / "sub" / "dir" / "m64.safetensors"
    r = sh(
        "train --k 3 --vocab 3 --d-model 4 --heads 2 --seed 1 --steps 3 --dtype float64 --out", out
    )
    assert r.returncode == 0, r.stderr
    m = load_model(out)
    assert (m.v, m.k, m.h, m.e, m.dtype) == (3, 3, 2, 2, "float64")


# ---------------------------------------------------------------- accuracy


def test_accuracy_json(accuracy: dict, model: Path) -> None:
    assert set(accuracy) >= ACCURACY_KEYS
    assert set(accuracy) - ACCURACY_KEYS <= {"seconds"}
    c, i, u, n = (accuracy[x] for x in ("correct", "incorrect", "undecided", "total"))
    assert all(isinstance(x, int) and not isinstance(x, bool) for x in (c, i, u, n))
    assert n == V**K == c + i + u
    frac = Fraction(c, n)
    assert accuracy["accuracy"] == f"{frac.numerator}/{frac.denominator}"  # reduced
    assert 0 < c < n  # a partly trained model: both kinds of input occur


def test_accuracy_text(accuracy: dict, model: Path) -> None:
    r = run("accuracy", model)
    assert r.returncode == 0
    line = one_line(r.stdout)
    assert line.startswith(f"exact accuracy {accuracy['accuracy']} ")
    assert f"correct {accuracy['correct']}," in line and f"total {accuracy['total']})" in line


def test_accuracy_sample(model: Path) -> None:
    r = run("accuracy", model, "--sample", 400, "--seed", 1, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(one_line(r.stdout))
    assert set(out) >= ACCURACY_KEYS
    assert out["sampled"] is True and out["total"] == 400 and out["population"] == V**K
    assert out["correct"] + out["incorrect"] + out["undecided"] == 400
    lo, hi = out["ci95"]
    assert 0.0 <= lo <= out["correct"] / 400 <= hi <= 1.0 and hi - lo < 0.2
    again = json.loads(
        one_line(run("accuracy", model, "--sample", 400, "--seed", 1, "--json").stdout)
    )
    assert again["correct"] == out["correct"]  # the seed fixes the sample
    r = run("accuracy", model, "--sample", 50)
    assert r.returncode == 0 and "sampled accuracy" in r.stdout and "95% Wilson" in r.stdout


# ---------------------------------------------------------------- prove, check


def test_prove_then_check_json(accuracy: dict, model: Path, brute_cert: Path) -> None:
    r = run("check", brute_cert, "--model", model, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(one_line(r.stdout))
    assert set(out) >= CHECK_KEYS
    assert out["verified"] is True
    assert out["bound"] == accuracy["accuracy"] and accuracy["undecided"] == 0
    assert out["proven"] == accuracy["correct"] and out["total"] == accuracy["total"]
    assert out["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    raw = brute_cert.read_bytes()
    assert out["certificate_sha256"] == hashlib.sha256(raw).hexdigest()
    assert out["certificate_bytes"] == len(raw)
    assert 0 < out["certificate_gzip_bytes"] <= len(raw) + 64
    assert isinstance(out["ops"], int) and out["ops"] > V**K
    assert isinstance(out["seconds"], float) and out["seconds"] >= 0
    assert isinstance(out["checker_version"], str) and out["checker_version"]
    # the kernel's own entry point says the same
    r2 = run(brute_cert, "--model", model, "--json", prog=CHECKER)
    assert r2.returncode == 0
    out2 = json.loads(one_line(r2.stdout))
    assert {k: v for k, v in out2.items() if k != "seconds"} == {
        k: v for k, v in out.items() if k != "seconds"
    }


def test_prove_json(accuracy: dict, model: Path, work: Path) -> None:
    out = work / "again-brute.cert"
    r = run("prove", model, "--strategy", "brute-force", "--out", out, "--json")
    assert r.returncode == 0
    res = json.loads(one_line(r.stdout))
    assert res["strategy"] == "brute-force" and res["bound"] == accuracy["accuracy"]
    assert res["certificate_bytes"] == out.stat().st_size


@pytest.mark.parametrize("prog", [CLI, CHECKER], ids=["mechproof", "python-m-checker"])
def test_check_text_prints_verified_once_and_last(
    prog: tuple[str, ...], accuracy: dict, model: Path, brute_cert: Path
) -> None:
    args = (
        ("check", brute_cert, "--model", model) if prog == CLI else (brute_cert, "--model", model)
    )
    r = run(*args, prog=prog)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("VERIFIED") == 1 and "VERIFIED" not in r.stderr
    last = r.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith(f"VERIFIED accuracy >= {accuracy['accuracy']} ")
    assert hashlib.sha256(model.read_bytes()).hexdigest() in r.stdout  # the theorem names it


def test_cubic_via_cli(accuracy: dict, model: Path, work: Path) -> None:
    cert = work / "m-cubic.cert"
    r = run("prove", model, "--strategy", "cubic", "--out", cert)
    assert r.returncode == 0, r.stderr
    out = json.loads(one_line(run("check", cert, "--model", model, "--json").stdout))
    assert out["verified"] is True
    assert ratio(out["bound"]) <= ratio(accuracy["accuracy"])


def test_cubic_refuses_two_heads(work: Path) -> None:
    path = write_model(
        work / "two-heads.safetensors",
        make_weights(np.random.default_rng(0), 3, 2, 4, 2, 2, "random"),
    )
    r = run("prove", path, "--strategy", "cubic", "--out", work / "x.cert")
    assert r.returncode == 1
    no_traceback(r)
    assert "one-head" in one_line(r.stderr)


# ---------------------------------------------------------------- rejections


def rejected(r: subprocess.CompletedProcess[str], reason: Reason) -> dict:
    assert r.returncode == 1, (r.stdout, r.stderr)
    no_traceback(r)
    out = json.loads(one_line(r.stdout))
    assert out["verified"] is False
    assert out["reason"] == reason.value and out["reason"] in REASONS
    assert isinstance(out["detail"], str) and out["detail"]
    assert "VERIFIED" not in r.stdout + r.stderr
    return out


def test_check_against_another_model(brute_cert: Path, other_model: Path) -> None:
    out = rejected(
        run("check", brute_cert, "--model", other_model, "--json"), Reason.MODEL_MISMATCH
    )
    assert "bound to model" in out["detail"]
    out2 = rejected(
        run(brute_cert, "--model", other_model, "--json", prog=CHECKER), Reason.MODEL_MISMATCH
    )
    assert out2["detail"] == out["detail"]  # stable


def edit_header(fn: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def corrupt(raw: bytes) -> bytes:
        n = int.from_bytes(raw[8:16], "little")
        header = json.loads(raw[16 : 16 + n])
        fn(header)
        text = json.dumps(header).encode()
        return raw[:8] + len(text).to_bytes(8, "little") + text + raw[16 + n :]

    return corrupt


def _more_correct(h: dict) -> None:
    h["steps"][1]["claim"]["correct"] += 1


@pytest.mark.parametrize(
    ("name", "corrupt", "reason"),
    [
        ("truncated", lambda b: b[: len(b) // 2], Reason.CERT_SIZE),
        ("magic", lambda b: b"XXXX" + b[4:], Reason.CERT_UNREADABLE),
        ("empty", lambda b: b"", Reason.CERT_UNREADABLE),
        ("not-json", lambda b: b[:16] + b"~" + b[17:], Reason.CERT_UNREADABLE),
        ("unknown-field", edit_header(lambda h: h.update(x=1)), Reason.CERT_SCHEMA),
        ("version", edit_header(lambda h: h.update(version=2)), Reason.CERT_VERSION),
        ("task", edit_header(lambda h: h.update(task="min-of-k")), Reason.TASK_MISMATCH),
        ("claim", edit_header(_more_correct), Reason.CLAIM_MISMATCH),
    ],
)
def test_check_corrupted_certificate(
    name: str,
    corrupt: Callable[[bytes], bytes],
    reason: Reason,
    brute_cert: Path,
    model: Path,
    work: Path,
) -> None:
    bad = work / f"bad-{name}.cert"
    bad.write_bytes(corrupt(brute_cert.read_bytes()))
    rejected(run("check", bad, "--model", model, "--json"), reason)
    r = run("check", bad, "--model", model)  # text mode: one line on stderr, nothing on stdout
    assert r.returncode == 1 and r.stdout == ""
    no_traceback(r)
    assert one_line(r.stderr).startswith(f"REJECTED ({reason.value})")


def test_check_overclaimed_bound(brute_cert: Path, model: Path, work: Path, accuracy: dict) -> None:
    raw = brute_cert.read_bytes()
    n = int.from_bytes(raw[8:16], "little")
    header = json.loads(raw[16 : 16 + n])
    header["bound"] = f"{accuracy['correct'] + 1}/{accuracy['total']}"  # just above the proof
    text = json.dumps(header).encode()
    bad = work / "overclaim.cert"
    bad.write_bytes(raw[:8] + len(text).to_bytes(8, "little") + text + raw[16 + n :])
    out = rejected(run("check", bad, "--model", model, "--json"), Reason.BOUND_NOT_PROVEN)
    assert f"{accuracy['correct']}/{accuracy['total']}" in out["detail"]


# ---------------------------------------------------------------- usage errors


def usage_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "VERIFIED" not in r.stdout
    assert r.stdout == ""
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_unknown_strategy(model: Path, work: Path) -> None:
    usage_error(
        run("prove", model, "--strategy", "nope", "--out", work / "x.cert"), "'nope'", "brute-force"
    )
    assert not (work / "x.cert").exists()


def test_missing_options(model: Path, brute_cert: Path, work: Path) -> None:
    usage_error(run("check", brute_cert), "--model")
    usage_error(run("check", brute_cert, "--json"), "--model")
    usage_error(run("prove", model, "--out", work / "x.cert"), "--strategy")
    usage_error(run("prove", model, "--strategy", "brute-force"), "--out")
    usage_error(run("train", "--vocab", 3, "--seed", 1, "--out", work / "x.st"), "--k")
    usage_error(run("accuracy"), "MODEL")
    usage_error(run("bogus-command"), "bogus-command")
    usage_error(run(prog=CHECKER), "usage")
    usage_error(run(brute_cert, prog=CHECKER), "usage")
    usage_error(run(brute_cert, model, "--json", prog=CHECKER), "usage")


def test_bad_values(model: Path, work: Path) -> None:
    usage_error(run("accuracy", model, "--sample", 0), "--sample")
    usage_error(
        run("train", "--k", 2, "--vocab", 1, "--seed", 1, "--out", work / "x.st"), "--vocab"
    )
    usage_error(
        sh("train --k 2 --vocab 3 --d-model 6 --heads 4 --seed 1 --out", work / "x.st"),
        "divisible",
    )


def test_missing_files(model: Path, brute_cert: Path, work: Path) -> None:
    nope = work / "nope"
    usage_error(run("accuracy", nope), "nope")
    usage_error(run("accuracy", nope, "--json"), "nope")
    usage_error(run("prove", nope, "--strategy", "brute-force", "--out", work / "x.cert"), "nope")
    usage_error(run("check", nope, "--model", model, "--json"), "nope")
    usage_error(run("check", brute_cert, "--model", nope, "--json"), "nope")
    usage_error(run(nope, "--model", model, "--json", prog=CHECKER), "nope")
    usage_error(run(brute_cert, "--model", nope, prog=CHECKER), "nope")
    # a directory is not a file either
    usage_error(run("accuracy", work), "directory")
    usage_error(run("check", work, "--model", model), "directory")
    usage_error(run(brute_cert, "--model", work, prog=CHECKER), "directory")


def test_unwritable_output(model: Path, work: Path) -> None:
    (work / "a-file").write_bytes(b"")
    for out in (work / "no-such-dir" / "x.cert", work / "a-file" / "x.cert", work):
        usage_error(run("prove", model, "--strategy", "brute-force", "--out", out), str(work))
    usage_error(
        sh("train --k 2 --vocab 3 --seed 1 --steps 1 --quiet --out", work / "a-file" / "m"),
        "a-file",
    )


# ---------------------------------------------------------------- malformed model files


def _malformed(work: Path) -> dict[str, Path]:
    good = make_weights(np.random.default_rng(1), 3, 2, 2, 1, 2, "random")
    files = {
        "garbage": b"this is not a model",
        "empty": b"",
        "truncated": write_model(work / "t.safetensors", good).read_bytes()[:-5],
    }
    nan = dict(good, **{"embed.W_E": np.full((3, 2), np.nan)})
    ln = dict(good, **{"blocks.0.ln1.w": np.ones(2)})
    f16 = {k: a.astype(np.float16) for k, a in good.items()}
    out = {}
    for name, data in files.items():
        out[name] = work / f"{name}.safetensors"
        out[name].write_bytes(data)
    out["nan"] = write_model(work / "nan.safetensors", nan)
    out["layer-norm"] = write_model(work / "ln.safetensors", ln)
    out["f16"] = write_model(work / "f16.safetensors", f16, dtype="float16")
    return out


MALFORMED_REASON = {
    "garbage": Reason.MODEL_UNREADABLE,
    "empty": Reason.MODEL_UNREADABLE,
    "truncated": Reason.MODEL_UNREADABLE,
    "nan": Reason.MODEL_NONFINITE,
    "layer-norm": Reason.MODEL_LAYOUT,
    "f16": Reason.MODEL_LAYOUT,
}


@pytest.fixture(scope="module")
def malformed(work: Path) -> dict[str, Path]:
    d = work / "malformed"
    d.mkdir()
    return _malformed(d)


@pytest.mark.parametrize("kind", sorted(MALFORMED_REASON))
def test_malformed_model_every_command(
    kind: str, malformed: dict[str, Path], brute_cert: Path, work: Path
) -> None:
    path = malformed[kind]
    reason = MALFORMED_REASON[kind]
    for args in (
        ("accuracy", path),
        ("accuracy", path, "--json"),
        ("accuracy", path, "--sample", 10),
        ("prove", path, "--strategy", "brute-force", "--out", work / "never.cert"),
        ("prove", path, "--strategy", "cubic", "--out", work / "never.cert"),
    ):
        r = run(*args)
        assert r.returncode == 1, (args, r.stderr)
        no_traceback(r)
        line = one_line(r.stderr)
        assert line.startswith(f"mechproof: {path}: model: "), line
        assert r.stdout == ""
    assert not (work / "never.cert").exists()
    for prog, args in ((CLI, ("check",)), (CHECKER, ())):
        r = run(*args, brute_cert, "--model", path, prog=prog)
        assert r.returncode == 1 and r.stdout == ""
        no_traceback(r)
        assert one_line(r.stderr).startswith(f"REJECTED ({reason.value})")
        rejected(run(*args, brute_cert, "--model", path, "--json", prog=prog), reason)


def test_deeply_nested_model_header(work: Path, brute_cert: Path) -> None:
    path = work / "nested.safetensors"
    text = b"[" * 200_000
    path.write_bytes(len(text).to_bytes(8, "little") + text)
    r = run("accuracy", path)
    assert r.returncode == 1
    no_traceback(r)
    rejected(run(brute_cert, "--model", path, "--json", prog=CHECKER), Reason.MODEL_UNREADABLE)
