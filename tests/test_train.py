"""Training runner: CLI parsing, run-dir bookkeeping, resume without lost/duplicated steps, tiny and GPU smoke runs.

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_train.py -q   (add -m "not slow" for the fast part)
"""

import importlib.util
import json
import shutil
from types import SimpleNamespace

import pandas as pd
import pytest
from transformers import TrainerControl

from tina_utils import runs
from tina_utils.train import load_recipe, runlog, runner  # runner: patched where it looks names up
from tina_utils.worlds import tiny


def _state(step, max_steps=10):
    return SimpleNamespace(global_step=step, max_steps=max_steps, is_world_process_zero=True)


def _checkpoint(run_dir, step, complete=True):
    path = run_dir / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "trainer_state.json").write_text("{}")
    (path / "adapter_model.safetensors").write_text("x")
    if complete:
        runs.mark_complete(path)
    return path


def test_cli_parses_recipe_overrides_and_run_dir():
    assert runner.parse_cli(["tiny", "--max_steps", "5", "--learning-rate=1e-3", "--run_dir", "/x"]) == (
        "tiny", {"max_steps": "5", "learning_rate": "1e-3"}, "/x")
    with pytest.raises(ValueError, match="--seed needs a value"):
        runner.parse_cli(["tiny", "--seed"])


def test_stop_at_step_stops_and_saves_while_schedule_runs_on():
    callback, control = runner.StopAtStep(stop_at_step=4), TrainerControl()
    callback.on_step_end(None, _state(3), control)
    assert not control.should_training_stop and not control.should_save
    callback.on_step_end(None, _state(4), control)
    assert control.should_training_stop and control.should_save


def test_last_step_is_always_saved():
    control = TrainerControl()
    runner.StopAtStep(None).on_step_end(None, _state(10, max_steps=10), control)
    assert control.should_save and not control.should_training_stop


def test_half_written_checkpoint_is_never_used(tmp_path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 4, complete=False)  # killed while saving
    (tmp_path / "checkpoint-6").mkdir()  # killed right after mkdir
    assert runs.last_complete_checkpoint(tmp_path) == (2, tmp_path / "checkpoint-2")
    assert runs.remove_incomplete_checkpoints(tmp_path) == ["checkpoint-4", "checkpoint-6"]
    assert runs.checkpoint_steps(tmp_path) == [2]


def test_log_csv_drops_steps_after_the_resumed_checkpoint(tmp_path):
    path = tmp_path / "log.csv"
    pd.DataFrame({"step": [1, 2, 3], "reward": [0.1, 0.2, 0.3]}).to_csv(path, index=False)
    callback = runlog.LogCsvCallback(path, keep_until=2)  # step 3 was trained after checkpoint-2, then lost
    callback.on_log(None, _state(3), None, logs={"reward": 0.35, "kl": 0.0})
    callback.on_log(None, _state(3), None, logs={"reward": 0.36, "kl": 0.0})  # same step logged twice: replaced
    callback.on_log(None, _state(3), None, logs={"train_runtime": 9.0, "train_loss": 0.0})  # end summary: skipped
    df = pd.read_csv(path)
    assert df["step"].tolist() == [1, 2, 3] and df["reward"].tolist() == [0.1, 0.2, 0.36]


def test_runs_csv_upserts_by_run_id(tmp_path):
    path = tmp_path / "runs.csv"
    row = dict.fromkeys(runlog.RUNS_COLUMNS, 0) | {"run_id": "a", "status": "running"}
    runlog.upsert_run(path, row)
    runlog.upsert_run(path, row | {"run_id": "b"})
    runlog.upsert_run(path, row | {"status": "complete", "steps": 7})
    df = pd.read_csv(path)
    assert df.columns.tolist() == runlog.RUNS_COLUMNS
    assert df.set_index("run_id")[["status", "steps"]].to_dict("index") == {
        "b": {"status": "running", "steps": 0}, "a": {"status": "complete", "steps": 7}}


def test_ensure_tiny_run_skips_a_complete_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    run_dir = tmp_path / "02_train" / f"tiny-seed3-world{tiny.WORLD_VERSION}"
    _checkpoint(run_dir, 60)
    runlog.write_run_state(run_dir, {"status": "complete"})
    monkeypatch.setattr(runner, "train", lambda *a, **k: pytest.fail("retrained a complete run"))
    assert runner.ensure_tiny_run(seed=3) == run_dir


def test_train_rejects_impossible_world_size_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setattr(runner, "load_model_and_tokenizer", lambda r: pytest.fail("model loaded"))
    with pytest.raises(ValueError, match="cannot be split over 3 process"):
        runner.train(load_recipe("tiny"), tmp_path / "run")


