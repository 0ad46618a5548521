"""Notebook 05's opening and closing: the paper's best checkpoints in steps and shares of an epoch, then this run's
transition and reported checkpoint in the same units, judged against the paper's claim, and what the stop saved.

The paper's rows come from results/reference/tina_models.csv; its steps per epoch = prompts / prompts per step of
the committed recipe (8 in every Tina recipe).
"""

import pandas as pd
from scipy import stats as sps

from tina_utils import paper
from tina_utils.evaluate.stats import CONFIDENCE
from tina_utils.train.config import load_recipe


def paper_best_steps() -> pd.DataFrame:
    """Per Tina model: steps per epoch, the best checkpoint's step and share of an epoch, where training stopped."""
    models = paper.load_reference("tina_models").dropna(subset=["best_step"])
    per_step = models["recipe"].map(lambda name: load_recipe(name).prompts_per_step)
    epoch = models["dataset_size_k"] * 1000 / per_step
    return pd.DataFrame({"model": models["model"], "prompts": (models["dataset_size_k"] * 1000).astype(int),
                         "steps per epoch": epoch.round().astype(int), "best step": models["best_step"],
                         "best, % of epoch (paper)": models["pct_epoch"],
                         "stopped at step": models["stop_step"]}).set_index("model")


def _pct(step, epoch) -> str:
    return f"{100 * step / epoch:.1f} % of an epoch" if epoch else "no epoch size given"


def relation_lines(relation: dict | None, steps_per_epoch: float | None) -> list[str]:
    """The transition and the reported checkpoint in steps and epoch shares, and the paper's claim judged."""
    if not relation:
        return ["No checkpoint sweep of this run yet (notebook 03): its best checkpoint cannot be placed."]
    best, step = relation["best_step"], relation.get("transition_step")
    if step is None:
        return [f"Reported checkpoint at step {best} ({_pct(best, steps_per_epoch)}); no format transition "
                "detected, so the paper's claim cannot be checked on this run."]
    open_rs2 = paper_best_steps().loc["Tina-Open-RS2"]
    claim = "yes" if relation["claim_holds"] else "no"
    return [f"Format transition at step {step} (interval {relation['transition_lo']}-{relation['transition_hi']}, "
            f"{_pct(step, steps_per_epoch)}); reported checkpoint at step {best} ({_pct(best, steps_per_epoch)}).",
            f"Transition before the reported checkpoint: {'yes' if step < best else 'no'} "
            f"({best - step:+d} steps; score {relation['best_score']:.1f} there vs "
            f"{relation['score_at_transition']:.1f} at the last checkpoint up to the transition).",
            f"Paper: the best checkpoint sits just before or at the transition (Tina-Open-RS2's at step "
            f"{open_rs2['best step']}, {open_rs2['best, % of epoch (paper)']} % of an epoch). This run: {claim}."]


def stop_lines(comparison: dict | None) -> list[str]:
    """What the early-stopped run saved and what its kept checkpoint scores against the unstopped run's best."""
    if not comparison:
        return ["No early-stopped run compared: the saving is not measured."]
    c = comparison
    low, high = sps.norm.interval(CONFIDENCE, loc=c["score_diff"], scale=c["diff_stderr"])
    return [f"Early stop: confirmed at step {c['confirmed_at']}, {c['steps_saved']} of {c['planned_steps']} steps "
            f"saved ({c['steps_saved'] / c['planned_steps']:.0%}); training took {c['cpu_seconds_stopped']:.0f} s "
            f"vs {c['cpu_seconds_full']:.0f} s unstopped (wall-clock, so load on the machine moves it).",
            f"Kept {c['kept_checkpoint']} scores {c['kept_score']:.1f} vs the unstopped run's best "
            f"{c['best_checkpoint']} {c['best_score']:.1f}: {c['score_diff']:+.1f} points [{low:+.1f}, {high:+.1f}]; "
            f"within the noise: {'yes' if c['within_noise'] else 'no'}."]


def findings(relation: dict | None, comparison: dict | None, steps_per_epoch: float | None) -> str:
    """Markdown bullets: the relation to the reported checkpoint, then the early stop."""
    return "\n".join(f"- {line}" for line in relation_lines(relation, steps_per_epoch) + stop_lines(comparison))


def tiny_steps_per_epoch(run_dir) -> float | None:
    """Steps per epoch of a run from its recipe.yaml: training rows / prompts per step (None if unknown)."""
    import yaml

    from tina_utils.data import TRAIN_DATASETS
    from tina_utils.data.train_sets import TINY_DEFAULT_N

    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    spec = TRAIN_DATASETS.get(recipe["dataset"], {})
    rows = recipe.get("dataset_n") or spec.get("rows") or (TINY_DEFAULT_N if spec.get("tiny") else None)
    return rows / recipe["prompts_per_step"] if rows else None
