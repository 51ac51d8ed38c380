"""Rule ``gap-cases`` (checker/rules/gap_cases.py): the subcubic family's count per query.

Soundness with zero tolerance: on max-copying models with noise (many cases proven, some
only just) and small trained models, every input of every proven gap case is correct by the
arb reference (tests/reference.py), and the rule's count equals the number of inputs those
cases cover, enumerated one by one (the count lemma C(k-1, c)(m-g+1)^c, exactly).  Plus
mutants (an off-by-one count, a dropped score-gap factor, upper ends for F_M) and the
preconditions with their exact Reason.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import support as S

from checker import Reason, load_model
from checker.rules import gap_cases
from generators.strategies.subcubic import Subcubic

VARIANTS = [Subcubic(d, a) for d in ("paired", "split") for a in ("eqke", "rank1-mrd")]
VARIANTS += [Subcubic("paired", "eqke", near=True), Subcubic("split", "rank1-mrd", near=True)]


def covered(M, q: int, ok: np.ndarray, j: np.ndarray, near=None) -> list[tuple[int, ...]]:
    """Every input of query q in a proven gap case (m, c) or near case (m, c, t), enumerated
    from the definitions (near: exactly one non-max token t in (j, m), at index m - 1 - t)."""
    out = []
    for prefix in itertools.product(range(M.v), repeat=M.k - 1):
        x = (*prefix, q)
        m = max(x)
        nonmax = [t for t in prefix if t != m]
        c = len(nonmax)
        if not (q == m or q <= j[m]):
            continue
        far = [t for t in nonmax if t > j[m]]
        if (
            not far
            and ok[m, c]
            or near is not None
            and len(far) == 1
            and near[m, c, m - 1 - far[0]]
        ):
            out.append(x)
    return out


def check_model(M, tmp: Path, config: Subcubic) -> int:
    """GAP: every covered input correct, and count == |covered| for every query; returns the
    number of inputs proven (so a caller can see the check was not vacuous)."""
    truth = S.reference_per_input(M)
    proof = config.prove(M)
    st = S.replay_steps(M, proof.steps, proof.arrays)
    total = 0
    for q in range(M.v):
        step = next(s for s in proof.steps if s["id"] == f"q{q}")
        cites = {r: st.results[c] for r, c in step["cite"].items()}
        ok, j, near = gap_cases.proven(M, cites, q, config.direct, config.near)
        cov = covered(M, q, ok, j, near)
        bad = [x for x in cov if truth[x] is not True]
        assert not bad, f"GAP: {config.name} proves incorrect inputs {bad[:3]}"
        count = st.results[f"q{q}"].correct
        assert count == len(cov), f"GAP COUNT: {config.name} q={q}: {count} != {len(cov)}"
        total += count
    return total


@pytest.mark.parametrize("seed", range(6))
def test_sound_on_copy_noise_models(tmp_path, seed):
    M = S.mixture_model(tmp_path, seed, "copy-noise")
    proven = sum(check_model(M, tmp_path, c) for c in VARIANTS)
    if seed < 3:
        assert proven > 0, "GAP: the soundness check proved nothing (vacuous)"


def test_sound_on_trained(small_trained, tmp_path):
    M = load_model(small_trained)
    assert check_model(M, tmp_path, Subcubic("paired", "eqke")) > 0


def test_count_closed_form():
    """C(k-1, c) (j + 1)^c: k = 4, j = 2, c = 0..3 -> 1, 9, 27, 27."""
    from checker import lemmas as L

    ok = np.ones((1, 4), dtype=bool)
    got = L.count_gaps(4, np.array([2]), ok)
    assert got == [1 + 3 * 3 + 3 * 9 + 27], got
    assert got[0] == sum(math.comb(3, c) * 3**c for c in range(4))


# ---- preconditions -------------------------------------------------------------------------


def _trace(M):
    proof = Subcubic("split", "eqke").prove(M)
    head = [s for s in proof.steps if s["rule"] != "gap-cases"]
    q0 = next(s for s in proof.steps if s["id"] == "q0")
    return head, q0, proof.arrays


def test_rejections(tiny_path, tiny2_path):
    M = load_model(tiny_path)
    head, q0, arrays = _trace(M)
    assert S.replay_reason(M, [*head, q0], arrays) is None
    bad = dict(q0, args={"query": 0, "direct": "mean+diff"})
    assert S.replay_reason(M, [*head, bad], arrays) is Reason.BAD_HINT
    bad = dict(q0, args={"query": M.v, "direct": "split"})
    assert S.replay_reason(M, [*head, bad], arrays) is Reason.BAD_HINT
    bad = dict(q0, cite={**q0["cite"], "f": "EQKP0"})  # scores, not rowexp(EQKP)
    assert S.replay_reason(M, [*head, bad], arrays) is Reason.BAD_REFERENCE
    bad = dict(q0, cite={**q0["cite"], "values": "gap"})  # a ScoreGap is not WrongValues
    assert S.replay_reason(M, [*head, bad], arrays) is Reason.BAD_REFERENCE
    bad = dict(q0, claim={"correct": q0["claim"]["correct"] + 1})
    assert S.replay_reason(M, [*head, bad], arrays) is Reason.CLAIM_MISMATCH
    again = [*head, q0, dict(q0, id="again")]  # the same count twice: refused before it runs
    assert S.replay_reason(M, again, arrays) is Reason.OVERLAP


def test_one_head_only(tiny2_path):
    M = load_model(tiny2_path)
    cite = {"eupu": "EU", "values": "EU", "gap": "EU", "f": "EU"}
    step = S.step("q0", "gap-cases", cite, {"query": 0, "direct": "split"}, {"correct": 0})
    steps = [S.step("EU", "factor", args={"name": "EU", "head": 0}), step]
    assert S.replay_reason(M, steps) is Reason.BAD_REFERENCE  # types are checked first


# ---- mutants -------------------------------------------------------------------------------


def det_sound(tmp) -> None:
    for seed in range(4):
        M = S.mixture_model(tmp, seed, "copy-noise")
        for c in VARIANTS:
            check_model(M, tmp, c)


DETECTORS = {"sound": det_sound}
MUTANTS = {
    "count-off-by-one": S.Mutant(
        __import__("checker.lemmas", fromlist=["count_gaps"]),
        "count_gaps",
        (("n = int(j[m]) + 1", "n = int(j[m]) + 2"),),
        (("sound", "GAP"),),
        "counts m - g + 2 tokens",
    ),
    "no-score-gap": S.Mutant(
        gap_cases,
        "proven",
        (("_b(-sg.delta[q])", "_b(-2 * sg.delta[q] - 1)"),),
        (("sound", "GAP"),),
        "the non-max tokens' attention shrunk beyond the certified gap",
    ),
    "near-count": S.Mutant(
        __import__("checker.lemmas", fromlist=["count_gaps"]),
        "count_gaps",
        (("int(c) * n ** (int(c) - 1)", "int(c) * n ** int(c)"),),
        (("sound", "GAP"),),
        "near cases counted as if every non-max token could be the near one",
    ),
    "near-own-gap-ignored": S.Mutant(
        gap_cases,
        "proven",
        (("_b(-sg.near[q])", "_b(-sg.delta[q][:, None] + 0 * sg.near[q])"),),
        (("sound", "GAP"),),
        "the near token's attention bounded with the far tokens' gap",
    ),
    "fm-upper": S.Mutant(
        gap_cases,
        "_weights",
        (("np.arange(n)[None, :] < n - c, lo[None, :]", "np.arange(n)[None, :] < n, lo[None, :]"),),
        (("sound", "GAP"),),
        "F_M summed over every position (max copies on all of them)",
    ),
}


def test_detectors_pass(tmp_path):
    det_sound(tmp_path)


_, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
