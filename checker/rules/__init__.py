"""The closed registry of kernel rules: one module per rule, listed explicitly (no lookup of
rules by building names from strings).  Each module defines

  NAME   the rule's name in certificates;
  LEMMA  the lemma it applies, in one line (``mechproof explain`` prints it);
  CITES  role -> the result type each cited step must have (a list means one per head);
  ARGS   hint -> its kind (see checker.kernel.decode_arg); a trailing '?' marks it optional;
  CLAIM  the claim keys a step must carry (count rules: exactly {'correct'});
  work(model, cites, args) -> the elements of work it will do, checked before it runs;
  apply(model, cites, args, tick) -> its result (a checker.facts type).

The docstring of each module states the lemma with its proof sketch and NB lines for what
is deliberately not checked.
"""

from __future__ import annotations

from types import ModuleType

from checker.rules import (
    cases,
    enumerate,
    exp,
    factor,
    gap_cases,
    lowrank,
    margin,
    matmul,
    max_row_diff,
    paired,
    rank1,
    rank1_gap,
    row_spread,
    score_gap,
    spectral,
    value,
    wrong_values,
)

_SUBCUBIC = (rank1, max_row_diff, row_spread, score_gap, rank1_gap, wrong_values, gap_cases)
# Rules admitted under float32 semantics (checker.float32, "Use"): each either bounds an exact
# real quantity of the model or takes the direct path only from the EU tensor of rule factor
# (widened there by the float32 deviation).  A rule not in _F32 is refused under float32:
# add a new rule to _F32 only after checking that.  (Not admitted: lowrank, spectral.)
_F32 = (factor, matmul, exp, enumerate, value, margin, paired, cases, *_SUBCUBIC)
RULES: dict[str, ModuleType] = {m.NAME: m for m in (*_F32, lowrank, spectral)}
FLOAT32 = frozenset(m.NAME for m in _F32)
