"""A study's points as submitit jobs: `--executor local` (N at once here) or `slurm` (one job array).

    python -m tina_utils.pipeline --profile paper --only 02 03 --grid seed=42,43 --executor local --max_parallel 2
    python -m tina_utils.pipeline ... --executor slurm --partition gpu --time_min 600 --gpus_per_point 1

Each point keeps its ledger results/studies/<study>/points/<point>.json: status (submitted, running, complete,
failed), job id, log path, started and finished (ISO 8601 UTC). A rerun submits only the points that are neither
complete nor still running (a job found alive through its recorded id is never started twice). Job logs and
submitit's pickles live in results/studies/<study>/jobs/.
"""

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from tina_utils import grid

EXECUTORS = ("sequential", "local", "slurm")
QUEUED = ("submitted", "running")
SLURM_ACTIVE = {"READY", "PENDING", "RUNNING", "UNKNOWN", "REQUEUED", "COMPLETING", "PREEMPTED", "CONFIGURING",
                "RESIZING", "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED"}  # UNKNOWN: sacct could not tell, so wait
POLL_S = 0.5
LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # submitit's local default (2 min) would kill a training run


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def ledger_path(study: str, point: dict) -> Path:
    """results/studies/<study>/points/<point>.json."""
    folder = grid.study_dir(study) / "points"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{grid.point_name(point)}.json"


def jobs_dir(study: str) -> Path:
    """results/studies/<study>/jobs/, submitit's folder (logs, pickles, sbatch scripts)."""
    return grid.study_dir(study) / "jobs"


def _lock(path: Path):
    """An inter-process lock beside `path` (the point's job and the submitting command both write it)."""
    from filelock import FileLock

    return FileLock(str(path.with_name(f".{path.name}.lock")))


def read_ledger(path: Path) -> dict:
    """A point's ledger record, {} when it has none."""
    return json.loads(path.read_text()) if path.exists() else {}


def _write(path: Path, record: dict) -> None:
    """Write atomically, so a reader never sees half a record."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)


def write_ledger(path: Path, record: dict) -> dict:
    """Replace a point's record under its lock."""
    with _lock(path):
        _write(path, record)
    return record


def update_ledger(path: Path, **fields) -> dict:
    """Merge `fields` into a point's record under its lock."""
    with _lock(path):
        record = {**read_ledger(path), **fields}
        _write(path, record)
    return record


def _pid_alive(pid: int) -> bool:
    """Whether a local job's controller process is still running (and is a submitit one, not a reused pid)."""
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline")
        return not cmdline.exists() or b"submitit" in cmdline.read_bytes()
    except (ProcessLookupError, PermissionError, FileNotFoundError):
        return False


def slurm_state(job_id: str) -> str:
    """The Slurm state of a job (sacct, through submitit's watcher); UNKNOWN when sacct cannot tell."""
    import submitit

    return submitit.SlurmJob.watcher.get_state(job_id, mode="force").split()[0].upper()


def still_running(record: dict) -> bool:
    """Whether the job recorded for a point is queued or running now."""
    if record.get("status") not in QUEUED or not record.get("job_id"):
        return False
    if record.get("executor") == "local":
        return _pid_alive(int(record["job_id"]))
    return slurm_state(str(record["job_id"])) in SLURM_ACTIVE


def state(record: dict) -> str:
    """pending, running, complete or failed, as --status prints it."""
    if not record:
        return "pending"
    if record.get("status") in QUEUED:
        return "running" if still_running(record) else "failed"
    return record.get("status", "pending")


def to_submit(study: str, todo: list[dict]) -> list[dict]:
    """The points to start: not complete and not running under a recorded job."""
    records = {grid.point_name(p): read_ledger(ledger_path(study, p)) for p in todo}
    return [p for p in todo if records[grid.point_name(p)].get("status") != "complete"
            and not still_running(records[grid.point_name(p)])]


def available_threads() -> int:
    """The threads this command may use: its OMP_NUM_THREADS when set (a cap the points share), else the cores."""
    return int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1


