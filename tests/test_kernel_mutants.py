"""Mutation tests of the kernel: the test suite must catch every unsound kernel.

Each mutant is a *source-level* edit of one kernel function (the function's source text is
edited, recompiled against its own module's globals, and monkeypatched in everywhere the
original is referenced).  For each, the table names the normal-suite checks ("detectors")
that must fail under the mutant and the tag their failure must carry; ``FALSE BOUND`` means
that the mutated kernel VERIFIED a certificate whose bound exceeds the model's exact
accuracy (computed by the independent arb reference).  Every detector passes on the real
kernel (test_detectors_pass_on_the_real_kernel), so a failure is the mutant's doing.

The generators call the same kernel functions, so under a mutant that inflates a count the
*honest* generators write certificates that the mutated kernel accepts with a false bound,
exactly as a generator written against a buggy kernel would.
"""

from __future__ import annotations
import __future__

import inspect
import json
import sys
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import test_rules as R
from prove_util import prove_to
from test_lying import (
    REAL_ON,
    REJECTED_ON,
    honest_report,
    liar_report,
    tie_report,
)
from test_lying import lying_models as lying_models  # noqa: F401  (the fixture, shared)
from test_negative import run_corpus

from checker import CheckError, brute, cases, kernel, load_model, tables
from generators.liars import LIARS
from generators.tinymodels import make_weights

# ---- the mutation machinery -----------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    """Replace each ``old`` (which must occur exactly once) by ``new`` in ``module.func``."""

    module: types.ModuleType
    func: str
    edits: tuple[tuple[str, str], ...]
    caught_by: tuple[tuple[str, str], ...]  # (detector, tag its failure message must contain)
    what: str


def mutate(mutant: Mutant) -> Callable[..., Any]:
    """Return the mutated function, with the original's module globals."""
    orig = getattr(mutant.module, mutant.func)
    src = textwrap.dedent(inspect.getsource(orig))
    for old, new in mutant.edits:
        assert src.count(old) == 1, f"mutant edit no longer applies to {mutant.func}: {old!r}"
        src = src.replace(old, new)
    code = compile(
        src,
        f"<mutant of {mutant.module.__name__}.{mutant.func}>",
        "exec",
        flags=__future__.annotations.compiler_flag,
        dont_inherit=True,
    )
    scratch = dict(mutant.module.__dict__)
    exec(code, scratch)
    fn = scratch[mutant.func]
    return types.FunctionType(
        fn.__code__, mutant.module.__dict__, mutant.func, fn.__defaults__, fn.__closure__
    )


def apply(mp: pytest.MonkeyPatch, mutant: Mutant) -> None:
    """Install the mutant wherever the original function is referenced."""
    orig = getattr(mutant.module, mutant.func)
    fn = mutate(mutant)
    for mod in list(sys.modules.values()):
        if isinstance(mod, types.ModuleType) and vars(mod).get(mutant.func) is orig:
            mp.setattr(mod, mutant.func, fn)
    for key, rule in list(kernel.RULES.items()):
        if rule is orig:
            mp.setitem(kernel.RULES, key, fn)


# ---- detectors: the normal suite's checks, on fixed inputs ---------------------------------


@dataclass
class Env:
    models: dict[str, Path]
    good: dict[str, bytes]
    tmp: Path
    small: Path
    tie: Path
    mp: Any = None  # the monkeypatch in force (detectors that patch use it)


def _fail_if(problems: list[str]) -> None:
    assert not problems, "; ".join(problems)


def det_differential(env: Env) -> None:
    """tests/test_lying.py: honest strategies verify, with bounds <= the exact accuracy."""
    _fail_if(honest_report(kernel.check, env.models, env.tmp))


def det_liars(env: Env) -> None:
    """tests/test_lying.py: every liar is rejected with its reason."""
    _fail_if(liar_report(kernel.check, env.models, env.tmp))


