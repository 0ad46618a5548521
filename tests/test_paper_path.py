"""The paper path on a CPU: every paper recipe trains on r1-mini from local files in the real schemas, the evaluation
CLI scores a run on local files of the six benchmarks, and bad input is one line with exit code 2.

Run: pytest tests/test_paper_path.py   (about 4 minutes on 2 cores; marked slow, part of `make test`)
"""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from support import schema_fixtures

from tina_utils import devices, env, worlds
from tina_utils.data.benchmarks import PAPER_BENCHMARKS
from tina_utils.train import list_recipes, load_recipe, runner

pytestmark = pytest.mark.slow
PAPER_RECIPES = [name for name in list_recipes() if not name.startswith("tiny")]
CPU_OVERRIDES = ["--model", "r1-mini", "--use_vllm", "false", "--max_steps", "2", "--stop_at_step", "2",
                 "--save_steps", "1", "--max_completion_length", "32"]
OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return schema_fixtures.write_all(tmp_path_factory.mktemp("fixtures"))


def command(recipe: str, dataset_path, run_dir, steps: int = 2) -> list[str]:
    """The documented CPU command for `recipe` (two steps; `steps` shortens it)."""
    data = ["--dataset_path", str(dataset_path)]
    length = ["--max_steps", str(steps), "--stop_at_step", str(steps)]
    return [recipe, *CPU_OVERRIDES[:4], *data, *length, *CPU_OVERRIDES[8:], "--run_dir", str(run_dir)]


def test_there_are_24_paper_recipes():
    assert len(PAPER_RECIPES) == 24 and "tina" in PAPER_RECIPES and "open_rs2" in PAPER_RECIPES


def test_fixture_files_have_the_real_schemas_and_lose_no_row(files):
    from tina_utils import data

    for name in schema_fixtures.TRAIN_SETS:
        prepared = data.load_train_dataset(name, path=files[name])
        assert data.prep_stats(prepared)["dropped_unparseable_gold"] == 0 and len(prepared) == 16, name
        assert (name == "l1") == ("target_length" in prepared.column_names)
    for name in schema_fixtures.BENCHMARKS:
        rows = data.load_benchmark(name, path=files[name])
        assert json.loads(rows.info.description)["unparseable_gold"] == 0 and len(rows) == 6, name
    assert set(data.load_benchmark("gpqa_diamond", path=files["gpqa_diamond"])["gold"]) <= set("ABCD")
    assert data.load_benchmark("amc23", path=files["amc23"])[0]["gold"].lstrip("-").isdigit()  # 27.0 -> "27"


@pytest.fixture(scope="module")
def cli_run(files, tmp_path_factory):
    """The documented command for open_rs2, run as a user runs it (a fresh process, offline)."""
    run_dir = tmp_path_factory.mktemp("runs") / "open_rs2"
    results = tmp_path_factory.mktemp("results")
    proc = subprocess.run([sys.executable, "-m", "tina_utils.train", *command("open_rs2", files["open_rs"], run_dir)],
                          capture_output=True, text=True, env={**OFFLINE, "TINA_RESULTS": str(results)}, timeout=600)
    return proc, run_dir, results


def test_the_documented_command_trains_open_rs2_on_cpu_and_says_what_it_adapted(cli_run):
    proc, run_dir, results = cli_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "open_rs2: use_cpu False -> True (no CUDA GPU" in proc.stdout
    kernel = devices.attention("auto")  # sdpa, or eager where this CPU's bf16 sdpa kernel fails
    assert f"open_rs2: attn_implementation 'auto' -> '{kernel}'" in proc.stdout
    record = json.loads(proc.stdout[proc.stdout.index("{\n"):])
    assert record["status"] == "complete" and record["steps"] == 2 and record["checkpoints"] == 2
    runs = pd.read_csv(results / "runs.csv")
    assert runs.loc[runs.run_id == "open_rs2", "status"].tolist() == ["complete"]


