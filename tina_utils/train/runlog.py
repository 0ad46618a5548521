"""Training's bookkeeping inside a run directory: log.csv without gaps or duplicates, run.json, runs.csv.

Checkpoint names, completeness, the run-id rule and runs.csv's writer live in `tina_utils.runs`. Used in: runner.py.
"""

import json
from pathlib import Path

import pandas as pd
from transformers import TrainerCallback

from tina_utils.runs import RUNS_COLUMNS, upsert_run, write_csv

__all__ = ["RUNS_COLUMNS", "LogCsvCallback", "read_run_state", "upsert_run", "write_run_state"]

SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos"}


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
        write_csv(pd.DataFrame(self.rows), self.path)
        return control


def read_run_state(run_dir: Path) -> dict | None:
    """run.json (started_at, cumulative wall_clock_s, steps, status), or None."""
    path = Path(run_dir) / "run.json"
    return json.loads(path.read_text()) if path.exists() else None


def write_run_state(run_dir: Path, state: dict) -> None:
    """Persist run.json."""
    (Path(run_dir) / "run.json").write_text(json.dumps(state, indent=2))
