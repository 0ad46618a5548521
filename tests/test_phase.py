"""Phase-transition detector, log loading, checkpoint relation, figure and the TransitionCallback.

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_phase.py -q
"""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from transformers import TrainerControl, TrainerState

from tina_utils.phase import (
    OnlineDetector,
    Transition,
    TransitionCallback,
    alarm_summary,
    canonical_name,
    detect_all,
    detect_transition,
    format_relation,
    load_logs,
    online_alarms,
    relate_run,
    relate_to_checkpoints,
    synthetic_logs,
)

# Stated tolerances (|detected - true| in steps, 200-step synthetic runs, change drawn in steps 60..140).
TOLERANCE = {"step": 1, "noisy": 2, "peak": 1, "ramp": 5}  # ramp: 40 steps wide, true step = its midpoint
LENGTH_TOLERANCE = 6  # completion-length minimum (noise SD 15 tokens on a 150-token-deep valley)


@pytest.mark.parametrize("kind", ["step", "noisy", "peak", "ramp"])
def test_format_transition_within_tolerance(kind):
    for seed in range(5):
        logs, true = synthetic_logs(kind, seed=seed)
        found = detect_transition(logs, "format_reward", n_boot=50)
        assert found is not None and found.kind == "rise"
        assert abs(found.step - true) <= TOLERANCE[kind], (seed, found.step, true)
        assert found.lo - TOLERANCE[kind] <= true <= found.hi + TOLERANCE[kind]
        assert found.strength > 3 and found.before < 0.3 < 0.7 < found.after


def test_clean_step_exact_and_levels():
    logs = pd.DataFrame({"step": np.arange(1, 21) * 10, "format_reward": [0.0] * 10 + [1.0] * 10})
    found = detect_transition(logs)
    assert (found.step, found.lo, found.hi) == (110, 110, 110)  # the first logged step at the new level
    assert found.before == pytest.approx(0.0) and found.after == pytest.approx(1.0)


def test_completion_length_valley():
    for seed in range(5):
        logs, true = synthetic_logs("step", seed=seed)
        found = detect_transition(logs, "completion_length")
        assert found.kind == "valley" and abs(found.step - true) <= LENGTH_TOLERANCE
        assert found.lo <= found.step <= found.hi


def test_no_transition_on_flat_noise_drift_and_short_runs():
    rng = np.random.default_rng(7)
    for seed in range(10):
        logs, true = synthetic_logs("none", seed=seed)
        assert true is None
        assert all(t is None for t in detect_all(logs, n_boot=0).values()), seed
    steps = np.arange(1, 201)
    drift = pd.DataFrame({"step": steps, "format_reward": 0.3 + 0.4 * steps / 200 + 0.05 * rng.standard_normal(200)})
    assert detect_transition(drift) is None  # a smooth drift is no transition
    limr = pd.DataFrame({"step": np.arange(10, 190, 10), "format_reward": 0.6 + 0.05 * rng.standard_normal(18)})
    assert detect_transition(limr) is None  # LIMR-like: 18 logged points, no change
    assert detect_transition(limr.head(8)) is None  # fewer than min_points


