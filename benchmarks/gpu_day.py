"""One command for a lent GPU: the GPU tests, a paper recipe on r1-mini, vLLM multi-LoRA vs merge-and-reload, speed and
peak memory at the real 1.5B shapes, the bf16 merge at real shapes, and the memory estimate against the measured peak.

    HF_HUB_OFFLINE=1 python benchmarks/gpu_day.py              # CUDA: all steps within 10 minutes (H200)
    HF_HUB_OFFLINE=1 python benchmarks/gpu_day.py --dry-run    # the same code at tiny shapes on the CPU (< 2 min)
    python benchmarks/gpu_day.py --steps train,eval --no-vllm  # a subset, transformers generation only

Without CUDA it is always a dry run. Every step runs in its own process with its own time budget: a step that
fails or runs out of time is reported as such and the next one starts (a step that needs a failed one fails too).
Writes results/gpu_day/gpu_day.json (dry run: dry_run.json) and prints a table; exit code 1 when a step failed.
The 1.5B model is randomly initialised from the real config (no download): it never stops early, so generation
runs every completion to its limit (an upper bound on time).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tina_utils import env  # noqa: E402

# step: (GPU budget, dry-run budget) in seconds; the GPU budgets sum to 9.5 minutes
BUDGETS = {"gpu_tests": (120, 60), "train": (90, 60), "eval": (160, 60), "generate": (80, 45),
           "train_step": (60, 45), "merge": (45, 40), "memory": (15, 30)}


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

    from tina_utils import r1_mini

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
    """Local files in the real Hub schemas (tests/schema_fixtures.py) in the work dir: {name: path}."""
    sys.path.insert(0, str(ROOT / "tests"))
    import schema_fixtures

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
        out["estimate_gib"] = memory.train_memory(recipe, config=config, gpu_gib=memory.visible_gpu_gib()).total
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
                              data_paths={b: files[b] for b in benchmarks})
        seconds[name] = time.time() - started
    keys = ["checkpoint", "benchmark", "problem_id", "seed", "sample"]
    both = results[names[0]].samples.merge(results[names[1]].samples, on=keys, suffixes=("_a", "_b"))
    scores = results[names[0]].scores.merge(results[names[1]].scores, on=["checkpoint", "benchmark"])
    return {"backends": list(names), "checkpoints": int(scores.checkpoint.nunique()),
            "samples": len(both), "multi_lora_s": seconds[names[0]], "merged_s": seconds[names[1]],
            "merged_over_multi_lora": seconds[names[1]] / seconds[names[0]],
            "identical_completions": float((both.completion_a == both.completion_b).mean()),
            "same_verdicts": float((both.correct_a == both.correct_b).mean()),
            "max_score_diff": float((scores.value_x - scores.value_y).abs().max())}


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

    from tina_utils import r1_mini
    from tina_utils.train import load_recipe, memory

    measured = needs(ctx, "train_step")
    config = Qwen2Config(**r1_mini.REAL_CONFIG, **{**r1_mini.REAL_SIZES, "num_hidden_layers": measured["layers"]})
    est = memory.train_memory(real_recipe(ctx["dry"]), config=config, device=ctx["device"],
                              flash=measured["attention"] == "flash_attention_2")
    expected = est.total - est.components["vllm"]  # the step runs without vLLM
    out = {"estimate_gib": expected, "measured_gib": measured["peak_gib"],
           "error_pct": 100 * (expected - measured["peak_gib"]) / measured["peak_gib"], "components": est.components,
           "open_rs2_gib": memory.train_memory(load_recipe("open_rs2"), gpu_gib=memory.visible_gpu_gib()).total,
           "paper_eval_gib": memory.eval_memory("paper").total}
    train = ctx["work"] / "train.json"
    colocated = json.loads(train.read_text()) if train.exists() else {}
    if colocated.get("peak_gib") and colocated.get("estimate_gib"):
        out["colocated_error_pct"] = 100 * (colocated["estimate_gib"] - colocated["peak_gib"]) / colocated["peak_gib"]
    return out


STEPS = {name: globals()[f"step_{name}"] for name in BUDGETS}


# ---------------------------------------------------------------- one step in its own process
def run_step_here(name: str, work: Path, dry: bool, use_vllm: bool, fail: bool) -> None:
    """The child process: run one step and write its result to work/<name>.json."""
    import importlib.util

    import torch

    from tina_utils.train.machine import attention

    device = "cuda" if torch.cuda.is_available() and not dry else "cpu"
    ctx = {"work": work, "dry": dry, "device": device, "attention": attention("auto"),
           "vllm": use_vllm and device == "cuda" and importlib.util.find_spec("vllm") is not None}
    if fail:
        raise RuntimeError("failure injected with --fail")
    result = STEPS[name](ctx)
    (work / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))


# ---------------------------------------------------------------- the parent: every step in turn
def launch(name: str, work: Path, args, budget: float) -> dict:
    """Run one step in a subprocess within `budget` seconds; its result, or why it has none."""
    command = [sys.executable, str(Path(__file__).resolve()), "--step", name, "--work", str(work)]
    command += ["--dry-run"] * args.dry_run + ["--no-vllm"] * args.no_vllm + ["--fail", name] * (name in args.fail)
    child_env = {**os.environ, "TINA_RESULTS": str(work / "results"), "HF_HUB_OFFLINE": "1",
                 "TOKENIZERS_PARALLELISM": "false", **({"CUDA_VISIBLE_DEVICES": ""} if args.dry_run else {})}
    log = work / f"{name}.log"
    started = time.time()
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=child_env, cwd=ROOT,
                                start_new_session=True)  # its own process group: a timeout ends vLLM workers too
        try:
            code = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    row = {"seconds": round(time.time() - started, 1), "budget_s": round(budget)}
    result = work / f"{name}.json"
    if code == 0 and result.exists():
        return {"status": "ok", **json.loads(result.read_text()), **row}
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"\w*(Error|Exception)\b", line)]  # the raised one is last
    why = f"over its {budget:.0f} s budget" if code is None else (errors or lines or [""])[-1]
    return {"status": "timeout" if code is None else "failed", **row, "error": why.strip()[:300], "log": str(log)}


def summary_line(name: str, r: dict) -> tuple[str, str]:
    """(what was measured, the comparison) for the table."""
    if r["status"] != "ok":
        return r.get("error", ""), ""
    if name == "gpu_tests":
        return f"{r['passed']} passed, {r['skipped']} skipped, {r['failed']} failed", ""
    if name == "train":
        peak = f", peak {r['peak_gib']:.1f} GiB" if r.get("peak_gib") else ""
        return (f"{r['steps']} steps ({r['generation']}): {r['s_per_step']:.2f} s/step, "
                f"{r['generated_tokens_per_s']:,.0f} tok/s{peak}", "")
    if name == "eval":
        return (f"{r['checkpoints']} ckpts: multi-LoRA {r['multi_lora_s']:.0f} s, merged {r['merged_s']:.0f} s; "
                f"{r['identical_completions']:.0%} same text, max score diff {r['max_score_diff']:.1f}",
                f"merged/multi-LoRA {r['merged_over_multi_lora']:.2f}x")
    if name == "generate":
        return f"{r['engine']}: {r['sequences']} x {r['completion_tokens']} tokens, {r['tokens_per_s']:,.0f} tok/s", ""
    if name == "train_step":
        return (f"{r['micro_batches']} x {r['per_device']} x {r['sequence']} tokens: {r['s_per_step']:.2f} s/step, "
                f"peak {r['peak_gib']:.2f} GiB", "")
    if name == "merge":
        small, large = r["small"], r["large"]
        return (f"unchanged {small['unchanged_share']:.0%} / {large['unchanged_share']:.0%}, cosine "
                f"{small['delta_cosine']:.2f} / {large['delta_cosine']:.2f} (small / large B)",
                f"vs one layer {small['unchanged_share'] / small['one_layer_unchanged_share']:.2f}x")
    return (f"estimate {r['estimate_gib']:.2f} GiB vs measured {r['measured_gib']:.2f} GiB",
            f"error {r['error_pct']:+.1f} %")


def table(results: dict) -> str:
    """The printed table: one row per step."""
    rows = [("step", "status", "s", "result", "comparison")]
    rows += [(n, r["status"], f"{r['seconds']:.0f}", *summary_line(n, r)) for n, r in results.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4] for row in rows)


def parse(argv: list[str]):
    """Command-line options; bad input is a ValueError (one `error:` line, exit code 2)."""
    parser = env.cli_parser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU (automatic without CUDA)")
    parser.add_argument("--steps", default=",".join(BUDGETS), help=f"comma-separated subset of {','.join(BUDGETS)}")
    parser.add_argument("--fail", default="", help="steps that raise at once (checks that the others still run)")
    parser.add_argument("--no-vllm", action="store_true", help="transformers generation even where vLLM exists")
    parser.add_argument("--out", help="the JSON file (default results/gpu_day/gpu_day.json or dry_run.json)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for option in ("steps", "fail"):
        names = [n for n in getattr(args, option).split(",") if n]
        unknown = [n for n in names if n not in BUDGETS]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r} in --{option}; valid: {', '.join(BUDGETS)}")
        setattr(args, option, names)
    return args


def main(argv: list[str]) -> dict | None:
    """Run the selected steps, write the JSON and print the table; exit code 1 when a step did not finish."""
    args = parse(argv)
    if args.step:
        return run_step_here(args.step, Path(args.work), args.dry_run, not args.no_vllm, bool(args.fail))
    import torch

    if not torch.cuda.is_available() and not args.dry_run:
        print("no CUDA GPU: dry run (tiny shapes on the CPU)")
        args.dry_run = True
    name = "dry_run.json" if args.dry_run else "gpu_day.json"
    out = Path(args.out) if args.out else env.results_dir("gpu_day") / name
    work = out.parent / f"{out.stem}-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started, results = time.time(), {}
    deadline = started + sum(BUDGETS[n][args.dry_run] for n in args.steps)
    for i, name in enumerate(args.steps, 1):
        budget = min(BUDGETS[name][args.dry_run], max(5.0, deadline - time.time()))
        print(f"[{i}/{len(args.steps)}] {name} (budget {budget:.0f} s) ...", flush=True)
        results[name] = launch(name, work, args, budget)
        print(f"    {results[name]['status']} in {results[name]['seconds']:.0f} s", flush=True)
    report = {"dry_run": args.dry_run, "hardware": env.hardware(), "versions": env.versions(), "git_sha": env.git_sha(),
              "wall_s": round(time.time() - started, 1), "steps": results}
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(table(results))
    print(f"wrote {out} ({report['wall_s']:.0f} s)")
    if any(r["status"] != "ok" for r in results.values()):
        raise SystemExit(1)
    return report


if __name__ == "__main__":
    env.run_cli(main, sys.argv[1:])
