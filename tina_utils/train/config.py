"""Tina recipes: YAML loading with `base:` chains, validation, and the TRL 1.16 / PEFT mapping of the typed `Recipe`
(its schema is in recipe_schema.py).

A recipe is a flat YAML file in `tina_utils/train/recipes/`; `base: tina` pulls in the shared values of the paper
(`recipes/tina.yaml`) so each experiment is a short delta. Keys are checked against the `Recipe` fields, so a
misspelled key fails loudly (the released Tina Dr.GRPO recipe said `scale_reward` and was silently plain GRPO).
Used in: notebook 02 §1 (resolved recipe vs its base), runner.py. The TRL/PEFT mapping is in recipe_map.py.
"""

import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml

from tina_utils import env
from tina_utils.train.recipe_schema import CHOICES, FALLBACK_REWARDS, FIELDS, Recipe

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


def list_recipes() -> list[str]:
    """Names of the shipped recipes."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def _recipe_path(name_or_path: str | os.PathLike) -> Path:
    """A recipe name in RECIPES_DIR or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"recipe file {str(path)!r} does not exist")
        return path
    if not (RECIPES_DIR / f"{name_or_path}.yaml").exists():
        raise ValueError(f"unknown recipe {str(name_or_path)!r}{env.did_you_mean(str(name_or_path), list_recipes())}; "
                         f"valid: {', '.join(list_recipes())}")
    return RECIPES_DIR / f"{name_or_path}.yaml"


def _aliases(values: dict) -> dict:
    """`stop_on_transition: true` (an alias) means transition_mode "stop"; false means "off"."""
    if "stop_on_transition" in values:
        flag = values.pop("stop_on_transition")
        flag = yaml.safe_load(flag) if isinstance(flag, str) else flag
        values.setdefault("transition_mode", "stop" if flag else "off")
    return values


def _check_keys(keys, where: str) -> None:
    """Reject keys that are not Recipe fields, naming the closest valid key."""
    for key in keys:
        if key not in FIELDS:
            raise KeyError(f"unknown recipe key {key!r} in {where}{env.did_you_mean(key, FIELDS)}")


def _read_chain(name_or_path, seen=()) -> dict:
    """The merged key/values of a recipe and its `base:` ancestors (child wins)."""
    path = _recipe_path(name_or_path)
    if path.resolve() in seen:
        raise ValueError(f"recipe base chain loops at {path.name}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path} must be a mapping of recipe keys")
    _check_keys(_aliases(values), path.name)
    merged = {}
    if values.get("base"):
        base = str(values["base"])  # a recipe name, or a YAML path relative to this file
        merged = _read_chain(path.parent / base if base.endswith((".yaml", ".yml")) else base,
                             (*seen, path.resolve()))
    merged.update(values)
    merged["base"] = values.get("base")
    merged["name"] = path.stem
    return merged


def _coerce(key: str, value: Any) -> Any:
    """`value` converted to the annotated type of `key` (CLI strings are parsed as YAML first)."""
    kind = FIELDS[key].type
    optional = get_origin(kind) is not None and type(None) in get_args(kind)
    if optional:
        kind = next(a for a in get_args(kind) if a is not type(None))
    if isinstance(value, str) and (kind is not str or value in ("null", "~")):
        value = yaml.safe_load(value)
    if value is None:
        if optional:
            return value
        raise TypeError(f"recipe key {key!r} may not be null")
    if key == "transition_mode" and value is False:
        return "off"  # YAML 1.1 reads a bare `off` as false
    if key == "scale_rewards" and str(value).lower() in ("true", "false"):
        return "group" if str(value).lower() == "true" else "none"  # TRL's own bool spelling
    if get_origin(kind) is list:
        item = get_args(kind)[0]
        if isinstance(value, str):  # CLI: "a,b" or "[a, b]"
            value = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
            value = value if item is str else [yaml.safe_load(v) for v in value]
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"recipe key {key!r} must be a list, got {value!r}")
        return [_scalar(key, v, item) for v in value]
    return _scalar(key, value, kind)


