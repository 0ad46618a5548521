"""The tables notebooks save for their figures, each saved and then drawn through the registry (PNG path back)."""

import pandas as pd

from tina_utils import env
from tina_utils.plots import registry
from tina_utils.plots.phase import STOP_SCORES, SYNTHETIC
from tina_utils.plots.runs import PROMPT_LENGTHS


def write_prompt_lengths(lengths, dataset: str, budget: int):
    """Save a dataset's prompt lengths (01_data/<dataset>_prompt_lengths.csv) and draw their figure; its PNG path."""
    path = env.results_dir("01_data") / PROMPT_LENGTHS.format(dataset)
    pd.DataFrame({"prompt_tokens": list(lengths), "budget": budget}).to_csv(path, index=False, lineterminator="\n")
    return registry.draw(f"01_prompt_lengths_{dataset}")


def write_synthetic(logs: pd.DataFrame, true_step: int):
    """Save synthetic logs (05_phase/synthetic_logs.csv, with their true step) and draw their panel; its PNG."""
    logs.assign(true_step=true_step).to_csv(env.results_dir("05_phase") / SYNTHETIC, index=False,
                                            lineterminator="\n")
    return registry.draw("phase_synthetic")


def write_stop_scores(stopped: str, full: str, full_scores: pd.DataFrame, stopped_scores: pd.DataFrame):
    """Save both runs' checkpoint scores (05_phase/<stopped>_stop_scores.csv) and draw the stop; its PNG path."""
    table = pd.concat([full_scores.assign(run=full, role="unstopped"),
                       stopped_scores.assign(run=stopped, role="stopped")])
    table.to_csv(env.results_dir("05_phase") / STOP_SCORES.format(stopped), index=False, lineterminator="\n")
    return registry.draw(f"phase_stop_{stopped}")