def job_environment(slot: int, max_parallel: int, n_gpus: int, cores: int) -> dict:
    """The variables that keep concurrent points apart: own GPUs on a GPU machine, a share of the cores on a CPU."""
    if n_gpus:
        per = max(1, n_gpus // max_parallel)
        return {"CUDA_VISIBLE_DEVICES": ",".join(str(g % n_gpus) for g in range(slot * per, (slot + 1) * per))}
    return {"OMP_NUM_THREADS": str(max(1, cores // max_parallel))}


def run_job(point: dict, fixed: dict, profile: str, only, study: str, environment: dict, runner) -> str:
    """Inside the job: run one point with `runner` (pipeline.run_point), keeping its ledger; returns its status."""
    os.environ.update(environment)  # before any notebook kernel starts, so every kernel inherits it
    path = ledger_path(study, point)
    update_ledger(path, status="running", started=now(), environment=environment)
    try:
        record = runner(point, fixed, profile, only)
    except BaseException as error:  # the job dies, but its point is recorded as failed, not left running
        update_ledger(path, status="failed", error=f"{type(error).__name__}: {error}", finished=now())
        raise
    update_ledger(path, **record, finished=now())
    return record["status"]


def _fresh(point: dict, executor: str) -> dict:
    """The record a point starts a new submission with (earlier attempts' fields dropped)."""
    return {"point": grid.point_name(point), **{f"param.{k}": v for k, v in point.items()}, "status": "submitted",
            "executor": executor, "run_id": "", "executed": [], "error": ""}


def _record_job(study: str, point: dict, job) -> None:
    """Add the job's id and log path to the point's ledger."""
    update_ledger(ledger_path(study, point), job_id=str(job.job_id), log=str(job.paths.stdout), submitted=now())


def _settle(study: str, point: dict, job) -> None:
    """After a local job ends: a point its job never finished recording is failed, with the job's error."""
    path = ledger_path(study, point)
    if read_ledger(path).get("status") in QUEUED:
        try:
            error = job.exception() if job.state == "FINISHED" else f"job ended ({job.state})"
        except Exception as reading:  # e.g. the job died before writing its result pickle
            error = reading
        update_ledger(path, status="failed", error=str(error).strip().splitlines()[-1] if error else "job died",
                      finished=now())


def run_local(todo: list[dict], fixed: dict, profile: str, only, study: str, max_parallel: int, runner,
              say=print) -> None:
    """Run the points as submitit local jobs, at most `max_parallel` at once; returns when all have ended."""
    import submitit
    import torch

    executor = submitit.LocalExecutor(folder=jobs_dir(study))
    executor.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN)
    n_gpus, cores = torch.cuda.device_count(), available_threads()
    queue, slots = list(todo), {}
    while queue or slots:
        for slot in [s for s in range(max_parallel) if s not in slots][:len(queue)]:
            point = queue.pop(0)
            environment = job_environment(slot, max_parallel, n_gpus, cores)
            if n_gpus:  # submitit then exports the same GPUs; left alone it would give every job GPUs 0..k-1
                gpus = [int(g) for g in environment["CUDA_VISIBLE_DEVICES"].split(",")]
                executor.update_parameters(gpus_per_node=len(gpus), visible_gpus=gpus)
            write_ledger(ledger_path(study, point), _fresh(point, "local"))
            job = executor.submit(run_job, point, fixed, profile, only, study, environment, runner)
            _record_job(study, point, job)
            slots[slot] = (point, job)
            say(f"{grid.point_name(point)}: job {job.job_id} started ({environment}), log {job.paths.stdout}")
        time.sleep(POLL_S)
        for slot, (point, job) in list(slots.items()):
            if job.done():
                _settle(study, point, job)
                del slots[slot]
                say(f"{grid.point_name(point)}: {read_ledger(ledger_path(study, point))['status']}")


def submit_slurm(todo: list[dict], fixed: dict, profile: str, only, study: str, options: dict, runner,
                 say=print) -> list:
    """Submit the points as one Slurm job array (one task per point) and return its jobs without waiting."""
    import shutil

    import submitit

    if not shutil.which("srun") or not shutil.which("sbatch"):
        raise FileNotFoundError("--executor slurm needs Slurm's sbatch and srun on PATH (run it on a login node)")
    executor = submitit.SlurmExecutor(folder=jobs_dir(study))
    executor.update_parameters(job_name=f"tina-{study}", partition=options.get("partition"),
                               time=options.get("time_min", 60), gpus_per_node=options.get("gpus_per_point", 1),
                               array_parallelism=options.get("array_parallelism", 256),
                               additional_parameters=options.get("slurm_extra") or {})
    for point in todo:
        write_ledger(ledger_path(study, point), _fresh(point, "slurm"))
    with executor.batch():
        jobs = [executor.submit(run_job, point, fixed, profile, only, study, {}, runner) for point in todo]
    for point, job in zip(todo, jobs):
        _record_job(study, point, job)
        say(f"{grid.point_name(point)}: job {job.job_id} submitted, log {job.paths.stdout}")
    return jobs


def add_arguments(parser) -> None:
    """The pipeline's grid options for executors, plan and status."""
    parser.add_argument("--executor", default="sequential", choices=EXECUTORS,
                        help="run the grid's points one after another here (default), as local submitit jobs, "
                             "or as a Slurm job array")
    parser.add_argument("--max_parallel", type=int, default=2, help="local executor: points at once (default 2)")
    parser.add_argument("--partition", help="slurm: partition")
    parser.add_argument("--time_min", type=int, default=60, help="slurm: time limit per point in minutes")
    parser.add_argument("--gpus_per_point", type=int, default=1, help="slurm: GPUs per array task")
    parser.add_argument("--array_parallelism", type=int, default=256, help="slurm: array tasks at once")
    parser.add_argument("--slurm_extra", nargs="+", default=[], metavar="KEY=VALUE",
                        help="slurm: more #SBATCH options, e.g. account=abc qos=high")


def options(args) -> dict:
    """The executor's options from the parsed command line; bad values raise ValueError."""
    for name in ("max_parallel", "time_min", "gpus_per_point", "array_parallelism"):
        if getattr(args, name) < (0 if name == "gpus_per_point" else 1):
            raise ValueError(f"--{name} must be >= {0 if name == 'gpus_per_point' else 1}, got {getattr(args, name)}")
    extra = {}
    for item in args.slurm_extra:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--slurm_extra {item!r} must be KEY=VALUE, e.g. --slurm_extra account=abc")
        extra[key] = value
    return {"max_parallel": args.max_parallel, "partition": args.partition, "time_min": args.time_min,
            "gpus_per_point": args.gpus_per_point, "array_parallelism": args.array_parallelism,
            "slurm_extra": extra}
