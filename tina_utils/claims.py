"""The tiny world's claims, checked on one seed's runs, so they can be re-checked on any machine.

What the notebooks and docs/measured.md claim about the tiny world's default run (seed 0), each with its tolerance; they
hold on any machine (tests/test_reproducibility.py re-checks them under the other CPU kernel setting):
1. `format_rises`: the format reward's mean rises by >= MIN_RISE from the first 10 steps to the last 15;
2. `beats_base`: the best checkpoint beats the base model on held-out problems by more than NOISE_Z standard errors;
3. `early_stop_consistent`: the early-stopped run (recipe tiny_early_stop) either stops, saving steps, and keeps a
   checkpoint saved at or before its detection, or never confirms a transition and is the unstopped run, step for
   step.
Over other seeds 2 and 3 held on every run measured, 1 on most (docs/measured.md: in one run the format never took
off in 75 steps). Reported, not claimed, because they hold on some runs only: whether the rise is sharp enough for the
offline detector (a step passes, a slow ramp is rejected as drift by design), the online confirmation step,
whether the kept checkpoint beats the base model (`kept_beats_base`; on one run accuracy peaked at checkpoint 15
and fell back to the base's level before the format transition, so the checkpoint before it kept nothing) and
whether it is within the noise of the unstopped run's best.
    python -m tina_utils.claims --seed 0 --out claims.json     # trains/evaluates what is missing, prints JSON
Used by tests/test_reproducibility.py and benchmarks/bench_tiny_spread.py.
"""

import hashlib
import json
import math
import sys

from tina_utils import env, runs
from tina_utils import evaluate as ev
from tina_utils.phase import detect_transition, early_stop, load_logs

MIN_RISE = 0.4  # format reward, last 15 steps' mean minus the first 10 steps' mean
NOISE_Z = early_stop.NOISE_Z
N_PROBLEMS = 200  # held-out problems per checkpoint (x 4 samples, tiny preset)


def log_digest(run_dir) -> str:
    """Hash of a run's logged training values (timings excluded): equal digests mean identical training."""
    logs = load_logs(run_dir)
    values = logs[[c for c in logs.columns if "time" not in c and "runtime" not in c]]
    return hashlib.sha256(values.to_csv(index=False).encode()).hexdigest()[:16]


def format_rise(logs) -> float:
    """Claim 1's quantity: mean format reward of the last 15 logged steps minus that of the first 10."""
    return float(logs["format_reward"].tail(15).mean() - logs["format_reward"].head(10).mean())


def _base_score(run_dir, n_problems: int) -> tuple[float, float]:
    """pass@1 and its standard error of the untrained model on the held-out problems."""
    preset = ev.get_preset("tiny", n_problems=n_problems)
    model = ev.base_model_of(run_dir, runs.find_checkpoints(run_dir))
    samples = ev.evaluate(model, None, preset, "auto", {"base": None},
                          cache_path=env.results_dir("05_phase") / "early_stop_generations.jsonl")
    row = ev.summarize(samples, preset.pass_ks).query("metric == 'pass@1'").iloc[0]
    return float(row["value"]), float(row["stderr"])


def _stop_result(full, stopped, full_scores, base: float, base_se: float, n_problems: int) -> dict:
    """The early stop's numbers: where it stopped, the kept checkpoint's score against the base and the best."""
    record = early_stop.read_transition(stopped)
    if record.get("stop_at") is None:  # never confirmed: the stopped run is the whole unstopped run
        return {"stopped_at": None, "steps_saved": 0, "same_as_unstopped": log_digest(stopped) == log_digest(full)}
    kept, at_detection = record["kept_checkpoint"], record["checkpoint_at_detection"]
    stop_scores = early_stop.evaluate_checkpoints(stopped, sorted({kept, at_detection}), n_problems=n_problems)
    stop = early_stop.compare(full, stopped, full_scores, stop_scores)
    return {**{key: stop[key] for key in ("stopped_at", "kept_checkpoint", "kept_score", "score_diff", "diff_stderr",
                                          "within_noise", "steps_saved")},
            "kept_gain_over_base": stop["kept_score"] - base,
            "kept_gain_stderr": math.hypot(base_se, stop["kept_stderr"]), "checkpoint_at_detection": at_detection,
            "detected_step": record["transition"]["step"],
            "kept_beats_base": stop["kept_score"] - base > NOISE_Z * math.hypot(base_se, stop["kept_stderr"]),
            "detection_score": float(early_stop.scores_by_checkpoint(stop_scores).loc[at_detection, "score"])}


def check(seed: int = 0, n_problems: int = N_PROBLEMS) -> dict:
    """Train (if missing) and score seed `seed`'s tiny and tiny_early_stop runs; the claim values and verdicts."""
    from tina_utils.train import ensure_tiny_run

    full, stopped = ensure_tiny_run("tiny", seed=seed), ensure_tiny_run("tiny_early_stop", seed=seed)
    logs = load_logs(full)
    found = detect_transition(logs, "format_reward")
    full_scores = early_stop.evaluate_checkpoints(full, n_problems=n_problems)
    best = early_stop.scores_by_checkpoint(full_scores)
    base, base_se = _base_score(full, n_problems)
    top = best["score"].idxmax()
    result = {"seed": seed, "log_digest": log_digest(full),
              "format_rise": format_rise(logs),
              "online_confirmed_at": (early_stop.read_transition(full) or {}).get("detected_at"),
              "transition_step": found.step if found else None,
              "transition_strength": round(found.strength, 2) if found else None,
              "base_score": base, "best_checkpoint": top, "best_score": float(best.loc[top, "score"]),
              "gain_over_base": float(best.loc[top, "score"] - base),
              "gain_stderr": math.hypot(base_se, best.loc[top, "stderr"]),
              **_stop_result(full, stopped, full_scores, base, base_se, n_problems)}
    return {**result, "holds": verdicts(result)}


def verdicts(result: dict) -> dict:
    """Each claim of the module docstring: True when `result` satisfies it."""
    if result["stopped_at"] is None:
        consistent = result["same_as_unstopped"]
    else:
        kept_step = runs.step_of(result["kept_checkpoint"])
        consistent = result["steps_saved"] > 0 and kept_step <= result["detected_step"]
    return {"format_rises": result["format_rise"] >= MIN_RISE,
            "beats_base": result["gain_over_base"] > NOISE_Z * result["gain_stderr"],
            "early_stop_consistent": bool(consistent)}


def run(argv: list[str]) -> dict:
    """Check one seed and write/print the JSON."""
    parser = env.cli_parser(prog="python -m tina_utils.claims", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n_problems", type=int, default=N_PROBLEMS)
    parser.add_argument("--out", help="write the JSON here too")
    args = parser.parse_args(argv)
    result = {**check(args.seed, args.n_problems), "versions": env.versions()}
    text = json.dumps(result, indent=1, default=str)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text)
    print(text)
    return result


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point: bad input is one line, exit code 2."""
    return env.run_cli(run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(0 if all(main()["holds"].values()) else 1)
