"""From graded samples to scores.csv rows: pass@k per problem, its mean with a 95 % interval, the gain over the base
paired on the same problems, ungradable rows counted, and where the samples came from.

Used in: core (re-exported: `summarize`, `pass_at_k`, `stderr`), checkpoint_sweep, the evaluation CLI.
"""

import math

import pandas as pd

from tina_utils.evaluate import provenance, stats


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k)/C(n, k), in the stable product form."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def stderr(values) -> float:
    """Standard error of the mean (sample std / sqrt(count)); NaN for fewer than two values."""
    values = pd.Series(values, dtype=float)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def per_problem(part: pd.DataFrame, k: int) -> pd.Series:
    """pass@k of each problem from all its samples, indexed by problem id (sorted)."""
    counts = part.groupby("problem_id")["correct"].agg(["size", "sum"]).sort_index()
    return pd.Series([pass_at_k(int(s), int(c), k) for s, c in zip(counts["size"], counts["sum"])],
                     index=counts.index, dtype=float)


def _seed_stderr(part: pd.DataFrame, k: int) -> float:
    """Standard error of the per-seed scores (NaN with one seed)."""
    scores = [per_problem(p, k).mean() for _, p in part.groupby("seed")
              if int(p.groupby("problem_id").size().min()) >= k]
    return 100 * stderr(scores)


def summarize(samples: pd.DataFrame, pass_ks=(1,), confidence: float = stats.CONFIDENCE) -> pd.DataFrame:
    """pass@k per (checkpoint, benchmark) in percent with its interval, and the gain over `base` paired by problem.

    value: mean over problems of each problem's unbiased pass@k (pass@1 = avg@n); ci_low/ci_high: Wilson when
    each problem's score is one 0/1 outcome (k = samples per problem), else the t interval over problems;
    gain*: checkpoint minus base on the problems both have (empty for the base); stderr_seeds: over seeds.
    """
    rows, vectors = [], {}
    for (checkpoint, benchmark), part in samples.groupby(["checkpoint", "benchmark"], sort=False):
        n = int(part.groupby("problem_id").size().min())
        for k in [k for k in pass_ks if k <= n]:
            scores = per_problem(part, k)
            vectors[(benchmark, k, checkpoint)] = scores
            low, high = stats.score_interval(scores.to_numpy(), binary=k == n, confidence=confidence)
            row = dict(checkpoint=checkpoint, benchmark=benchmark, metric=f"pass@{k}", value=100 * scores.mean(),
                       stderr=100 * stderr(scores), ci_low=low, ci_high=high, n_problems=len(scores), n_samples=n,
                       stderr_seeds=_seed_stderr(part, k),
                       n_ungradable=int((~part["graded"].astype(bool)).sum()) if "graded" in part else 0,
                       seeds=" ".join(str(s) for s in sorted(part["seed"].unique())))
            if "provenance" in part:
                row.update(provenance.summarize(part))
            rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("gain", "gain_stderr", "gain_low", "gain_high"):
        table[column] = math.nan
    for index, row in table.iterrows():
        base = vectors.get((row.benchmark, int(row.metric[5:]), "base"))
        if base is not None and row.checkpoint != "base":
            mine = vectors[(row.benchmark, int(row.metric[5:]), row.checkpoint)]
            gain = stats.paired_table({"base": base, row.checkpoint: mine}, confidence=confidence)[row.checkpoint]
            table.loc[index, list(gain)] = list(gain.values())
    return table
