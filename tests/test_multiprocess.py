"""Two real processes on a CPU (`accelerate launch`, gloo) for training and for the evaluation sweep.

Training: the tiny recipe and open_rs2 on r1-mini hold the same completions per optimizer step as one process;
rank 0 alone writes log.csv, runs.csv, the record and each checkpoint's marker; a launch killed with SIGKILL
resumes with no step lost or logged twice. Evaluation: two processes share the (checkpoint, benchmark, seed)
units, merge through the JSONL cache, give the same samples as one process, and regenerate nothing after a kill.
Run: pytest tests/test_multiprocess.py   (about 3 min on 2 cores; marked slow, part of `make test`)
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from support import schema_fixtures
from support.processes import free_port, kill_tree

from tina_utils.evaluate import cache as eval_cache
from tina_utils.evaluate import provenance

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CPU_CONFIG = ROOT / "tina_utils" / "train" / "recipes" / "accelerate" / "cpu.yaml"
TINY = ["tiny", "--save_steps", "2"]


def command(module: str, args: list[str], processes: int) -> list[str]:
    """`python -m module args`, or the same under `accelerate launch` with the shipped CPU config."""
    if processes == 1:
        return [sys.executable, "-m", module, *args]
    launcher = Path(sys.executable).parent / "accelerate"
    return [str(launcher), "launch", "--config_file", str(CPU_CONFIG), "--num_processes", str(processes),
            "--main_process_port", free_port(), "-m", module, *args]


@pytest.fixture
def environment(tmp_path):
    return {**os.environ, "TINA_RESULTS": str(tmp_path / "results"), "HF_HUB_OFFLINE": "1"}


def run(module, args, processes, environment) -> str:
    done = subprocess.run(command(module, args, processes), cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def launch_and_kill(module, args, environment, ready) -> None:
    """Start a 2-process launch and SIGKILL the launcher and its workers as soon as `ready()` holds."""
    process = subprocess.Popen(command(module, args, 2), cwd=ROOT, env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not ready() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the launch ended before it could be killed"
    kill_tree(process.pid)  # the launcher and both workers, as a crash of the machine would
    process.wait()


def completions_per_step(run_dir: Path) -> dict:
    """{step: (completions, distinct prompts, completions per prompt)} from TRL's gathered completion logs."""
    table = pd.concat(pd.read_parquet(path) for path in sorted((run_dir / "completions").glob("*.parquet")))
    return {int(step): (len(part), part.prompt.astype(str).nunique(),
                        sorted(set(part.prompt.astype(str).value_counts())))
            for step, part in table.groupby("step")}


def without_provenance(path: Path) -> pd.DataFrame:
    """A samples or scores file without its provenance, which names the number of processes (different on purpose)."""
    table = pd.read_json(path, lines=True) if path.suffix == ".jsonl" else pd.read_csv(path)
    return table.drop(columns=["provenance", *provenance.COLUMNS], errors="ignore")


def check_rank_zero_files(run_dir: Path, steps: int, results: Path) -> None:
    """One log row per step, one runs.csv row, every checkpoint marked by rank 0 after both ranks saved."""
    log = pd.read_csv(run_dir / "log.csv")
    assert log.step.tolist() == list(range(1, steps + 1))
    runs = pd.read_csv(results / "runs.csv")
    assert runs.run_id.tolist().count(run_dir.name) == 1
    assert runs.set_index("run_id").loc[run_dir.name, "status"] == "complete"
    for checkpoint in run_dir.glob("checkpoint-*"):
        marker = json.loads((checkpoint / ".complete").read_text())
        assert marker["world_size"] == 2 and {"rng_state_0.pth", "rng_state_1.pth"} <= set(marker["files"])


