"""The Tina paper's published numbers as tidy tables (results/reference/*.csv), shared by every stage that sets
the paper beside our numbers (evaluation, cost, phase, figures).

Every row carries a `source` (paper table/figure, read from the repo's asset images; see
the paper §3, §4, §6) and a `note`: "" for a number the source states, "DERIVED" for our
arithmetic on stated numbers, "UNVERIFIED" for a reading we could not confirm. Missing values are NaN,
never guesses. CLI: `python -m tina_utils.cost` rewrites the CSVs from the literals below.
"""

import math

import pandas as pd

from tina_utils import env

BENCHMARKS = ["aime24", "aime25", "amc23", "math500", "gpqa", "minerva"]
NAN = math.nan
# Our benchmark names -> the paper's (results/reference/ columns).
REFERENCE_NAMES = {"aime24": "aime24", "aime25": "aime25", "amc23": "amc23", "math_500": "math500",
                   "math500": "math500", "gpqa_diamond": "gpqa", "gpqa": "gpqa", "minerva": "minerva"}

T2 = "paper Table 2 [ASSET:baseline_eval.png]"
T3 = "paper Table 3 [ASSET:tina_eval.png]"
T4 = "paper Table 4 [ASSET:ablation.png]"
T1 = "paper Table 1 [ASSET:cost.png]"
F1 = "paper Fig. 1 [ASSET:overall_comparison.png]"
RESA = "Resa (arXiv 2506.09967) Table 5, same group and protocol"
OPENRS = "Open-RS cost table, reused by Tina [OPENRS assets/costs-1.5b.png]"

# model, aime24, aime25, amc23, math500, gpqa, minerva, avg, source, note
BASELINE_EVAL = [
    ("DeepSeek-R1-Distill-Qwen-1.5B", 23.33, 16.67, 62.50, 82.60, 31.82, 30.15, 41.18, T2, ""),
    ("STILL-3-1.5B-preview", 26.67, 26.67, 67.50, 86.40, 34.34, 27.57, 44.86, T2, ""),
    ("DeepScaleR-1.5B-Preview", 36.67, 26.67, 77.50, 87.80, 31.82, 31.99, 48.74, T2, ""),
    ("Open-RS1", 26.67, 20.00, 72.50, 83.60, 35.35, 28.68, 44.47, T2, ""),
    ("Open-RS2", 26.67, 13.33, 62.50, 85.40, 34.85, 26.84, 41.60, T2, ""),
    ("Open-RS3", 43.33, 20.00, 67.50, 83.00, 33.84, 28.68, 46.06, T2, ""),
    ("II-Thought-1.5B-Preview", 30.00, 23.33, 72.50, 86.80, 31.90, 30.88, 45.90, RESA,
     "UNVERIFIED: GPQA 31.90 fits no k/198 (typo?); GPQA/Minerva columns swapped in the source, fixed by denominators"),
]

# model, recipe, dataset, dataset_size_k, pct_epoch, best_step, stop_step, save_steps, six benchmarks, avg,
# baseline_model, baseline_avg, source, note
TINA_MODELS = [
    ("Tina-STILL-3-1.5B-preview", "still", "STILL-3", 33.0, 53, 2000, 3750, 10,
     36.67, 30.00, 77.50, 84.60, 33.33, 26.84, 48.16, "STILL-3-1.5B-preview", 44.86, T3,
     "best_step from the model card; stop_step/save_steps from the repo recipe at HEAD (save_steps 100 at 427e2ac)"),
    ("Tina-DeepScaleR-1.5B-Preview", "deepscaler", "DeepScaleR", 40.3, 19, 1000, 5500, 100,
     43.33, 26.67, 67.50, 86.20, 37.88, 28.68, 48.38, "DeepScaleR-1.5B-Preview", 48.74, T3,
     "best_step from Resa; stop_step/save_steps from the repo recipe"),
    ("Tina-Open-RS1", "open_rs1", "Open-S1", 18.6, 34, 800, 2400, 100,
     43.33, 20.00, 80.00, 84.00, 35.35, 28.68, 48.56, "Open-RS1", 44.47, T3,
     "DERIVED best_step = pct_epoch x 18.6k/8 prompts per step, rounded to save_steps"),
    ("Tina-Open-RS2", "open_rs2", "Open-RS", 7.0, 51, 450, 850, 50,
     43.33, 26.67, 77.50, 87.00, 36.36, 32.72, 50.60, "Open-RS2", 41.60, T3,
     "best_step 450 per [ZH-BLOG] ($9 checkpoint); stop_step/save_steps from the repo recipe"),
    ("Tina-Open-RS3", "open_rs3", "Open-RS", 7.0, 57, 500, 850, 50,
     36.67, 23.33, 82.50, 85.20, 37.37, 31.62, 49.45, "Open-RS3", 46.06, T3,
     "DERIVED best_step = pct_epoch x 7k/8 prompts per step, rounded to save_steps"),
    ("Tina-II-Thought", "2thought", "II-Thought", 53.3, NAN, NAN, 6660, 100,
     40.00, 20.00, 80.00, 86.00, 33.84, 26.84, 47.78, "II-Thought-1.5B-Preview", 45.90, RESA,
     "UNVERIFIED pct_epoch/best_step (not reported)"),
]

