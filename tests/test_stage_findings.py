"""Notebooks 01, 02, 04 and 05's openings and findings: computed from small fixture tables, the paper's beside."""

import math

import pandas as pd
import pytest
from scipy import stats as sps

from tina_utils import train
from tina_utils.cost import findings as cost_findings
from tina_utils.data import findings as data_findings
from tina_utils.phase import findings as phase_findings
from tina_utils.train import findings as train_findings


def test_mean_interval_is_the_t_interval_unclipped():
    mean, low, high = train_findings.mean_interval([1.0, 2.0, 3.0, float("nan")])
    assert (mean, low, high) == pytest.approx((2.0, 2 - sps.t.ppf(0.975, 2) / math.sqrt(3),
                                               2 + sps.t.ppf(0.975, 2) / math.sqrt(3)))
    assert train_findings.mean_interval([2.5, 2.5]) == (2.5, 2.5, 2.5)
    assert math.isnan(train_findings.mean_interval([1.0])[1])


def test_sizes_set_the_paper_sets_and_benchmarks_beside_the_tiny_ones():
    table = data_findings.sizes(tiny_eval_rows=200).set_index(["world", "set"])["size"]
    assert table["paper", "LIMR"] == 1390 and table["paper", "OpenR1"] == 93700 and table["paper", "Open-RS"] == 7000
    assert [table["paper", b] for b in ("aime24", "aime25", "amc23", "math500", "gpqa", "minerva")] == [
        30, 30, 40, 500, 198, 272]
    assert table["tiny", "tiny_eval"] == 200 and table["tiny", "tiny"] == 2000


def test_data_findings_report_drops_and_parse_share():
    row = pd.Series(dict(dataset="x", raw_rows=1000, rows=990, dropped_unparseable_gold=4, dropped_too_long=6,
                         gold_parse_share=0.996, prompt_tokens_p50=40.0, prompt_tokens_p95=300.0,
                         prompt_tokens_max=500))
    lines = data_findings.findings(row, max_prompt_tokens=512).splitlines()
    assert lines[0] == ("- x: 990 of 1,000 rows kept (99.0 %); the paper's sets hold 1,390 (LIMR) to 93,700 "
                        "(OpenR1) prompts.")
    assert "6 dropped as too long (0.6 %" in lines[1] and lines[1].endswith("fits the budget: no.")
    assert lines[2].startswith("- Gold answers the grader parses: 99.6 % (4 rows dropped")


def test_recipe_table_and_tinas_parameters_on_the_real_shapes():
    ours, theirs = train.load_recipe("tiny"), train_findings.paper_recipe("tiny")
    table = train_findings.recipe_table(ours, theirs)
    assert table.loc["LoRA rank r"].tolist() == ["16", "32", False]
    assert table.loc["per-device batch"].tolist() == ["32", "6", False]  # open_rs2: G 6 on each of 2 GPUs
    assert table.loc["rewards", "same"] and theirs.name == "open_rs2"
    per_layer = 32 * (2 * 3072 + 2 * 1792 + 3 * (1536 + 8960))  # r x (in + out) over the 7 projections
    assert train_findings.paper_parameters(theirs)[0] == 28 * per_layer == 36_929_536
    assert train_findings.reward_table(["format"]).loc["format", "what it pays"].startswith("1.0 iff")


def test_train_findings_judge_start_and_end_and_the_papers_observations():
    logs = pd.DataFrame({"step": range(1, 21), "format_reward": [0.0, 0.1] * 5 + [0.9, 1.0] * 5,
                         "accuracy_reward": [0.5] * 20})
    fmt = type("T", (), {"kind": "rise", "step": 11, "lo": 10, "hi": 11})()
    found = {"format_reward": fmt, "accuracy_reward": None}
    record = {"steps": 20, "wall_clock_s": 10.0, "hardware": "cpu"}
    lines = train_findings.findings(logs, found, record, (10, 1000)).splitlines()
    assert lines[0].startswith("- format reward: 0.05 [") and lines[0].endswith("over the last 10: rose.")
    assert lines[1].endswith("0.50 [0.50, 0.50] over the last 10: no change beyond the intervals.")
    assert lines[2] == "- Trained 10 of 1,000 parameters (1.00%), 20 steps in 10 s on cpu (0.50 s per step)."
    assert lines[3].endswith("This run: yes (step 11, interval 10-11).")
    assert lines[5].endswith("drifts without a sharp turn. This run: yes.")


