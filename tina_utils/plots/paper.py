"""The paper's figures redrawn from its published tables (results/reference/), ours beside them where we have runs.

Each function reads its tables (defaults: the committed reference CSVs) and returns (Figure, source tables);
`registry.draw` saves them. Used in: notebooks 03 and 04.
"""

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from tina_utils import env
from tina_utils.paper import BENCHMARKS, load_reference
from tina_utils.plots import style
from tina_utils.plots.style import BASE, FULL, LABELS, OURS, TINA

# Our recipes that train the paper's ablation models (results/reference/ablations.csv `model`).
ABLATION_RECIPES = {"open_r1": "Tina-OpenR1", "thoughts": "Tina-OpenThoughts", "deepscaler": "Tina-DeepScaleR",
                    "still": "Tina-STILL-3", "open_rs1": "Tina-Open-S1", "limr": "Tina-LIMR",
                    "limr_lr_5e-6": "Tina-LIMR lr 5e-6", "limr_lr_5e-7": "Tina-LIMR lr 5e-7",
                    "limr_rank_64": "Tina-LIMR r64", "limr_rank_16": "Tina-LIMR r16", "limr_rank_8": "Tina-LIMR r8",
                    "limr_rank_4": "Tina-LIMR r4", "open_rs3": "Tina-Open-RS3",
                    "open_rs3_drgrpo": "Tina-Open-RS3 Dr.GRPO"}


def _reference(name: str):
    """A committed reference table's path under results/reference/."""
    return env.results_dir("reference") / f"{name}.csv"


def short(model: str) -> str:
    """A model name without the '-1.5B-preview' tail (axis labels)."""
    return model.replace("-1.5B-preview", "").replace("-1.5B-Preview", "").replace("Tina-", "")


def _label(ax, xs, ys, names, below=()) -> None:
    """Text labels next to scatter points (under the point for names starting with one of `below`)."""
    for x, y, name in zip(xs, ys, names):
        offset = (3, -10) if any(name.startswith(b) for b in below) else (3, 3)
        ax.annotate(name, (x, y), xytext=offset, textcoords="offset points")


@style.styled
def overall_comparison(table: pd.DataFrame | None = None):
    """Paper Fig. 1: six-benchmark average vs training cost and vs data amount (log axes)."""
    table = load_reference("overall_comparison") if table is None else table
    colors = [TINA if m == "Tina" else BASE for m in table["model"]]
    fig = style.figure(FULL, 3.0)
    for ax, column, xlabel in zip(fig.subplots(1, 2, sharey=True), ["cost_usd", "data_k"],
                                  ["training cost (USD, log scale)", "prompts × rollouts (thousands, log scale)"]):
        ax.scatter(table[column], table["performance"], s=12 + 1.5 * table["time_h"], c=colors, alpha=0.8)
        _label(ax, table[column], table["performance"], table["model"], below=("Open-RS3", "STILL"))
        ax.set(xscale="log", xlabel=xlabel)
        ax.margins(x=0.3, y=0.15)
    fig.axes[0].set_ylabel("six-benchmark average (%)")
    fig.suptitle("Paper Fig. 1: performance vs training cost and data (marker area ∝ GPU-hours)")
    return fig, [_reference("overall_comparison")]


@style.styled
def cost_breakdown(table: pd.DataFrame | None = None):
    """Paper Table 1: train + eval USD per task (left) and the totals incl. $526 and $9 (right)."""
    table = load_reference("costs") if table is None else table
    fig = style.figure(FULL, 3.2)
    for ax, kind, title in zip(fig.subplots(1, 2, width_ratios=[3, 2]), ["task", "total"], ["per task", "totals"]):
        rows = table[table["kind"] == kind].iloc[::-1]
        train = rows["train_usd"].fillna(0)
        ax.barh(rows["task"], train, color=TINA, label="train")
        ax.barh(rows["task"], rows["eval_usd"], left=train, color=BASE, hatch="//", label="evaluation")
        for y, total in enumerate(rows["total_usd"]):
            ax.text(total, y, f" ${total:g}", va="center")
        ax.set(xlabel="USD (≈ $1 per L40S GPU-hour)", title=f"Paper Table 1, {title}")
        ax.margins(x=0.2)
    fig.axes[0].legend(loc="lower right")
    return fig, [_reference("costs")]


def _our_ablation_points(studies: pd.DataFrame | None) -> pd.DataFrame:
    """Study rows of recipes that train an ablation model: model, mean, stderr (empty without studies)."""
    if studies is None or not len(studies) or "recipe" not in studies:
        return pd.DataFrame(columns=["model", "mean", "stderr"])
    rows = studies[studies["recipe"].isin(ABLATION_RECIPES)].dropna(subset=["mean"])
    return rows.assign(model=rows["recipe"].map(ABLATION_RECIPES))[["model", "mean", "stderr"]]


def study_tables() -> tuple[pd.DataFrame | None, list]:
    """Every saved study table under results/studies/ concatenated (None when there is none), and their paths."""
    paths = sorted(env.results_dir("studies").glob("*/study.csv"))
    return (pd.concat([pd.read_csv(p) for p in paths]) if paths else None), paths


