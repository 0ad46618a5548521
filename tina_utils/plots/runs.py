"""Our runs' figures, each drawn from the tables a notebook saved under results/: prompt lengths (01), training
curves (02), score vs step (03), cost vs score (04), a study (scaling out).

Each `find_*` lists the name suffixes whose tables exist; each builder reads them and returns (Figure, sources).
"""


import json
from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from tina_utils import env
from tina_utils import runs as run_files
from tina_utils.paper import load_reference
from tina_utils.plots import style
from tina_utils.plots.style import BASE, COLUMN, FULL, OURS, TINA

PROMPT_LENGTHS = "{}_prompt_lengths.csv"


def _names(folder: str, pattern: str, strip: str = "") -> list[str]:
    """Names of the files (or of their parent folders when `pattern` has a '/') under results/<folder>/."""
    paths = sorted(env.results_dir(folder).glob(pattern))
    return [p.parent.name if "/" in pattern else p.name.removesuffix(strip) for p in paths]


def find_prompt_lengths() -> list[str]:
    """Datasets whose prompt lengths notebook 01 saved."""
    return _names("01_data", PROMPT_LENGTHS.format("*"), strip="_prompt_lengths.csv")


@style.styled
def prompt_lengths(dataset: str):
    """Notebook 01: prompt lengths in tokens (a bar per length when there are few), the budget when near."""
    path = env.results_dir("01_data") / PROMPT_LENGTHS.format(dataset)
    table = pd.read_csv(path)
    lengths, budget = table["prompt_tokens"], int(table["budget"].iloc[0])
    fig = style.figure(COLUMN, 2.4)
    ax = fig.subplots()
    counts = lengths.value_counts().sort_index()
    if len(counts) <= 40:  # few distinct lengths (the tiny world): one bar per length
        ax.bar(counts.index, counts.values, width=0.8, color=OURS)
        ax.set_xlim(counts.index.min() - 3, counts.index.max() + 3)
    else:
        ax.hist(lengths, bins=60, color=OURS)
    if lengths.max() >= budget / 2:
        ax.axvline(budget, color=TINA, linestyle="--", label=f"budget ({budget} tokens)")
        ax.legend()
    ax.set(xlabel="prompt length (tokens, chat template applied)", ylabel="prompts (count)",
           title=f"{dataset}: {len(lengths):,} prompts")
    return fig, [path]


def find_logged_runs() -> list[str]:
    """Runs with a training log under results/02_train/."""
    return run_files.logged_runs()


def training_curves(run_id: str):
    """Notebook 02: the run's logged rewards and completion length with its format transition."""
    from tina_utils.plots.phase import panel
    from tina_utils.transition.detect import detect_transition
    from tina_utils.transition.logs import load_logs

    path = run_files.log_file(run_id)
    logs = load_logs(path)
    return panel(logs, detect_transition(logs, "format_reward"), title=run_id), [path]


def find_swept_runs() -> list[str]:
    """Runs whose checkpoints notebook 03 scored (03_evaluate/<run>/scores.csv)."""
    return _names("03_evaluate", "*/scores.csv")


def _recipe(run_id: str) -> str | None:
    """The run's recipe from results/runs.csv (None when not recorded)."""
    path = run_files.runs_csv()
    if not path.exists():
        return None
    rows = pd.read_csv(path, dtype=str).query("run_id == @run_id")
    return rows["recipe"].iloc[-1] if len(rows) else None


def _transition_band(run_id: str):
    """(lo, hi) of the run's format transition from notebook 05's table, None when not analysed."""
    path = env.results_dir("05_phase") / f"{run_id}_transitions.csv"
    if not path.exists():
        return None, []
    table = pd.read_csv(path)
    row = table[table.iloc[:, 0] == "format_reward"]
    return ((float(row["lo"].iloc[0]), float(row["hi"].iloc[0])) if len(row) and "lo" in row else None), [path]


