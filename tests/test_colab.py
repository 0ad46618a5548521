"""Colab: one repository URL behind every link and bootstrap cell, the runtime check, and a simulated Colab runtime
in which a notebook opened alone clones, installs and runs.

Run: pytest tests/test_colab.py   (the simulated runtime clones and installs the package into a fresh venv; slow)
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest

from tina_utils import colab, devices, env

ROOT = Path(__file__).resolve().parents[1]


def test_every_colab_link_and_bootstrap_cell_comes_from_the_one_url():
    assert colab.disagreements() == []
    readme = (ROOT / "README.md").read_text()
    for name in ("01_data.ipynb", "02_train_lora_grpo.ipynb", "03_evaluate.ipynb"):
        assert colab.colab_url(name) in readme


def test_the_bootstrap_cell_follows_the_parameters_cell_and_precedes_the_imports():
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        code = [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
        assert "parameters" in code[0]["metadata"]["tags"], path.name
        assert "".join(code[1]["source"]) == colab.bootstrap_source(), path.name
        assert code[1]["metadata"]["cellView"] == "form" and code[1]["metadata"]["jupyter"]["source_hidden"]
        printed = [o for o in code[1]["outputs"] if o.get("name") == "stdout"]
        assert not printed or "".join(printed[0]["text"]).startswith("torch "), "its first output: the versions"


def test_the_bootstrap_cell_is_short_and_prints_the_versions_in_use_where_tina_utils_is_installed(capsys):
    source = colab.bootstrap_source()
    assert len(source.splitlines()) <= 12 and source.splitlines()[0] == colab.BOOTSTRAP_FIRST_LINE
    exec(compile(source, "bootstrap", "exec"), {"profile": "tiny"})  # tina_utils is importable: no install
    printed = capsys.readouterr().out.splitlines()
    installed = env.versions()
    assert printed[:4] == [f"{name} {installed[name]}" for name in ("torch", "transformers", "trl", "peft")]
    assert all(line.startswith(("vllm ", "WARNING: ")) for line in printed[4:])


def test_changing_the_url_is_one_command_that_rewrites_every_place(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "notebooks", copy / "notebooks")
    (copy / "tina_utils").mkdir()
    shutil.copy(ROOT / "tina_utils" / "colab.py", copy / "tina_utils" / "colab.py")
    shutil.copy(ROOT / "README.md", copy / "README.md")
    url, ref = "https://github.com/someone/tina-fork", "v0.2"
    changed = colab.rewrite(url, ref, root=copy)
    notebooks = {path.name for path in (copy / "notebooks").glob("0*")}
    assert {path.name for path in changed} == {"colab.py", "README.md", *notebooks}
    assert colab.disagreements(url, ref, root=copy) == []
    assert colab.disagreements(root=copy) != []  # the old URL is gone everywhere
    module = (copy / "tina_utils" / "colab.py").read_text()
    assert f'REPO_URL = "{url}"' in module and f'REPO_REF = "{ref}"' in module
    assert colab.rewrite(url, ref, root=copy) == []  # idempotent


def test_a_notebook_without_badge_or_collapsed_setup_is_reported_and_rewritten(tmp_path):
    import nbformat

    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "notebooks", copy / "notebooks")
    shutil.copy(ROOT / "README.md", copy / "README.md")
    path = copy / "notebooks" / "03_evaluate.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = colab.COLAB_LINK.sub("", nb.cells[0].source).replace("[![Open In Colab](", "")
    nb.cells[2].metadata = {"tags": []}
    nbformat.write(nb, path)
    found = colab.disagreements(root=copy)
    assert found == ["03_evaluate.ipynb: bootstrap cell missing, not collapsed or not from "
                     f"{colab.REPO_URL} at {colab.REPO_REF}", "03_evaluate.ipynb: no Open-in-Colab badge in the header"]
    (copy / "tina_utils").mkdir()
    shutil.copy(ROOT / "tina_utils" / "colab.py", copy / "tina_utils" / "colab.py")
    assert [p.name for p in colab.rewrite(root=copy)] == ["03_evaluate.ipynb"]
    assert colab.disagreements(root=copy) == []
    header = nbformat.read(path, as_version=4).cells[0].source
    assert header.endswith(colab.BADGE.format(url=colab.colab_url("03_evaluate.ipynb")))


def test_the_cli_rejects_a_url_colab_cannot_open(capsys):
    with pytest.raises(SystemExit) as exit_info:
        env.run_cli(colab.run, ["--url", "git@github.com:someone/fork.git"])
    assert exit_info.value.code == 2 and "must be a GitHub repository URL" in capsys.readouterr().err


@pytest.mark.parametrize("profile, gpu, expected", [
    ("tiny", None, []),
    ("paper", None, ["needs a CUDA GPU and this runtime has none"]),
    ("paper", {"name": "Tesla T4", "memory_gib": 14.7, "bf16": False}, ["no bfloat16 (e.g. a T4)", "has 14.7 GiB"]),
    ("paper", {"name": "NVIDIA A100-SXM4-80GB", "memory_gib": 79.2, "bf16": True}, []),
    ("paper", {"name": "NVIDIA L4", "memory_gib": 22.0, "bf16": True}, ["has 22.0 GiB"]),
])
def test_runtime_warnings_name_what_the_profile_lacks(profile, gpu, expected):
    found = colab.runtime_warnings(profile, gpu)
    assert len(found) == len(expected) and all(text in line for text, line in zip(expected, found))


def test_the_runtime_check_prints_only_the_versions_on_the_tiny_profile(monkeypatch):
    pins = env.pinned_versions()
    monkeypatch.setattr(env, "versions", lambda: {**pins, "torch": pins["torch"] + "+cu130", "vllm": None})
    lines = []
    monkeypatch.setattr(devices, "gpu_info", lambda: None)
    colab.check_runtime("tiny", say=lines.append)
    assert lines == [f"torch {pins['torch']}+cu130", *(f"{name} {pins[name]}" for name in ("transformers", "trl",
                                                                                          "peft"))]
    monkeypatch.setattr(devices, "gpu_info", lambda: {"name": "NVIDIA L4", "memory_gib": 22.0, "bf16": True})
    lines.clear()
    colab.check_runtime("paper", say=lines.append)
    assert lines[4] == "GPU: NVIDIA L4, 22.0 GiB, bf16 yes" and len(lines) == 6


def test_a_version_other_than_the_pin_prints_one_warning_naming_it_and_the_fix(monkeypatch):
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["gpu"]
    pins = env.pinned_versions()
    assert {name: pins[name] for name in env.SHOWN_PACKAGES} == {
        name: spec.split("==")[1] for spec in specs for name in env.SHOWN_PACKAGES if spec.startswith(name + "==")}
    monkeypatch.setattr(env, "versions", lambda: {**pins, "trl": "1.0.1"})
    monkeypatch.setattr(devices, "gpu_info", lambda: None)
    lines = []
    colab.check_runtime("tiny", say=lines.append)
    assert lines == [f"{name} {pins[name]}" for name in ("torch", "transformers")] + [
        "trl 1.0.1", f"WARNING: trl 1.0.1 is installed but pyproject.toml pins {pins['trl']}: "
                     f"pip install 'trl=={pins['trl']}', then restart the runtime",
        f"peft {pins['peft']}", f"vllm {pins['vllm']}"]
    assert env.pinned_versions(ROOT / "notebooks") == {}  # no pyproject.toml there


def colab_like_runtime(tmp_path) -> str:
    """A fresh venv that sees this environment's packages but not tina_utils, as a Colab runtime comes with torch,
    transformers and Jupyter preinstalled; returns its python."""
    venv = tmp_path / "colab-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # a plain path entry: the packages import, but this environment's editable tina_utils hook is not run
    Path(site, "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"], check=True,
                   capture_output=True)
    return python


@pytest.mark.slow
def test_a_notebook_opened_alone_in_a_simulated_colab_runtime_bootstraps_and_runs(tmp_path):
    python = colab_like_runtime(tmp_path)
    venv = Path(python).parents[1]
    stub = tmp_path / "stub" / "google" / "colab"
    stub.mkdir(parents=True)
    (stub.parent / "__init__.py").write_text("")
    (stub / "__init__.py").write_text('"""Stand-in for Colab\'s google.colab module."""\n')
    workdir = tmp_path / "content"  # empty, outside the repository, like Colab's /content
    workdir.mkdir()
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),
                   "PYTHONPATH": str(tmp_path / "stub"), "JUPYTER_PATH": str(venv / "share" / "jupyter"),
                   "TINA_REPO_URL": str(ROOT), "TINA_REPO_REF": "HEAD", "HF_HUB_OFFLINE": "1",
                   "TINA_HOME": str(env.tina_home()), "TINA_RESULTS": str(tmp_path / "results"),
                   "TOKENIZERS_PARALLELISM": "false",
                   **{name: os.environ[name] for name in ("OMP_NUM_THREADS",) if name in os.environ}}
    assert subprocess.run([python, "-c", "import tina_utils"], env=environment, cwd=workdir).returncode != 0
    short_run = ["-p", "seed", "1", "-y", "overrides: {max_steps: 4, save_steps: 2}"]  # a 4-step run shows it trains
    for name, extra in (("01_data", []), ("02_train_lora_grpo", short_run)):
        out = tmp_path / f"{name}.ipynb"
        proc = subprocess.run([python, "-m", "papermill", str(ROOT / "notebooks" / f"{name}.ipynb"), str(out),
                               "--cwd", str(workdir), "-k", "python3", "-p", "profile", "tiny", *extra],
                              env=environment, capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, proc.stderr[-3000:]
        bootstrap = next(cell for cell in json.loads(out.read_text())["cells"]
                         if "".join(cell["source"]).startswith(colab.BOOTSTRAP_FIRST_LINE))
        printed = "".join("".join(o["text"]) for o in bootstrap["outputs"] if o.get("name") == "stdout")  # not pip's
        lines = printed.splitlines()  # the first notebook installs; the second finds tina_utils installed
        installed = [f"installed tina_utils from {ROOT} at HEAD"] if name == "01_data" else []
        assert lines[:len(installed) + 1] == [*installed, f"torch {env.versions()['torch']}"], printed
    assert (workdir / "tina-notebooks" / "tina_utils").is_dir()
    ledger = pd.read_csv(tmp_path / "results" / "runs.csv")
    assert ledger[["steps", "checkpoints", "status"]].values.tolist() == [[4, 2, "complete"]]
