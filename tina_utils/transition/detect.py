"""Phase-transition analysis (paper §5): detect the format/length turning point in training logs (logs.py).

Used in: notebooks/05_phase_transition; the streaming version is online.py, the relation to the
checkpoint sweep and the figure are in report.py.

Definitions (documented once, used by the offline and the online detector):
- format reward: transition = the sharp *rise* to its peak level. The series is segmented into constant
  levels; neighbouring upward level changes are merged into one rise; the transition step is the best
  single change point inside that rise (for a clean step: the first step at the new level; for a ramp:
  about its middle). A rise spanning more than `max_width` of the run is a drift, not a transition.
- completion length: transition = the minimum before the rebound: the step of the smoothed minimum
  inside the lowest level segment that has a higher level both before (the fall) and after (the rebound).
- accuracy reward: the largest level change in either direction (the paper expects none that is sharp).
- strength = the level change (two-level fit around the change) in noise SDs. The noise SD is robust
  (MAD of first differences, so trends and the jump itself do not inflate it) and long-run: inflated by
  sqrt((1 + rho) / (1 - rho)) for lag-1 autocorrelation rho, since slowly wandering noise mimics level shifts.
- interval = hull of the rise's first..last change point and the 5-95 % range of the change point
  re-fitted on a block bootstrap of the residuals around the piecewise-constant fit.
- no transition (None) when the run is too short (< min_points logs), no change survives the penalty,
  strength < min_strength, or the rise is a drift (wider than max_width of the run, or a straight line
  fits its window about as well as a step: step SSE >= max_step_vs_line * line SSE).

Why `ruptures` (KernelCPD, linear kernel = least-squares mean-shift cost, PELT search in C): it finds an
unknown number of change points exactly for a penalised cost, in milliseconds on a few hundred points (the
streaming detector calls it at every log). On the series scaled to unit noise, the penalty
`penalty * log(n)` is a BIC-type threshold (BIC uses 2 log n per change), so the same defaults work for
rewards in [0, 1] and lengths in tokens. Long runs are bin-averaged to <= `max_points` first (smoothing
that keeps the noise independent, as the penalty assumes).
"""

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from tina_utils.transition.logs import KINDS, METRICS, load_logs


@dataclass
class Transition:
    """A detected transition of one metric (steps are training steps)."""

    metric: str
    kind: str  # "rise", "drop" or "valley"
    step: int
    lo: int
    hi: int
    strength: float  # level change / noise SD
    before: float  # level before (valley: the level before the fall)
    after: float  # level after (valley: the level after the rebound)
    noise: float  # noise SD in the metric's units

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def noise_sd(y: np.ndarray) -> float:
    """Robust noise SD from first differences, insensitive to trends and to a few jumps.

    The larger of the MAD estimate and the SD of the central 90 % of the differences (rescaled for the
    trimming): MAD alone collapses on rewards stuck at 0 or 1 with occasional blips (most differences 0).
    """
    d = np.diff(y)
    if len(d) == 0:
        return 0.0
    dev = np.abs(d - np.median(d))
    mad = 1.4826 * np.median(dev)
    trimmed = d[dev <= np.quantile(dev, 0.9)].std() / 0.79  # SD of a normal cut at +-1.645 SD is 0.79
    return float(max(mad, trimmed) / math.sqrt(2))


def autocorrelation(y: np.ndarray, skip=()) -> float:
    """Lag-1 autocorrelation of the noise in [0, 0.9], from the first differences (-(1 - rho) / 2 for AR(1)).

    Differences are winsorised at 3 noise SDs, and those listed in `skip` (around candidate change points)
    are left out, so that the transition itself does not count as correlated noise.
    """
    d = np.diff(y)
    if len(d) < 4:
        return 0.0
    centre, scale = np.median(d), noise_sd(y) * math.sqrt(2) + 1e-12
    d = np.clip(d, centre - 3 * scale, centre + 3 * scale) - centre
    keep = np.ones(len(d), bool)
    keep[[i for i in skip if 0 <= i < len(d)]] = False
    pairs = keep[1:] & keep[:-1]
    if pairs.sum() < 3:
        return 0.0
    r1 = float((d[1:] * d[:-1])[pairs].sum() / max((d[keep] ** 2).sum() * pairs.sum() / keep.sum(), 1e-24))
    return float(np.clip(1 + 2 * r1, 0.0, 0.9))


