"""Stage 04, cost: cited prices and FLOPs, Tina's $9 / $526 / 260x, the cost of our runs (notebook 04).

Modules: accounting.py (price and peak tables, FLOPs, headline numbers, run and checkpoint costs). The paper's
published tables (results/reference/*.csv) are in `tina_utils.paper`; `python -m tina_utils.cost` rewrites them.
"""

from tina_utils.cost.accounting import (
                                        CKPT_COLUMNS,
                                        N_PARAMS,
                                        PEAK_TFLOPS,
                                        PRICES,
                                        RUN_COLUMNS,
                                        TINA_RUN,
                                        checkpoint_costs,
                                        cost,
                                        generation_flops,
                                        gpu_key,
                                        headline_all_tasks,
                                        headline_best_checkpoint,
                                        headline_ratio,
                                        load_runs,
                                        mfu,
                                        peak_flops,
                                        price,
                                        price_table,
                                        reported_checkpoint,
                                        run_costs,
                                        tina_napkin,
                                        training_flops,
                                        unit,
)
from tina_utils.paper import load_reference, write_reference_tables

__all__ = ["CKPT_COLUMNS", "N_PARAMS", "PEAK_TFLOPS", "PRICES", "RUN_COLUMNS", "TINA_RUN", "checkpoint_costs", "cost",
           "generation_flops", "gpu_key", "headline_all_tasks", "headline_best_checkpoint", "headline_ratio",
           "load_reference", "load_runs", "mfu", "peak_flops", "price", "price_table", "reported_checkpoint",
           "run_costs", "tina_napkin",
           "training_flops", "unit", "write_reference_tables"]
