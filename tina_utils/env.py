"""Paths, seeding and environment reports shared by every notebook (setup cell of 01-05)."""

import os
import platform
import random
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PINNED_PACKAGES = ["torch", "transformers", "trl", "peft", "accelerate", "datasets", "math-verify", "vllm"]
SHOWN_PACKAGES = ["torch", "transformers", "trl", "peft", "vllm"]  # what a notebook's setup cell prints


def repo_root() -> Path:
    """The checkout that holds `tina_utils/` and `notebooks/` (cwd-independent for notebooks and CLIs)."""
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for path in (start, *start.parents):
            if (path / "tina_utils").is_dir() and (path / "notebooks").is_dir():
                return path
    return Path.cwd()


def results_dir(*parts: str) -> Path:
    """`$TINA_RESULTS` or `<repo>/results`, joined with `parts`, created if missing."""
    base = Path(os.environ.get("TINA_RESULTS") or repo_root() / "results")
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def tina_home() -> Path:
    """Cache for built artefacts such as the tiny world: `$TINA_HOME`, default `~/.cache/tina`."""
    path = Path(os.environ.get("TINA_HOME") or Path.home() / ".cache" / "tina")
    path.mkdir(parents=True, exist_ok=True)
    return path


def process_rank() -> int:
    """This process's rank under `accelerate launch`/torchrun ($RANK), 0 when run alone."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """Number of launched processes ($WORLD_SIZE), 1 when run alone."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def closest_first(name, valid) -> list[str]:
    """Every valid name, most similar to `name` first (for "unknown X; valid: ..." errors)."""
    import difflib

    valid = [str(option) for option in valid]
    return difflib.get_close_matches(str(name), valid, n=len(valid), cutoff=0)


def did_you_mean(name, valid) -> str:
    """' (did you mean X?)' for a valid name close to `name`, or '' when none is close."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(option) for option in valid], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def versions() -> dict:
    """Versions of the pinned stack (None where a package is absent) plus Python and platform."""
    found = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for name in PINNED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def pinned_versions(root: Path | None = None) -> dict:
    """{package: version} of every exact `name==version` pin in pyproject.toml ({} where there is none)."""
    path = Path(root or repo_root()) / "pyproject.toml"
    text = path.read_text() if path.exists() else ""
    return dict(re.findall(r'^\s*"([A-Za-z0-9_.\-]+)==([^";\s]+)', text, flags=re.M))


def version_lines(installed: dict | None = None, pins: dict | None = None) -> list[str]:
    """`name version` of each package of SHOWN_PACKAGES in use, each followed by a warning when it is not the pin."""
    installed = versions() if installed is None else installed
    pins = pinned_versions() if pins is None else pins
    lines = []
    for name in (name for name in SHOWN_PACKAGES if installed.get(name)):
        found, pin = installed[name], pins.get(name)
        lines.append(f"{name} {found}")
        if pin and found.split("+")[0] != pin:  # "+cpu", "+cu130": the same release built for another device
            lines.append(f"WARNING: {name} {found} is installed but pyproject.toml pins {pin}: "
                         f"pip install '{name}=={pin}', then restart the runtime")
    return lines


def hardware() -> str:
    """A short name of the accelerator in use: the CUDA device name or 'cpu'."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({os.cpu_count()} cores)"


def git_sha() -> str | None:
    """The current commit of the checkout, or None outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo_root(),
                             capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def setup(seed: int = 0, quiet: bool = False) -> dict:
    """Seed everything, fix display defaults, and return (and print) the environment report."""
    import matplotlib
    import pandas as pd

    seed_everything(seed)
    pd.set_option("display.width", 120)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.precision", 4)
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "figure.figsize": (7, 3.5)})
    report = {**versions(), "hardware": hardware(), "git_sha": git_sha(), "seed": seed}
    if not quiet:
        for key, value in report.items():
            print(f"{key:>13}: {value}")
    return report


class HubUnavailable(RuntimeError):
    """A Hugging Face Hub model or dataset is not cached locally and the Hub cannot be reached."""


def from_hub(load, repo_id: str, kind: str = "model", **kwargs):
    """Call `load(repo_id, **kwargs)`; if the Hub is unreachable, raise HubUnavailable saying what to do."""
    try:
        return load(repo_id, **kwargs)
    except (OSError, ConnectionError) as error:
        if Path(str(repo_id)).exists():
            raise
        if str(repo_id).startswith((".", "/", "~")) or str(repo_id).count("/") > 1:
            raise HubUnavailable(f"{kind} path {str(repo_id)!r} does not exist; pass an existing local folder or a "
                                 f"Hub id such as deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B") from error
        offline = os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True")
        why = "HF_HUB_OFFLINE=1 is set" if offline else "the Hugging Face Hub could not be reached"
        raise HubUnavailable(
            f"{kind} {repo_id!r} is not in the local Hugging Face cache and {why}. Download it once on a machine "
            f"with internet (`huggingface-cli download {repo_id}{' --repo-type dataset' if kind == 'dataset' else ''}`)"
            f", pass a local path instead, or use the offline tiny profile (profile='tiny', recipe 'tiny')."
        ) from error


# What a bad command line, recipe, file or model id raises; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, KeyError, TypeError, FileNotFoundError, PermissionError, HubUnavailable)


def cli_parser(**kwargs):
    """An argparse parser whose usage errors are ValueErrors, so `run_cli` prints them as one line (exit 2)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):
            raise ValueError(f"{message} (see --help)")

    return Parser(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def run_cli(main, argv: list[str]):
    """Call `main(argv)`; a user error becomes one `error: ...` line on stderr and exit code 2.

    `--debug` anywhere on the command line (or TINA_DEBUG=1) shows the full traceback instead.
    """
    debug = "--debug" in argv or os.environ.get("TINA_DEBUG") == "1"
    try:
        return main([arg for arg in argv if arg != "--debug"])
    except USER_ERRORS as error:
        if debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        print(f"error: {' '.join(str(message).split())} (--debug shows the traceback)", file=sys.stderr)
        raise SystemExit(2) from None
