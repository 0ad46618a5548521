"""A whole study as one command: `python -m tina_utils.pipeline --grid ...` over notebooks 02 + 03.

The fast tests check the grid's parsing, point names and the study table's arithmetic. The slow one sweeps two
paper recipes x two seeds on r1-mini (local data files), kills the sweep after its first point, reruns it (the
finished point is skipped), then adds a point that fails and one that is already done.
Run: pytest tests/test_grid.py   (the slow test takes a few minutes on 2 cores; part of `make test`)
"""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from support import schema_fixtures
from support.processes import kill_tree

from tina_utils import grid, pipeline
from tina_utils.worlds import tiny

ROOT = Path(__file__).resolve().parents[1]


def test_grid_values_are_typed_and_every_combination_is_a_point():
    sweep = grid.parse_grid(["recipe=open_rs1,open_rs2", "seed=42,43"])
    assert sweep == {"recipe": ["open_rs1", "open_rs2"], "seed": [42, 43]}
    assert grid.points(sweep) == [{"recipe": "open_rs1", "seed": 42}, {"recipe": "open_rs1", "seed": 43},
                                  {"recipe": "open_rs2", "seed": 42}, {"recipe": "open_rs2", "seed": 43}]
    assert grid.point_name({"recipe": "open_rs2", "seed": 42}) == "recipe-open_rs2_seed-42"
    assert grid.point_name({"learning_rate": 1e-6, "model": "a/b c"}) == "learning_rate-1e-06_model-a-b-c"


@pytest.mark.parametrize("items, message", [
    (["seed"], "must be NAME=V1,V2"), (["seed="], "must be NAME=V1,V2"), (["seed=1", "seed=2"], "twice")])
def test_bad_grid_items_name_the_item(items, message):
    with pytest.raises(ValueError, match=message):
        grid.parse_grid(items)


def test_the_pipeline_cli_rejects_a_grid_name_no_selected_notebook_has(capsys):
    with pytest.raises(SystemExit) as exit_info:
        pipeline.main(["--only", "02", "--grid", "n_problems=1,2"])
    assert exit_info.value.code == 2
    assert "parameter 'n_problems' is not in any selected notebook" in capsys.readouterr().err


