"""Stop at the phase transition: savings, comparison, projection, and the real tiny-world stop.

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_early_stop.py -q   (add -m "not slow" for the fast part)
"""

import json
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from transformers import TrainerControl, TrainerState

from tina_utils import phase
from tina_utils.phase import TransitionCallback, early_stop, load_logs, synthetic_logs
from tina_utils.runs import mark_complete


def _fake_run(path, steps: int, planned: int, record: dict | None):
    """A run dir with log.csv (1 s per step), recipe.yaml and optionally transition.json."""
    path.mkdir(parents=True)
    pd.DataFrame({"step": range(1, steps + 1), "step_time": 1.0}).to_csv(path / "log.csv", index=False)
    (path / "recipe.yaml").write_text(yaml.safe_dump({"max_steps": planned, "stop_at_step": None}))
    if record is not None:
        (path / "transition.json").write_text(json.dumps(record))
    return path


def _record(mode: str, detected_at: int, stop_at=None, kept="checkpoint-15") -> dict:
    return {"mode": mode, "detected_at": detected_at, "stop_at": stop_at, "patience": 0, "kept_checkpoint": kept,
            "transition": {"step": detected_at - 5}}


def test_saving_of_an_observed_and_a_stopped_run(tmp_path):
    observed = early_stop.saving(_fake_run(tmp_path / "full", 30, 30, _record("observe", 20)))
    assert (observed["stop_step"], observed["steps_saved"], observed["fraction_saved"]) == (20, 10, 1 / 3)
    assert (observed["seconds_to_stop"], observed["seconds_saved"]) == (20.0, 10.0)
    assert observed["seconds_trained"] == 30.0
    stopped = early_stop.saving(_fake_run(tmp_path / "stop", 20, 30, _record("stop", 20, stop_at=20)))
    assert (stopped["trained_steps"], stopped["steps_saved"], stopped["seconds_saved"]) == (20, 10, 10.0)
    never = early_stop.saving(_fake_run(tmp_path / "none", 30, 30, None))
    assert (never["mode"], never["stop_step"], never["steps_saved"]) == ("off", None, 0)


def test_scores_by_checkpoint_averages_benchmarks_and_combines_errors():
    scores = pd.DataFrame({"checkpoint": ["base", "checkpoint-10", "checkpoint-10", "checkpoint-5", "checkpoint-5",
                                          "checkpoint-5"],
                           "step": [0, 10, 10, 5, 5, 5], "benchmark": ["a", "a", "b", "a", "b", "c"],
                           "metric": "pass@1", "value": [10.0, 30.0, 20.0, 40.0, 60.0, 99.0],
                           "stderr": [1.0, 2.0, 2.0, 3.0, 4.0, 1.0]})
    table = early_stop.scores_by_checkpoint(scores)
    assert table.index.tolist() == ["checkpoint-5", "checkpoint-10"]  # by step; c is not scored for every one
    assert table.loc["checkpoint-5", "score"] == 50.0 and table.loc["checkpoint-5", "stderr"] == 2.5  # 5 / 2


def test_compare_names_a_run_that_did_not_stop(tmp_path):
    full = _fake_run(tmp_path / "full", 30, 30, _record("observe", 20))
    with pytest.raises(ValueError, match="full did not stop at a transition.*transition_mode: stop"):
        early_stop.compare(full, full, pd.DataFrame(), pd.DataFrame())


def test_paper_projection_open_rs2():
    table = early_stop.paper_projection(lag_steps=10).set_index("task")
    row = table.loc["Tina-Open-RS2"]
    assert (row["best_step"], row["trained_steps"], row["projected_stop"]) == (450, 850, 460)
    assert row["stopped_usd"] == pytest.approx(32 * 460 / 850) and row["saved_usd"] == pytest.approx(32 * 390 / 850)
    assert (table["projected_stop"] <= table["trained_steps"]).all() and (table["fraction_saved"] > 0).all()


def _adapter_checkpoint(run_dir, step: int) -> None:
    path = run_dir / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in ("trainer_state.json", "adapter_model.safetensors", "adapter_config.json"):
        (path / name).write_text("{}")
    mark_complete(path)


@pytest.mark.parametrize("saved,kept", [((10, 20, 30, 40), "checkpoint-30"), ((), None)])
def test_callback_keeps_the_newest_checkpoint_before_the_transition(tmp_path, saved, kept):
    for step in saved:
        _adapter_checkpoint(tmp_path, step)
    logs, true = synthetic_logs("step", n_steps=80, change=35, seed=0)
    cb = TransitionCallback("stop", min_steps=10, confirm_steps=5)
    state = TrainerState()
    for row in logs.to_dict("records"):
        state.global_step, control = int(row["step"]), TrainerControl()
        cb.on_log(SimpleNamespace(output_dir=str(tmp_path)), state, control, logs=row)
        if control.should_training_stop:
            break
    assert cb.transition.step == true and cb.detected_at == true + 5
    assert cb.kept_checkpoint == (kept or f"checkpoint-{cb.detected_at}")  # fallback: the forced checkpoint
    record = json.loads((tmp_path / "transition.json").read_text())
    assert record["kept_checkpoint"] == cb.kept_checkpoint and record["checkpoint_at_detection"] == "checkpoint-40"


def test_evaluate_checkpoints_names_a_missing_checkpoint(tmp_path):
    run = _fake_run(tmp_path / "run", 30, 30, None)
    _adapter_checkpoint(run, 15)
    with pytest.raises(ValueError, match=r"run has no complete \['checkpoint-45'\]; it has \['checkpoint-15'\]"):
        early_stop.evaluate_checkpoints(run, ["checkpoint-45"])


