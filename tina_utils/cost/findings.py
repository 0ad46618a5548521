"""Notebook 04's opening and closing: the paper's $9 / $526 / 260x as stated and as recomputed from its tables, then
what our runs cost per checkpoint and at their best checkpoint, set beside the $9 in honest units.

CPU time (the tiny profile) is never priced: there the comparison is the best checkpoint's share of its run's
cost, a ratio that needs no price.
"""

import pandas as pd

from tina_utils.cost.accounting import headline_all_tasks, headline_best_checkpoint, headline_ratio

STATED_RATIO = 260  # the paper's text states it; no table holds it (headline_ratio rebuilds it)


def headline() -> pd.DataFrame:
    """The paper's three headline numbers: what it states and what its own tables give."""
    best, every, ratio = headline_best_checkpoint(), headline_all_tasks(), headline_ratio()
    rows = [(f"best checkpoint of the best run ({best['task']}, step {best['best_step']} of {best['stop_step']})",
             f"${best['stated_total_usd']:g}", f"${best['total_usd']:.2f}"),
            (f"all {every['n_tasks']} tasks of the paper", f"${every['stated_total_usd']:g}",
             f"${every['total_usd']:g}"),
            ("DeepScaleR's training over Tina's (Fig. 1)", f"{STATED_RATIO}x", f"{ratio['ratio']:.1f}x")]
    return pd.DataFrame(rows, columns=["headline", "paper states", "its tables give"]).set_index("headline")


def paper_best_share() -> float:
    """The $9 checkpoint's share of its run's whole cost (train + every checkpoint's evaluation)."""
    best = headline_best_checkpoint()
    return best["total_usd"] / (best["run_train_usd"] + best["run_eval_usd"])


def _amount(hours: float, usd: float, unit: str) -> str:
    priced = unit != "CPU-hours" and usd == usd
    return f"{hours:.4f} {unit}" + (f" = ${usd:.2f}" if priced else " (not priced)")


def run_lines(run: pd.Series, checkpoints: pd.DataFrame) -> list[str]:
    """One run: its mean cost per checkpoint, its best checkpoint's cost and that cost's share of the run's."""
    trained = checkpoints[(checkpoints["run_id"] == run.run_id) & (checkpoints["checkpoint"] != "base")]
    best = trained[trained["checkpoint"] == run.best_checkpoint]
    train = _amount(run.train_device_hours, run.train_usd, run.unit)
    if trained.eval_device_hours.isna().all():
        return [f"{run.run_id}: {len(trained)} checkpoints, training {train}; not evaluated yet (notebook 03), so "
                "no checkpoint cost to set beside the $9."]
    each = _amount(trained.eval_device_hours.mean(), trained.eval_usd.mean(), run.unit)
    whole = _amount(run.train_device_hours + run.eval_device_hours, run.total_usd, run.unit)
    lines = [f"{run.run_id}: {len(trained)} checkpoints, {each} to evaluate each on average; the whole run {whole}."]
    if best.empty:
        return lines + ["No evaluated best checkpoint yet (notebook 03), so nothing to set beside the $9."]
    b = best.iloc[0]
    hours = b.train_device_hours + b.eval_device_hours
    share = hours / (run.train_device_hours + run.eval_device_hours)
    return lines + [f"Best checkpoint {b.checkpoint} (step {b.step}, score {b.score:.1f}): trained up to it and "
                    f"evaluated there it cost {_amount(hours, b.total_usd, run.unit)}, {share:.0%} of the run's "
                    f"cost; the paper's $9 was {paper_best_share():.0%} of its run's ${_run_usd():g}."]


def _run_usd() -> float:
    best = headline_best_checkpoint()
    return best["run_train_usd"] + best["run_eval_usd"]


def findings(runs: pd.DataFrame, checkpoints: pd.DataFrame) -> str:
    """Markdown bullets for every costed run, then how the units compare with the paper's dollars."""
    lines = [line for run in runs.itertuples(index=False) for line in run_lines(pd.Series(run._asdict()),
                                                                                   checkpoints)]
    units = set(runs["unit"])
    if "CPU-hours" in units:
        lines.append("CPU-hours are not priced: the paper's dollars are GPU-hours at about $1 each, so only the "
                     "shares above compare with it, not the amounts.")
    return "\n".join(f"- {line}" for line in lines)
