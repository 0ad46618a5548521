"""A study's points as submitit jobs (`--executor local|slurm`, tina_utils/executors.py).

The local test runs three cheap points (a function that sleeps, no notebook) two at a time as real submitit jobs;
the Slurm test runs the pipeline's command line up to `sbatch`, with a fake `sbatch` and `sacct` on PATH that
record the job script and answer job states, so no cluster is needed.
Run: pytest tests/test_executors.py   (≈ 15 s on 2 cores)
"""

import json
import os
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import cloudpickle
import pytest

from tina_utils import executors, grid, pipeline


def sleepy_point(point, fixed, profile, only):
    """A point that takes 1.5 s and notes when it ran, in which process and with how many threads."""
    started = time.time()
    time.sleep(1.5)
    note = {"start": started, "end": time.time(), "omp": os.environ.get("OMP_NUM_THREADS"), "pid": os.getpid(),
            "gpus": os.environ.get("CUDA_VISIBLE_DEVICES")}
    (executors.grid.study_dir("unit") / f"{grid.point_name(point)}.note").write_text(json.dumps(note))
    return {"point": grid.point_name(point), "status": "complete", "run_id": f"run-{point['seed']}",
            "executed": [], "error": "", "wall_clock_s": 1.5}


@pytest.fixture
def by_value():
    """Pickle this module's functions by value: the jobs cannot import a test module."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_each_point_gets_its_own_gpus_or_its_share_of_the_cores(monkeypatch):
    assert [executors.job_environment(s, 2, 4, 2) for s in (0, 1)] == [
        {"CUDA_VISIBLE_DEVICES": "0,1"}, {"CUDA_VISIBLE_DEVICES": "2,3"}]
    assert [executors.job_environment(s, 2, 2, 16) for s in (0, 1)] == [
        {"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
    assert executors.job_environment(1, 2, 0, 16) == {"OMP_NUM_THREADS": "8"}
    assert executors.job_environment(0, 4, 0, 2) == {"OMP_NUM_THREADS": "1"}
    monkeypatch.setenv("OMP_NUM_THREADS", "6")  # a cap set by the user is what the points share
    assert executors.available_threads() == 6
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert executors.available_threads() == os.cpu_count()


def test_the_local_executor_runs_two_points_at_once_and_records_each_job(tmp_path, monkeypatch, by_value):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    todo = [{"seed": seed} for seed in (1, 2, 3)]
    executors.run_local(todo, {}, "tiny", ["02"], "unit", 2, sleepy_point, say=lambda text: None)
    notes = {p["seed"]: json.loads((tmp_path / "studies" / "unit" / f"seed-{p['seed']}.note").read_text())
             for p in todo}
    assert notes[1]["start"] < notes[2]["end"] and notes[2]["start"] < notes[1]["end"]  # 1 and 2 overlap
    assert notes[3]["start"] >= min(notes[1]["end"], notes[2]["end"])  # 3 waits for a free slot
    assert {note["omp"] for note in notes.values()} == {str(max(1, executors.available_threads() // 2))}
    assert len({note["pid"] for note in notes.values()}) == 3
    for point in todo:
        record = executors.read_ledger(executors.ledger_path("unit", point))
        assert record["status"] == "complete" and record["executor"] == "local"
        assert record["run_id"] == f"run-{point['seed']}"
        assert record["log"].endswith(f"{record['job_id']}_0_log.out") and os.path.exists(record["log"])
        started, finished = (datetime.fromisoformat(record[k]) for k in ("started", "finished"))
        assert started.utcoffset().total_seconds() == 0 and 1 <= (finished - started).total_seconds() <= 10
    assert executors.to_submit("unit", todo) == []  # a rerun starts nothing


def test_on_a_two_gpu_machine_the_two_running_points_see_different_gpus(tmp_path, monkeypatch, by_value):
    import torch

    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # the count the controller sees; the jobs run here
    executors.run_local([{"seed": 1}, {"seed": 2}], {}, "tiny", ["02"], "unit", 2, sleepy_point, say=lambda t: None)
    notes = [json.loads((tmp_path / "studies" / "unit" / f"seed-{s}.note").read_text()) for s in (1, 2)]
    assert sorted(note["gpus"] for note in notes) == ["0", "1"]
    assert notes[0]["start"] < notes[1]["end"] and notes[1]["start"] < notes[0]["end"]


def test_a_point_whose_job_is_alive_is_not_submitted_again(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "submitit"])
    cmdline, deadline = Path(f"/proc/{job.pid}/cmdline"), time.time() + 10
    while b"submitit" not in cmdline.read_bytes() and time.time() < deadline:
        time.sleep(0.01)  # between fork and exec the child still shows this process's command line
    try:
        todo = [{"seed": 1}, {"seed": 2}]
        executors.write_ledger(executors.ledger_path("unit", todo[0]),
                               {"status": "running", "executor": "local", "job_id": str(job.pid)})
        assert executors.to_submit("unit", todo) == [{"seed": 2}]
        assert executors.state(executors.read_ledger(executors.ledger_path("unit", todo[0]))) == "running"
    finally:
        job.kill()
        job.wait()
    assert executors.to_submit("unit", todo) == todo  # its job is gone: the point runs again


def fake_slurm(folder, sacct_states: dict):
    """`sbatch` that keeps each job script and prints a new job id; `sacct` that answers `sacct_states`; `srun`."""
    folder.mkdir(exist_ok=True)
    (folder / "next_id").write_text("4242")
    (folder / "sbatch").write_text(f"""#!/bin/sh
