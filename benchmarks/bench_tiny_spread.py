"""Spread of the tiny world's claims over seeds and CPU rounding settings (tina_utils.claims per run).

    python benchmarks/bench_tiny_spread.py --seeds 0 1 2        # ~3 min per seed and setting on 2 cores

Each setting runs in its own process with its own $TINA_HOME (the world's warm start is rebuilt under it, as on
another machine) and results folder: "native" uses PyTorch's vectorised CPU kernels, "default" sets
ATEN_CPU_CAPABILITY=default (non-vectorised kernels: other rounding), "threads1" runs native on one thread.
Prints one row per run and mean ± s.d. per setting; writes the rows to results/bench/tiny_spread.csv.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {"native": {}, "default": {"ATEN_CPU_CAPABILITY": "default"}, "threads1": {"OMP_NUM_THREADS": "1"}}
COLUMNS = ["format_rise", "online_confirmed_at", "transition_step", "transition_strength", "base_score", "best_score",
           "gain_over_base", "kept_score", "kept_gain_over_base", "score_diff", "detection_score", "steps_saved"]
CLAIMS = ["format_rises", "beats_base", "early_stop_consistent", "kept_beats_base", "within_noise"]


def run_claims(setting: str, seed: int, work: Path) -> dict:
    """tina_utils.claims for one seed in a fresh process under `setting`."""
    folder = work / setting
    env = {**os.environ, **SETTINGS[setting], "TINA_RESULTS": str(folder / "results"),
           "TINA_HOME": str(folder / "home") if setting == "default" else os.environ.get("TINA_HOME", "")}
    env = {k: v for k, v in env.items() if v != "" and not (k == "ATEN_CPU_CAPABILITY" and setting != "default")}
    out = folder / f"claims_seed{seed}.json"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "tina_utils.claims", "--seed", str(seed), "--out", str(out)],
                   cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = json.loads(out.read_text())
    return {"setting": setting, **{k: v for k, v in result.items() if k != "versions"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--settings", nargs="+", default=["native", "default"], choices=list(SETTINGS))
    parser.add_argument("--work", default=None, help="folder for the runs (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="tiny-spread-"))
    rows = [run_claims(setting, seed, work) for setting in args.settings for seed in args.seeds]
    table = pd.DataFrame(rows)
    for reported in ("kept_beats_base", "within_noise"):  # absent or empty where the run never stopped
        table[reported] = table.get(reported, pd.Series(dtype=object)).fillna(False).astype(bool)
    for claim in CLAIMS[:3]:
        table[claim] = table["holds"].map(lambda holds, claim=claim: holds[claim])
    out = ROOT / "results" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    table.drop(columns="holds").to_csv(out / "tiny_spread.csv", index=False)
    print(table[["setting", "seed", "log_digest", *COLUMNS, "kept_checkpoint"]].to_string(index=False))
    print(table.groupby("setting")[COLUMNS].agg(["mean", "std"]).round(1).T.to_string())
    print(table.groupby("setting")[CLAIMS].sum().to_string())


if __name__ == "__main__":
    main()
