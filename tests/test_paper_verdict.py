"""The paper's table judged from its published numbers: gains with intervals, before and after best-of-K selection.

Run: pytest tests/test_paper_verdict.py   (seconds: few simulated draws)
"""

import math
import subprocess
import sys

import pandas as pd
import pytest

from tina_utils import paper, plots
from tina_utils.evaluate import paper_verdict as pv
from tina_utils.plots import paper as paper_figures

Z = 1.959963984540054


@pytest.fixture(scope="module")
def table():
    return pv.verdict(draws=1500, seed=0)


def test_k_is_the_checkpoints_saved_up_to_the_stop_step():
    counts = pv.checkpoint_counts(paper.table("tina_models")).set_index("model")
    assert counts.loc["Tina-Open-RS2", "k"] == 17  # 850 steps, saved every 50
    assert counts.loc["Tina-DeepScaleR-1.5B-Preview", "k"] == 55  # 5500 / 100
    assert tuple(counts.loc["Tina-STILL-3-1.5B-preview"]) == (37, 375)  # every 100 steps then, every 10 now


def test_the_gain_before_selection_counts_both_sides_noise(table):
    row = table[(table.model == "Tina-Open-RS2") & (table.reference == "start model")].set_index("benchmark")
    tina = [43.33, 26.67, 77.5, 87.0, 36.36, 32.72]
    base = [23.33, 16.67, 62.5, 82.6, 31.82, 30.15]
    sizes = [30, 30, 40, 500, 198, 272]
    gain = sum(tina) / 6 - sum(base) / 6
    var = sum(t / 100 * (1 - t / 100) / n + b / 100 * (1 - b / 100) / n for t, b, n in zip(tina, base, sizes)) / 36
    assert row.loc["average", "gain"] == pytest.approx(gain)
    assert row.loc["average", "gain_low"] == pytest.approx(gain - 100 * Z * math.sqrt(var))
    assert row.loc["aime24", "gain"] == pytest.approx(20.0) and row.loc["aime24", "n_problems"] == 30
    assert row.loc["average", "verdict_before"] == "gain"


def test_after_selection_the_gain_loses_the_optimism_of_the_best_of_k(table):
    average = table[table.benchmark == "average"]
    assert len(average) == 2 * len(paper.table("tina_models"))
    assert (average.optimism > 2).all() and (average.optimism < 8).all()
    assert ((average.adjusted_gain - (average.gain - average.optimism)).abs() < 0.6).all()
    assert (average.adjusted_high < average.gain_high + 1).all()
    for _, row in table.iterrows():
        expected = "gain" if row.adjusted_low > 0 else "loss" if row.adjusted_high < 0 else "not distinguishable"
        assert row.verdict_after in (expected, "depends on K")
    assert list(table.columns) == pv.VERDICT_COLUMNS


def test_a_large_true_gain_survives_selection_and_no_gain_does_not():
    base = paper.table("baseline_eval")
    tina = paper.table("tina_models").head(1).copy()
    for name in pv.PAPER_SIZES:
        tina[name] = min(base.loc[0, name] + 25, 99.0)
    strong = pv.verdict(tina, base, draws=800).query("benchmark == 'average' and reference == 'start model'")
    assert strong.verdict_after.item() == "gain"
    for name in pv.PAPER_SIZES:
        tina[name] = base.loc[0, name]
    null = pv.verdict(tina, base, draws=800).query("benchmark == 'average' and reference == 'start model'")
    assert null.verdict_before.item() == "not distinguishable" and null.p_selection.item() > 0.9


def test_the_figure_is_drawn_from_the_saved_table(table, tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    path = pv.write(table)
    fig, sources = paper_figures.verdict(pd.read_csv(path))
    assert sources == [path] and plots.draw("paper_verdict").stat().st_size > 5000
    assert [ax.get_title() for ax in fig.axes] == ["vs its start model", "vs its full-parameter baseline"]


def test_cli_rejects_too_few_draws():
    done = subprocess.run([sys.executable, "-m", "tina_utils.evaluate.paper_verdict", "--draws", "5"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.startswith("error: --draws must be >= 100")


def test_the_verdict_is_simulated_once_per_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path / "results"))
    first = pv.cached(draws=200)
    assert len(list((tmp_path / "home" / "paper_verdict").glob("*.csv"))) == 1
    pd.testing.assert_frame_equal(pv.cached(draws=200), first)  # read back, not simulated again
    assert len(list((tmp_path / "home" / "paper_verdict").glob("*.csv"))) == 1
    fresh = pv.verdict(draws=200)
    assert first["adjusted_gain"].tolist() == pytest.approx(fresh["adjusted_gain"].tolist(), abs=1e-4)  # %.4f
    pv.cached(draws=300)
    assert len(list((tmp_path / "home" / "paper_verdict").glob("*.csv"))) == 2  # other inputs, another entry
