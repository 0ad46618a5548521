"""Stage 02, training: Tina recipes (recipes/*.yaml) and resumable LoRA + GRPO runs with TRL (notebook 02).

Modules: recipe_schema.py (every recipe key), config.py (loading and validation), recipe_map.py (TRL/PEFT
configs), runner.py (the run and its CLI, `python -m tina_utils.train`), runlog.py (run-dir bookkeeping),
samples.py (scored completions), grouped_trainer.py (Tina's micro-batches and rollout inputs).
"""

from tina_utils.train.config import RECIPES_DIR, describe, diff, list_recipes, load_recipe, run_id, to_dict, validate
from tina_utils.train.machine import adapt_to_machine, notebook_overrides
from tina_utils.train.recipe_map import batch_layout, to_grpo_config, to_lora_config, visible_world_size
from tina_utils.train.recipe_schema import CHOICES, FIELDS, LORA_TARGETS, REWARD_PARAMS, Recipe
from tina_utils.train.runner import (
                                     ensure_tiny_run,
                                     load_model_and_tokenizer,
                                     main,
                                     reward_functions,
                                     train,
                                     transition_callbacks,
)
from tina_utils.train.samples import sample_completions

__all__ = ["CHOICES", "FIELDS", "LORA_TARGETS", "RECIPES_DIR", "REWARD_PARAMS", "Recipe", "adapt_to_machine",
           "notebook_overrides", "batch_layout", "describe",
           "diff", "ensure_tiny_run", "list_recipes", "load_model_and_tokenizer", "load_recipe", "main",
           "reward_functions", "run_id", "sample_completions", "to_dict", "to_grpo_config", "to_lora_config", "train",
           "transition_callbacks", "validate", "visible_world_size"]
