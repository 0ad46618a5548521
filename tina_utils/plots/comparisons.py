"""Paper-vs-ours figures: our pass@1 per benchmark beside the paper's models, and the two graders' verdicts side by
side. Training curves over seeds and the phase grid are in `plots.seeds` (registered here too).

Each figure is a drawing function on tables plus a find/build pair in `REGISTRY` (see `plots.registry`).
Used in: notebook 03 (and, through `plots.seeds`, 02 and 05).
"""

import json
from statistics import NormalDist

import matplotlib.transforms as mtransforms
import numpy as np
import pandas as pd

from tina_utils import env
from tina_utils.evaluate import stats
from tina_utils.paper import BENCHMARKS, REFERENCE_NAMES, load_reference
from tina_utils.plots import seeds, style
from tina_utils.plots.runs import find_swept_runs

Z = NormalDist().inv_cdf(0.5 + stats.CONFIDENCE / 2)  # normal interval when scores.csv has no ci_low/ci_high
TINA_MARKERS = ["o", "^", "v", "D", "P", "X", "*", "h"]
ROWS = [*BENCHMARKS, "avg"]
REGRADE = "python -m tina_utils.evaluate.lighteval_grader results/03_evaluate/{run_id}"  # writes the table


def _evaluation(run_id: str, name: str):
    """results/03_evaluate/<run_id>/<name>."""
    return env.results_dir("03_evaluate") / str(run_id) / name


def _runs_with(name: str) -> list[str]:
    """Run ids whose evaluation folder holds `name`."""
    return sorted(p.parent.name for p in env.results_dir("03_evaluate").glob(f"*/{name}"))


def our_points(scores: pd.DataFrame, checkpoint: str | None) -> pd.DataFrame:
    """Our pass@1 (%) with 95 % interval per paper benchmark for the base and `checkpoint`, plus their average over
    the six when all six were run: columns checkpoint, benchmark, value, ci_low, ci_high."""
    ours = scores[(scores.metric == "pass@1") & scores.checkpoint.isin(["base", checkpoint])].copy()
    ours["benchmark"] = ours.benchmark.map(REFERENCE_NAMES)
    ours = ours.dropna(subset=["benchmark"])
    for side, sign in (("ci_low", -1), ("ci_high", 1)):
        normal = ours.value + sign * Z * ours.stderr
        ours[side] = ours[side].fillna(normal) if side in ours else normal
    full = ours.groupby("checkpoint").filter(lambda part: set(part.benchmark) >= set(BENCHMARKS))
    average = stats.macro_average(full).assign(benchmark="avg") if len(full) else None
    columns = ["checkpoint", "benchmark", "value", "ci_low", "ci_high"]
    return pd.concat([ours[columns], average[columns] if average is not None else None], ignore_index=True)


def _paper_entries(baseline: pd.DataFrame, tina: pd.DataFrame) -> list[tuple]:
    """(label, row, colour, marker) of the paper's base model and of every Tina model."""
    base = baseline.iloc[0]
    entries = [(f"{base['model']} (paper)", base, style.BASE, "s")]
    for i, (_, row) in enumerate(tina.iterrows()):
        entries.append((f"{row['model']} (paper)", row, style.TINA, TINA_MARKERS[i % len(TINA_MARKERS)]))
    return entries


def _draw_ours(ax, ours: pd.DataFrame, bench: str, checkpoints: list[str], top: int) -> None:
    """Our points with their intervals on one benchmark's panel, or "ours: not run yet"."""
    here = ours[ours.benchmark == bench]
    if here.empty:
        blend = mtransforms.blended_transform_factory(ax.transAxes, ax.transData)
        ax.text(0.5, top + (len(checkpoints) - 1) / 2, "ours: not run yet", transform=blend, ha="center",
                va="center", color=style.BASE)
        return
    for j, checkpoint in enumerate(checkpoints):
        for _, p in here[here.checkpoint == checkpoint].iterrows():
            what = "base" if checkpoint == "base" else f"chosen {checkpoint}"
            ax.errorbar(p.value, top + j, xerr=[[p.value - p.ci_low], [p.ci_high - p.value]], fmt="o", capsize=2,
                        color=style.OURS, mfc="white" if checkpoint == "base" else style.OURS,
                        label=f"ours: {what} (95 % interval)")


