"""Rule ``enumerate`` (checker/rules/enumerate.py): every input of one query decided.

Closed forms (a direct-path-only model, the tie model with one and two heads), soundness
against the arb reference (tests/reference.py), the fast sufficient test against the exact
path, mutants, and the rule's preconditions (exact Reason).
"""

from __future__ import annotations

import itertools

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st
from reference import reference_per_input

from checker import Reason, load_model
from checker.rules import enumerate as en
from generators.tinymodels import make_weights


def counts(M) -> list[tuple[int, int, int]]:
    T = S.enum_tables(M)
    return [(c.correct, c.incorrect, c.undecided) for c in (en.decide(M, T, q) for q in range(M.v))]


def check_closed_forms(tmp) -> None:
    """ENUMERATE: decide agrees with two closed forms (one and two heads, exact ties)."""
    from generators.liars import tie_model

    v, k = 4, 3
    M = S.model_of(tmp, "direct", S.direct_only_weights(v, k))
    for q, got in enumerate(counts(M)):
        want = (q + 1) ** (k - 1)
        assert got == (want, v ** (k - 1) - want, 0), f"ENUMERATE: direct q={q}: {got}"
    for heads in (1, 2):
        v, k = 3, 3
        M = load_model(tie_model(tmp / f"tie{heads}.safetensors", v, k, heads))
        for q, (c, i, u) in enumerate(counts(M)):
            xs = [(*p, q) for p in itertools.product(range(v), repeat=k - 1)]
            want = sum(S.mode_correct(x) for x in xs)
            beaten = sum(any(x.count(y) > x.count(max(x)) for y in x) for x in xs)
            assert c == want, f"ENUMERATE: tie h={heads} q={q}: {c} correct, want {want}"
            assert i >= beaten and c + i + u == len(xs), f"ENUMERATE: tie h={heads} q={q}"


def test_closed_forms(tmp_path):
    check_closed_forms(tmp_path)


def check_against_reference(M) -> None:
    """ENUMERATE: the kernel's correct / incorrect counts never exceed the reference's, and
    they equal them when the kernel leaves nothing undecided."""
    truth = reference_per_input(M)
    for q, (c, i, u) in enumerate(counts(M)):
        xs = [x for x in truth if x[-1] == q]
        rc = sum(truth[x] is True for x in xs)
        ri = sum(truth[x] is False for x in xs)
        assert c <= rc and i <= ri, f"ENUMERATE: q={q}: kernel ({c}, {i}), reference ({rc}, {ri})"
        assert u or (c, i) == (rc, ri), f"ENUMERATE: q={q} decided differently"


@S.FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["int", "random", "biased", "trained-like"]),
    heads=st.sampled_from([1, 1, 2]),
)
def test_against_reference(tmp_path, seed, kind, heads):
    w = S.random_weights(seed, "biased" if kind == "trained-like" else kind, heads)
    if kind == "trained-like":
        rng = np.random.default_rng(seed)
        v, k = int(rng.integers(2, 6)), int(rng.integers(2, 4))
        w = make_weights(rng, v, k, 3, heads, 2, "trained-like")
    check_against_reference(S.model_of(tmp_path, f"r{seed}", w))


def test_fast_path_agrees_with_exact_path(tmp_path):
    """The one-head sufficient test only routes inputs: the counts equal the exact path's."""
    for seed in range(4):
        rng = np.random.default_rng(seed)
        M = S.model_of(tmp_path, f"f{seed}", make_weights(rng, 5, 3, 4, 1, 2, "trained-like"))
        T = S.enum_tables(M)
        for q in range(M.v):
            x = en._inputs(M.v, M.k, q, 0, M.v ** (M.k - 1))
            assert en.decide(M, T, q).correct == en._decide_exact(T, q, x)[0]


# ---- preconditions -------------------------------------------------------------------------


def _enum(heads, eu="EU", q=0, claim=None, **roles):
    cite = {"eupu": eu, **{r: [h[r] for h in heads] for r in ("evou", "pvou", "g", "f")}}
    cite.update(roles)
    return S.step("e", "enumerate", cite=cite, args={"query": q}, claim=claim or {"correct": 0})


