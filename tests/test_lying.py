"""Lying generators (DESIGN.md §7): each must be rejected with its specific reason, and each
lie is real — on at least one model its claimed bound exceeds the exact accuracy.

Also the differential check of the honest strategies on the adversarial models the liars
are exposed on (their bounds never exceed the exact accuracy).  ``liar_report`` and
``honest_report`` take the checker as an argument so that tests/test_kernel_mutants.py can
run them against mutated and always-accepting kernels.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
from prove_util import prove_to
from reference import reference_counts, reference_per_input

from checker import CheckError, Reason, kernel, load_model
from generators.liars import (
    LIARS,
    direct_trap,
    mixture_trap,
    poison_trap,
    tie_model,
    two_head_trap,
    write_liar,
)
from generators.model import save_model
from generators.strategies import REGISTRY, UnsupportedModel
from generators.train import Recipe, train

# where each liar is rejected (trained models) and where its lie is real (claim > exact)
REJECTED_ON: dict[str, tuple[str, ...]] = {
    "max-attention": ("small", "zoo"),
    "mixture-positional": ("mixture",),  # never wrong on trained models: see docs/kernel.md
    "best-positions": ("small", "zoo"),
    "failing-token": ("small", "zoo"),
    "failing-token-in-bound": ("small", "zoo"),
    "half-direct-path": ("small", "zoo"),
    "ignore-other-heads": ("zoo-2-heads",),
    "brute-plus-one": ("small", "zoo"),
    "brute-bound-plus-one": ("small", "zoo", "zoo-2-heads"),
    "double-count": ("small", "zoo", "zoo-2-heads"),
    "head0-for-all-heads": ("zoo-2-heads",),  # on one head it is the honest trace
    "eqkp-for-eqke": ("tie",),  # needs v = k
    "value-as-margin": ("small", "zoo", "zoo-2-heads"),
    "other-query-margin": ("small", "zoo"),
    "claimed-direct-path": ("small", "zoo", "zoo-2-heads"),
    "split-in-g": ("small", "zoo"),
    "value-other-head": ("zoo-2-heads",),  # on one head it is the honest trace
    "mean-diff": ("small", "zoo"),
    "gap-count": ("small", "zoo"),
    "half-residual": ("zoo",),  # on "small" the halved spread changes no count: honest
    "uncertified-svd": ("small", "zoo"),
    "lowrank-no-residual": ("small", "zoo"),
}
REAL_ON: dict[str, str] = {
    "max-attention": "direct",
    "mixture-positional": "mixture",
    "best-positions": "mixture",
    "failing-token": "poison",
    "failing-token-in-bound": "poison",
    "half-direct-path": "direct",
    "ignore-other-heads": "two-heads",
    "brute-plus-one": "small",
    "brute-bound-plus-one": "small",
    "double-count": "poison",
    "head0-for-all-heads": "two-heads",
    "eqkp-for-eqke": "mixture",
    "value-as-margin": "direct",
    "other-query-margin": "direct",
    "claimed-direct-path": "direct",
    "split-in-g": "poison",
    "value-other-head": "two-heads",
    "gap-count": "direct",
}
# liars whose lie is shown real elsewhere (tests/test_subcubic_liars.py: a per-query count
# above the exact one, or a score-gap fact above the exact gap, or a false lemma)
REAL_ELSEWHERE = {"mean-diff", "half-residual", "uncertified-svd", "lowrank-no-residual"}
ADVERSARIAL = {
    "mixture": mixture_trap,
    "direct": direct_trap,
    "poison": poison_trap,
    "two-heads": two_head_trap,
    "tie": tie_model,
}


@pytest.fixture(scope="session")
def lying_models(small_trained, tmp_path_factory) -> dict[str, Path]:
    """small_trained, two zoo-like tiny trained models (one with two heads) and the
    adversarial models of tests/lying.py."""
    d = tmp_path_factory.mktemp("lying-models")
    out = {"small": small_trained}
    for name, recipe, seed in (
        ("zoo", Recipe(v=8, k=3, d_model=8, d_head=8, steps=300, lr=3e-3), 4),
        ("zoo-2-heads", Recipe(v=5, k=3, d_model=8, heads=2, d_head=4, steps=300, lr=3e-3), 1),
    ):
        params, _ = train(recipe, seed=seed, quiet=True)
        save_model(d / f"{name}.safetensors", params, {"seed": str(seed)}, dtype="float64")
        out[name] = d / f"{name}.safetensors"
    for name, make in ADVERSARIAL.items():
        out[name] = make(d / f"{name}.safetensors")
    return out


def mode_correct(x: tuple[int, ...]) -> bool:
    """The tie model's closed form: x is correct iff its max is strictly its most frequent
    token."""
    m = max(x)
    return all(x.count(m) > x.count(t) for t in set(x) if t != m)


_EXACT: dict[Path, Fraction] = {}


def exact_accuracy(path: Path) -> Fraction:
    """The exact accuracy by the independent arb reference (tests/reference.py); every
    model used here is decided completely by it (asserted)."""
    if path not in _EXACT:
        c, _, u = reference_counts(load_model(path))
        assert u == 0, f"{path.name}: the reference leaves {u} inputs undecided"
        _EXACT[path] = Fraction(c, load_model(path).total)
    return _EXACT[path]


Check = Callable[[Path, Path], object]


def _bound_of(verdict: object) -> Fraction:
    b = verdict.bound  # type: ignore[attr-defined]
    return Fraction(int(b.p), int(b.q)) if hasattr(b, "p") else Fraction(b)


def liar_report(check: Check, models: dict[str, Path], tmp: Path) -> list[str]:
    """Run every liar on its models through ``check``; return what went wrong (empty when
    every liar is rejected with its expected reason).  An accepted lie whose claimed bound
    exceeds the exact accuracy is reported as a FALSE BOUND."""
    problems = []
    for name, liar in LIARS.items():
        for where in (*REJECTED_ON[name], *([REAL_ON[name]] if name in REAL_ON else [])):
            cert, claimed = write_liar(name, models[where], tmp / f"{name}-{where}.cert")
            try:
                verdict = check(cert, models[where])
            except CheckError as exc:
                if exc.reason is not liar.reason:
                    problems.append(f"{name}@{where}: {exc.reason} instead of {liar.reason}")
                continue
            exact = exact_accuracy(models[where])
            bound = _bound_of(verdict)
            tag = "FALSE BOUND" if bound > exact else "ACCEPTED"
            problems.append(f"{name}@{where}: {tag} {bound} (exact {exact}, claimed {claimed})")
    return problems


_PER_QUERY: dict[Path, list[int]] = {}


def exact_per_query(path: Path) -> list[int]:
    """Correct inputs per query token, by the arb reference (input by input)."""
    if path not in _PER_QUERY:
        m = load_model(path)
        truth = reference_per_input(m)
        _PER_QUERY[path] = [sum(truth[x] is True for x in truth if x[-1] == q) for q in range(m.v)]
    return _PER_QUERY[path]


def _step_counts(cert: Path) -> dict[int, int]:
    """{query: claimed count} of a v2 trace: ``enumerate`` names its query, ``cases`` counts
    the query of the margin bound it cites."""
    raw = cert.read_bytes()
    n = int.from_bytes(raw[8:16], "little")
    steps = json.loads(raw[16 : 16 + n])["steps"]
    query = {s["id"]: s["args"]["query"] for s in steps if "query" in s["args"]}
    out = {}
    for s in steps:
        if s["rule"] == "enumerate" or s["rule"] == "gap-cases":
            out[s["args"]["query"]] = s["claim"]["correct"]
        elif s["rule"] == "cases":
            out[query[s["cite"]["margin"]]] = s["claim"]["correct"]
    return out


def honest_report(check: Check, models: dict[str, Path], tmp: Path) -> list[str]:
    """The differential check on the given models: every honest strategy's certificate
    verifies, its bound is at most the exact accuracy (else FALSE BOUND), and each verified
    per-query count is at most that query's exact count (else FALSE COUNT)."""
    problems = []
    for where, path in models.items():
        exact = exact_accuracy(path)
        per_query = exact_per_query(path)
        for name in REGISTRY:
            try:
                cert = prove_to(path, name, tmp / f"honest-{name}-{where}.cert")
            except UnsupportedModel:
                continue
            try:
                bound = _bound_of(check(cert, path))
            except CheckError as exc:
                problems.append(f"{name}@{where}: REJECTED GOOD ({exc.reason})")
                continue
            if bound > exact:
                problems.append(f"{name}@{where}: FALSE BOUND {bound} > exact {exact}")
            for q, n in _step_counts(cert).items():
                if n > per_query[q]:
                    problems.append(f"{name}@{where}: FALSE COUNT q={q}: {n} > {per_query[q]}")
    return problems