def _write_fixtures(tmp_path):
    ours = tmp_path / "run"
    ours.mkdir()
    pd.DataFrame({"step": [2, 1, 2, 3], "loss": 0.0, "rewards/format_reward/mean": [0.2, 0.1, 0.3, 0.9],
                  "rewards/accuracy_reward/mean": [0.1, 0.1, 0.2, 0.2], "completions/mean_length": [40, 42, 38, 45],
                  "completions/clipped_ratio": 0.0, "reward": 1.0}).to_csv(ours / "log.csv", index=False)
    history = [{"step": 1, "rewards/format_reward/mean": 0.1, "completions/mean_length": 40.0},
               {"step": 2, "rewards/format_reward/mean": 0.5, "completions/mean_length": None},
               {"step": 2, "eval_loss": 1.0},
               {"step": 3, "train_runtime": 9.0}]
    ckpt = tmp_path / "trl" / "checkpoint-2"
    ckpt.mkdir(parents=True)
    (ckpt / "trainer_state.json").write_text(json.dumps({"log_history": history[:2]}))
    (tmp_path / "trl" / "checkpoint-10").mkdir()
    (tmp_path / "trl" / "checkpoint-10" / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    old = pd.DataFrame({"Step": [10, 20], "tina-run - train/rewards/format_reward": [0.2, 0.8],
                        "tina-run - train/rewards/format_reward__MIN": [0.0, 0.0],
                        "tina-run - train/completion_length": [500.0, 300.0], "train/global_step": [1, 2]})
    old.to_csv(tmp_path / "wandb_015.csv", index=False)
    new = pd.DataFrame({"train/global_step": [5, 10], "train/rewards/format_reward/mean": [0.3, 0.6],
                        "train/completions/mean_length": [100.0, 90.0], "_step": [0, 1]})
    new.to_csv(tmp_path / "wandb_1x.csv", index=False)
    return ours


def test_load_logs_every_format(tmp_path):
    ours = _write_fixtures(tmp_path)
    df = load_logs(ours)  # our log.csv: duplicate step 2 -> the last row wins
    assert list(df.columns) == ["step", "format_reward", "accuracy_reward", "completion_length", "reward",
                                "clipped_ratio"]
    assert df["step"].tolist() == [1, 2, 3] and df["format_reward"].tolist() == [0.1, 0.3, 0.9]
    state = load_logs(tmp_path / "trl")  # latest checkpoint's trainer_state.json; eval/summary rows merged or dropped
    assert state["step"].tolist() == [1, 2] and state["format_reward"].tolist() == [0.1, 0.5]
    assert state["completion_length"].tolist()[0] == 40.0 and np.isnan(state["completion_length"].iloc[1])
    old = load_logs(tmp_path / "wandb_015.csv")  # train/global_step (the trainer step) beats wandb's "Step"
    assert old["step"].tolist() == [1, 2] and old["format_reward"].tolist() == [0.2, 0.8]
    assert old["completion_length"].tolist() == [500.0, 300.0]
    new = load_logs(tmp_path / "wandb_1x.csv")
    assert new["step"].tolist() == [5, 10] and new["completion_length"].tolist() == [100.0, 90.0]
    assert canonical_name("rewards/format_reward/mean") == "format_reward"
    assert canonical_name("train/rewards/format_reward") == "format_reward"


def test_load_logs_errors_name_columns(tmp_path):
    pd.DataFrame({"step": [1], "loss": [0.1], "grad_norm": [1.0]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(ValueError, match=r"no known metric.*'loss', 'grad_norm'"):
        load_logs(tmp_path / "x.csv")
    with pytest.raises(FileNotFoundError, match="log.csv"):
        load_logs(tmp_path)


def _scores(best: int) -> pd.DataFrame:
    rows = [{"run_id": "r", "checkpoint": "base", "step": 0, "benchmark": b, "value": 99.0} for b in ("a", "b")]
    for step in (50, 100, 150, 200):
        for bench, bonus in (("a", 0.0), ("b", 10.0)):
            rows.append({"run_id": "r", "checkpoint": f"checkpoint-{step}", "step": step, "benchmark": bench,
                         "value": 40.0 + bonus + (5.0 if step == best else 0.0)})
    return pd.DataFrame(rows)


def _mixed_scores() -> pd.DataFrame:
    """A scores.csv with pass@1 and pass@4 rows: pass@1 peaks at step 30 (76); at step 45 pass@1 is 74.5 and pass@4
    92, so averaging both metrics would name step 45 best ((74.5 + 92) / 2 against (76 + 84) / 2)."""
    pass1 = {0: (50.0, 60.0), 15: (60.0, 70.0), 30: (72.0, 80.0), 45: (70.0, 79.0)}
    pass4 = {0: (70.0, 70.0), 15: (80.0, 80.0), 30: (84.0, 84.0), 45: (92.0, 92.0)}
    rows = [{"run_id": "r", "checkpoint": f"checkpoint-{step}" if step else "base", "step": step, "benchmark": bench,
             "metric": metric, "value": values[i], "stderr": 1.0, "n_problems": 30, "n_samples": 4}
            for metric, table in (("pass@1", pass1), ("pass@4", pass4)) for step, values in table.items()
            for i, bench in enumerate(("aime24", "math500"))]
    return pd.DataFrame(rows)


def _write_sweep(root, scores: pd.DataFrame, validation: pd.DataFrame | None = None) -> dict:
    """results/03_evaluate/r/{scores.csv,best.json} as the sweep writes them, and runs.csv with the run r."""
    from tina_utils.evaluate import select_checkpoint

    sweep = root / "03_evaluate" / "r"
    sweep.mkdir(parents=True, exist_ok=True)
    scores.to_csv(sweep / "scores.csv", index=False)
    best = select_checkpoint(scores, validation)
    (sweep / "best.json").write_text(json.dumps(best, indent=1) + "\n")
    pd.DataFrame([{"run_id": "r", "recipe": "tiny", "seed": 0, "hardware": "cpu", "gpu_type": "cpu", "n_gpus": 1,
                   "wall_clock_s": 36, "gpu_hours": 0.01, "steps": 45, "checkpoints": 3, "started_at": "2026-01-01",
                   "git_sha": "abc", "status": "done"}]).to_csv(root / "runs.csv", index=False)
    return best


def test_the_four_rankings_score_a_checkpoint_alike_on_pass1_beside_pass4(tmp_path, monkeypatch):
    from tina_utils import cost
    from tina_utils.evaluate import select_checkpoint
    from tina_utils.evaluate.selection import checkpoint_means
    from tina_utils.phase import checkpoint_scores, early_stop

    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    scores = _mixed_scores()
    means = checkpoint_means(scores)
    assert means["score"].to_dict() == {"checkpoint-15": 65.0, "checkpoint-30": 76.0, "checkpoint-45": 74.5}
    assert means.loc["checkpoint-30", "step"] == 30 and means["n_benchmarks"].eq(2).all()
    assert checkpoint_means(scores, "pass@4")["score"].idxmax() == "checkpoint-45"
    assert checkpoint_scores(scores).to_dict() == {15: 65.0, 30: 76.0, 45: 74.5}
    assert early_stop.scores_by_checkpoint(scores)["score"].to_dict() == means["score"].to_dict()
    _write_sweep(tmp_path, scores)
    (tmp_path / "03_evaluate" / "r" / "best.json").unlink()  # cost falls back to the highest score, as the sweep
    costs = cost.checkpoint_costs("r").set_index("checkpoint")
    assert costs["score"].to_dict() == {"base": 55.0, **means["score"].to_dict()}
    stop = early_stop.scores_by_checkpoint(scores)
    best = {"selection": select_checkpoint(scores)["step"],
            "phase report": relate_to_checkpoints(None, scores)["best_step"],
            "cost": int(costs.loc[cost.run_costs("r", costs.reset_index())["best_checkpoint"].iloc[0], "step"]),
            "early stop": int(stop.loc[stop["score"].idxmax(), "step"])}
    assert best == dict.fromkeys(best, 30)
    assert relate_to_checkpoints(None, scores)["best_score"] == select_checkpoint(scores)["average"] == 76.0
    reported = relate_to_checkpoints(None, scores, best_step=45)  # notebook 05 passes best.json's step
    assert reported["best_step"] == 45 and reported["best_score"] == 74.5


def test_a_checkpoint_scores_on_the_benchmarks_scored_for_every_checkpoint():
    from tina_utils.evaluate.selection import checkpoint_means

    scores = _mixed_scores()
    extra = scores.iloc[[0]].assign(checkpoint="checkpoint-30", step=30, benchmark="gpqa", value=100.0)
    means = checkpoint_means(pd.concat([scores, extra]))  # gpqa only for step 30: left out of every score
    assert means.loc["checkpoint-30", "score"] == 76.0 and means["n_benchmarks"].eq(2).all()
    assert checkpoint_means(scores, include_base=True).loc["base", "score"] == 55.0
    assert checkpoint_means(scores.iloc[:0]).empty
    split = scores.assign(benchmark=[f"{b}-{s}" for b, s in zip(scores.benchmark, scores.step)])
    with pytest.raises(ValueError, match="no benchmark was scored for every checkpoint"):
        checkpoint_means(split)


def test_relate_to_checkpoints():
    t = Transition("format_reward", "rise", 120, 110, 130, 8.0, 0.1, 0.9, 0.05)
    out = relate_to_checkpoints(t, _scores(best=100), steps_per_epoch=200)
    assert out["best_step"] == 100 and out["best_score"] == 50.0  # mean of 45 and 55; base excluded
    assert out["distance_steps"] == -20 and out["distance_pct_epoch"] == -10.0
    assert out["checkpoint_at_transition"] == 100 and out["score_gap"] == 0.0
    assert out["claim_holds"] is True  # best within one checkpoint spacing (50) before lo=110
    late = relate_to_checkpoints(t, _scores(best=200))
    assert late["claim_holds"] is False and late["distance_steps"] == 80 and late["score_gap"] == 5.0
    assert relate_to_checkpoints(None, _scores(best=150))["claim_holds"] is None



def test_relate_run_reads_the_sweep_at_the_reported_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    t = Transition("format_reward", "rise", 120, 110, 130, 8.0, 0.1, 0.9, 0.05)
    assert relate_run("r", t) is None
    assert format_relation(None, "r") == "no checkpoint sweep yet for r (run notebook 03): relation skipped"
    sweep = tmp_path / "03_evaluate" / "r"
    _scores(best=100).to_csv(sweep / "scores.csv", index=False)
    (sweep / "best.json").write_text(json.dumps({"checkpoint": "checkpoint-150", "step": 150}))
    relation = relate_run("r", t, steps_per_epoch=200, out=tmp_path)
    assert (relation["best_step"], relation["best_score"], relation["distance_steps"]) == (150, 45.0, 30)
    assert json.loads((tmp_path / "r_relation.json").read_text())["best_step"] == 150
    lines = format_relation(relation, "r").splitlines()
    assert lines[0] == "               best_step: 150" and len(lines) == len(relation)
    assert "      distance_pct_epoch: 15.0" in lines

def test_notebook_05_relates_the_transition_to_notebook_03s_best_checkpoint(tmp_path, monkeypatch):
    """relate_run (notebook 05) reports the checkpoint of best.json (notebook 03), chosen on validation or not."""
    from tina_utils.evaluate import select_checkpoint

    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    t = Transition("format_reward", "rise", 40, 35, 45, 8.0, 0.1, 0.9, 0.05)
    scores = _mixed_scores()
    validation = scores[scores.metric == "pass@1"].assign(benchmark="math_val", value=[0, 0, 1, 1, 2, 2, 9, 9.0])
    for checked, step in ((None, 30), (validation, 45)):  # the test-set best, then validation's pick
        best = _write_sweep(tmp_path, scores, checked)
        relation = relate_run("r", t, out=tmp_path)
        assert (best["checkpoint"], best["step"], relation["best_step"]) == (f"checkpoint-{step}", step, step)
        assert best == select_checkpoint(scores, checked) and relation["best_score"] == best["average"]
        assert json.loads((tmp_path / "r_relation.json").read_text())["best_step"] == step
    assert best["oracle_step"] == 30 and relation["claim_holds"] is True  # 45 lies in [35 - 15, 45]


def test_phase_panel_draws_three_metrics_bands_and_the_checkpoint():
    from tina_utils.plots.phase import panel

    logs, _ = synthetic_logs("step", seed=0)
    found = detect_all(logs, n_boot=0)
    fig = panel(logs, found, best_step=90)
    assert len(fig.axes) == 3
    assert all(90 in [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"] for ax in fig.axes)
    assert fig.axes[0].patches[0].get_x() == found["format_reward"].lo - 0.5  # the format band on every panel


def _drive(cb, series, tmp_path):
    """Feed a format-reward series to the callback as TRL 1.16 would; returns (save steps, stop steps)."""
    args, state = SimpleNamespace(output_dir=str(tmp_path)), TrainerState()
    saves, stops = [], []
    for step, value in enumerate(series, start=1):
        state.global_step, control = step, TrainerControl()
        cb.on_step_end(args, state, control)
        cb.on_log(args, state, control, logs={"loss": 0.0, "rewards/format_reward/mean": value,
                                              "completions/mean_length": 50.0 + value})
        saves += [step] if control.should_save else []
        stops += [step] if control.should_training_stop else []
        if control.should_training_stop:
            break
    cb.on_train_end(args, state, TrainerControl())
    return saves, stops


def test_callback_saves_and_stops_at_the_right_step(tmp_path):
    series = [0.1] * 30 + [0.9] * 30  # change at step 31
    cb = TransitionCallback("stop", min_steps=10, confirm_steps=5, patience=3)
    saves, stops = _drive(cb, series, tmp_path)
    assert cb.transition.step == 31 and cb.detected_at == 36  # confirmed after 5 steps at the new level
    assert saves == [36, 39] and stops == [39]  # forced checkpoint, then stop (and save) after patience 3
    record = json.loads((tmp_path / "transition.json").read_text())
    assert record["transition"]["step"] == 31 and record["detected_at"] == 36 and record["stop_at"] == 39


def test_callback_observe_and_flat_series(tmp_path):
    logs, true = synthetic_logs("noisy", seed=3)
    cb = TransitionCallback("observe", min_steps=10, confirm_steps=5)
    saves, stops = _drive(cb, logs["format_reward"].tolist(), tmp_path)
    assert stops == [] and saves == [cb.detected_at] and abs(cb.transition.step - true) <= TOLERANCE["noisy"]
    for seed in range(3):
        flat, _ = synthetic_logs("none", seed=seed)
        cb = TransitionCallback("stop", min_steps=10, confirm_steps=5)
        assert _drive(cb, flat["format_reward"].tolist(), tmp_path / str(seed)) == ([], [])
        record = json.loads((tmp_path / str(seed) / "transition.json").read_text())
        assert record["detected"] is False and record["last_step"] == 200


def test_online_detector_never_looks_ahead():
    logs, true = synthetic_logs("step", seed=1)
    det = OnlineDetector(min_steps=10, confirm_steps=5)
    hits = [s for s, v in zip(logs["step"], logs["format_reward"]) if det.update(int(s), float(v))]
    assert hits == [true + 5] and det.transition.step == true
    # Same answer when the future is cut off at the confirmation step.
    cut = OnlineDetector(min_steps=10, confirm_steps=5)
    part = logs[logs["step"] <= true + 5]
    assert [s for s, v in zip(part["step"], part["format_reward"]) if cut.update(int(s), float(v))] == hits



def test_online_lag_table_on_fixed_seeds():
    alarms = online_alarms(("step", "ramp", "none"), seeds=range(1000, 1003), n_steps=150, min_steps=10,
                           confirm_steps=5)
    assert alarms.columns.tolist() == ["kind", "alarm", "lag", "false alarm"] and len(alarms) == 9
    none = alarms[alarms["kind"] == "none"]
    assert not none["alarm"].any() and not none["false alarm"].any() and none["lag"].isna().all()
    assert alarms.loc[alarms["kind"] == "step", "lag"].tolist() == [5.0, 5.0, 5.0]  # = confirm_steps
    ramp = alarms.loc[alarms["kind"] == "ramp", "lag"]
    assert ((ramp >= -15) & (ramp < 5)).all()  # confirmed mid-ramp, after it began (15 steps before its midpoint)
    summary = alarm_summary(alarms)
    assert summary.index.tolist() == ["step", "ramp", "none"]
    assert summary.columns.tolist() == ["alarms", "lag_mean", "lag_max", "false_alarms"]
    assert summary["alarms"].tolist() == [3, 3, 0] and summary["false_alarms"].tolist() == [0, 0, 0]
    assert summary.loc["step", "lag_mean"] == summary.loc["step", "lag_max"] == 5.0

def test_from_recipe_and_modes():
    assert TransitionCallback.from_recipe({"transition_mode": "off"}) is None
    assert TransitionCallback.from_recipe(SimpleNamespace(stop_on_transition=False)) is None
    cb = TransitionCallback.from_recipe({"transition_mode": "stop", "transition_metric": "format_reward",
                                         "transition_min_steps": 20, "transition_confirm_steps": 8,
                                         "transition_patience": 4}, output_dir="x")
    assert (cb.mode, cb.detector.min_steps, cb.detector.confirm_steps, cb.patience) == ("stop", 20, 8, 4)
    assert TransitionCallback.from_recipe({"stop_on_transition": True}).mode == "stop"
    with pytest.raises(ValueError, match="did you mean 'observe'"):
        TransitionCallback("observ")


@pytest.mark.slow
@pytest.mark.xdist_group("tiny-run")  # one worker trains the tiny run for these tests and the notebooks
def test_tiny_run_format_reward_rises_and_an_offline_transition_sits_on_the_rise():
    from tina_utils.claims import MIN_RISE, format_rise
    from tina_utils.phase.early_stop import read_transition
    from tina_utils.train import ensure_tiny_run

    run_dir = ensure_tiny_run()
    logs = load_logs(run_dir)
    fmt = logs.set_index("step")["format_reward"].dropna()
    assert format_rise(logs) >= MIN_RISE
    assert read_transition(run_dir)["mode"] == "observe"  # the tiny recipe watches for the transition
    found = detect_transition(logs)
    if found is not None:  # a step-like rise (a slow ramp is rejected as drift by design, see tina_utils.claims)
        smooth = fmt.rolling(5, center=True, min_periods=1).mean()
        crossing = int(smooth[smooth >= (found.before + found.after) / 2].index.min())
        assert found.kind == "rise" and found.strength >= 3 and found.lo - 10 <= crossing <= found.hi + 10


def test_a_checkpoint_score_survives_benchmarks_without_a_standard_error():
    from tina_utils.evaluate.selection import checkpoint_means

    scores = pd.DataFrame({"checkpoint": ["checkpoint-10", "checkpoint-20"], "step": [10, 20],
                           "benchmark": "math_500", "metric": "pass@1", "value": [0.0, 100.0],
                           "stderr": [float("nan")] * 2})  # one problem: no standard error
    table = checkpoint_means(scores)
    assert table["score"].tolist() == [0.0, 100.0] and table["stderr"].isna().all()
