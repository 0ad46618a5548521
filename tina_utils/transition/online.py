"""Streaming phase-transition detection: a TrainerCallback that records, checkpoints and can stop at the transition.

The streaming detector re-runs the offline detector (`detect.detect_series`) on the data logged so far, so
it never looks ahead; a transition is *confirmed* once the metric has held its new level for
`confirm_steps` steps after the detected step. Also: seeded synthetic logs for tests and benchmarks.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from transformers import TrainerCallback

from tina_utils import env
from tina_utils.runs import checkpoint_name, checkpoint_steps
from tina_utils.transition.detect import Transition, detect_series
from tina_utils.transition.logs import canonical_name

MODES = ("off", "observe", "stop")
SYNTHETIC_KINDS = ("step", "ramp", "noisy", "none", "peak")


def synthetic_logs(kind: str = "step", n_steps: int = 200, change: int | None = None, seed: int = 0,
                   noise: float | None = None) -> tuple[pd.DataFrame, int | None]:
    """Seeded fake GRPO logs with a known transition; returns (logs in the canonical schema, true step or None).

    format reward 0.1 -> 0.85 at `change` (step: instant; ramp: linear over n/5 steps centred on `change`;
    noisy: instant, noise 0.15; peak: instant, then drifts down and gets noisier n/5 steps later;
    none: flat 0.5, noise 0.1); completion length falls to its minimum at `change` and rebounds;
    accuracy drifts up smoothly. Default change: drawn in [0.3, 0.7] * n_steps.
    """
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"unknown synthetic kind {kind!r}; use one of {SYNTHETIC_KINDS}")
    rng = np.random.default_rng(seed)
    t = np.arange(1, n_steps + 1)
    change = int(change or rng.integers(int(0.3 * n_steps), int(0.7 * n_steps) + 1))
    sd = noise if noise is not None else {"noisy": 0.15, "none": 0.1}.get(kind, 0.04)
    low, high = 0.1, 0.85
    if kind == "none":
        fmt, length, change = np.full(n_steps, 0.5), np.full(n_steps, 250.0), None
    else:
        if kind == "ramp":
            width = n_steps // 5
            fmt = low + (high - low) * np.clip((t - change + width / 2) / width, 0, 1)
        else:
            fmt = np.where(t >= change, high, low)
        if kind == "peak":
            late = np.clip(t - change - n_steps // 5, 0, None)
            fmt = fmt - 0.4 * late / n_steps
            sd = sd * (1 + 3 * (late > 0))
        length = np.where(t < change, 300 - 150 * t / change, 150 + 250 * (t - change) / (n_steps - change + 1))
    fmt = np.clip(fmt + sd * rng.standard_normal(n_steps), 0, 1)
    length = length + 15 * rng.standard_normal(n_steps)
    acc = np.clip(0.2 + 0.2 * t / n_steps + 0.03 * rng.standard_normal(n_steps), 0, 1)
    df = pd.DataFrame({"step": t, "format_reward": fmt, "accuracy_reward": acc, "completion_length": length,
                       "reward": fmt + 2 * acc})
    return df, change


class OnlineDetector:
    """The offline detector streamed over one metric: feed (step, value), get the transition once confirmed."""

    def __init__(self, metric: str = "format_reward", min_steps: int = 10, confirm_steps: int = 5, **detect_kw):
        self.metric, self.min_steps, self.confirm_steps = metric, min_steps, confirm_steps
        self.detect_kw = {"n_boot": 0, **detect_kw}
        self.steps: list[int] = []
        self.values: list[float] = []
        self.transition: Transition | None = None
        self.confirmed_at: int | None = None

    def current(self, n_boot: int = 0) -> Transition | None:
        """The offline detector on everything seen so far (no look-ahead)."""
        return detect_series(np.array(self.steps), np.array(self.values), self.metric,
                             **{**self.detect_kw, "n_boot": n_boot})

    def update(self, step: int, value) -> Transition | None:
        """Add one logged value; returns the transition at the step it is confirmed, else None."""
        if self.confirmed_at is not None or value is None or not math.isfinite(float(value)):
            return None
        if self.steps and step <= self.steps[-1]:  # a re-logged step (resume): keep the latest value
            keep = int(np.searchsorted(self.steps, step))
            del self.steps[keep:], self.values[keep:]
        self.steps.append(int(step))
        self.values.append(float(value))
        if step < self.min_steps:
            return None
        found = self.current()
        if found is None or step - found.step < self.confirm_steps:
            return None
        recent = np.mean(self.values[-self.confirm_steps:])
        if found.kind != "valley" and (recent - found.before) / (found.after - found.before) < 0.5:
            return None  # the new level has not held up to now (a bump, not a transition)
        self.transition = self.current(n_boot=200) or found  # final interval with the bootstrap
        self.confirmed_at = int(step)
        return self.transition


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown transition mode {mode!r}; use one of {MODES}{env.did_you_mean(mode, MODES)}")
    return mode


class TransitionCallback(TrainerCallback):
    """Watch the logged format reward (and completion length) during training; on a confirmed transition
    record it (`self.transition`, `self.detected_at`, `<output_dir>/transition.json`), force a checkpoint,
    and in mode "stop" stop training `patience` steps later. Mode "observe" never stops; "off" does nothing.

    The checkpoint to keep (`self.kept_checkpoint`) is the newest one saved at or before the detected step,
    i.e. just before the turning point, where the paper finds the best checkpoint (paper §5); the forced
    checkpoint at the confirmation step is the fallback when none was saved before it.
    """

    def __init__(self, mode: str = "observe", metric: str = "format_reward", min_steps: int = 10,
                 confirm_steps: int = 5, patience: int = 0, output_dir: str | None = None, **detect_kw):
        self.mode = _check_mode(mode)
        self.metric, self.patience, self.output_dir = metric, int(patience), output_dir
        self.detector = OnlineDetector(metric, min_steps, confirm_steps, **detect_kw)
        watch = "completion_length" if metric != "completion_length" else "format_reward"
        self.watch = OnlineDetector(watch, min_steps, confirm_steps, **detect_kw)
        self.transition: Transition | None = None
        self.detected_at: int | None = None
        self.stop_at: int | None = None
        self.kept_checkpoint: str | None = None
        self.written: Path | None = None

    @classmethod
    def from_recipe(cls, recipe, output_dir: str | None = None) -> "TransitionCallback | None":
        """Build from recipe fields (attributes or dict keys); None when the mode is "off".

        Fields: transition_mode ("off" | "observe" | "stop"; default "stop" if stop_on_transition else "off"),
        stop_on_transition (bool), transition_metric, transition_min_steps, transition_confirm_steps,
        transition_patience.
        """
        get = recipe.get if isinstance(recipe, dict) else (lambda k, d=None: getattr(recipe, k, d))
        mode = get("transition_mode") or ("stop" if get("stop_on_transition", False) else "off")
        if _check_mode(mode) == "off":
            return None
        return cls(mode, metric=get("transition_metric") or "format_reward",
                   min_steps=int(get("transition_min_steps") or 10),
                   confirm_steps=int(get("transition_confirm_steps") or 5),
                   patience=int(get("transition_patience") or 0), output_dir=output_dir)

    def _path(self, args) -> Path | None:
        out = self.output_dir or getattr(args, "output_dir", None)
        return Path(out) / "transition.json" if out else None

    def _keep(self, args, step: int) -> str:
        """Newest complete checkpoint of the training dir at or before `step`, else the one forced now."""
        run_dir = getattr(args, "output_dir", None) or self.output_dir
        saved = [s for s in checkpoint_steps(Path(run_dir)) if s <= step] if run_dir else []
        return checkpoint_name(saved[-1] if saved else self.detected_at)

    def _write(self, args, state, **extra) -> None:
        path = self._path(args)
        if path is None or not getattr(state, "is_world_process_zero", True):
            return
        watched = self.watch.current()
        record = {"mode": self.mode, "metric": self.metric, "detected": self.transition is not None,
                  "transition": self.transition.to_dict() if self.transition else None,
                  "detected_at": self.detected_at, "stop_at": self.stop_at,
                  "kept_checkpoint": self.kept_checkpoint,
                  "checkpoint_at_detection": checkpoint_name(self.detected_at) if self.detected_at else None,
                  "watched": {self.watch.metric: watched.to_dict() if watched else None},
                  "min_steps": self.detector.min_steps, "confirm_steps": self.detector.confirm_steps,
                  "patience": self.patience, **extra}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2))
        self.written = path

    def _maybe_stop(self, state, control) -> None:
        if self.stop_at is not None and state.global_step >= self.stop_at and not control.should_training_stop:
            control.should_save = True  # keep the final state too
            control.should_training_stop = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Feed the logged metrics to the streaming detectors; act on a confirmed transition."""
        if self.mode == "off" or not logs:
            return control
        values = {canonical_name(k): v for k, v in logs.items()}
        step = state.global_step
        self.watch.update(step, values.get(self.watch.metric))
        found = self.detector.update(step, values.get(self.metric))
        if found is not None:
            self.transition, self.detected_at = found, step
            self.kept_checkpoint = self._keep(args, found.step)
            if self.mode == "stop":
                self.stop_at = step + self.patience
            control.should_save = True
            self._write(args, state)
        self._maybe_stop(state, control)
        return control

    def on_step_end(self, args, state, control, **kwargs):
        """Stop once `patience` steps have passed since the confirmation (also between logging steps)."""
        self._maybe_stop(state, control)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        """Record the outcome (also "no transition") for observe-mode runs."""
        if self.mode != "off":
            self._write(args, state, last_step=state.global_step)
        return control


