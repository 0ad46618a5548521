"""Figures redrawn from tables: the paper's (`paper_*`, committed) and our runs'. Used in: every notebook (save),
04_cost_analysis.

Each figure function takes its table(s) (default: the reference CSVs / our run tables), draws on a
pyplot-free `Figure` (no global state, any backend), saves PNG + SVG via `save`, and returns the figure.
CLI: `python -m tina_utils.plots` redraws every figure under results/figures/ from results/ in seconds.
"""

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tina_utils import cost, env
from tina_utils.paper import BENCHMARKS, load_reference

TINA, BASE, OURS = "#c0392b", "#7f8c8d", "#2471a3"
LABELS = {"aime24": "AIME24", "aime25": "AIME25", "amc23": "AMC23", "math500": "MATH500", "gpqa": "GPQA-D",
          "minerva": "Minerva", "avg": "Average"}
# Fixed SVG ids and no timestamp/version metadata, so re-running does not churn committed files.
_RC = {"svg.hashsalt": "tina-figures", "svg.fonttype": "path", "font.size": 8, "axes.titlesize": 9,
       "axes.spines.top": False, "axes.spines.right": False}


def figure(width: float = 7.0, height: float = 3.5) -> Figure:
    """A constrained-layout Figure with the repo's style (not registered with pyplot)."""
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained", dpi=100)


def save(fig: Figure, name: str) -> Path:
    """Write results/figures/<name>.png and .svg deterministically; return the PNG path."""
    directory = env.results_dir("figures")
    with matplotlib.rc_context(_RC):
        fig.savefig(directory / f"{name}.png", dpi=120, metadata={"Software": None})
        fig.savefig(directory / f"{name}.svg", metadata={"Date": None, "Creator": None})
    return directory / f"{name}.png"


def prompt_lengths(lengths: pd.Series, dataset: str, budget: int) -> Path:
    """Notebook 01: prompt lengths in tokens (a bar per length when there are few), the budget when near."""
    fig = figure(6, 2.8)
    ax = fig.subplots()
    counts = lengths.value_counts().sort_index()
    if len(counts) <= 40:  # few distinct lengths (the tiny world): one bar per length
        ax.bar(counts.index, counts.values, width=0.8)
        ax.set_xticks(counts.index)
        ax.set_xlim(counts.index.min() - 3, counts.index.max() + 3)
    else:
        ax.hist(lengths, bins=60)
    if lengths.max() >= budget / 2:
        ax.axvline(budget, color=TINA, linestyle="--", label=f"budget {budget}")
        ax.legend()
    ax.set(xlabel="prompt tokens (chat template applied)", ylabel="prompts",
           title=f"{dataset}: prompt lengths of {len(lengths):,} prepared rows")
    return save(fig, f"01_prompt_lengths_{dataset}")


def _label_points(ax, xs, ys, names, below=()) -> None:
    """Small text labels next to scatter points (under the point for names in `below`, to avoid overlaps)."""
    for x, y, name in zip(xs, ys, names):
        offset = (4, -9) if any(name.startswith(b) for b in below) else (4, 3)
        ax.annotate(name, (x, y), xytext=offset, textcoords="offset points", fontsize=7)


def paper_overall_comparison(table: pd.DataFrame | None = None) -> Figure:
    """Paper Fig. 1: six-benchmark average vs training cost and vs data amount (log axes)."""
    table = load_reference("overall_comparison") if table is None else table
    colors = [TINA if m == "Tina" else BASE for m in table["model"]]
    with matplotlib.rc_context(_RC):
        fig = figure(8, 3.4)
        for ax, column, xlabel in zip(fig.subplots(1, 2), ["cost_usd", "data_k"],
                                      ["training cost (USD, log)", "data: prompts x rollouts (thousands, log)"]):
            ax.scatter(table[column], table["performance"], s=20 + 2 * table["time_h"], c=colors, alpha=0.8)
            _label_points(ax, table[column], table["performance"], table["model"])
            ax.set(xscale="log", xlabel=xlabel, ylabel="six-benchmark average (%)")
            ax.margins(x=0.25, y=0.15)
        fig.suptitle("Paper Fig. 1 redrawn: performance vs cost and data (marker area ~ hours)")
    save(fig, "paper_overall_comparison")
    return fig


