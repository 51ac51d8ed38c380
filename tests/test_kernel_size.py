"""The trusted kernel's size is a budget (DESIGN.md §2), in code lines as
bench/kernel_size.py counts them (no blanks, comments or docstrings), in three parts:

* each rule module of checker/rules/ at most 120;
* the shared lemmas, result types and the float32 error model (checker/lemmas.py,
  checker/facts.py, checker/float32.py) at most 300 (250 before float32's 116 lines);
* the fixed part (readers, ball layer, replay loop, sharding merge, errors, entry point)
  at most 1,250 — DESIGN.md says "about 1,100" for readers + balls + loop + errors; the
  hardened readers and the sharding merge came later;
* the whole kernel at most 2,500 (DESIGN.md §2, the subcubic family included).

(The trace reshape itself took the kernel from 1,512 code lines to 1,497, measured at
commit 889f71a, before sharding, the hardened readers and the subcubic rules.)"""

from __future__ import annotations

from bench.kernel_size import FIXED_BUDGET, RULE_BUDGET, SHARED_BUDGET, TOTAL_BUDGET, parts


def test_each_rule_module_within_budget():
    rules, _, _ = parts()
    assert len(rules) >= 8
    over = {k: n for k, n in rules.items() if n > RULE_BUDGET}
    assert not over, f"rule modules over {RULE_BUDGET} code lines: {over}"


def test_shared_lemmas_within_budget():
    _, shared, _ = parts()
    assert set(shared) == {"checker/lemmas.py", "checker/facts.py", "checker/float32.py"}
    assert sum(shared.values()) <= SHARED_BUDGET, shared


def test_fixed_part_within_budget():
    _, _, fixed = parts()
    assert sum(fixed.values()) <= FIXED_BUDGET, fixed


def test_kernel_within_total_budget():
    total = sum(sum(p.values()) for p in parts())
    assert total <= TOTAL_BUDGET, f"kernel {total} code lines, budget {TOTAL_BUDGET}"
