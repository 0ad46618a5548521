"""Stage 01, data: Tina's training sets and the eval benchmarks as canonical rows (notebooks 01-03).

Modules: train_sets.py (training-set registry and schema), benchmarks.py (eval benchmarks and the validation
splits), prompts.py (system prompts, chat template, eval templates), sources.py (Hub and local loading, gold checks),
local_files.py (local data files checked before anything runs).
"""

from tina_utils.data.benchmarks import (
                                        BENCHMARKS,
                                        PAPER_BENCHMARKS,
                                        PAPER_VALIDATION,
                                        VALIDATION,
                                        benchmark_spec,
                                        is_validation,
                                        load_benchmark,
                                        load_validation,
                                        prepare_benchmark,
)
from tina_utils.data.train_sets import (
                                        TRAIN_DATASETS,
                                        dataset_spec,
                                        dataset_summary,
                                        gold_kind,
                                        load_raw,
                                        load_train_dataset,
                                        messages,
                                        prep_stats,
                                        prepare_train_dataset,
                                        prompt_lengths,
                                        system_prompt,
)

__all__ = ["BENCHMARKS", "PAPER_BENCHMARKS", "PAPER_VALIDATION", "TRAIN_DATASETS", "VALIDATION", "benchmark_spec",
           "dataset_spec", "dataset_summary", "gold_kind", "is_validation", "load_benchmark", "load_validation",
           "load_raw",
           "load_train_dataset", "messages", "prep_stats", "prepare_benchmark",
           "prepare_train_dataset", "prompt_lengths", "system_prompt"]