# ablation, setting, model, dataset, dataset_size_k, lr, lora_rank, lora_alpha, algorithm, pct_epoch,
# six benchmarks, avg, source, note
_DS = "dataset"
ABLATIONS = [
    (_DS, "OpenR1 (93.7k)", "Tina-OpenR1", "OpenR1", 93.7, 1e-6, 32, 128, "GRPO", 13,
     36.67, 26.67, 75.00, 86.80, 39.90, 30.51, 49.26, T4, ""),
    (_DS, "OpenThoughts (66.1k)", "Tina-OpenThoughts", "OpenThoughts", 66.1, 1e-6, 32, 128, "GRPO", 30,
     36.67, 26.67, 72.50, 84.80, 41.41, 33.09, 49.19, T4, ""),
    (_DS, "DeepScaleR (40.3k)", "Tina-DeepScaleR", "DeepScaleR", 40.3, 1e-6, 32, 128, "GRPO", 19,
     43.33, 26.67, 67.50, 86.20, 37.88, 28.68, 48.38, T4, ""),
    (_DS, "STILL-3 (33k)", "Tina-STILL-3", "STILL-3", 33.0, 1e-6, 32, 128, "GRPO", 53,
     36.67, 30.00, 77.50, 84.60, 33.33, 26.84, 48.16, T4, ""),
    (_DS, "Open-S1 (18.6k)", "Tina-Open-S1", "Open-S1", 18.6, 1e-6, 32, 128, "GRPO", 34,
     43.33, 20.00, 80.00, 84.00, 35.35, 28.68, 48.56, T4, ""),
    (_DS, "Open-RS (7k)", "Tina-Open-RS", "Open-RS", 7.0, 1e-6, 32, 128, "GRPO", 51,
     43.33, 26.67, 77.50, 87.00, 36.36, 32.72, 50.60, T4, ""),
    (_DS, "LIMR (1.39k)", "Tina-LIMR", "LIMR", 1.39, 1e-6, 32, 128, "GRPO", 58,
     46.67, 20.00, 75.00, 83.80, 34.85, 30.51, 48.47, T4, ""),
    ("lr", "5e-6", "Tina-LIMR lr 5e-6", "LIMR", 1.39, 5e-6, 32, 128, "GRPO", 29,
     36.67, 26.67, 75.00, 83.60, 35.86, 29.41, 47.87, T4, ""),
    ("lr", "1e-6", "Tina-LIMR", "LIMR", 1.39, 1e-6, 32, 128, "GRPO", 58,
     46.67, 20.00, 75.00, 83.80, 34.85, 30.51, 48.47, T4, ""),
    ("lr", "5e-7", "Tina-LIMR lr 5e-7", "LIMR", 1.39, 5e-7, 32, 128, "GRPO", 58,
     43.33, 16.67, 77.50, 84.60, 34.85, 30.51, 47.91, T4, ""),
    ("rank", "64", "Tina-LIMR r64", "LIMR", 1.39, 1e-6, 64, 256, "GRPO", 29,
     20.00, 30.00, 77.50, 84.20, 38.38, 31.62, 46.95, T4,
     "UNVERIFIED rank: paper says 64 ('large'), the repo recipe uses r=128, alpha=512"),
    ("rank", "32", "Tina-LIMR", "LIMR", 1.39, 1e-6, 32, 128, "GRPO", 58,
     46.67, 20.00, 75.00, 83.80, 34.85, 30.51, 48.47, T4, ""),
    ("rank", "16", "Tina-LIMR r16", "LIMR", 1.39, 1e-6, 16, 64, "GRPO", 58,
     43.33, 33.33, 70.00, 83.20, 35.35, 28.31, 48.92, T4, ""),
    ("rank", "8", "Tina-LIMR r8", "LIMR", 1.39, 1e-6, 8, 32, "GRPO", 29,
     30.00, 26.67, 82.50, 83.80, 33.84, 30.51, 47.89, T4, ""),
    ("rank", "4", "Tina-LIMR r4", "LIMR", 1.39, 1e-6, 4, 16, "GRPO", 86,
     36.67, 20.00, 85.00, 83.80, 31.82, 29.04, 47.72, T4, ""),
    ("algorithm", "GRPO", "Tina-Open-RS3", "Open-RS", 7.0, 1e-6, 32, 128, "GRPO", 57,
     36.67, 23.33, 82.50, 85.20, 37.37, 31.62, 49.45, T4, ""),
    ("algorithm", "Dr.GRPO", "Tina-Open-RS3 Dr.GRPO", "Open-RS", 7.0, 1e-6, 32, 128, "Dr.GRPO", 17,
     43.33, 23.33, 80.00, 85.00, 35.35, 30.15, 49.53, T4, ""),
]

