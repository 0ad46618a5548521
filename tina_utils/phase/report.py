"""Phase transition vs evaluation: the best checkpoint relative to the transition, and the paper-style panel.

Used in: notebooks/05_phase_transition. The transition comes from `tina_utils.transition.detect_transition`.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from tina_utils import env, plots
from tina_utils.evaluate.selection import checkpoint_means, read_best
from tina_utils.transition.detect import Transition
from tina_utils.transition.logs import METRICS, load_logs


def checkpoint_scores(scores: pd.DataFrame, include_base: bool = False, metric: str = "pass@1") -> pd.Series:
    """A checkpoint's score by step, as the sweep ranks checkpoints (`selection.checkpoint_means`)."""
    table = checkpoint_means(scores, metric, include_base)
    if table.empty:
        raise ValueError(f"no {metric} scores of a checkpoint{'' if include_base else ' (base excluded)'}")
    return table.set_index("step")["score"]


def relate_run(run_id: str, transition, steps_per_epoch: float | None = None, out=None) -> dict | None:
    """relate_to_checkpoints on the run's checkpoint sweep (notebook 03), at the checkpoint that sweep reported;
    written to `out/<run_id>_relation.json`. None when the run was not swept."""
    scores_path = env.results_dir("03_evaluate", run_id) / "scores.csv"
    if not scores_path.exists():
        return None
    reported = read_best(run_id)  # the checkpoint notebook 03 chose, by the rule it records
    relation = relate_to_checkpoints(transition, pd.read_csv(scores_path), steps_per_epoch,
                                     best_step=reported and reported["step"])
    if out is not None:
        pd.Series(relation).to_json(Path(out) / f"{run_id}_relation.json", indent=2)
    return relation


def format_relation(relation: dict | None, run_id: str) -> str:
    """One aligned `key: value` line per field, or why there is no relation."""
    if relation is None:
        return f"no checkpoint sweep yet for {run_id} (run notebook 03): relation skipped"
    return "\n".join(f"{key:>24}: {value}" for key, value in relation.items())

def relate_to_checkpoints(transition, scores_df: pd.DataFrame, steps_per_epoch: float | None = None,
                          tolerance: int | None = None, best_step: int | None = None) -> dict:
    """Best checkpoint (mean score over benchmarks) vs the transition; checks the paper's claim.

    claim_holds: the best checkpoint lies in [lo - tolerance, hi] ("just before or at" the transition);
    tolerance defaults to one checkpoint spacing. distance_steps = best - transition (negative = before).
    best_step: the reported checkpoint's step (best.json's `step`, chosen on validation); default the test best.
    """
    score = checkpoint_scores(scores_df)
    best = int(score.idxmax()) if best_step is None else int(best_step)  # idxmax: the earliest of tied steps
    out = {"best_step": best, "best_score": float(score[best]), "n_checkpoints": len(score)}
    if transition is None:
        return {**out, "transition_step": None, "claim_holds": None}
    t = transition if isinstance(transition, Transition) else None
    step = t.step if t else int(transition)
    lo, hi = (t.lo, t.hi) if t else (step, step)
    if tolerance is None:
        tolerance = int(np.median(np.diff(score.index))) if len(score) > 1 else 0
    before = score[score.index <= hi]
    at = int(before.index.max()) if len(before) else int(score.index.min())
    distance = best - step
    return {**out, "transition_step": step, "transition_lo": lo, "transition_hi": hi,
            "distance_steps": distance,
            "distance_pct_epoch": round(100 * distance / steps_per_epoch, 1) if steps_per_epoch else None,
            "checkpoint_at_transition": at, "score_at_transition": float(score[at]),
            "score_gap": float(score[best] - score[at]), "claim_holds": bool(lo - tolerance <= best <= hi)}


LABELS = {"format_reward": "format reward", "completion_length": "completion length",
          "accuracy_reward": "accuracy reward"}


def plot_phase_panel(logs, transition=None, best_step: int | None = None, name: str | None = None, title: str = ""):
    """Paper-style panel: format reward, completion length, accuracy vs step; transition band; best checkpoint.

    `transition`: a Transition (its band on every panel) or a dict {metric: Transition | None} (each panel
    its own, the format transition's band on all). Saved under results/figures/ when `name` is given.
    """
    df = logs if isinstance(logs, pd.DataFrame) and "step" in logs else load_logs(logs)
    per = transition if isinstance(transition, dict) else {}
    main = per.get("format_reward") if per else transition
    metrics = [m for m in METRICS if m in df]
    fig = plots.figure(3.3 * len(metrics), 2.8)
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, m in zip(axes, metrics):
        sub = df[["step", m]].dropna()
        window = max(1, len(sub) // 25)
        ax.plot(sub["step"], sub[m], color="0.75", lw=0.8, label="logged")
        ax.plot(sub["step"], sub[m].rolling(window, center=True, min_periods=1).mean(), color="C0", lw=1.6,
                label="smoothed")
        for t, colour in ((main, "C3"), (per.get(m) if m != "format_reward" else None, "C2")):
            if t is not None:
                ax.axvspan(t.lo, t.hi, color=colour, alpha=0.15, lw=0)
                ax.axvline(t.step, color=colour, lw=1.2, ls="-", label=f"{LABELS.get(t.metric, t.metric)} transition")
        if best_step is not None:
            ax.axvline(best_step, color="k", ls="--", lw=1.2, label="best checkpoint")
        ax.set(title=LABELS[m], xlabel="step")
    axes[0].legend(fontsize=6, loc="best")
    if title:
        fig.suptitle(title)
    if name:
        plots.save(fig, name)
    return fig
