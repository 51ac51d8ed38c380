"""The frontier on the larger zoo models: sampled normalisation, 'does not fit' rows, tables."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from bench import frontier_tables as ft
from checker import load_model
from checker.kernel import WORK_LIMIT
from generators import frontier as fr
from generators.strategies import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
K20 = ROOT / "zoo" / "k20v512" / "seed000.safetensors"
K10 = ROOT / "zoo" / "k10v128" / "seed000.safetensors"
K4 = ROOT / "zoo" / "k4" / "seed000.safetensors"


def test_larger_groups_are_in_the_index() -> None:
    index = json.loads((ROOT / "zoo" / "index.json").read_text())
    for group, k, v in (("k10v128", 10, 128), ("k20v512", 20, 512)):
        recs = [r for r in index if r["group"] == group]
        assert len(recs) == 3
        for r in recs:
            assert (r["k"], r["v"], r["d_model"], r["d_head"], r["heads"]) == (k, v, 32, 32, 1)
            assert (ROOT / "zoo" / r["path"]).exists()
            lo, hi = r["rigorous_sample_wilson95"]
            assert lo < r["rigorous_sample_correct"] / r["rigorous_sample_size"] < hi
            assert r["rigorous_sample_undecided"] == 0


def test_what_fits_is_predicted_from_the_shapes() -> None:
    k20, k10, k4 = (load_model(p) for p in (K20, K10, K4))
    for name, config in REGISTRY.items():
        assert fr.fit_reason(k4, config) == "", name
        why = fr.fit_reason(k20, config)
        if config.family in ("brute-force", "cubic"):
            assert "2^28" in why, name
    assert "enumerate" in fr.fit_reason(k10, REGISTRY["brute-force"])
    assert fr.fit_reason(k10, REGISTRY["cubic"]) == ""  # v^3 k^2 at v = 128 still fits
    for rule, work, _ in fr.predicted_work(k20, REGISTRY["cubic"]):
        assert work > WORK_LIMIT, rule


def test_a_misfit_is_a_row_not_a_crash() -> None:
    acc = fr.reference_accuracy(str(K20))
    assert acc["accuracy_source"] == "sampled"
    assert acc["accuracy_lo"] < ft.eval_frac(acc["accuracy"]) < acc["accuracy_hi"]
    t0 = time.perf_counter()
    row = fr.run_one((str(K20), "brute-force", "/nonexistent/x.cert", acc))
    assert time.perf_counter() - t0 < 5  # decided before proving
    assert row["status"].startswith("does not fit: enumerate needs")
    assert row.get("bound", "") == "" and row["group"] == "k20v512"


def _rows() -> list[dict[str, object]]:
    base = {"family": "subcubic", "k": 4, "v": 64, "accuracy_source": "exact", "residual": 0}
    rows = []
    for name, ops, y in [("a", 2e6, 0.9), ("b", 3e6, 0.8), ("c", 9e6, 0.95)]:
        for m in range(3):
            rows.append({**base, "model": f"m{m}", "strategy": name, "bound": y,
                         "bound_over_accuracy": y + 0.001 * m, "ops": ops, "status": "ok",
                         "check_seconds": 0.5, "prove_seconds": 1,
                         "attention": "eqke"})  # fmt: skip
    rows.append({**base, "model": "m0", "strategy": "brute-force", "family": "brute-force",
                 "bound": "", "bound_over_accuracy": "", "ops": "",
                 "status": "does not fit: enumerate needs 1e52"})  # fmt: skip
    return rows


def test_table_and_plot_say_what_did_not_fit(tmp_path: Path) -> None:
    rows = _rows()
    assert [s["strategy"] for s in fr.summary(rows)] == ["a", "b", "c"]
    assert fr.misfits(rows) == {"brute-force": ("does not fit: enumerate needs 1e52", 1)}
    text = fr.table(rows)
    assert "does not fit: enumerate needs 1e52" in text and "| `c` | subcubic | 3 |" in text
    fr.plot_frontier(rows, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


def test_plan_runs_first_strategies_on_every_model_first() -> None:
    got = ft.plan(["m1", "m2"], ["x", "y", "z"], ["z"], {("m1", "x")})
    assert got == [("m1", "z"), ("m2", "z"), ("m1", "y"), ("m2", "x"), ("m2", "y")]


def test_run_tasks_stops_at_its_deadline() -> None:
    acc = fr.reference_accuracy(str(K4))
    tasks = [(str(K4), "brute-force", "/tmp/never.cert", acc)] * 4
    t0 = time.perf_counter()
    assert list(fr.run_tasks(tasks, jobs=2, deadline=time.time() + 0.5)) == []
    assert time.perf_counter() - t0 < 15


def test_frontier_tables_writes_csv_plots_and_tables(tmp_path: Path) -> None:
    args = ["--groups", "k20v512", "--models", "k20v512=1", "--strategies",
            "brute-force,cubic", "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    assert ft.main(args) == 0
    assert ft.main(args) == 0  # resumed: nothing to run, no duplicate rows
    rows = list(csv.DictReader((tmp_path / "k20v512" / "frontier.csv").open()))
    assert [r["strategy"] for r in rows] == ["brute-force", "cubic"]
    assert all(r["status"].startswith("does not fit") for r in rows)
    text = (tmp_path / "TABLES.md").read_text()
    assert "## k20v512: K = 20, v = 512" in text and "sampled" in text
    assert "does not fit: value needs" in text
    for png in ("frontier.png", "compounding.png"):
        assert (tmp_path / "k20v512" / png).exists()


def test_mechproof_frontier_on_k20_says_what_does_not_fit(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from generators.cli import main

    args = ["frontier", str(K20), "--out", str(tmp_path), "--strategies", "brute-force,cubic"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert res.output.count("does not fit") == 2
    rows = list(csv.DictReader((tmp_path / "frontier.csv").open()))
    assert {r["accuracy_source"] for r in rows} == {"sampled"}


def test_a_pair_past_its_time_limit_is_a_timed_out_row() -> None:
    acc = fr.reference_accuracy(str(K10))
    tasks = [(str(K10), "subcubic-paired-eqke-near", "/tmp/timed-out.cert", acc)]
    (row,) = fr.run_tasks(tasks, jobs=1, task_timeout=1, keep_certs=False)
    assert row["status"] == "timed out: prove + check took over 1 s"
