"""Each notebook's paper branch runs headless (papermill, `profile="paper"`) on r1-mini with local data files.

What notebook 02 does with vLLM on a GPU it does here with transformers generation; 03 scores the six paper
benchmarks from local files with the paper preset (a few problems, few tokens). Outputs are not committed.
Run: pytest tests/test_paper_notebooks.py   (about 80 s on 2 cores; marked slow, part of `make test`)
"""

import pandas as pd
import pytest
from support import schema_fixtures

from tina_utils import pipeline
from tina_utils.worlds import r1_mini

pytestmark = pytest.mark.slow
RUN_ID = f"open_rs2-seed42-r1mini{r1_mini.VERSION}"
SHORT_RUN = {"max_steps": 3, "stop_at_step": 3, "save_steps": 1, "max_completion_length": 32}


def parameters(files: dict) -> dict:
    """Per notebook: the paper profile on r1-mini and the fixture files."""
    bench = {name: str(files[name]) for name in ("aime24", "aime25", "amc23", "math_500", "minerva", "gpqa_diamond")}
    return {
        "01": dict(dataset="open_rs", base_model="r1-mini", local_path=str(files["open_rs"])),
        "02": dict(recipe="open_rs2", seed=42, model="r1-mini", dataset_path=str(files["open_rs"]), sample_tokens=16,
                   overrides=SHORT_RUN),
        "03": dict(run_id=RUN_ID, n_problems=2, max_new_tokens=16, data_paths=bench),
        "04": dict(run_id=RUN_ID),
        "05": dict(run_id=RUN_ID, eval_preset="paper"),
    }


def test_the_five_notebooks_run_their_paper_branch_on_r1_mini(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    params = parameters(schema_fixtures.write_all(tmp_path / "fixtures"))
    (tmp_path / "executed").mkdir()
    for path in pipeline.notebooks():
        pipeline.execute_notebook(path, out=tmp_path / "executed" / path.name, progress=False,
                                  parameters={"profile": "paper", **params[path.name[:2]]})
    results = tmp_path / "results"
    runs = pd.read_csv(results / "runs.csv").set_index("run_id")
    assert runs.loc[RUN_ID, "status"] == "complete" and runs.loc[RUN_ID, "checkpoints"] == 3
    scores = pd.read_csv(results / "03_evaluate" / RUN_ID / "scores.csv")
    assert set(scores.benchmark) == {"aime24", "aime25", "amc23", "math_500", "minerva", "gpqa_diamond"}
    assert set(scores.checkpoint) == {"base", "checkpoint-1", "checkpoint-2", "checkpoint-3"}
    assert (results / "01_data" / "open_rs_stats.csv").exists()
    assert RUN_ID in pd.read_csv(results / "04_cost" / "run_costs.csv").run_id.tolist()
    assert (results / "05_phase" / f"{RUN_ID}_transitions.csv").exists()