@pytest.mark.parametrize("name", PAPER_RECIPES)
def test_every_paper_recipe_trains_on_cpu_with_the_documented_command(name, files, tmp_path, monkeypatch, capsys):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tina_utils.rewards import functions

    seen_columns = []
    column = functions._column

    def recording_column(kwargs, key, n, reward):
        seen_columns.append((reward, key))
        return column(kwargs, key, n, reward)

    monkeypatch.setattr(functions, "_column", recording_column)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = load_recipe(name)
    run_dir = tmp_path / name
    record = runner.main(command(name, files[recipe.dataset], run_dir, steps=1))  # the CLI test runs both steps
    assert record["status"] == "complete" and record["steps"] == 1
    assert "use_cpu False -> True" in capsys.readouterr().out
    tokenizer = AutoTokenizer.from_pretrained(worlds.resolve_model("r1-mini"))
    logged = pd.read_csv(run_dir / "log.csv")
    for func in runner.reward_functions(recipe, tokenizer):
        assert logged[f"rewards/{func.__name__}/mean"].notna().all(), func.__name__
    if recipe.dataset == "l1":  # the sampled target length reaches the L1 reward
        assert (f"{recipe.reward_funcs[0]}_reward", "target_length") in seen_columns
    base = AutoModelForCausalLM.from_pretrained(worlds.resolve_model("r1-mini"))
    adapter = PeftModel.from_pretrained(base, run_dir / "checkpoint-1")
    assert adapter.peft_config["default"].r == recipe.lora_r
    runs = pd.read_csv(env.results_dir() / "runs.csv")
    assert runs.loc[runs.run_id == name, "status"].tolist() == ["complete"]


def _answer_like_the_gold(record: dict, gold: str, profile: str) -> str:
    """A completion the grader must accept: the letter for GPQA, the boxed answer otherwise."""
    return {"letter": f"Answer: {gold}", "expr": f"so \\boxed{{{gold}}}"}.get(profile, gold)


def test_evaluation_cli_scores_a_run_on_local_files_of_the_six_benchmarks(cli_run, files, tmp_path):
    from tina_utils.evaluate import cli

    _, run_dir, _ = cli_run
    argv = [str(run_dir), "--preset", "paper", "--n_problems", "3", "--max_new_tokens", "8",
            "--backend", "transformers",
            "--out", str(tmp_path), *[f"--data={name}={files[name]}" for name in PAPER_BENCHMARKS]]
    proc = subprocess.run([sys.executable, "-m", "tina_utils.evaluate", *argv], capture_output=True, text=True,
                          env=OFFLINE, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert set(scores.checkpoint) == {"base", "checkpoint-1", "checkpoint-2"}
    assert set(scores.benchmark) == set(PAPER_BENCHMARKS) and (scores.n_problems == 3).all()
    samples = pd.read_json(tmp_path / "samples.jsonl", lines=True)
    assert set(samples.profile) == {"expr", "latex", "letter"} and samples.graded.all()
    assert (samples.n_tokens <= 8).all()
    # Rewrite every cached completion into one the grader must accept: the rerun reads the cache only and every
    # profile (GPQA's letter path included) scores 100.
    golds = {(s.benchmark, str(s.problem_id)): (s.gold, s.profile) for s in samples.itertuples()}
    cache = tmp_path / "generations.jsonl"
    records = [json.loads(line) for line in cache.read_text().splitlines()]
    for record in records:
        record["text"] = _answer_like_the_gold(record, *golds[(record["benchmark"], str(record["problem_id"]))])
    cache.write_text("".join(json.dumps(record) + "\n" for record in records))
    cli.main(argv)
    rescored = pd.read_csv(tmp_path / "scores.csv")
    assert (rescored.value == 100).all(), rescored
    letters = pd.read_json(tmp_path / "samples.jsonl", lines=True).query("profile == 'letter'")
    assert (letters.extracted == letters.gold).all()


def test_evaluation_cli_scores_a_model_by_name(files, tmp_path, monkeypatch):
    from tina_utils.evaluate import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cli.main(["r1-mini", "--benchmarks", "gpqa_diamond", "--data", f"gpqa_diamond={files['gpqa_diamond']}",
              "--n_problems", "2", "--max_new_tokens", "4", "--out", str(tmp_path)])
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert scores[["checkpoint", "benchmark", "n_problems"]].values.tolist() == [["base", "gpqa_diamond", 2]]
