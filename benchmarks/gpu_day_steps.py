"""The steps of benchmarks/gpu_day.py, each run in its own process: what it measures and returns as a dict.

A step gets `ctx` (work dir, dry run, device, attention kernel, whether vLLM is used) and returns JSON-able numbers;
`needs` reads an earlier step's result. Dry runs use the same code at tiny shapes on the CPU.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# ---------------------------------------------------------------- helpers run inside a step's process
def shapes(dry: bool) -> dict:
    """open_rs2's shapes for the real-model steps (a few tokens in a dry run) and the r1-mini run's size."""
    if dry:
        return dict(layers=2, prompts=2, generations=2, per_device=2, prompt=16, completion=16,
                    train_steps=2, train_completion=16, eval_problems=2, eval_tokens=8)
    from tina_utils.train import batch_layout, load_recipe

    r = load_recipe("open_rs2")
    return dict(layers=28, prompts=r.prompts_per_step, generations=r.num_generations,
                per_device=batch_layout(r, 1)["per_device_train_batch_size"], prompt=r.max_prompt_length,
                completion=r.max_completion_length, train_steps=2, train_completion=256, eval_problems=4,
                eval_tokens=256)


def real_recipe(dry: bool):
    """open_rs2 at the shapes the real-model steps use."""
    from tina_utils.train import load_recipe

    s = shapes(dry)
    return load_recipe("open_rs2", prompts_per_step=s["prompts"], num_generations=s["generations"],
                       per_device_batch_size=s["per_device"], max_prompt_length=s["prompt"],
                       max_completion_length=s["completion"])


def random_model(ctx: dict, layers: int, vocab: int | None = None, normal: bool = False):
    """A randomly initialised bf16 Qwen2 of the real config with `layers` layers, on the step's device."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from transformers.initialization import no_init_weights

    from tina_utils.worlds import r1_mini

    sizes = {**r1_mini.REAL_SIZES, "num_hidden_layers": layers, **({"vocab_size": vocab} if vocab else {})}
    config = Qwen2Config(**r1_mini.REAL_CONFIG, **sizes, attn_implementation=ctx["attention"])
    torch.manual_seed(0)
    with torch.device(ctx["device"]), no_init_weights():
        model = Qwen2ForCausalLM._from_config(config, dtype=torch.bfloat16)
    with torch.no_grad():  # the real initializer_range; uniform is 2x faster where the values do not matter
        for name, param in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                param.fill_(1.0 if "norm" in name else 0.0)
            else:
                param.normal_(0, 0.02) if normal else param.uniform_(-0.02 * 3 ** 0.5, 0.02 * 3 ** 0.5)
    return model


def peak_gib(ctx: dict, reset: bool = False) -> float | None:
    """torch's peak allocated GPU memory in GiB (None on the CPU); reset starts a new peak."""
    import torch

    if ctx["device"] != "cuda":
        return None
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return torch.cuda.max_memory_allocated() / 2 ** 30


def needs(ctx: dict, step: str) -> dict:
    """The result of an earlier step, or an error naming it."""
    path = ctx["work"] / f"{step}.json"
    if not path.exists():
        raise RuntimeError(f"needs step {step!r}, which did not finish")
    return json.loads(path.read_text())