def _costs():
    runs = pd.DataFrame([{"run_id": "r", "train_device_hours": 0.08, "eval_device_hours": 0.02, "train_usd": 0.0,
                          "total_usd": 0.0,
                          "unit": "CPU-hours", "best_checkpoint": "checkpoint-2"}])
    checkpoints = pd.DataFrame([
        {"run_id": "r", "checkpoint": c, "step": s, "train_device_hours": t, "eval_device_hours": 0.005,
         "eval_usd": 0.0, "total_usd": 0.0, "score": v}
        for c, s, t, v in [("base", 0, 0.0, 40.0), ("checkpoint-2", 2, 0.02, 70.0), ("checkpoint-4", 4, 0.04, 60.0),
                           ("checkpoint-6", 6, 0.06, 65.0), ("checkpoint-8", 8, 0.08, 62.0)]])
    return runs, checkpoints


def test_cost_headline_and_findings_compare_shares_not_unpriced_amounts():
    assert cost_findings.headline()["its tables give"].tolist() == ["$8.94", "$526", "259.2x"]
    lines = cost_findings.findings(*_costs()).splitlines()
    assert lines[0] == ("- r: 4 checkpoints, 0.0050 CPU-hours (not priced) to evaluate each on average; the whole run "
                        "0.1000 CPU-hours (not priced).")
    assert "cost 0.0250 CPU-hours (not priced), 25% of the run's cost; the paper's $9 was 28% of its run's $32." \
        in lines[1]
    assert lines[2].startswith("- CPU-hours are not priced")
    runs, checkpoints = _costs()
    lines = cost_findings.findings(runs, checkpoints.assign(eval_device_hours=float("nan"))).splitlines()
    assert lines[0] == ("- r: 4 checkpoints, training 0.0800 CPU-hours (not priced); not evaluated yet (notebook 03), "
                        "so no checkpoint cost to set beside the $9.")


def test_phase_opening_and_findings_place_the_transition_and_the_stop():
    table = phase_findings.paper_best_steps()
    assert table.loc["Tina-Open-RS2", ["steps per epoch", "best step", "best, % of epoch (paper)"]].tolist() == [
        875, 450, 51]
    relation = {"best_step": 45, "best_score": 80.0, "transition_step": 24, "transition_lo": 20, "transition_hi": 26,
                "score_at_transition": 75.0, "claim_holds": False}
    comparison = {"confirmed_at": 60, "steps_saved": 15, "planned_steps": 75, "cpu_seconds_full": 40.0,
                  "cpu_seconds_stopped": 30.0, "kept_checkpoint": "checkpoint-15", "kept_score": 74.0,
                  "best_checkpoint": "checkpoint-45", "best_score": 80.0, "score_diff": -6.0, "diff_stderr": 2.0,
                  "within_noise": False}
    lines = phase_findings.findings(relation, comparison, steps_per_epoch=500).splitlines()
    assert lines[0] == ("- Format transition at step 24 (interval 20-26, 4.8 % of an epoch); reported checkpoint at "
                        "step 45 (9.0 % of an epoch).")
    assert lines[1].startswith("- Transition before the reported checkpoint: yes (+21 steps")
    assert lines[2].endswith("(Tina-Open-RS2's at step 450, 51 % of an epoch). This run: no.")
    assert lines[3].startswith("- Early stop: confirmed at step 60, 15 of 75 steps saved (20%); training took 30 s "
                               "vs 40 s unstopped")
    assert lines[4].endswith("-6.0 points [-9.9, -2.1]; within the noise: no.")
    assert phase_findings.findings(None, None, None).splitlines()[1].startswith("- No early-stopped run")