def test_preconditions(tiny_path):
    M = load_model(tiny_path)
    t, eu, heads = S.tables_trace(M)
    n = counts(M)[0][0]
    h = heads[0]
    cases = [
        (_enum(heads, claim={"correct": n}), None),
        (_enum(heads, claim={"correct": n + 1}), Reason.CLAIM_MISMATCH),
        (_enum(heads, claim={"correct": n - 1}), Reason.CLAIM_MISMATCH),
        (_enum(heads, claim={"correct": -1}), Reason.CERT_SCHEMA),
        (_enum(heads, claim={"correct": "3"}), Reason.CERT_SCHEMA),
        (_enum(heads, claim={"correct": n, "x": 1}), Reason.CERT_SCHEMA),
        (
            S.step("e", "enumerate", cite=_enum(heads)["cite"], args={"query": 0}),
            Reason.CERT_SCHEMA,
        ),
        (_enum(heads, q=M.v), Reason.BAD_HINT),
        (_enum(heads, q=-1), Reason.BAD_HINT),
        (_enum(heads, g=[h["f"]]), Reason.BAD_REFERENCE),  # f passed off as g
        (_enum(heads, evou=[h["pvou"]]), Reason.BAD_REFERENCE),
        (_enum(heads, eu=h["evou"]), Reason.BAD_REFERENCE),  # EVOU passed off as EU
        (_enum(heads, g=["EQKE0"]), Reason.BAD_REFERENCE),  # scores, not their exps
        (_enum(heads, g=[]), Reason.BAD_REFERENCE),  # one entry per head
        (_enum(heads, g=[h["g"], h["g"]]), Reason.BAD_REFERENCE),
        (_enum(heads, g=h["g"]), Reason.BAD_REFERENCE),  # a list is required
        (_enum(heads, f=["nowhere"]), Reason.BAD_REFERENCE),
    ]
    for st_, reason in cases:
        assert S.replay_reason(M, [*t.steps, st_]) is reason, st_


def test_two_heads_supported(tiny2_path):
    """enumerate takes any number of heads; its counts match the reference's."""
    M = load_model(tiny2_path)
    t, _, heads = S.tables_trace(M)
    c = counts(M)
    st_ = _enum(heads, q=1, claim={"correct": c[1][0]})
    assert S.proven_of(M, [*t.steps, st_]) == c[1][0]
    assert S.replay_reason(M, [*t.steps, _enum(heads[:1], q=1)]) is Reason.BAD_REFERENCE


def test_work_limit(tmp_path):
    """A model whose inputs cannot be enumerated in reasonable time: UNSUPPORTED, at once."""
    M = S.model_of(
        tmp_path, "big", make_weights(np.random.default_rng(2), 2, 30, 2, 1, 2, "random")
    )
    t, _, heads = S.tables_trace(M)
    assert S.replay_reason(M, [*t.steps, _enum(heads)]) is Reason.UNSUPPORTED


# ---- mutants -------------------------------------------------------------------------------


def det_closed(tmp) -> None:
    check_closed_forms(tmp)


def det_reference(tmp) -> None:
    for seed, heads, kind in ((1, 1, "int"), (2, 2, "random"), (3, 2, "biased"), (4, 1, "random")):
        check_against_reference(S.model_of(tmp, f"r{seed}", S.random_weights(seed, kind, heads)))
    rng = np.random.default_rng(9)
    for heads in (1, 2):
        w = make_weights(rng, 4, 3, 3, heads, 2, "trained-like")
        check_against_reference(S.model_of(tmp, f"t{heads}", w))


def det_preconditions(tmp) -> None:
    M = S.tiny_model(tmp)
    t, _, heads = S.tables_trace(M)
    got = S.replay_reason(M, [*t.steps, _enum(heads, g=[heads[0]["f"]])])
    assert got is Reason.BAD_REFERENCE, f"ENUMERATE: f passed off as g gave {got}"


def det_false_bound(tmp) -> None:
    S.false_bound_report(S.adversarial_models(tmp), tmp, ["brute-force"])


DETECTORS = {
    "closed": det_closed,
    "reference": det_reference,
    "preconditions": det_preconditions,
    "false-bound": det_false_bound,
}
MUTANTS = {
    "margin>=0-on-mid": S.Mutant(
        en,
        "_decide_exact",
        (("ok = (B.positive(S) | is_m)", "ok = ((S.mid >= 0) | is_m)"),),
        (("closed", "ENUMERATE"), ("false-bound", S.FB)),
        "exact path counts a margin as positive when its midpoint is >= 0 (ties pass)",
    ),
    "fast-max-over-y": S.Mutant(
        en,
        "_fast_table",
        (("L = B.min(delta, 3,", "L = B.max(delta, 3,"),),
        (("closed", "ENUMERATE"), ("reference", "ENUMERATE"), ("false-bound", S.FB)),
        "fast sufficient test uses the best wrong logit",
    ),
    "direct-path-unscaled": S.Mutant(
        en,
        "scaled_margins",
        (("total = B.mul(total, Z)", "total = total"),),
        (("reference", "ENUMERATE"),),
        "division-free sign: the direct path not multiplied by the softmax denominators",
    ),
    "meanings-unchecked": S.Mutant(
        en,
        "_tables",
        (("got == [mean(i) for i in range(h)]", "True"),),
        (("preconditions", "ENUMERATE"),),
        "per-head tables accepted whatever they mean",
    ),
}


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
