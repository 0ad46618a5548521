"""LoRA + GRPO training of a Tina recipe with TRL 1.16: resumable runs, log.csv, runs.csv, and a CLI.

    python -m tina_utils.train open_rs2                    # 1 GPU: vLLM colocated on the training GPU
    python -m tina_utils.train tiny --max_steps 20         # CPU tiny world; any recipe key as --key value
    accelerate launch --config_file tina_utils/train/recipes/accelerate/zero2.yaml --num_processes 2 \\
        -m tina_utils.train open_rs2                       # 2 GPUs, ZeRO-2, each process with its own colocated vLLM

Server mode (generation on its own GPU, e.g. 1 vLLM GPU + 2 training GPUs; `trl vllm-serve` syncs weights over
NCCL, so start it first and keep it running):

    CUDA_VISIBLE_DEVICES=0 trl vllm-serve --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B \\
        --gpu_memory_utilization 0.9 --max_model_len 4608 --enable_prefix_caching true
    CUDA_VISIBLE_DEVICES=1,2 accelerate launch --config_file tina_utils/train/recipes/accelerate/zero2.yaml \\
        --num_processes 2 -m tina_utils.train open_rs2 --vllm_mode server

Gradient accumulation is derived from the number of processes, so every setup trains on 8 prompts x G
completions per optimizer step (1 GPU: 8 micro-steps; 2: 4, as Tina; 4: 2; 8: 1). The LR schedule spans
`max_steps` while training stops at `stop_at_step` (Tina's stretched schedule). Rerunning the same command
resumes from the newest complete checkpoint (marked by `.complete` after TRL finished writing it).
Used in: notebook 02 §2-§4; `ensure_tiny_run` backs notebooks 03-05.
"""

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml
from transformers import TrainerCallback

from tina_utils import env
from tina_utils.devices import attention
from tina_utils.runs import (
    checkpoint_name,
    checkpoint_steps,
    last_complete_checkpoint,
    mark_complete,
    new_run_dir,
    remove_incomplete_checkpoints,
    runs_csv,
)
from tina_utils.train.config import load_recipe, to_dict, validate
from tina_utils.train.config import run_id as make_run_id
from tina_utils.train.machine import adapt_to_machine, use_cpu_devices
from tina_utils.train.recipe_map import to_grpo_config, to_lora_config
from tina_utils.train.recipe_schema import REWARD_PARAMS, Recipe
from tina_utils.train.runlog import LogCsvCallback, read_run_state, upsert_run, write_run_state


class StopAtStep(TrainerCallback):
    """Stop (and checkpoint) at `stop_at_step` while the scheduler keeps its longer horizon; also save the last step."""

    def __init__(self, stop_at_step: int | None):
        self.stop_at_step = stop_at_step

    def on_step_end(self, args, state, control, **kwargs):
        if self.stop_at_step is not None and state.global_step >= self.stop_at_step:
            control.should_training_stop = True
        if control.should_training_stop or state.global_step >= state.max_steps:
            control.should_save = True  # the final step always has a checkpoint
        return control


class MarkComplete(TrainerCallback):
    """Write `checkpoint-N/.complete` once the Trainer has written every file of checkpoint N."""

    def on_save(self, args, state, control, **kwargs):
        from accelerate import PartialState

        PartialState().wait_for_everyone()  # every rank has written its RNG state file before the marker
        if state.is_world_process_zero:
            mark_complete(Path(args.output_dir) / checkpoint_name(state.global_step), args.world_size)
        return control


def load_model_and_tokenizer(recipe: Recipe):
    """The policy model (bf16 or fp32) and its tokenizer with Tina's pad token and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tina_utils import worlds

    path = worlds.resolve_model(recipe.model)
    tokenizer = env.from_hub(AutoTokenizer.from_pretrained, path)
    if recipe.pad_token:
        tokenizer.pad_token = recipe.pad_token
    if recipe.chat_template == "reason":
        from tina_utils.data.prompts import REASON_CHAT_TEMPLATE

        tokenizer.chat_template = REASON_CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    model = env.from_hub(
        AutoModelForCausalLM.from_pretrained, path, dtype=torch.bfloat16 if recipe.bf16 else torch.float32,
        attn_implementation=attention(recipe.attn_implementation, recipe.bf16))
    return model, tokenizer


def reward_functions(recipe: Recipe, tokenizer=None) -> list:
    """TRL reward callables for the recipe's names and parameters (tina_utils.rewards)."""
    from tina_utils.rewards.functions import get_reward_funcs

    params = {k: getattr(recipe, k) for k in REWARD_PARAMS}
    params["group_size"] = recipe.num_generations  # TRL passes whole groups of G consecutive completions
    if recipe.length_unit == "tokens":
        params["tokenizer"] = tokenizer  # token-based lengths (the corrected variant) need it
    return get_reward_funcs(list(recipe.reward_funcs), **params)