def paper_cost_breakdown(table: pd.DataFrame | None = None) -> Figure:
    """Paper Table 1: train + eval USD per task (left) and the summary rows incl. $526 and $9 (right)."""
    table = load_reference("costs") if table is None else table
    with matplotlib.rc_context(_RC):
        fig = figure(9, 3.8)
        for ax, kind, title in zip(fig.subplots(1, 2, width_ratios=[3, 2]), ["task", "total"],
                                   ["per task", "totals"]):
            rows = table[table["kind"] == kind].iloc[::-1]
            train = rows["train_usd"].fillna(0)
            ax.barh(rows["task"], train, color=TINA, label="train")
            ax.barh(rows["task"], rows["eval_usd"], left=train, color=BASE, label="eval")
            for y, total in enumerate(rows["total_usd"]):
                ax.text(total, y, f" ${total:g}", va="center", fontsize=7)
            ax.set(xlabel="USD (about $1 per L40S GPU-hour)", title=f"Paper Table 1, {title}")
            ax.margins(x=0.15)
        ax.legend(loc="lower right", frameon=False)
    save(fig, "paper_cost_breakdown")
    return fig


def paper_ablations(table: pd.DataFrame | None = None) -> Figure:
    """Paper Table 4: average per dataset, learning rate, LoRA rank and algorithm (best ckpt % of epoch)."""
    table = load_reference("ablations") if table is None else table
    with matplotlib.rc_context(_RC):
        fig = figure(8, 5.5)
        axes = fig.subplots(2, 2).ravel()
        data = table[table["ablation"] == "dataset"]
        axes[0].scatter(data["dataset_size_k"], data["avg"], color=TINA)
        _label_points(axes[0], data["dataset_size_k"], data["avg"],
                      [f"{d} ({p:.0f}%)" for d, p in zip(data["dataset"], data["pct_epoch"])],
                      below=("OpenThoughts",))
        axes[0].set(xscale="log", xlabel="training prompts (thousands, log)", title="dataset")
        axes[0].margins(x=0.3)
        for ax, name in zip(axes[1:], ["lr", "rank", "algorithm"]):
            rows = table[table["ablation"] == name]
            bars = ax.bar(rows["setting"], rows["avg"], color=TINA, width=0.6)
            ax.bar_label(bars, labels=[f"{a:.2f}\n{p:.0f}%" for a, p in zip(rows["avg"], rows["pct_epoch"])],
                         fontsize=7)
            xlabel = {"lr": "learning rate (LIMR, r=32)", "rank": "LoRA rank (LIMR, alpha = 4r)",
                      "algorithm": "RL algorithm (Open-RS3 recipe)"}[name]
            ax.set(xlabel=xlabel, title=name, ylim=(44, 52))
        for ax in axes:
            ax.set_ylabel("six-benchmark average (%)")
        fig.suptitle("Paper Table 4 redrawn: ablations (label: average, best checkpoint as % of one epoch)")
    save(fig, "paper_ablations")
    return fig


def paper_benchmarks(baseline: pd.DataFrame | None = None, tina: pd.DataFrame | None = None) -> Figure:
    """Paper Tables 2-3: each full-parameter baseline vs its Tina (LoRA) counterpart, per benchmark."""
    baseline = load_reference("baseline_eval") if baseline is None else baseline
    tina = load_reference("tina_models") if tina is None else tina
    tina = tina[tina["baseline_model"].isin(baseline["model"]) & tina["pct_epoch"].notna()]
    full = baseline.set_index("model").loc[tina["baseline_model"]]
    base_model = baseline.iloc[0]
    names = [m.replace("Tina-", "").replace("-1.5B-preview", "").replace("-1.5B-Preview", "") for m in tina["model"]]
    x = np.arange(len(names))
    with matplotlib.rc_context(_RC):
        fig = figure(10, 5)
        axes = fig.subplots(2, 4).ravel()
        for ax, column in zip(axes, [*BENCHMARKS, "avg"]):
            ax.bar(x - 0.2, full[column], 0.4, color=BASE, label="full-parameter baseline")
            ax.bar(x + 0.2, tina[column], 0.4, color=TINA, label="Tina (LoRA)")
            ax.axhline(base_model[column], color="k", lw=0.8, ls="--", label=base_model["model"])
            ax.set_xticks(x, names, rotation=45, ha="right")
            ax.set_title(LABELS[column])
        axes[-1].axis("off")
        axes[-1].legend(*axes[0].get_legend_handles_labels(), loc="center", frameon=False)
        fig.suptitle("Paper Tables 2-3 redrawn: pass@1 (%) of each baseline vs its Tina counterpart")
    save(fig, "paper_benchmarks")
    return fig


def _hours_or_usd(ckpts: pd.DataFrame) -> tuple:
    """x values and axis label: USD when every checkpoint is priced on a GPU, else device-hours."""
    priced = ckpts["unit"].eq("GPU-hours").all() and ckpts["total_usd"].gt(0).all()
    if priced:
        return ckpts["total_usd"], "USD to this checkpoint (training to its step + its evaluation)"
    hours = ckpts["train_device_hours"] + ckpts["eval_device_hours"].fillna(0)
    return hours, f"{' / '.join(sorted(set(ckpts['unit'])))} to this checkpoint (CPU time is not priced: $0)"


