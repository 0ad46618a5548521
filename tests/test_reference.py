"""The paper's reference tables: averages, cross-table consistency, committed CSVs.

Run: pytest tests/test_reference.py -q
"""

import pandas as pd
import pytest

from tina_utils import env
from tina_utils import paper as reference
from tina_utils.paper import BENCHMARKS, load_reference, table

SCORED = ["baseline_eval", "tina_models", "ablations"]


@pytest.mark.parametrize("name", SCORED)
def test_six_benchmark_average_is_the_mean_of_the_columns(name):
    frame = table(name)
    complete = frame.dropna(subset=BENCHMARKS)
    assert len(complete) == len(frame)
    assert (complete[BENCHMARKS].mean(axis=1) - complete["avg"]).abs().max() <= 0.01


@pytest.mark.parametrize("name", sorted(reference.TABLES))
def test_every_row_cites_a_source_and_explains_gaps(name):
    frame = table(name)
    assert frame["source"].str.contains(r"Table|Fig\.|assets", regex=True).all()
    numeric = frame.select_dtypes("number")
    gaps = numeric.isna().any(axis=1)
    assert frame.loc[gaps, "note"].str.len().gt(0).all()


def test_unverified_values_are_marked():
    models = table("tina_models").set_index("model")
    assert pd.isna(models.loc["Tina-II-Thought", "pct_epoch"])
    assert "UNVERIFIED" in models.loc["Tina-II-Thought", "note"]
    assert "UNVERIFIED" in table("overall_comparison").set_index("model").loc["Tina", "note"]


def test_cost_rows_add_up_to_the_stated_totals():
    costs = table("costs").set_index("task")
    tasks = costs[costs["kind"] == "task"]
    assert tasks[["train_usd", "eval_usd", "total_usd"]].sum().tolist() == [396, 130, 526]
    main = costs.loc[reference.MAIN_TASKS, ["train_usd", "eval_usd", "total_usd"]].sum().tolist()
    assert main == costs.loc["Total, main tasks", ["train_usd", "eval_usd", "total_usd"]].tolist() == [213, 62, 275]
    both = costs.dropna(subset=["train_usd"])
    assert (both["train_usd"] + both["eval_usd"] == both["total_usd"]).all()


def test_tables_agree_with_each_other():
    base = table("baseline_eval").set_index("model")["avg"]
    models = table("tina_models")
    assert models["baseline_avg"].tolist() == base.loc[models["baseline_model"]].tolist()
    overall = table("overall_comparison").set_index("model")
    for model in ["STILL-3-1.5B-preview", "DeepScaleR-1.5B-Preview", "Open-RS1", "Open-RS2", "Open-RS3"]:
        assert overall.loc[model, "performance"] == base[model]
    assert overall.loc["Tina", "performance"] == models.set_index("recipe").loc["open_rs2", "avg"] == 50.60
    costs = table("baseline_costs").set_index("model")
    assert costs.loc["DeepScaleR-1.5B-Preview", "usd"] == overall.loc["DeepScaleR-1.5B-Preview", "cost_usd"]
    assert costs.loc["STILL-3-1.5B-preview", "usd"] == overall.loc["STILL-3-1.5B-preview", "cost_usd"]
    data = table("ablations").query("ablation == 'dataset' and dataset == 'Open-RS'").iloc[0]
    assert (data["pct_epoch"], data["avg"]) == (51, 50.60)


def test_implied_baseline_rates():
    rates = table("baseline_costs").set_index("model")["usd_per_gpu_hour"]
    assert rates.tolist() == pytest.approx([1.89, 1.89, 0.4375], abs=0.001)


def test_committed_csvs_match_the_literals(tmp_path):
    committed = env.repo_root() / "results" / "reference"
    for path in reference.write_reference_tables(tmp_path):
        assert (committed / path.name).read_bytes() == path.read_bytes(), "rerun python -m tina_utils.cost"


def test_load_reference_round_trips_and_writes_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    loaded = load_reference("ablations")
    assert (tmp_path / "reference" / "ablations.csv").exists()
    pd.testing.assert_frame_equal(loaded, table("ablations"), check_dtype=False)


def test_unknown_table_lists_valid_names():
    with pytest.raises(KeyError, match="valid names: costs"):
        table("cost")
