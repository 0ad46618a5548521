"""Run-directory bookkeeping for training: complete checkpoints, log.csv without gaps or duplicates, runs.csv.

A checkpoint counts only when `checkpoint-N/.complete` exists (written after TRL finished saving it) and the
adapter and trainer state are there, so a run killed mid-save resumes from the previous one.
Used in: runner.py (and by evaluation/phase code reading the run dir).
"""

import json
import logging
import os
import re
import shutil
from pathlib import Path

import pandas as pd
from transformers import TrainerCallback

log = logging.getLogger(__name__)

MARKER = ".complete"
RUNS_COLUMNS = ["run_id", "recipe", "seed", "hardware", "gpu_type", "n_gpus", "wall_clock_s", "gpu_hours",
                "steps", "checkpoints", "started_at", "git_sha", "status"]
SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos"}


def _checkpoint_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint-N directory, sorted by step."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*")
             if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))]
    return sorted(found)


def is_complete(checkpoint: Path) -> bool:
    """Marker, trainer state and adapter weights all present."""
    adapter = any((checkpoint / f).exists() for f in ("adapter_model.safetensors", "adapter_model.bin"))
    return (checkpoint / MARKER).exists() and (checkpoint / "trainer_state.json").exists() and adapter


def mark_complete(checkpoint: Path, world_size: int = 1) -> None:
    """Write the marker that makes `checkpoint` usable for resuming and evaluation (what it saw, for audits)."""
    if checkpoint.is_dir():
        files = sorted(p.name for p in checkpoint.iterdir() if p.name != MARKER)
        (checkpoint / MARKER).write_text(json.dumps({"world_size": world_size, "pid": os.getpid(), "files": files}))


def checkpoint_steps(run_dir: Path) -> list[int]:
    """Steps of the complete checkpoints in `run_dir`."""
    return [step for step, path in _checkpoint_dirs(run_dir) if is_complete(path)]


def last_complete_checkpoint(run_dir: Path) -> tuple[int, Path] | None:
    """(step, path) of the newest complete checkpoint, or None."""
    complete = [(step, path) for step, path in _checkpoint_dirs(run_dir) if is_complete(path)]
    return complete[-1] if complete else None


def remove_incomplete_checkpoints(run_dir: Path) -> list[str]:
    """Delete half-written checkpoint dirs (a killed save) so nothing downstream reads them."""
    removed = []
    for _, path in _checkpoint_dirs(run_dir):
        if not is_complete(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    if removed:
        log.warning("removed incomplete checkpoints: %s", ", ".join(removed))
    return removed


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
