"""Training speed: tiny-world steps/s (CPU); on a GPU, s per Tina-equivalent step, generated tokens/s, peak memory.

    HF_HUB_OFFLINE=1 python benchmarks/bench_train.py                 # tiny world (CPU), 10 steps
    HF_HUB_OFFLINE=1 python benchmarks/bench_train.py --gpu --steps 3 # + open_rs2 step on a random 1.5B model
    python benchmarks/bench_train.py --gpu --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B  # the real weights

A Tina-equivalent step is one optimizer step of open_rs2: 8 prompts x 6 completions of up to 3584 tokens.
Random weights never emit EOS, so every completion runs to the limit: an upper bound on generation time.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tina_utils import env, train  # noqa: E402
from tina_utils.train import load_recipe  # noqa: E402

MEASURED_TINY_STEPS_PER_S = 80 / 30  # a feasibility run of the tiny world: 80 steps in 30 s (lr 1e-3)


def _summary(run_dir: Path, wall: float) -> dict:
    """Steps, per-step time from TRL's `step_time`, and generated tokens from the logged mean lengths."""
    log = pd.read_csv(run_dir / "log.csv")
    args = json.loads((run_dir / "env.json").read_text())
    recipe = load_recipe(run_dir / "recipe.yaml")
    completions = recipe.prompts_per_step * recipe.num_generations
    tokens = (log["completions/mean_length"] * completions).sum()
    step_time = log["step_time"].sum()
    return {"hardware": args["hardware"], "steps": len(log), "wall_s": round(wall, 1),
            "s_per_step": round(step_time / len(log), 3), "steps_per_s": round(len(log) / step_time, 3),
            "generated_tokens_per_s": round(tokens / step_time, 1), "completions_per_step": completions}


def bench_tiny(steps: int) -> dict:
    """Train the tiny recipe for `steps` steps in a scratch dir."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TINA_RESULTS"] = tmp  # keep the benchmark's row out of results/runs.csv
        recipe = load_recipe("tiny", max_steps=steps, save_steps=steps, dataset_n=256, log_completions=False)
        start = time.time()
        train.train(recipe, Path(tmp) / "run")
        out = _summary(Path(tmp) / "run", time.time() - start)
    out["vs_measured_feasibility_run"] = round(out["steps_per_s"] / MEASURED_TINY_STEPS_PER_S, 2)
    return out


def _random_r1_distill(path: Path) -> str:
    """Save a randomly initialised model of R1-Distill-Qwen-1.5B's architecture plus a byte-level tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_train import _byte_tokenizer

    tok = _byte_tokenizer(path)
    cfg = Qwen2Config(vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                      num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=131072,
                      rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=False,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    Qwen2ForCausalLM(cfg).to(torch.bfloat16).save_pretrained(path)
    return str(path)


def bench_gpu(steps: int, model: str | None, dataset: str, completion: int) -> dict:
    """open_rs2 on one GPU (colocated vLLM) for `steps` steps; peak memory from the torch allocator."""
    import torch

    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TINA_RESULTS"] = tmp
        model = model or _random_r1_distill(Path(tmp) / "model")
        recipe = load_recipe("open_rs2", model=model, dataset=dataset, dataset_n=8 * (steps + 1),
                             max_steps=1500, stop_at_step=steps, save_steps=steps, max_completion_length=completion,
                             log_completions=False)
        start = time.time()
        train.train(recipe, Path(tmp) / "run")
        out = _summary(Path(tmp) / "run", time.time() - start)
    out["peak_torch_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    out["gpu"] = torch.cuda.get_device_name(0)
    return out


def main() -> None:
    """Print the tiny benchmark and, with --gpu, the Tina-equivalent step benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny-steps", type=int, default=10)
    parser.add_argument("--gpu", action="store_true", help="also time open_rs2 steps (needs CUDA + vLLM)")
    parser.add_argument("--steps", type=int, default=3, help="GPU steps (the first includes vLLM warm-up)")
    parser.add_argument("--model", default=None, help="hub id/path; default: random 1.5B weights (no download)")
    parser.add_argument("--dataset", default="tiny", help="training set for the GPU run (tiny: offline)")
    parser.add_argument("--completion", type=int, default=3584, help="max completion tokens (Tina: 3584)")
    args = parser.parse_args()
    print("environment:", json.dumps({k: env.versions()[k] for k in ("torch", "trl", "vllm")}))
    print("tiny world:", json.dumps(bench_tiny(args.tiny_steps)))
    if args.gpu:
        print("Tina-equivalent step:", json.dumps(bench_gpu(args.steps, args.model, args.dataset, args.completion)))


if __name__ == "__main__":
    main()