def first_alarm(kind: str, seed: int, n_steps: int = 200, min_steps: int = 10,
                confirm_steps: int = 5) -> tuple[int | None, int | None]:
    """(true step, confirmation step or None) of the online detector fed one synthetic series point by point."""
    logs, true = synthetic_logs(kind, n_steps=n_steps, seed=seed)
    det = OnlineDetector("format_reward", min_steps=min_steps, confirm_steps=confirm_steps)
    for step, value in zip(logs["step"], logs["format_reward"]):
        if det.update(int(step), float(value)) is not None:
            return true, det.confirmed_at
    return true, None


def change_onset(kind: str, true: int | None, n_steps: int) -> int | None:
    """Step the change begins: the true step, or a ramp's start (n_steps/10 before its midpoint)."""
    return None if true is None else true - (n_steps // 10 if kind == "ramp" else 0)


def online_alarms(kinds=("step", "ramp", "noisy", "none"), seeds=range(1000, 1005), n_steps: int = 150,
                  min_steps: int = 10, confirm_steps: int = 5) -> pd.DataFrame:
    """One row per (kind, seed): alarm raised, lag (confirmation - true step), false alarm (flat or before onset)."""
    rows = []
    for kind in kinds:
        for seed in seeds:
            true, at = first_alarm(kind, seed, n_steps, min_steps, confirm_steps)
            onset = change_onset(kind, true, n_steps)
            rows.append({"kind": kind, "alarm": at is not None,
                         "lag": None if at is None or true is None else at - true,
                         "false alarm": at is not None and (true is None or at < onset)})
    return pd.DataFrame(rows)


def alarm_summary(alarms: pd.DataFrame) -> pd.DataFrame:
    """Per kind: alarms, mean and max lag, false alarms."""
    return alarms.groupby("kind", sort=False).agg(alarms=("alarm", "sum"), lag_mean=("lag", "mean"),
                                                  lag_max=("lag", "max"), false_alarms=("false alarm", "sum"))
