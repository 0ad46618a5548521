"""Pins in environment.yml and pyproject.toml agree, and the GPU extra stays inside TRL's vLLM window.

Run: pytest tests/test_environment.py
"""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^;\s]+)")


def _pins(specs):
    """name -> version for every exact `name==version` spec."""
    found = {}
    for spec in specs:
        match = PIN.match(spec.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return _pins(specs)


def conda_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_block = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    return _pins(pip_block)


def test_every_conda_pin_matches_pyproject():
    project, conda = pyproject_pins(), conda_pins()
    assert conda, "environment.yml pins nothing"
    mismatched = {name: (version, project.get(name)) for name, version in conda.items()
                  if project.get(name) != version}
    assert not mismatched, f"environment.yml vs pyproject.toml pins differ: {mismatched}"


def test_gpu_stack_is_pinned_in_both():
    for name in ("torch", "vllm", "transformers", "trl", "peft", "math-verify"):
        assert name in conda_pins(), f"{name} not pinned in environment.yml"
        assert name in pyproject_pins(), f"{name} not pinned in pyproject.toml"


def test_vllm_pin_inside_trl_supported_window():
    major, minor, *_ = (int(part) for part in pyproject_pins()["vllm"].split("."))
    assert (0, 22) <= (major, minor) <= (0, 31), "TRL 1.16 supports vLLM 0.22-0.31 only"


def test_environment_installs_the_package_with_gpu_extra():
    assert "-e .[gpu,dev]" in (ROOT / "environment.yml").read_text()
