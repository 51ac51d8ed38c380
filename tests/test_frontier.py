"""``mechproof frontier``: the CSV rows, both plots, normalisation by the exact count."""

from __future__ import annotations

import csv
from fractions import Fraction

from click.testing import CliRunner

from checker import kernel, load_model
from generators import frontier as fr
from generators.cli import main


def test_frontier_cli(small_trained, tmp_path):
    out = tmp_path / "fr"
    names = "cubic,subcubic-paired-eqke,subcubic-split-rank1-mrd"
    res = CliRunner().invoke(
        main, ["frontier", str(small_trained), "--out", str(out), "--strategies", names]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "frontier.csv").open()))
    assert [r["strategy"] for r in rows] == names.split(",")
    assert set(fr.FIELDS) <= set(rows[0])
    c, _, _, total = kernel.exact_accuracy(load_model(small_trained))
    for r in rows:
        assert float(r["bound"]) <= c / total
        assert abs(float(r["bound_over_accuracy"]) - float(r["bound"]) / (c / total)) < 1e-12
        assert int(r["ops"]) > 0 and int(r["certificate_gzip_bytes"]) > 0
    for png in ("frontier.png", "compounding.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fr.exact_accuracy(str(small_trained)) == Fraction(c, total)


def test_unknown_strategy_is_a_usage_error(small_trained, tmp_path):
    res = CliRunner().invoke(
        main, ["frontier", str(small_trained), "--out", str(tmp_path), "--strategies", "nope"]
    )
    assert res.exit_code == 2


def test_pareto():
    assert fr.pareto([(3, 0.5), (1, 0.2), (2, 0.1), (4, 0.9)]) == [(1, 0.2), (3, 0.5), (4, 0.9)]