# ---------------------------------------------------------------- the real stop on the tiny world (slow)
@pytest.mark.slow
@pytest.mark.xdist_group("tiny-run")  # one worker trains the tiny run for these tests and the notebooks
def test_tiny_early_stop_cuts_the_unstopped_run_short_and_every_tiny_claim_holds():
    from tina_utils import claims
    from tina_utils.train import ensure_tiny_run

    full, stopped = ensure_tiny_run("tiny", seed=0), ensure_tiny_run("tiny_early_stop", seed=0)
    record = early_stop.read_transition(stopped)
    # same seed, same trainer config: the stopped run is the unstopped one cut short (or whole), step for step
    full_logs, stop_logs = load_logs(full), load_logs(stopped)
    pd.testing.assert_series_equal(stop_logs["format_reward"], full_logs["format_reward"].iloc[:len(stop_logs)])
    if record["stop_at"] is not None:  # on machines where the online detector confirms the rise
        assert stop_logs["step"].max() == record["stop_at"] < full_logs["step"].max()
        kept = int(record["kept_checkpoint"].split("-")[1])
        assert kept <= record["transition"]["step"] or record["kept_checkpoint"] == record["checkpoint_at_detection"]
    result = claims.check(seed=0)
    assert result["holds"] == {claim: True for claim in result["holds"]}, result
    assert result["steps_saved"] == (0 if record["stop_at"] is None else 75 - record["stop_at"])


# ---------------------------------------------------------------- notebook 05's replay and stop report
def test_replay_stops_at_the_confirmation_and_keeps_the_checkpoint_before_the_transition(tmp_path):
    run = tmp_path / "run"
    for step in (10, 20, 30, 40):
        _adapter_checkpoint(run, step)
    logs, true = synthetic_logs("step", n_steps=80, change=35, seed=0)
    replayed = phase.replay_stop(logs, run, tmp_path / "out", min_steps=10, confirm_steps=5)
    assert replayed == {"transition_step": true, "stopped_at": true + 5, "last_step": 80, "steps_saved": 40,
                        "kept_checkpoint": "checkpoint-30"}
    assert (tmp_path / "out" / "transition.json").exists() and not (run / "transition.json").exists()
    assert phase.format_replay(replayed, best_step=30) == (
        "transition at step 35, confirmed and stopped at step 40 of 80: 40 steps (50%) saved; "
        "checkpoint kept: checkpoint-30\nbest checkpoint: step 30")
    flat, _ = synthetic_logs("none", seed=0)
    replayed = phase.replay_stop(flat, run, tmp_path / "flat")
    assert (replayed["stopped_at"], replayed["steps_saved"], replayed["kept_checkpoint"]) == (None, 0, None)
    assert phase.format_replay(replayed, best_step=30) == "no confirmed transition: the run would train all 200 steps"


def _comparison(**changes) -> dict:
    return {"full_transition_step": 24, "full_transition_interval": [24, 24], "best_checkpoint": "checkpoint-60",
            "best_score": 78.5, "best_stderr": 2.54, "detected_step": 24, "stopped_at": 60,
            "stop_minus_transition": 36, "kept_checkpoint": "checkpoint-15", "kept_score": 70.62,
            "kept_stderr": 2.9, "score_diff": -7.88, "diff_stderr": 3.82, "within_noise": False,
            "planned_steps": 75, "steps_saved": 15, "cpu_seconds_stopped": 25.0, "cpu_seconds_full": 50.0, **changes}


def test_the_stop_report_prints_the_comparison_and_checks_the_tiny_claim(tmp_path):
    text = phase.format_comparison(_comparison())
    assert text.splitlines() == [
        "unstopped run: transition at step 24 (interval [24, 24]), best checkpoint-60 = 78.5 ± 2.5",
        "stopped run:   detected step 24, confirmed and stopped at 60 (+36 steps from its transition)",
        "kept checkpoint-15 = 70.6 ± 2.9: difference -7.9 ± 3.8 -> OUTSIDE the noise (2 SE)",
        "saved 15 of 75 steps; training time 25 s instead of 50 s (50% less)"]
    within = phase.format_comparison(_comparison(within_noise=True, stop_minus_transition=None))
    assert "-> within the noise" in within and "(no offline transition in the unstopped run)" in within
    assert phase.kept_before_transition(_comparison())
    assert not phase.kept_before_transition(_comparison(kept_checkpoint="checkpoint-30"))
    assert not phase.kept_before_transition(_comparison(steps_saved=0))


def test_a_run_that_did_not_stop_has_nothing_to_compare(tmp_path):
    full = _fake_run(tmp_path / "full", 30, 30, _record("observe", 20))
    assert phase.compare_stop(full, full) == (None, None, None)  # nothing is evaluated
    assert phase.format_comparison(None, full).startswith("full: the online detector confirmed no transition")
    assert phase.find_stopped_run(full) == full and phase.find_stopped_run(None, profile="paper") is None
    record = phase.stop_record(full)
    assert record == {"mode": "observe", "transition": {"step": 15}, "detected_at": 20, "stop_at": None,
                      "kept_checkpoint": "checkpoint-15"}
    assert json.loads(phase.format_record(record)) == record
    assert phase.stop_record(None) is None and phase.format_record(None).startswith("no early-stopped run")
