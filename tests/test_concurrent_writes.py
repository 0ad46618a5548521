"""Several points of a study writing at once: runs.csv rows (runs.upsert_run) and a point's ledger (executors.py).

Four writer processes start together (they wait for a go file), each adding its own rows to runs.csv, replacing one
shared row and merging its own field into one ledger record, over and over; nothing may be lost or doubled.
Run: pytest tests/test_concurrent_writes.py   (≈ 5 s on 2 cores)
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
WRITERS, ROWS = 4, 10
WRITER = """
import sys, time
from pathlib import Path
from tina_utils import executors
from tina_utils.runs import RUNS_COLUMNS, upsert_run

blank = dict.fromkeys(RUNS_COLUMNS, "")

folder, me, rows = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
(folder / f"ready-{me}").touch()
while not (folder / "go").exists():
    time.sleep(0.01)
for i in range(rows):
    upsert_run(folder / "runs.csv", {**blank, "run_id": f"w{me}-{i}", "recipe": "tiny", "seed": me, "steps": i})
    upsert_run(folder / "runs.csv", {**blank, "run_id": "shared", "recipe": "tiny", "seed": me, "steps": i})
    executors.update_ledger(folder / "point.json", **{f"w{me}": i})
"""


def test_concurrent_writers_lose_and_double_no_row(tmp_path):
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(k), str(ROWS)], cwd=ROOT)
               for k in range(WRITERS)]
    deadline = time.time() + 120
    while len(list(tmp_path.glob("ready-*"))) < WRITERS and time.time() < deadline:
        time.sleep(0.05)
    (tmp_path / "go").touch()
    assert [w.wait(timeout=120) for w in writers] == [0] * WRITERS
    runs = pd.read_csv(tmp_path / "runs.csv")
    expected = {f"w{k}-{i}" for k in range(WRITERS) for i in range(ROWS)} | {"shared"}
    assert len(runs) == len(expected) and set(runs.run_id) == expected
    mine = runs[runs.run_id != "shared"].set_index("run_id")
    assert all(mine.loc[f"w{k}-{i}", "steps"] == i and mine.loc[f"w{k}-{i}", "seed"] == k
               for k in range(WRITERS) for i in range(ROWS))
    assert runs[runs.run_id == "shared"].steps.tolist() == [ROWS - 1]
    assert json.loads((tmp_path / "point.json").read_text()) == {f"w{k}": ROWS - 1 for k in range(WRITERS)}
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
