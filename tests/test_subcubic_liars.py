"""The subcubic family's lying generators (generators/liars.py): rejected with their reasons,
and each lie real on some model.

* ``mean-diff`` (the paper's mean+diff, largest slope below the mean) and ``gap-count``
  (m - g + 2 tokens counted): on a max-copying model with noise, some query's claimed count
  exceeds the exact number of correct inputs of that query (arb reference);
* ``half-residual``: its score gaps exceed the exact ones (fmpq EQKE) on a small trained model;
* ``uncertified-svd``: its lambda (numpy's top singular value of the residual product, as if
  it bounded ||EK||_2) is below sigma_1(EK)^2, so the ``spectral`` step's certificate fails
  (lemma-failed);
* ``lowrank-no-residual``: the low-rank tables without their residual balls miss the exact
  fmpq tables (EU, EVOU or EQKE) somewhere; rejected at a count (claim-mismatch).
"""

from __future__ import annotations

import pytest
import support as S
from reference import reference_per_input

from checker import CheckError, Reason, kernel, load_model
from generators.liars import LIARS
from generators.model import save_model
from generators.train import Recipe, train

REAL_PER_QUERY = {"mean-diff": 8, "gap-count": 0}  # copy-noise seed where a count is false


def _rejected(name, M, path, tmp) -> None:
    proof = LIARS[name].make(M)
    cert = tmp / f"{name}.cert"
    proof.write(cert, M.sha256)
    with pytest.raises(CheckError) as exc:
        kernel.check(cert, path)
    assert exc.value.reason is LIARS[name].reason, exc.value


@pytest.mark.parametrize("name", sorted(REAL_PER_QUERY))
def test_count_lie_is_real_and_rejected(name, tmp_path):
    M = S.mixture_model(tmp_path, REAL_PER_QUERY[name], "copy-noise")
    truth = reference_per_input(M)
    proof = LIARS[name].make(M)
    over = [
        s["args"]["query"]
        for s in proof.steps
        if s["rule"] == "gap-cases"
        and s["claim"]["correct"]
        > sum(truth[x] is True for x in truth if x[-1] == s["args"]["query"])
    ]
    assert over, f"{name}: no claimed count above the exact one"
    path = next(tmp_path.glob("*.safetensors"))
    _rejected(name, M, path, tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("sub-liars")
    params, _ = train(Recipe(v=8, k=3, d_model=8, d_head=8, steps=300, lr=3e-3), seed=0, quiet=True)
    save_model(d / "t.safetensors", params, {"seed": "0"}, dtype="float64")
    return d / "t.safetensors"


def test_half_residual_gaps_are_false(trained, tmp_path):
    M = load_model(trained)
    proof = LIARS["half-residual"].make(M)
    sg, ex = proof.notes["gap"], S.exact_tables(M)["EQKE"][0]
    false = [
        (q, m)
        for q in range(M.v)
        for m in range(M.v)
        for t in range(m - int(sg.gap[q, m]) + 1)
        if S.fq(sg.delta[q, m]) > ex[q][m] - ex[q][t]
    ]
    assert false, "half-residual: every halved gap happens to hold"
    _rejected("half-residual", M, trained, tmp_path)


def test_uncertified_svd(trained, tmp_path):
    import numpy as np

    from checker.rules import factor

    M = load_model(trained)
    proof = LIARS["uncertified-svd"].make(M)
    EK = factor.make(M, "EK", 0)
    sigma2 = float(np.linalg.svd(EK.mid, compute_uv=False)[0]) ** 2
    assert proof.notes["lam"] < 0.99 * sigma2, (proof.notes["lam"], sigma2)  # a false lambda
    _rejected("uncertified-svd", M, trained, tmp_path)
    assert LIARS["uncertified-svd"].reason is Reason.LEMMA_FAILED


def test_lowrank_no_residual_tables_are_false(trained, tmp_path):
    M = load_model(trained)
    proof = LIARS["lowrank-no-residual"].make(M)
    ex = S.exact_tables(M)
    want = {"EU": ex["EU"], "EVOU0": ex["EVOU"][0], "EQKE0": ex["EQKE"][0]}
    missed = {sid: S.outside(res.ball, want[sid]) for sid, res in proof.notes["tables"].items()}
    assert any(missed.values()), "lowrank-no-residual: every radius-free table holds"
    _rejected("lowrank-no-residual", M, trained, tmp_path)
