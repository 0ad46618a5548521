"""Intervals, paired gains, the macro average and the best-of-K optimism against hand-computed values and scipy.

Run: pytest tests/test_stats.py   (seconds)
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from tina_utils import evaluate as ev
from tina_utils.evaluate import stats

Z = 1.959963984540054  # the 97.5 % normal quantile


def wilson(count: int, n: int) -> tuple[float, float]:
    """Wilson's score interval written out (percent)."""
    p = count / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return 100 * (centre - half), 100 * (centre + half)


# ---------------------------------------------------------------- one score
def test_one_sample_per_problem_gets_wilsons_interval():
    low, high = stats.score_interval([1] * 7 + [0] * 23, binary=True)
    assert (low, high) == pytest.approx(wilson(7, 30))
    ci = sps.binomtest(7, 30).proportion_ci(0.95, method="wilson")
    assert (low, high) == pytest.approx((100 * ci.low, 100 * ci.high))
    assert stats.score_interval([0] * 30, binary=True)[1] == pytest.approx(wilson(0, 30)[1])  # not zero width


def test_several_samples_per_problem_get_the_t_interval_over_problems():
    scores = [0.5, 0.75, 0.25, 0.5, 0.5, 0.75]
    mean = sum(scores) / 6
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / 5)
    half = 2.5705818366147395 * sd / math.sqrt(6)  # t(0.975, 5 degrees of freedom)
    assert stats.score_interval(scores, binary=False) == pytest.approx((100 * (mean - half), 100 * (mean + half)))
    assert stats.score_interval([0.0, 1.0], binary=False) == (0.0, 100.0)  # cut to a share's range
    assert stats.score_interval([0.25, 0.25], binary=False) == (25.0, 25.0)
    assert all(math.isnan(v) for v in stats.score_interval([], binary=False))


# ---------------------------------------------------------------- paired gains
def test_paired_gain_is_the_t_interval_of_the_per_problem_differences():
    gain = stats.paired_gain(np.array([1, 1, 0, 1.0]), np.array([0, 1, 0, 0.0]))
    # differences 1, 0, 0, 1: mean .5, sd sqrt(1/3), se sqrt(1/3)/2, t(0.975, 3) = 3.182446305284263
    se = math.sqrt(1 / 3) / 2
    assert gain["gain"] == pytest.approx(50) and gain["gain_stderr"] == pytest.approx(100 * se)
    assert (gain["gain_low"], gain["gain_high"]) == pytest.approx((100 * (0.5 - 3.182446305284263 * se),
                                                                   100 * (0.5 + 3.182446305284263 * se)))
    assert stats.paired_gain(np.ones(3), np.zeros(3))["gain_low"] == 100.0  # identical differences


def test_pairing_aligns_problems_by_id_and_is_narrower_than_apart():
    rng = np.random.default_rng(1)
    hard = rng.random(200)
    base = pd.Series((hard < 0.4).astype(float), index=[f"p{i}" for i in range(200)])
    mine = pd.Series((hard < 0.5).astype(float), index=base.index)
    gains = stats.paired_table({"base": base, "ckpt": mine.sample(frac=1, random_state=0)})["ckpt"]
    assert gains["gain"] == pytest.approx(100 * (mine.mean() - base.mean()))
    apart = Z * math.sqrt(mine.var() / 200 + base.var() / 200) * 100
    assert gains["gain_high"] - gains["gain"] < apart / 2  # the same hard problems fail on both sides


# ---------------------------------------------------------------- the macro average
def test_macro_average_adds_the_benchmarks_variances():
    scores = pd.DataFrame({"checkpoint": ["c"] * 2, "step": [5, 5], "benchmark": ["a", "b"], "metric": "pass@1",
                           "value": [40.0, 60.0], "stderr": [3.0, 4.0], "gain": [2.0, 4.0],
                           "gain_stderr": [1.0, 1.0]})
    row = stats.macro_average(scores).iloc[0]
    assert row.value == 50 and row.stderr == pytest.approx(2.5)  # sqrt(9 + 16) / 2
    assert (row.ci_low, row.ci_high) == pytest.approx((50 - Z * 2.5, 50 + Z * 2.5))
    assert row.gain == 3 and row.gain_stderr == pytest.approx(math.sqrt(2) / 2)
    assert list(stats.macro_average(scores).columns) == stats.MACRO_COLUMNS


def test_independent_gain_is_newcombes_interval():
    # 13/30 against 7/30: Newcombe's hybrid score interval from the two Wilson intervals
    (l1, u1), (l2, u2) = wilson(13, 30), wilson(7, 30)
    d = 100 * (13 - 7) / 30
    expected = (d - math.hypot(100 * 13 / 30 - l1, u2 - 100 * 7 / 30),
                d + math.hypot(u1 - 100 * 13 / 30, 100 * 7 / 30 - l2))
    assert stats.independent_gain(43.33, 23.33, 30) == pytest.approx(expected)


