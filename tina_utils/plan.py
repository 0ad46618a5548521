"""A study before and while it runs: `pipeline --grid ... --plan` (what it would run and cost) and `--status`.

    python -m tina_utils.pipeline --profile paper --only 02 03 --grid recipe=open_rs2,open_rs3 seed=42,43 --plan
    python -m tina_utils.pipeline --profile paper --only 02 03 --grid recipe=open_rs2,open_rs3 seed=42,43 --status

Neither starts anything. The cost basis is tina_utils/cost/estimate.py; states come from the points' ledgers
(executors.py).
"""

import math

import pandas as pd

from tina_utils import executors, grid


def plan_table(sweep: dict[str, list], fixed: dict, profile: str, only: list[str]) -> pd.DataFrame:
    """One row per point: its run id, notebooks, steps, checkpoints, device-hours, dollars and their basis."""
    from tina_utils import train
    from tina_utils.cost import estimate

    rows = []
    for point in grid.points(sweep):
        row = {"point": grid.point_name(point), "notebooks": " ".join(only)}
        try:
            recipe = grid.recipe_of({**fixed, **point}, profile)
        except (ValueError, FileNotFoundError) as error:  # the point would fail alone; the plan says why
            rows.append({**row, "run_id": "", "recipe": "", "steps": 0, "checkpoints": 0, "device_hours": math.nan,
                         "unit": "", "usd": math.nan, "basis": f"cannot run: {str(error).split(';')[0]}"})
            continue
        cost = estimate.estimate(recipe, train="02" in only, evaluate="03" in only) if {"02", "03"} & set(only) else {}
        rows.append({**row, "run_id": train.run_id(recipe), **{**_nothing(recipe), **cost}})
    return pd.DataFrame(rows)


def _nothing(recipe) -> dict:
    """The estimate of a point that neither trains nor evaluates (notebooks 01, 04, 05: seconds on a CPU)."""
    return {"recipe": recipe.name, "steps": 0, "checkpoints": 0, "device_hours": 0.0, "unit": "", "usd": 0.0,
            "basis": "notebooks without training or evaluation: not counted"}


def print_plan(table: pd.DataFrame, say=print) -> None:
    """The plan as a table, the total per unit, and each price basis once."""
    shown = table.drop(columns=["basis"]).assign(device_hours=table.device_hours.round(3), usd=table.usd.round(2))
    say(shown.to_string(index=False))
    for unit, part in table[table.unit != ""].groupby("unit", sort=False):
        say(f"total: {part.device_hours.sum():.2f} {unit}, ${part.usd.sum():.2f} over {len(part)} points")
    for basis in dict.fromkeys(table.basis):
        say(f"basis: {basis}")


def status_table(sweep: dict[str, list], study: str) -> pd.DataFrame:
    """One row per point: state (pending, running, complete, failed), job id, log path, started, finished."""
    rows = []
    for point in grid.points(sweep):
        record = executors.read_ledger(executors.ledger_path(study, point))
        rows.append({"point": grid.point_name(point), "state": executors.state(record),
                     **{key: record.get(key, "") for key in ("job_id", "log", "started", "finished", "error")}})
    return pd.DataFrame(rows)


def print_status(table: pd.DataFrame, say=print) -> None:
    """The status table, errors cut to one line, and the count per state."""
    shown = table.assign(error=table.error.map(lambda e: str(e).splitlines()[0][:80] if e else ""))
    say(shown.to_string(index=False))
    say(", ".join(f"{count} {state}" for state, count in table.state.value_counts().items()))


def collect(sweep: dict[str, list], study: str) -> pd.DataFrame:
    """Write and return the study table from the points' ledgers; points not complete in attrs["failed"]."""
    records = []
    for point in grid.points(sweep):
        record = executors.read_ledger(executors.ledger_path(study, point))
        records.append({"point": grid.point_name(point), **{f"param.{k}": v for k, v in point.items()},
                        "run_id": "", "error": "", **record, "state": executors.state(record)})
    table = grid.study_table([{**r, "status": r["state"]} for r in records], list(sweep))
    grid.write_study(table, study)
    missing = [r for r in records if r["state"] != "complete"]
    for record in missing:
        print(f"{record['state'].upper()} {record['point']}" + (f": {record['error']}" if record["error"] else ""))
    table.attrs["failed"] = [r["point"] for r in missing]
    return table


def command(args, sweep: dict[str, list], fixed: dict, numbers: list[str]) -> int:
    """--plan, --status or --collect: print (and with --collect, or --status once all are complete, write)."""
    if args.plan:
        print_plan(plan_table(sweep, fixed, args.profile, numbers))
        return 0
    table = status_table(sweep, args.study)
    if args.status:
        print_status(table)
    if args.collect or (table.state == "complete").all():
        return 1 if collect(sweep, args.study).attrs["failed"] else 0
    return 0


def add_arguments(parser) -> None:
    """--plan, --status and --collect of the pipeline's grid mode."""
    parser.add_argument("--plan", action="store_true",
                        help="print the points, what each runs and the estimated GPU-hours and dollars; run nothing")
    parser.add_argument("--status", action="store_true",
                        help="print each point's state, job id and log; writes the study table once all are complete")
    parser.add_argument("--collect", action="store_true", help="write the study table and figure from the ledgers")
