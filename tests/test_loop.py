"""The replay loop (checker/kernel.py): schema, citations, hints, claims, coverage, work
limits, the final exact comparison, the model binding; each check asserts its exact Reason,
and a mutant of each (source-level edits of the loop) must be caught.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import support as S

from checker import CheckError, Reason, kernel, load_model
from generators.search.cases import choose_sets, tau_table
from generators.tinymodels import make_weights


def _model(tmp: Path, seed: int = 11, heads: int = 1) -> Path:
    return S.save(
        tmp,
        f"loop{seed}-{heads}",
        make_weights(np.random.default_rng(seed), 4, 3, 3, heads, 2, "trained-like"),
    )


def _enum(heads, q, n, sid=None):
    cite = {"eupu": "EU", **{r: [h[r] for h in heads] for r in ("evou", "pvou", "g", "f")}}
    return S.step(sid or f"e{q}", "enumerate", cite=cite, args={"query": q}, claim={"correct": n})


def _counts(M):
    T = S.enum_tables(M)
    from checker.rules import enumerate as en

    return [en.decide(M, T, q).correct for q in range(M.v)]


def _cases_step(M, t, h, q):
    """A cubic (paired) cases step for query q, built like the generator; (steps, n)."""
    w = t.paired("EU", h["evou"], h["pvou"], q)
    tau = tau_table(t.results[w].ball, t.results[h["g"]].ball[q], t.results[h["f"]].ball[q])
    t.cases(w, h["g"], h["f"], q, choose_sets(tau, q), None)
    return t.steps[-1]["claim"]["correct"]


# ---- detectors (each raises AssertionError tagged LOOP, or FALSE BOUND) ---------------------


def det_schema(tmp) -> None:
    """LOOP: unknown rules, duplicate ids, steps whose keys differ from the rule's schema."""
    M = load_model(_model(tmp))
    f = S.step("a", "factor", args={"name": "EU", "head": 0})
    for name, steps, want in [
        ("unknown", [S.step("a", "path-tables")], Reason.UNKNOWN_RULE),
        ("duplicate", [f, f], Reason.CERT_SCHEMA),
        ("extra-arg", [f | {"args": {"name": "EU", "head": 0, "x": 1}}], Reason.CERT_SCHEMA),
        ("extra-cite", [f | {"cite": {"a": "b"}}], Reason.CERT_SCHEMA),
        ("claim-keys", [f | {"claim": {"mid": "m"}}], Reason.CERT_SCHEMA),
    ]:
        got = S.replay_reason(M, steps)
        assert got is want, f"LOOP: {name} gave {got}, want {want}"
    try:
        S.replay_steps(M, [f, f | {"id": "b", "args": {"name": "EU", "head": 3}}])
    except CheckError as exc:
        assert exc.step == "b", f"LOOP: the error names step {exc.step}"


def det_hints(tmp) -> None:
    """LOOP: decoded hints out of range, of the wrong type, bit arrays with padding set."""
    M = load_model(_model(tmp))
    t, _, heads = S.tables_trace(M)
    h = heads[0]
    n = _cases_step(M, t, h, 0)
    steps, arrays = t.steps, t.arrays
    for name, step, want in [
        ("query=v", _enum(heads, M.v, 0), Reason.BAD_HINT),
        ("query=-1", _enum(heads, -1, 0), Reason.BAD_HINT),
        ("query=bool", _enum(heads, True, 0), Reason.BAD_HINT),
        ("head=1", S.step("x", "factor", args={"name": "EQ", "head": 1}), Reason.BAD_HINT),
        (
            "bool",
            S.step("x", "matmul", cite={"a": "EU", "b": "EU"}, args={"transpose_b": 0}),
            Reason.BAD_HINT,
        ),
        ("choice", S.step("x", "factor", args={"name": "eu", "head": 0}), Reason.BAD_HINT),
    ]:
        got = S.replay_reason(M, [*steps, step], arrays)
        assert got is want, f"LOOP: {name} gave {got}, want {want}"
    padded = dict(arrays)
    padded["G0"] = arrays["G0"] | np.uint8(1)  # v = 4: the low 4 bits of each byte are padding
    got = S.replay_reason(M, steps, padded)
    assert got is Reason.BAD_HINT, f"LOOP: padding bits gave {got}"
    assert S.proven_of(M, steps, arrays) == n


