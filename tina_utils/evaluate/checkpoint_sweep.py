"""Checkpoint sweep of a training run: base + every complete checkpoint-N -> scores.csv, timing.csv, figure.

The checkpoint is chosen after the sweep on the preset's validation split (selection.py), beside the test-set best
that Tina reports; the paper comparison reads results/reference/*.csv (tina_utils.paper).
Used in: 03_evaluate (and benchmarks/bench_eval_sweep.py).
"""

import dataclasses
import json
from pathlib import Path

import pandas as pd

from tina_utils import env, plots, runs
from tina_utils.evaluate import core, provenance, stats
from tina_utils.evaluate.selection import best_checkpoint, select_checkpoint  # noqa: F401
from tina_utils.paper import REFERENCE_NAMES
from tina_utils.plots import runs as run_figures
from tina_utils.runs import find_checkpoints, step_of

SCORE_COLUMNS = ["run_id", "checkpoint", "step", "benchmark", "metric", "value", "stderr", "ci_low", "ci_high", "gain",
                 "gain_stderr", "gain_low", "gain_high", "n_problems", "n_samples", "stderr_seeds", "n_ungradable",
                 "seeds", *provenance.COLUMNS, "provenance"]
TIMING_COLUMNS = ["checkpoint", "benchmark", "wall_clock_s", "device_hours", "hardware", "n_generated_tokens"]


@dataclasses.dataclass
class SweepResult:
    """What `sweep` wrote and found."""

    run_id: str
    scores: pd.DataFrame
    timing: pd.DataFrame
    samples: pd.DataFrame
    best: dict
    out_dir: Path
    figure: Path | None
    cache_hits: int
    cache_misses: int


def base_model_of(run_dir, checkpoints: dict) -> str:
    """The run's base model: recipe.yaml `model` (worlds resolved), else the adapter's base_model_name_or_path."""
    import yaml

    from tina_utils import worlds

    recipe = Path(run_dir) / "recipe.yaml"
    if recipe.exists():
        model = (yaml.safe_load(recipe.read_text()) or {}).get("model")
        if model:
            return worlds.resolve_model(model)
    for path in checkpoints.values():
        return json.loads((path / "adapter_config.json").read_text())["base_model_name_or_path"]
    raise ValueError(f"cannot tell the base model of {run_dir}: no recipe.yaml and no checkpoints; pass base_model=")


def timing_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Generation seconds and tokens per (checkpoint, benchmark), summed from the cached per-sample shares."""
    devices = 1  # every backend here runs on one device (vLLM tensor_parallel_size=1)
    table = samples.groupby(["checkpoint", "benchmark"], sort=False).agg(
        wall_clock_s=("gen_s", "sum"), n_generated_tokens=("n_tokens", "sum")).reset_index()
    table["device_hours"] = table["wall_clock_s"] * devices / 3600
    table["hardware"] = env.hardware()
    return table[TIMING_COLUMNS]


def compare_to_paper(scores: pd.DataFrame, checkpoint: str, metric: str = "pass@1") -> pd.DataFrame | None:
    """Our base and `checkpoint` next to the paper's base and Tina models (None without reference data)."""
    try:
        from tina_utils import paper as reference

        paper = pd.concat([reference.load_reference("baseline_eval").head(1),
                           reference.load_reference("tina_models")], ignore_index=True)
    except (ImportError, OSError, KeyError):
        return None
    ours = scores[(scores.metric == metric) & scores.checkpoint.isin(["base", checkpoint])].copy()
    ours["benchmark"] = ours.benchmark.map(REFERENCE_NAMES)
    if ours.benchmark.isna().all():
        return None  # e.g. tiny_eval: nothing in the paper to compare with
    table = ours.dropna(subset=["benchmark"]).pivot_table(index="checkpoint", columns="benchmark", values="value")
    table.index = [f"ours: {c}" for c in table.index]
    columns = [c for c in reference.BENCHMARKS if c in table.columns]
    table["avg"] = table[columns].mean(axis=1)
    return pd.concat([table[[*columns, "avg"]], paper.set_index("model")[[*columns, "avg"]]]).round(2)