def runs_cost_vs_score(ckpts: pd.DataFrame | None = None, overall: pd.DataFrame | None = None) -> Figure:
    """Our checkpoints' cost vs score (left) beside the paper's cost vs score, with Tina's $9 point (right)."""
    ckpts = cost.checkpoint_costs() if ckpts is None else ckpts
    overall = load_reference("overall_comparison") if overall is None else overall
    scored = ckpts.dropna(subset=["score"]) if len(ckpts) else ckpts
    best = cost.headline_best_checkpoint()
    tina_avg = overall.loc[overall["model"] == "Tina", "performance"].iloc[0]
    with matplotlib.rc_context(_RC):
        fig = figure(9, 3.5)
        left, right = fig.subplots(1, 2)
        if len(scored):
            xs, xlabel = _hours_or_usd(scored)
            for run_id, rows in scored.assign(x=xs).sort_values("step").groupby("run_id"):
                left.plot(rows["x"], rows["score"], "o-", ms=3, label=run_id)
            left.set(xlabel=xlabel, ylabel="mean pass@1 over our benchmarks (%)")
            left.legend(frameon=False, fontsize=7)
        else:
            left.text(0.5, 0.5, "no scored checkpoints yet:\ntrain (02) and evaluate (03) first",
                      ha="center", va="center", transform=left.transAxes)
            left.set(xticks=[], yticks=[])
        left.set_title("our runs")
        colors = [TINA if m == "Tina" else BASE for m in overall["model"]]
        names = ["Tina: training (Fig. 1)" if m == "Tina" else m for m in overall["model"]]
        right.scatter(overall["cost_usd"], overall["performance"], c=colors)
        _label_points(right, overall["cost_usd"], overall["performance"], names)
        right.scatter([best["stated_total_usd"]], [tina_avg], marker="*", s=90, color=TINA)
        _label_points(right, [best["stated_total_usd"]], [tina_avg], ["Tina best ckpt: train + eval"],
                      below=("Tina",))
        right.set(xscale="log", xlabel="USD (log)", ylabel="six-benchmark average (%)",
                  title="paper (Fig. 1 and Table 1)")
        right.margins(x=0.3, y=0.15)
    save(fig, "runs_cost_vs_score")
    return fig


def paper_verdict(table: pd.DataFrame | None = None) -> Figure:
    """How sure is the paper's table: each Tina model's average gain, before and after its best-of-K selection."""
    from tina_utils.evaluate import paper_verdict as verdicts

    table = verdicts.load() if table is None else table
    rows = table[table["benchmark"] == "average"]
    with matplotlib.rc_context(_RC):
        fig = figure(7, 3.2)
        for ax, (reference, part) in zip(fig.subplots(1, 2, sharex=True, sharey=True),
                                         rows.groupby("reference", sort=False)):
            y = np.arange(len(part))[::-1]
            for offset, (point, low, high, label, color) in enumerate([
                    ("gain", "gain_low", "gain_high", "as reported (one sample each side)", "#0072B2"),
                    ("adjusted_gain", "adjusted_low", "adjusted_high", "less the best-of-K optimism", "#D55E00")]):
                ax.errorbar(part[point], y - 0.15 + 0.3 * offset, fmt="o" if offset == 0 else "s", color=color,
                            xerr=[part[point] - part[low], part[high] - part[point]], capsize=2, ms=4, label=label)
            ax.axvline(0, color="k", lw=0.8)
            names = [f"{m.replace('-1.5B-preview', '').replace('-1.5B-Preview', '')} (K={k})"
                     for m, k in zip(part["model"], part["k"])]
            ax.set_yticks(y, names)
            ax.set(xlabel="gain in the six-benchmark average (points)", title=f"vs its {reference}")
        fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, frameon=False)
        fig.suptitle("How sure is the paper's table? 95 % intervals from its published numbers")
    save(fig, "paper_verdict")
    return fig


PAPER_FIGURES = [paper_overall_comparison, paper_cost_breakdown, paper_ablations, paper_benchmarks]


def all_figures(runs: bool = True) -> list:
    """Redraw every paper figure (and our runs' figure when `runs`); return the PNG paths."""
    written = []
    for draw in [*PAPER_FIGURES, paper_verdict, *([runs_cost_vs_score] if runs else [])]:
        draw()
        written.append(env.results_dir("figures") / f"{draw.__name__}.png")
    return written


if __name__ == "__main__":
    for path in all_figures():
        for suffix in (".png", ".svg"):
            print(path.with_suffix(suffix).relative_to(env.results_dir()).as_posix())
