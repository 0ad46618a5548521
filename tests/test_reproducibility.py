"""The reproducibility contract (docs/reproducibility.md): bit-identical on one machine, claims hold on another.

Run: HF_HUB_OFFLINE=1 python -m pytest tests/test_reproducibility.py -q
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tina_utils import claims, env, runs, train
from tina_utils.train import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def _adapter_bytes(run_dir, step):
    return (run_dir / f"checkpoint-{step}" / "adapter_model.safetensors").read_bytes()


@pytest.mark.slow
def test_same_machine_same_settings_is_bit_identical(tmp_path, monkeypatch):
    monkeypatch.setenv("TINA_RESULTS", str(tmp_path))
    short = dict(max_steps=12, save_steps=12, transition_mode="off")
    first = train.train(load_recipe("tiny", run_id="first", **short), tmp_path / "first")
    second = train.train(load_recipe("tiny", run_id="second", **short), tmp_path / "second")
    assert first["steps"] == second["steps"] == 12
    assert claims.log_digest(tmp_path / "first") == claims.log_digest(tmp_path / "second")
    assert _adapter_bytes(tmp_path / "first", 12) == _adapter_bytes(tmp_path / "second", 12)
    assert runs.checkpoint_steps(tmp_path / "first") == [12]


def other_rounding() -> dict:
    """The environment of "another machine": the other ATEN_CPU_CAPABILITY setting than this process's."""
    environ = dict(os.environ)
    if environ.pop("ATEN_CPU_CAPABILITY", None) is None:
        environ["ATEN_CPU_CAPABILITY"] = "default"  # PyTorch's non-vectorised kernels round differently
    return environ


@pytest.mark.slow
@pytest.mark.xdist_group("tiny-run")  # one worker trains the tiny run for these tests and the notebooks
def test_claims_hold_on_another_machine(tmp_path):
    # The other setting builds its own world (its warm start rounds differently too) and keeps it, like this
    # machine's world, under $TINA_HOME: built on the first run, reused after.
    home = env.tina_home() / f"other-rounding-{other_rounding().get('ATEN_CPU_CAPABILITY', 'native')}"
    environ = {**other_rounding(), "TINA_HOME": str(home), "TINA_RESULTS": str(tmp_path / "results")}
    out = tmp_path / "claims.json"
    command = [sys.executable, "-m", "tina_utils.claims", "--seed", "0", "--n_problems", "100", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT,
                          env=environ, capture_output=True, text=True, timeout=1500)
    assert out.exists(), done.stderr[-3000:]
    there = json.loads(out.read_text())
    here = claims.log_digest(train.ensure_tiny_run("tiny", seed=0))
    assert there["log_digest"] != here, "the other rounding setting trained the same run: the test proves nothing"
    assert there["holds"] == {claim: True for claim in there["holds"]}, there