# task, kind ("task" rows sum to the "total" rows' all-tasks figure), train_usd, eval_usd, total_usd, source, note
COSTS = [
    ("Baseline re-evaluation", "task", NAN, 6, 6, T1, "no training (shown as '-')"),
    ("Tina-STILL-3", "task", 59, 7, 66, T1, ""),
    ("Tina-DeepScaleR", "task", 84, 10, 94, T1, ""),
    ("Tina-Open-RS1", "task", 40, 11, 51, T1, ""),
    ("Tina-Open-RS2", "task", 15, 17, 32, T1, ""),
    ("Tina-Open-RS3", "task", 15, 17, 32, T1, ""),
    ("Ablation: OpenThoughts", "task", 84, 10, 94, T1, ""),
    ("Ablation: OpenR1", "task", 59, 7, 66, T1, ""),
    ("Ablation: LIMR", "task", 4, 4, 8, T1, ""),
    ("Ablation: DrGRPO", "task", 15, 17, 32, T1, ""),
    ("Ablation: learning rate", "task", 7, 8, 15, T1, ""),
    ("Ablation: LoRA rank/alpha", "task", 14, 16, 30, T1, ""),
    ("Total, all tasks", "total", 396, 130, 526, T1, ""),
    ("Total, main tasks", "total", 213, 62, 275, T1, ""),
    ("Best ckpt of each main task", "total", 80, 5, 85, T1, ""),
    ("All ckpts of the best task", "total", 14, 17, 31, T1, "best task = Tina-Open-RS2"),
    ("Best ckpt of the best task", "total", 8, 1, 9, T1, "Open-RS2 step 450 [ZH-BLOG]"),
]
MAIN_TASKS = ["Tina-STILL-3", "Tina-DeepScaleR", "Tina-Open-RS1", "Tina-Open-RS2", "Tina-Open-RS3"]

# model, prompts, rollouts, gpus, gpu_type, hours, usd, usd_per_gpu_hour, source, note
BASELINE_COSTS = [
    ("DeepScaleR-1.5B-Preview", 40000, 16, 8, "A100", 240, 3629, 3629 / (8 * 240), OPENRS,
     "usd_per_gpu_hour DERIVED; DeepScaleR's own blog says ~3,800 A100-h, ~$4,500"),
    ("STILL-3-1.5B-preview", 30000, 8, 8, "A100", 150, 2268, 2268 / (8 * 150), OPENRS,
     "usd_per_gpu_hour DERIVED"),
    ("Open-RS", 7000, 6, 4, "A40", 24, 42, 42 / (4 * 24), OPENRS, "usd_per_gpu_hour DERIVED"),
]