def test_the_study_table_is_mean_and_stderr_over_seeds_beside_the_paper(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    scores = {"a-42": 40.0, "a-43": 44.0, "b-42": 30.0}
    chosen = {"a-42": ("checkpoint-10", "checkpoint-10", 0.0), "a-43": ("checkpoint-10", "checkpoint-20", 3.0)}
    for run_id, average in scores.items():
        folder = tmp_path / "03_evaluate" / run_id
        folder.mkdir(parents=True)
        picked = dict(zip(["checkpoint", "oracle_checkpoint", "gap"], chosen.get(run_id, ())))
        (folder / "best.json").write_text(json.dumps({"average": average, **picked}))
    records = [{"param.recipe": recipe, "param.seed": seed, "run_id": f"{tag}-{seed}", "status": status}
               for recipe, tag, seed, status in [("open_rs2", "a", 42, "complete"), ("open_rs2", "a", 43, "complete"),
                                                 ("tiny", "b", 42, "complete"), ("tiny", "b", 43, "failed")]]
    table = grid.study_table(records, ["recipe", "seed"]).set_index("recipe")
    assert table.loc["open_rs2", "mean"] == 42.0 and table.loc["open_rs2", "n_seeds"] == 2
    assert table.loc["open_rs2", "stderr"] == pytest.approx(2.0)  # std 2.83 / sqrt(2)
    assert table.loc["open_rs2", "paper"] == 50.6  # Tina-Open-RS2's six-benchmark average
    assert table.loc["tiny", "mean"] == 30.0 and table.loc["tiny", "failed"] == 1
    assert math.isnan(table.loc["tiny", "paper"]) and math.isnan(table.loc["tiny", "stderr"])
    # validation-selected vs test-set best: they agree on one seed of two; gaps 0 and 3 points
    assert table.loc["open_rs2", "agree"] == 0.5 and table.loc["open_rs2", "mean_gap"] == 1.5
    assert math.isnan(table.loc["tiny", "agree"])


def sweep_command(files: dict, recipes: str, seeds: str) -> list[str]:
    """Notebooks 02 + 03 of the paper profile on r1-mini for a recipe x seed grid, cut to a few seconds a point."""
    data = json.dumps({"math_500": str(files["math_500"])})
    short = "{max_steps: 1, stop_at_step: 1, save_steps: 1, max_completion_length: 8}"
    return [sys.executable, "-m", "tina_utils.pipeline", "--profile", "paper", "--only", "02", "03",
            "--study", "table3", "--grid", f"recipe={recipes}", f"seed={seeds}", "-p", "model", "r1-mini",
            "-p", "dataset_path", str(files["open_rs"]), "-p", "overrides", short, "-p", "n_samples", "1",
            "-p", "sample_tokens", "4", "-p", "preset", "robust", "-p", "benchmarks", "[math_500]",
            "-p", "n_problems", "1", "-p", "max_new_tokens", "8", "-p", "data_paths", data]


@pytest.mark.slow
def test_a_two_point_study_survives_a_kill_skips_finished_points_and_lists_failures(tmp_path):
    files = schema_fixtures.write_all(tmp_path / "fixtures")
    results = tmp_path / "results"
    environment = {**os.environ, "TINA_RESULTS": str(results), "HF_HUB_OFFLINE": "1"}
    command = sweep_command(files, "open_rs2,open_rs3", "42")  # seeds over a study: the executors test
    points = results / "studies" / "table3" / "points"
    first = subprocess.Popen(command, cwd=ROOT, env=environment,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (points / "recipe-open_rs2_seed-42.json").exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    kill_tree(first.pid)  # the sweep and its notebook kernel, mid-way through the second point
    first.wait()
    assert json.loads((points / "recipe-open_rs2_seed-42.json").read_text())["status"] == "complete"
    assert not (points / "recipe-open_rs3_seed-42.json").exists()

    rerun = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "[1/2] recipe-open_rs2_seed-42: complete, skipped" in rerun.stdout
    assert rerun.stdout.count(": complete in ") == 1
    executed = sorted(p.name for p in (results / "executed").iterdir())
    assert executed == sorted(f"{nb}__recipe-{r}_seed-{s}.ipynb" for nb in ("02_train_lora_grpo", "03_evaluate")
                              for r in ("open_rs2", "open_rs3") for s in (42,))
    table = pd.read_csv(results / "studies" / "table3" / "study.csv").set_index("recipe")
    assert list(table.index) == ["open_rs2", "open_rs3"] and (table.n_seeds == 1).all() and (table.failed == 0).all()
    assert table.loc["open_rs2", "paper"] == 50.6 and table.loc["open_rs3", "paper"] == 49.45
    assert table["mean"].between(0, 100).all()  # r1-mini is random: its scores are real but near 0
    assert (results / "figures" / "study_table3.png").exists()

    # a point that cannot run fails alone, the finished one is skipped, the failures are listed, exit code 1
    mixed = subprocess.run(sweep_command(files, "open_rs9,open_rs2", "42"), cwd=ROOT, env=environment,
                           capture_output=True, text=True, timeout=900)
    assert mixed.returncode == 1
    assert "[2/2] recipe-open_rs2_seed-42: complete, skipped" in mixed.stdout
    assert "FAILED recipe-open_rs9_seed-42: unknown recipe 'open_rs9'" in mixed.stdout


def test_a_point_whose_notebook_fails_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    ran = []

    def execute(path, out, parameters, progress):
        ran.append((path.name, parameters))
        if parameters["seed"] == 1:
            raise pipeline.NotebookFailed(f"{path.name} failed at cell 9 ('x'): KeyError: 'y'")

    monkeypatch.setattr(pipeline, "execute_notebook", execute)
    table = pipeline.run_grid({"seed": [0, 1]}, "tiny", ["02", "03"], {"n_problems": 3}, "unit")
    assert [name for name, _ in ran] == ["02_train_lora_grpo.ipynb", "03_evaluate.ipynb", "02_train_lora_grpo.ipynb"]
    assert ran[1][1] == {"profile": "tiny", "seed": 0, "run_id": f"tiny-seed0-world{tiny.WORLD_VERSION}",
                         "n_problems": 3}
    assert "n_problems" not in ran[0][1]  # each notebook gets only the parameters its cell has
    assert table.attrs["failed"] == ["seed-1"]
    record = json.loads((tmp_path / "studies" / "unit" / "points" / "seed-1.json").read_text())
    assert record["status"] == "failed" and record["error"].startswith("02_train_lora_grpo.ipynb failed at cell 9")
