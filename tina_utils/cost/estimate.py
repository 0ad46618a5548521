"""What a training run plus the evaluation of its checkpoints should cost, before it runs (`pipeline --plan`).

A recipe with a row in the paper's cost table (Table 1, results/reference/costs.csv) gets the paper's dollars,
pro-rated to the steps and checkpoints asked for, and turned into GPU-hours at the paper's L40S price. The tiny
recipe gets our CPU measurements (docs/measured.md: 0.95 s per step, bench_train.py; 4.8 s to evaluate four
checkpoints and the base, bench_eval_sweep.py), priced at $0 as CPU-hours. Any other recipe gets Tina-Open-RS2's
per-step and per-checkpoint rates from the same table.
"""

import math

from tina_utils.cost.accounting import price, unit
from tina_utils.paper import load_reference

CPU_MEASURED = {"device": "cpu", "s_per_step": 0.95, "eval_s_per_checkpoint": 4.8 / 5,
                "basis": "our CPU measurements (0.95 s/step, 0.96 s per checkpoint evaluated; docs/measured.md), "
                         "CPU-hours at $0"}
RATE_RECIPE = "open_rs2"  # the paper's best-documented run, whose rates stand in for recipes the table lacks


def paper_run(recipe_name: str) -> dict | None:
    """The paper's full run of a recipe: steps, checkpoints, train and eval dollars (None when not in Table 1)."""
    models, costs = load_reference("tina_models"), load_reference("costs")
    model = models[models.recipe == recipe_name]
    if model.empty:
        return None
    model = model.iloc[0]
    task = costs[(costs.kind == "task") & costs.task.map(lambda t: model["model"].startswith(t))]
    if task.empty:
        return None
    steps = int(model["stop_step"])
    return {"task": task.iloc[0]["task"], "steps": steps, "checkpoints": steps // int(model["save_steps"]),
            "train_usd": float(task.iloc[0]["train_usd"]), "eval_usd": float(task.iloc[0]["eval_usd"])}


def steps_and_checkpoints(recipe) -> tuple[int, int]:
    """How many steps a recipe trains and how many checkpoints it saves (and notebook 03 evaluates)."""
    steps = recipe.stop_at_step or recipe.max_steps or 0
    return steps, steps // recipe.save_steps


def estimate(recipe, train: bool = True, evaluate: bool = True) -> dict:
    """Device-hours and dollars of training `recipe` and evaluating each of its checkpoints (either may be off)."""
    steps, checkpoints = steps_and_checkpoints(recipe)
    if recipe.use_cpu:
        hours = (train * steps * CPU_MEASURED["s_per_step"]
                 + evaluate * checkpoints * CPU_MEASURED["eval_s_per_checkpoint"]) / 3600
        return _row(recipe.name, steps, checkpoints, hours, "cpu", CPU_MEASURED["basis"])
    paper = paper_run(recipe.name)
    known = paper is not None
    paper = paper or paper_run(RATE_RECIPE)
    l40s = price("L40S")
    train_h = paper["train_usd"] / l40s * steps / paper["steps"]
    eval_h = paper["eval_usd"] / l40s * checkpoints / paper["checkpoints"]
    basis = (f"paper Table 1, {paper['task']}: ${paper['train_usd']:.0f} train for {paper['steps']} steps + "
             f"${paper['eval_usd']:.0f} eval of {paper['checkpoints']} checkpoints, at ${l40s:.2f}/L40S-hour")
    if not known:
        basis = f"no paper cost for {recipe.name}: {basis} (its rates per step and checkpoint)"
    return _row(recipe.name, steps, checkpoints, train * train_h + evaluate * eval_h, "L40S", basis)


def _row(recipe: str, steps: int, checkpoints: int, hours: float, device: str, basis: str) -> dict:
    """One estimate: recipe, steps, checkpoints, device-hours, their unit, dollars and basis."""
    usd = hours * price(device) if not math.isnan(hours) else math.nan
    return {"recipe": recipe, "steps": steps, "checkpoints": checkpoints, "device_hours": hours,
            "unit": unit(device), "usd": usd, "basis": basis}