def transition_callbacks(recipe: Recipe, run_dir: Path) -> list:
    """The phase-transition callback when the recipe switches it on."""
    if recipe.transition_mode == "off":
        return []
    from tina_utils.transition.online import TransitionCallback

    return [TransitionCallback.from_recipe(recipe, output_dir=str(run_dir))]


def _target_step(recipe: Recipe) -> int | None:
    """The step training ends at, when known before loading data."""
    return recipe.stop_at_step or recipe.max_steps


def _environment(world_size: int) -> dict:
    """Versions, hardware, git SHA and process layout for env.json."""
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {**env.versions(), "hardware": env.hardware(), "gpus": gpus, "world_size": world_size,
            "cuda": torch.version.cuda, "git_sha": env.git_sha(), "time": _now()}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _run_row(recipe: Recipe, run_dir: Path, state: dict, world_size: int, status: str) -> dict:
    """One runs.csv row (schema in docs/contracts.md)."""
    import torch

    on_gpu = torch.cuda.is_available() and not recipe.use_cpu
    steps = checkpoint_steps(run_dir)
    wall = round(state["wall_clock_s"], 1)
    return {"run_id": run_dir.name, "recipe": recipe.name, "seed": recipe.seed, "hardware": env.hardware(),
            "gpu_type": torch.cuda.get_device_name(0) if on_gpu else "cpu", "n_gpus": world_size if on_gpu else 0,
            "wall_clock_s": wall, "gpu_hours": round((world_size if on_gpu else 1) * wall / 3600, 5),
            "steps": state.get("steps", steps[-1] if steps else 0), "checkpoints": len(steps),
            "started_at": state["started_at"], "git_sha": env.git_sha(), "status": status}


def train(recipe: Recipe | str, run_dir: str | Path | None = None) -> dict:
    """Train (or resume) `recipe` into `run_dir` (default results/02_train/<run_id>); returns the run record."""
    recipe = load_recipe(recipe) if isinstance(recipe, (str, Path)) else validate(recipe)
    recipe = adapt_to_machine(recipe)
    if recipe.use_cpu:
        use_cpu_devices()
    run_dir = Path(run_dir) if run_dir else new_run_dir(make_run_id(recipe))
    args = to_grpo_config(recipe, run_dir)  # validates the world-size arithmetic before any model loads
    is_main = args.process_index == 0
    world = args.world_size
    run_dir.mkdir(parents=True, exist_ok=True)
    state = {"started_at": _now(), "wall_clock_s": 0.0, **(read_run_state(run_dir) or {})}
    if is_main:
        remove_incomplete_checkpoints(run_dir)
    resume = last_complete_checkpoint(run_dir)
    done = resume is not None and _target_step(recipe) is not None and resume[0] >= _target_step(recipe)
    done = done or (resume is not None and state.get("stop_reason") == "transition")  # stopped early on purpose
    if done:
        state = {**state, "steps": resume[0], "status": "complete"}
    else:
        state = _fit(recipe, run_dir, args, resume, state, is_main)
    row = _run_row(recipe, run_dir, state, world, state.get("status", "complete"))
    if is_main:
        write_run_state(run_dir, {**state, "status": row["status"]})
        upsert_run(runs_csv(), row)
    return {**row, "run_dir": str(run_dir)}


