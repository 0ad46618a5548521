"""The shipped DeepSpeed ZeRO-2 accelerate config (recipes/accelerate/zero2.yaml), checked the way accelerate reads it.

Fast part (no deepspeed needed): the file loads with accelerate's own config loader and has no key accelerate would
reject or silently ignore; `accelerate launch`'s own code turns it into the launch environment; from that, accelerate's
DeepSpeedPlugin and transformers' "auto" filling (from the recipe's GRPOConfig) give the DeepSpeed config the Trainer
runs with: ZeRO stage 2, no offload, bf16, and the recipe's gradient accumulation and clipping.
Slow part (only where `deepspeed` is importable, e.g. `pip install -e ".[multigpu]"`): a real 2-process ZeRO-2
launch of the tiny recipe on the CPU (gloo), about 20 s; the first run on a machine also compiles DeepSpeed's
shared-memory all-reduce op into ~/.cache/torch_extensions (about 1.5 min more, needs a C++ compiler).

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_zero2.py -q   (add -m "not slow" for the fast part)
"""

import importlib.util
import json
import os
import subprocess
import sys
from functools import partialmethod
from pathlib import Path

import pytest
import transformers.training_args
from accelerate.commands import launch
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DeepSpeedPlugin, DistributedType
from accelerate.utils.deepspeed import HfDeepSpeedConfig
from support.processes import free_port
from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

from tina_utils.train import load_recipe
from tina_utils.train.recipe_map import batch_layout, to_grpo_config

ZERO2 = Path(__file__).resolve().parents[1] / "tina_utils/train/recipes/accelerate/zero2.yaml"
HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None


def config_problems(path) -> list[str]:
    """What accelerate would reject (unknown top-level keys) or silently ignore (unknown deepspeed_config keys)."""
    try:
        config = load_config_from_file(str(path))
    except (ValueError, TypeError) as error:
        return [str(error)]
    # launch copies each deepspeed_config entry onto its argparse namespace, where nothing reads an unknown name
    options = set(vars(launch.launch_command_parser().parse_args(["script.py"])))
    return [f"deepspeed_config.{key} is not an `accelerate launch` option, so it is ignored"
            for key in config.deepspeed_config if key not in options]


def launch_env(path, recipe: str, monkeypatch, num_processes: int = 2) -> dict:
    """The ACCELERATE_* variables `accelerate launch --config_file path` gives each DeepSpeed process."""
    env = {}

    def capture(args):
        env.update(launch.prepare_deepspeed_cmd_env(args)[1])

    monkeypatch.setattr(launch, "deepspeed_launcher", capture)
    launch.launch_command(launch.launch_command_parser().parse_args(
        ["--config_file", str(path), "--num_processes", str(num_processes), "-m", "tina_utils.train", recipe]))
    return {key: value for key, value in env.items() if key.startswith("ACCELERATE_")}


class TrainerDeepSpeedConfig(HfDeepSpeedConfig):
    """transformers' HfTrainerDeepSpeedConfig on accelerate's config class (its base once deepspeed is installed)."""

    def __init__(self, config):
        super().__init__(config)
        self._dtype, self.mismatches = None, []

    # the Trainer's own code: fill "auto" from TrainingArguments, collect mismatches, raise on them in finalize
    is_auto = HfTrainerDeepSpeedConfig.is_auto
    dtype = HfTrainerDeepSpeedConfig.dtype
    fill_match = HfTrainerDeepSpeedConfig.fill_match
    fill_only = partialmethod(HfTrainerDeepSpeedConfig.fill_match, must_match=False)
    trainer_config_process = HfTrainerDeepSpeedConfig.trainer_config_process
    trainer_config_finalize = HfTrainerDeepSpeedConfig.trainer_config_finalize


def deepspeed_config(path, recipe: str, monkeypatch, tmp_path, **overrides):
    """(accelerate's DeepSpeed config, the one the Trainer runs with) for `recipe` on 2 processes under `path`."""
    for key, value in launch_env(path, recipe, monkeypatch).items():
        # without it TrainingArguments builds the same plugin itself, but its weakref step needs deepspeed installed
        if key != "ACCELERATE_USE_DEEPSPEED":
            monkeypatch.setenv(key, value)
    # bf16 recipes are GPU recipes; only TrainingArguments' "is there a bf16 GPU" check is answered here
    monkeypatch.setattr(transformers.training_args, "is_torch_bf16_gpu_available", lambda: True)
    args = to_grpo_config(load_recipe(recipe, **overrides), tmp_path, world_size=2)
    plugin = DeepSpeedPlugin()
    plugin.set_mixed_precision(args.mixed_precision)
    filled = TrainerDeepSpeedConfig(plugin.deepspeed_config)
    filled.trainer_config_process(args)
    filled.trainer_config_finalize(args, None, args.max_steps)
    return plugin.deepspeed_config, filled


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "accelerate.yaml"
    path.write_text(text)
    return path


def test_zero2_yaml_has_only_keys_accelerate_reads():
    assert config_problems(ZERO2) == []


