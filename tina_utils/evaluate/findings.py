"""Notebook 03's closing findings: computed from the sweep's tables, with the paper's reference run beside them.

Used in: notebooks/03_evaluate (last section). Reads scores.csv rows and best.json; the paper's row comes from
results/reference/tina_models.csv (tina_utils.paper).
"""

import pandas as pd

from tina_utils import paper
from tina_utils.evaluate import stats

PAPER_REFERENCE_RUN = "open_rs2"  # the paper's headline run, set beside runs of recipes it did not train


def _verdict(low: float, high: float) -> str:
    return "distinguishable from zero" if low > 0 or high < 0 else "not distinguishable from zero"


def ours(scores: pd.DataFrame, best: dict, metric: str = "pass@1") -> list[str]:
    """What this sweep shows: the base, the reported checkpoint's paired gain, the test-set best, the trajectory."""
    macro = stats.macro_average(scores, metric).set_index("checkpoint")
    base, chosen = macro.loc["base"], macro.loc[best["checkpoint"]]
    trained = macro.drop("base").sort_values("step")
    peak, last = trained["value"].idxmax(), trained.index[-1]
    lines = [f"Base model: {base.value:.1f} % [{base.ci_low:.1f}, {base.ci_high:.1f}] ({metric}, "
             f"mean over {base.benchmarks}).",
             f"Reported {best['checkpoint']} (step {chosen.step} of {trained.step.max()}): {chosen.value:.1f} % "
             f"[{chosen.ci_low:.1f}, {chosen.ci_high:.1f}], {chosen.gain:+.1f} points over the base paired on the "
             f"same problems [{chosen.gain_low:+.1f}, {chosen.gain_high:+.1f}]: "
             f"{_verdict(chosen.gain_low, chosen.gain_high)}."]
    oracle = best.get("oracle_checkpoint", best["checkpoint"])
    if oracle != best["checkpoint"]:
        gap, half_width = best.get("gap", 0.0), (chosen.ci_high - chosen.ci_low) / 2
        where = "inside" if abs(gap) <= half_width else "outside"
        lines.append(f"The test-set best is {oracle} ({macro.loc[oracle, 'value']:.1f} %): choosing on the tests "
                     f"would report {gap:+.1f} points more, {where} the reported checkpoint's ±{half_width:.1f}.")
    at = trained.loc[[peak, last]]
    lines.append(f"Over training the average peaks at step {at.step.iloc[0]} ({at.value.iloc[0]:.1f} %) and ends at "
                 f"step {at.step.iloc[1]} ({at.value.iloc[1]:.1f} %).")
    return lines


def theirs(recipe: str | None) -> list[str]:
    """The paper's row for `recipe` (its headline run when the paper did not train it): best step, average, gain."""
    models = paper.load_reference("tina_models").set_index("recipe")
    name = recipe if recipe in models.index else PAPER_REFERENCE_RUN
    row, base = models.loc[name], paper.load_reference("baseline_eval").iloc[0]
    where = "" if pd.isna(row.best_step) else (f" at step {int(row.best_step)} of {int(row.stop_step)} "
                                                f"({row.best_step / row.stop_step:.0%} of training)")
    k = int(row.stop_step // row.save_steps) if pd.notna(row.stop_step) else None  # every checkpoint it saved
    chosen = f", the best of {k} checkpoints on the test set" if k else ""
    return [f"Paper, {row.model}{where}: {row.avg:.2f} % vs {base.model} {base.avg:.2f} % "
            f"({row.avg - base.avg:+.2f} points; one sample per problem{chosen})."]


def findings(scores: pd.DataFrame, best: dict, recipe: str | None = None, metric: str = "pass@1") -> str:
    """Ours, then the paper's, one finding per line."""
    return "\n".join(f"- {line}" for line in ours(scores, best, metric) + theirs(recipe))


def paper_rows() -> pd.DataFrame:
    """The paper's rows this notebook relates to (Tables 2-3): its base model and every Tina model, pass@1 (%), with
    each Tina model's reported step and its share of an epoch."""
    base = paper.load_reference("baseline_eval").head(1)
    tina = paper.load_reference("tina_models")
    columns = ["model", "best_step", "pct_epoch", *paper.BENCHMARKS, "avg"]
    return pd.concat([base, tina], ignore_index=True).reindex(columns=columns).set_index("model")