def det_corpus(env: Env) -> None:
    """tests/test_negative.py: good certificates verify; the negative corpus is rejected."""
    for kind, raw in env.good.items():
        p = env.tmp / f"good-{kind}.cert"
        p.write_bytes(raw)
        try:
            kernel.check(p, env.small)
        except CheckError as exc:
            raise AssertionError(f"REJECTED GOOD {kind}: {exc}") from exc
    _fail_if([f"CORPUS {m}" for m in run_corpus(kernel.check, env.good, env.small, env.tmp)])


def det_tables(env: Env) -> None:
    """tests/test_rules.py: path tables on the toy and containment of exact values."""
    R.check_toy_path_tables(env.tmp)
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        w = make_weights(rng, 4, 3, 3, 1 + seed % 2, 2, "biased")
        R.check_tables_contain_exact(load_model(R.save(env.tmp, f"t{seed}", w)))


def det_exp(env: Env) -> None:
    """tests/test_rules.py: exp tables against mpmath."""
    R.check_exp_table(np.array([[0.0, 1.0, -1.0], [700.0, -700.0, 0.5], [3.0, 3.0, 3.0]]), 7)
    R.check_exp_table(np.array([[0.25, -3.5, 2.0]]), 1)


def det_brute(env: Env) -> None:
    """tests/test_rules.py: brute force against its closed forms."""
    R.check_brute_closed_forms(env.tmp)


def det_tie(env: Env) -> None:
    """tests/test_lying.py: honest bounds on the tie model <= its closed-form accuracy."""
    _fail_if(tie_report(kernel.check, env.tie, env.tmp))


def det_count(env: Env) -> None:
    """tests/test_rules.py: the count lemma and count_query's union count."""
    for v, k in ((2, 2), (3, 3), (4, 3), (3, 4)):
        for q in range(v):
            R.check_count_lemma(v, k, q, R.allowed_bits(v, k, q))
    rng = np.random.default_rng(0)
    M = load_model(R.save(env.tmp, "cq", make_weights(rng, 4, 4, 3, 1, 2, "random")))
    for q in range(M.v):
        allowed = R.allowed_bits(M.v, M.k, q)
        R.check_count_query_union(M, q, allowed & (rng.random(allowed.shape) < 0.7), env.mp)


def det_value(env: Env) -> None:
    """tests/test_rules.py: each value variant contains its exact value, <= the min over y."""
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        w = make_weights(rng, 4, 3, 3, 1, 2, "biased")
        R.check_value_lemma(load_model(R.save(env.tmp, f"val{seed}", w)))


def det_mixture(env: Env) -> None:
    """tests/test_rules.py: inputs in proven cases are correct per the arb reference, on
    copy-noise models and on the adversarial models of tests/lying.py."""
    models = [R._mixture_model(env.tmp, seed, "copy-noise") for seed in (1, 2, 3, 4)]
    models += [load_model(env.models[n]) for n in ("mixture", "direct", "poison")]
    for M in models:
        truth = R.reference_per_input(M)
        for variant in cases.VARIANTS:
            R.check_covered_are_correct(
                M, variant, lambda tau, q, M=M: R.allowed_bits(M.v, M.k, q), truth
            )
            R.check_covered_are_correct(M, variant, R.choose_sets, truth)


def det_extremes(env: Env) -> None:
    """tests/test_rules.py: case_bounds against the minimum over every placement."""
    rng = np.random.default_rng(0)
    for v, k in ((3, 3), (4, 4), (5, 3)):
        for q in range(v):
            tau = np.round(rng.standard_normal((v, k, v)) * 4)
            allowed = R.allowed_bits(v, k, q)
            sets = allowed & (rng.random(allowed.shape) < 0.7)
            R.check_extremes(tau, q, sets)
            R.check_extremes(tau, q, sets, rad=rng.choice([0.0, 0.5, 2.0], size=tau.shape))