def det_cites(tmp) -> None:
    """LOOP: citations of missing, later, or wrongly typed results."""
    M = load_model(_model(tmp))
    t, _, heads = S.tables_trace(M)
    h = heads[0]
    val = t.value(h["evou"], h["pvou"], "each")
    for name, step, want in [
        (
            "tensor-as-value",
            S.step("x", "margin", cite={"eupu": "EU", "value": h["evou"]}, args={"query": 0}),
            Reason.BAD_REFERENCE,
        ),
        (
            "value-as-tensor",
            S.step("x", "matmul", cite={"a": val, "b": "EU"}, args={"transpose_b": False}),
            Reason.BAD_REFERENCE,
        ),
        ("missing", S.step("x", "exp", cite={"scores": "nowhere"}), Reason.BAD_REFERENCE),
        ("self", S.step("x", "exp", cite={"scores": "x"}), Reason.BAD_REFERENCE),
        (
            "not-a-list",
            _enum(heads, 0, 0) | {"cite": {**_enum(heads, 0, 0)["cite"], "g": h["g"]}},
            Reason.BAD_REFERENCE,
        ),
        (
            "long-list",
            _enum(heads, 0, 0) | {"cite": {**_enum(heads, 0, 0)["cite"], "g": [h["g"]] * 65}},
            Reason.BAD_REFERENCE,
        ),
    ]:
        got = S.replay_reason(M, [*t.steps, step], t.arrays)
        assert got is want, f"LOOP: {name} gave {got}, want {want}"


def det_claims(tmp) -> None:
    """LOOP: count claims must equal the kernel's; tensor claims must enclose its ball."""
    M = load_model(_model(tmp))
    t, _, heads = S.tables_trace(M)
    c = _counts(M)
    for delta in (1, -1):
        got = S.replay_reason(M, [*t.steps, _enum(heads, 1, c[1] + delta)])
        assert got is Reason.CLAIM_MISMATCH, f"LOOP: claim {delta:+} gave {got}"
    n = _cases_step(M, t, heads[0], 3)
    bad = dict(t.steps[-1], claim={"correct": n + 1})
    got = S.replay_reason(M, [*t.steps[:-1], bad], t.arrays)
    assert got is Reason.CLAIM_MISMATCH, f"LOOP: cases claim +1 gave {got}"
    eu = t.results["EU"].ball
    tight = {"cm": np.array(eu.mid), "cr": np.array(eu.rad) + 1e-9}
    off = {"cm": np.array(eu.mid) + 1.0, "cr": np.array(eu.rad)}
    claimed = S.step(
        "EU", "factor", args={"name": "EU", "head": 0}, claim={"mid": "cm", "rad": "cr"}
    )
    assert S.replay_reason(M, [claimed], tight) is None, "LOOP: an enclosing claim is rejected"
    got = S.replay_reason(M, [claimed], off)
    assert got is Reason.CLAIM_MISMATCH, f"LOOP: a non-enclosing tensor claim gave {got}"


