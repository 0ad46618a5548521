"""Phase transition vs evaluation: the best checkpoint relative to the transition, and the paper-style panel.

Used in: notebooks/05_phase_transition. The transition comes from `tina_utils.transition.detect_transition`.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from tina_utils import env
from tina_utils.evaluate.selection import checkpoint_means, read_best
from tina_utils.transition.detect import Transition


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