def det_rules(env: Env) -> None:
    """tests/test_rules.py: the kernel's rule-level checks on small_trained."""
    M = load_model(env.small)
    T = R.path_tables(M)
    small = (env.small, M, T, [brute.decide_query(T, q)[0] for q in range(M.v)])
    for test in (
        R.test_overlap_two_enumerations,
        R.test_overlap_enumerate_and_cases,
        R.test_claims_must_equal_derived,
        R.test_final_bound_exact_rational,
        R.test_hint_bits_outside_cases_rejected,
    ):
        test(small, env.tmp)
    R.test_cases_on_two_heads_unsupported(env.tmp)


DETECTORS: dict[str, Callable[[Env], None]] = {
    "differential": det_differential,
    "liars": det_liars,
    "corpus": det_corpus,
    "tables": det_tables,
    "exp": det_exp,
    "brute": det_brute,
    "tie": det_tie,
    "count": det_count,
    "value": det_value,
    "mixture": det_mixture,
    "extremes": det_extremes,
    "rules": det_rules,
}

# ---- the mutants ------------------------------------------------------------------------------

FB = "FALSE BOUND"

MUTANTS: dict[str, Mutant] = {
    "count-|G|^(c+1)": Mutant(
        cases,
        "count_query",
        (("int(sizes[m, c]) ** int(c)", "int(sizes[m, c]) ** (int(c) + 1)"),),
        (("count", "COUNT"), ("differential", FB)),
        "count lemma with |G|^(c+1)",
    ),
    "count-C(k,c)": Mutant(
        cases,
        "count_query",
        (("math.comb(k - 1, int(c))", "math.comb(k, int(c))"),),
        (("count", "COUNT"), ("differential", FB)),
        "count lemma with C(k, c) positions",
    ),
    "valid-cases-c<=k-1": Mutant(
        cases,
        "valid_cases",
        (("np.where(m == q, k - 1, k - 2)", "k - 1"),),
        (("count", "COUNT"), ("differential", FB)),
        "a case with no copy of the max among the first k-1 positions when q < m",
    ),
    "min-over-y->max": Mutant(
        cases,
        "_min_excluding_m",
        (
            (
                "np.where(diag, np.inf, lo).min(axis=axis)",
                "np.where(diag, -np.inf, lo).max(axis=axis)",
            ),
            (
                "np.where(diag, np.inf, hi).min(axis=axis)",
                "np.where(diag, -np.inf, hi).max(axis=axis)",
            ),
        ),
        (("value", "VALUE"), ("mixture", "MIXTURE"), ("differential", FB)),
        "value lemma: the best wrong logit instead of the worst",
    ),
    "paper-max-over-positions": Mutant(
        cases,
        "value_parts",
        (
            (
                "B.lower(Pv).min(axis=1), B.upper(Pv).min(axis=1)",
                "B.lower(Pv).max(axis=1), B.upper(Pv).max(axis=1)",
            ),
        ),
        (("value", "VALUE"), ("mixture", "MIXTURE"), ("differential", FB)),
        "paper variant: positional term maximised over positions",
    ),
    "case-bounds-no-query-term": Mutant(
        cases,
        "case_bounds",
        (
            (
                "_b(tau.mid[:, k - 1, q], tau.rad[:, k - 1, q])",
                "_b(0 * tau.mid[:, k - 1, q], 0 * tau.rad[:, k - 1, q])",
            ),
        ),
        (("extremes", "EXTREMES"), ("mixture", "MIXTURE"), ("differential", "FALSE COUNT")),
        "case bound ignores the query position's own term",
    ),
    "case-bounds-c-largest": Mutant(
        cases,
        "case_bounds",
        (("dlo = np.sort(B.lower(delta), axis=2)", "dlo = -np.sort(-B.lower(delta), axis=2)"),),
        (
            ("extremes", "EXTREMES"),
            ("mixture", "MIXTURE"),
            ("liars", "best-positions@small: ACCEPTED"),
        ),
        "attention extremes: the c best positions instead of the c worst",
    ),
    "case-bounds-mid-not-lower": Mutant(
        cases,
        "case_bounds",
        (("tau_lo = B.lower(", "tau_lo = (lambda b: b.mid)("),),
        (("extremes", "EXTREMES"),),
        "token minimum over G taken on midpoints (rounding inward)",
    ),
    "one-head-check-dropped": Mutant(
        cases,
        "count_query",
        (("T.EVOU.shape[0] == 1", "True"),),
        (("rules", "assert"), ("liars", FB)),
        "position-cases on a two-head model (head 0 only)",
    ),
    "hint-bits-unchecked": Mutant(
        cases,
        "count_query",
        (("not bool((sets & ~possible).any())", "True"),),
        (("rules", "assert"), ("corpus", "CORPUS")),
        "token sets naming t >= m or impossible cases accepted",
    ),
    "no-disjointness": Mutant(
        kernel,
        "_cover",
        (("q not in st.covered", "True"),),
        (("rules", "assert"), ("liars", FB)),
        "coverage disjointness not checked",
    ),
    "enumerate-claim->=": Mutant(
        kernel,
        "rule_enumerate",
        (("claimed == correct,", "claimed >= correct,"),),
        (("corpus", "CORPUS"), ("liars", "instead of")),
        "enumerate accepts claims >= the derived count",
    ),
    "enumerate-claim-trusted": Mutant(
        kernel,
        "rule_enumerate",
        (
            ("claimed == correct,", "claimed >= correct,"),
            ("st.proven += correct", "st.proven += claimed"),
        ),
        (("corpus", "CORPUS"), ("liars", FB)),
        "enumerate accepts and adds claims >= the derived count",
    ),
    "cases-claim-trusted": Mutant(
        kernel,
        "rule_position_cases",
        (
            ("claimed == count,", "claimed >= count,"),
            ("st.proven += count", "st.proven += claimed"),
        ),
        (("liars", FB), ("rules", "assert")),
        "position-cases accepts and adds claims >= the derived count",
    ),
    "final-bound-unchecked": Mutant(
        kernel,
        "check",
        (("cert.bound <= fmpq(st.proven, total)", "True"),),
        (("liars", FB), ("corpus", "CORPUS")),
        "the final bound <= proven/total comparison dropped",
    ),
    "sha256-binding-dropped": Mutant(
        kernel,
        "check",
        (("cert.model_sha256 == model.sha256", "True"),),
        (("corpus", "CORPUS"),),
        "certificate not bound to the model's sha256",
    ),
    "exp-inward": Mutant(
        tables,
        "_exp_table",
        (
            (
                "out = B.from_arb(vals)",
                "out = B.from_arb(vals)\n        out = B.Ball(out.mid, 0 * out.rad)",
            ),
        ),
        (("exp", "EXP"), ("tables", "EXP")),
        "exp table rounded to its midpoint (radius dropped)",
    ),
    "exp-unscaled": Mutant(
        tables,
        "_exp_table",
        (("(x * inv_sqrt).exp()", "x.exp()"),),
        (("exp", "EXP"), ("tables", "EXP"), ("differential", FB)),
        "scores not scaled by 1/sqrt(d_head)",
    ),
    "b_K-dropped": Mutant(
        tables,
        "path_tables",
        (("np.broadcast_to(model.b_K[i], (k, e))", "np.broadcast_to(0 * model.b_K[i], (k, e))"),),
        (("tables", "PATH-TABLES"),),
        "key bias not folded into the position part of the score",
    ),
    "b_U-dropped": Mutant(
        tables,
        "path_tables",
        (("X(model.b_U[None, :])", "X(0 * model.b_U[None, :])"),),
        (("tables", "PATH-TABLES"),),
        "unembedding bias not folded into the direct path",
    ),
    "brute-margin>=0-on-mid": Mutant(
        brute,
        "_decide_exact",
        (("pos = B.positive(S) | is_m", "pos = (S.mid >= 0) | is_m"),),
        (("brute", "BRUTE"), ("tie", FB)),
        "exact path counts a margin as positive when its midpoint is >= 0 (ties pass)",
    ),
    "brute-fast-max-over-y": Mutant(
        brute,
        "_fast_table",
        (
            ("lo = np.where(diag, np.inf, lo)", "lo = np.where(diag, -np.inf, lo)"),
            ("hi = np.where(diag, np.inf, hi)", "hi = np.where(diag, -np.inf, hi)"),
            ("lo.min(axis=3), hi.min(axis=3)", "lo.max(axis=3), hi.max(axis=3)"),
        ),
        (("brute", "BRUTE"), ("differential", FB)),
        "fast sufficient test uses the best wrong logit",
    ),
}