def test_independent_macro_gain_by_hand():
    gain, low, high = stats.independent_macro_gain([50.0, 80.0], [40.0, 80.0], [100, 400])
    se = math.sqrt(0.25 / 100 + 0.24 / 100 + 2 * 0.16 / 400) / 2
    assert gain == pytest.approx(5.0) and (low, high) == pytest.approx((5 - 100 * Z * se, 5 + 100 * Z * se))


# ---------------------------------------------------------------- the best of K
def test_best_of_k_exact_law_by_hand():
    law = stats.best_of_k_exact(3, 0.5, 2)
    # Binomial(3, 1/2): F = 1/8, 4/8, 7/8, 1; squared: 1/64, 16/64, 49/64, 1
    assert law.pmf.tolist() == pytest.approx([1 / 64, 15 / 64, 33 / 64, 15 / 64])
    assert stats.summary_of_law(law)["mean"] == pytest.approx(100 * 126 / 64 / 3)
    assert stats.summary_of_law(law)["median"] == pytest.approx(200 / 3)


def test_simulated_best_of_k_matches_the_exact_law_on_one_benchmark():
    n, p, k, draws = 30, 0.2333, 17, 20000
    law = stats.best_of_k_exact(n, p, k)
    sim = stats.simulate_best_of_k({"aime24": 100 * p}, {"aime24": n}, k, draws=draws, seed=3)
    best = sim["best_macro"]
    exact_mean = (law.score * law.pmf).sum()
    sd = math.sqrt((law.score**2 * law.pmf).sum() - exact_mean**2)
    assert abs(best.mean() - exact_mean) < 4 * sd / math.sqrt(draws)
    for x in (30.0, 100 * 12 / 30, 50.0):  # P(max <= x) = F(x)^K
        exact = sps.binom.cdf(round(x * n / 100), n, p) ** k
        assert np.mean(best <= x + 1e-9) == pytest.approx(exact, abs=0.015)
    assert np.array_equal(sim["picked"]["aime24"], best)  # one benchmark: the pick is its best


def test_optimism_is_zero_for_one_checkpoint_and_grows_with_k():
    p, n = {"a": 30.0, "b": 80.0}, {"a": 30, "b": 500}
    one = stats.selection_optimism(p, n, 1, draws=20000, seed=0).set_index("benchmark")
    assert abs(one.loc["average", "optimism"]) < 0.15
    many = stats.selection_optimism(p, n, 20, draws=4000, seed=0).set_index("benchmark")
    assert many.loc["average", "optimism"] > 2 and many.loc["a", "alone_mean"] > many.loc["a", "picked_mean"]
    assert many.loc["b", "optimism"] < many.loc["a", "optimism"]  # 500 problems are steadier than 30
    sixteen = stats.selection_optimism(p, n, 20, n_samples=16, draws=4000, seed=0).set_index("benchmark")
    assert sixteen.loc["average", "optimism"] < many.loc["average", "optimism"] / 3  # avg@16: a quarter the noise


# ---------------------------------------------------------------- scores.csv rows
def test_summarize_adds_intervals_paired_gains_and_ungradable_counts():
    rows = []
    for checkpoint, marks in [("base", [1, 0, 0, 0]), ("checkpoint-5", [1, 1, 0, 1])]:
        for i, mark in enumerate(marks):
            rows.append(dict(checkpoint=checkpoint, benchmark="b", problem_id=f"p{i}", seed=0, sample=0,
                             correct=bool(mark), graded=i != 2))
    out = ev.summarize(pd.DataFrame(rows)).set_index("checkpoint")
    assert (out.loc["base", "ci_low"], out.loc["base", "ci_high"]) == pytest.approx(wilson(1, 4))
    assert math.isnan(out.loc["base", "gain"])
    assert out.loc["checkpoint-5", "gain"] == pytest.approx(50.0)  # differences 0, 1, 0, 1
    se = math.sqrt(1 / 3) / 2
    assert out.loc["checkpoint-5", "gain_low"] == pytest.approx(100 * (0.5 - 3.182446305284263 * se))
    assert out.n_ungradable.tolist() == [1, 1] and out.seeds.tolist() == ["0", "0"]


def test_robust_draws_more_samples_on_the_small_benchmarks():
    from tina_utils.evaluate import core

    robust = core.get_preset("robust")
    per_problem = {b: core.samples_for(robust, b) * len(robust.seeds) for b in robust.benchmarks}
    assert per_problem == {"aime24": 20, "aime25": 20, "amc23": 20, "math_500": 5, "gpqa_diamond": 5, "minerva": 5}
    assert core.samples_for(core.get_preset("paper"), "aime24") == 1
    assert core.samples_for(core.get_preset("robust", n_samples=2), "minerva") == 2  # one n for every benchmark
    assert core.samples_for(core.get_preset("robust", samples_per_benchmark={"aime24": 8}), "aime24") == 8
