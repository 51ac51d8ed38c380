"""The tests' reference: per-input verdicts by the audit's independent reference
(``generators/audit/reference.py``: exact ``fmpq`` scores and values, arb exps, exact sign
decisions, ties counted as failures), which shares no code with ``checker/``.

The tests hand it a model read by the kernel (``checker.Model``); only its weight arrays
are used.  ``mechproof audit`` reads the file with its own reader instead.
"""

from __future__ import annotations

import itertools

from checker.model import Model
from generators.audit.reference import PREFIX, Reference, RefModel


def _reference(model: Model) -> Reference:
    w = {
        "embed.W_E": model.W_E,
        "pos_embed.W_pos": model.W_pos,
        "unembed.W_U": model.W_U,
        "unembed.b_U": model.b_U,
        PREFIX + "b_O": model.b_O,
    }
    for name in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V"):
        w[PREFIX + name] = getattr(model, name)
    return Reference(RefModel(v=model.v, k=model.k, d=model.d, h=model.h, e=model.e, w=w))


def reference_per_input(model: Model) -> dict[tuple[int, ...], bool | None]:
    """Every input's verdict: True correct, False incorrect (a tie is incorrect), None
    undecided (never seen: see the reference's docstring)."""
    ref = _reference(model)
    return {x: ref.decide(x) for x in itertools.product(range(model.v), repeat=model.k)}


def reference_counts(model: Model) -> tuple[int, int, int]:
    """Return (correct, incorrect, undecided) over all v^k inputs."""
    verdicts = list(reference_per_input(model).values())
    return (
        sum(r is True for r in verdicts),
        sum(r is False for r in verdicts),
        sum(r is None for r in verdicts),
    )
