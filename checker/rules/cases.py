"""Rule ``cases``: the cubic family's count for one query (mixture, count and split lemmas).

Cites ``margin`` (a MarginBound w for query q), ``g`` (rowexp(EQ[0] @ EK[0]^T)), ``f``
(rowexp(EQ[0] @ PK[0]^T)); args ``sets`` (bits [m, c, t]: the token sets G(q, m, c)) and
optionally ``split`` (bits [m, c, t]: outlier tokens); claim ``correct``.  Result: Count(q).

With tau(m, p, t) = f[q, p] g[q, t] w(m, p, t), every input of Case(q, m, c, G) has every
scaled margin S_y >= lemmas.case_bounds(tau)[m, c] (value lemma, then the mixture lemma);
if that bound is certainly > 0 the case's C(k-1, c) |G|^c inputs are correct (count lemma).
Likewise each split case (m, c, t) with lemmas.split_bounds, C(k-1, c) c |G|^(c-1) inputs.
Cases of one query are disjoint (m and c are functions of x; split cases differ from the G
case and from each other in their one token outside G).  Statements and proofs: lemmas.py.

Rejects (BAD_HINT) a bit for t >= m, for an impossible (m, c), a split bit for c = 0 or for
a token in G (it would break disjointness), and (UNSUPPORTED) a model with several heads.
NB: a case whose G is empty with c > 0 is empty and never counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from checker import balls as B
from checker import lemmas as L
from checker.errors import Reason, require
from checker.facts import Count, MarginBound, Tensor, eqke, eqkp, rowexp
from checker.model import Model

NAME = "cases"
LEMMA = "mixture lemma per case (m, c, G) and split cases; count C(k-1,c)|G|^c"
CITES: dict[str, Any] = {"margin": MarginBound, "g": Tensor, "f": Tensor}
ARGS: dict[str, Any] = {"sets": "bits", "split?": "bits"}
CLAIM = {"correct"}


def work(model: Model, cites: dict[str, Any], args: dict[str, Any]) -> int:
    require(model.h == 1, Reason.UNSUPPORTED, "cases: needs a one-head model")
    got = [cites["g"].meaning, cites["f"].meaning]
    require(
        got == [rowexp(eqke(0)), rowexp(eqkp(0))],
        Reason.BAD_REFERENCE,
        "cases: 'g' and 'f' must cite rowexp of EQKE and EQKP of head 0",
    )
    v, k = model.v, model.k
    return v * k * k * v * (k + 3)


def apply(model: Model, cites: dict[str, Any], args: dict[str, Any], tick: Any) -> Count:
    v, k = model.v, model.k
    w: MarginBound = cites["margin"]
    q, sets, split = w.query, args["sets"], args.get("split")
    valid = L.valid_cases(v, k, q)
    possible = valid[:, :, None] & (np.arange(v)[None, None, :] < np.arange(v)[:, None, None])
    require(
        not bool((sets & ~possible).any()),
        Reason.BAD_HINT,
        "cases: a set bit has t >= m or an impossible (m, c)",
    )
    f, g = cites["f"].ball[q], cites["g"].ball[q]
    tau = B.mul(B.mul(f[None, :, None], g[None, None, :]), w.ball)  # [m, p, t]
    sizes = sets.sum(axis=2)
    counted = valid & ((sizes > 0) | (np.arange(k)[None, :] == 0))
    count = L.count_cases(k, sizes, B.positive(L.case_bounds(tau, q, sets)) & counted)
    if split is not None:
        bad = split & ~possible
        require(
            not bool(bad.any() or split[:, 0].any() or (split & sets).any()),
            Reason.BAD_HINT,
            "cases: a split token is >= m, in G, or in an impossible or c = 0 case",
        )
        live = (np.arange(k)[None, :] == 1) | (sizes > 0)
        ok = B.positive(L.split_bounds(tau, q, sets)) & split & live[:, :, None]
        count += L.count_splits(k, sizes, ok)
    tick(1, v)
    return Count(q, count)