def _fit(recipe: Recipe, run_dir: Path, args, resume, state: dict, is_main: bool) -> dict:
    """Load model, data and rewards, run the TRL trainer, and keep the run files up to date."""
    from tina_utils.data.train_sets import check_schema, load_raw, prepare_train_dataset
    from tina_utils.train.grouped_trainer import GroupedGRPOTrainer

    if is_main:
        (run_dir / "recipe.yaml").write_text(yaml.safe_dump(to_dict(recipe), sort_keys=False))
        (run_dir / "env.json").write_text(json.dumps(_environment(args.world_size), indent=2))
        upsert_run(runs_csv(), _run_row(recipe, run_dir, state, args.world_size, "running"))
    env.seed_everything(recipe.seed)
    raw = load_raw(recipe.dataset, seed=recipe.seed, n=recipe.dataset_n, path=recipe.dataset_path)
    check_schema(recipe.dataset, raw.column_names)  # a file in another schema fails before the model loads
    model, tokenizer = load_model_and_tokenizer(recipe)
    dataset = prepare_train_dataset(recipe.dataset, raw, tokenizer=tokenizer,
                                    max_prompt_tokens=recipe.max_prompt_length,
                                    seed=recipe.seed)
    log_cb = LogCsvCallback(run_dir / "log.csv", keep_until=resume[0] if resume else 0)
    watchers = transition_callbacks(recipe, run_dir)
    callbacks = [StopAtStep(recipe.stop_at_step), MarkComplete(), log_cb, *watchers]
    trainer = GroupedGRPOTrainer(model=model, reward_funcs=reward_functions(recipe, tokenizer), args=args,
                                 train_dataset=dataset, processing_class=tokenizer, peft_config=to_lora_config(recipe),
                                 callbacks=callbacks, group_microbatches=recipe.group_microbatches,
                                 rollout_double_bos=recipe.rollout_double_bos)
    start, status = time.time(), "failed"
    try:
        trainer.train(resume_from_checkpoint=str(resume[1]) if resume else None)
        target = _target_step(recipe) or trainer.state.max_steps
        status = "complete" if trainer.state.global_step >= target else "stopped"
        if any(w.stop_at is not None and trainer.state.global_step >= w.stop_at for w in watchers):
            status, state = "complete", {**state, "stop_reason": "transition"}  # a finished early-stop run
    finally:
        state = {**state, "wall_clock_s": state["wall_clock_s"] + time.time() - start,
                 "steps": trainer.state.global_step, "status": status}
        if is_main and status == "failed":
            write_run_state(run_dir, state)
            upsert_run(runs_csv(), _run_row(recipe, run_dir, state, args.world_size, status))
    return state


def ensure_tiny_run(recipe: str = "tiny", run_id: str | None = None, seed: int = 0) -> Path:
    """The run dir of a finished tiny run, training it first if it is missing or incomplete."""
    loaded = load_recipe(recipe, seed=seed, run_id=run_id)
    run_dir = new_run_dir(make_run_id(loaded))
    state = read_run_state(run_dir) or {}
    if state.get("status") != "complete" or last_complete_checkpoint(run_dir) is None:
        train(loaded, run_dir)
    return run_dir


def parse_cli(argv: list[str]) -> tuple[str, dict, str | None]:
    """RECIPE [--key value | --key=value ...] [--run_dir DIR] -> (recipe, overrides, run_dir)."""
    if not argv or argv[0].startswith("-"):
        raise ValueError("usage: python -m tina_utils.train RECIPE [--key value ...] [--run_dir DIR] [--debug]")
    recipe, rest, overrides = argv[0], list(argv[1:]), {}
    while rest:
        key = rest.pop(0)
        if not key.startswith("--"):
            raise ValueError(f"expected --key value pairs after the recipe name, got {key!r}")
        key, _, value = key[2:].partition("=")
        if not _:
            if not rest:
                raise ValueError(f"--{key} needs a value")
            value = rest.pop(0)
        overrides[key.replace("-", "_")] = value
    return recipe, overrides, overrides.pop("run_dir", None)


def run(argv: list[str]) -> dict:
    """Train the recipe the command line names and print the run record."""
    name, overrides, run_dir = parse_cli(argv)
    record = train(load_recipe(name, **overrides), run_dir)
    if env.process_rank() == 0:  # one record per launch, not one per process
        print(json.dumps(record, indent=2))
    return record


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point (also under `accelerate launch -m tina_utils.train`): bad input is one line, exit code 2."""
    return env.run_cli(run, sys.argv[1:] if argv is None else argv)