def fixtures(ctx: dict) -> dict:
    """Local files in the real Hub schemas (tests/support/schema_fixtures.py) in the work dir: {name: path}."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support import schema_fixtures

    return {k: str(v) for k, v in schema_fixtures.write_all(ctx["work"] / "fixtures").items()}


# ---------------------------------------------------------------- the steps
def step_gpu_tests(ctx: dict) -> dict:
    """`pytest -m gpu` on the test files that have GPU tests."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                   if "pytest.mark.gpu" in p.read_text())
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", *files],
                          cwd=ROOT, capture_output=True, text=True)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    counts = {kind.rstrip("s"): int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", last)}
    if proc.returncode != 0:
        raise RuntimeError(f"pytest -m gpu: {last or proc.stderr.strip()[-300:]}")
    return {"files": files, **{k: counts.get(k, 0) for k in ("passed", "failed", "skipped", "error")}}


def step_train(ctx: dict) -> dict:
    """open_rs2 on r1-mini for a few steps: bf16, vLLM colocated when available, else transformers generation."""
    import pandas as pd

    from tina_utils import devices
    from tina_utils.train import load_recipe, memory, runner

    s = shapes(ctx["dry"])
    recipe = load_recipe("open_rs2", model="r1-mini", dataset_path=fixtures(ctx)["open_rs"], run_id="gpu-day",
                         max_steps=s["train_steps"], stop_at_step=s["train_steps"], save_steps=1,
                         max_completion_length=s["train_completion"], log_completions=False, use_vllm=ctx["vllm"])
    peak_gib(ctx, reset=True)
    record = runner.train(recipe, ctx["work"] / "run")
    log = pd.read_csv(ctx["work"] / "run" / "log.csv")
    tokens = (log["completions/mean_length"] * recipe.prompts_per_step * recipe.num_generations).sum()
    out = {"generation": "vllm" if ctx["vllm"] else "transformers", "steps": int(record["steps"]),
           "checkpoints": int(record["checkpoints"]), "s_per_step": float(log["step_time"].mean()),
           "generated_tokens_per_s": float(tokens / log["step_time"].sum()), "peak_gib": peak_gib(ctx)}
    if ctx["device"] == "cuda":  # the estimate for this very run, for the memory step
        from transformers import AutoConfig

        from tina_utils import worlds

        config = AutoConfig.from_pretrained(worlds.resolve_model("r1-mini"))
        out["estimate_gib"] = memory.train_memory(recipe, config=config, gpu_gib=devices.visible_gpu_gib()).total
    return out


def step_eval(ctx: dict) -> dict:
    """Score the run's checkpoints with multi-LoRA serving and with merge-and-reload: agreement and time ratio."""
    from tina_utils.evaluate import get_preset, sweep

    needs(ctx, "train")
    s, files = shapes(ctx["dry"]), fixtures(ctx)
    benchmarks = ("math_500", "gpqa_diamond")
    preset = get_preset("robust", benchmarks=benchmarks, n_problems=s["eval_problems"], n_samples=1, seeds=(0,),
                        pass_ks=(1,), max_new_tokens=s["eval_tokens"], gpu_memory_utilization=0.3)
    names = ("vllm", "merged_vllm") if ctx["vllm"] else ("transformers", "merged_transformers")
    seconds, results = {}, {}
    for name in names:
        started = time.time()
        results[name] = sweep(ctx["work"] / "run", preset=preset, backend=name, out_dir=ctx["work"] / "eval" / name,
                              data_paths={b: files[b] for b in benchmarks}, validation=())  # timing the backends only
        seconds[name] = time.time() - started
    keys = ["checkpoint", "benchmark", "problem_id", "seed", "sample"]
    avg_at_n = robust_one_checkpoint(ctx, s, files, names[0])
    both = results[names[0]].samples.merge(results[names[1]].samples, on=keys, suffixes=("_a", "_b"))
    scores = results[names[0]].scores.merge(results[names[1]].scores, on=["checkpoint", "benchmark"])
    return {"backends": list(names), "checkpoints": int(scores.checkpoint.nunique()),
            "samples": len(both), "multi_lora_s": seconds[names[0]], "merged_s": seconds[names[1]],
            "merged_over_multi_lora": seconds[names[1]] / seconds[names[0]],
            "identical_completions": float((both.completion_a == both.completion_b).mean()),
            "same_verdicts": float((both.correct_a == both.correct_b).mean()),
            "max_score_diff": float((scores.value_x - scores.value_y).abs().max()), "avg_at_n": avg_at_n}


def robust_one_checkpoint(ctx: dict, s: dict, files: dict, backend: str) -> dict:
    """The robust preset's avg@n (n samples per problem on AIME24) for the run's last checkpoint: time and tokens."""
    from tina_utils import runs
    from tina_utils.evaluate import base_model_of, evaluate, get_preset
    from tina_utils.evaluate.core import samples_for

    preset = get_preset("robust", benchmarks=("aime24",), n_problems=s["eval_problems"],
                        max_new_tokens=s["eval_tokens"], gpu_memory_utilization=0.3)
    checkpoints = runs.find_checkpoints(ctx["work"] / "run")
    name, path = list(checkpoints.items())[-1]
    started = time.time()
    samples = evaluate(base_model_of(ctx["work"] / "run", checkpoints), ("aime24",), preset, backend, {name: path},
                       cache_path=ctx["work"] / "eval" / "robust.jsonl", data_paths={"aime24": files["aime24"]})
    seconds = time.time() - started
    n = samples_for(preset, "aime24") * len(preset.seeds)
    return {"checkpoint": name, "samples_per_problem": n, "problems": int(samples.problem_id.nunique()),
            "samples": len(samples), "seconds": seconds, "tokens_per_s": float(samples.n_tokens.sum()) / seconds,
            "pass@1": float(samples.correct.mean())}


def step_generate(ctx: dict) -> dict:
    """Generated tokens/s of the random 1.5B model on open_rs2's generation batch (vLLM, else HF generate)."""
    import torch

    from tina_utils import worlds

    s = shapes(ctx["dry"])
    model = random_model(ctx, s["layers"])
    tokenizer_dir = worlds.resolve_model("r1-mini")
    prompts = torch.randint(0, 700, (s["prompts"], s["prompt"]))  # learned BPE tokens of the r1-mini tokenizer
    if ctx["vllm"]:
        path = ctx["work"] / "real-model"
        model.save_pretrained(path)
        del model  # vLLM loads its own copy
        torch.cuda.empty_cache()
        return _generate_vllm(path, tokenizer_dir, prompts, s)
    completion = s["completion"] if ctx["dry"] else min(s["completion"], 512)  # HF decoding is slow: fewer tokens
    peak_gib(ctx, reset=True)
    started = time.time()
    with torch.no_grad():
        out = model.generate(prompts.to(ctx["device"]), attention_mask=torch.ones_like(prompts).to(ctx["device"]),
                             do_sample=True, temperature=0.7, top_p=1.0, top_k=0, max_new_tokens=completion,
                             min_new_tokens=completion, num_return_sequences=s["generations"], pad_token_id=0)
    seconds = time.time() - started
    tokens = (out.shape[1] - s["prompt"]) * out.shape[0]
    return {"engine": "transformers", "sequences": out.shape[0], "completion_tokens": completion, "tokens": tokens,
            "generate_s": seconds, "tokens_per_s": tokens / seconds, "peak_gib": peak_gib(ctx)}


def _generate_vllm(path: Path, tokenizer_dir, prompts, s: dict) -> dict:
    """The same batch through vLLM, from the saved random model with the r1-mini tokenizer."""
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(path)
    started = time.time()
    llm = LLM(model=str(path), dtype="bfloat16", max_model_len=s["prompt"] + s["completion"],
              gpu_memory_utilization=0.4, seed=0)  # open_rs2's colocated share
    startup = time.time() - started
    params = SamplingParams(n=s["generations"], temperature=0.7, max_tokens=s["completion"], ignore_eos=True)
    started = time.time()
    outs = llm.generate([{"prompt_token_ids": p.tolist()} for p in prompts], params, use_tqdm=False)
    seconds = time.time() - started
    tokens = sum(len(c.token_ids) for o in outs for c in o.outputs)
    return {"engine": "vllm", "sequences": s["prompts"] * s["generations"], "completion_tokens": s["completion"],
            "tokens": tokens, "generate_s": seconds, "tokens_per_s": tokens / seconds, "startup_s": startup}


def step_train_step(ctx: dict) -> dict:
    """s/step and peak memory of one LoRA r=32 optimizer step on open_rs2's batch, micro-batched per device."""
    import torch
    from peft import get_peft_model
    from trl.trainer.utils import add_fused_lm_head

    from tina_utils.train import memory, to_lora_config

    s, recipe = shapes(ctx["dry"]), real_recipe(ctx["dry"])
    model = random_model(ctx, s["layers"])
    add_fused_lm_head(model, outputs=("log_probs", "entropy"))  # TRL 1.16's GRPOTrainer scores this way
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, to_lora_config(recipe))
    model.enable_input_require_grads()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    length, rows = s["prompt"] + s["completion"], s["prompts"] * s["generations"]
    ids = torch.randint(0, 700, (rows, length), device=ctx["device"])
    mask = torch.ones_like(ids)
    mask[::s["per_device"], :3] = 0  # a left-padded prompt in every micro-batch, as GRPO batches have
    labels = ids.clone()
    labels[:, :s["prompt"]] = -100  # only completion tokens are scored

    def optimizer_step():
        for start in range(0, rows, s["per_device"]):
            part = slice(start, start + s["per_device"])
            with torch.autocast(ctx["device"], dtype=torch.bfloat16):
                out = model(input_ids=ids[part], attention_mask=mask[part], labels=labels[part], fused_lm_head=True)
            (-out.log_probs.sum() / labels[part].ne(-100).sum()).backward()
            del out
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    optimizer_step()  # warm-up: kernels, allocator and AdamW's states
    peak_gib(ctx, reset=True)
    tracker = memory.PeakTracker(skip=[*model.parameters(), *model.buffers(),
                                       *[t for st in optimizer.state.values() for t in st.values()]])
    started = time.time()
    if ctx["device"] == "cuda":
        optimizer_step()
        torch.cuda.synchronize()
    else:
        with tracker:
            optimizer_step()
    seconds = time.time() - started
    static = sum(t.numel() * t.element_size() for t in model.parameters())
    static += sum(t.numel() * t.element_size() for st in optimizer.state.values() for t in st.values())
    measured = peak_gib(ctx) if ctx["device"] == "cuda" else (static + tracker.peak) / 2 ** 30
    return {"layers": s["layers"], "sequences": rows, "per_device": s["per_device"], "sequence": length,
            "micro_batches": rows // s["per_device"], "attention": ctx["attention"], "s_per_step": seconds,
            "train_tokens_per_s": rows * length / seconds, "peak_gib": measured,
            "peak_source": "torch.cuda.max_memory_allocated" if ctx["device"] == "cuda" else "PeakTracker (CPU)"}