def bin_series(steps: np.ndarray, y: np.ndarray, max_points: int):
    """Average consecutive points into <= max_points bins; returns (first step of each bin, bin means)."""
    size = math.ceil(len(y) / max_points)
    if size <= 1:
        return steps, y
    idx = np.arange(0, len(y), size)
    return steps[idx], np.add.reduceat(y, idx) / np.diff(np.append(idx, len(y)))


def segment(z: np.ndarray, penalty: float, min_size: int = 2) -> list[int]:
    """Change points (segment ends, last = len) of a unit-noise series: ruptures KernelCPD, pen = penalty*log(n)."""
    import ruptures as rpt

    if len(z) < 2 * min_size:
        return [len(z)]
    return rpt.KernelCPD(kernel="linear", min_size=min_size).fit(z).predict(pen=penalty * math.log(len(z)))


def _best_split(z: np.ndarray, a: int, b: int, sign: int, min_size: int = 1) -> int:
    """Index in (a, b) of the single mean shift (of sign `sign`, 0 = any) that best explains z[a:b]."""
    w = z[a:b]
    c = np.cumsum(w)
    k = np.arange(min_size, len(w) - min_size + 1)
    if len(k) == 0:
        return a + len(w) // 2
    m1, m2 = c[k - 1] / k, (c[-1] - c[k - 1]) / (len(w) - k)
    gain = k * (len(w) - k) / len(w) * (m2 - m1) ** 2
    if sign:
        gain = np.where(np.sign(m2 - m1) == sign, gain, -1.0)
    return a + int(k[np.argmax(gain)])


def _bootstrap(z, fit, a, b, sign, n_boot, seed) -> tuple[int, int]:
    """5-95 % range of the re-fitted change point under a block bootstrap of the residuals."""
    if n_boot <= 0:
        return b, a
    rng = np.random.default_rng(seed)
    resid, n = z - fit, len(z)
    block = max(1, round(n ** (1 / 3)))
    starts = rng.integers(0, n - block + 1, size=(n_boot, math.ceil(n / block)))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)[:, :n]
    found = [_best_split(fit + resid[i], a, b, sign) for i in idx]
    return int(np.percentile(found, 5)), int(np.ceil(np.percentile(found, 95)))


def _fit_quality(w: np.ndarray, k: int) -> tuple[float, float, float]:
    """SSE of the two-level fit split at k, SSE of a straight line, and the two-level residual SD."""
    fit = np.where(np.arange(len(w)) < k, w[:k].mean(), w[k:].mean())
    step_sse = float(((w - fit) ** 2).sum())
    x = np.arange(len(w))
    line_sse = float(((w - np.polyval(np.polyfit(x, w, 1), x)) ** 2).sum()) if len(w) > 2 else step_sse
    return step_sse, line_sse, math.sqrt(step_sse / max(len(w) - 2, 1))


def _level_change(z, ends, kind, max_width):
    """(a, b, first, last, sign) of the strongest merged rise/drop, or None."""
    starts = [0] + ends[:-1]
    means = np.array([z[s:e].mean() for s, e in zip(starts, ends)])
    jumps = np.diff(means)
    gap = max(2.0, 0.15 * len(z))  # a long flat stretch between two steps up makes them separate rises
    best, groups, i = None, [], 0
    while i < len(jumps):  # merge neighbouring change points of the same sign into one rise/drop (a ramp)
        j = i
        while (j + 1 < len(jumps) and np.sign(jumps[j + 1]) == np.sign(jumps[i])
               and ends[j + 1] - starts[j + 1] <= gap):
            j += 1
        groups.append((i, j))
        i = j + 1
    for i, j in groups:
        amp = means[j + 1] - means[i]
        if (kind == "rise" and amp <= 0) or (kind == "drop" and amp >= 0):
            continue
        if starts[j + 1] - starts[i + 1] > max_width * len(z):
            continue
        if best is None or abs(amp) > abs(best[-1]):
            best = (starts[i], ends[j + 1], starts[i + 1], starts[j + 1], int(np.sign(amp)), means[i], means[j + 1],
                    amp)
    return best


def detect_transition(logs, metric: str = "format_reward", kind: str | None = None, **kwargs) -> Transition | None:
    """Detect the transition of one metric (definitions in the module docstring); None when the evidence is weak.

    kwargs go to detect_series: penalty=3.0, min_strength=3.0, max_width=0.5, max_points=200, min_points=10,
    n_boot=200, seed=0.
    """
    df = logs if isinstance(logs, pd.DataFrame) and "step" in logs else load_logs(logs)
    if metric not in df:
        raise KeyError(f"metric {metric!r} not in logs; columns: {list(df.columns)}")
    sub = df[["step", metric]].dropna()
    return detect_series(sub["step"].to_numpy(), sub[metric].to_numpy(float), metric, kind, **kwargs)


