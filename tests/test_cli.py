"""The command line as a user runs it (DESIGN.md §6, a stable contract), through subprocesses:
``python -m generators.cli`` (the ``mechproof`` entry point) and ``python -m checker``."""

from __future__ import annotations

import hashlib
import json
import re
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
    # the proof length per rule adds up; the trace's steps are counted
    assert sum(row["ops"] for row in out["ops_by_rule"].values()) == out["ops"]
    assert sum(row["steps"] for row in out["ops_by_rule"].values()) == out["steps"]
    assert out["ops_by_rule"]["enumerate"]["steps"] == V and out["semantics"] == "real"
    assert out["compression"] > 0  # reported by mechproof, outside the kernel
    # the kernel's own entry point says the same (without the generator-side compression)
    r2 = run(brute_cert, "--model", model, "--json", prog=CHECKER)
    assert r2.returncode == 0
    out2 = json.loads(one_line(r2.stdout))
    assert {k: v for k, v in out2.items() if k not in ("seconds", "compression")} == {
        k: v for k, v in out.items() if k not in ("seconds", "compression")
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
    next(s for s in h["steps"] if s["rule"] == "enumerate")["claim"]["correct"] += 1


@pytest.mark.parametrize(
    ("name", "corrupt", "reason"),
    [
        ("truncated", lambda b: b[: len(b) // 2], Reason.CERT_SIZE),
        ("magic", lambda b: b"XXXX" + b[4:], Reason.CERT_UNREADABLE),
        ("empty", lambda b: b"", Reason.CERT_UNREADABLE),
        ("not-json", lambda b: b[:16] + b"~" + b[17:], Reason.CERT_UNREADABLE),
        ("unknown-field", edit_header(lambda h: h.update(x=1)), Reason.CERT_SCHEMA),
        ("version", edit_header(lambda h: h.update(version=1)), Reason.CERT_VERSION),
        ("semantics", edit_header(lambda h: h.update(semantics="float32")), Reason.CERT_SCHEMA),
        ("forward-cite", edit_header(lambda h: h["steps"].reverse()), Reason.BAD_REFERENCE),
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


def test_text_verdict_rounds_down(brute_cert: Path, model: Path, work: Path) -> None:
    """The decimal after VERIFIED is the bound rounded *down* (2/3 -> 0.666666, not 0.666667)."""
    raw = brute_cert.read_bytes()
    n = int.from_bytes(raw[8:16], "little")
    header = json.loads(raw[16 : 16 + n])
    header["bound"] = "2/3"  # below the proven 4/5, so it verifies
    text = json.dumps(header).encode()
    cert = work / "two-thirds.cert"
    cert.write_bytes(raw[:8] + len(text).to_bytes(8, "little") + text + raw[16 + n :])
    for prog, args in (
        (CLI, ("check", cert, "--model", model)),
        (CHECKER, (cert, "--model", model)),
    ):
        r = run(*args, prog=prog)
        assert r.returncode == 0, r.stderr
        last = r.stdout.rstrip("\n").splitlines()[-1]
        assert last == "VERIFIED accuracy >= 2/3 >= 0.666666", last
        dec = Fraction(last.rsplit(" ", 1)[1])
        assert dec <= Fraction(2, 3) < dec + Fraction(1, 10**6)


# ---------------------------------------------------------------- explain

STEP_LINE = re.compile(r"^ *(\d+)\. \[(?P<id>[^\]]+)\] (?P<rule>[\w-]+): ")
COST_LINE = re.compile(r"^ +cost (?P<ops>[\d,]+) ops; concludes ")


def _outline(text: str) -> list[dict]:
    """The outline's steps: id, rule and (with --model) cost, in order."""
    steps: list[dict] = []
    for ln in text.splitlines():
        if m := STEP_LINE.match(ln):
            steps.append({"id": m["id"], "rule": m["rule"], "ops": None})
        elif (m := COST_LINE.match(ln)) and steps:
            steps[-1]["ops"] = int(m["ops"].replace(",", ""))
    return steps


EXAMPLES = ROOT / "certificates" / "examples"


@pytest.mark.parametrize("strategy", ["brute-force", "cubic-paired-split", "shipped"])
def test_explain_matches_check(strategy: str, model: Path, work: Path) -> None:
    """``mechproof explain CERT`` lists every step with its rule; with ``--model`` also
    each step's cost: step count, rule names and per-rule costs match ``check --json``
    (for fresh certificates and a shipped one)."""
    cert = work / f"explain-{strategy}.cert"
    if strategy == "shipped":
        cert, model = EXAMPLES / "small-cubic-paired-split.cert", EXAMPLES / "small.safetensors"
    else:
        assert run("prove", model, "--strategy", strategy, "--out", cert).returncode == 0
    out = json.loads(one_line(run("check", cert, "--model", model, "--json").stdout))
    raw = cert.read_bytes()
    header = json.loads(raw[16 : 16 + int.from_bytes(raw[8:16], "little")])
    want = [(s["id"], s["rule"]) for s in header["steps"]]

    bare = run("explain", cert)
    assert bare.returncode == 0 and bare.stderr == "", bare.stderr
    assert f"trace: {out['steps']} steps" in bare.stdout
    steps = _outline(bare.stdout)
    assert [(s["id"], s["rule"]) for s in steps] == want and len(steps) == out["steps"]
    assert all(s["ops"] is None for s in steps) and "cost" not in bare.stdout

    full = run("explain", cert, "--model", model)
    assert full.returncode == 0 and full.stderr == "", full.stderr
    steps = _outline(full.stdout)
    assert [(s["id"], s["rule"]) for s in steps] == want
    assert all(isinstance(s["ops"], int) for s in steps)
    by_rule: dict[str, dict[str, int]] = {}
    for s in steps:
        row = by_rule.setdefault(s["rule"], {"steps": 0, "ops": 0})
        row["steps"] += 1
        row["ops"] += s["ops"]
    kernel_rows = {r: row for r, row in out["ops_by_rule"].items() if r != "(header)"}
    assert by_rule == kernel_rows
    header_ops = out["ops_by_rule"]["(header)"]["ops"]
    assert sum(s["ops"] for s in steps) + header_ops == out["ops"]
    total = [ln for ln in full.stdout.splitlines() if ln.split()[:1] == ["total"]]
    assert total and total[-1].split()[1] == str(out["steps"])
    assert int(total[-1].split()[3].replace(",", "")) == out["ops"]


def test_explain_rejections(brute_cert: Path, model: Path, other_model: Path, work: Path) -> None:
    """Malformed certificate or another model: one line, exit 1, no traceback."""
    bad = work / "explain-truncated.cert"
    bad.write_bytes(brute_cert.read_bytes()[:40])
    for args in ((bad,), (bad, "--model", model), (brute_cert, "--model", other_model)):
        r = run("explain", *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        no_traceback(r)
        one_line(r.stderr)
    lying = work / "explain-claim.cert"
    lying.write_bytes(edit_header(_more_correct)(brute_cert.read_bytes()))
    assert run("explain", lying).returncode == 0  # the outline does not replay
    r = run("explain", lying, "--model", model)
    assert r.returncode == 1 and "REJECTED (claim-mismatch) at step q0" in one_line(r.stderr)


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
