"""Choosing a checkpoint without peeking: validation splits from local files, disjoint from the tests, and the
selected checkpoint beside the test-set best.

Run: pytest tests/test_validation.py   (seconds; no Hub)
"""

import json

import pandas as pd
import pytest

from tina_utils import data
from tina_utils import evaluate as ev
from tina_utils.evaluate import core
from tina_utils.worlds import tiny

AOPS = "https://artofproblemsolving.com/wiki/index.php/{}_AIME_I_Problems/Problem_{}"


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_aime_val_keeps_2022_and_2023_and_drops_test_problems(tmp_path):
    rows = [{"id": i, "problem": f"Find the number {i}.", "solution": "...", "answer": str(i),
             "url": AOPS.format(year, i)} for i, year in enumerate([2022, 2023, 2024, 2023])]
    path = write_jsonl(tmp_path / "aime_val.jsonl", rows)
    kept = data.load_validation("aime_val", path=path)
    assert [row["gold"] for row in kept] == ["0", "1", "3"]  # 2024 is AIME24 itself
    assert kept[0]["prompt"][0]["content"].startswith("Solve the following math problem")
    kept = data.load_validation("aime_val", path=path, exclude=["find the NUMBER 1."])  # same words, other case
    assert [row["gold"] for row in kept] == ["0", "3"]
    assert [row["gold"] for row in data.load_validation("aime_val", n=1, path=path)] == ["0"]


def test_amc_val_keeps_2022_and_reads_float_answers(tmp_path):
    rows = [{"id": i, "problem": f"AMC problem {i}", "answer": 27.0 + i,
             "url": f"https://artofproblemsolving.com/wiki/index.php/{year}_AMC_12A_Problems/Problem_{i}"}
            for i, year in enumerate([2022, 2023])]
    kept = data.load_validation("amc_val", path=write_jsonl(tmp_path / "amc.jsonl", rows))
    assert [(row["gold"], row["benchmark"], row["profile"]) for row in kept] == [("27", "amc_val", "expr")]


def test_a_validation_file_without_urls_or_problems_left_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "bare.jsonl", [{"id": 1, "problem": "p", "answer": "1"}])
    with pytest.raises(ValueError, match="url"):
        data.load_validation("aime_val", path=path)
    path = write_jsonl(tmp_path / "one.jsonl", [{"id": 1, "problem": "p", "answer": "1", "url": AOPS.format(2022, 1)}])
    with pytest.raises(ValueError, match="no problem is left once the 1 test problems are removed"):
        data.load_validation("aime_val", path=path, exclude=["p"])


def test_tiny_val_is_held_out_from_training_and_disjoint_from_tiny_eval():
    rows = core.load_rows(("tiny_eval", "tiny_val"), n_problems=50)
    test = {r["problem"] for r in rows if r["benchmark"] == "tiny_eval"}
    held = [r["problem"] for r in rows if r["benchmark"] == "tiny_val"]
    assert len(test) == 50 and len(held) == 50 == len(set(held)) and not test & set(held)
    trained = {p["problem"] for p in tiny.make_problems(tiny.pool_size("train"), split="train")}
    assert not trained & set(held)
    assert data.is_validation("tiny_val") and not data.is_validation("tiny_eval")


def scores(values: dict, benchmark: str) -> pd.DataFrame:
    return pd.DataFrame([{"checkpoint": c, "step": 0 if c == "base" else int(c.split("-")[1]), "benchmark": benchmark,
                          "metric": "pass@1", "value": v} for c, v in values.items()])


def test_the_checkpoint_is_chosen_on_validation_and_set_beside_the_test_best(tmp_path, monkeypatch):
    test = scores({"base": 20.0, "checkpoint-10": 40.0, "checkpoint-20": 30.0}, "tiny_eval")
    held = scores({"base": 25.0, "checkpoint-10": 30.0, "checkpoint-20": 35.0}, "tiny_val")
    best = ev.select_checkpoint(test, held)
    assert (best["checkpoint"], best["average"], best["validation_average"]) == ("checkpoint-20", 30.0, 35.0)
    assert (best["oracle_checkpoint"], best["oracle_average"], best["gap"]) == ("checkpoint-10", 40.0, 10.0)
    assert best["rule"].startswith("validation: the highest mean pass@1 on tiny_val")
    alone = ev.select_checkpoint(test, None, why_no_validation="aime_val: not in the local cache")
    assert (alone["checkpoint"], alone["gap"]) == ("checkpoint-10", 0.0)
    assert alone["rule"].startswith("test:") and alone["rule"].endswith("aime_val: not in the local cache")
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    (tmp_path / "03_evaluate" / "run").mkdir(parents=True)
    (tmp_path / "03_evaluate" / "run" / "best.json").write_text(json.dumps(best))
    assert ev.selected_checkpoint("run") == "checkpoint-20" and ev.selected_checkpoint("other") is None


def test_presets_choose_on_validation_splits():
    assert ev.get_preset("tiny").validation == ("tiny_val",)
    assert ev.get_preset("paper").validation == ev.get_preset("robust").validation == ("aime_val", "amc_val")
    assert ev.get_preset("tiny", validation="tiny_val").validation == ("tiny_val",)


def test_the_selection_table_sets_base_reported_and_oracle_side_by_side(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    folder = tmp_path / "03_evaluate" / "run"
    folder.mkdir(parents=True)
    test = scores({"base": 20.0, "checkpoint-10": 40.0, "checkpoint-20": 30.0}, "tiny_eval")
    test = test.assign(stderr=2.0, gain=test.value - 20.0, gain_stderr=1.0)
    ev.macro_average(test).to_csv(folder / "macro.csv", index=False)
    held = scores({"base": 25.0, "checkpoint-10": 30.0, "checkpoint-20": 35.0}, "tiny_val")
    held.to_csv(folder / "validation_scores.csv", index=False)
    (folder / "best.json").write_text(json.dumps(ev.select_checkpoint(test, held)))
    table = ev.selection_table("run").set_index("checkpoint")
    assert table.role.tolist() == ["base", "reported (validation)", "test-set best (oracle)"]
    assert table.test_average.tolist() == [20.0, 30.0, 40.0] and table.validation.tolist() == [25.0, 35.0, 30.0]
    assert table.loc["checkpoint-20", "gain"] == 10.0
    assert table.loc["checkpoint-20", "gain_low"] == pytest.approx(10.0 - 1.959963984540054)
