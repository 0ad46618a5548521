"""Stage 03, evaluation with the paper's protocol: presets, cached generation, grading, pass@k, checkpoint sweeps.

Modules: core.py (presets, generation cache, `evaluate`), scoring.py (`summarize`: pass@k with intervals and
paired gains), stats.py (intervals, macro average, best-of-K optimism), provenance.py (where each row came from),
paper_verdict.py (the paper's table judged), backends.py (vLLM multi-LoRA, transformers, merged),
checkpoint_sweep.py (`sweep` over a run's checkpoints, paper comparison), selection.py (the checkpoint chosen on
a validation split, beside the test-set best), findings.py (notebook 03's closing findings), adapters.py (checks on
LoRA checkpoints). Used in: notebook 03.
"""

from tina_utils.evaluate.adapters import check_adapter, choose_max_lora_rank
from tina_utils.evaluate.backends import BACKENDS, resolve_backend, vllm_available
from tina_utils.evaluate.checkpoint_sweep import (
                                                  SCORE_COLUMNS,
                                                  TIMING_COLUMNS,
                                                  SweepResult,
                                                  base_model_of,
                                                  best_checkpoint,
                                                  compare_to_paper,
                                                  sweep,
                                                  timing_table,
)
from tina_utils.evaluate.core import (
                                                  GENERATION_FIELDS,
                                                  PAPER_BENCHMARKS,
                                                  PAPER_SEED,
                                                  PRESETS,
                                                  GenerationCache,
                                                  Preset,
                                                  cache_key,
                                                  evaluate,
                                                  get_preset,
                                                  grade_frame,
                                                  grade_samples,
                                                  load_rows,
                                                  pass_at_k,
                                                  preset_hash,
                                                  prompt_ids,
                                                  stderr,
                                                  summarize,
)
from tina_utils.evaluate.selection import read_best, select_checkpoint, selected_checkpoint, selection_table
from tina_utils.evaluate.stats import best_of_k_exact, macro_average, selection_optimism

__all__ = ["BACKENDS", "GENERATION_FIELDS", "PAPER_BENCHMARKS", "PAPER_SEED", "PRESETS", "SCORE_COLUMNS",
           "TIMING_COLUMNS", "GenerationCache", "Preset", "SweepResult", "base_model_of", "best_checkpoint",
           "best_of_k_exact", "macro_average", "select_checkpoint", "selected_checkpoint", "selection_optimism",
           "selection_table", "read_best",
           "cache_key", "check_adapter", "choose_max_lora_rank", "compare_to_paper", "evaluate",
           "get_preset", "grade_frame", "grade_samples", "load_rows", "pass_at_k", "preset_hash",
           "prompt_ids", "resolve_backend", "stderr", "summarize", "sweep", "timing_table",
           "vllm_available"]