def det_overlap(tmp) -> None:
    """LOOP: each query counted once (two enumerations; enumerate and cases); otherwise a
    double count would verify a FALSE BOUND."""
    path = _model(tmp)
    M = load_model(path)
    t, _, heads = S.tables_trace(M)
    c = _counts(M)
    two = [*t.steps, _enum(heads, 0, c[0]), _enum(heads, 0, c[0], "again")]
    got = S.replay_reason(M, two)
    assert got is Reason.OVERLAP, f"LOOP: two enumerations of one query gave {got}"
    u = load_model(path)
    t2, _, heads2 = S.tables_trace(u)
    _cases_step(u, t2, heads2[0], 2)
    mixed = [*t2.steps, _enum(heads2, 2, c[2])]
    got = S.replay_reason(u, mixed, t2.arrays)
    assert got is Reason.OVERLAP, f"LOOP: enumerate after cases of one query gave {got}"
    exact = Fraction(sum(S.truth_of(path)[x] is True for x in S.truth_of(path)), M.total)
    every = [*t.steps, *(_enum(heads, q, c[q]) for q in range(M.v))]
    doubled = [*every, *(_enum(heads, q, c[q], f"again{q}") for q in range(M.v))]
    bound = min(Fraction(2 * sum(c), M.total), Fraction(1))
    if bound > exact:
        cert = S.write_cert(tmp, path, doubled, bound)
        assert S.check_reason(cert, path) is not None, (
            f"{S.FB}: double count verified {bound} > {exact}"
        )


def det_final(tmp) -> None:
    """LOOP: mixed coverage (enumerate, cases, some queries uncovered): check accepts
    exactly the bounds <= proven / v^k; a certificate for another model is refused; an
    over-claimed bound is a FALSE BOUND if accepted."""
    path = _model(tmp)
    M = load_model(path)
    t, _, heads = S.tables_trace(M)
    c = _counts(M)
    proven = 0
    for q in range(M.v - 1):  # the last query stays uncovered
        if q % 2:
            t.steps.append(_enum(heads, q, c[q]))
            proven += c[q]
        else:
            proven += _cases_step(M, t, heads[0], q)
    exact = Fraction(proven, M.total)
    v = kernel.check(S.write_cert(tmp, path, t.steps, exact, t.arrays), path)
    assert v.proven == proven and Fraction(int(v.bound.p), int(v.bound.q)) == exact, "LOOP: verdict"
    above = exact + Fraction(1, 10**30)
    got = S.check_reason(S.write_cert(tmp, path, t.steps, above, t.arrays), path)
    assert got is Reason.BOUND_NOT_PROVEN, f"{S.FB}: a bound above proven/total gave {got}"
    other = _model(tmp, seed=12)
    got = S.check_reason(S.write_cert(tmp, path, t.steps, exact, t.arrays), other)
    assert got is Reason.MODEL_MISMATCH, f"LOOP: a certificate for another model gave {got}"


def det_work(tmp) -> None:
    """LOOP: a step whose work exceeds the limit is refused before it runs (UNSUPPORTED)."""
    M = load_model(_model(tmp))
    old = kernel.WORK_LIMIT
    kernel.WORK_LIMIT = 10
    try:
        got = S.replay_reason(M, [S.step("EU", "factor", args={"name": "EU", "head": 0})])
    finally:
        kernel.WORK_LIMIT = old
    assert got is Reason.UNSUPPORTED, f"LOOP: work over the limit gave {got}"