# model, data_k (prompts x rollouts, thousands), cost_usd, time_h, performance (six-benchmark avg), source, note
OVERALL_COMPARISON = [
    ("STILL-3-1.5B-preview", 264.0, 2268, 150, 44.86, F1, "data DERIVED as 33k x 8 (cost table says 30k)"),
    ("DeepScaleR-1.5B-Preview", 644.8, 3629, 240, 48.74, F1, "data DERIVED as 40.3k x 16"),
    ("Open-RS1", 111.6, 42, 24, 44.47, F1, "data DERIVED as 18.6k x 6"),
    ("Open-RS2", 42.0, 42, 24, 41.60, F1, "data DERIVED as 7k x 6"),
    ("Open-RS3", 42.0, 42, 24, 46.06, F1, "data DERIVED as 7k x 6"),
    ("Tina", 28.0, 14, 14, 50.60, F1,
     "data DERIVED as 7k x 4; UNVERIFIED whether 14 h is GPU-hours (2 GPUs x 7 h) or wall-clock"),
]

# benchmark, problems (the split the paper scored), source, note
LOGS = "lighteval's effective docs in Open-RS's eval logs [OPENRS logs/overall]; paper Table 2 scores are k/problems"
CARD = "the dataset card's row count; paper Table 2 scores are k/problems"
BENCHMARK_SIZES = [("aime24", 30, LOGS, ""), ("aime25", 30, CARD, ""), ("amc23", 40, LOGS, ""),
                   ("math500", 500, LOGS, ""), ("gpqa", 198, CARD, "GPQA-Diamond"), ("minerva", 272, LOGS, "")]

_BENCH = [*BENCHMARKS, "avg"]
TABLES = {
    "baseline_eval": (BASELINE_EVAL, ["model", *_BENCH, "source", "note"]),
    "tina_models": (TINA_MODELS, ["model", "recipe", "dataset", "dataset_size_k", "pct_epoch", "best_step",
                                  "stop_step", "save_steps", *_BENCH, "baseline_model", "baseline_avg",
                                  "source", "note"]),
    "ablations": (ABLATIONS, ["ablation", "setting", "model", "dataset", "dataset_size_k", "lr", "lora_rank",
                              "lora_alpha", "algorithm", "pct_epoch", *_BENCH, "source", "note"]),
    "costs": (COSTS, ["task", "kind", "train_usd", "eval_usd", "total_usd", "source", "note"]),
    "baseline_costs": (BASELINE_COSTS, ["model", "prompts", "rollouts", "gpus", "gpu_type", "hours", "usd",
                                        "usd_per_gpu_hour", "source", "note"]),
    "overall_comparison": (OVERALL_COMPARISON, ["model", "data_k", "cost_usd", "time_h", "performance",
                                                "source", "note"]),
    "benchmark_sizes": (BENCHMARK_SIZES, ["benchmark", "problems", "source", "note"]),
}


def table(name: str) -> pd.DataFrame:
    """One reference table built from the literals in this module (no file access)."""
    if name not in TABLES:
        close = env.closest_first(name, TABLES) or sorted(TABLES)
        raise KeyError(f"unknown reference table {name!r}; valid names: {', '.join(close)}")
    rows, columns = TABLES[name]
    frame = pd.DataFrame(rows, columns=columns)
    if "usd_per_gpu_hour" in frame:
        frame["usd_per_gpu_hour"] = frame["usd_per_gpu_hour"].round(4)
    return _whole_numbers(frame)


def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns holding only whole numbers and gaps become nullable ints (2000, not 2000.0)."""
    for column in frame.select_dtypes("float").columns:
        values = frame[column].dropna()
        if frame[column].isna().any() and len(values) and (values == values.round()).all():
            frame[column] = frame[column].astype("Int64")
    return frame


def write_reference_tables(directory=None) -> list:
    """Write every table to `<results>/reference/<name>.csv`; return the paths written."""
    directory = env.results_dir("reference") if directory is None else directory
    paths = []
    for name in TABLES:
        path = directory / f"{name}.csv"
        table(name).to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths


def load_reference(name: str) -> pd.DataFrame:
    """Read `results/reference/<name>.csv` (writing the committed tables first if missing)."""
    path = env.results_dir("reference") / f"{name}.csv"
    if not path.exists():
        table(name)  # fail early with the list of valid names
        write_reference_tables(path.parent)
    return pd.read_csv(path, keep_default_na=False, na_values=[""]).pipe(_blank_notes).pipe(_whole_numbers)


def _blank_notes(frame: pd.DataFrame) -> pd.DataFrame:
    """Empty `note` cells read back as "" (not NaN), so filters on note text stay simple."""
    if "note" in frame:
        frame["note"] = frame["note"].fillna("").astype(str)
    return frame