@style.styled
def score_vs_step(run_id: str, folder=None, metric: str = "pass@1"):
    """Notebook 03: score vs step per benchmark (95 % intervals), base model, chosen checkpoint, the format
    transition band (05) and the paper's best step for the same recipe. `folder`: the sweep's (default
    results/03_evaluate/<run_id>)."""
    folder = Path(folder) if folder else env.results_dir("03_evaluate", run_id)
    scores = pd.read_csv(folder / "scores.csv")
    part = scores[scores.metric == metric]
    benchmarks = list(dict.fromkeys(part.benchmark))
    band, band_sources = _transition_band(run_id)
    models = load_reference("tina_models")
    paper = models[models["recipe"] == _recipe(run_id)]
    chosen = json.loads((folder / "best.json").read_text()).get("step") if (folder / "best.json").exists() else None
    columns, rows_ = min(len(benchmarks), 3), -(-len(benchmarks) // 3)
    fig = style.figure(COLUMN if columns == 1 else FULL, 2.3 * rows_ + (1.3 if columns == 1 else 0.6))
    for ax, name in zip(fig.subplots(rows_, columns, squeeze=False).ravel(), benchmarks):
        rows = part[(part.benchmark == name) & (part.checkpoint != "base")].sort_values("step")
        ax.errorbar(rows.step, rows.value, yerr=1.96 * rows.stderr.fillna(0), color=OURS, marker="o", capsize=2,
                    label="checkpoint (95 % interval)")
        base = part[(part.benchmark == name) & (part.checkpoint == "base")]
        if len(base):
            ax.axhline(base.value.iloc[0], color=BASE, ls="--", label="base model")
        if band:
            ax.axvspan(band[0] - 0.5, band[1] + 0.5, color=TINA, alpha=0.2, lw=0, label="format transition (05)")
        if chosen is not None:
            ax.axvline(chosen, color="k", ls=":", label="chosen checkpoint")
        if len(paper):
            ax.axvline(paper["best_step"].iloc[0], color=TINA, ls="-.", label="paper's best checkpoint")
        ax.set(title=name, xlabel="training step", ylabel=f"{metric} (%)")
    handles, labels = fig.axes[0].get_legend_handles_labels()
    if not len(paper):  # say it rather than leave the paper's mark silently out
        handles.append(Line2D([], [], color=TINA, ls="-."))
        labels.append("paper's best checkpoint: no run of this recipe")
    fig.legend(handles, labels, loc="outside lower center", ncols=1 if columns == 1 else 3)
    fig.suptitle(f"{run_id}: {metric} vs step")
    return fig, [folder / "scores.csv", *([folder / "best.json"] if chosen is not None else []), *band_sources]


def find_checkpoint_costs() -> list[str]:
    """[""] once notebook 04 saved the per-checkpoint costs (04_cost/checkpoint_costs.csv)."""
    return [""] if (env.results_dir("04_cost") / "checkpoint_costs.csv").exists() else []


def _hours_or_usd(ckpts: pd.DataFrame) -> tuple:
    """x values and axis label: USD when every checkpoint is priced on a GPU, else device-hours."""
    if ckpts["unit"].eq("GPU-hours").all() and ckpts["total_usd"].gt(0).all():
        return ckpts["total_usd"], "USD to this checkpoint (train + eval)"
    hours = ckpts["train_device_hours"] + ckpts["eval_device_hours"].fillna(0)
    return hours, f"{' / '.join(sorted(set(ckpts['unit'])))} to this checkpoint (CPU time: $0)"


@style.styled
def cost_vs_score(ckpts: pd.DataFrame | None = None, overall: pd.DataFrame | None = None):
    """Our checkpoints' cost vs score (left) beside the paper's cost vs score with Tina's $9 point (right)."""
    from tina_utils.cost.accounting import headline_best_checkpoint

    path = env.results_dir("04_cost") / "checkpoint_costs.csv"
    ckpts = pd.read_csv(path) if ckpts is None else ckpts
    overall = load_reference("overall_comparison") if overall is None else overall
    scored = ckpts.dropna(subset=["score"]) if len(ckpts) else ckpts
    best, tina_avg = headline_best_checkpoint(), overall.loc[overall["model"] == "Tina", "performance"].iloc[0]
    fig = style.figure(FULL, 2.8)
    left, right = fig.subplots(1, 2)
    if len(scored):
        xs, xlabel = _hours_or_usd(scored)
        for run_id, rows in scored.assign(x=xs).sort_values("step").groupby("run_id"):
            left.plot(rows["x"], rows["score"], marker="o", label=run_id)
        left.set(xlabel=xlabel, ylabel="mean pass@1 over our benchmarks (%)")
        left.legend()
    else:
        style.not_run_yet(left, "train (02) and evaluate (03) first")
        left.set(xticks=[], yticks=[])
    left.set_title("our runs")
    right.scatter(overall["cost_usd"], overall["performance"], c=[TINA if m == "Tina" else BASE
                                                                   for m in overall["model"]])
    right.scatter([best["stated_total_usd"]], [tina_avg], marker="*", s=80, color=TINA,
                  label="Tina's best checkpoint: train + eval")
    for x, y, name in zip(overall["cost_usd"], overall["performance"], overall["model"]):
        right.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points")
    right.set(xscale="log", xlabel="USD (log scale)", ylabel="six-benchmark average (%)",
              title="paper (Fig. 1, Table 1)")
    right.legend(loc="lower right")
    right.margins(x=0.3, y=0.15)
    return fig, [path]


def find_studies() -> list[str]:
    """Studies with a saved table (studies/<study>/study.csv)."""
    return _names("studies", "*/study.csv")


@style.styled
def study(name: str, table: pd.DataFrame | None = None):
    """A study: our score per setting (mean ± s.e. over seeds) beside the paper's number."""
    path = env.results_dir("studies", name) / "study.csv"
    table = pd.read_csv(path) if table is None else table
    settings = table.drop(columns=[c for c in ("n_seeds", "mean", "stderr", "paper", "failed", "agree", "mean_gap")
                                   if c in table])
    labels = [" ".join(str(v) for v in row) for row in settings.itertuples(index=False)]
    fig = style.figure(COLUMN if len(table) <= 3 else FULL, 2.6)
    ax = fig.subplots()
    x = range(len(table))
    ax.errorbar(x, table["mean"], yerr=table["stderr"].fillna(0), fmt="o", color=OURS, capsize=3,
                label="ours (mean ± s.e. over seeds)")
    ax.plot(x, table["paper"], "D", color=TINA, ls="none", label="paper")
    ax.set_xticks(list(x), labels, rotation=20, ha="right")
    ax.set(ylabel="best-checkpoint average (%)", title=f"study {name}")
    ax.margins(x=0.2)
    ax.legend()
    return fig, [path]
