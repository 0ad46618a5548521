"""Whole-study reruns: the grid's points, names and run ids, and the study table and figure (pipeline.py runs it).

    python -m tina_utils.pipeline --profile paper --only 02 03 --grid recipe=open_rs1,open_rs2,open_rs3 seed=42,43

Every point runs the selected notebooks with its parameters (each notebook gets the ones its parameters cell
has; notebook 03 also gets the run id notebook 02 trained) into results/executed/<notebook>__<point>.ipynb.
A point is complete once all its notebooks ran (results/studies/<study>/points/<point>.json): a rerun skips it,
so a killed sweep resumes where it stopped; a failed point is recorded and the sweep goes on. The points run one
after another here, or as submitit jobs (executors.py: several at once, or a Slurm job array).
The study table is the reported checkpoint's benchmark average per setting (chosen on the validation split,
best.json), mean and standard error over seeds, beside the paper's number for the recipe
(results/reference/tina_models.csv), with how often that checkpoint is the test-set best and the mean gap to it.
"""

import itertools
import json
import math
import re
from pathlib import Path

import pandas as pd

from tina_utils import env, plots


def parse_grid(items: list[str]) -> dict[str, list]:
    """{name: values} from NAME=V1,V2 items, values typed YAML-style (seed=42,43 gives ints)."""
    import yaml

    grid = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values.strip(","):
            raise ValueError(f"--grid {item!r} must be NAME=V1,V2,..., e.g. --grid seed=42,43")
        if name in grid:
            raise ValueError(f"--grid names {name!r} twice; give all its values in one NAME=V1,V2 item")
        grid[name] = [yaml.safe_load(value) for value in values.split(",") if value]
    return grid


def points(grid: dict[str, list]) -> list[dict]:
    """Every combination of the grid's values, the first name varying slowest."""
    return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]


def point_name(point: dict) -> str:
    """A file-name-safe label, e.g. recipe-open_rs2_seed-42."""
    return "_".join(f"{name}-{re.sub(r'[^A-Za-z0-9._+-]+', '-', str(value))}" for name, value in point.items())


def recipe_of(parameters: dict, profile: str):
    """The recipe notebook 02 trains for these parameters (its recipe, seed and overrides cells)."""
    from tina_utils import train

    recipe = parameters.get("recipe", "tiny")
    if profile == "paper" and recipe == "tiny":
        recipe = "open_rs2"  # notebook 02's paper default
    overrides = train.notebook_overrides(profile, dict(parameters.get("overrides") or {}),
                                         model=parameters.get("model"), dataset_path=parameters.get("dataset_path"),
                                         say=lambda text: None)
    return train.load_recipe(recipe, seed=parameters.get("seed", 0), **overrides)


def run_id_of(parameters: dict, profile: str) -> str:
    """The run id notebook 02 trains for these parameters."""
    from tina_utils import train

    return train.run_id(recipe_of(parameters, profile))


def study_dir(study: str) -> Path:
    """results/studies/<study>/."""
    return env.results_dir("studies", study)


def best_record(run_id: str) -> dict:
    """Notebook 03's best.json of a run ({} when not evaluated)."""
    path = env.results_dir("03_evaluate") / run_id / "best.json"
    return json.loads(path.read_text()) if path.exists() else {}


def best_average(run_id: str) -> float:
    """The reported checkpoint's benchmark average from notebook 03's best.json (NaN when not evaluated)."""
    return best_record(run_id).get("average", math.nan)


def paper_average(recipe) -> float:
    """The paper's six-benchmark average for the Tina model of `recipe` (NaN when the paper has none)."""
    from tina_utils import paper as reference

    models = reference.load_reference("tina_models")
    match = models[models.recipe == recipe]
    return float(match.avg.iloc[0]) if len(match) else math.nan


def study_table(records: list[dict], names: list[str]) -> pd.DataFrame:
    """One row per setting (grid values except the seed): our mean +- s.e. over seeds, and the paper's number."""
    from tina_utils.evaluate.core import stderr

    best = {r["run_id"]: best_record(r["run_id"]) if r["status"] == "complete" else {} for r in records}
    frame = pd.DataFrame([{**{n: r[f"param.{n}"] for n in names}, "run_id": r["run_id"], "status": r["status"],
                           "score": best[r["run_id"]].get("average", math.nan),
                           "gap": best[r["run_id"]].get("gap", math.nan),
                           "agree": (best[r["run_id"]]["checkpoint"] == best[r["run_id"]]["oracle_checkpoint"]
                                     if "oracle_checkpoint" in best[r["run_id"]] else math.nan)}
                          for r in records])
    keys = [n for n in names if n != "seed"] or ["study"]
    if keys == ["study"]:
        frame["study"] = "all"
    rows = []
    for setting, part in frame.groupby(keys, sort=False):
        setting = setting if isinstance(setting, tuple) else (setting,)
        scores = part.score.dropna()
        row = dict(zip(keys, setting))
        recipe = row.get("recipe")
        rows.append({**row, "n_seeds": len(scores), "mean": scores.mean() if len(scores) else math.nan,
                     "stderr": stderr(scores), "paper": paper_average(recipe) if recipe else math.nan,
                     "failed": int((part.status != "complete").sum()),
                     "agree": part.agree.dropna().astype(float).mean() if part.agree.notna().any() else math.nan,
                     "mean_gap": part.gap.mean()})
    return pd.DataFrame(rows)


def write_study(table: pd.DataFrame, study: str) -> Path:
    """results/studies/<study>/study.csv and the figure results/figures/study_<study>.png."""
    path = study_dir(study) / "study.csv"
    table.to_csv(path, index=False, lineterminator="\n")
    plots.draw(f"study_{study}")
    print(table.round(2).to_string(index=False))
    return path
