"""The run directory, the contract between notebooks 02 -> 03 -> 04 -> 05: where a run lives and its checkpoints.

`results/02_train/<run_id>/` holds `checkpoint-N/` directories; one counts only when `checkpoint-N/.complete`
exists (written after the Trainer finished saving it) and its adapter and trainer state are there, so a run killed
mid-save resumes from the previous one and evaluation never reads a half-written adapter.
Used in: training (runner, runlog), evaluation (checkpoint sweep, CLI), cost accounting, phase analysis, claims.
"""

import json
import logging
import os
import re
import shutil
from pathlib import Path

from tina_utils import env

log = logging.getLogger(__name__)

TRAIN_STAGE = "02_train"
MARKER = ".complete"
CHECKPOINT_NAME = re.compile(r"checkpoint-(\d+)")
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")
RUNS_COLUMNS = ["run_id", "recipe", "seed", "hardware", "gpu_type", "n_gpus", "wall_clock_s", "gpu_hours",
                "steps", "checkpoints", "started_at", "git_sha", "status"]


def run_dir(run) -> Path:
    """A run directory as given, or the run id's directory under results/02_train (not created)."""
    path = Path(run).expanduser()
    if path.exists() or len(path.parts) > 1:
        return path
    return env.results_dir() / TRAIN_STAGE / str(run)


def new_run_dir(run_id: str) -> Path:
    """results/02_train/<run_id>, created: where training writes a run."""
    return env.results_dir(TRAIN_STAGE, run_id)


def is_run_dir(path: Path) -> bool:
    """True for a directory that holds a training run (its recipe or a checkpoint)."""
    return path.is_dir() and ((path / "recipe.yaml").exists() or bool(checkpoint_dirs(path)))


def checkpoint_name(step: int) -> str:
    """'checkpoint-<step>', the Trainer's directory name."""
    return f"checkpoint-{int(step)}"


def step_of(name) -> int:
    """'checkpoint-450' -> 450, 'base' -> 0; anything else is an error naming the contract."""
    found = re.fullmatch(r"base|checkpoint-(\d+)", str(name))
    if not found:
        raise ValueError(f"checkpoint name {name!r}: expected 'base' or 'checkpoint-<step>' (docs/contracts.md)")
    return int(found.group(1) or 0)


def checkpoint_dirs(run) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint-N directory of a run, complete or not, sorted by step."""
    found = [(int(m.group(1)), p) for p in Path(run).glob("checkpoint-*")
             if p.is_dir() and (m := CHECKPOINT_NAME.fullmatch(p.name))]
    return sorted(found)


def has_weights(checkpoint: Path) -> bool:
    """True when the LoRA adapter's weights file is in `checkpoint`."""
    return any((checkpoint / name).exists() for name in ADAPTER_FILES)


def has_adapter(checkpoint: Path) -> bool:
    """True when the LoRA adapter's config and weights are in `checkpoint`."""
    return has_weights(checkpoint) and (checkpoint / "adapter_config.json").exists()


def is_complete(checkpoint: Path) -> bool:
    """Marker, trainer state and adapter weights all present."""
    return (checkpoint / MARKER).exists() and (checkpoint / "trainer_state.json").exists() and has_weights(checkpoint)


def mark_complete(checkpoint: Path, world_size: int = 1) -> None:
    """Write the marker that makes `checkpoint` usable for resuming and evaluation (what it saw, for audits)."""
    if checkpoint.is_dir():
        files = sorted(p.name for p in checkpoint.iterdir() if p.name != MARKER)
        (checkpoint / MARKER).write_text(json.dumps({"world_size": world_size, "pid": os.getpid(), "files": files}))


def complete_checkpoints(run) -> list[tuple[int, Path]]:
    """(step, path) of the complete checkpoints, by step."""
    return [(step, path) for step, path in checkpoint_dirs(run) if is_complete(path)]


def checkpoint_steps(run) -> list[int]:
    """Steps of the complete checkpoints of a run."""
    return [step for step, _ in complete_checkpoints(run)]


def last_complete_checkpoint(run) -> tuple[int, Path] | None:
    """(step, path) of the newest complete checkpoint, or None."""
    complete = complete_checkpoints(run)
    return complete[-1] if complete else None


def latest_trainer_state(run) -> Path | None:
    """trainer_state.json of the newest checkpoint that has one, or None."""
    states = [path / "trainer_state.json" for _, path in checkpoint_dirs(run)]
    found = [state for state in states if state.exists()]
    return found[-1] if found else None


def log_file(run) -> Path | None:
    """The file load_logs reads for a run (log.csv, else trainer_state.json, else the latest checkpoint's), or None."""
    folder = run_dir(run)
    found = [p for p in (folder / "log.csv", folder / "trainer_state.json") if p.exists()]
    return found[0] if found else latest_trainer_state(folder) if folder.is_dir() else None


def logged_runs() -> list[str]:
    """Run ids under results/02_train with training logs, sorted."""
    return sorted(p.name for p in env.results_dir(TRAIN_STAGE).iterdir() if p.is_dir() and log_file(p))


def remove_incomplete_checkpoints(run) -> list[str]:
    """Delete half-written checkpoint dirs (a killed save) so nothing downstream reads them."""
    removed = []
    for _, path in checkpoint_dirs(run):
        if not is_complete(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    if removed:
        log.warning("removed incomplete checkpoints: %s", ", ".join(removed))
    return removed


def find_checkpoints(run) -> dict[str, Path]:
    """{"checkpoint-N": path} of the checkpoints evaluation can use, by step.

    A run written by this repository's training counts its marked checkpoints; a directory of adapters from
    elsewhere (no marker anywhere) counts every checkpoint with an adapter.
    """
    path = run_dir(run)
    if not path.is_dir():
        raise FileNotFoundError(f"run directory {path} does not exist; pass a results/02_train/<run_id> dir")
    found = checkpoint_dirs(path)
    marked = any((p / MARKER).exists() for _, p in found)
    usable = [p for _, p in found if (is_complete(p) if marked else has_adapter(p))]
    skipped = sorted({p.name for _, p in found} - {p.name for p in usable}, key=step_of)
    if skipped:
        print(f"skipping incomplete checkpoints: {', '.join(skipped)}")
    return {p.name: p for p in usable}


def runs_csv() -> Path:
    """results/runs.csv: one row per training run."""
    return env.results_dir() / "runs.csv"


def write_csv(df, path: Path) -> None:
    """Write a DataFrame atomically, so a kill never leaves a truncated CSV."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def upsert_run(path: Path, row: dict):
    """Insert or replace the runs.csv row with this run_id, under a lock (a study's points train at once)."""
    from filelock import FileLock

    path = Path(path)
    with FileLock(str(path.with_name(f".{path.name}.lock"))):
        return _upsert(path, row)


def _upsert(path: Path, row: dict):
    """Read runs.csv, replace or add the row, write it back; returns the table."""
    import pandas as pd

    old = pd.read_csv(path, dtype={"run_id": str}) if path.exists() and path.stat().st_size else pd.DataFrame()
    new = pd.DataFrame([row])
    df = pd.concat([old[old["run_id"] != row["run_id"]], new], ignore_index=True) if len(old) else new
    df = df[RUNS_COLUMNS + [c for c in df.columns if c not in RUNS_COLUMNS]]
    write_csv(df, path)
    return df
