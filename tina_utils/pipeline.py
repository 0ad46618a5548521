"""Run the numbered notebooks headless with papermill, in order, and keep committed notebooks clean.

    python -m tina_utils.pipeline --profile tiny            # 01 -> 05 into results/executed/
    python -m tina_utils.pipeline --only 03 -p preset robust
    python -m tina_utils.pipeline --inplace notebooks/02_train_lora_grpo.ipynb   # refresh a committed notebook
    python -m tina_utils.pipeline --profile paper --only 02 03 --grid recipe=open_rs1,open_rs2,open_rs3 seed=42,43
                                                            # a whole study, one executed copy per point (grid.py)
    python -m tina_utils.pipeline ... --grid seed=42,43 --executor local --max_parallel 2   # or slurm; --plan, --status
                                                            # (executors.py, plan.py)
"""

import json
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd

from tina_utils import env, executors, grid, plan
from tina_utils.data import local_files

KERNEL = "python3"
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
CELL_METADATA_KEPT = ("tags", "cellView", "jupyter")  # parameters tag; the collapsed set-up cell
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+ \[")  # a tqdm line: "100%|#####| 50/50 [00:00<...]"
DATA_PARAMETERS = ("local_path", "dataset_path", "data_paths", "overrides")  # notebook parameters naming data files


class NotebookFailed(RuntimeError):
    """A notebook of the series raised; the message names the notebook and the cell."""


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in run order, optionally filtered by number prefix (e.g. ['01', '03'])."""
    found = sorted((env.repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [path for path in found if path.name[:2] in only]
    return found


def strip_volatile(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop execution counts, papermill timings, per-cell metadata noise and memory addresses."""
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nb.metadata.get("language_info", {}).pop("version", None)
    for index, cell in enumerate(nb.cells):
        cell.metadata = {key: value for key, value in cell.metadata.items() if key in CELL_METADATA_KEPT}
        cell.id = f"cell-{index:02d}"  # stable ids: nbformat 4.5 needs them, random ones churn every diff
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = [kept for kept in map(_without_progress, cell.outputs) if kept is not None]
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = None
            output.get("metadata", {}).clear()
            _scrub_output(output)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    return nb


def _without_progress(output):
    """The output less its progress bars (tqdm lines, the Trainer's live HTML table); None when nothing else is left."""
    if output.output_type == "stream":
        if PROGRESS_BAR.search(output.text):
            kept = [line for line in re.split(r"[\r\n]", output.text) if line.strip() and not PROGRESS_BAR.search(line)]
            output.text = "".join(line + "\n" for line in kept)
        return output if output.text.strip() else None
    html = output.get("data", {}).get("text/html", "")
    return None if "<progress" in "".join(html) else output


def _scrub_output(output) -> None:
    """Replace memory addresses in text outputs so diffs and nbval stay quiet."""
    if "text" in output:
        output.text = ADDRESS.sub("", output.text)
    for key, value in output.get("data", {}).items():
        if key.startswith("text/") and isinstance(value, str):
            output.data[key] = ADDRESS.sub("", value)


def _failed_cell(path: Path) -> str:
    """Describe the first cell with an error output in an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                return f"cell {index} ({first_line[:60]!r}): {output.get('ename')}: {output.get('evalue')}"
    return "unknown cell"


def execute_notebook(path: Path, out: Path | None = None, parameters: dict | None = None,
                     progress: bool = True) -> Path:
    """Execute one notebook with papermill (cwd = notebooks/) and return the executed copy's path."""
    import papermill as pm

    path = Path(path).resolve()
    out = Path(out or env.results_dir("executed") / path.name).resolve()
    try:
        pm.execute_notebook(str(path), str(out), parameters=parameters or None, kernel_name=KERNEL,
                            cwd=str(path.parent), progress_bar=progress, log_output=False)
    except pm.PapermillExecutionError as error:
        raise NotebookFailed(f"{path.name} failed at {_failed_cell(out)}; executed copy: {out}") from error
    nb = nbformat.read(out, as_version=4)
    nbformat.write(strip_volatile(nb), out)
    return out


def run_series(profile: str = "tiny", only: list[str] | None = None, parameters: dict | None = None) -> list[Path]:
    """Run notebooks 01 -> 05 in order, stopping at the first failure; returns the executed copies."""
    shared = {"profile": profile, **(parameters or {})}
    executed = []
    series = notebooks(only)
    for number, path in enumerate(series, 1):
        started = time.time()
        print(f"[{number}/{len(series)}] {path.name} ...", flush=True)
        executed.append(execute_notebook(path, parameters=shared, progress=False))
        print(f"[{number}/{len(series)}] {path.name} done in {time.time() - started:.0f} s", flush=True)
    return executed


def refresh_in_place(path: Path) -> Path:
    """Execute a notebook with its own defaults (tiny profile) and overwrite it only if every cell succeeded."""
    path = Path(path)
    executed = execute_notebook(path, out=env.results_dir("executed") / path.name)
    shutil.copyfile(executed, path)
    return path


def run_point(point: dict, fixed: dict, profile: str, only: list[str] | None) -> dict:
    """Run the selected notebooks for one point; returns its record (status, run id, executed copies, error)."""
    parameters = {**fixed, **point}
    record = {"point": grid.point_name(point), **{f"param.{k}": v for k, v in point.items()}, "status": "complete",
              "run_id": "", "executed": [], "error": ""}
    started = time.time()
    try:
        record["run_id"] = grid.run_id_of(parameters, profile)
    except (ValueError, FileNotFoundError) as error:  # e.g. an unknown recipe in the grid: this point fails alone
        return {**record, "status": "failed", "error": str(error), "wall_clock_s": 0.0}
    for path in notebooks(only):
        own = parameter_names(path)
        given = {k: v for k, v in {**parameters, "run_id": record["run_id"]}.items() if k in own}
        out = env.results_dir("executed") / f"{path.stem}__{record['point']}.ipynb"
        try:
            execute_notebook(path, out, parameters={"profile": profile, **given}, progress=False)
        except NotebookFailed as error:
            record.update(status="failed", error=str(error))
            break
        record["executed"].append(str(out.relative_to(env.results_dir())))
    record["wall_clock_s"] = round(time.time() - started, 1)
    return record


def run_grid(sweep: dict[str, list], profile: str = "tiny", only: list[str] | None = None,
             fixed: dict | None = None, study: str = "study", executor: str = "sequential",
             options: dict | None = None) -> pd.DataFrame | None:
    """Run every point not yet complete, then write and return the study table (failures listed, not raised).

    `executor` local runs the points as submitit jobs, `options["max_parallel"]` at once; slurm submits them as a
    job array and returns None without waiting (executors.py).
    """
    todo, options = grid.points(sweep), options or {}
    if executor == "sequential":
        _run_sequential(todo, fixed or {}, profile, only, study)
    else:
        start = executors.to_submit(study, todo)
        for number, point in enumerate(todo, 1):
            if point not in start:
                record = executors.read_ledger(executors.ledger_path(study, point))
                print(f"[{number}/{len(todo)}] {grid.point_name(point)}: {executors.state(record)}, not resubmitted"
                      f"{' (job ' + str(record['job_id']) + ')' if record.get('job_id') else ''}", flush=True)
        if executor == "slurm":
            if start:
                executors.submit_slurm(start, fixed or {}, profile, only, study, options, run_point)
            return None
        executors.run_local(start, fixed or {}, profile, only, study, options.get("max_parallel", 2), run_point)
    return plan.collect(sweep, study)


def _run_sequential(todo: list[dict], fixed: dict, profile: str, only: list[str] | None, study: str) -> None:
    """Run the points one after another in this process, skipping complete ones."""
    for number, point in enumerate(todo, 1):
        name, marker = grid.point_name(point), executors.ledger_path(study, point)
        if marker.exists() and json.loads(marker.read_text())["status"] == "complete":
            print(f"[{number}/{len(todo)}] {name}: complete, skipped", flush=True)
            continue
        print(f"[{number}/{len(todo)}] {name} ...", flush=True)
        started = executors.now()
        record = run_point(point, fixed, profile, only)
        executors.write_ledger(marker, {**record, "started": started, "finished": executors.now()})
        print(f"[{number}/{len(todo)}] {name}: {record['status']} in {record['wall_clock_s']:.0f} s", flush=True)


def _parse_parameters(pairs: list[list[str]]) -> dict:
    """`-p name value` pairs, values typed YAML-style as papermill does."""
    import yaml

    return {name: yaml.safe_load(value) for name, value in pairs}


def parameter_names(path: Path) -> set[str]:
    """Names assigned in a notebook's `parameters`-tagged cell."""
    import ast

    cells = [c for c in nbformat.read(path, as_version=4).cells if "parameters" in c.metadata.get("tags", [])]
    return {target.id for cell in cells for node in ast.walk(ast.parse(cell.source))
            if isinstance(node, ast.Assign) for target in node.targets if isinstance(target, ast.Name)}


def check_request(only: list[str] | None, parameters: dict, inplace: list[Path] | None) -> None:
    """Unknown notebook numbers, parameter names and missing notebook files are errors before anything runs."""
    numbers = [path.name[:2] for path in notebooks()]
    for number in only or []:
        if number not in numbers:
            raise ValueError(f"--only {number!r} names no notebook; valid numbers: {', '.join(numbers)}")
    for path in inplace or []:
        if not Path(path).exists():
            raise FileNotFoundError(f"--inplace {str(path)!r} does not exist")
    known = {name for path in (inplace or notebooks(only)) for name in parameter_names(path)}
    unknown = sorted(set(parameters) - known - {"profile"})
    if unknown:
        raise ValueError(f"parameter {unknown[0]!r} is not in any selected notebook's parameters cell; "
                         f"valid names: {', '.join(sorted(known))}")


def checked_data_files(parameters: dict) -> dict:
    """`parameters` with every data file they name checked (local_files.check) and made absolute.

    Notebooks run in notebooks/, so a path given relative to where the command runs is passed on absolute.
    """
    return {name: _checked(name, value) if name in DATA_PARAMETERS else value for name, value in parameters.items()}


def _checked(name: str, value):
    """One data parameter's value, its files checked and absolute (data_paths and overrides are dicts)."""
    if isinstance(value, dict):
        keys = list(value) if name == "data_paths" else ["dataset_path"]
        return {**value, **{key: _checked_file(f"{name} {key}", value[key]) for key in keys
                            if value.get(key) is not None}}
    return value if value is None or name == "overrides" else _checked_file(name, value)


def _checked_file(label: str, path) -> str:
    """The absolute path of a readable data file; a missing or broken one raises naming the parameter."""
    local_files.check(path, f"parameter {label} {str(path)!r}")
    return str(Path(path).expanduser().resolve())


def run(argv: list[str]) -> int:
    """Parse the command line, check it, and run the series (or refresh notebooks in place)."""
    parser = env.cli_parser(prog="python -m tina_utils.pipeline", description=__doc__)
    parser.add_argument("--profile", default="tiny", choices=["tiny", "paper"])
    parser.add_argument("--only", nargs="*", help="notebook numbers to run, e.g. 01 03")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--inplace", nargs="*", type=Path, help="notebooks to execute and overwrite in place")
    parser.add_argument("--grid", nargs="+", metavar="NAME=V1,V2", help="sweep the notebooks over every combination")
    parser.add_argument("--study", default="study", help="name of the grid's study folder (results/studies/NAME)")
    executors.add_arguments(parser)
    plan.add_arguments(parser)
    args = parser.parse_args(argv)
    parameters = _parse_parameters(args.parameter)
    grid_only = [flag for flag in ("plan", "status", "collect") if getattr(args, flag)]
    if (grid_only or args.executor != "sequential") and not args.grid:
        raise ValueError(f"--{grid_only[0] if grid_only else 'executor'} needs --grid (a study's points)")
    if args.grid:
        sweep = grid.parse_grid(args.grid)
        check_request(args.only, {**parameters, **sweep}, None)
        parameters = checked_data_files(parameters)
        sweep = {name: [_checked(name, v) for v in values] if name in DATA_PARAMETERS else values
                 for name, values in sweep.items()}
        if args.plan or args.status or args.collect:
            return plan.command(args, sweep, parameters, [path.name[:2] for path in notebooks(args.only)])
        table = run_grid(sweep, args.profile, args.only, parameters, args.study, args.executor,
                         executors.options(args))
        return 0 if table is None or not table.attrs["failed"] else 1
    check_request(args.only, parameters, args.inplace)
    parameters = checked_data_files(parameters)
    try:
        if args.inplace:
            for path in args.inplace:
                print(f"refreshing {path} ...", flush=True)
                refresh_in_place(path)
            return 0
        run_series(args.profile, args.only, parameters)
    except NotebookFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: bad input is one line on stderr and exit code 2 (--debug shows the traceback)."""
    return env.run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