@pytest.mark.parametrize("old, new, key", [
    ("mixed_precision: bf16", "mixed_precison: bf16", "mixed_precison"),
    ("  zero_stage: 2", "  zero_stag: 2", "zero_stag"),
])
def test_a_typo_in_the_yaml_is_reported(tmp_path, old, new, key):
    text = ZERO2.read_text()
    assert old in text
    problems = config_problems(_write(tmp_path, text.replace(old, new)))
    assert problems and key in problems[0]


def test_zero2_yaml_is_deepspeed_stage_2_without_offload_in_bf16():
    config = load_config_from_file(str(ZERO2))
    assert config.distributed_type == DistributedType.DEEPSPEED
    assert config.mixed_precision == "bf16" and not config.use_cpu
    assert config.num_processes == 2 and config.num_machines == 1
    ds = config.deepspeed_config
    assert ds["zero_stage"] == 2 and ds["zero3_init_flag"] is False
    assert ds["offload_optimizer_device"] == ds["offload_param_device"] == "none"
    # a fixed value here would override (or clash with) the recipe's, which GRPOConfig passes via "auto"
    assert not {"gradient_accumulation_steps", "gradient_clipping", "deepspeed_config_file"} & set(ds)


def test_launch_env_carries_stage_offload_and_precision(monkeypatch):
    env = launch_env(ZERO2, "open_rs2", monkeypatch)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "2"
    assert env["ACCELERATE_DEEPSPEED_OFFLOAD_OPTIMIZER_DEVICE"] == "none"
    assert env["ACCELERATE_DEEPSPEED_OFFLOAD_PARAM_DEVICE"] == "none"
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    assert "ACCELERATE_GRADIENT_ACCUMULATION_STEPS" not in env and "ACCELERATE_GRADIENT_CLIPPING" not in env


def test_recipe_fills_the_auto_values_of_the_deepspeed_config(monkeypatch, tmp_path):
    derived, filled = deepspeed_config(ZERO2, "open_rs2", monkeypatch, tmp_path)
    recipe = load_recipe("open_rs2")
    layout = batch_layout(recipe, world_size=2)
    assert derived["gradient_accumulation_steps"] == derived["gradient_clipping"] == "auto"
    assert derived["train_micro_batch_size_per_gpu"] == "auto"
    config = filled.config
    assert config["zero_optimization"]["stage"] == 2
    assert config["zero_optimization"]["offload_optimizer"]["device"] == "none"
    assert config["zero_optimization"]["offload_param"]["device"] == "none"
    assert config["bf16"] == {"enabled": True} and config["fp16"] == {"enabled": False}
    assert config["gradient_accumulation_steps"] == layout["gradient_accumulation_steps"] == 4  # Tina: 2 GPUs x 4
    assert config["train_micro_batch_size_per_gpu"] == layout["per_device_train_batch_size"]
    assert config["gradient_clipping"] == recipe.max_grad_norm
    assert filled.mismatches == []


def test_a_fixed_accumulation_in_the_yaml_clashes_with_the_recipe(monkeypatch, tmp_path):
    text = ZERO2.read_text().replace("  zero_stage: 2", "  zero_stage: 2\n  gradient_accumulation_steps: 1")
    path = _write(tmp_path, text)
    assert config_problems(path) == []  # a valid key: only the derived config shows the clash
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        deepspeed_config(path, "open_rs2", monkeypatch, tmp_path)


def test_a_float32_recipe_under_the_bf16_yaml_fails_at_start(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="bf16"):
        deepspeed_config(ZERO2, "open_rs2", monkeypatch, tmp_path, bf16=False)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_DEEPSPEED, reason="deepspeed is not installed (opt-in: pip install -e '.[multigpu]')")
def test_zero2_launch_trains_tiny_on_two_cpu_processes(tmp_path):
    import torch

    from tina_utils.devices import cpu_bf16_available
    from tina_utils.worlds import tiny

    tiny.build()
    run_dir = tmp_path / "run"
    bf16 = cpu_bf16_available()
    # the shipped file as it is where the CPU has bf16 kernels; otherwise with its mixed precision switched off
    launch_options = [] if bf16 else ["--mixed_precision", "no"]
    command = [sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch", "--config_file", str(ZERO2),
               "--num_processes", "2", "--main_process_port", free_port(), *launch_options,
               "-m", "tina_utils.train", "tiny", "--max_steps", "2", "--save_steps", "2",
               "--bf16", str(bf16).lower(), "--run_dir", str(run_dir)]
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "TINA_RESULTS": str(tmp_path / "results"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=ZERO2.parents[4])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"
    step = run_dir / "checkpoint-2" / "global_step2"
    # ZeRO shards the optimizer state: one file per rank (named bf16_zero_pp_rank_... under bf16)
    shards = sorted(p.name.removeprefix("bf16_") for p in step.glob("*zero_pp_rank_*_optim_states.pt"))
    assert shards == ["zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"]
    state = torch.load(step / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
    assert state["dp_world_size"] == 2
    assert state["ds_config"]["zero_optimization"]["stage"] == 2
    assert state["ds_config"]["zero_optimization"]["offload_optimizer"]["device"] == "none"
    assert state["ds_config"]["bf16"]["enabled"] == bf16
