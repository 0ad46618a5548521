"""Checkpoint-sweep speed: K adapters evaluated by switching LoRA adapters vs Tina's merge-and-reload, side by side.

    HF_HUB_OFFLINE=1 python benchmarks/bench_eval_sweep.py                # CPU: tiny world, transformers backend
    HF_HUB_OFFLINE=1 python benchmarks/bench_eval_sweep.py --gpu          # + vLLM multi-LoRA vs merged vLLM
    python benchmarks/bench_eval_sweep.py --gpu --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B  # real weights

Both paths see the same K random LoRA adapters, prompts, seeds and token budget, and start from an empty
cache, so the wall times include engine start-up and (for merging) writing and reloading the merged model.
With random 1.5B weights completions rarely stop early: every path generates to the limit.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tina_utils import env, runs  # noqa: E402
from tina_utils import evaluate as ev  # noqa: E402


def make_adapters(base: str, out: Path, k: int, rank: int, targets: list[str]) -> dict:
    """K random LoRA adapters (non-zero B) saved like checkpoint-N dirs; {"base": None, name: path}."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    adapters = {"base": None}
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=4 * rank, target_modules=targets,
                                                  init_lora_weights=False))
    for i in range(k):
        torch.manual_seed(i)
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_" in name:
                    param.normal_(0, 0.01)
        path = out / runs.checkpoint_name((i + 1) * 50)
        peft_model.save_pretrained(path)
        adapters[path.name] = path
    return adapters


def time_sweep(base: str, adapters: dict, preset, backend: str, scratch: Path) -> dict:
    """Wall time and generated tokens of one cold sweep (fresh cache file) on `backend`."""
    start = time.time()
    samples = ev.evaluate(base, preset.benchmarks, preset, backend, adapters,
                          cache_path=scratch / f"{backend}.jsonl")
    wall = time.time() - start
    return {"backend": backend, "checkpoints": len(adapters), "wall_s": round(wall, 1),
            "generated_tokens": int(samples.n_tokens.sum()), "pass@1": round(100 * samples.correct.mean(), 2)}


def compare(base: str, adapters: dict, preset, fast: str, slow: str, scratch: Path, label: str) -> None:
    """Run both paths one after the other and print them with the ratio."""
    a = time_sweep(base, adapters, preset, fast, scratch)
    b = time_sweep(base, adapters, preset, slow, scratch)
    print(f"{label}: {json.dumps(a)}")
    print(f"{label}: {json.dumps(b)}")
    print(f"{label}: merge-and-reload / adapter switching = {b['wall_s'] / max(a['wall_s'], 1e-9):.2f}x")


def main() -> None:
    """CPU tiny comparison always; with --gpu, vLLM multi-LoRA vs merged vLLM on a 1.5B model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4, help="checkpoints (the base model is evaluated too)")
    parser.add_argument("--gpu", action="store_true", help="also time vLLM multi-LoRA vs merged vLLM")
    parser.add_argument("--model", default=None, help="GPU base model; default: random R1-Distill-1.5B weights")
    parser.add_argument("--problems", type=int, default=64, help="GPU: tiny_eval problems per checkpoint")
    parser.add_argument("--max-new-tokens", type=int, default=512, help="GPU token budget per completion")
    args = parser.parse_args()
    print("environment:", json.dumps({**{k: env.versions()[k] for k in ("torch", "peft", "vllm")},
                                      "hardware": env.hardware()}))
    from tina_utils.worlds import tiny

    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        base = str(tiny.build())
        adapters = make_adapters(base, scratch / "tiny", args.k, 16, ["q_proj", "k_proj", "v_proj", "o_proj",
                                                                     "gate_proj", "up_proj", "down_proj"])
        preset = ev.get_preset("tiny", n_problems=20, n_samples=2)
        compare(base, adapters, preset, "transformers", "merged_transformers", scratch, "tiny (CPU)")
        if args.gpu:
            from bench_train import _random_r1_distill

            model = args.model or _random_r1_distill(scratch / "r1")
            adapters = make_adapters(model, scratch / "r1-adapters", args.k, 32,
                                     ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
            preset = ev.get_preset("paper", benchmarks=("tiny_eval",), n_problems=args.problems,
                                   max_new_tokens=args.max_new_tokens, max_model_len=4096,
                                   gpu_memory_utilization=0.6)
            compare(model, adapters, preset, "vllm", "merged_vllm", scratch, "R1-Distill-1.5B (GPU)")


if __name__ == "__main__":
    main()
