"""Every figure function writes a non-empty, deterministic PNG + SVG: `pytest tests/test_plots.py -q`."""

import pandas as pd
import pytest

from tina_utils import plots


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty results/ directory for this test."""
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    return tmp_path


def ckpts(unit: str, usd: float) -> pd.DataFrame:
    """Two checkpoints of one run, as cost.checkpoint_costs() returns them."""
    return pd.DataFrame({"run_id": ["r1", "r1"], "checkpoint": ["checkpoint-10", "checkpoint-20"], "step": [10, 20],
                         "train_device_hours": [0.5, 1.0], "eval_device_hours": [0.1, 0.1],
                         "train_usd": [usd, 2 * usd], "eval_usd": [0.0, 0.0], "total_usd": [usd, 2 * usd],
                         "unit": [unit, unit], "score": [10.0, 20.0], "n_benchmarks": [1, 1]})


def assert_written(root, name):
    """results/figures/<name>.png and .svg exist, are non-empty and look like what they claim."""
    png, svg = root / "figures" / f"{name}.png", root / "figures" / f"{name}.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    text = svg.read_text()
    assert "<svg" in text and "<dc:date>" not in text and "Matplotlib v" not in text


@pytest.mark.parametrize("draw", plots.PAPER_FIGURES, ids=lambda f: f.__name__)
def test_paper_figures_write_png_and_svg(results, draw):
    draw()
    assert_written(results, draw.__name__)


def test_runs_figure_with_no_runs_yet(results, capsys):
    fig = plots.runs_cost_vs_score()
    assert_written(results, "runs_cost_vs_score")
    assert "no scored checkpoints yet" in fig.axes[0].texts[0].get_text()
    assert "no runs.csv yet" in capsys.readouterr().out


@pytest.mark.parametrize("unit, usd, label", [("GPU-hours", 2.69, "USD"), ("CPU-hours", 0.0, "CPU-hours")])
def test_runs_figure_axis_is_usd_only_when_priced(results, unit, usd, label):
    fig = plots.runs_cost_vs_score(ckpts(unit, usd))
    assert_written(results, "runs_cost_vs_score")
    assert fig.axes[0].get_xlabel().startswith(label)
    assert fig.axes[0].lines[0].get_xdata().tolist() == ([2.69, 5.38] if usd else [0.6, 1.1])


def test_svg_output_is_byte_identical_across_runs(results):
    plots.paper_cost_breakdown()
    first = (results / "figures" / "paper_cost_breakdown.svg").read_bytes()
    plots.paper_cost_breakdown()
    assert (results / "figures" / "paper_cost_breakdown.svg").read_bytes() == first


def test_save_returns_the_png_path(results):
    fig = plots.figure(2, 2)
    fig.subplots().plot([0, 1], [0, 1])
    path = plots.save(fig, "tmp_line")
    assert path == results / "figures" / "tmp_line.png" and path.with_suffix(".svg").exists()
