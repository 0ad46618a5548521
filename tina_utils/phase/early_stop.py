"""Stop at the phase transition: what stopping saved and scored, on our runs and projected for Tina's.

A run trained with `transition_mode: observe` (or `stop`) leaves `transition.json` in its run dir
(`tina_utils.transition.online.TransitionCallback`); with its checkpoint sweep (`tina_utils.evaluate.sweep`) this
module answers "what would stopping there have cost and scored", and compares a real early-stopped run with
the unstopped run of the same seed. Used in: notebooks 04 (cost table) and 05 (the stop itself).
"""

import json
import math
from pathlib import Path

import pandas as pd

from tina_utils import cost, env, runs
from tina_utils import evaluate as ev
from tina_utils.evaluate import base_model_of
from tina_utils.evaluate.selection import checkpoint_means
from tina_utils.paper import load_reference
from tina_utils.transition.detect import detect_transition
from tina_utils.transition.logs import load_logs

NOISE_Z = 2.0  # "within the noise": |score difference| <= NOISE_Z x its standard error (about a 95 % band)


def read_transition(run) -> dict | None:
    """The run's transition.json (None when the callback never ran in it)."""
    path = runs.run_dir(run) / "transition.json"
    return json.loads(path.read_text()) if path.exists() else None


def stop_step(record: dict | None) -> int | None:
    """Where training stops (mode stop) or would have stopped (observe): confirmation + patience."""
    if not record or record.get("detected_at") is None:
        return None
    return record["stop_at"] if record.get("stop_at") is not None else record["detected_at"] + record["patience"]


def training_seconds(run) -> pd.Series:
    """Cumulative training seconds by step, from log.csv's per-step time."""
    logs = pd.read_csv(runs.run_dir(run) / "log.csv")
    return logs.set_index("step")["step_time"].cumsum()


def saving(run) -> dict:
    """Steps and training seconds a stop at the transition saves (or saved) against the run's full schedule."""
    path = runs.run_dir(run)
    record = read_transition(path)
    recipe = _recipe(path)
    planned = recipe.get("stop_at_step") or recipe["max_steps"]
    seconds = training_seconds(path)
    stop = stop_step(record)
    out = {"run_id": path.name, "mode": (record or {}).get("mode", "off"), "planned_steps": planned,
           "trained_steps": int(seconds.index.max()), "seconds_trained": float(seconds.iloc[-1]), "stop_step": stop,
           "kept_checkpoint": (record or {}).get("kept_checkpoint")}
    if stop is None:
        return {**out, "steps_saved": 0, "fraction_saved": 0.0, "seconds_to_stop": math.nan, "seconds_saved": math.nan}
    per_step = seconds.iloc[-1] / len(seconds)  # steps not trained (a stopped run) cost the run's mean step time
    full = seconds.iloc[-1] + per_step * (planned - out["trained_steps"])
    to_stop = float(seconds.loc[:stop].iloc[-1])
    return {**out, "steps_saved": planned - stop, "fraction_saved": (planned - stop) / planned,
            "seconds_to_stop": to_stop, "seconds_saved": full - to_stop}


def _recipe(path: Path) -> dict:
    import yaml

    return yaml.safe_load((path / "recipe.yaml").read_text())


def saving_table(checkpoints: pd.DataFrame | None = None, run_ids=None) -> pd.DataFrame:
    """saving() of every run in results/runs.csv that has a transition.json, priced like its training; with
    `checkpoints` (cost.checkpoint_costs) also the kept checkpoint's score next to the run's best."""
    rows = []
    for run in cost.load_runs().itertuples():
        if (run_ids is not None and run.run_id not in run_ids) or read_transition(run.run_id) is None:
            continue
        row = saving(run.run_id)
        hours_saved = row["seconds_saved"] * run.gpu_hours / row["seconds_trained"]
        row.update(unit=cost.unit(run.gpu_type), device_hours=run.gpu_hours, device_hours_saved=hours_saved,
                   usd_saved=cost.cost(hours_saved, run.gpu_type))
        if checkpoints is not None:
            scored = checkpoints[checkpoints["run_id"] == run.run_id].dropna(subset=["score"])
            best = cost.reported_checkpoint(run.run_id, scored)
            row.update(kept_score=scored.set_index("checkpoint")["score"].get(row["kept_checkpoint"], math.nan),
                       best_checkpoint=None if best is None else best["checkpoint"],
                       best_score=math.nan if best is None else best["score"])
        rows.append(row)
    return pd.DataFrame(rows)


