"""Training's bookkeeping inside a run directory: log.csv without gaps or duplicates, run.json, runs.csv.

Checkpoint names, completeness and the run-id rule live in `tina_utils.runs`. Used in: runner.py.
"""

import json
import os
from pathlib import Path

import pandas as pd
from transformers import TrainerCallback

RUNS_COLUMNS = ["run_id", "recipe", "seed", "hardware", "gpu_type", "n_gpus", "wall_clock_s", "gpu_hours",
                "steps", "checkpoints", "started_at", "git_sha", "status"]
SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos"}


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write atomically so a kill never leaves a truncated CSV."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


class LogCsvCallback(TrainerCallback):
    """Append every logged training step to log.csv; on resume, drop rows after the resumed checkpoint."""

    def __init__(self, path: Path, keep_until: int = 0):
        self.path = Path(path)
        old = pd.read_csv(self.path) if self.path.exists() and self.path.stat().st_size else pd.DataFrame()
        # Steps after the checkpoint are re-trained (with new samples), so their old rows go.
        self.rows = old[old["step"] <= keep_until].to_dict("records") if len(old) else []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or SUMMARY_KEYS & set(logs):
            return control
        step = state.global_step
        self.rows = [row for row in self.rows if row["step"] != step] + [{"step": step, **logs}]
        _write_csv(pd.DataFrame(self.rows), self.path)
        return control


def read_run_state(run_dir: Path) -> dict | None:
    """run.json (started_at, cumulative wall_clock_s, steps, status), or None."""
    path = Path(run_dir) / "run.json"
    return json.loads(path.read_text()) if path.exists() else None


def write_run_state(run_dir: Path, state: dict) -> None:
    """Persist run.json."""
    (Path(run_dir) / "run.json").write_text(json.dumps(state, indent=2))


def upsert_run(path: Path, row: dict) -> pd.DataFrame:
    """Insert or replace the runs.csv row with this run_id."""
    old = pd.read_csv(path, dtype={"run_id": str}) if path.exists() and path.stat().st_size else pd.DataFrame()
    new = pd.DataFrame([row])
    df = pd.concat([old[old["run_id"] != row["run_id"]], new], ignore_index=True) if len(old) else new
    df = df[RUNS_COLUMNS + [c for c in df.columns if c not in RUNS_COLUMNS]]
    _write_csv(df, path)
    return df