@style.styled
def ablations(table: pd.DataFrame | None = None, studies: pd.DataFrame | None = None):
    """Paper Table 4 as dot plots on one shared axis: average per dataset, learning rate, LoRA rank and algorithm,
    with our study's mean ± s.e. over seeds beside each setting we ran."""
    table = load_reference("ablations") if table is None else table
    paths = []
    if studies is None:
        studies, paths = study_tables()
    ours = _our_ablation_points(studies).set_index("model")
    fig = style.figure(FULL, 3.4)
    axes = fig.subplots(1, 4, sharey=True, width_ratios=[7, 3, 5, 2])
    for ax, (name, rows) in zip(axes, table.groupby("ablation", sort=False)):
        x = np.arange(len(rows))
        ax.plot(x, rows["avg"], "o", color=TINA, ls="none", label="paper (best checkpoint)")
        for xi, avg, pct in zip(x, rows["avg"], rows["pct_epoch"]):
            ax.annotate(f"{pct:.0f}%", (xi, avg), xytext=(0, 5), textcoords="offset points", ha="center")
        mine = ours.reindex(rows["model"])
        if mine["mean"].notna().any():
            ax.errorbar(x + 0.15, mine["mean"], yerr=mine["stderr"].fillna(0), fmt="s", color=OURS, mfc="white",
                        capsize=2, label="ours (mean ± s.e. over seeds)")
        labels = rows["setting"].str.replace(r" \(.*\)", "", regex=True) if name == "dataset" else rows["setting"]
        ax.set_xticks(x, labels, rotation=60 if name == "dataset" else 0, ha="right" if name == "dataset" else "center")
        ax.set(title={"lr": "learning rate", "rank": "LoRA rank", "algorithm": "algorithm"}.get(name, name))
        ax.margins(x=0.2)
    axes[0].set_ylabel("six-benchmark average (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    if not len(ours):  # say so in the legend rather than leave our side silently empty
        handles.append(Line2D([], [], marker="s", mfc="white", color=OURS, ls="none"))
        labels.append("ours: not run yet (python -m tina_utils.grid)")
    fig.legend(handles, labels, loc="outside lower center", ncols=2)
    fig.suptitle("Paper Table 4: ablations (labels: best checkpoint, % of an epoch)")
    return fig, [_reference("ablations"), *paths]


@style.styled
def benchmarks(baseline: pd.DataFrame | None = None, tina: pd.DataFrame | None = None):
    """Paper Tables 2-3: every Tina model beside its full-parameter baseline and the base model, per benchmark."""
    baseline = load_reference("baseline_eval") if baseline is None else baseline
    tina = load_reference("tina_models") if tina is None else tina
    full = baseline.set_index("model").reindex(tina["baseline_model"])
    base = baseline.iloc[0]
    y = np.arange(len(tina))[::-1]
    fig = style.figure(FULL, 4.0)
    axes = fig.subplots(2, 4, sharey=True).ravel()
    for ax, column in zip(axes, [*BENCHMARKS, "avg"]):
        ax.axvline(base[column], color="k", lw=0.8, ls=":", label=f"{base['model']} (base)")
        ax.plot(full[column], y, "s", color=BASE, mfc="white", label="its full-parameter baseline")
        ax.plot(tina[column], y, "o", color=TINA, label="Tina (LoRA)")
        ax.set(title=LABELS[column], yticks=y, yticklabels=[short(m) for m in tina["model"]])
        ax.margins(x=0.15)
        ax.grid(axis="y", lw=0.3, color="0.85")
    axes[-1].axis("off")
    fig.supxlabel("pass@1 (%)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    fig.suptitle(f"Paper Tables 2-3: {len(tina)} Tina models vs their baselines, pass@1 per benchmark")
    return fig, [_reference("baseline_eval"), _reference("tina_models")]


@style.styled
def verdict(table: pd.DataFrame | None = None):
    """How sure is the paper's table: each Tina model's average gain, before and after its best-of-K selection."""
    from tina_utils.evaluate import paper_verdict as verdicts

    source = env.results_dir("03_evaluate") / "paper_verdict.csv"
    table = verdicts.load(source) if table is None else table
    rows = table[table["benchmark"] == "average"]
    fig = style.figure(FULL, 3.0)
    for ax, (reference, part) in zip(fig.subplots(1, 2, sharex=True, sharey=True),
                                     rows.groupby("reference", sort=False)):
        y = np.arange(len(part))[::-1]
        for offset, (point, low, high, label, color, marker) in enumerate([
                ("gain", "gain_low", "gain_high", "as reported (one sample each side)", OURS, "o"),
                ("adjusted_gain", "adjusted_low", "adjusted_high", "less the best-of-K optimism", TINA, "s")]):
            ax.errorbar(part[point], y - 0.15 + 0.3 * offset, fmt=marker, color=color, capsize=2, label=label,
                        xerr=[part[point] - part[low], part[high] - part[point]])
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, [f"{short(m)} (K={k})" for m, k in zip(part["model"], part["k"])])
        ax.set(xlabel="gain in the six-benchmark average (points)", title=f"vs its {reference}")
    fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
    fig.suptitle("How sure is the paper's table? 95 % intervals from its published numbers")
    return fig, [source]


PAPER_FIGURES = {"paper_overall_comparison": overall_comparison, "paper_cost_breakdown": cost_breakdown,
                 "paper_ablations": ablations, "paper_benchmarks": benchmarks}
