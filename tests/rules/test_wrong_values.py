"""Rule ``wrong-values``: query-independent upper bounds on wrong-logit value terms.

Zero-tolerance soundness against the exact fmpq EVOU / PVOU tables (S.exact_tables) on random
tiny models: A[m, y] >= O[p, m, y] - O[p, m, m] for every p and y != m; Bbar[m, j] >=
O[p, t, y] - O[p, t, m] for every t <= j, p, y != m; Amax[m] = max_{y != m} A[m, y].  Closed
form by hand, mutants and the preconditions.
"""

from __future__ import annotations

import numpy as np
import support as S
from hypothesis import given
from hypothesis import strategies as st

from checker import Reason, load_model
from checker.rules import wrong_values


def check_sound(M) -> None:
    t, _, _ = S.tables_trace(M)
    res = t.results[t.wrong_values("EVOU0", "PVOU0")]
    ex = S.exact_tables(M)
    ev, pv = ex["EVOU"][0], ex["PVOU"][0]
    v, k = M.v, M.k

    def val(p, t_, y):
        return ev[t_][y] + pv[p][y]

    for m in range(v):
        ys = [y for y in range(v) if y != m]
        assert S.fq(res.Amax[m]) >= max(S.fq(res.A[m, y]) for y in ys), "WV: Amax below A"
        for y in ys:
            for p in range(k):
                assert val(p, m, y) - val(p, m, m) <= S.fq(res.A[m, y]), f"WV: A[{m},{y}] p={p}"
                for j in range(v):
                    worst = max(val(p, t_, y) - val(p, t_, m) for t_ in range(j + 1))
                    assert worst <= S.fq(res.Bbar[m, j]), f"WV: Bbar[{m},{j}] (y={y}, p={p})"


@S.FAST
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(["random", "biased", "int"]))
def test_sound_random(tmp_path, seed, kind):
    M = S.model_of(tmp_path, f"w{seed}{kind}", S.random_weights(seed, kind, heads=1))
    if M.v >= 2:
        check_sound(M)


def check_closed_form(tmp) -> None:
    """WV: v = 3, k = 2, EVOU = identity, PVOU = 0 (liars.table_model): A[m, y] = -1 for y != m
    (the max copies vote 1 for m, 0 for y); Bbar[m, j] = 1 once some t <= j is != m (a non-max
    token votes 1 for itself, 0 for m)."""
    from generators.liars import Head, table_model

    hd = Head(s=[0.0] * 3, r=[0.0] * 2, evou=np.eye(3).tolist(), pvou=[[0.0] * 3] * 2)
    M = load_model(table_model(tmp / "wv.safetensors", [hd], [[0.0] * 3] * 3))
    t, _, _ = S.tables_trace(M)
    res = t.results[t.wrong_values("EVOU0", "PVOU0")]
    off = ~np.eye(3, dtype=bool)
    assert np.all(np.abs(res.A[off] + 1) < 1e-9), f"WV: A {res.A}"
    assert np.all(np.abs(res.Bbar[:, 1:] - 1) < 1e-9), f"WV: Bbar {res.Bbar}"


def test_closed_form(tmp_path):
    check_closed_form(tmp_path)


def test_rejections(tiny_path):
    M = load_model(tiny_path)
    t, _, _ = S.tables_trace(M)
    wv = lambda a, b: S.step("w", "wrong-values", {"evou": a, "pvou": b})  # noqa: E731
    assert S.replay_reason(M, [*t.steps, wv("EVOU0", "PVOU0")]) is None
    assert S.replay_reason(M, [*t.steps, wv("PVOU0", "EVOU0")]) is Reason.BAD_REFERENCE
    assert S.replay_reason(M, [*t.steps, wv("EVOU0", "EU")]) is Reason.BAD_REFERENCE


def det_sound(tmp) -> None:
    for seed in range(6):
        M = S.model_of(tmp, f"d{seed}", S.random_weights(seed, "random", heads=1))
        if M.v >= 2:
            check_sound(M)


DETECTORS = {"sound": det_sound, "closed": check_closed_form}
MUTANTS = {
    "no-positional": S.Mutant(
        wrong_values, "apply", (("_up(pbar)[:, None]", "_up(0 * pbar)[:, None]"),),
        (("sound", "WV"),), "the positional value dropped from Bbar",
    ),
    "bbar-no-prefix": S.Mutant(
        wrong_values, "apply", (("L.prefix(Bt, 1, True)", "Bt"),), (("sound", "WV"),),
        "Bbar[m, j] bounds token j only, not every t <= j",
    ),
    "a-sign": S.Mutant(
        wrong_values, "apply", (("B.sub(ev, diag[:, None])", "B.sub(diag[:, None], ev)"),),
        (("closed", "WV"),), "A with the difference reversed",
    ),
}  # fmt: skip


test_detectors_pass, test_mutant_is_caught = S.mutant_tests(DETECTORS, MUTANTS)
