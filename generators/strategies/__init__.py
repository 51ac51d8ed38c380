"""Proof strategies as data: one registry of configs, each a composition of kernel rules.

A strategy is a frozen config with a ``family`` and a ``prove(model, progress) -> Proof``
that lays out a trace with :class:`generators.trace.Trace`.  Names are derived once, from the
config (``Config.name``); ``REGISTRY`` maps them to configs.  ``mechproof strategies`` and
``mechproof prove`` read only this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from checker import Model
from generators.trace import Progress, Proof


class UnsupportedModel(ValueError):
    """The strategy does not apply to this model (e.g. several heads)."""


class Config(Protocol):
    family: str
    doc: str

    @property
    def name(self) -> str: ...

    def prove(self, model: Model, progress: Progress | None = None) -> Proof: ...


def _configs() -> list[Any]:
    from generators.strategies import brute_force, cubic, subcubic

    return [brute_force.BruteForce(), *cubic.CONFIGS, *subcubic.CONFIGS]


REGISTRY: dict[str, Any] = {c.name: c for c in _configs()}


def STRATEGIES() -> dict[str, tuple[Callable[..., Proof], str]]:
    """{name: (prove, doc)} (the older accessor; prefer REGISTRY)."""
    return {name: (c.prove, c.doc) for name, c in REGISTRY.items()}


__all__ = ["REGISTRY", "STRATEGIES", "Config", "Proof", "Progress", "UnsupportedModel"]
