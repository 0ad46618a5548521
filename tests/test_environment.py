"""Pins in environment.yml and pyproject.toml agree, the GPU extra stays inside TRL's vLLM window, and the
GPU install needs no compiler: every package of `.[gpu]` comes as a wheel for Linux x86_64 / Python 3.11.

Run: pytest tests/test_environment.py   (the full wheel-only resolve of `.[gpu,dev]`: make gpu-resolve)
"""

import json
import os
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^;\s]+)")
NAME = re.compile(r"^[A-Za-z0-9_.\-]+")
SDIST_ONLY = {"flash-attn", "deepspeed"}  # no Linux wheel on PyPI: `pip download --only-binary=:all:` finds none
GLIBC_MINOR = 31  # llguidance, which vllm 0.31 requires, ships manylinux_2_31 wheels only (Ubuntu 20.04+, Colab)


def _pins(specs):
    """name -> version for every exact `name==version` spec."""
    found = {}
    for spec in specs:
        match = PIN.match(spec.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def names(specs):
    """Normalised distribution names of requirement specs."""
    return {NAME.match(spec.strip()).group(0).lower().replace("_", "-") for spec in specs}


def pyproject_pins():
    project = pyproject()
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    return _pins(specs)


def conda_pip_block():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))


def conda_pins():
    return _pins(conda_pip_block())


def conda_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return next(item.split("=")[1] for item in env["dependencies"] if str(item).startswith("python="))


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


def target_args():
    """pip flags for the GPU machine: CPython of environment.yml, Linux x86_64, glibc >= 2.31, wheels only."""
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC_MINOR, 4, -1)]
    tags += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    platforms = [arg for tag in tags for arg in ("--platform", tag)]
    return [*platforms, "--python-version", conda_python(), "--implementation", "cp", "--only-binary=:all:"]


def pip(*args, timeout=120):
    # --isolated: ask PyPI itself, not a mirror, find-links or constraints configured on this machine
    return subprocess.run([sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=timeout)


def needs_pypi():
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10).close()
    except OSError as error:
        pytest.skip(f"PyPI unreachable: {error}")


def test_environment_installs_the_package_with_gpu_extra():
    block = conda_pip_block()
    assert "-e .[gpu,dev]" in block, "flash and multigpu stay opt-in: they have no wheel"
    assert not names(spec for spec in block if not spec.startswith("-")) & SDIST_ONLY


def test_gpu_install_lists_no_sdist_only_package():
    default = names(pyproject()["dependencies"]) | names(pyproject()["optional-dependencies"]["gpu"])
    assert not default & SDIST_ONLY, f"{default & SDIST_ONLY} would be compiled by `pip install -e .[gpu]`"


def test_sdist_only_packages_sit_in_their_own_extras():
    extras = pyproject()["optional-dependencies"]
    assert names(extras["flash"]) == {"flash-attn"}
    assert names(extras["multigpu"]) == {"deepspeed"}


def wheel_versions(name):
    """Versions of `name` that PyPI has as a wheel for the GPU target ([] when none)."""
    result = pip("index", "versions", "--json", *target_args(), name, timeout=60)
    return json.loads(result.stdout)["versions"] if result.returncode == 0 else []


@pytest.mark.network
def test_every_pin_has_a_wheel_for_the_gpu_target():
    needs_pypi()
    pins = pyproject_pins()
    with ThreadPoolExecutor(4) as pool:
        found = dict(zip(pins, pool.map(wheel_versions, pins)))
    missing = {name: version for name, version in pins.items() if version not in found[name]}
    assert not missing, f"no Linux x86_64 / cp{conda_python()} wheel on PyPI for {missing}"


@pytest.mark.network
@pytest.mark.skipif(not os.environ.get("TINA_GPU_RESOLVE"), reason="downloads ~4 GB of wheels: make gpu-resolve")
@pytest.mark.skipif(sys.platform != "linux", reason="pip evaluates environment markers for this machine")
def test_gpu_install_resolves_from_wheels_only(tmp_path):
    needs_pypi()
    result = pip("install", "--dry-run", "--ignore-installed", "--no-cache-dir", "--target", str(tmp_path),
                 *target_args(), f"{ROOT}[gpu,dev]", timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert f"vllm-{pyproject_pins()['vllm']}" in result.stdout.splitlines()[-1]