def test_two_processes_train_the_same_steps_as_one_and_only_rank_zero_writes(tmp_path, environment):
    results = tmp_path / "results"
    one, two = tmp_path / "one", tmp_path / "two"
    run("tina_utils.train", [*TINY, "--max_steps", "4", "--run_dir", str(one)], 1, environment)
    printed = run("tina_utils.train", [*TINY, "--max_steps", "4", "--run_dir", str(two)], 2, environment)
    assert printed.count('"run_id": "two"') == 1  # one record per launch
    assert json.loads((two / "env.json").read_text())["world_size"] == 2
    assert completions_per_step(one) == completions_per_step(two) == {s: (32, 4, [8]) for s in range(1, 5)}
    state = json.loads((two / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["train_batch_size"] == 16  # each process half of the 32 completions, one micro-step
    check_rank_zero_files(two, 4, results)


def test_a_killed_two_process_run_resumes_with_nothing_lost_or_logged_twice(tmp_path, environment):
    results, run_dir = tmp_path / "results", tmp_path / "killed"
    args = [*TINY, "--max_steps", "6", "--run_dir", str(run_dir)]
    launch_and_kill("tina_utils.train", args, environment, lambda: (run_dir / "checkpoint-2" / ".complete").exists())
    assert not (run_dir / "checkpoint-6").exists()
    assert pd.read_csv(results / "runs.csv").set_index("run_id").loc["killed", "status"] == "running"
    run("tina_utils.train", args, 2, environment)
    check_rank_zero_files(run_dir, 6, results)
    assert sorted(int(p.name.split("-")[1]) for p in run_dir.glob("checkpoint-*")) == [2, 4, 6]
    assert set(completions_per_step(run_dir)) == set(range(1, 7))


def test_a_paper_recipe_on_r1_mini_trains_under_two_processes(tmp_path, environment):
    files = schema_fixtures.write_all(tmp_path / "fixtures")
    run_dir = tmp_path / "open_rs2"
    environment["TINA_HOME"] = str(tmp_path / "home")  # both processes build r1-mini at once: neither may break
    run("tina_utils.train", ["open_rs2", "--model", "r1-mini", "--use_vllm", "false", "--dataset_path",
                             str(files["open_rs"]), "--max_steps", "2", "--stop_at_step", "2", "--save_steps", "1",
                             "--max_completion_length", "16", "--run_dir", str(run_dir)], 2, environment)
    assert completions_per_step(run_dir) == {1: (48, 8, [6]), 2: (48, 8, [6])}  # Tina's 8 prompts x 6
    state = json.loads((run_dir / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["train_batch_size"] == 6  # 6 per micro-step, 4 micro-steps per process (Tina's 2-GPU layout)
    check_rank_zero_files(run_dir, 2, tmp_path / "results")
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["r1-mini-v2-seed0"]  # no staging dir left


def test_two_processes_share_the_evaluation_and_a_killed_sweep_regenerates_nothing(tmp_path, environment):
    run_dir = tmp_path / "run"
    run("tina_utils.train", ["tiny", "--save_steps", "1", "--max_steps", "3", "--run_dir", str(run_dir)], 1,
        environment)
    evaluate, ALL = ["--preset", "tiny", "--n_problems", "3"], 4 * 2 * 3 * 4
    run("tina_utils.evaluate", [str(run_dir), *evaluate, "--out", str(tmp_path / "one")], 1, environment)
    out = tmp_path / "two"
    cache = out / "generations.jsonl"

    def some_generated():
        return any(path.stat().st_size for path in eval_cache.shard_paths(cache))

    launch_and_kill("tina_utils.evaluate", [str(run_dir), *evaluate, "--out", str(out)], environment, some_generated)
    kept = len(eval_cache.read_records(cache)) + sum(len(eval_cache.read_records(p))
                                                      for p in eval_cache.shard_paths(cache))
    assert 0 < kept < ALL  # 3 checkpoints + base x 2 splits (tests, validation) x 3 problems x 4 samples
    printed = run("tina_utils.evaluate", [str(run_dir), *evaluate, "--out", str(out)], 2, environment)
    assert f"cache: {kept} hits, {ALL - kept} generated" in printed
    assert eval_cache.shard_paths(cache) == []
    lines = cache.read_text().splitlines()
    assert len(lines) == len({json.loads(line)["key"] for line in lines}) == ALL
    one = tmp_path / "one"
    pd.testing.assert_frame_equal(without_provenance(out / "samples.jsonl"), without_provenance(one / "samples.jsonl"))
    pd.testing.assert_frame_equal(without_provenance(out / "scores.csv"), without_provenance(one / "scores.csv"))
    processes = [set(pd.read_csv(folder / "scores.csv").n_processes) for folder in (one, out)]
    assert processes == [{1}, {2}]
    again = run("tina_utils.evaluate", [str(run_dir), *evaluate, "--out", str(out)], 1, environment)
    assert f"cache: {ALL} hits, 0 generated" in again