def tie_report(check: Check, path: Path, tmp: Path) -> list[str]:
    """The differential check on the tie model, whose exact ties the reference cannot
    decide: bounds against the closed form (the max strictly the most frequent token)."""
    m = load_model(path)
    xs = list(itertools.product(range(m.v), repeat=m.k))
    exact = Fraction(sum(mode_correct(x) for x in xs), len(xs))
    problems = []
    for name in REGISTRY:
        bound = _bound_of(check(prove_to(path, name, tmp / f"tie-{name}.cert"), path))
        if bound > exact:
            problems.append(f"{name}@tie: FALSE BOUND {bound} > closed form {exact}")
    return problems


@pytest.mark.parametrize("name", sorted(LIARS))
def test_liar_rejected_with_its_reason(name, lying_models, tmp_path):
    liar = LIARS[name]
    for where in (*REJECTED_ON[name], *([REAL_ON[name]] if name in REAL_ON else [])):
        cert, _ = write_liar(name, lying_models[where], tmp_path / f"{where}.cert")
        with pytest.raises(CheckError) as exc:
            kernel.check(cert, lying_models[where])
        assert exc.value.reason is liar.reason, (where, exc.value)


@pytest.mark.parametrize("name", sorted(REAL_ON))
def test_lie_is_real(name, lying_models, tmp_path):
    """The liar's claimed bound exceeds the exact accuracy (independent reference)."""
    path = lying_models[REAL_ON[name]]
    _, claimed = write_liar(name, path, tmp_path / "real.cert")
    assert claimed > exact_accuracy(path)
    c, _, u, total = kernel.exact_accuracy(load_model(path))
    assert u == 0 and Fraction(c, total) == exact_accuracy(path)


