"""How sure is the paper's table? Each Tina model's gain over its starting model and over its full-parameter
baseline, with intervals, before and after counting that each run reports its best of K checkpoints.

From the committed summary tables only (results/reference/, tina_utils.paper), so it runs on a CPU in seconds:

    python -m tina_utils.evaluate.paper_verdict            # prints the verdicts, writes 03_evaluate/paper_verdict.csv

The model and its assumptions are in docs/statistics.md. Used in: notebook 03, plots.paper_verdict.
"""

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tina_utils import env, paper
from tina_utils.evaluate import stats

# Problems per benchmark in the paper's evaluation (one sample each, temperature 0.6).
PAPER_SIZES = {"aime24": 30, "aime25": 30, "amc23": 40, "math500": 500, "gpqa": 198, "minerva": 272}
START_MODEL = "DeepSeek-R1-Distill-Qwen-1.5B"
# The STILL recipe saves every 10 steps today but saved every 100 at the commit closest to the paper; K spans both.
PAPER_ERA_SAVE_STEPS = {"still": 100}
VERDICT_COLUMNS = ["model", "recipe", "reference", "reference_model", "benchmark", "n_problems", "tina",
                   "reference_score", "gain", "gain_low", "gain_high", "verdict_before", "k", "k_high", "optimism",
                   "optimism_k_high", "null_low", "null_high", "adjusted_gain", "adjusted_low", "adjusted_high",
                   "p_selection", "verdict_after"]


