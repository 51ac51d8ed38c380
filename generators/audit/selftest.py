"""The audit's power, tested on checkers known to be broken (DESIGN.md §7).

Two checker commands, each written as a small script that follows ``check``'s contract:

* ``always-accept`` answers VERIFIED for whatever bound the certificate's header claims
  (the first "p/q" string it finds, generic over the format);
* ``skip-final-comparison`` is the real kernel with one check removed: it replaces
  ``require`` in ``checker.kernel`` by a version that ignores the ``bound-not-proven``
  rejection (the final comparison of the claimed bound with proven/total), then runs the
  kernel's own command line.

``mechproof audit --self-test`` runs a short audit against each, and the same audit against
the built-in kernel as a control; it passes only if both broken checkers produce findings
and the control produces none, and prints the first finding of each.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ALWAYS_ACCEPT = r"""
import json, re, sys
raw = open(sys.argv[1], "rb").read()
n = int.from_bytes(raw[8:16], "little")
try:
    text = raw[16 : 16 + n].decode()
except Exception:
    text = ""
m = re.search(r'"([0-9]+/[0-9]+)"', text)
print(json.dumps({"verified": True, "bound": m.group(1) if m else "1/1"}))
"""

SKIP_FINAL = r"""
import sys
import checker.kernel as K
from checker.errors import Reason, require

def lenient(cond, reason, detail, step=None):
    if reason is Reason.BOUND_NOT_PROVEN:
        return None
    return require(cond, reason, detail, step)

K.require = lenient
from checker.__main__ import main
sys.exit(main())
"""

BROKEN = {"always-accept": ALWAYS_ACCEPT, "skip-final-comparison": SKIP_FINAL}


def write_broken(folder: Path) -> dict[str, list[str]]:
    """Write the broken checkers into ``folder``; return name -> command."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, src in BROKEN.items():
        path = folder / f"{name}.py"
        path.write_text(src)
        out[name] = [sys.executable, str(path)]
    return out


CONTROL = "built-in kernel (control)"


def run_self_test(budget: float, seed: int, progress: object = None) -> tuple[bool, dict[str, str]]:
    """Audit each broken checker (liars, then a few differential models with mutants; no
    hostile corpus) until its first finding, then the built-in kernel on the same run as a
    control; return (every broken checker caught and the control clean, name -> its first
    finding or "")."""
    from generators.audit.checkers import CommandChecker, KernelChecker
    from generators.audit.runner import Audit, Options

    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mechproof-selftest-") as tmp:
        checkers = {
            name: CommandChecker(cmd, name=name) for name, cmd in write_broken(Path(tmp)).items()
        }
        checkers[CONTROL] = KernelChecker()
        for name, checker in checkers.items():
            opts = Options(
                seed=seed,
                budget=budget / len(checkers),
                phases=("liars", "differential"),
                max_models=4,
                mutants_per_cert=10,
                flips=2,
                findings_dir=None,
                stop_on_finding=True,
            )
            audit = Audit(checker, opts, progress)
            audit.run()
            f = audit.findings[0] if audit.findings else None
            found[name] = f"{f.kind} [{f.phase}] {f.case}: {f.detail[:100]}" if f else ""
    caught = all(v for name, v in found.items() if name != CONTROL)
    return caught and not found[CONTROL], found