def step_merge(ctx: dict) -> dict:
    """What Tina's bf16 merge keeps of a LoRA update, over every layer of the real shapes (vs one layer on the CPU)."""
    import torch
    from peft import get_peft_model

    from tina_utils.evaluate import merge_rounding
    from tina_utils.train import load_recipe, to_lora_config

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_bf16_merge import MAGNITUDES

    model = random_model(ctx, shapes(ctx["dry"])["layers"], vocab=1024, normal=True).float()  # the head: no LoRA
    model = get_peft_model(model, to_lora_config(load_recipe("open_rs2", lora_dropout=0.0)))
    out = {}
    for key, (label, size) in zip(("small", "large"), MAGNITUDES.items()):
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.copy_(size * (torch.randint(0, 2, param.shape, device=param.device) * 2 - 1))
        stats = merge_rounding.delta_stats(merge_rounding.lora_pairs(model))
        layer = merge_rounding.real_layer_stats(size)
        out[key] = {"B": label, **stats, "one_layer_unchanged_share": layer["unchanged_share"],
                    "one_layer_delta_cosine": layer["delta_cosine"]}
    return out


def step_memory(ctx: dict) -> dict:
    """The memory estimate for the train_step's shapes against its measured peak (and for the colocated run)."""
    from transformers import Qwen2Config

    from tina_utils import devices
    from tina_utils.evaluate import get_preset
    from tina_utils.train import load_recipe, memory
    from tina_utils.worlds import r1_mini

    measured = needs(ctx, "train_step")
    config = Qwen2Config(**r1_mini.REAL_CONFIG, **{**r1_mini.REAL_SIZES, "num_hidden_layers": measured["layers"]})
    est = memory.train_memory(real_recipe(ctx["dry"]), config=config, device=ctx["device"],
                              flash=measured["attention"] == "flash_attention_2")
    expected = est.total - est.components["vllm"]  # the step runs without vLLM
    out = {"estimate_gib": expected, "measured_gib": measured["peak_gib"],
           "error_pct": 100 * (expected - measured["peak_gib"]) / measured["peak_gib"], "components": est.components,
           "open_rs2_gib": memory.train_memory(load_recipe("open_rs2"), gpu_gib=devices.visible_gpu_gib()).total,
           "paper_eval_gib": memory.eval_memory(get_preset("paper")).total}
    train = ctx["work"] / "train.json"
    colocated = json.loads(train.read_text()) if train.exists() else {}
    if colocated.get("peak_gib") and colocated.get("estimate_gib"):
        out["colocated_error_pct"] = 100 * (colocated["estimate_gib"] - colocated["peak_gib"]) / colocated["peak_gib"]
    return out


STEPS = {"gpu_tests": step_gpu_tests, "train": step_train, "eval": step_eval, "generate": step_generate,
         "train_step": step_train_step, "merge": step_merge, "memory": step_memory}
