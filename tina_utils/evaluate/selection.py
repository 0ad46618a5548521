"""Which checkpoint a run reports: the one chosen on a validation split disjoint from the test benchmarks, set
beside the test-set best (the "oracle", the paper's choice) with the gap between them.

best.json records the rule that chose it; every consumer of "the best checkpoint" reads it (`selected_checkpoint`).
A checkpoint's score is `checkpoint_means` everywhere (sweep, cost, phase report, early stop).
Used in: checkpoint_sweep (best.json), cost (run costs), phase (early-stop savings), grid (study table), notebooks.
"""

import json
import math

import pandas as pd

from tina_utils import env
from tina_utils.evaluate import provenance, stats
from tina_utils.runs import step_of

ORACLE_RULE = "test: the highest mean pass@1 over the test benchmarks (the paper's choice; optimistic)"


def checkpoint_means(scores: pd.DataFrame, metric: str = "pass@1", include_base: bool = False) -> pd.DataFrame:
    """A checkpoint's score: its mean `metric` over the benchmarks scored for every checkpoint.

    Indexed by checkpoint (sorted by step) with columns step, score, stderr (sqrt of the summed squared standard
    errors over their count) and n_benchmarks; by step: `.set_index("step")["score"]`. The one ranking every
    consumer uses (sweep, cost, phase report, early stop). The base is left out unless `include_base`.
    """
    columns = ["step", "score", "stderr", "n_benchmarks"]
    df = scores[scores["metric"] == metric] if "metric" in scores else scores
    if not include_base:
        df = df[df["checkpoint"].astype(str) != "base"]
    if df.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="checkpoint"))
    table = df.pivot_table(index="checkpoint", columns="benchmark", values="value", aggfunc="mean").dropna(axis=1)
    if table.empty:
        raise ValueError(f"no benchmark was scored for every checkpoint; benchmarks: {sorted(df.benchmark.unique())}")
    out = pd.DataFrame({"score": table.mean(axis=1), "n_benchmarks": table.shape[1]})
    if "stderr" in df:
        errors = df.pivot_table(index="checkpoint", columns="benchmark", values="stderr", aggfunc="mean")
        errors = errors.reindex(index=table.index, columns=table.columns)  # a NaN-only stderr column is dropped
        out["stderr"] = (errors ** 2).sum(axis=1, min_count=1) ** 0.5 / table.shape[1]
    out["step"] = [step_of(c) for c in out.index]
    return out.reindex(columns=columns).sort_values("step", kind="stable")


def _averages(scores: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.Series]:
    """(checkpoint x benchmark table, the base's and every checkpoint's score) of one metric."""
    table = scores[scores.metric == metric].pivot_table(index="checkpoint", columns="benchmark", values="value")
    return table, checkpoint_means(scores, metric, include_base=True)["score"]


def _top(average: pd.Series) -> str | None:
    """The trained checkpoint with the highest average, the earliest on ties (None without one)."""
    trained = average.drop("base", errors="ignore")
    if trained.empty:
        return None
    return sorted(trained.index, key=lambda c: (-round(trained[c], 9), step_of(c)))[0]


def summary(scores: pd.DataFrame, checkpoint: str, metric: str = "pass@1") -> dict:
    """A checkpoint's test average beside the base's, with its interval and paired gain (macro.csv)."""
    table, average = _averages(scores, metric)
    base = float(average.get("base", math.nan))
    found = {"checkpoint": checkpoint, "step": step_of(checkpoint), "average": float(average[checkpoint]),
             "base_average": base, "beats_base": bool(average[checkpoint] > base),
             "per_benchmark": table.loc[checkpoint].round(2).to_dict()}
    macro = stats.macro_average(scores, metric).set_index("checkpoint")
    if checkpoint in macro.index and pd.notna(macro.loc[checkpoint, "gain_low"]):
        found.update({key: round(float(macro.loc[checkpoint, key]), 4)
                      for key in ("ci_low", "ci_high", "gain", "gain_low", "gain_high")})
    return found


def best_checkpoint(scores: pd.DataFrame, metric: str = "pass@1") -> dict:
    """The checkpoint with the highest benchmark-average score (earliest on ties), compared with the base."""
    table, average = _averages(scores, metric)
    best = _top(average)
    if best is None:
        return {"checkpoint": "base", "step": 0, "average": float(average.get("base", math.nan)), "rule": ORACLE_RULE}
    return {**summary(scores, best, metric), "rule": ORACLE_RULE, "provenance_note": provenance.mixed_note(scores)}


def select_checkpoint(scores: pd.DataFrame, validation: pd.DataFrame | None = None, metric: str = "pass@1",
                      why_no_validation: str = "no validation split was evaluated") -> dict:
    """best.json: the checkpoint with the best validation average, its test scores, and the test-set best beside it.

    Without validation scores the test-set best is chosen, and `rule` says so and why.
    """
    oracle = best_checkpoint(scores, metric)
    if oracle["checkpoint"] == "base":
        return oracle
    picked = _top(_averages(validation, metric)[1]) if validation is not None and len(validation) else None
    if picked is None or picked not in _averages(scores, metric)[1].index:
        chosen = {**oracle, "rule": f"{ORACLE_RULE}; {why_no_validation}", "validation_average": None}
    else:
        names = " ".join(sorted(set(validation.benchmark)))
        chosen = {**summary(scores, picked, metric),
                  "rule": f"validation: the highest mean pass@1 on {names}, disjoint from the test benchmarks",
                  "provenance_note": provenance.mixed_note(pd.concat([scores, validation])),
                  "validation_average": float(_averages(validation, metric)[1][picked])}
    return {**chosen, "oracle_checkpoint": oracle["checkpoint"], "oracle_step": oracle["step"],
            "oracle_average": oracle["average"], "gap": oracle["average"] - chosen["average"]}


def read_best(run_id: str) -> dict | None:
    """results/03_evaluate/<run_id>/best.json, or None when the run was not swept."""
    path = env.results_dir("03_evaluate") / str(run_id) / "best.json"
    return json.loads(path.read_text()) if path.exists() else None


def selected_checkpoint(run_id: str) -> str | None:
    """The checkpoint the run's sweep chose (best.json's rule), or None when the run was not swept."""
    best = read_best(run_id)
    return None if best is None else best["checkpoint"]


def selection_table(run_id: str, metric: str = "pass@1") -> pd.DataFrame:
    """Notebook 03/05: the base, the reported checkpoint and the test-set best, each with its test average, 95 %
    interval and paired gain over the base, and its validation average (from macro.csv, best.json)."""
    folder = env.results_dir("03_evaluate") / str(run_id)
    best = read_best(run_id)
    if best is None:
        raise FileNotFoundError(f"{folder / 'best.json'} does not exist: sweep the run first (notebook 03)")
    macro = pd.read_csv(folder / "macro.csv").query("metric == @metric").set_index("checkpoint")
    held = folder / "validation_scores.csv"
    checked = _averages(pd.read_csv(held), metric)[1] if held.exists() else pd.Series(dtype=float)
    roles = [("base", "base"), ("reported (" + best["rule"].split(":")[0] + ")", best["checkpoint"]),
             ("test-set best (oracle)", best.get("oracle_checkpoint", best["checkpoint"]))]
    keep = ["value", "ci_low", "ci_high", "gain", "gain_low", "gain_high"]
    rows = [{"role": role, "checkpoint": name, "step": step_of(name), **macro.loc[name, keep].to_dict(),
             "validation": checked.get(name, math.nan)} for role, name in roles if name in macro.index]
    return pd.DataFrame(rows).rename(columns={"value": "test_average"})
