"""Lying generators against the checker under audit (DESIGN.md §7).

Consumes only the registry :data:`generators.liars.LIARS` (name -> ``Liar(make, reason)``).
Each liar writes a certificate for each model of the trap set (the adversarial models that
make its lie real, plus a trained model); the checker must reject it.  A finding: a liar's
certificate VERIFIED with a bound above the model's exact accuracy (from the independent
reference).  Accepted with a bound the model really has, or rejected with another reason
than the registry's, is noted, not a finding.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from generators import liars as L

if TYPE_CHECKING:
    from generators.audit.runner import Audit

TRAPS = {
    "direct-trap": L.direct_trap,
    "mixture-trap": L.mixture_trap,
    "poison-trap": L.poison_trap,
    "two-head-trap": L.two_head_trap,
    "tie-model": L.tie_model,
}


def trap_models(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: make(folder / f"{name}.safetensors") for name, make in TRAPS.items()}


def run_liars(audit: Audit) -> None:
    from checker import CheckError, load_model
    from generators.audit.reference import reference_accuracy

    row = audit.row(audit.phases, "liars")
    models = trap_models(audit.work / "traps")
    for mname, mpath in models.items():
        acc = reference_accuracy(mpath)
        try:
            model = load_model(mpath)
        except CheckError as exc:  # the kernel's reader refuses a trap: the liars can't run
            audit.notes.append(f"liars: trap {mname} refused by the kernel's reader: {exc}")
            continue
        row.models += 1
        for name, liar in L.LIARS.items():
            if audit.over_budget():
                audit.stopped = "budget spent during the liars phase"
                return
            case = f"liar {name} on {mname}"
            cert = audit.work / "traps" / f"{mname}-{name}.cert"
            try:
                proof = liar.make(model)
                proof.write(cert, model.sha256)
            except Exception:  # noqa: BLE001 -- a liar that cannot lie here
                audit.notes.append(
                    f"{case}: the liar raised {traceback.format_exc(limit=1)[-200:]}"
                )
                continue
            out = audit.checker.check(cert, mpath, audit.opts.limits)
            row.proofs += 1
            row.cases += 1
            audit.liar_cases.append(case)
            if audit.judge(
                out,
                phase="liars",
                case=case,
                cert=cert,
                model=mpath,
                ceiling=acc.upper,
                unsound_kind="liar-accepted",
            ):
                row.findings += 1
            elif out.verified:
                audit.notes.append(f"{case}: accepted, but its bound {out.bound} is true here")
            elif out.reason != liar.reason.value:
                audit.notes.append(
                    f"{case}: rejected as {out.reason}, registry expects {liar.reason.value}"
                )
            audit.tick()