@pytest.fixture(scope="module")
def env(request, small_trained, tmp_path_factory):
    lying_models = request.getfixturevalue("lying_models")
    tmp = tmp_path_factory.mktemp("mutants")
    good = {
        "brute": prove_to(small_trained, "brute-force", tmp / "bf.cert").read_bytes(),
        "cubic": prove_to(small_trained, "cubic", tmp / "cubic.cert").read_bytes(),
    }
    models = {k: v for k, v in lying_models.items() if k != "tie"}
    for seed in (1, 2, 3, 4):  # the copy-noise models of tests/test_rules.py
        R._mixture_model(tmp, seed, "copy-noise")
        models[f"copy-noise-{seed}"] = tmp / f"mx{seed}.safetensors"
    return Env(models=models, good=good, tmp=tmp, small=small_trained, tie=lying_models["tie"])


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detectors_pass_on_the_real_kernel(name, env, monkeypatch, tmp_path):
    DETECTORS[name](Env(env.models, env.good, tmp_path, env.small, env.tie, monkeypatch))


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name, env, monkeypatch, tmp_path):
    mutant = MUTANTS[name]
    for detector, tag in mutant.caught_by:
        with monkeypatch.context() as mp:
            env = Env(env.models, env.good, tmp_path / detector, env.small, env.tie, mp)
            env.tmp.mkdir()
            apply(mp, mutant)
            with pytest.raises(AssertionError) as exc:
                DETECTORS[detector](env)
        assert tag in str(exc.value), f"{name} / {detector}: {exc.value}"


