"""Tina's grader, run as Tina ran it: lighteval 0.8.1's extractive match in a side virtualenv of its own.

lighteval 0.8.1 (the release closest to the commit Tina's eval pinned) grades with its own copy of the
math-verify code on latex2sympy2_extended 1.0.6, and cannot share an environment with this project (transformers 5,
latex2sympy2_extended 1.11). So it lives in `$TINA_HOME/lighteval-0.8.1` (or `$TINA_LIGHTEVAL_VENV`), created
once with pip, and grades completions sent to it (lighteval_side.py). The `paper` preset grades this way; any
graded samples can be re-graded to compare the two graders:

    python -m tina_utils.evaluate.lighteval_grader results/03_evaluate/<run>    # adds correct_lighteval, prints
    python -m tina_utils.evaluate.lighteval_grader --setup                      # only create the side environment

Used in: evaluate.core (preset field `grader`), notebook 03.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from tina_utils import env

# The set that imports lighteval 0.8.1 and passes its own extractive-match tests; unpinned, pip picks numpy 2 wheels
# that lighteval's numpy<2 code cannot import. torch comes first so a CPU machine keeps the CPU build.
PINS = ["lighteval[math]==0.8.1", "transformers==4.49.0", "datasets==3.3.2", "pyarrow==19.0.1",
        "huggingface_hub==0.29.1", "pandas==2.2.3", "tokenizers<0.22"]
TORCH = "torch==2.13.0"
SIDE_SCRIPT = Path(__file__).with_name("lighteval_side.py")
MARKER = "tina-lighteval.json"


def side_env_dir() -> Path:
    """Where the side environment lives."""
    return Path(os.environ.get("TINA_LIGHTEVAL_VENV") or env.tina_home() / "lighteval-0.8.1")


def _pip(python: Path, *args: str) -> None:
    """pip install into the side environment, with the error's tail on failure."""
    extra = os.environ.get("TORCH_PIP_ARGS", "").split()
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", *extra, *args], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"could not install {' '.join(args)} into the lighteval side environment (pip needs "
                           f"PyPI; create it where PyPI is reachable and copy {side_env_dir()}): {proc.stderr[-500:]}")


def ensure_side_env(say=print) -> Path:
    """The side environment's python, creating the environment first if it is missing (minutes, once)."""
    from filelock import FileLock

    folder = side_env_dir()
    python = folder / "bin" / "python"
    if (folder / MARKER).exists() and python.exists():
        return python
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder.with_name(f".{folder.name}.lock"))):  # processes that need it at once build it once
        if (folder / MARKER).exists() and python.exists():
            return python
        started = time.time()
        say(f"creating the lighteval 0.8.1 side environment in {folder} (once; a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
        _pip(python, TORCH)
        _pip(python, *PINS, TORCH)
        (folder / MARKER).write_text(json.dumps({"pins": [*PINS, TORCH], "seconds": round(time.time() - started)}))
    return python


def grade_rows(rows: list[dict]) -> list[dict]:
    """lighteval's {"correct", "extracted", "ungradable"} for each {"completion", "gold", "profile"} row.

    A row lighteval cannot grade comes back incorrect with the reason in `ungradable`; rows a crashed side
    process never answered come back the same way, with its error, so no batch is lost.
    """
    if not rows:
        return []
    python = ensure_side_env()
    payload = "".join(json.dumps({k: row[k] for k in ("completion", "gold", "profile")}) + "\n" for row in rows)
    proc = subprocess.run([str(python), str(SIDE_SCRIPT)], input=payload, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": "", "TOKENIZERS_PARALLELISM": "false"})
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(results) < len(rows):
        tail = " ".join(proc.stderr.strip().splitlines()[-1:]) or f"exit code {proc.returncode}"
        reason = f"the lighteval side process stopped before this row: {tail}"[:300]
        results += [{"correct": False, "extracted": None, "ungradable": reason}] * (len(rows) - len(results))
    return [{"ungradable": None, **result} for result in results[:len(rows)]]


def add_lighteval_verdicts(samples: pd.DataFrame) -> pd.DataFrame:
    """`samples` with correct_lighteval, extracted_lighteval and ungradable_lighteval beside math-verify's."""
    samples = samples.copy()
    verdicts = grade_rows(samples[["completion", "gold", "profile"]].to_dict("records"))
    samples["correct_lighteval"] = [v["correct"] for v in verdicts]
    samples["extracted_lighteval"] = [v["extracted"] for v in verdicts]
    samples["ungradable_lighteval"] = [v["ungradable"] for v in verdicts]
    return samples


def agreement(samples: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark: samples, accuracy under each grader, and how many verdicts differ."""
    correct = samples.get("correct_math_verify", samples["correct"])
    frame = samples.assign(math_verify=correct.astype(bool), lighteval=samples["correct_lighteval"].astype(bool))
    frame["differ"] = frame.math_verify != frame.lighteval
    table = frame.groupby("benchmark", sort=False).agg(samples=("differ", "size"), math_verify=("math_verify", "mean"),
                                                       lighteval=("lighteval", "mean"), differ=("differ", "sum"))
    table[["math_verify", "lighteval"]] *= 100
    return table.reset_index()


def regrade_dir(out_dir) -> pd.DataFrame:
    """Re-grade an evaluation folder's samples.jsonl with lighteval; writes it back and grader_agreement.csv."""
    path = Path(out_dir) / "samples.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: evaluate first (notebook 03 or python -m tina_utils.evaluate)")
    samples = pd.read_json(path, lines=True, dtype={"gold": str, "problem_id": str})
    if "correct_math_verify" not in samples:
        samples["correct_math_verify"] = samples["correct"]
    samples = add_lighteval_verdicts(samples)
    samples.to_json(path, orient="records", lines=True)
    table = agreement(samples)
    table.to_csv(Path(out_dir) / "grader_agreement.csv", index=False, lineterminator="\n")
    return table


def run(argv: list[str]) -> pd.DataFrame | None:
    """CLI: re-grade an evaluation folder, or only create the side environment with --setup."""
    parser = env.cli_parser(prog="python -m tina_utils.evaluate.lighteval_grader", description=__doc__)
    parser.add_argument("out_dir", nargs="?", help="an evaluation folder holding samples.jsonl")
    parser.add_argument("--setup", action="store_true", help="create the side environment and stop")
    args = parser.parse_args(argv)
    if args.setup or not args.out_dir:
        print(ensure_side_env())
        return None
    table = regrade_dir(args.out_dir)
    print(table.round(2).to_string(index=False))
    return table


if __name__ == "__main__":
    env.run_cli(run, sys.argv[1:])
