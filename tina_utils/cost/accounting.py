"""Dollars and FLOPs: cited price and peak tables, Tina's $9 / $526 / 260x, and the cost of our runs.

Used in: 04_cost_analysis. Conventions (as in the paper's Table 1):
1. Cost = device-hours x $/device-hour. A device-hour is one GPU (or one CPU process) for one hour,
   so a 2-GPU run for 7 h is 14 GPU-hours. CPU time is not priced: it costs $0, labelled CPU-hours.
2. An unknown GPU costs NaN with a warning, never a guessed price.
3. A checkpoint's cost = training device-hours up to its step (pro-rated by step) + its own evaluation.
"""

import math
import re
import warnings

import pandas as pd

from tina_utils import env, runs
from tina_utils.evaluate.selection import checkpoint_means, selected_checkpoint
from tina_utils.paper import load_reference

# key: (usd_per_device_hour, date, source)
PRICES = {
    "L40S": (1.00, "2025-04", "Tina's basis: ~$1/GPU-h incl. storage, Cudo Compute L40S (third-party write-ups "
                              "of the paper and the authors' Resa)"),
    "A100": (3629 / (8 * 240), "2025-03", "implied by the baselines' cost table: DeepScaleR $3,629 / "
                                          "(8 A100 x 240 h) (Open-RS, reused by Tina)"),
    "A40": (42 / (4 * 24), "2025-03", "implied by the baselines' cost table: Open-RS $42 / (4 A40 x 24 h)"),
    "H100": (2.69, "2026-05-22", "RunPod Secure Cloud H100 SXM5 on-demand ~$2.69/h, per "
                                 "https://www.spheron.network/blog/runpod-h100-pricing-2026/"),
    "H100-PCIE": (2.79, "2026-05-22", "RunPod Secure Cloud H100 80GB PCIe ~$2.79/h, same source as H100"),
    "H200": (4.54, "2026-03-17", "Spheron on-demand H200 SXM $4.54/h as of 2026-03-17, "
                                 "https://www.spheron.network/blog/nvidia-h200-vs-b200-vs-gb200"),
    "cpu": (0.0, "", "not priced: CPU time of the tiny profile is reported as CPU-hours at $0"),
}
# bf16 dense tensor TFLOPS, NVIDIA datasheets
PEAK_TFLOPS = {"H100": 989.0, "H100-PCIE": 756.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A40": 150.0}
# Matched in order on the upper-cased device name, e.g. torch's "NVIDIA H100 80GB HBM3".
_PATTERNS = {"cpu": r"^CPU\b", "H100-PCIE": r"\bH100\b.*\bPCIE\b", "H100": r"\bH100\b(?!.*\b(PCIE|NVL)\b)",
             "H200": r"\bH200\b", "L40S": r"\bL40S\b", "A100": r"\bA100\b", "A40": r"\bA40\b"}

N_PARAMS = 1.544e9  # matmul parameters used per token by R1-Distill-Qwen-1.5B
# Tina's Open-RS2 run (paper §4 and the released recipe): 2 L40S, 48 completions per step, stopped at 850 steps,
# $15 of training.
TINA_RUN = {"gpu": "L40S", "n_gpus": 2, "steps": 850, "completions_per_step": 48, "train_usd": 15.0}


def gpu_key(name) -> str | None:
    """The price-table key for a device name ("NVIDIA H100 80GB HBM3" -> "H100", "cpu (2 cores)" -> "cpu")."""
    text = str(name).upper().replace("NVIDIA", " ").strip()
    return next((key for key, pattern in _PATTERNS.items() if re.search(pattern, text)), None)


def _unknown(name, table: dict, what: str) -> float:
    """Warn that `name` is not in `table` (closest known names first) and return NaN."""
    known = env.closest_first(name, table)
    warnings.warn(f"unknown GPU {name!r}: no {what} on file, so it is NaN. Known: {', '.join(known)}. "
                  "Add a cited, dated row to tina_utils/cost/accounting.py to price it.", stacklevel=3)
    return math.nan


def price(gpu) -> float:
    """$ per device-hour for `gpu` (NaN + warning when unknown)."""
    key = gpu_key(gpu)
    return PRICES[key][0] if key else _unknown(gpu, PRICES, "price")


def cost(gpu_hours, gpu):
    """Dollars for `gpu_hours` device-hours on `gpu` (works on floats and pandas Series)."""
    return gpu_hours * price(gpu)


def unit(gpu) -> str:
    """'CPU-hours' for CPU devices, else 'GPU-hours'."""
    return "CPU-hours" if gpu_key(gpu) == "cpu" else "GPU-hours"


def price_table() -> pd.DataFrame:
    """The price and peak tables side by side, one row per device."""
    rows = [{"gpu": key, "usd_per_hour": round(usd, 4), "bf16_tflops": PEAK_TFLOPS.get(key, math.nan),
             "date": date, "source": source} for key, (usd, date, source) in PRICES.items()]
    return pd.DataFrame(rows)


def generation_flops(tokens, n_params: float = N_PARAMS):
    """~2N FLOPs per generated token (forward pass only; attention ignored)."""
    return 2 * n_params * tokens


def training_flops(tokens, n_params: float = N_PARAMS):
    """~8N FLOPs per trained token: LoRA fwd 2N + activation-grad bwd 2N + checkpoint recompute 2N + reference 2N."""
    return 8 * n_params * tokens


def peak_flops(gpu) -> float:
    """Peak bf16 dense FLOP/s of one `gpu` (NaN + warning when unknown or CPU)."""
    key = gpu_key(gpu)
    return PEAK_TFLOPS[key] * 1e12 if key in PEAK_TFLOPS else _unknown(gpu, PEAK_TFLOPS, "peak FLOPs")


def mfu(flops: float, seconds: float, gpu, n_devices: int = 1) -> float:
    """Model FLOPs utilisation: useful FLOPs / (seconds x devices x peak)."""
    return flops / (seconds * n_devices * peak_flops(gpu))


def tina_napkin(mean_completion_tokens: float = 2250, prompt_tokens: float = 200) -> dict:
    """Back-of-envelope FLOPs, step time and MFU of Tina's Open-RS2 run; token counts are assumptions."""
    run = TINA_RUN
    gpu_hours = run["train_usd"] / price(run["gpu"])
    seconds = gpu_hours * 3600 / run["n_gpus"]
    completions = run["completions_per_step"] * run["steps"]
    gen = generation_flops(completions * mean_completion_tokens)
    train = training_flops(completions * (mean_completion_tokens + prompt_tokens))
    return {"gpu_hours": gpu_hours, "wall_clock_h": seconds / 3600, "s_per_step": seconds / run["steps"],
            "generation_pflop": gen / 1e15, "training_pflop": train / 1e15,
            "mfu": mfu(gen + train, seconds, run["gpu"], run["n_gpus"])}


def _row(frame: pd.DataFrame, column: str, value) -> pd.Series:
    """The single row of `frame` whose `column` equals `value`."""
    match = frame[frame[column] == value]
    if len(match) != 1:
        raise KeyError(f"expected one row with {column}={value!r}, found {len(match)}")
    return match.iloc[0]


def _plain(values: dict) -> dict:
    """NumPy scalars -> Python floats/ints, so printed dicts read cleanly."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in values.items()}


def headline_best_checkpoint() -> dict:
    """$9: the best run's training pro-rated to its best step, plus evaluating that one checkpoint."""
    costs, models = load_reference("costs"), load_reference("tina_models")
    main = models[models["model"].apply(lambda m: any(m.startswith(t) for t in
                                                      costs.loc[costs.kind == "task", "task"]))]
    best = main.loc[main["avg"].idxmax()]
    task = next(t for t in costs["task"] if best["model"].startswith(t))
    row = _row(costs, "task", task)
    n_checkpoints = int(best["stop_step"] // best["save_steps"])
    train = row["train_usd"] * best["best_step"] / best["stop_step"]
    evaluation = row["eval_usd"] / n_checkpoints
    stated = _row(costs, "task", "Best ckpt of the best task")
    return _plain({"task": task, "best_step": int(best["best_step"]), "stop_step": int(best["stop_step"]),
                   "n_checkpoints": n_checkpoints, "run_train_usd": row["train_usd"],
                   "run_eval_usd": row["eval_usd"], "train_usd": train, "eval_usd": evaluation,
                   "total_usd": train + evaluation, "stated_train_usd": stated["train_usd"],
                   "stated_eval_usd": stated["eval_usd"], "stated_total_usd": stated["total_usd"]})


def headline_all_tasks() -> dict:
    """$526: the sum of every task row of the paper's cost table (train, eval, total)."""
    costs = load_reference("costs")
    tasks = costs[costs["kind"] == "task"]
    stated = _row(costs, "task", "Total, all tasks")
    return _plain({"n_tasks": len(tasks), "train_usd": tasks["train_usd"].sum(),
                   "eval_usd": tasks["eval_usd"].sum(), "total_usd": tasks["total_usd"].sum(),
                   "stated_total_usd": stated["total_usd"]})


def headline_ratio() -> dict:
    """260x = DeepScaleR's $3,629 (baselines' table) / Tina's $14 (Fig. 1), with the readings that miss."""
    baselines, overall = load_reference("baseline_costs"), load_reference("overall_comparison")
    numerator = _row(baselines, "model", "DeepScaleR-1.5B-Preview")["usd"]
    denominator = _row(overall, "model", "Tina")["cost_usd"]
    best = headline_best_checkpoint()["stated_total_usd"]
    still = _row(baselines, "model", "STILL-3-1.5B-preview")["usd"]
    return _plain({"numerator": "DeepScaleR-1.5B-Preview training cost (baselines' table)",
                   "numerator_usd": numerator, "denominator": "Tina training cost in Fig. 1 (Open-RS2 run)",
                   "denominator_usd": denominator, "ratio": numerator / denominator,
                   "alternatives": {"DeepScaleR / best ckpt $9": float(numerator / best),
                                    "STILL-3 / best ckpt $9": float(still / best)}})


# ---- our runs: results/runs.csv + results/03_evaluate/<run_id>/{scores,timing}.csv (docs/contracts.md) ----

RUN_COLUMNS = ["run_id", "recipe", "gpu_type", "n_gpus", "steps", "train_device_hours", "eval_device_hours",
               "train_usd", "eval_usd", "total_usd", "unit", "best_checkpoint", "best_score", "best_total_usd"]
CKPT_COLUMNS = ["run_id", "checkpoint", "step", "train_device_hours", "eval_device_hours", "train_usd",
                "eval_usd", "total_usd", "unit", "score", "n_benchmarks", "provenance"]


def _read(path, what: str) -> pd.DataFrame:
    """Read a CSV, or print why not and return an empty frame (modules upstream may not have run yet)."""
    if not path.exists():
        print(f"no {path.relative_to(env.results_dir()).as_posix()} yet: {what}")
        return pd.DataFrame()
    return pd.read_csv(path)


def load_runs() -> pd.DataFrame:
    """results/runs.csv, one row per training run (empty frame + message if absent)."""
    return _read(runs.runs_csv(), "train a run first, e.g. tina_utils.train.ensure_tiny_run()")


def _eval_files(run_id: str) -> tuple:
    """(scores, timing) frames of one run's evaluation (empty when missing)."""
    directory = env.results_dir() / "03_evaluate" / run_id  # no mkdir: reading must not create run dirs
    hint = "evaluate the run first (notebook 03)"
    return _read(directory / "scores.csv", hint), _read(directory / "timing.csv", hint)


def _provenance_ids(scores: pd.DataFrame) -> pd.Series:
    """{checkpoint: the provenance ids of its score rows, joined with '+'} (scores.csv `provenance`)."""
    return scores.groupby("checkpoint")["provenance"].agg(
        lambda ids: "+".join(dict.fromkeys(i for joined in ids.astype(str) for i in joined.split("+"))))


def _run_checkpoints(run, scores: pd.DataFrame, timing: pd.DataFrame) -> pd.DataFrame:
    """One row per checkpoint of `run`: pro-rated training + its evaluation, joined with its mean score."""
    on_disk = [path.name for _, path in runs.checkpoint_dirs(runs.run_dir(run.run_id))]
    names = set(on_disk) | set(scores.get("checkpoint", [])) | set(timing.get("checkpoint", []))
    frame = pd.DataFrame({"checkpoint": pd.Series(sorted(names, key=runs.step_of), dtype=object)})
    frame.insert(0, "run_id", run.run_id)
    frame["step"] = frame["checkpoint"].map(runs.step_of)
    share = (frame["step"].clip(upper=run.steps) / run.steps) if run.steps else math.nan
    frame["train_device_hours"] = run.gpu_hours * share
    frame["train_usd"] = cost(frame["train_device_hours"], run.gpu_type)
    if len(timing):
        hours = timing.groupby("checkpoint")["device_hours"].sum()
        hardware = timing.groupby("checkpoint")["hardware"].first()
        frame["eval_device_hours"] = frame["checkpoint"].map(hours)
        frame["eval_usd"] = [cost(h, hardware.get(c, run.gpu_type)) if c in hours else math.nan
                             for c, h in zip(frame["checkpoint"], frame["eval_device_hours"])]
    else:
        frame["eval_device_hours"] = frame["eval_usd"] = math.nan
    frame["total_usd"] = frame["train_usd"] + frame["eval_usd"]
    frame["unit"] = unit(run.gpu_type)
    pass1 = scores[scores["metric"] == "pass@1"] if len(scores) else pd.DataFrame(
        columns=["checkpoint", "benchmark", "value"])
    wide = pass1.pivot_table(index="checkpoint", columns="benchmark", values="value", aggfunc="mean")
    means = checkpoint_means(pass1, include_base=True)  # the sweep's ranking score
    frame["score"] = frame["checkpoint"].map(means["score"]).astype(float)
    frame["n_benchmarks"] = frame["checkpoint"].map(means["n_benchmarks"]).fillna(0).astype(int)
    frame["provenance"] = frame["checkpoint"].map(_provenance_ids(pass1)) if "provenance" in pass1 else None
    if wide.empty:
        return frame[CKPT_COLUMNS]
    return frame[CKPT_COLUMNS].join(wide.rename(columns=lambda b: f"score_{b}"), on="checkpoint")


def checkpoint_costs(run_id: str | None = None) -> pd.DataFrame:
    """Per-checkpoint cost and score of every run in results/runs.csv (or of `run_id`)."""
    runs = load_runs()
    if run_id is not None and len(runs):
        runs = runs[runs["run_id"] == run_id]
        if runs.empty:
            print(f"run_id {run_id!r} is not in runs.csv")
    frames = [_run_checkpoints(run, *_eval_files(run.run_id)) for run in runs.itertuples()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CKPT_COLUMNS)


def reported_checkpoint(run_id: str, scored: pd.DataFrame) -> pd.Series | None:
    """The row of the checkpoint the run's sweep chose (best.json's rule), else of the highest score."""
    if scored.empty:
        return None
    chosen = scored[scored["checkpoint"] == selected_checkpoint(run_id)]
    if len(chosen):
        return chosen.iloc[0]
    trained = scored[scored["checkpoint"] != "base"]  # as the sweep: the base is never the best checkpoint
    candidates = trained if len(trained) else scored
    return candidates.loc[candidates["score"].idxmax()]


def run_costs(run_id: str | None = None, ckpts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-run totals: all training, all evaluation, and the best checkpoint's own cost (the '$9' analogue)."""
    runs = load_runs()
    if runs.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    ckpts = checkpoint_costs(run_id) if ckpts is None else ckpts
    rows = []
    for run in runs.itertuples():
        if run_id is not None and run.run_id != run_id:
            continue
        mine = ckpts[ckpts["run_id"] == run.run_id]
        best = reported_checkpoint(run.run_id, mine.dropna(subset=["score"]))
        eval_hours = mine["eval_device_hours"].sum(min_count=1)
        train_usd = cost(run.gpu_hours, run.gpu_type)
        eval_usd = mine["eval_usd"].sum(min_count=1)
        rows.append({"run_id": run.run_id, "recipe": run.recipe, "gpu_type": run.gpu_type, "n_gpus": run.n_gpus,
                     "steps": run.steps, "train_device_hours": run.gpu_hours, "eval_device_hours": eval_hours,
                     "train_usd": train_usd, "eval_usd": eval_usd, "total_usd": train_usd + eval_usd,
                     "unit": unit(run.gpu_type),
                     "best_checkpoint": None if best is None else best["checkpoint"],
                     "best_score": math.nan if best is None else best["score"],
                     "best_total_usd": math.nan if best is None else best["total_usd"]})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)