def checkpoint_counts(models: pd.DataFrame) -> pd.DataFrame:
    """K per Tina model: checkpoints saved up to the stop step, with the paper-era save interval (k) and today's."""
    save_now = models["save_steps"].astype(float)
    save_then = models["recipe"].map(PAPER_ERA_SAVE_STEPS).fillna(save_now)
    stop = models["stop_step"].astype(float)
    return pd.DataFrame({"model": models["model"], "k": (stop // save_then).astype(int),
                         "k_high": (stop // save_now).astype(int)})


def call(low: float, high: float) -> str:
    """'gain', 'loss' or 'not distinguishable' for an interval of a difference."""
    return "gain" if low > 0 else "loss" if high < 0 else "not distinguishable"


def before_selection(tina: pd.Series, reference: pd.Series, confidence: float) -> list[dict]:
    """Per benchmark and for the average: the gain with both sides' one-sample noise, scored apart."""
    rows = []
    for name, n in PAPER_SIZES.items():
        low, high = stats.independent_gain(tina[name], reference[name], n, confidence)
        rows.append({"benchmark": name, "n_problems": n, "tina": tina[name], "reference_score": reference[name],
                     "gain": tina[name] - reference[name], "gain_low": low, "gain_high": high})
    names = list(PAPER_SIZES)
    gain, low, high = stats.independent_macro_gain(tina[names], reference[names], list(PAPER_SIZES.values()),
                                                   confidence)
    rows.append({"benchmark": stats.MACRO, "n_problems": sum(PAPER_SIZES.values()), "tina": float(tina[names].mean()),
                 "reference_score": float(reference[names].mean()), "gain": gain, "gain_low": low, "gain_high": high})
    return rows


def null_gaps(reference: pd.Series, k: int, draws: int, seed: int) -> dict:
    """Draws of (the best-of-k checkpoint's score - the reference's own score) if training changed nothing."""
    truth = {name: float(reference[name]) for name in PAPER_SIZES}
    sim = stats.simulate_best_of_k(truth, PAPER_SIZES, k, 1, draws, seed)
    gaps = {name: sim["picked"][name] - sim["one"][name] for name in PAPER_SIZES}
    gaps[stats.MACRO] = sim["best_macro"] - sim["one_macro"]
    optimism = {name: sim["picked"][name].mean() - truth[name] for name in PAPER_SIZES}
    optimism[stats.MACRO] = sim["best_macro"].mean() - float(np.mean(list(truth.values())))
    return {"gaps": gaps, "optimism": optimism}


def after_selection(row: dict, null: dict, null_high_k: dict, confidence: float) -> dict:
    """The gain less what picking the best of K adds, with the null's spread as its interval."""
    name, tail = row["benchmark"], (1 - confidence) / 2
    gaps = null["gaps"][name]
    low_q, high_q = np.quantile(gaps, [tail, 1 - tail])
    adjusted = (row["gain"] - gaps.mean(), row["gain"] - high_q, row["gain"] - low_q)
    at_k_high = call(row["gain"] - np.quantile(null_high_k["gaps"][name], 1 - tail),
                     row["gain"] - np.quantile(null_high_k["gaps"][name], tail))
    verdict = call(adjusted[1], adjusted[2])
    return {"optimism": null["optimism"][name], "optimism_k_high": null_high_k["optimism"][name],
            "null_low": low_q, "null_high": high_q, "adjusted_gain": adjusted[0], "adjusted_low": adjusted[1],
            "adjusted_high": adjusted[2], "p_selection": float(np.mean(gaps >= row["gain"] - 1e-9)),
            "verdict_after": verdict if verdict == at_k_high else "depends on K"}


def verdict(tina: pd.DataFrame | None = None, baselines: pd.DataFrame | None = None, draws: int = 20000,
            seed: int = 0, confidence: float = stats.CONFIDENCE) -> pd.DataFrame:
    """One row per Tina model x reference (its starting model, its full-parameter baseline) x benchmark/average."""
    tina = paper.load_reference("tina_models") if tina is None else tina
    baselines = paper.load_reference("baseline_eval") if baselines is None else baselines
    by_name = baselines.set_index("model")
    counts = checkpoint_counts(tina).set_index("model")
    rows = []
    for _, model in tina.iterrows():
        k, k_high = (int(counts.loc[model["model"], c]) for c in ("k", "k_high"))
        for kind, name in (("start model", START_MODEL), ("full-parameter baseline", model["baseline_model"])):
            if name not in by_name.index:
                continue
            reference = by_name.loc[name]
            null = null_gaps(reference, k, draws, seed)
            null_high = null if k_high == k else null_gaps(reference, k_high, draws, seed)
            for row in before_selection(model, reference, confidence):
                row.update(model=model["model"], recipe=model["recipe"], reference=kind, reference_model=name,
                           verdict_before=call(row["gain_low"], row["gain_high"]), k=k, k_high=k_high)
                rows.append({**row, **after_selection(row, null, null_high, confidence)})
    return pd.DataFrame(rows)[VERDICT_COLUMNS]


def headline(table: pd.DataFrame) -> pd.DataFrame:
    """The average rows only, rounded: what notebook 03 shows first."""
    part = table[table.benchmark == stats.MACRO]
    keep = ["model", "reference", "tina", "reference_score", "gain", "gain_low", "gain_high", "verdict_before", "k",
            "optimism", "adjusted_gain", "adjusted_low", "adjusted_high", "verdict_after"]
    return part[keep].round(2).reset_index(drop=True)


def write(table: pd.DataFrame, path=None):
    """results/03_evaluate/paper_verdict.csv (or `path`)."""
    path = path or env.results_dir("03_evaluate") / "paper_verdict.csv"
    table.to_csv(path, index=False, lineterminator="\n", float_format="%.4f")
    return path


def cached(draws: int = 20000, seed: int = 0) -> pd.DataFrame:
    """verdict() of the committed reference tables, simulated once per inputs and code ($TINA_HOME/paper_verdict/)."""
    inputs = [env.results_dir("reference") / f"{name}.csv" for name in ("tina_models", "baseline_eval")]
    for name in ("tina_models", "baseline_eval"):
        paper.load_reference(name)  # writes the committed table first when a results folder lacks it
    key = hashlib.sha256(b"".join(p.read_bytes() for p in [*inputs, Path(__file__), Path(stats.__file__)])
                         + f"{draws},{seed}".encode()).hexdigest()[:16]
    path = env.tina_home() / "paper_verdict" / f"{key}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        write(verdict(draws=draws, seed=seed), partial)
        os.replace(partial, path)  # whole or absent, when several processes fill the cache at once
    return pd.read_csv(path)


def load(path=None) -> pd.DataFrame:
    """The saved verdict table, computed and written first when missing."""
    path = path or env.results_dir("03_evaluate") / "paper_verdict.csv"
    if not path.exists():
        write(cached(), path)
    return pd.read_csv(path)


def run(argv: list[str]) -> pd.DataFrame:
    """CLI: compute, write and print the verdict table."""
    parser = env.cli_parser(prog="python -m tina_utils.evaluate.paper_verdict", description=__doc__)
    parser.add_argument("--draws", type=int, default=20000, help="simulated evaluations per model (default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    args = parser.parse_args(argv)
    if args.draws < 100:
        raise ValueError(f"--draws must be >= 100, got {args.draws}")
    table = verdict(draws=args.draws, seed=args.seed)
    print(headline(table).to_string(index=False))
    print(write(table))
    return table


if __name__ == "__main__":
    env.run_cli(run, sys.argv[1:])