def _scalar(key: str, value: Any, kind: type) -> Any:
    """One scalar checked/converted to `kind` (ints are fine where floats are expected)."""
    if kind is float and isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads "5e-4" (no dot) as a string
        except ValueError:
            pass
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise TypeError(f"recipe key {key!r} must be {kind.__name__}, got {value!r}")


def load_recipe(name_or_path: str | os.PathLike = "tina", **overrides) -> "Recipe":
    """Load, merge the `base:` chain, apply `overrides` (CLI strings allowed), type-check and validate."""
    values = _read_chain(name_or_path)
    overrides = _aliases(dict(overrides))
    _check_keys(overrides, "overrides")
    values.update(overrides)
    recipe = Recipe(**{key: _coerce(key, value) for key, value in values.items()})
    validate(recipe)
    return recipe


def _known_names(registry: str) -> list[str] | None:
    """Keys of the "rewards" or "datasets" registry, or None when it cannot be imported."""
    try:
        if registry == "rewards":
            from tina_utils.rewards.functions import REWARDS as names
        else:
            from tina_utils.data.train_sets import TRAIN_DATASETS as names
    except ImportError:
        return None
    return list(names)


def validate(recipe: Recipe) -> Recipe:
    """Check values before any model is loaded; raise ValueError naming the key and the fix."""
    r = recipe
    checks = [
        (r.learning_rate > 0, "learning_rate", "must be > 0"),
        (r.num_generations >= 2, "num_generations", "must be >= 2 (GRPO needs a group to compare)"),
        (r.prompts_per_step >= 1, "prompts_per_step", "must be >= 1"),
        (r.max_steps is None or r.max_steps >= 1, "max_steps", "must be >= 1 or null"),
        (r.stop_at_step is None or r.stop_at_step >= 1, "stop_at_step", "must be >= 1 or null"),
        (r.stop_at_step is None or r.max_steps is None or r.stop_at_step <= r.max_steps, "stop_at_step",
         f"({r.stop_at_step}) must be <= max_steps ({r.max_steps})"),
        (r.save_steps >= 1, "save_steps", "must be >= 1"),
        (r.logging_steps >= 1, "logging_steps", "must be >= 1"),
        (r.max_completion_length >= 1, "max_completion_length", "must be >= 1"),
        (r.temperature > 0, "temperature", "must be > 0"),
        (0 < r.top_p <= 1, "top_p", "must be in (0, 1]"),
        (r.top_k >= 0, "top_k", "must be >= 0 (0 disables top-k)"),
        (r.beta >= 0, "beta", "must be >= 0"),
        (0 <= r.warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)"),
        (0 <= r.min_lr_rate <= 1, "min_lr_rate", "must be in [0, 1]"),
        (r.max_grad_norm > 0, "max_grad_norm", "must be > 0"),
        (r.lora_r >= 1 and r.lora_alpha > 0, "lora_r/lora_alpha", "must be positive"),
        (0 <= r.lora_dropout < 1, "lora_dropout", "must be in [0, 1)"),
        (bool(r.lora_target_modules), "lora_target_modules", "must name at least one module"),
        (0 < r.vllm_gpu_memory_utilization <= 1, "vllm_gpu_memory_utilization", "must be in (0, 1]"),
        (r.num_iterations >= 1, "num_iterations", "must be >= 1"),
        (len(r.reward_funcs) == len(r.reward_weights), "reward_weights",
         f"has {len(r.reward_weights)} entries but reward_funcs has {len(r.reward_funcs)}"),
        (bool(r.reward_funcs), "reward_funcs", "must name at least one reward"),
        (not (r.use_cpu and r.use_vllm), "use_vllm", "must be false when use_cpu is true (vLLM needs a GPU)"),
    ]
    for ok, key, message in checks:
        if not ok:
            raise ValueError(f"recipe {r.name!r}: {key} {message}")
    per_step = r.prompts_per_step * r.num_generations
    if r.per_device_batch_size is not None and (r.per_device_batch_size < 1 or per_step % r.per_device_batch_size):
        raise ValueError(f"recipe {r.name!r}: per_device_batch_size ({r.per_device_batch_size}) must divide "
                         f"prompts_per_step x num_generations = {per_step}")
    for key, options in CHOICES.items():
        if getattr(r, key) not in options:
            raise ValueError(f"recipe {r.name!r}: {key}={getattr(r, key)!r} is not one of {options}"
                             f"{env.did_you_mean(str(getattr(r, key)), options)}")
    cap = r.vllm_max_model_length
    if r.use_vllm and cap is not None and cap < r.max_prompt_length + r.max_completion_length:
        warnings.warn(f"recipe {r.name!r}: vllm_max_model_length {cap} < max_prompt_length + max_completion_length "
                      f"= {r.max_prompt_length + r.max_completion_length}: vLLM cuts completions near "
                      f"{cap - r.max_prompt_length} tokens (the released long-completion ablation's bug)", stacklevel=2)
    rewards = _known_names("rewards") or FALLBACK_REWARDS
    for name in r.reward_funcs:
        if name not in rewards:
            raise ValueError(f"recipe {r.name!r}: unknown reward {name!r}{env.did_you_mean(name, rewards)}; "
                             f"valid: {', '.join(rewards)}")
    _check_dataset_path(r)
    datasets = _known_names("datasets")
    if datasets and r.dataset_path is None and r.dataset not in datasets:
        raise ValueError(f"recipe {r.name!r}: unknown dataset {r.dataset!r}{env.did_you_mean(r.dataset, datasets)}; "
                         f"valid: {', '.join(datasets)}")
    return recipe


