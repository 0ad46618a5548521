"""Notebook 05's online stop in numbers: replay a run's log through the callback, find the early-stopped run,
compare it with the unstopped one; each result is data, and a small function formats the text the notebook prints.
"""

import contextlib
import io
import json
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import pandas as pd
from transformers import TrainerControl, TrainerState

from tina_utils import runs
from tina_utils.phase.early_stop import NOISE_Z, compare, evaluate_checkpoints, read_transition
from tina_utils.transition.online import TransitionCallback

RECORD_KEYS = ("mode", "transition", "detected_at", "stop_at", "kept_checkpoint")


class StopComparison(NamedTuple):
    """compare_stop's result: the comparison dict and both runs' scores (all None: nothing to compare)."""

    comparison: dict | None
    full_scores: pd.DataFrame | None
    stopped_scores: pd.DataFrame | None


def replay_stop(logs: pd.DataFrame, run_dir, output_dir, min_steps: int = 10, confirm_steps: int = 5) -> dict:
    """Feed a run's logged rows to a stop-mode TransitionCallback: where it would have stopped and what it kept.

    Its transition.json goes to `output_dir`, never into the run dir (that would overwrite the run's own record).
    """
    callback = TransitionCallback("stop", min_steps=min_steps, confirm_steps=confirm_steps, output_dir=str(output_dir))
    args, state, stopped_at = SimpleNamespace(output_dir=str(run_dir)), TrainerState(), None
    for row in logs.to_dict("records"):
        state.global_step, control = int(row["step"]), TrainerControl()
        callback.on_log(args, state, control, logs=row)
        if control.should_training_stop:
            stopped_at = state.global_step
            break
    last = int(logs["step"].max())
    return {"transition_step": callback.transition.step if callback.transition else None,
            "stopped_at": stopped_at, "last_step": last, "steps_saved": 0 if stopped_at is None else last - stopped_at,
            "kept_checkpoint": callback.kept_checkpoint}


def format_replay(replay: dict, best_step: int | None = None) -> str:
    """The replay in words (and the best checkpoint's step, when known)."""
    last, stopped = replay["last_step"], replay["stopped_at"]
    if stopped is None:
        return f"no confirmed transition: the run would train all {last} steps"
    text = (f"transition at step {replay['transition_step']}, confirmed and stopped at step {stopped} of {last}: "
            f"{replay['steps_saved']} steps ({replay['steps_saved'] / last:.0%}) saved; "
            f"checkpoint kept: {replay['kept_checkpoint']}")
    return text if best_step is None else f"{text}\nbest checkpoint: step {best_step}"


def find_stopped_run(stopped_run=None, profile: str = "tiny", seed: int = 0) -> Path | None:
    """The run dir of `stopped_run`; else, on the tiny profile, the tiny_early_stop run (trained quietly if missing)."""
    if stopped_run is not None:
        return runs.run_dir(stopped_run)
    if profile != "tiny":
        return None
    from tina_utils.train import ensure_tiny_run

    quiet = io.StringIO()  # training progress stays out of the notebook
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        return ensure_tiny_run("tiny_early_stop", seed=seed)


def stop_record(stopped_dir) -> dict | None:
    """The fields of the stopped run's transition.json that notebook 05 shows (None: no run or no record)."""
    record = read_transition(stopped_dir) if stopped_dir is not None else None
    return None if record is None else {key: record.get(key) for key in RECORD_KEYS}


def format_record(record: dict | None) -> str:
    """The stopped run's record as indented JSON, or what to set when there is none."""
    if record is None:
        return "no early-stopped run to compare: set stopped_run to the run_id of a transition_mode 'stop' run"
    return json.dumps(record, indent=1)


def compare_stop(full_dir, stopped_dir, preset: str = "tiny", n_problems: int | None = None,
                 out=None) -> StopComparison:
    """Score the unstopped run's checkpoints and the stopped run's kept one, then `early_stop.compare` them
    (written to `out/<stopped>_vs_<full>.json`); all None when there is no stopped run or it did not stop."""
    record = read_transition(stopped_dir) if stopped_dir is not None else None
    if not record or record.get("stop_at") is None:
        return StopComparison(None, None, None)
    with contextlib.redirect_stderr(io.StringIO()):  # model-loading progress bars
        full_scores = evaluate_checkpoints(full_dir, preset=preset, n_problems=n_problems)
        stopped_scores = evaluate_checkpoints(stopped_dir, [record["kept_checkpoint"]], preset=preset,
                                              n_problems=n_problems)
    comparison = compare(full_dir, stopped_dir, full_scores, stopped_scores)
    if out is not None:
        path = Path(out) / f"{Path(stopped_dir).name}_vs_{Path(full_dir).name}.json"
        path.write_text(json.dumps(comparison, indent=1, default=str))
    return StopComparison(comparison, full_scores, stopped_scores)


def kept_before_transition(comparison: dict) -> bool:
    """The tiny profile's claim: the stop saved steps and kept a checkpoint at or before the detected step."""
    return comparison["steps_saved"] > 0 and runs.step_of(comparison["kept_checkpoint"]) <= comparison["detected_step"]


def format_comparison(comparison: dict | None, stopped_dir=None) -> str:
    """The comparison in four lines, or why there is none."""
    if comparison is None:
        if stopped_dir is None:
            return "no early-stopped run: nothing to compare"
        return (f"{Path(stopped_dir).name}: the online detector confirmed no transition, so the run trained to the "
                "end (the unstopped run, step for step): nothing to compare")
    c = comparison
    gap = c["stop_minus_transition"]
    gap = "no offline transition in the unstopped run" if gap is None else f"{gap:+d} steps from its transition"
    verdict = "within" if c["within_noise"] else "OUTSIDE"
    less = 1 - c["cpu_seconds_stopped"] / c["cpu_seconds_full"]
    return "\n".join([
        f"unstopped run: transition at step {c['full_transition_step']} (interval {c['full_transition_interval']}), "
        f"best {c['best_checkpoint']} = {c['best_score']:.1f} ± {c['best_stderr']:.1f}",
        f"stopped run:   detected step {c['detected_step']}, confirmed and stopped at {c['stopped_at']} ({gap})",
        f"kept {c['kept_checkpoint']} = {c['kept_score']:.1f} ± {c['kept_stderr']:.1f}: difference "
        f"{c['score_diff']:+.1f} ± {c['diff_stderr']:.1f} -> {verdict} the noise ({NOISE_Z:g} SE)",
        f"saved {c['steps_saved']} of {c['planned_steps']} steps; training time {c['cpu_seconds_stopped']:.0f} s "
        f"instead of {c['cpu_seconds_full']:.0f} s ({less:.0%} less)"])
