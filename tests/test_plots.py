"""Every figure is registered, drawn from saved tables alone in the house style, and byte-stable:
`pytest tests/test_plots.py -q`."""

import json
import os
import re
import subprocess
import sys

import matplotlib
import pandas as pd
import pytest
from matplotlib.text import Text

from tina_utils import env
from tina_utils.phase import early_stop
from tina_utils.plots import paper as paper_figures
from tina_utils.plots import registry, style
from tina_utils.transition.online import synthetic_logs

pytestmark = pytest.mark.xdist_group("figures")  # one worker draws the fixture figures once

RUN, STOPPED = "r-seed0", "r_stop-seed0"


def _scores(run: str, steps=(10, 20, 30)) -> pd.DataFrame:
    """A sweep's scores.csv: base + checkpoints on one benchmark, pass@1 and pass@4 rows."""
    rows = [{"run_id": run, "checkpoint": "base" if s == 0 else f"checkpoint-{s}", "step": s, "benchmark": "tiny_eval",
             "metric": metric, "value": 40.0 + s / 2 + (20 if metric == "pass@4" else 0), "stderr": 4.0,
             "n_problems": 50, "n_samples": 4} for s in (0, *steps) for metric in ("pass@1", "pass@4")]
    return pd.DataFrame(rows)


def write_tables(root) -> None:
    """A results/ tree holding one saved table of every registered kind."""
    logs, true = synthetic_logs("peak", seed=0)
    for run in (RUN, STOPPED):
        (root / "02_train" / run).mkdir(parents=True)
        logs.to_csv(root / "02_train" / run / "log.csv", index=False)
    (root / "02_train" / STOPPED / "transition.json").write_text(json.dumps({"transition": {"step": 128},
                                                                            "stop_at": 150}))
    (root / "03_evaluate" / RUN).mkdir(parents=True)
    _scores(RUN).to_csv(root / "03_evaluate" / RUN / "scores.csv", index=False)
    (root / "03_evaluate" / RUN / "best.json").write_text(json.dumps({"checkpoint": "checkpoint-20", "step": 20}))
    (root / "01_data").mkdir()
    pd.DataFrame({"prompt_tokens": [9, 11, 11], "budget": 12}).to_csv(root / "01_data" / "tiny_prompt_lengths.csv",
                                                                      index=False)
    (root / "04_cost").mkdir()
    early_stop.paper_projection().to_csv(root / "04_cost" / "early_stop_paper_projection.csv", index=False)
    pd.DataFrame({"run_id": [RUN] * 2, "checkpoint": ["checkpoint-10", "checkpoint-20"], "step": [10, 20],
                  "train_device_hours": [0.5, 1.0], "eval_device_hours": [0.1, 0.1], "train_usd": [0.0, 0.0],
                  "eval_usd": [0.0, 0.0], "total_usd": [0.0, 0.0], "unit": ["CPU-hours"] * 2, "score": [10.0, 20.0],
                  "n_benchmarks": [1, 1]}).to_csv(root / "04_cost" / "checkpoint_costs.csv", index=False)
    (root / "05_phase").mkdir()
    logs.assign(true_step=true).to_csv(root / "05_phase" / "synthetic_logs.csv", index=False)
    pd.concat([_scores(RUN).assign(run=RUN, role="unstopped"),
               _scores(STOPPED, steps=(10,)).assign(run=STOPPED, role="stopped")]).to_csv(
        root / "05_phase" / f"{STOPPED}_stop_scores.csv", index=False)
    pd.DataFrame({"run_id": [RUN, STOPPED], "recipe": ["r", "r_stop"], "seed": [0, 0], "status": "complete"}).to_csv(
        root / "runs.csv", index=False)
    pd.DataFrame({"benchmark": ["tiny_eval"], "samples": [200], "math_verify": [55.0], "lighteval": [52.5],
                  "differ": [5]}).to_csv(root / "03_evaluate" / RUN / "grader_agreement.csv", index=False)
    (root / "studies" / "s").mkdir(parents=True)
    pd.DataFrame({"recipe": ["limr", "open_rs3"], "n_seeds": [2, 2], "mean": [47.0, 48.5], "stderr": [0.5, 0.7],
                  "paper": [48.46, 49.45], "failed": [0, 0]}).to_csv(root / "studies" / "s" / "study.csv", index=False)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Every registered figure drawn once, as `make figures` draws it: from the fixture tables alone, in a process
    that must not import the training stack. (results root, PNG paths)."""
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINA_RESULTS", str(root))
        mp.setenv("TINA_FIGURE_FORMATS", ",".join(style.FORMATS))  # every format (the suite's default is PNG only)
        write_tables(root)
        code = ("import runpy, sys; sys.argv = ['tina_utils.plots']; runpy.run_module('tina_utils.plots', "
                "run_name='__main__'); assert not {'torch', 'transformers', 'trl'} & set(sys.modules), 'imported'")
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ},
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        names = registry.names()
    assert f"{len(names)} figures redrawn" in out.stdout
    yield root, [root / "figures" / f"{name}.png" for name in names]


def test_every_registered_kind_is_drawn_from_saved_tables(drawn):
    root, paths = drawn
    drawn_by = {registry.owner(p.stem) for p in paths}
    assert drawn_by == set(registry.REGISTRY), f"not drawn from the fixture tables: {set(registry.REGISTRY) - drawn_by}"
    index = pd.read_csv(root / "figures" / "index.csv", dtype=str).fillna("")
    assert sorted(index["figure"]) == sorted(p.stem for p in paths)
    for row in index.itertuples():
        assert row.notebook and row.commit and all((root / s).exists() for s in row.sources.split(";")), row


def test_every_figure_is_pdf_with_truetype_svg_with_text_and_png(drawn):
    root, paths = drawn
    for png in paths:
        pdf, svg = png.with_suffix(".pdf").read_bytes(), png.with_suffix(".svg").read_text()
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png.name
        assert b"/FontFile2" in pdf and b"/Type3" not in pdf, f"{png.stem}.pdf: fonts not embedded as TrueType"
        assert "<text" in svg and "<dc:date>" not in svg and "Matplotlib v" not in svg, png.stem
        assert b"CreationDate" not in pdf, png.stem


def test_house_style_sizes_and_fonts(drawn):
    root, paths = drawn
    with pytest.MonkeyPatch.context() as mp, matplotlib.rc_context(style.RC):
        mp.setenv("TINA_RESULTS", str(root))
        for name in (p.stem for p in paths):
            prefix = registry.owner(name)
            fig, _ = registry.REGISTRY[prefix][2](name[len(prefix):])
            fig.canvas.draw()  # legends and tick labels exist once drawn
            assert fig.get_figwidth() in (style.COLUMN, style.FULL), name
            small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
                     if t.get_text().strip() and t.get_fontsize() < style.MIN_FONT_PT]
            assert not small, f"{name}: text under {style.MIN_FONT_PT} pt: {small[:3]}"


def test_the_figure_files_are_byte_stable(drawn):
    """Redrawn in this process, one figure per drawing module gives the same bytes as make figures' process."""
    root, _ = drawn
    names = ["paper_ablations", f"03_score_vs_step_{RUN}", f"phase_stop_{STOPPED}", f"benchmarks_vs_paper_{RUN}",
             "training_curves_seeds_r"]
    files = [root / "figures" / f"{name}.{fmt}" for name in names for fmt in style.FORMATS]
    before = {file: file.read_bytes() for file in files}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINA_RESULTS", str(root))
        mp.setenv("TINA_FIGURE_FORMATS", ",".join(style.FORMATS))
        for name in names:
            (root / "figures" / f"{name}.png").unlink()
            registry.draw(name)
    changed = [file.name for file in files if file.read_bytes() != before[file]]
    assert not changed, f"not byte-stable: {changed}"  # no date, version or commit inside the files