def test_honest_strategies_sound_on_adversarial_models(lying_models, tmp_path):
    models = {k: v for k, v in lying_models.items() if k != "tie"}
    assert honest_report(kernel.check, models, tmp_path) == []


def test_tie_model_bounds_below_closed_form(lying_models, tmp_path):
    path = lying_models["tie"]
    assert tie_report(kernel.check, path, tmp_path) == []
    m = load_model(path)
    xs = list(itertools.product(range(m.v), repeat=m.k))
    cert, claimed = write_liar("max-attention", path, tmp_path / "liar.cert")
    assert claimed > Fraction(sum(mode_correct(x) for x in xs), len(xs))
    with pytest.raises(CheckError):
        kernel.check(cert, path)


def test_liar_report_clean(lying_models, tmp_path):
    assert liar_report(kernel.check, lying_models, tmp_path) == []


def test_registry_covers_the_lies():
    """At least the ten liars of format v1, each with a specific reason; every reason the
    trace structure adds (citations, hints, tensor claims) is exercised by some liar."""
    assert len(LIARS) >= 21 and set(LIARS) == set(REJECTED_ON) == set(REAL_ON) | REAL_ELSEWHERE
    reasons = {liar.reason for liar in LIARS.values()}
    assert {
        Reason.CLAIM_MISMATCH,
        Reason.BOUND_NOT_PROVEN,
        Reason.OVERLAP,
        Reason.UNSUPPORTED,
        Reason.BAD_REFERENCE,
        Reason.BAD_HINT,
    } <= reasons


@pytest.mark.parametrize(
    ("name", "step"),
    [
        ("claimed-direct-path", "EU"),  # the tensor claim, before any count
        ("value-as-margin", "q0"),
        ("head0-for-all-heads", "q0"),
        ("other-query-margin", "q1"),
        ("value-other-head", "value.each"),  # q0 counts the cited margin's query; q1 repeats it
    ],
)
def test_structural_liars_rejected_at_their_step(name, step, lying_models, tmp_path):
    where = REAL_ON[name]
    cert, _ = write_liar(name, lying_models[where], tmp_path / "s.cert")
    with pytest.raises(CheckError) as exc:
        kernel.check(cert, lying_models[where])
    assert exc.value.step == step, exc.value
