"""Paper-vs-ours figures (plots.comparisons, plots.seeds) draw the values of fixture tables in the house style:
`pytest tests/test_comparison_figures.py -q`."""

import json
import subprocess
import sys
from statistics import NormalDist

import matplotlib
import numpy as np
import pandas as pd
import pytest

from tina_utils.paper import BENCHMARKS, load_reference
from tina_utils.plots import comparisons, seeds, style
from tina_utils.transition.detect import detect_transition
from tina_utils.transition.logs import load_logs

Z95 = NormalDist().inv_cdf(0.975)
RUN = "r-seed0"


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty results/ directory for this test."""
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    return tmp_path


def house_style(fig, name, sources=()):
    """Every text is >= 8 pt, the width is a column or the full text width (the three file formats of every
    registered figure are checked in test_plots.py)."""
    fig.draw_without_rendering()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text)]
    assert sizes and min(sizes) >= style.MIN_FONT_PT
    assert fig.get_figwidth() in (style.COLUMN, style.FULL)


def texts(fig) -> list[str]:
    """Every text drawn in the figure."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def panels(fig) -> dict:
    """The figure's axes by title."""
    return {ax.get_title(): ax for ax in fig.axes if ax.get_title()}


def write_sweep(root, rows, checkpoint="checkpoint-20", with_ci=True):
    """03_evaluate/<RUN>/scores.csv from (checkpoint, benchmark, value, stderr, ci_low, ci_high) rows, best.json."""
    folder = root / "03_evaluate" / RUN
    folder.mkdir(parents=True)
    table = pd.DataFrame(rows, columns=["checkpoint", "benchmark", "value", "stderr", "ci_low", "ci_high"])
    table = table.assign(run_id=RUN, step=[0 if c == "base" else int(c.split("-")[1]) for c in table.checkpoint],
                         metric="pass@1", n_problems=30, n_samples=1)
    noise = table.assign(metric="pass@4", value=99.0)  # another metric: never drawn as pass@1
    pd.concat([table, noise]).drop(columns=[] if with_ci else ["ci_low", "ci_high"]).to_csv(
        folder / "scores.csv", index=False)
    (folder / "best.json").write_text(json.dumps({"checkpoint": checkpoint, "step": 20}))


def drawn_intervals(ax) -> dict:
    """{y level: (value, low, high)} of the error bars on one panel."""
    found = {}
    for bars in ax.containers:
        line, _, (segments,) = bars.lines
        (low, y), (high, _) = segments.get_segments()[0]
        found[round(y)] = (line.get_xdata()[0], low, high)
    return found


@pytest.mark.parametrize("with_ci", [True, False])
def test_benchmarks_vs_paper_draws_our_intervals(results, with_ci):
    rows = [("base", "aime24", 20.0, 7.3, 9.5, 37.3), ("checkpoint-20", "aime24", 30.0, 8.4, 16.7, 47.9),
            ("base", "math_500", 80.0, 1.8, 76.3, 83.3), ("checkpoint-20", "math_500", 84.0, 1.6, 80.5, 87.0)]
    write_sweep(results, rows, with_ci=with_ci)
    assert comparisons.find_swept_runs() == [RUN]
    fig, sources = comparisons.build_benchmarks(RUN)
    house_style(fig, f"benchmarks_vs_paper_{RUN}", sources)
    tina = len(load_reference("tina_models"))
    for title, bench in (("AIME24", "aime24"), ("MATH500", "math_500")):
        drawn = drawn_intervals(panels(fig)[title])
        ours = [r for r in rows if r[1] == bench]  # base, then the chosen checkpoint
        for level, (_, _, value, se, low, high) in zip((tina + 1, tina + 2), ours):
            expected = (value, low, high) if with_ci else (value, value - Z95 * se, value + Z95 * se)
            assert drawn[level] == pytest.approx(expected)
    for title in ("AIME25", "AMC23", "GPQA-D", "Minerva", "Average"):
        assert not panels(fig)[title].containers
        assert "ours: not run yet" in [t.get_text() for t in panels(fig)[title].texts]


