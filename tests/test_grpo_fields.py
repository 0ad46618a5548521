"""Every TRL `GRPOConfig` field is set by the recipe mapping, required at TRL's default (Tina's value), or irrelevant.

A field TRL adds, renames or removes, or a default it moves under a field Tina's objective needs, fails here before
it can change a run silently (tina_utils/train/recipe_map.py holds the classification).
Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_grpo_fields.py -q
"""

import dataclasses
from collections import Counter

import pytest
from trl import GRPOConfig

from tina_utils.train import load_recipe, recipe_map

FIELDS = {f.name: f for f in dataclasses.fields(GRPOConfig)}
IRRELEVANT = [name for names in recipe_map.IRRELEVANT.values() for name in names]


@pytest.fixture
def gpu_args(monkeypatch):
    """Let bf16 GRPOConfigs build on a CPU-only machine (transformers checks for a bf16 GPU)."""
    import transformers.training_args as ta

    monkeypatch.setattr(ta, "is_torch_bf16_gpu_available", lambda: True)


def mapped(name: str, tmp_path) -> set[str]:
    return set(recipe_map.grpo_kwargs(load_recipe(name), tmp_path, world_size=1))


def test_every_field_is_classified_once(tmp_path):
    classified = [*mapped("open_rs2", tmp_path), *recipe_map.REQUIRED, *IRRELEVANT]
    assert sorted(set(FIELDS) - set(classified)) == [], "GRPOConfig fields in no class of recipe_map.py"
    assert sorted(set(classified) - set(FIELDS)) == [], "classified names that are not GRPOConfig fields"
    assert [name for name, count in Counter(classified).items() if count > 1] == []


def test_cpu_recipes_set_a_subset_of_the_vllm_recipes_fields(tmp_path):
    assert mapped("tiny", tmp_path) == mapped("open_rs2", tmp_path) - {
        "vllm_mode", "vllm_gpu_memory_utilization", "vllm_max_model_length", "vllm_enable_sleep_mode",
        "vllm_server_base_url"}


def test_trl_defaults_of_required_fields_are_tinas_values():
    moved = {name: (FIELDS[name].default, value) for name, (value, _) in recipe_map.REQUIRED.items()
             if FIELDS[name].default != value}
    assert moved == {}, "TRL default vs the value Tina's objective needs: set the field in grpo_kwargs"
    assert all(reason for _, reason in recipe_map.REQUIRED.values()) and all(recipe_map.IRRELEVANT)


def test_the_paper_recipe_trains_with_the_required_values(tmp_path, gpu_args):
    args = recipe_map.to_grpo_config(load_recipe("open_rs2"), tmp_path, world_size=1)
    for name, (value, _) in recipe_map.REQUIRED.items():
        if name not in ("steps_per_generation", "generation_batch_size", "accelerator_config"):  # resolved by TRL
            assert getattr(args, name) == value, name
    # TRL resolves the two batch fields: one generation batch of 8 prompts x 6 completions per optimizer step
    assert (args.steps_per_generation, args.generation_batch_size) == (8, 48)
    assert not args.accelerator_config.split_batches