@style.styled
def benchmarks_vs_paper(ours: pd.DataFrame, baseline: pd.DataFrame, tina: pd.DataFrame, checkpoint: str | None,
                        title: str = ""):
    """Dot plot, a panel per benchmark and the average (shared pass@1 axis): the paper's base and Tina models, and
    our base and chosen `checkpoint` with 95 % intervals; the last cell holds the legend."""
    entries = _paper_entries(baseline, tina)
    checkpoints = ["base"] + ([checkpoint] if checkpoint not in (None, "base") else [])
    levels = len(entries) + len(checkpoints)
    fig = style.figure(style.FULL, 4 * (0.11 * levels + 0.3) + 0.5)
    axes = fig.subplots(4, 2, sharex=True).ravel()
    for ax, bench in zip(axes, ROWS):
        for y, (label, row, colour, marker) in enumerate(entries):
            ax.plot(row[bench], y, marker=marker, color=colour, ls="none", label=label)
        _draw_ours(ax, ours, bench, checkpoints, len(entries))
        ax.set(ylim=(levels - 0.5, -0.5), yticks=[], title=style.LABELS[bench])
        ax.grid(axis="x", color="0.9", lw=0.6)
        ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[len(ROWS) - 2:len(ROWS)]:
        ax.set_xlabel("pass@1 (%)")
    handles = {h.get_label(): h for ax in axes[:len(ROWS)] for h in ax.get_legend_handles_labels()[0]}
    axes[-1].set_axis_off()
    axes[-1].legend(handles.values(), handles.keys(), loc="center", borderaxespad=0)
    if title:
        fig.suptitle(title)
    return fig


def build_benchmarks(run_id: str):
    """benchmarks_vs_paper_<run_id>: (Figure, source tables)."""
    scores_path, best_path = _evaluation(run_id, "scores.csv"), _evaluation(run_id, "best.json")
    checkpoint = json.loads(best_path.read_text())["checkpoint"] if best_path.exists() else None
    scores = pd.read_csv(scores_path)
    ours = our_points(scores, checkpoint)
    run = sorted(set(scores.benchmark))
    title = (f"{run_id} ({checkpoint or 'base only: no best.json'}) beside the paper\n"
             f"our run evaluated: {', '.join(run)}; the average needs all six")
    fig = benchmarks_vs_paper(ours, load_reference("baseline_eval"), load_reference("tina_models"), checkpoint, title)
    reference = env.results_dir("reference")
    sources = [scores_path, reference / "baseline_eval.csv", reference / "tina_models.csv"]
    return fig, sources + ([best_path] if best_path.exists() else [])


@style.styled
def grader_disagreement(table: pd.DataFrame, title: str = ""):
    """Per benchmark: accuracy under lighteval 0.8.1 (the paper's grader) and math-verify, paired on the same
    samples, with how many verdicts differ."""
    fig = style.figure(style.COLUMN, 0.45 * len(table) + 1.6)
    ax = fig.subplots()
    y = np.arange(len(table))
    ax.hlines(y, table.lighteval, table.math_verify, color=style.BASE, lw=1)
    ax.plot(table.lighteval, y, "o", color=style.TINA, label="lighteval 0.8.1 (the paper's grader)")
    ax.plot(table.math_verify, y, "s", color=style.OURS, mfc="white", label="math-verify (ours)")
    names = [style.LABELS.get(REFERENCE_NAMES.get(b, b), b) for b in table.benchmark]
    ax.set_yticks(y, [f"{name}\n{int(d)} of {int(n)} differ ({100 * d / n:.1f} %)"
                      for name, d, n in zip(names, table.differ, table.samples)])
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel("accuracy (% of graded samples)")
    fig.legend(loc="outside lower center", ncols=1)
    if title:
        fig.suptitle(title)
    return fig


def find_graded_runs() -> list[str]:
    """Run ids whose samples were re-graded with lighteval (03_evaluate/<run>/grader_agreement.csv)."""
    return _runs_with("grader_agreement.csv")


def build_grader(run_id: str):
    """grader_disagreement_<run_id>: (Figure, source tables)."""
    path = _evaluation(run_id, "grader_agreement.csv")
    return grader_disagreement(pd.read_csv(path), f"{run_id}\nthe two graders on the same samples"), [path]


REGISTRY = {
    "benchmarks_vs_paper_": ("03", find_swept_runs, build_benchmarks),
    "grader_disagreement_": ("03", find_graded_runs, build_grader),
    **seeds.REGISTRY,
}