n=$(cat {folder}/next_id); cp "$1" {folder}/script_$n.sh; echo $((n + 1)) > {folder}/next_id
echo "Submitted batch job $n"
""")
    rows = "".join(f"{job}|{state}|node1\n" for job, state in sacct_states.items())
    (folder / "sacct").write_text(f"#!/bin/sh\nprintf 'JobID|State|NodeList\\n{rows}'\n")
    (folder / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit checks it is there; only the job calls it
    for name in ("sbatch", "sacct", "srun"):
        (folder / name).chmod((folder / name).stat().st_mode | stat.S_IEXEC)


def slurm_command() -> list[str]:
    """Three points of notebook 02 as a Slurm array, two at a time."""
    return ["--only", "02", "--study", "unit", "--grid", "seed=1,2,3", "--executor", "slurm", "--partition", "gpu",
            "--time_min", "90", "--gpus_per_point", "1", "--array_parallelism", "2", "--slurm_extra", "account=abc"]


def test_slurm_submits_one_array_task_per_point_and_only_the_points_not_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    fake_slurm(tmp_path / "bin", {})
    assert pipeline.main(slurm_command()) == 0
    script = (tmp_path / "bin" / "script_4242.sh").read_text()
    options = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    for expected in ("--array=0-2%2", "--partition=gpu", "--time=90", "--gpus-per-node=1", "--account=abc",
                     "--job-name=tina-unit"):
        assert f"#SBATCH {expected}" in options, options
    assert "submitit.core._submit" in script
    records = [executors.read_ledger(executors.ledger_path("unit", {"seed": s})) for s in (1, 2, 3)]
    assert [r["job_id"] for r in records] == ["4242_0", "4242_1", "4242_2"]
    assert [r["status"] for r in records] == ["submitted"] * 3
    assert records[1]["log"] == str(tmp_path / "studies" / "unit" / "jobs" / "4242_1_0_log.out")
    assert "seed-2: job 4242_1 submitted" in capsys.readouterr().out

    fake_slurm(tmp_path / "bin", {"4242_0": "RUNNING", "4242_1": "FAILED", "4242_2": "PENDING"})
    (tmp_path / "bin" / "next_id").write_text("4243")
    assert pipeline.main(slurm_command()) == 0
    assert sorted(p.name for p in (tmp_path / "bin").glob("script_*.sh")) == ["script_4242.sh", "script_4243.sh"]
    assert "--array" not in (tmp_path / "bin" / "script_4243.sh").read_text()  # one point: a plain job
    out = capsys.readouterr().out
    assert "[1/3] seed-1: running, not resubmitted (job 4242_0)" in out and "seed-2: job 4243 submitted" in out
    assert executors.read_ledger(executors.ledger_path("unit", {"seed": 3}))["job_id"] == "4242_2"


@pytest.mark.parametrize("argv, message", [
    (["--executor", "slurm"], "--executor slurm needs Slurm's sbatch and srun on PATH"),
    (["--slurm_extra", "account"], "--slurm_extra 'account' must be KEY=VALUE"),
    (["--max_parallel", "0"], "--max_parallel must be >= 1, got 0"),
    (["--executor", "cloud"], "argument --executor: invalid choice: 'cloud'")])
def test_bad_executor_options_are_one_line_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm here, even on a cluster's login node
    with pytest.raises(SystemExit) as exit_info:
        pipeline.main(["--only", "02", "--grid", "seed=1", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_without_executor_the_grid_runs_in_this_process_as_before(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    ran = []
    monkeypatch.setattr(pipeline, "execute_notebook", lambda path, out, parameters, progress: ran.append(path.name))
    monkeypatch.setattr(executors, "run_local", None)  # any use of submitit would raise
    monkeypatch.setattr(executors, "submit_slurm", None)
    assert pipeline.main(["--only", "02", "--study", "unit", "--grid", "seed=0,1"]) == 0
    assert ran == ["02_train_lora_grpo.ipynb"] * 2
    out = capsys.readouterr().out
    assert "[1/2] seed-0 ..." in out and "[2/2] seed-1: complete in 0 s" in out
    record = executors.read_ledger(executors.ledger_path("unit", {"seed": 0}))
    assert record["status"] == "complete" and "job_id" not in record and record["finished"] >= record["started"]
    assert pipeline.main(["--only", "02", "--study", "unit", "--grid", "seed=0,1"]) == 0
    assert "[2/2] seed-1: complete, skipped" in capsys.readouterr().out and len(ran) == 2


EVALUATION_ONLY = {"preset", "benchmarks", "n_problems", "max_new_tokens", "data_paths"}


@pytest.mark.slow
def test_a_local_study_killed_after_its_first_point_resumes_without_rerunning_it(tmp_path):
    from support import schema_fixtures
    from support.processes import kill_tree
    from test_grid import ROOT, sweep_command

    files = schema_fixtures.write_all(tmp_path / "fixtures")
    environment = {**os.environ, "TINA_RESULTS": str(tmp_path / "results"), "HF_HUB_OFFLINE": "1"}
    # training only (notebook 02): the study table's mean over seeds is checked in tests/test_grid.py
    words, command = sweep_command(files, "open_rs2", "42,43"), []
    while words:  # drop notebook 03 and the parameters only it has
        word = words.pop(0)
        if word == "-p" and words[0] in EVALUATION_ONLY:
            del words[:2]
        elif word != "03":
            command.append(word)
    command += ["--executor", "local", "--max_parallel", "1"]
    points = tmp_path / "results" / "studies" / "table3" / "points"
    first = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline, done = time.time() + 600, []
    while not done and first.poll() is None and time.time() < deadline:
        time.sleep(0.5)
        done = [p for p in points.glob("*.json") if executors.read_ledger(p).get("status") == "complete"]
    kill_tree(first.pid)  # the command, its submitit jobs and their notebook kernels
    first.wait()
    assert len(done) == 1, "no point completed before the kill"
    before = executors.read_ledger(done[0])
    killed = executors.read_ledger(points / "recipe-open_rs2_seed-43.json")  # {} if the kill came before its start

    rerun = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert f"{done[0].stem}: complete, not resubmitted (job {before['job_id']})" in rerun.stdout
    assert rerun.stdout.count(f" started ({{'OMP_NUM_THREADS': '{executors.available_threads()}'}})") == 1
    assert executors.read_ledger(done[0]) == before
    records = [executors.read_ledger(points / f"recipe-open_rs2_seed-{s}.json") for s in (42, 43)]
    assert [r["status"] for r in records] == ["complete"] * 2
    assert records[1]["job_id"] not in (before["job_id"], killed.get("job_id"))
    executed = sorted(p.name for p in (tmp_path / "results" / "executed").iterdir())
    assert executed == [f"02_train_lora_grpo__recipe-open_rs2_seed-{seed}.ipynb" for seed in (42, 43)]