def test_benchmarks_vs_paper_tiny_eval_only_is_drawn_with_every_paper_model(results):
    write_sweep(results, [("base", "tiny_eval", 49.0, 4.5, 40.0, 58.0), ("checkpoint-20", "tiny_eval", 78, 4, 70, 85)])
    fig, _ = comparisons.build_benchmarks(RUN)
    house_style(fig, f"benchmarks_vs_paper_{RUN}")
    assert texts(fig).count("ours: not run yet") == len(style.LABELS)
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    tina = load_reference("tina_models")
    assert [t for t in legend if t.startswith("Tina-")] == [f"{m} (paper)" for m in tina.model]
    assert len(tina) == 6 and f"{load_reference('baseline_eval').model[0]} (paper)" in legend
    aime = panels(fig)["AIME24"]
    assert [line.get_xdata()[0] for line in aime.lines] == [23.33, *tina.aime24]


def test_benchmarks_vs_paper_average_over_all_six(results):
    se = [5.0, 6.0, 7.0, 1.0, 3.0, 2.5]
    rows = [(c, b, 10.0 * (i + 1) + (5 if c != "base" else 0), s, np.nan, np.nan)
            for c in ("base", "checkpoint-20") for i, (b, s) in enumerate(zip(BENCHMARKS, se))]
    write_sweep(results, rows)
    drawn = drawn_intervals(panels(comparisons.build_benchmarks(RUN)[0])["Average"])
    half = Z95 * np.sqrt(np.sum(np.square(se))) / 6
    assert drawn[8] == pytest.approx((40.0, 40.0 - half, 40.0 + half))  # the NaN ci_low falls back to the normal one
    assert drawn[7] == pytest.approx((35.0, 35.0 - half, 35.0 + half))


def write_logs(root, run, format_reward, seed=0):
    """02_train/<run>/log.csv with TRL 1.x column names."""
    rng = np.random.default_rng(seed)
    n = len(format_reward)
    folder = root / "02_train" / run
    folder.mkdir(parents=True)
    pd.DataFrame({"step": np.arange(1, n + 1), "rewards/format_reward/mean": format_reward,
                  "rewards/accuracy_reward/mean": rng.uniform(0, 1, n),
                  "completions/mean_length": rng.uniform(100, 300, n)}).to_csv(folder / "log.csv", index=False)


def test_training_curves_band_is_mean_plus_minus_standard_error(results):
    runs = [("a-0", "a", 0, 12), ("a-1", "a", 1, 12), ("a-2", "a", 2, 9), ("solo-0", "solo", 0, 12)]
    for run, _, seed, n in runs:
        write_logs(results, run, np.random.default_rng(10 + seed).uniform(0, 1, n), seed)
    pd.DataFrame(runs, columns=["run_id", "recipe", "seed", "steps"]).assign(status="complete").to_csv(
        results / "runs.csv", index=False)
    assert seeds.find_recipes() == ["a", "solo"]
    fig, sources = comparisons.REGISTRY["training_curves_seeds_"][2]("a")
    house_style(fig, "training_curves_seeds_a", sources)
    assert "3 seeds" in fig.get_suptitle()
    logs = [load_logs(results / "02_train" / run) for run, *_ in runs[:3]]
    for ax, metric in zip(fig.axes, seeds.CURVES):
        values = pd.concat([df.set_index("step")[metric] for df in logs], axis=1)
        mean, se = values.mean(axis=1), values.std(axis=1, ddof=1) / np.sqrt(values.count(axis=1))
        corners = ax.collections[0].get_paths()[0].vertices
        for step in values.index:
            band = corners[corners[:, 0] == step, 1]
            assert (band.min(), band.max()) == pytest.approx((mean[step] - se[step], mean[step] + se[step]))
        assert ax.collections[0].get_label() == "± 1 s.e. over seeds"
    solo = seeds.build_curves("solo")[0]
    assert "1 seed" in solo.get_suptitle() and not solo.axes[0].collections
    assert [line.get_label() for line in solo.axes[0].lines] == ["seed 0"]