def test_every_figure_in_the_checkout_has_a_registered_redraw():
    committed = subprocess.run(["git", "ls-files", "results/figures"], cwd=env.repo_root(), capture_output=True,
                               text=True).stdout.split()
    assert committed and all(registry.owner(re.sub(r"\.\w+$", "", p.split("/")[-1])) for p in committed)
    assert registry.unregistered(env.repo_root() / "results" / "figures") == []  # and whatever runs wrote there


def test_an_unregistered_file_is_reported(drawn):
    root, _ = drawn
    (root / "figures" / "hand_drawn.png").write_bytes(b"x")
    try:
        assert registry.unregistered(root / "figures") == ["hand_drawn.png"]
        with pytest.raises(KeyError, match="no registered figure draws 'hand_drawn'"):
            registry.draw("hand_drawn")
    finally:
        (root / "figures" / "hand_drawn.png").unlink()


def test_longest_prefix_owns_a_name():
    assert registry.owner("phase_stop_x") == "phase_stop_" and registry.owner("phase_x") == "phase_"
    assert registry.owner("phase_synthetic") == "phase_synthetic" and registry.owner("phase_") is None


def test_score_vs_step_marks_the_chosen_checkpoint_and_95_intervals(drawn):
    root, _ = drawn
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINA_RESULTS", str(root))
        fig, sources = registry.REGISTRY["03_score_vs_step_"][2](RUN)
    ax = fig.axes[0]
    points = ax.containers[0]
    assert points.lines[0].get_ydata().tolist() == [45.0, 50.0, 55.0]  # pass@1 only, base as a line
    (bars,) = points.lines[2]
    assert bars.get_segments()[0][:, 1].tolist() == pytest.approx([45 - 1.96 * 4, 45 + 1.96 * 4])
    assert [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"] == [20]
    assert root / "03_evaluate" / RUN / "best.json" in sources


def test_ablations_show_our_study_beside_the_paper(drawn):
    root, _ = drawn
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINA_RESULTS", str(root))
        fig, sources = paper_figures.ablations()
    ours = [c for ax in fig.axes for c in ax.containers]
    drawn_means = sorted(y for c in ours for y in c.lines[0].get_ydata() if y == y)
    assert drawn_means == [47.0, 47.0, 47.0, 48.5]  # LIMR in three ablations (dataset, lr, rank), Open-RS3 in one
    assert root / "studies" / "s" / "study.csv" in sources
    empty, _ = paper_figures.ablations(studies=pd.DataFrame())
    assert any("ours: not run yet" in t.get_text() for t in empty.legends[0].get_texts())


def test_paper_benchmarks_keep_every_tina_model():
    fig, _ = paper_figures.benchmarks()
    tina = paper_figures.load_reference("tina_models")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == len(tina) and "II-Thought" in labels


def test_the_figure_formats_can_be_narrowed_but_keep_the_png(monkeypatch):
    monkeypatch.setenv("TINA_FIGURE_FORMATS", "png, svg")
    assert style.formats() == ["png", "svg"]
    for wrong in ("svg", "png,eps"):
        monkeypatch.setenv("TINA_FIGURE_FORMATS", wrong)
        with pytest.raises(ValueError, match=f"TINA_FIGURE_FORMATS={wrong}: use a comma list of pdf, svg, png"):
            style.formats()
