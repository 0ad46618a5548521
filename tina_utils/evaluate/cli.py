"""`python -m tina_utils.evaluate`: score a training run (base + every checkpoint) or a model from the shell.

    python -m tina_utils.evaluate results/02_train/open_rs2-seed42 --preset paper
    python -m tina_utils.evaluate r1-mini --preset paper --n_problems 3 --max_new_tokens 16 \\
        --data aime24=aime24.jsonl --data gpqa_diamond=gpqa_diamond.csv ...   # local benchmark files, no Hub
    python -m tina_utils.evaluate deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --benchmarks aime24,amc23

Same cache and outputs as notebook 03: results/03_evaluate/<run or model>/ holds generations.jsonl,
scores.csv, macro.csv, timing.csv, samples.jsonl and provenance.csv (a run also gets validation_scores.csv,
best.json and the score-vs-step figure). A run's validation splits take local files the same way:
--data aime_val=aime_val.jsonl --data amc_val=amc_val.jsonl.
Under `accelerate launch --num_processes N` the work is shared over N processes (shards.py).
"""

import argparse
import json
import re
from contextlib import contextmanager
from pathlib import Path

from tina_utils import env, runs
from tina_utils.data import local_files
from tina_utils.data.benchmarks import benchmark_spec
from tina_utils.evaluate import checkpoint_sweep, core, shards


def parser() -> argparse.ArgumentParser:
    """The command line of the evaluation CLI."""
    p = env.cli_parser(prog="python -m tina_utils.evaluate", description=__doc__)
    p.add_argument("target", help="a run dir, a run id under results/02_train, a model id or path, or r1-mini")
    p.add_argument("--preset", default="paper", help=f"one of {', '.join(core.PRESETS)} (default paper)")
    p.add_argument("--benchmarks", help="comma-separated benchmark names (default: the preset's)")
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH",
                   help="a local file for benchmark NAME in its Hub schema (repeat per benchmark)")
    p.add_argument("--max_new_tokens", type=int, help="completion budget (default: the preset's)")
    p.add_argument("--n_problems", type=int, help="first N problems of each benchmark (default: all)")
    p.add_argument("--backend", default="auto", help="auto, transformers, vllm, merged (default auto)")
    p.add_argument("--out", help="output folder (default results/03_evaluate/<run or model>)")
    return p


def data_paths(items: list[str]) -> dict[str, str]:
    """{benchmark: path} from NAME=PATH items; unknown names and missing, empty or malformed files are errors."""
    paths = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--data {item!r} must be NAME=PATH, e.g. --data aime24=aime24.jsonl")
        benchmark_spec(name)  # unknown names raise with the valid ones
        local_files.check(path, f"--data {name}={path}")
        paths[name] = path
    return paths


def _preset(args) -> core.Preset:
    """The named preset with the command line's overrides; every benchmark name checked."""
    overrides = {key: getattr(args, key) for key in ("max_new_tokens", "n_problems") if getattr(args, key) is not None}
    for key, value in overrides.items():
        if value < 1:
            raise ValueError(f"--{key} must be >= 1, got {value}")
    if args.benchmarks:
        overrides["benchmarks"] = tuple(name.strip() for name in args.benchmarks.split(",") if name.strip())
    preset = core.get_preset(args.preset, **overrides)
    for name in preset.benchmarks:
        benchmark_spec(name)
    return preset


def _run_dir(target: str) -> Path | None:
    """The training run `target` names (a dir with checkpoints or a recipe, or a run id), else None."""
    if not Path(target).expanduser().exists() and (target.startswith((".", "/", "~")) or target.count("/") > 1):
        raise FileNotFoundError(f"{target!r} does not exist; pass a training run folder (results/02_train/<run_id>), "
                                f"a run id, a Hub model id or a local model folder")
    path = runs.run_dir(target)
    return path if runs.is_run_dir(path) else None


@contextmanager
def _removed_if_left_empty(folder: Path):
    """On failure, remove the folders this command created for its outputs if they are still empty.

    A cache the failed command already wrote is kept: the rerun resumes from it.
    """
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        yield
    except BaseException:
        for path in created:
            if not path.is_dir() or any(path.iterdir()):
                break
            path.rmdir()
        raise


def _scores(args, preset: core.Preset, paths: dict, run_dir: Path | None, out_dir: Path):
    """The scores table of a run's checkpoints or of one model, outputs written to `out_dir` (None off rank 0)."""
    if run_dir is not None:
        result = checkpoint_sweep.sweep(run_dir, None, preset, args.backend, out_dir=out_dir, progress=True,
                                        data_paths=paths)
        return None if result is None else result.scores  # not rank 0 of a launch: rank 0 prints and writes
    samples = core.evaluate(args.target, None, preset, args.backend, cache_path=out_dir / "generations.jsonl",
                            progress=True, data_paths=paths)
    if samples is None:
        return None
    scores = core.summarize(samples, preset.pass_ks)
    checkpoint_sweep.write_outputs(out_dir, scores, checkpoint_sweep.timing_table(samples), samples)
    return scores


def run(argv: list[str]) -> dict:
    """Evaluate the target and print the scores table; returns where the outputs went."""
    args = parser().parse_args(argv)
    preset, paths = _preset(args), data_paths(args.data)
    run_dir = _run_dir(args.target)
    shards.pin_gpu()
    name = run_dir.name if run_dir is not None else re.sub(r"[^\w.-]+", "_", args.target)
    out_dir = Path(args.out) if args.out else env.results_dir() / "03_evaluate" / name
    with _removed_if_left_empty(out_dir):
        scores = _scores(args, preset, paths, run_dir, out_dir)
    if scores is None:
        return {}
    print(scores.round(2).to_string(index=False))
    summary = {"out_dir": str(out_dir), "preset": preset.name, "benchmarks": list(preset.benchmarks)}
    print(json.dumps(summary))
    return summary


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point: bad input is one line on stderr and exit code 2 (--debug shows the traceback)."""
    import sys

    return env.run_cli(run, sys.argv[1:] if argv is None else argv)