def step_reward(n=60, at=25, seed=0):
    """A format reward that jumps from 0.1 to 0.9 at step `at`, with a little noise."""
    return np.where(np.arange(1, n + 1) >= at, 0.9, 0.1) + np.random.default_rng(seed).normal(0, 0.03, n)


def test_phase_grid_marks_transition_and_reported_checkpoint(results):
    write_logs(results, "run-a", step_reward(at=25))
    write_logs(results, "run-b", step_reward(at=40, seed=1))
    best = results / "03_evaluate" / "run-a" / "best.json"
    best.parent.mkdir(parents=True)
    best.write_text(json.dumps({"checkpoint": "checkpoint-30", "step": 30}))
    assert comparisons.REGISTRY["phase_grid"][1]() == [""]
    fig, sources = seeds.build_phase_grid("")
    house_style(fig, "phase_grid", sources)
    assert [sub.get_suptitle() for sub in fig.subfigs] == ["run-a", "run-b"]
    for sub, run, best in zip(fig.subfigs, ["run-a", "run-b"], [[30.0], []]):
        found = detect_transition(load_logs(results / "02_train" / run))
        for ax in sub.axes:
            lines = {line.get_label(): line.get_xdata()[0] for line in ax.lines}
            assert lines["format transition"] == found.step
            assert [x for label, x in lines.items() if label.startswith("reported")] == best
            span = [p for p in ax.patches if p.get_label() == "format transition interval"][0]
            assert (span.get_x(), span.get_x() + span.get_width()) == pytest.approx((found.lo, found.hi))
    assert abs(detect_transition(load_logs(results / "02_train" / "run-a")).step - 25) <= 2


def test_phase_grid_is_capped(results):
    for i in range(seeds.MAX_GRID_RUNS + 2):
        write_logs(results, f"run-{i:02d}", step_reward(n=30, at=15, seed=i))
    fig, sources = seeds.build_phase_grid("")
    assert len(fig.subfigs) == seeds.MAX_GRID_RUNS == len(sources)
    assert f"first {seeds.MAX_GRID_RUNS} of {seeds.MAX_GRID_RUNS + 2} runs" in fig.get_suptitle()


def test_grader_disagreement_pairs_the_graders(results):
    folder = results / "03_evaluate" / RUN
    folder.mkdir(parents=True)
    table = pd.DataFrame({"benchmark": ["aime24", "math_500"], "samples": [120, 2000],
                          "math_verify": [30.0, 80.5], "lighteval": [25.0, 78.0], "differ": [6, 70]})
    table.to_csv(folder / "grader_agreement.csv", index=False)
    assert comparisons.find_graded_runs() == [RUN]
    fig, _ = comparisons.build_grader(RUN)
    house_style(fig, f"grader_disagreement_{RUN}", [folder / "grader_agreement.csv"])
    ax = fig.axes[0]
    by_label = {line.get_label(): list(line.get_xdata()) for line in ax.lines}
    assert by_label["lighteval 0.8.1 (the paper's grader)"] == [25.0, 78.0]
    assert by_label["math-verify (ours)"] == [30.0, 80.5]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["AIME24\n6 of 120 differ (5.0 %)", "MATH500\n70 of 2000 differ (3.5 %)"]


def test_without_a_table_no_run_is_graded_and_the_command_names_the_run(results):
    assert comparisons.find_graded_runs() == []
    assert comparisons.REGRADE.format(run_id="other-run") == (
        "python -m tina_utils.evaluate.lighteval_grader results/03_evaluate/other-run")


def test_drawing_modules_import_no_training_stack():
    code = ("import sys; from tina_utils.plots import comparisons, seeds; "
            "print([m for m in ('torch', 'transformers', 'trl') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
