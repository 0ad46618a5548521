"""benchmarks/gpu_day.py: its dry run on the CPU runs every step with real numbers, a failing or slow step is reported
while the others still run, and bad input is one line with exit code 2.

Run: pytest tests/test_gpu_day.py   (about 2 minutes on 2 cores; the dry runs are marked slow)
"""

import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_day.py"
STEPS = ["gpu_tests", "train", "eval", "generate", "train_step", "merge", "memory"]


def gpu_day(tmp_path, *args) -> subprocess.CompletedProcess:
    """The command as a user runs it, offline, writing under tmp_path."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "TINA_RESULTS": str(tmp_path / "results")}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
def test_the_dry_run_runs_every_step_with_real_numbers(tmp_path):
    from tina_utils.train import load_recipe, memory

    proc = gpu_day(tmp_path, "--dry-run")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    report = json.loads((tmp_path / "results" / "gpu_day" / "dry_run.json").read_text())
    steps = report["steps"]
    assert report["dry_run"] is True and list(steps) == STEPS
    assert all(r["status"] == "ok" and 0 < r["seconds"] <= r["budget_s"] for r in steps.values()), steps
    tests = steps["gpu_tests"]
    assert tests["skipped"] >= 2 and tests["failed"] == tests["passed"] == 0  # no CUDA: every GPU test skips
    assert {"tests/test_train.py", "tests/test_evaluate.py"} <= set(tests["files"])
    train = steps["train"]
    assert (train["steps"], train["checkpoints"], train["generation"]) == (2, 2, "transformers")
    assert train["s_per_step"] > 0 and train["generated_tokens_per_s"] > 0
    ev = steps["eval"]
    assert ev["backends"] == ["transformers", "merged_transformers"]
    assert ev["checkpoints"] == 3 and ev["samples"] == 3 * 2 * 2  # base + 2 checkpoints x 2 benchmarks x 2 problems
    assert ev["merged_over_multi_lora"] == pytest.approx(ev["merged_s"] / ev["multi_lora_s"])
    assert 0 <= ev["identical_completions"] <= 1 and ev["max_score_diff"] >= 0
    robust = ev["avg_at_n"]  # the robust preset on one checkpoint: 4 samples x 5 seeds per AIME problem
    assert (robust["checkpoint"], robust["samples_per_problem"], robust["problems"]) == ("checkpoint-2", 20, 2)
    assert robust["samples"] == 40 and robust["seconds"] > 0 and 0 <= robust["pass@1"] <= 1
    assert "avg@20 of one checkpoint" in proc.stdout
    generate = steps["generate"]
    assert generate["tokens"] == 2 * 2 * 16 and generate["tokens_per_s"] > 0
    step = steps["train_step"]
    assert step["micro_batches"] == 2 and step["s_per_step"] > 0 and step["train_tokens_per_s"] > 0
    assert step["peak_gib"] > 1.04  # the 2-layer real-vocabulary model's bf16 weights alone are 1.04 GiB
    small, large = steps["merge"]["small"], steps["merge"]["large"]
    assert 0 < large["unchanged_share"] < small["unchanged_share"] < 1 and small["delta_cosine"] < large["delta_cosine"]
    mem = steps["memory"]
    assert mem["measured_gib"] == step["peak_gib"] and abs(mem["error_pct"]) < 5
    assert mem["open_rs2_gib"] == pytest.approx(memory.train_memory(load_recipe("open_rs2")).total)
    for name in STEPS:
        assert f"\n{name} " in proc.stdout
    assert "merged/multi-LoRA" in proc.stdout and "error " in proc.stdout


@pytest.mark.slow
def test_a_failing_step_is_reported_and_the_next_ones_still_run(tmp_path):
    out = tmp_path / "report.json"
    proc = gpu_day(tmp_path, "--dry-run", "--steps", "gpu_tests,merge,memory", "--fail", "gpu_tests", "--out", str(out))
    assert proc.returncode == 1, proc.stderr[-2000:]
    steps = json.loads(out.read_text())["steps"]
    assert steps["gpu_tests"]["status"] == "failed" and "failure injected with --fail" in steps["gpu_tests"]["error"]
    assert steps["merge"]["status"] == "ok" and steps["merge"]["large"]["unchanged_share"] > 0
    assert steps["memory"]["status"] == "failed" and "needs step 'train_step'" in steps["memory"]["error"]
    assert "failure injected" in proc.stdout  # the table shows why


def test_a_step_over_its_budget_is_stopped_and_reported(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_day as module

    args = Namespace(dry_run=True, no_vllm=False, fail=[])
    result = module.launch("merge", tmp_path, args, budget=0.5)  # the child cannot even import torch in time
    assert result["status"] == "timeout" and result["error"].startswith("over its") and "budget" in result["error"]
    assert result["seconds"] < 5 and not (tmp_path / "merge.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--steps", "trian"], "unknown step 'trian' in --steps; valid: gpu_tests, train, eval"),
    (["--fail", "nope"], "unknown step 'nope' in --fail"),
    (["--budget", "3"], "unrecognized arguments: --budget 3")])
def test_bad_input_is_one_line_with_exit_code_2(argv, message, tmp_path):
    proc = gpu_day(tmp_path, *argv)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""
