"""Notebook 03's findings: computed from the sweep's rows, the paper's reference run beside them."""

import pandas as pd

from tina_utils.evaluate import findings


def _scores() -> pd.DataFrame:
    rows = [("base", 0, 40.0, 5.0, None, None), ("checkpoint-10", 10, 70.0, 5.0, 30.0, 5.0),
            ("checkpoint-20", 20, 72.0, 5.0, 32.0, 5.0), ("checkpoint-30", 30, 60.0, 5.0, 20.0, 12.0)]
    return pd.DataFrame([{"checkpoint": c, "step": s, "benchmark": "tiny_eval", "metric": "pass@1", "value": v,
                          "stderr": se, "gain": g, "gain_stderr": gse} for c, s, v, se, g, gse in rows])


def test_ours_reports_the_chosen_checkpoint_its_paired_gain_and_the_oracle_gap():
    best = {"checkpoint": "checkpoint-10", "oracle_checkpoint": "checkpoint-20", "gap": 2.0}
    lines = findings.ours(_scores(), best)
    assert lines[0] == "Base model: 40.0 % [30.2, 49.8] (pass@1, mean over tiny_eval)."
    assert lines[1].startswith("Reported checkpoint-10 (step 10 of 30): 70.0 % [60.2, 79.8], +30.0 points")
    assert lines[1].endswith("[+20.2, +39.8]: distinguishable from zero.")
    assert lines[2].endswith("would report +2.0 points more, inside the reported checkpoint's ±9.8.")
    assert lines[3] == "Over training the average peaks at step 20 (72.0 %) and ends at step 30 (60.0 %)."


def test_a_gain_whose_interval_holds_zero_is_called_so():
    lines = findings.ours(_scores(), {"checkpoint": "checkpoint-30"})
    assert lines[1].endswith("[-3.5, +43.5]: not distinguishable from zero.") and len(lines) == 3  # no oracle line


def test_theirs_sets_the_paper_row_of_the_recipe_or_its_headline_run_beside():
    assert findings.theirs("open_rs3") == [
        "Paper, Tina-Open-RS3 at step 500 of 850 (59% of training): 49.45 % vs DeepSeek-R1-Distill-Qwen-1.5B 41.18 % "
        "(+8.27 points; one sample per problem, the best of 17 checkpoints on the test set)."]
    assert findings.theirs("tiny")[0].startswith("Paper, Tina-Open-RS2 at step 450 of 850 (53% of training): 50.60 %")


def test_the_paper_rows_are_the_base_and_every_tina_model():
    from tina_utils import paper

    rows = findings.paper_rows()
    tina = paper.load_reference("tina_models")
    assert list(rows.index) == ["DeepSeek-R1-Distill-Qwen-1.5B", *tina["model"]]
    assert rows.loc["DeepSeek-R1-Distill-Qwen-1.5B", "avg"] == 41.18 and rows["avg"].max() == 50.60
    assert rows.loc["DeepSeek-R1-Distill-Qwen-1.5B"].isna()[["best_step", "pct_epoch"]].all()