def _check_dataset_path(r: Recipe) -> None:
    """A given dataset_path must exist and be readable, and only datasets read from files take one."""
    if r.dataset_path is None:
        return
    if not Path(r.dataset_path).expanduser().exists():
        raise FileNotFoundError(f"recipe {r.name!r}: dataset_path {r.dataset_path!r} does not exist; pass a local "
                                f"jsonl/parquet file of dataset {r.dataset!r} in its Hub schema")
    if r.dataset.startswith("tiny"):
        raise ValueError(f"recipe {r.name!r}: dataset {r.dataset!r} is generated offline and reads no file, so "
                         f"dataset_path {r.dataset_path!r} would be ignored; drop it, or set --dataset to the "
                         f"dataset whose schema the file has")
    from tina_utils.data import local_files

    local_files.check(r.dataset_path, f"recipe {r.name!r}: dataset_path {r.dataset_path!r}")


def run_id(recipe: Recipe) -> str:
    """The run directory name: the recipe's `run_id` or '<name>-seed<seed>' (+ the offline world's version)."""
    if recipe.run_id:
        return recipe.run_id
    from tina_utils.worlds import r1_mini, tiny

    world = {tiny.TINY_MODEL: f"-world{tiny.WORLD_VERSION}",  # a rebuilt world retrains
             r1_mini.R1_MINI_MODEL: f"-r1mini{r1_mini.VERSION}"}.get(recipe.model, "")
    return f"{recipe.name}-seed{recipe.seed}{world}"


def to_dict(recipe: Recipe) -> dict:
    """All fields as plain YAML-able values."""
    return dataclasses.asdict(recipe)


def diff(recipe: Recipe, other: Recipe | None = None) -> dict:
    """{key: (other value, recipe value)} where they differ; `other` defaults to the recipe's base."""
    if other is None:
        other = load_recipe(recipe.base) if recipe.base else Recipe()
    skip = {"name", "base", "run_id"}
    return {k: (getattr(other, k), getattr(recipe, k)) for k in FIELDS
            if k not in skip and getattr(other, k) != getattr(recipe, k)}


def describe(recipe: Recipe) -> str:
    """A short text for the notebook: the delta over the base chain, the batch arithmetic, the GPU memory estimate."""
    lines = [f"recipe {recipe.name!r} (base: {recipe.base or '-'})"]
    for key, (old, new) in diff(recipe).items():
        lines.append(f"  {key:<28} {old!r:>22} -> {new!r}")
    lines.append(f"  {recipe.prompts_per_step} prompts x {recipe.num_generations} completions per optimizer "
                 f"step; LR schedule over {recipe.max_steps} steps, stop at {recipe.stop_at_step}")
    from tina_utils.train.memory import describe_lines

    lines += describe_lines(recipe)  # GPU recipes only: the estimated peak (train/memory.py)
    return "\n".join(lines)

