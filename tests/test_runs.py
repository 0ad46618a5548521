"""The run directory: run id -> directory, checkpoint names and steps, completeness, what evaluation may use.

Run: pytest tests/test_runs.py -q
"""

import json

import pytest

from tina_utils import runs


def _checkpoint(run_dir, step, complete=True, adapter=True):
    path = run_dir / runs.checkpoint_name(step)
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if adapter:
        (path / "adapter_config.json").write_text("{}")
        (path / "adapter_model.safetensors").write_text("x")
    if complete:
        runs.mark_complete(path)
    return path


def test_a_run_id_lives_under_results_02_train_and_a_path_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path / "results"))
    assert runs.run_dir("tiny-seed0") == tmp_path / "results" / "02_train" / "tiny-seed0"
    assert not (tmp_path / "results" / "02_train" / "tiny-seed0").exists()  # reading creates nothing
    assert runs.run_dir(str(tmp_path / "elsewhere" / "run")) == tmp_path / "elsewhere" / "run"
    made = runs.new_run_dir("open_rs2-seed42")
    assert made == tmp_path / "results" / "02_train" / "open_rs2-seed42" and made.is_dir()
    assert runs.runs_csv() == tmp_path / "results" / "runs.csv"


def test_checkpoint_names_and_steps_round_trip():
    assert runs.checkpoint_name(450) == "checkpoint-450" and runs.step_of("checkpoint-450") == 450
    assert runs.step_of("base") == 0
    for bad in ("final", "checkpoint-", "checkpoint-4x", "Checkpoint-4"):
        with pytest.raises(ValueError, match=f"checkpoint name '{bad}'"):
            runs.step_of(bad)


def test_steps_sort_numerically_and_stray_names_are_ignored(tmp_path):
    for step in (100, 20, 3):
        _checkpoint(tmp_path, step)
    (tmp_path / "checkpoint-final").mkdir()
    (tmp_path / "checkpoint-7.tmp").write_text("")
    assert [step for step, _ in runs.checkpoint_dirs(tmp_path)] == [3, 20, 100]
    assert runs.checkpoint_steps(tmp_path) == [3, 20, 100]
    assert runs.last_complete_checkpoint(tmp_path) == (100, tmp_path / "checkpoint-100")
    assert runs.latest_trainer_state(tmp_path) == tmp_path / "checkpoint-100" / "trainer_state.json"
    assert runs.is_run_dir(tmp_path) and not runs.is_run_dir(tmp_path / "checkpoint-final")


def test_the_marker_records_what_it_saw(tmp_path):
    path = _checkpoint(tmp_path, 5, complete=False)
    runs.mark_complete(path, world_size=2)
    marker = json.loads((path / runs.MARKER).read_text())
    assert marker["world_size"] == 2
    assert marker["files"] == ["adapter_config.json", "adapter_model.safetensors", "trainer_state.json"]


def test_evaluation_uses_marked_checkpoints_or_adapters_trained_elsewhere(tmp_path, capsys):
    ours = tmp_path / "ours"
    _checkpoint(ours, 10)
    _checkpoint(ours, 20, complete=False)  # killed before the marker
    assert list(runs.find_checkpoints(ours)) == ["checkpoint-10"]
    assert "skipping incomplete checkpoints: checkpoint-20" in capsys.readouterr().out
    elsewhere = tmp_path / "elsewhere"
    _checkpoint(elsewhere, 5, complete=False)
    _checkpoint(elsewhere, 15, complete=False, adapter=False)
    assert list(runs.find_checkpoints(elsewhere)) == ["checkpoint-5"]
    with pytest.raises(FileNotFoundError, match="run directory .*nope does not exist"):
        runs.find_checkpoints(tmp_path / "nope")
