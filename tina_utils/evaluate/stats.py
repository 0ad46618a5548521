"""How sure a score is: 95 % intervals, gains paired with the base on the same problems, the macro average, and
what picking the best of K checkpoints on the test set adds when training changed nothing.

Scores are in percent. The intervals and why these ones: docs/statistics.md. Library routines do the statistics
(statsmodels' Wilson and Newcombe intervals, scipy's t intervals, binomial law); this module only feeds them.
Used in: core.summarize (scores.csv), checkpoint_sweep (macro.csv), paper_verdict, notebook 03.
"""

import math

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

CONFIDENCE = 0.95
MACRO = "average"  # the benchmark name of a macro-average row
MACRO_COLUMNS = ["checkpoint", "step", "metric", "n_benchmarks", "benchmarks", "value", "stderr", "ci_low", "ci_high",
                 "gain", "gain_stderr", "gain_low", "gain_high", "provenance"]


def _z(confidence: float) -> float:
    """The two-sided normal quantile of `confidence`."""
    return float(sps.norm.ppf(0.5 + confidence / 2))


def _constant(values: np.ndarray) -> bool:
    """True when every value is the same (a t interval is undefined, the interval is that value)."""
    return len(values) > 0 and bool(np.all(values == values[0]))


def score_interval(scores, binary: bool, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """(low, high) in percent of the mean of per-problem scores in [0, 1].

    binary (one sample per problem): Wilson's score interval for the share correct; otherwise the t interval
    over problems, cut to [0, 100]. NaN for no problem; a t interval of identical scores is that score.
    """
    scores = np.asarray(scores, dtype=float)
    if len(scores) == 0:
        return math.nan, math.nan
    if binary:
        low, high = proportion_confint(int(round(scores.sum())), len(scores), alpha=1 - confidence, method="wilson")
    elif len(scores) == 1:
        low = high = math.nan
    elif _constant(scores):
        low = high = float(scores[0])
    else:
        low, high = sps.ttest_1samp(scores, 0.0).confidence_interval(confidence)
    return 100 * min(max(float(low), 0.0), 1.0), 100 * min(max(float(high), 0.0), 1.0)  # a share stays in [0, 1]


def paired_gain(scores, base, confidence: float = CONFIDENCE) -> dict:
    """Mean per-problem difference scores - base (same problems, same order) in points, with its t interval."""
    diff = np.asarray(scores, dtype=float) - np.asarray(base, dtype=float)
    if len(diff) == 0:
        return {"gain": math.nan, "gain_stderr": math.nan, "gain_low": math.nan, "gain_high": math.nan}
    mean = float(diff.mean())
    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else math.nan
    if len(diff) == 1:
        low = high = math.nan
    elif _constant(diff):
        low = high = mean
    else:
        low, high = sps.ttest_rel(scores, base).confidence_interval(confidence)
    return {"gain": 100 * mean, "gain_stderr": 100 * se, "gain_low": 100 * float(low), "gain_high": 100 * float(high)}


def paired_table(per_problem: dict, base_key: str = "base", confidence: float = CONFIDENCE) -> dict:
    """{checkpoint: paired_gain against `base_key`} for {checkpoint: Series of per-problem scores by problem id}."""
    base = per_problem.get(base_key)
    out = {}
    for name, scores in per_problem.items():
        if base is None or name == base_key:
            continue
        common = scores.index.intersection(base.index)
        out[name] = paired_gain(scores.loc[common].to_numpy(), base.loc[common].to_numpy(), confidence)
    return out


def macro_average(scores: pd.DataFrame, metric: str = "pass@1", confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per checkpoint: the mean over benchmarks of `value` and of the paired `gain`, with normal intervals.

    The benchmarks are independent samples of problems, so the variance of the mean of B benchmark scores is
    the sum of their squared standard errors over B squared. Reads a scores.csv table.
    """
    z = _z(confidence)
    rows = []
    for checkpoint, part in scores[scores.metric == metric].groupby("checkpoint", sort=False):
        n = len(part)
        row = {"checkpoint": checkpoint, "step": int(part["step"].iloc[0]) if "step" in part else None,
               "metric": metric, "n_benchmarks": n, "benchmarks": " ".join(part.benchmark)}
        for name, error in (("value", "stderr"), ("gain", "gain_stderr")):
            if name not in part:
                continue
            mean = float(part[name].mean())
            se = float(np.sqrt((part[error] ** 2).sum(min_count=n)) / n) if error in part else math.nan
            prefix = "" if name == "value" else "gain_"
            row.update({name: mean, error: se, f"{prefix}low": mean - z * se, f"{prefix}high": mean + z * se})
        if "provenance" in part:
            ids = (i for joined in part.provenance.astype(str) for i in joined.split("+"))
            row["provenance"] = "+".join(dict.fromkeys(ids))
        rows.append(row)
    table = pd.DataFrame(rows).rename(columns={"low": "ci_low", "high": "ci_high"})
    return table.reindex(columns=MACRO_COLUMNS)


def independent_gain(score: float, reference: float, n_problems: int, confidence: float = CONFIDENCE) -> tuple:
    """(low, high) of score - reference in points when both are one-sample shares of n_problems scored apart.

    Newcombe's hybrid score interval; the counts are recovered as round(score / 100 * n_problems).
    """
    count, count_ref = (int(round(s / 100 * n_problems)) for s in (score, reference))
    low, high = confint_proportions_2indep(count, n_problems, count_ref, n_problems, method="newcomb",
                                           compare="diff", alpha=1 - confidence)
    return 100 * float(low), 100 * float(high)


def independent_macro_gain(scores, references, n_problems, confidence: float = CONFIDENCE) -> tuple:
    """(gain, low, high) of the mean over benchmarks of score - reference, each side binomial and independent."""
    p, q, n = (np.asarray(v, dtype=float) for v in (scores, references, n_problems))
    p, q = p / 100, q / 100
    se = math.sqrt(float(np.sum(p * (1 - p) / n + q * (1 - q) / n))) / len(n)
    gain = float(np.mean(p - q))
    z = _z(confidence)
    return 100 * gain, 100 * (gain - z * se), 100 * (gain + z * se)


# ---------------------------------------------------------------- the best of K checkpoints
def best_of_k_exact(n_trials: int, p: float, k: int) -> pd.DataFrame:
    """The law of the best of k independent Binomial(n_trials, p) counts: P(max <= x) = F(x)^k.

    One row per count x: `score` (percent), `pmf`, `cdf`. p is a share in [0, 1].
    """
    counts = np.arange(n_trials + 1)
    cdf = sps.binom.cdf(counts, n_trials, p) ** k
    return pd.DataFrame({"count": counts, "score": 100 * counts / n_trials, "pmf": np.diff(cdf, prepend=0.0),
                         "cdf": cdf})


def summary_of_law(law: pd.DataFrame) -> dict:
    """Mean, median and 95th percentile of a score law from best_of_k_exact."""
    def quantile(q):
        return float(law.score[law.cdf >= q - 1e-12].iloc[0])

    return {"mean": float((law.score * law.pmf).sum()), "median": quantile(0.5), "q95": quantile(0.95)}


def simulate_best_of_k(p: dict, n_problems: dict, k: int, n_samples=1, draws: int = 20000, seed: int = 0,
                       chunk: int = 4_000_000) -> dict:
    """K evaluations of one unchanged model per draw; which of them a selection on the macro average picks.

    p: {benchmark: true accuracy in percent}; n_problems: {benchmark: problems}; n_samples: samples per problem
    (an int or {benchmark: int}). Each checkpoint's score on a benchmark is Binomial(problems x samples, p):
    every problem equally hard. Returns arrays over draws: `best_macro` (the highest macro average), `picked`
    ({benchmark: its score at that checkpoint}), `best_alone` ({benchmark: the highest score on it alone}),
    `one` ({benchmark: one more independent evaluation, e.g. the base's}) and `one_macro`.
    """
    rng = np.random.default_rng(seed)
    names = list(p)
    samples = n_samples if isinstance(n_samples, dict) else {b: n_samples for b in names}
    trials = {b: int(n_problems[b]) * int(samples[b]) for b in names}
    step = max(1, chunk // (k * len(names)))
    parts = []
    for start in range(0, draws, step):
        size = min(step, draws - start)
        scores = np.stack([rng.binomial(trials[b], p[b] / 100, size=(size, k)) / trials[b] for b in names])
        macro = scores.mean(axis=0)
        pick = macro.argmax(axis=1)  # the first maximum: the earliest checkpoint wins ties
        rows = np.arange(size)
        one = np.stack([rng.binomial(trials[b], p[b] / 100, size=size) / trials[b] for b in names])
        parts.append((macro[rows, pick], scores[:, rows, pick], scores.max(axis=2), one))
    best_macro, picked, alone, one = (np.concatenate(arrays, axis=-1) for arrays in zip(*parts))
    return {"best_macro": 100 * best_macro, "picked": dict(zip(names, 100 * picked)),
            "best_alone": dict(zip(names, 100 * alone)), "one": dict(zip(names, 100 * one)),
            "one_macro": 100 * one.mean(axis=0)}


def selection_optimism(p: dict, n_problems: dict, k: int, n_samples=1, draws: int = 20000,
                       seed: int = 0) -> pd.DataFrame:
    """What "the best of k checkpoints on the test set" adds when training changed nothing, per benchmark.

    Columns: `true` (the unchanged accuracy), `picked_mean` / `picked_median` (the benchmark's score at the
    checkpoint with the best macro average), `alone_mean` / `alone_median` (the best of k on that benchmark
    alone), `optimism` (picked_mean - true); the last row, `average`, is the macro average itself.
    """
    sim = simulate_best_of_k(p, n_problems, k, n_samples, draws, seed)
    rows = []
    for name in p:
        picked, alone = sim["picked"][name], sim["best_alone"][name]
        rows.append({"benchmark": name, "k": k, "n_problems": n_problems[name], "true": p[name],
                     "picked_mean": picked.mean(), "picked_median": np.median(picked),
                     "alone_mean": alone.mean(), "alone_median": np.median(alone)})
    true = float(np.mean(list(p.values())))
    best = sim["best_macro"]
    rows.append({"benchmark": MACRO, "k": k, "n_problems": sum(n_problems[b] for b in p), "true": true,
                 "picked_mean": best.mean(), "picked_median": np.median(best), "alone_mean": best.mean(),
                 "alone_median": np.median(best)})
    table = pd.DataFrame(rows)
    table["optimism"] = table.picked_mean - table.true
    return table