def detect_series(steps, y, metric: str = "format_reward", kind: str | None = None, penalty: float = 3.0,
                  min_strength: float = 3.0, max_width: float = 0.5, max_points: int = 200,
                  min_points: int = 10, n_boot: int = 200, seed: int = 0,
                  max_step_vs_line: float = 0.8) -> Transition | None:
    """detect_transition on arrays (steps ascending, no NaN); the streaming detector calls this at every log."""
    kind = kind or KINDS.get(metric, "any")
    if kind not in ("rise", "drop", "any", "valley"):
        raise ValueError(f"unknown kind {kind!r}; use 'rise', 'drop', 'any' or 'valley'")
    if len(y) < min_points:
        return None
    steps, y = bin_series(np.asarray(steps), np.asarray(y, float), max_points)
    span = float(np.ptp(y))
    first_pass = segment((y - np.median(y)) / max(noise_sd(y), 0.02 * span, 1e-12), penalty)
    rho = autocorrelation(y, skip=[e - 1 + o for e in first_pass[:-1] for o in (-1, 0, 1)])
    # Long-run SD: slowly wandering (autocorrelated) noise mimics level shifts, so it is measured in these units.
    sd = max(noise_sd(y) * math.sqrt((1 + rho) / (1 - rho)), 0.02 * span, 1e-12)  # floor: saturated rewards
    z = (y - np.median(y)) / sd
    ends = segment(z, penalty)
    if len(ends) < 2 or span == 0:
        return None
    if kind == "valley":
        return _valley(metric, steps, y, z, ends, sd, min_strength)
    found = _level_change(z, ends, kind, max_width)
    if found is None or abs(found[-1]) < min_strength:
        return None
    a, b, first, last, sign, before, after, amp = found
    k = _best_split(z, a, b, sign)
    if min(k - a, b - k) < 3:  # a level needs a few points on each side of the change
        return None
    step_sse, line_sse, resid_sd = _fit_quality(z[a:b], k - a)
    before, after = z[a:k].mean(), z[k:b].mean()  # two-level fit over the whole window: robust to short segments
    # slow wandering (autocorrelated noise) inflates the residuals, not the diffs
    amp = (after - before) / max(1.0, resid_sd)
    if abs(amp) < min_strength or step_sse >= max_step_vs_line * line_sse:
        return None
    fit = np.concatenate([np.full(e - s, z[s:e].mean()) for s, e in zip([0] + ends[:-1], ends)])
    blo, bhi = _bootstrap(z, fit, a, b, sign, n_boot, seed)
    lo, hi = min(first, blo, k), max(last, bhi, k)
    return Transition(metric, "rise" if sign > 0 else "drop", int(steps[k]), int(steps[lo]), int(steps[hi]),
                      float(abs(amp)), float(np.median(y) + before * sd), float(np.median(y) + after * sd), sd)


def _valley(metric, steps, y, z, ends, sd, min_strength) -> Transition | None:
    """Minimum before the rebound: lowest segment with higher segments before and after it."""
    starts = [0] + ends[:-1]
    means = np.array([z[s:e].mean() for s, e in zip(starts, ends)])
    i = int(np.argmin(means))
    if i == 0 or i == len(means) - 1:
        return None
    fall, rebound = means[:i].max() - means[i], means[i + 1:].max() - means[i]
    if min(fall, rebound) < min_strength:
        return None
    smooth = pd.Series(y).rolling(5, center=True, min_periods=1).mean().to_numpy()
    k = starts[i] + int(np.argmin(smooth[starts[i]:ends[i]]))
    base = np.median(y)
    return Transition(metric, "valley", int(steps[k]), int(steps[starts[i]]), int(steps[ends[i] - 1]),
                      float(min(fall, rebound)), float(base + means[:i].max() * sd),
                      float(base + means[i + 1:].max() * sd), sd)


def detect_all(logs, metrics=METRICS, **kwargs) -> dict:
    """detect_transition for each metric present in the logs: {metric: Transition | None}."""
    df = logs if isinstance(logs, pd.DataFrame) and "step" in logs else load_logs(logs)
    return {m: detect_transition(df, m, **kwargs) for m in metrics if m in df}


def summary_table(results: dict) -> pd.DataFrame:
    """One row per metric: the transition's fields, or 'no transition'."""
    rows = [t.to_dict() if t else {"metric": m, "kind": "no transition"} for m, t in results.items()]
    return pd.DataFrame(rows).set_index("metric")
