"""Phase-transition figures (notebooks 02, 04, 05), drawn from saved logs and tables: the paper-style panel of a
run or of synthetic logs, an early stop against the unstopped run, and the projected saving for Tina's runs.
"""

import json

import numpy as np
import pandas as pd

from tina_utils import env
from tina_utils import runs as run_files
from tina_utils.plots import style
from tina_utils.plots.style import BASE, COLUMN, FULL, GREEN, OURS, TINA

LABELS = {"format_reward": "format reward", "completion_length": "completion length (tokens)",
          "accuracy_reward": "accuracy reward"}
SYNTHETIC = "synthetic_logs.csv"


def _bands(ax, transitions: dict, metric: str) -> None:
    """The format transition's band on every panel, the metric's own (when another) in green."""
    own = transitions.get(metric) if metric != "format_reward" else None
    for t, colour in ((transitions.get("format_reward"), TINA), (own, GREEN)):
        if t is not None:
            ax.axvspan(t.lo - 0.5, t.hi + 0.5, color=colour, alpha=0.15, lw=0)
            ax.axvline(t.step, color=colour, lw=1.2, label=f"{LABELS.get(t.metric, t.metric)} transition")


@style.styled
def panel(logs: pd.DataFrame, transition=None, best_step: int | None = None, title: str = ""):
    """Paper-style panel: format reward, completion length, accuracy vs step; transition bands; best checkpoint.

    `transition`: a Transition (its band on every panel) or {metric: Transition | None} (each its own)."""
    from tina_utils.transition.logs import METRICS

    transitions = transition if isinstance(transition, dict) else {"format_reward": transition}
    metrics = [m for m in METRICS if m in logs]
    fig = style.figure(FULL, 2.4)
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, m in zip(axes, metrics):
        sub = logs[["step", m]].dropna()
        window = max(1, len(sub) // 25)
        ax.plot(sub["step"], sub[m], color=BASE, lw=0.6, ls="-", label="logged")
        ax.plot(sub["step"], sub[m].rolling(window, center=True, min_periods=1).mean(), color=OURS, lw=1.5, ls="-",
                label=f"mean of {window} steps")
        _bands(ax, transitions, m)
        if best_step is not None:
            ax.axvline(best_step, color="k", ls="--", label="chosen checkpoint")
        ax.set(ylabel=LABELS[m], xlabel="training step")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
    if title:
        fig.suptitle(title)
    return fig


def phase_panel(run_id: str):
    """Notebook 05: a run's panel with every metric's transition and the checkpoint its sweep chose."""
    from tina_utils.evaluate.selection import read_best
    from tina_utils.transition.detect import detect_all
    from tina_utils.transition.logs import load_logs

    path = run_files.log_file(run_id)
    logs = load_logs(path)
    chosen = (read_best(run_id) or {}).get("step")
    sources = [path] + ([env.results_dir("03_evaluate", run_id) / "best.json"] if chosen is not None else [])
    return panel(logs, detect_all(logs), best_step=chosen, title=run_id), sources


def find_synthetic() -> list[str]:
    """[""] once notebook 05 saved synthetic logs."""
    return [""] if (env.results_dir("05_phase") / SYNTHETIC).exists() else []


def synthetic_phase():
    """Notebook 05: the panel of synthetic logs with a known transition step."""
    from tina_utils.transition.detect import detect_all

    path = env.results_dir("05_phase") / SYNTHETIC
    logs = pd.read_csv(path)
    true = int(logs.pop("true_step").iloc[0])
    return panel(logs, detect_all(logs), title=f"synthetic logs, true transition at step {true}"), [path]


STOP_SCORES = "{}_stop_scores.csv"


def find_stops() -> list[str]:
    """Early-stopped runs compared with their unstopped run (05_phase/<stopped>_stop_scores.csv)."""
    return [p.name.removesuffix("_stop_scores.csv") for p in sorted(env.results_dir("05_phase").glob(
        STOP_SCORES.format("*")))]


@style.styled
def stop(stopped: str):
    """Notebook 05: format reward of both runs with the stop, and both runs' checkpoint scores (± 1.96 s.e.)."""
    from tina_utils.evaluate.selection import checkpoint_means
    from tina_utils.transition.logs import load_logs

    path = env.results_dir("05_phase") / STOP_SCORES.format(stopped)
    table = pd.read_csv(path)
    full = table.loc[table.role == "unstopped", "run"].iloc[0]
    logs = {role: run_files.log_file(run) for role, run in (("unstopped", full), ("stopped", stopped))}
    record_path = run_files.run_dir(stopped) / "transition.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    fig = style.figure(FULL, 3.0)
    left, right = fig.subplots(1, 2)
    for (role, log), colour in zip(logs.items(), (BASE, OURS)):
        frame = load_logs(log)
        left.plot(frame["step"], frame["format_reward"], color=colour, label=f"{role} run")
        chosen = checkpoint_means(table[table.role == role])
        right.errorbar(chosen["step"], chosen["score"], yerr=1.96 * chosen["stderr"], color=colour, marker="o",
                       capsize=2, label=f"{role} run (95 % interval)")
    for ax in (left, right):
        if record.get("transition"):
            ax.axvline(record["transition"]["step"], color=TINA, label="detected transition")
        if record.get("stop_at") is not None:
            ax.axvline(record["stop_at"], color="k", ls="--", label="stop")
    left.set(ylabel="format reward", xlabel="training step")
    right.set(ylabel="held-out pass@1 (%)", xlabel="training step")
    handles = dict(zip(*reversed(right.get_legend_handles_labels())))  # label -> handle, the markers' version
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=2)
    return fig, [path, *logs.values(), *([record_path] if record else [])]


def find_projection() -> list[str]:
    """[""] once notebook 04 saved the early-stop projection for Tina's runs."""
    return [""] if (env.results_dir("04_cost") / "early_stop_paper_projection.csv").exists() else []


@style.styled
def projection(table: pd.DataFrame | None = None):
    """Notebook 04: Tina's train + eval cost per run as trained vs stopped at the transition (projected)."""
    path = env.results_dir("04_cost") / "early_stop_paper_projection.csv"
    table = pd.read_csv(path) if table is None else table
    fig = style.figure(COLUMN, 3.0)
    ax = fig.subplots()
    y = np.arange(len(table))[::-1]
    ax.barh(y + 0.2, table["train_usd"] + table["eval_usd"], 0.4, color=BASE, label="as trained (paper)")
    ax.barh(y - 0.2, table["stopped_usd"], 0.4, color=OURS, hatch="//", label="stopped at the transition")
    for yi, row in zip(y, table.itertuples()):
        ax.text(row.stopped_usd, yi - 0.2, f" −{row.fraction_saved:.0%}", va="center")
    ax.set_yticks(y, [t.replace("Tina-", "") for t in table["task"]])
    ax.set(xlabel="train + eval (USD)", title="Stopping at the transition (projected)")
    ax.margins(x=0.15)
    fig.legend(loc="outside lower center", ncols=1)
    return fig, [path]
