"""Notebook 02's opening and closing: our recipe beside Tina's, the trainable parameters, the rewards used, and what
the run's log shows (rewards at start and end with intervals, the format rise, the paper's training observations).

Tina's recipe is the committed paper recipe of the same name (tina_utils/train/recipes/), or its headline run
open_rs2 for recipes the paper did not train; its parameter count comes from the real model's shapes
(tina_utils.train.memory).
"""

import math

import pandas as pd
from scipy import stats as sps

from tina_utils import paper
from tina_utils.rewards import REWARDS
from tina_utils.train import memory
from tina_utils.train.config import load_recipe
from tina_utils.train.recipe_map import batch_layout

PAPER_REFERENCE_RUN = "open_rs2"
PAPER_GPUS = 2  # Tina trained on two L40S
FIELDS = {"lora_r": "LoRA rank r", "lora_alpha": "LoRA alpha", "lora_dropout": "LoRA dropout",
          "lora_target_modules": "LoRA targets", "learning_rate": "learning rate", "lr_scheduler_type": "lr schedule",
          "num_generations": "group size G", "prompts_per_step": "prompts per step",
          "per_device_batch": "per-device batch", "max_prompt_length": "max prompt tokens",
          "max_completion_length": "max completion tokens", "reward_funcs": "rewards", "reward_weights":
          "reward weights", "beta": "KL beta", "temperature": "temperature", "scale_rewards": "advantage scaling",
          "max_steps": "scheduled steps", "stop_at_step": "stopped at step"}
EDGE = 10  # logged steps averaged at the start and at the end of a run



def mean_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of logged values with the t interval; no clipping, NaN under two values."""
    values = pd.Series(values, dtype=float).dropna().to_numpy()
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if len(values) == 1 or values.min() == values.max():  # no spread: no interval (one value) or a point
        return (mean, math.nan, math.nan) if len(values) == 1 else (mean, mean, mean)
    low, high = sps.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return mean, float(low), float(high)

def paper_recipe(recipe: str):
    """Tina's recipe for `recipe`: the same one if the paper trained it, else its headline run."""
    trained = set(paper.load_reference("tina_models")["recipe"])
    return load_recipe(recipe if recipe in trained else PAPER_REFERENCE_RUN)


def _value(recipe, field: str, world_size: int):
    if field == "per_device_batch":
        return batch_layout(recipe, world_size)["per_device_train_batch_size"]
    value = getattr(recipe, field)
    if field == "lora_target_modules" and len(value) == 7:
        return "all 7 projections"
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else "none" if value is None else value


def recipe_table(ours, theirs, world_size: int = 1) -> pd.DataFrame:
    """One row per setting: ours (on `world_size` processes) beside Tina's (on two GPUs), and whether they differ."""
    rows = [{"setting": label, "ours": _value(ours, field, world_size),
             f"Tina ({theirs.name})": _value(theirs, field, PAPER_GPUS)} for field, label in FIELDS.items()]
    table = pd.DataFrame(rows).astype({"ours": str, f"Tina ({theirs.name})": str})
    return table.assign(same=table["ours"] == table[f"Tina ({theirs.name})"]).set_index("setting")


def trainable_parameters(recipe) -> tuple[int, int]:
    """(trainable, total) parameters of the recipe's model with its LoRA adapter, built on the meta device."""
    import torch
    from peft import get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from tina_utils import env, worlds
    from tina_utils.train.recipe_map import to_lora_config

    config = env.from_hub(AutoConfig.from_pretrained, worlds.resolve_model(recipe.model))
    with torch.device("meta"):
        model = get_peft_model(AutoModelForCausalLM.from_config(config), to_lora_config(recipe))
    return model.get_nb_trainable_parameters()


def paper_parameters(theirs) -> tuple[int, int]:
    """(LoRA, total) parameters of Tina's recipe on the real R1-Distill-Qwen-1.5B shapes."""
    lora = memory.lora_parameters(None, theirs.lora_r, theirs.lora_target_modules)
    return lora, memory.model_parameters(None) + lora


def parameters_table(ours: tuple[int, int], theirs: tuple[int, int]) -> pd.DataFrame:
    """Trainable and total parameters and the trainable share, ours beside Tina's."""
    rows = {"ours": ours, "Tina": theirs}
    return pd.DataFrame([{"model": name, "trainable": f"{t:,}", "total": f"{n:,}", "trainable share": f"{t / n:.2%}"}
                         for name, (t, n) in rows.items()]).set_index("model")


def reward_table(names) -> pd.DataFrame:
    """The recipe's reward functions, each with the first line of its docstring."""
    return pd.DataFrame([{"reward": name, "what it pays": REWARDS[name].__doc__.strip().splitlines()[0]}
                         for name in names]).set_index("reward")


def _edges(logs: pd.DataFrame, metric: str, edge: int) -> tuple:
    """((mean, low, high) over the first `edge` logged steps, the same over the last `edge`)."""
    values = logs.sort_values("step")[metric].dropna()
    return mean_interval(values.iloc[:edge]), mean_interval(values.iloc[-edge:])


def _reward_line(logs: pd.DataFrame, metric: str, edge: int) -> str:
    (a, a_lo, a_hi), (b, b_lo, b_hi) = _edges(logs, metric, edge)
    moved = "rose" if b_lo > a_hi else "fell" if b_hi < a_lo else "no change beyond the intervals"
    return (f"{metric.replace('_', ' ')}: {a:.2f} [{a_lo:.2f}, {a_hi:.2f}] over the first {edge} logged steps, "
            f"{b:.2f} [{b_lo:.2f}, {b_hi:.2f}] over the last {edge}: {moved}.")


def _observations(found: dict) -> list[str]:
    """The paper's §5 training observations, each judged on this run's detected transitions."""
    fmt, length, acc = (found.get(m) for m in ("format_reward", "completion_length", "accuracy_reward"))
    checks = [("the format reward rises sharply", fmt is not None and fmt.kind == "rise",
               f" (step {fmt.step}, interval {fmt.lo}-{fmt.hi})" if fmt else ""),
              ("the completion length falls to a minimum and rebounds", length is not None,
               f" (minimum at step {length.step})" if length else ""),
              ("the accuracy reward drifts without a sharp turn", "accuracy_reward" in found and acc is None, "")]
    return [f"Paper: {claim}. This run: {'yes' if seen else 'no'}{where}." for claim, seen, where in checks]


def findings(logs: pd.DataFrame, found: dict, record: dict, parameters: tuple[int, int], edge: int = EDGE) -> str:
    """Markdown bullets computed from the run's log, its detected transitions (phase.detect_all) and its record."""
    lines = [_reward_line(logs, m, edge) for m in ("format_reward", "accuracy_reward", "reward") if m in logs]
    trainable, total = parameters
    steps, wall = record["steps"], record["wall_clock_s"]
    lines += [f"Trained {trainable:,} of {total:,} parameters ({trainable / total:.2%}), {steps} steps in "
              f"{wall:.0f} s on {record['hardware']} ({wall / max(steps, 1):.2f} s per step).", *_observations(found)]
    return "\n".join(f"- {line}" for line in lines)
