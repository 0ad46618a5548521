"""`pipeline --grid ... --plan` (estimated GPU-hours and dollars, nothing started) and `--status` / `--collect`.

Run: pytest tests/test_plan.py   (≈ 10 s on 2 cores)
"""

import os
import subprocess
import sys

import pandas as pd
import pytest

from tina_utils import executors, pipeline


def test_the_plan_prices_paper_recipes_from_table_1_at_the_l40s_price_and_starts_nothing(tmp_path, monkeypatch,
                                                                                          capsys):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    argv = ["--profile", "paper", "--only", "02", "03", "--study", "t3", "--grid",
            "recipe=open_rs2,open_rs3,2thought", "seed=42", "--plan"]
    assert pipeline.main(argv) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("recipe-")}
    # Tina-Open-RS2 and -RS3: $15 train (850 steps) + $17 eval (17 checkpoints) at $1.00/L40S-hour
    assert rows["recipe-open_rs2_seed-42"][1:] == ["02", "03", "open_rs2-seed42", "open_rs2", "850", "17", "32.000",
                                                   "GPU-hours", "32.00"]
    assert rows["recipe-open_rs3_seed-42"][-5:] == ["850", "17", "32.000", "GPU-hours", "32.00"]
    # II-Thought has no row in Table 1: Open-RS2's rates, 15/850 $ per step x 6,660 + $1 per checkpoint x 66
    assert rows["recipe-2thought_seed-42"][-5:] == ["6660", "66", "183.529", "GPU-hours", "183.53"]
    assert "total: 247.53 GPU-hours, $247.53 over 3 points" in out
    assert ("basis: paper Table 1, Tina-Open-RS2: $15 train for 850 steps + $17 eval of 17 checkpoints, "
            "at $1.00/L40S-hour") in out
    assert "basis: no paper cost for 2thought:" in out
    assert not (tmp_path / "studies").exists() and not (tmp_path / "executed").exists()


def test_the_plan_of_tiny_points_uses_our_cpu_measurements_and_evaluation_only_skips_training(tmp_path,
                                                                                              monkeypatch, capsys):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    assert pipeline.main(["--only", "02", "03", "--grid", "seed=0,1", "--plan"]) == 0
    out = capsys.readouterr().out
    # 75 steps x 0.95 s + 5 checkpoints x 0.96 s = 76.05 s per point
    assert "total: 0.04 CPU-hours, $0.00 over 2 points" in out and "0.021" in out
    assert "basis: our CPU measurements (0.95 s/step, 0.96 s per checkpoint evaluated" in out
    assert pipeline.main(["--profile", "paper", "--only", "03", "--grid", "seed=42", "--plan"]) == 0
    assert "total: 17.00 GPU-hours, $17.00 over 1 points" in capsys.readouterr().out


def test_the_plan_names_a_point_that_cannot_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    assert pipeline.main(["--profile", "paper", "--only", "02", "--grid", "recipe=open_rs9,open_rs2", "--plan"]) == 0
    out = capsys.readouterr().out
    assert "basis: cannot run: unknown recipe 'open_rs9'" in out and "total: 15.00 GPU-hours, $15.00 over 1" in out


def ledger(study: str, seed: int, **record) -> None:
    """A point's ledger as a job would have left it."""
    executors.write_ledger(executors.ledger_path(study, {"seed": seed}),
                           {"point": f"seed-{seed}", "param.seed": seed, "run_id": f"tiny-seed{seed}", "error": "",
                            **record})


def test_status_shows_each_state_and_collect_writes_the_table_once_asked_or_all_complete(tmp_path, monkeypatch,
                                                                                         capsys):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "submitit"])
    try:
        log = str(tmp_path / "studies" / "s" / "jobs" / f"{job.pid}_0_log.out")
        ledger("s", 0, status="complete", executor="local", job_id="111", log="/logs/111_0_log.out",
               started="2026-01-01T10:00:00+00:00", finished="2026-01-01T11:00:00+00:00")
        ledger("s", 1, status="failed", executor="local", job_id="112", error="02 failed at cell 9\nmore")
        ledger("s", 3, status="running", executor="local", job_id=str(job.pid), log=log)
        argv = ["--only", "02", "--study", "s", "--grid", "seed=0,1,2,3"]
        assert pipeline.main([*argv, "--status"]) == 0
        out = capsys.readouterr().out
        rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("seed-")}
        assert rows["seed-0"][1:6] == ["complete", "111", "/logs/111_0_log.out", "2026-01-01T10:00:00+00:00",
                                       "2026-01-01T11:00:00+00:00"]
        assert rows["seed-1"][1:3] == ["failed", "112"] and " ".join(rows["seed-1"]).endswith("02 failed at cell 9")
        assert rows["seed-2"][1] == "pending" and rows["seed-3"][1:4] == ["running", str(job.pid), log]
        assert all(f"1 {state}" in out for state in ("complete", "failed", "pending", "running"))
        assert not (tmp_path / "studies" / "s" / "study.csv").exists()  # not all complete yet
        assert pipeline.main([*argv, "--collect"]) == 1
        out = capsys.readouterr().out
        assert "FAILED seed-1: 02 failed at cell 9" in out and "PENDING seed-2" in out and "RUNNING seed-3" in out
        assert pd.read_csv(tmp_path / "studies" / "s" / "study.csv").failed.tolist() == [3]
    finally:
        job.kill()
        job.wait()
    for seed in (1, 2, 3):
        ledger("s", seed, status="complete", executor="local", job_id=str(200 + seed))
    os.remove(tmp_path / "studies" / "s" / "study.csv")
    assert pipeline.main([*argv, "--status"]) == 0
    assert "4 complete" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "studies" / "s" / "study.csv").failed.tolist() == [0]
    assert (tmp_path / "figures" / "study_s.png").exists()


@pytest.mark.parametrize("flag", ["--plan", "--status"])
def test_plan_and_status_need_a_grid(flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        pipeline.main(["--only", "02", flag])
    assert exit_info.value.code == 2
    assert f"error: {flag} needs --grid" in capsys.readouterr().err