def evaluate_checkpoints(run, checkpoints=None, preset="tiny", cache_path=None, **preset_overrides) -> pd.DataFrame:
    """Scores (the sweep's scores.csv columns) of `checkpoints` of `run` (default: every complete one, base excluded).

    The default cache is shared by all runs, so a stopped run's checkpoints that are bit-identical to the
    unstopped run's (same seed, same steps) are not generated twice.
    """
    path = runs.run_dir(run)
    found = runs.find_checkpoints(path)
    missing = sorted(set(checkpoints or ()) - set(found))
    if missing:
        raise ValueError(f"{path.name} has no complete {missing}; it has {sorted(found, key=runs.step_of)}")
    preset = ev.get_preset(preset, **{k: v for k, v in preset_overrides.items() if v is not None})
    chosen = {name: found[name] for name in (checkpoints or found)}
    samples = ev.evaluate(base_model_of(path, found), None, preset, "auto", chosen,
                          cache_path=cache_path or env.results_dir("05_phase") / "early_stop_generations.jsonl")
    scores = ev.summarize(samples, preset.pass_ks)
    scores.insert(0, "run_id", path.name)
    scores.insert(2, "step", scores["checkpoint"].map(runs.step_of))
    return scores


def scores_by_checkpoint(scores: pd.DataFrame, metric: str = "pass@1") -> pd.DataFrame:
    """Mean score and standard error over benchmarks per checkpoint (base excluded), by step."""
    return checkpoint_means(scores, metric)[["step", "score", "stderr"]]


def compare(full_run, stopped_run, full_scores: pd.DataFrame, stopped_scores: pd.DataFrame) -> dict:
    """The acceptance quantities: where the stop fell against the unstopped run's transition, and how the kept
    checkpoint scores against the unstopped run's best (difference, its standard error, within the noise)."""
    full, stopped = runs.run_dir(full_run), runs.run_dir(stopped_run)
    record = read_transition(stopped)
    if not record or record.get("stop_at") is None:
        raise ValueError(f"{stopped.name} did not stop at a transition (transition.json: {record}); "
                         "train it with transition_mode: stop")
    offline = detect_transition(load_logs(full))
    full_table, stopped_table = scores_by_checkpoint(full_scores), scores_by_checkpoint(stopped_scores)
    best = full_table["score"].idxmax()
    kept = record["kept_checkpoint"]
    if kept not in stopped_table.index:
        raise ValueError(f"the kept checkpoint {kept} of {stopped.name} has no score; evaluate the stopped run first")
    diff = float(stopped_table.loc[kept, "score"] - full_table.loc[best, "score"])
    se = math.hypot(stopped_table.loc[kept, "stderr"], full_table.loc[best, "stderr"])
    full_saving, stop_saving = saving(full), saving(stopped)
    return {"full_run": full.name, "stopped_run": stopped.name,
            "full_transition_step": offline.step if offline else None,
            "full_transition_interval": [offline.lo, offline.hi] if offline else None,
            "detected_step": record["transition"]["step"], "confirmed_at": record["detected_at"],
            "stopped_at": stop_saving["trained_steps"],
            "stop_minus_transition": stop_saving["trained_steps"] - offline.step if offline else None,
            "kept_checkpoint": kept, "kept_score": float(stopped_table.loc[kept, "score"]),
            "kept_stderr": float(stopped_table.loc[kept, "stderr"]), "best_checkpoint": best,
            "best_score": float(full_table.loc[best, "score"]), "best_stderr": float(full_table.loc[best, "stderr"]),
            "score_diff": diff, "diff_stderr": float(se), "within_noise": bool(abs(diff) <= NOISE_Z * se),
            "planned_steps": stop_saving["planned_steps"], "steps_saved": stop_saving["steps_saved"],
            "cpu_seconds_full": full_saving["seconds_trained"], "cpu_seconds_stopped": stop_saving["seconds_trained"],
            "observed_stop_in_full_run": full_saving["stop_step"]}


def paper_projection(lag_steps: int = 10) -> pd.DataFrame:
    """Tina's runs had they stopped at the transition: PROJECTED, assuming (paper §5) the transition sits at the
    best checkpoint and is confirmed `lag_steps` later; every checkpoint up to the stop is still evaluated."""
    costs, models = load_reference("costs"), load_reference("tina_models")
    rows = []
    for model in models.dropna(subset=["best_step", "stop_step"]).itertuples():
        task = costs[(costs["kind"] == "task") & costs["task"].map(model.model.startswith)]
        if task.empty:
            continue
        task = task.iloc[0]
        stop = min(model.best_step + lag_steps, model.stop_step)
        share = stop / model.stop_step
        rows.append({"task": task["task"], "best_step": int(model.best_step), "trained_steps": int(model.stop_step),
                     "projected_stop": int(stop), "train_usd": task["train_usd"], "eval_usd": task["eval_usd"],
                     "stopped_usd": (task["train_usd"] + task["eval_usd"]) * share,
                     "saved_usd": (task["train_usd"] + task["eval_usd"]) * (1 - share), "fraction_saved": 1 - share})
    return pd.DataFrame(rows)
