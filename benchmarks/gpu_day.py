"""One command for a lent GPU: the GPU tests, a paper recipe on r1-mini, vLLM multi-LoRA vs merge-and-reload, speed and
peak memory at the real 1.5B shapes, the bf16 merge at real shapes, and the memory estimate against the measured peak.

    HF_HUB_OFFLINE=1 python benchmarks/gpu_day.py              # CUDA: all steps within 10 minutes (H200)
    HF_HUB_OFFLINE=1 python benchmarks/gpu_day.py --dry-run    # the same code at tiny shapes on the CPU (< 2 min)
    python benchmarks/gpu_day.py --steps train,eval --no-vllm  # a subset, transformers generation only

Without CUDA it is always a dry run. Every step runs in its own process with its own time budget: a step that
fails or runs out of time is reported as such and the next one starts (a step that needs a failed one fails too).
Writes results/gpu_day/gpu_day.json (dry run: dry_run.json) and prints a table; exit code 1 when a step failed.
The 1.5B model is randomly initialised from the real config (no download): it never stops early, so generation
runs every completion to its limit (an upper bound on time).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tina_utils import env  # noqa: E402

# step: (GPU budget, dry-run budget) in seconds; the GPU budgets sum to 9.5 minutes
BUDGETS = {"gpu_tests": (120, 60), "train": (90, 60), "eval": (160, 60), "generate": (80, 45),
           "train_step": (60, 45), "merge": (45, 40), "memory": (15, 30)}


# ---------------------------------------------------------------- one step in its own process
def run_step_here(name: str, work: Path, dry: bool, use_vllm: bool, fail: bool) -> None:
    """The child process: run one step and write its result to work/<name>.json."""
    import importlib.util

    import torch

    from tina_utils.devices import attention

    device = "cuda" if torch.cuda.is_available() and not dry else "cpu"
    ctx = {"work": work, "dry": dry, "device": device, "attention": attention("auto"),
           "vllm": use_vllm and device == "cuda" and importlib.util.find_spec("vllm") is not None}
    if fail:
        raise RuntimeError("failure injected with --fail")
    from gpu_day_steps import STEPS

    result = STEPS[name](ctx)
    (work / f"{name}.json").write_text(json.dumps(result, indent=1, default=str))


# ---------------------------------------------------------------- the parent: every step in turn
def launch(name: str, work: Path, args, budget: float) -> dict:
    """Run one step in a subprocess within `budget` seconds; its result, or why it has none."""
    command = [sys.executable, str(Path(__file__).resolve()), "--step", name, "--work", str(work)]
    command += ["--dry-run"] * args.dry_run + ["--no-vllm"] * args.no_vllm + ["--fail", name] * (name in args.fail)
    child_env = {**os.environ, "TINA_RESULTS": str(work / "results"), "HF_HUB_OFFLINE": "1",
                 "TOKENIZERS_PARALLELISM": "false", **({"CUDA_VISIBLE_DEVICES": ""} if args.dry_run else {})}
    log = work / f"{name}.log"
    started = time.time()
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=child_env, cwd=ROOT,
                                start_new_session=True)  # its own process group: a timeout ends vLLM workers too
        try:
            code = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    row = {"seconds": round(time.time() - started, 1), "budget_s": round(budget)}
    result = work / f"{name}.json"
    if code == 0 and result.exists():
        return {"status": "ok", **json.loads(result.read_text()), **row}
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"\w*(Error|Exception)\b", line)]  # the raised one is last
    why = f"over its {budget:.0f} s budget" if code is None else (errors or lines or [""])[-1]
    return {"status": "timeout" if code is None else "failed", **row, "error": why.strip()[:300], "log": str(log)}


def summary_line(name: str, r: dict) -> tuple[str, str]:
    """(what was measured, the comparison) for the table."""
    if r["status"] != "ok":
        return r.get("error", ""), ""
    if name == "gpu_tests":
        return f"{r['passed']} passed, {r['skipped']} skipped, {r['failed']} failed", ""
    if name == "train":
        peak = f", peak {r['peak_gib']:.1f} GiB" if r.get("peak_gib") else ""
        return (f"{r['steps']} steps ({r['generation']}): {r['s_per_step']:.2f} s/step, "
                f"{r['generated_tokens_per_s']:,.0f} tok/s{peak}", "")
    if name == "eval":
        return (f"{r['checkpoints']} ckpts: multi-LoRA {r['multi_lora_s']:.0f} s, merged {r['merged_s']:.0f} s; "
                f"{r['identical_completions']:.0%} same text, max score diff {r['max_score_diff']:.1f}; "
                f"avg@{r['avg_at_n']['samples_per_problem']} of one checkpoint {r['avg_at_n']['seconds']:.0f} s",
                f"merged/multi-LoRA {r['merged_over_multi_lora']:.2f}x")
    if name == "generate":
        return f"{r['engine']}: {r['sequences']} x {r['completion_tokens']} tokens, {r['tokens_per_s']:,.0f} tok/s", ""
    if name == "train_step":
        return (f"{r['micro_batches']} x {r['per_device']} x {r['sequence']} tokens: {r['s_per_step']:.2f} s/step, "
                f"peak {r['peak_gib']:.2f} GiB", "")
    if name == "merge":
        small, large = r["small"], r["large"]
        return (f"unchanged {small['unchanged_share']:.0%} / {large['unchanged_share']:.0%}, cosine "
                f"{small['delta_cosine']:.2f} / {large['delta_cosine']:.2f} (small / large B)",
                f"vs one layer {small['unchanged_share'] / small['one_layer_unchanged_share']:.2f}x")
    return (f"estimate {r['estimate_gib']:.2f} GiB vs measured {r['measured_gib']:.2f} GiB",
            f"error {r['error_pct']:+.1f} %")


def table(results: dict) -> str:
    """The printed table: one row per step."""
    rows = [("step", "status", "s", "result", "comparison")]
    rows += [(n, r["status"], f"{r['seconds']:.0f}", *summary_line(n, r)) for n, r in results.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4] for row in rows)


def parse(argv: list[str]):
    """Command-line options; bad input is a ValueError (one `error:` line, exit code 2)."""
    parser = env.cli_parser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU (automatic without CUDA)")
    parser.add_argument("--steps", default=",".join(BUDGETS), help=f"comma-separated subset of {','.join(BUDGETS)}")
    parser.add_argument("--fail", default="", help="steps that raise at once (checks that the others still run)")
    parser.add_argument("--no-vllm", action="store_true", help="transformers generation even where vLLM exists")
    parser.add_argument("--out", help="the JSON file (default results/gpu_day/gpu_day.json or dry_run.json)")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for option in ("steps", "fail"):
        names = [n for n in getattr(args, option).split(",") if n]
        unknown = [n for n in names if n not in BUDGETS]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r} in --{option}; valid: {', '.join(BUDGETS)}")
        setattr(args, option, names)
    return args


def main(argv: list[str]) -> dict | None:
    """Run the selected steps, write the JSON and print the table; exit code 1 when a step did not finish."""
    args = parse(argv)
    if args.step:
        return run_step_here(args.step, Path(args.work), args.dry_run, not args.no_vllm, bool(args.fail))
    import torch

    if not torch.cuda.is_available() and not args.dry_run:
        print("no CUDA GPU: dry run (tiny shapes on the CPU)")
        args.dry_run = True
    name = "dry_run.json" if args.dry_run else "gpu_day.json"
    out = Path(args.out) if args.out else env.results_dir("gpu_day") / name
    work = out.parent / f"{out.stem}-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started, results = time.time(), {}
    deadline = started + sum(BUDGETS[n][args.dry_run] for n in args.steps)
    for i, name in enumerate(args.steps, 1):
        budget = min(BUDGETS[name][args.dry_run], max(5.0, deadline - time.time()))
        print(f"[{i}/{len(args.steps)}] {name} (budget {budget:.0f} s) ...", flush=True)
        results[name] = launch(name, work, args, budget)
        print(f"    {results[name]['status']} in {results[name]['seconds']:.0f} s", flush=True)
    report = {"dry_run": args.dry_run, "hardware": env.hardware(), "versions": env.versions(), "git_sha": env.git_sha(),
              "wall_s": round(time.time() - started, 1), "steps": results}
    out.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(table(results))
    print(f"wrote {out} ({report['wall_s']:.0f} s)")
    if any(r["status"] != "ok" for r in results.values()):
        raise SystemExit(1)
    return report


if __name__ == "__main__":
    env.run_cli(main, sys.argv[1:])
