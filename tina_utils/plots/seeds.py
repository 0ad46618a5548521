"""Training figures across runs: a recipe's curves as the mean over its seeds with a ± 1 s.e. band, and the phase
grid (every logged run's curves with its format transition and its reported checkpoint).

Registered through `plots.comparisons.REGISTRY`. Used in: notebooks 02 (curves over seeds) and 05 (phase grid).
"""

import numpy as np
import pandas as pd

from tina_utils import env
from tina_utils.evaluate.selection import read_best
from tina_utils.plots import style
from tina_utils.runs import log_file, logged_runs, runs_csv
from tina_utils.transition.detect import detect_transition
from tina_utils.transition.logs import load_logs

CURVES = {"format_reward": "format reward (0-1)", "accuracy_reward": "accuracy reward (0-1)",
          "completion_length": "completion length (tokens)"}
GRID_LABELS = {"format_reward": "format reward", "accuracy_reward": "accuracy reward",
               "completion_length": "length (tokens)"}
MAX_GRID_RUNS = 8  # rows beyond this make the grid unreadable on a page


def recipe_runs(recipe: str) -> dict[int, str]:
    """{seed: run id} of the recipe's logged runs in results/runs.csv."""
    path = runs_csv()
    table = pd.read_csv(path, dtype={"run_id": str, "recipe": str}) if path.exists() else pd.DataFrame()
    rows = table[table.recipe == recipe] if len(table) else table
    return {int(seed): run for run, seed in zip(rows.get("run_id", []), rows.get("seed", [])) if log_file(run)}


def seed_band(logs: dict, metric: str) -> pd.DataFrame:
    """Per step over the seeds that logged it: step, mean, se (standard error, NaN with one seed), n."""
    long = pd.concat([df[["step", metric]] for df in logs.values() if metric in df]).dropna()
    values = long.groupby("step")[metric]
    out = pd.DataFrame({"mean": values.mean(), "se": values.std(ddof=1) / np.sqrt(values.count()),
                        "n": values.count()})
    return out.reset_index()


@style.styled
def training_curves_seeds(logs: dict, recipe: str):
    """Format reward, accuracy reward and completion length vs step: the seeds' mean and its ± 1 s.e. band."""
    metrics = [m for m in CURVES if any(m in df for df in logs.values())]
    fig = style.figure(style.FULL, 2.5)
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics):
        band = seed_band(logs, metric)
        if len(logs) == 1:
            ax.plot(band.step, band["mean"], color=style.OURS, label=f"seed {next(iter(logs))}")
        else:
            for df in logs.values():
                ax.plot(df.step, df[metric], color=style.BASE, lw=0.5, ls="-", alpha=0.6, label="one seed")
            ax.fill_between(band.step, band["mean"] - band.se, band["mean"] + band.se, color=style.OURS, alpha=0.25,
                            lw=0, label="± 1 s.e. over seeds")
            ax.plot(band.step, band["mean"], color=style.OURS, label=f"mean of {len(logs)} seeds")
        ax.set(xlabel="training step", ylabel=CURVES[metric])
    handles = {h.get_label(): h for h in axes[0].get_legend_handles_labels()[0]}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=3)
    count = "1 seed" if len(logs) == 1 else f"{len(logs)} seeds"
    fig.suptitle(f"{recipe}: {count} ({', '.join(f'seed {s}' for s in logs)})")
    return fig


def find_recipes() -> list[str]:
    """Recipes in results/runs.csv with at least one logged run."""
    path = runs_csv()
    if not path.exists():
        return []
    table = pd.read_csv(path, dtype={"run_id": str, "recipe": str})
    return sorted({recipe for recipe, run in zip(table.recipe, table.run_id) if log_file(run)})


def build_curves(recipe: str):
    """training_curves_seeds_<recipe>: (Figure, source tables)."""
    files = {seed: log_file(run) for seed, run in sorted(recipe_runs(recipe).items())}
    logs = {seed: load_logs(path) for seed, path in files.items()}
    return training_curves_seeds(logs, recipe), [runs_csv(), *files.values()]


def _draw_run(axes, logs: pd.DataFrame, transition, best_step) -> None:
    """One grid row: the run's curves, its format transition (step and interval) and reported checkpoint."""
    for ax, metric in zip(axes, CURVES):
        if metric in logs:
            ax.plot(logs.step, logs[metric], color=style.OURS, lw=0.8, label="logged")
        if transition is not None:
            ax.axvspan(transition.lo, transition.hi, color=style.ORANGE, alpha=0.3, lw=0,
                       label="format transition interval")
            ax.axvline(transition.step, color=style.ORANGE, ls="--", label="format transition")
        if best_step is not None:
            ax.axvline(best_step, color=style.GREEN, ls=":", lw=1.6, label="reported checkpoint (best.json)")
        ax.set_ylabel(GRID_LABELS[metric])


@style.styled
def phase_grid(runs: dict, total: int | None = None):
    """Rows = runs ({run id: (logs, Transition | None, best step | None)}, at most MAX_GRID_RUNS drawn; `total`: how
    many runs there are), columns = the three curves."""
    shown, total = list(runs)[:MAX_GRID_RUNS], total or len(runs)
    fig = style.figure(style.FULL, 1.3 * len(shown) + 1.1)
    heights = [1.0] * (len(shown) - 1) + [1.3]  # the last row also holds the x-axis label
    rows = np.atleast_1d(fig.subfigures(len(shown), 1, height_ratios=heights))
    axes = np.array([row.subplots(1, len(CURVES), sharex=True) for row in rows])
    for row, axs, run in zip(rows, axes, shown):
        _draw_run(axs, *runs[run])
        row.suptitle(run, x=0.01, ha="left", fontsize=style.MIN_FONT_PT)
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    handles = {h.get_label(): h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=2)
    plural = "run" if total == 1 else "runs"
    count = f"first {len(shown)} of {total} runs (by run id)" if total > len(shown) else f"{total} {plural}"
    fig.suptitle(f"Format transition and reported checkpoint per run: {count}")
    return fig


def find_phase_grid() -> list[str]:
    """[""] when any run has training logs (the grid is drawn once)."""
    return [""] if logged_runs() else []


def build_phase_grid(suffix: str = ""):
    """phase_grid: (Figure, source tables) from every logged run's logs and best.json."""
    runs, sources, logged = {}, [], logged_runs()
    for run in logged[:MAX_GRID_RUNS]:
        logs = load_logs(log_file(run))
        best = read_best(run)
        runs[run] = (logs, detect_transition(logs) if "format_reward" in logs else None, best and best["step"])
        sources += [log_file(run)] + ([env.results_dir("03_evaluate", run) / "best.json"] if best else [])
    return phase_grid(runs, len(logged)), sources


REGISTRY = {
    "training_curves_seeds_": ("02", find_recipes, build_curves),
    "phase_grid": ("05", find_phase_grid, build_phase_grid),
}