def test_mutants_are_enough():
    assert len(MUTANTS) >= 8
    assert sum(any(FB in tag for _, tag in m.caught_by) for m in MUTANTS.values()) >= 8


def test_mutants_restore_the_kernel(monkeypatch):
    """Every mutant compiles, differs from the original, and is gone after its context."""
    for m in MUTANTS.values():
        orig = getattr(m.module, m.func)
        with monkeypatch.context() as mp:
            apply(mp, m)
            assert getattr(m.module, m.func) is not orig
        assert getattr(m.module, m.func) is orig


# ---- a checker that accepts everything -------------------------------------------------------


def accept_all(cert: Path, model: Path) -> object:
    """An always-accepting checker: a verdict for whatever bound the file claims (bound 1
    when the file cannot even be read)."""
    try:
        raw = cert.read_bytes()
        n = int.from_bytes(raw[8:16], "little")
        bound = Fraction(json.loads(raw[16 : 16 + n])["bound"])
    except (ValueError, KeyError, TypeError, ZeroDivisionError):
        bound = Fraction(1)
    return SimpleNamespace(verified=True, bound=bound)


def test_always_accepting_checker_fails_the_lying_suite(env, tmp_path):
    report = liar_report(accept_all, env.models, tmp_path)
    pairs = sum(len(REJECTED_ON[n]) + (n in REAL_ON) for n in LIARS)
    assert len(report) == pairs  # every liar, on every model, is a problem
    for name, where in REAL_ON.items():
        assert any(r.startswith(f"{name}@{where}: {FB}") for r in report), name


def test_always_accepting_kernel_fails_the_suite(env, tmp_path, monkeypatch):
    """The same, with kernel.check itself replaced (as a broken kernel would be): the
    lying suite, the rule-level tests and the negative corpus all fail."""
    monkeypatch.setattr(kernel, "check", accept_all)
    e = Env(env.models, env.good, tmp_path, env.small, env.tie, monkeypatch)
    for det, tag in ((det_liars, FB), (det_rules, "assert"), (det_corpus, "CORPUS")):
        with pytest.raises(AssertionError) as exc:
            det(e)
        assert tag in str(exc.value)
