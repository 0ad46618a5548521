"""Training logs in one schema for the phase-transition analysis: our log.csv, TRL's trainer_state.json (also
inside checkpoint-N/), and tracker exports with TRL 0.15 or 1.x metric names. Exported by tina_utils.phase.
"""

import json
from pathlib import Path

import pandas as pd

from tina_utils.runs import latest_trainer_state

METRICS = ("format_reward", "completion_length", "accuracy_reward")
KINDS = {"format_reward": "rise", "completion_length": "valley", "accuracy_reward": "any"}
# Canonical name -> names seen in our log.csv / TRL 1.x logs / TRL 0.15 logs (after a "train/" prefix is cut).
ALIASES = {
    "format_reward": ["rewards/format_reward/mean", "rewards/format_reward", "format_reward"],
    "accuracy_reward": ["rewards/accuracy_reward/mean", "rewards/accuracy_reward", "accuracy_reward"],
    "completion_length": ["completions/mean_length", "completion_length"],
    "reward": ["reward"],
    "clipped_ratio": ["completions/clipped_ratio", "clipped_ratio"],
}
STEP_NAMES = ["step", "global_step", "Step", "_step"]


def canonical_name(key: str) -> str | None:
    """The canonical metric name of a logged key (TRL 0.15 or 1.x, wandb `train/` prefix allowed), else None."""
    key = key.split(" - ")[-1]  # wandb panel exports: "<run name> - train/reward"
    key = key[len("train/"):] if key.startswith("train/") else key
    for name, aliases in ALIASES.items():
        if key in aliases:
            return name
    return None


def canonicalize(raw: pd.DataFrame) -> pd.DataFrame:
    """Map logged column names to the canonical schema; sort by step, merge/drop duplicate steps."""
    steps = [c for name in STEP_NAMES for c in raw.columns if c.split(" - ")[-1].replace("train/", "") == name]
    if not steps:
        raise ValueError(f"no step column in logs (want one of {STEP_NAMES}); columns found: {list(raw.columns)}")
    out = pd.DataFrame({"step": pd.to_numeric(raw[steps[0]], errors="coerce")})
    for col in raw.columns:
        name = canonical_name(col)
        if name and name not in out and not col.endswith(("__MIN", "__MAX")):
            out[name] = pd.to_numeric(raw[col], errors="coerce")
    found = [c for c in ALIASES if c in out]
    out = out[["step", *found]]
    if not found:
        raise ValueError(f"no known metric in logs; columns found: {list(raw.columns)}; "
                         f"expected one of: {sorted(a for v in ALIASES.values() for a in v)}")
    out = out.dropna(subset=["step"]).dropna(how="all", subset=found)
    # A step logged twice (resumed run, train+eval rows): first non-null value per column, last row wins ties.
    out = out.groupby("step", as_index=False, sort=True).last()
    out["step"] = out["step"].astype(int)
    return out.reset_index(drop=True)


def _trainer_state(path: Path) -> pd.DataFrame:
    return pd.DataFrame(json.loads(path.read_text())["log_history"])


def load_logs(path) -> pd.DataFrame:
    """Training logs as a DataFrame: step, format_reward, accuracy_reward, completion_length, reward, clipped_ratio
    (those present).

    Accepts a run dir (its `log.csv`, else `trainer_state.json`, else the latest `checkpoint-N/trainer_state.json`),
    a `log.csv`/tracker-export CSV, a `trainer_state.json`, or a DataFrame.
    """
    if isinstance(path, pd.DataFrame):
        return canonicalize(path)
    path = Path(path)
    if path.is_dir():
        candidates = [path / "log.csv", path / "trainer_state.json", latest_trainer_state(path)]
        found = [p for p in candidates if p and p.exists()]
        if not found:
            raise FileNotFoundError(f"{path} has no log.csv, trainer_state.json or checkpoint with a "
                                    f"trainer_state.json")
        path = found[0]
    if not path.exists():
        raise FileNotFoundError(f"no such log file: {path}")
    raw = _trainer_state(path) if path.suffix == ".json" else pd.read_csv(path)
    return canonicalize(raw)