def write_outputs(out_dir: Path, scores: pd.DataFrame, timing: pd.DataFrame, samples: pd.DataFrame,
                  validation: pd.DataFrame | None = None) -> None:
    """scores.csv, macro.csv, timing.csv, samples.jsonl, provenance.csv (and validation_scores.csv) of an evaluation."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out_dir / "scores.csv", index=False, lineterminator="\n")
    if validation is not None:
        validation.to_csv(out_dir / "validation_scores.csv", index=False, lineterminator="\n")
    macro = pd.concat([stats.macro_average(scores, metric) for metric in dict.fromkeys(scores.metric)])
    macro.to_csv(out_dir / "macro.csv", index=False, lineterminator="\n")
    timing.to_csv(out_dir / "timing.csv", index=False, lineterminator="\n")
    extra = [c for c in ["gen_s", *provenance.COLUMNS] if c in samples]
    samples.drop(columns=extra).to_json(out_dir / "samples.jsonl", orient="records", lines=True)
    if "provenance" in samples:
        provenance.table(samples).to_csv(out_dir / "provenance.csv", index=False, lineterminator="\n")


def _usable_validation(names, tests, n_problems, data_paths) -> tuple[tuple, str]:
    """The validation splits that load here with problems left beside the tests, and why any could not."""
    usable, missing = [], []
    for name in names:
        try:
            core.load_rows((*tests, name), n_problems, data_paths)
            usable.append(name)
        except (RuntimeError, OSError, ValueError) as error:  # no Hub here, no local file, no problem left
            missing.append(f"{name}: {str(error).splitlines()[0][:160]}")
    if missing:
        print(f"warning: validation split(s) not loaded, the test-set best is reported instead: {'; '.join(missing)}")
    return tuple(usable), "validation split(s) not loaded: " + "; ".join(missing) if missing else ""


def _scores(samples: pd.DataFrame, run_id: str, preset) -> pd.DataFrame:
    """scores.csv rows of some samples."""
    scores = core.summarize(samples, preset.pass_ks)
    if scores.empty:
        return scores.reindex(columns=SCORE_COLUMNS)
    scores.insert(0, "run_id", run_id)
    scores.insert(2, "step", scores.checkpoint.map(step_of))
    return scores.reindex(columns=SCORE_COLUMNS)


def sweep(run_dir, benchmarks=None, preset="tiny", backend: str = "auto", base_model: str | None = None,
          out_dir=None, cache_path=None, progress: bool = False, data_paths: dict | None = None,
          validation=None) -> SweepResult | None:
    """Evaluate base + every complete checkpoint of `run_dir` (a run dir or a run id under results/02_train).

    data_paths: {benchmark: local file in its Hub schema} for machines without the Hub.
    validation: the splits the checkpoint is chosen on (default: the preset's; () chooses on the tests).
    """
    preset = core.get_preset(preset) if isinstance(preset, str) else preset
    run_dir = runs.run_dir(run_dir)
    checkpoints = find_checkpoints(run_dir)
    model = base_model or base_model_of(run_dir, checkpoints)
    run_id = run_dir.name
    out_dir = Path(out_dir) if out_dir else env.results_dir("03_evaluate", run_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    tests = tuple([benchmarks] if isinstance(benchmarks, str) else benchmarks or preset.benchmarks)
    wanted = tuple(preset.validation if validation is None else validation) if checkpoints else ()
    held, why = _usable_validation(wanted, tests, preset.n_problems, data_paths) if wanted else ((), "")
    samples = core.evaluate(model, tests + held, preset, backend, {"base": None, **checkpoints},
                            cache_path=cache_path or out_dir / "generations.jsonl", progress=progress,
                            data_paths=data_paths)
    if samples is None:
        return None  # a launched process other than rank 0: its share is in the cache, rank 0 writes the outputs
    scores = _scores(samples[samples.benchmark.isin(tests)], run_id, preset)
    checked = _scores(samples[samples.benchmark.isin(held)], run_id, preset) if held else None
    timing = timing_table(samples)  # the validation sweep's time counts in the run's cost
    write_outputs(out_dir, scores, timing, samples, checked)
    best = select_checkpoint(scores, checked, why_no_validation=why or "no validation split was evaluated")
    (out_dir / "best.json").write_text(json.dumps(best, indent=1) + "\n")
    fig, sources = run_figures.score_vs_step(run_id, out_dir)
    figure = plots.save(fig, f"03_score_vs_step_{run_id}", sources, notebook="03")
    print(f"cache: {samples.attrs['cache_hits']} hits, {samples.attrs['cache_misses']} generated")
    return SweepResult(run_id, scores, timing, samples, best, out_dir, figure,
                       samples.attrs["cache_hits"], samples.attrs["cache_misses"])