DETECTORS = {
    "schema": det_schema,
    "hints": det_hints,
    "cites": det_cites,
    "claims": det_claims,
    "overlap": det_overlap,
    "final": det_final,
    "work": det_work,
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_loop_check(name, tmp_path):
    DETECTORS[name](tmp_path)


def test_breakdown_adds_up(tmp_path):
    """The per-rule breakdown's ops add up to the verdict's ops; steps are counted."""
    path = _model(tmp_path)
    M = load_model(path)
    t, _, heads = S.tables_trace(M)
    c = _counts(M)
    t.steps.extend(_enum(heads, q, c[q]) for q in range(M.v))
    v = kernel.check(S.write_cert(tmp_path, path, t.steps, Fraction(sum(c), M.total)), path)
    assert sum(r["ops"] for r in v.ops_by_rule.values()) == v.ops
    assert v.ops_by_rule["enumerate"]["steps"] == M.v and v.steps == len(t.steps)


# ---- mutants -------------------------------------------------------------------------------

MUTANTS = {
    "count-claim-unchecked": S.Mutant(
        kernel,
        "_claim",
        (("n == res.correct,", "True,"),),
        (("claims", "LOOP"),),
        "a count claim accepted whatever it says",
    ),
    "count-claim->=": S.Mutant(
        kernel,
        "_claim",
        (("n == res.correct,", "n >= res.correct,"),),
        (("claims", "LOOP"),),
        "count claims >= the derived count accepted",
    ),
    "tensor-claim-unchecked": S.Mutant(
        kernel,
        "_claim",
        (("require(bool(inside),", "require(True,"),),
        (("claims", "LOOP"),),
        "a tensor claim accepted without the enclosure check",
    ),
    "coverage-unchecked": S.Mutant(
        kernel,
        "tally",
        (("require(first == r.id,", "require(True,"),),
        (("overlap", "LOOP"),),
        "coverage disjointness not checked (a query counted twice)",
    ),
    "cite-type-unchecked": S.Mutant(
        kernel,
        "_cites",
        (("isinstance(res, typ),", "res is not None,"),),
        (("cites", "LOOP"),),
        "a cited result of the wrong type accepted",
    ),
    "schema-unchecked": S.Mutant(
        kernel,
        "_run_step",
        (("set(step.cite) == set(rule.CITES)\n", "True or set(step.cite) == set(rule.CITES)\n"),),
        (("schema", "LOOP"),),
        "a step's keys not compared with its rule's schema",
    ),
    "work-limit-unchecked": S.Mutant(
        kernel,
        "_run_step",
        (("work <= WORK_LIMIT and st.work <= TOTAL_WORK_LIMIT", "True"),),
        (("work", "LOOP"),),
        "work limits not checked before a step runs",
    ),
    "hint-range-unchecked": S.Mutant(
        kernel,
        "decode_arg",
        (("0 <= value < hi", "0 <= value"),),
        (("hints", "LOOP"),),
        "a query or head hint above its range accepted",
    ),
    "bits-padding-unchecked": S.Mutant(
        kernel,
        "decode_arg",
        (("bool((np.packbits(bits, axis=2) == a).all())", "True"),),
        (("hints", "LOOP"),),
        "bit arrays with padding set accepted (two encodings of one hint)",
    ),
    "final-bound-unchecked": S.Mutant(
        kernel,
        "check",
        (("cert.bound <= fmpq(proven, total)", "True"),),
        (("final", S.FB),),
        "the final bound <= proven/total comparison dropped",
    ),
    "sha256-binding-dropped": S.Mutant(
        kernel,
        "check",
        (("cert.model_sha256 == model.sha256", "True"),),
        (("final", "LOOP"),),
        "certificate not bound to the model's sha256",
    ),
}


_, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)


def test_always_accepting_kernel_fails(tmp_path, monkeypatch):
    """A kernel whose check accepts every certificate fails the loop's checks."""

    def accept_all(cert: Path, model: Path) -> object:
        return SimpleNamespace(verified=True, bound=Fraction(1), proven=0)

    monkeypatch.setattr(kernel, "check", accept_all)
    with pytest.raises(AssertionError):
        det_final(tmp_path)


def test_a_repeated_step_is_refused(tiny_path):
    """A step identical (rule, cites, hints) to an earlier one is refused before it runs:
    repeating steps is the cheapest way to make a certificate ask for unbounded work."""
    M = load_model(tiny_path)
    t, eu, heads = S.tables_trace(M)
    again = dict(t.steps[0], id="again")
    assert S.replay_reason(M, [*t.steps, again]) is Reason.CERT_SCHEMA
    t.enumerate(eu, heads, 0)
    assert S.replay_reason(M, [*t.steps, dict(t.steps[-1], id="q0b")]) is Reason.OVERLAP