def test_completed_run_is_not_retrained(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    _checkpoint(tmp_path / "run", 4)
    runlog.write_run_state(tmp_path / "run", {"started_at": "t0", "wall_clock_s": 12.0})
    monkeypatch.setattr(runner, "_fit", lambda *a: pytest.fail("retrained"))
    record = runner.train(load_recipe("tiny", max_steps=4), tmp_path / "run")
    assert (record["status"], record["steps"], record["checkpoints"]) == ("complete", 4, 1)
    assert record["wall_clock_s"] == 12.0  # carried over from run.json, nothing added
    assert record["gpu_type"] == "cpu" and record["n_gpus"] == 0


def test_transition_callback_is_wired_only_when_switched_on(tmp_path):
    assert runner.transition_callbacks(load_recipe("open_rs2"), tmp_path) == []
    assert runner.transition_callbacks(load_recipe("tiny", transition_mode="off"), tmp_path) == []
    (observer,) = runner.transition_callbacks(load_recipe("tiny"), tmp_path)
    assert observer.mode == "observe"
    (callback,) = runner.transition_callbacks(load_recipe("tiny", transition_mode="stop", transition_patience=3),
                                              tmp_path)
    assert (type(callback).__name__, callback.mode, callback.patience) == ("TransitionCallback", "stop", 3)


# ---------------------------------------------------------------- tiny-world training (slow)
def _tiny(**overrides):
    base = dict(max_steps=4, save_steps=2, dataset_n=64, max_completion_length=40, log_completions=True)
    return load_recipe("tiny", **{**base, **overrides})


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """A tiny run stopped at step 2 of a 4-step schedule (one checkpoint), with its results root."""
    pytest.importorskip("tina_utils.rewards")
    root = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINA_RESULTS", str(root))
        record = runner.train(_tiny(stop_at_step=2, run_id="short"))
    return root, root / "02_train" / "short", record


@pytest.mark.slow
def test_tiny_run_writes_the_run_dir_contract(short_run):
    root, run_dir, record = short_run
    log = pd.read_csv(run_dir / "log.csv")
    assert log["step"].tolist() == [1, 2]
    for column in ["rewards/format_reward/mean", "rewards/accuracy_reward/mean", "completions/mean_length",
                   "completions/clipped_ratio", "reward", "learning_rate", "step_time"]:
        assert column in log.columns
    assert runs.checkpoint_steps(run_dir) == [2]
    assert (run_dir / "checkpoint-2" / "adapter_config.json").exists()
    assert json.loads((run_dir / "env.json").read_text())["trl"] == "1.16.0"
    assert load_recipe(run_dir / "recipe.yaml").stop_at_step == 2
    assert sorted(p.name for p in (run_dir / "completions").glob("*.parquet")) == [
        "completions_00001.parquet", "completions_00002.parquet"]
    ledger = pd.read_csv(root / "runs.csv")
    assert ledger["run_id"].tolist() == ["short"] and ledger["status"].tolist() == ["complete"]
    assert (record["steps"], record["checkpoints"], record["n_gpus"], record["gpu_type"]) == (2, 1, 0, "cpu")
    # the stretched schedule: training stopped at 2 while the LR schedule spans 4 steps
    state = json.loads((run_dir / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["max_steps"] == 4 and state["global_step"] == 2


@pytest.mark.slow
def test_killed_run_resumes_without_lost_or_duplicated_steps(short_run, tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    run_dir = tmp_path / "run"
    shutil.copytree(short_run[1], run_dir)
    first = pd.read_csv(run_dir / "log.csv")
    # Simulate a kill during step 3's checkpoint save: a logged step 3 and a half-written checkpoint-3.
    pd.concat([first, first.tail(1).assign(step=3, reward=-99.0)]).to_csv(run_dir / "log.csv", index=False)
    (run_dir / "checkpoint-3").mkdir()
    record = runner.train(_tiny(stop_at_step=4), run_dir)
    log = pd.read_csv(run_dir / "log.csv")
    assert log["step"].tolist() == [1, 2, 3, 4]  # nothing lost, nothing duplicated
    assert -99.0 not in log["reward"].tolist()  # the lost step was re-trained, not kept
    assert log.loc[:1, "reward"].tolist() == first["reward"].tolist()  # steps before the checkpoint untouched
    assert runs.checkpoint_steps(run_dir) == [2, 4]
    state = json.loads((run_dir / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and [h["step"] for h in state["log_history"] if "reward" in h] == [1, 2, 3, 4]
    assert (record["status"], record["steps"], record["checkpoints"]) == ("complete", 4, 2)


# ---------------------------------------------------------------- GPU smoke (real 1.5B architecture, random weights)
def _byte_tokenizer(path):
    """A byte-level BPE tokenizer with no merges (any text encodes), plus Qwen's special tokens; no download."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<｜begin▁of▁sentence｜>",
                                  eos_token="<｜end▁of▁sentence｜>", pad_token="<|fim_pad|>")
    tok.save_pretrained(path)
    return tok


@pytest.mark.gpu
@pytest.mark.skipif(not importlib.util.find_spec("vllm"), reason="needs vLLM")
def test_one_grpo_step_with_colocated_vllm_on_the_real_architecture(tmp_path, monkeypatch):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    pytest.importorskip("tina_utils.rewards")
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tok = _byte_tokenizer(tmp_path / "model")
    # DeepSeek-R1-Distill-Qwen-1.5B's config.json (Qwen2 1.5B), randomly initialised
    cfg = Qwen2Config(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                      num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=131072,
                      rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    Qwen2ForCausalLM(cfg).to(torch.bfloat16).save_pretrained(tmp_path / "model")
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path / "results"))
    recipe = load_recipe("open_rs2", model=str(tmp_path / "model"), dataset="tiny", dataset_n=16, max_steps=1,
                         stop_at_step=1, max_completion_length=64, vllm_max_model_length=1024,
                         vllm_gpu_memory_utilization=0.3, save_steps=1)
    record = runner.train(recipe, tmp_path / "run")
    log = pd.read_csv(tmp_path / "run" / "log.csv")
    assert record["steps"] == 1 and log["step"].tolist() == [1] and record["gpu_type"] != "cpu"
    assert log["completions/mean_length"].iloc[0] > 0 and runs.checkpoint_steps(tmp_path / "run") == [1]
