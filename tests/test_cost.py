"""Cost model, headline arithmetic ($9 / $526 / 260x) and costing of our runs: `pytest tests/test_cost.py -q`."""

import math

import pandas as pd
import pytest

from tina_utils import cost

N = cost.N_PARAMS


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty results/ directory for this test."""
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("name, key", [
    ("NVIDIA H100 80GB HBM3", "H100"), ("NVIDIA H100 PCIe", "H100-PCIE"), ("NVIDIA H100 NVL", None),
    ("NVIDIA H200", "H200"), ("NVIDIA L40S", "L40S"), ("NVIDIA L40", None), ("NVIDIA A100-SXM4-80GB", "A100"),
    ("NVIDIA A40", "A40"), ("NVIDIA RTX A4000", None), ("cpu (2 cores)", "cpu"), ("cpu", "cpu"), ("Tesla T4", None),
])
def test_gpu_key_maps_device_names(name, key):
    assert cost.gpu_key(name) == key


def test_cost_of_known_gpus_matches_cited_rates():
    assert cost.cost(15, "L40S") == 15.0
    assert cost.cost(8 * 240, "NVIDIA A100-SXM4-80GB") == pytest.approx(3629)
    assert cost.cost(4 * 24, "A40") == pytest.approx(42)
    assert cost.cost(2, "NVIDIA H100 80GB HBM3") == pytest.approx(5.38)
    assert cost.cost(pd.Series([1.0, 2.0]), "H200").tolist() == pytest.approx([4.54, 9.08])


def test_unknown_gpu_costs_nan_with_a_warning_naming_it():
    with pytest.warns(UserWarning, match=r"unknown GPU 'Tesla T4'.*Known: .*L40S"):
        assert math.isnan(cost.cost(3.0, "Tesla T4"))


def test_cpu_is_free_and_labelled_cpu_hours():
    assert cost.cost(3.5, "cpu (2 cores)") == 0.0
    assert cost.unit("cpu (2 cores)") == "CPU-hours"
    assert cost.unit("NVIDIA H200") == "GPU-hours"


def test_price_table_rows_are_cited_and_dated():
    table = cost.price_table().set_index("gpu")
    assert table.loc[["L40S", "A100", "A40"], "usd_per_hour"].tolist() == [1.0, 1.8901, 0.4375]
    gpus = table.drop(index="cpu")
    assert gpus["source"].str.len().gt(20).all() and gpus["date"].str.match(r"^20\d\d-\d\d").all()


def test_flops_per_token_and_mfu():
    assert cost.generation_flops(1000) == 2 * N * 1000
    assert cost.training_flops(1000) == 8 * N * 1000
    assert cost.mfu(362e12 * 1800, 3600, "L40S") == pytest.approx(0.5)
    assert cost.mfu(989e12 * 3600, 3600, "NVIDIA H100 80GB HBM3", n_devices=2) == pytest.approx(0.5)
    with pytest.warns(UserWarning, match="unknown GPU"):
        assert math.isnan(cost.mfu(1e15, 10, "cpu"))


def test_tina_napkin_is_hand_computable():
    est = cost.tina_napkin(mean_completion_tokens=2000, prompt_tokens=0)
    completions = 48 * 850
    flops = completions * 2000 * (2 * N + 8 * N)
    assert (est["gpu_hours"], est["wall_clock_h"]) == (15.0, 7.5)
    assert est["s_per_step"] == pytest.approx(7.5 * 3600 / 850)
    assert est["mfu"] == pytest.approx(flops / (7.5 * 3600 * 2 * 362e12))
    assert 0.04 < cost.tina_napkin()["mfu"] < 0.09  # published GRPO MFU estimates: ~4-9 %


def test_headline_nine_dollars_best_checkpoint_of_best_run(results):
    best = cost.headline_best_checkpoint()
    found = (best["task"], best["best_step"], best["stop_step"], best["n_checkpoints"])
    assert found == ("Tina-Open-RS2", 450, 850, 17)
    assert best["train_usd"] == pytest.approx(15 * 450 / 850)
    assert best["eval_usd"] == pytest.approx(17 / 17)
    assert round(best["total_usd"]) == best["stated_total_usd"] == 9
    assert round(best["train_usd"]) == best["stated_train_usd"] == 8


def test_headline_526_dollars_all_tasks(results):
    total = cost.headline_all_tasks()
    assert (total["train_usd"], total["eval_usd"], total["total_usd"]) == (396, 130, 526)
    assert total["total_usd"] == total["stated_total_usd"]


def test_headline_260x_is_deepscaler_over_tina_fig1(results):
    ratio = cost.headline_ratio()
    assert (ratio["numerator_usd"], ratio["denominator_usd"]) == (3629, 14)
    assert ratio["ratio"] == pytest.approx(259.21, abs=0.01)
    assert round(ratio["ratio"], -1) == 260
    assert all(round(v, -1) != 260 for v in ratio["alternatives"].values())


# ---- our runs, on fixture files written as the contracts describe them ----

RUNS = pd.DataFrame([
    {"run_id": "gpu1", "recipe": "open_rs2", "seed": 0, "hardware": "NVIDIA H100 80GB HBM3",
     "gpu_type": "NVIDIA H100 80GB HBM3", "n_gpus": 1, "wall_clock_s": 7200, "gpu_hours": 2.0, "steps": 100,
     "checkpoints": 2, "started_at": "2026-11-25T10:00:00", "git_sha": "abc", "status": "done"},
    {"run_id": "cpu1", "recipe": "tiny", "seed": 0, "hardware": "cpu (2 cores)", "gpu_type": "cpu", "n_gpus": 1,
     "wall_clock_s": 36, "gpu_hours": 0.01, "steps": 20, "checkpoints": 2, "started_at": "2026-11-25T11:00:00",
     "git_sha": "abc", "status": "done"},
])


def write_fixture(root):
    """runs.csv with a GPU run (evaluated) and a CPU run (trained only, two checkpoint dirs)."""
    RUNS.to_csv(root / "runs.csv", index=False)
    ckpts = {"base": (0, [10, 20]), "checkpoint-50": (50, [30, 50]), "checkpoint-100": (100, [20, 40])}
    scores = [{"run_id": "gpu1", "checkpoint": c, "step": step, "benchmark": b, "metric": "pass@1", "value": v,
               "stderr": 1.0, "n_problems": 30, "n_samples": 1}
              for c, (step, values) in ckpts.items() for b, v in zip(["aime24", "math500"], values)]
    timing = [{"checkpoint": c, "benchmark": b, "wall_clock_s": 360, "device_hours": 0.1,
               "hardware": "NVIDIA H100 80GB HBM3", "n_generated_tokens": 1000}
              for c in ckpts for b in ["aime24", "math500"]]
    (root / "03_evaluate" / "gpu1").mkdir(parents=True)
    pd.DataFrame(scores).to_csv(root / "03_evaluate" / "gpu1" / "scores.csv", index=False)
    pd.DataFrame(timing).to_csv(root / "03_evaluate" / "gpu1" / "timing.csv", index=False)
    for step in (10, 20):
        (root / "02_train" / "cpu1" / f"checkpoint-{step}").mkdir(parents=True)


def test_checkpoint_costs_prorate_training_and_add_own_eval(results, capsys):
    write_fixture(results)
    table = cost.checkpoint_costs().set_index(["run_id", "checkpoint"])
    gpu = table.loc["gpu1"]
    assert gpu.index.tolist() == ["base", "checkpoint-50", "checkpoint-100"]
    assert gpu["train_device_hours"].tolist() == [0.0, 1.0, 2.0]
    assert gpu["eval_device_hours"].tolist() == pytest.approx([0.2, 0.2, 0.2])
    assert gpu["total_usd"].tolist() == pytest.approx([0.538, 3.228, 5.918])
    assert gpu["score"].tolist() == [15.0, 40.0, 30.0]
    assert gpu["score_math500"].tolist() == [20.0, 50.0, 40.0]
    cpu = table.loc["cpu1"]
    assert cpu["step"].tolist() == [10, 20] and cpu["train_device_hours"].tolist() == [0.005, 0.01]
    assert cpu["train_usd"].tolist() == [0.0, 0.0] and cpu["unit"].eq("CPU-hours").all()
    assert cpu["eval_usd"].isna().all() and cpu["score"].isna().all()
    assert "no 03_evaluate/cpu1/scores.csv yet" in capsys.readouterr().out


def test_run_costs_totals_and_best_checkpoint(results):
    write_fixture(results)
    runs = cost.run_costs().set_index("run_id")
    assert runs.loc["gpu1", ["train_usd", "eval_usd", "total_usd"]].tolist() == pytest.approx([5.38, 1.614, 6.994])
    assert (runs.loc["gpu1", "best_checkpoint"], runs.loc["gpu1", "best_score"]) == ("checkpoint-50", 40.0)
    assert runs.loc["gpu1", "best_total_usd"] == pytest.approx(3.228)
    assert runs.loc["cpu1", "train_usd"] == 0.0 and runs.loc["cpu1", "unit"] == "CPU-hours"
    assert pd.isna(runs.loc["cpu1", "best_checkpoint"])
    assert cost.run_costs("cpu1")["run_id"].tolist() == ["cpu1"]


def test_a_run_still_starting_has_no_checkpoint_rows(results):
    RUNS.iloc[[1]].assign(steps=0, gpu_hours=0.0, status="running").to_csv(results / "runs.csv", index=False)
    assert cost.checkpoint_costs().empty
    runs = cost.run_costs()
    assert runs["run_id"].tolist() == ["cpu1"] and pd.isna(runs.loc[0, "best_score"])


def test_run_costs_reuses_given_checkpoint_table(results):
    write_fixture(results)
    ckpts = cost.checkpoint_costs("gpu1")
    assert cost.run_costs("gpu1", ckpts).equals(cost.run_costs("gpu1"))


def test_missing_runs_file_gives_empty_frames_and_a_message(results, capsys):
    assert cost.run_costs().empty and cost.checkpoint_costs().empty
    assert list(cost.run_costs().columns) == cost.RUN_COLUMNS
    assert "no runs.csv yet" in capsys.readouterr().out


def test_unknown_run_id_is_reported(results, capsys):
    write_fixture(results)
    assert cost.checkpoint_costs("nope").empty
    assert "'nope' is not in runs.csv" in capsys.readouterr().out
