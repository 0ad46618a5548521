"""Every figure, by file name: which notebook shows it, how to find its saved tables, how to draw it from them.

`draw(name)` redraws one figure from the tables under results/ and saves it (PDF, SVG, PNG, index row);
`redraw_all()` redraws every figure whose tables exist — what `make figures` runs. Nothing here loads a model or
imports the training stack. A figure name is a registry prefix plus a suffix (a run id, a dataset, a study; empty
for the figures drawn once).
"""

from pathlib import Path

from tina_utils.plots import comparisons, phase, runs, style
from tina_utils.plots import paper as paper_figures


def _single(build):
    """A registry entry's `find` and `build` for a figure drawn once, from the committed reference tables."""
    return (lambda: [""]), (lambda suffix: build())


# prefix -> (notebook, find: () -> suffixes whose tables exist, build: suffix -> (Figure, source tables))
REGISTRY = {
    "paper_overall_comparison": ("04", *_single(paper_figures.overall_comparison)),
    "paper_cost_breakdown": ("04", *_single(paper_figures.cost_breakdown)),
    "paper_ablations": ("04", *_single(paper_figures.ablations)),
    "paper_benchmarks": ("04", *_single(paper_figures.benchmarks)),
    "paper_verdict": ("03", *_single(paper_figures.verdict)),
    "01_prompt_lengths_": ("01", runs.find_prompt_lengths, runs.prompt_lengths),
    "02_training_curves_": ("02", runs.find_logged_runs, runs.training_curves),
    "03_score_vs_step_": ("03", runs.find_swept_runs, runs.score_vs_step),
    "runs_cost_vs_score": ("04", runs.find_checkpoint_costs, lambda _: runs.cost_vs_score()),
    "early_stop_paper_projection": ("04", phase.find_projection, lambda _: phase.projection()),
    "phase_synthetic": ("05", phase.find_synthetic, lambda _: phase.synthetic_phase()),
    "phase_stop_": ("05", phase.find_stops, phase.stop),
    "phase_": ("05", runs.find_logged_runs, phase.phase_panel),
    "study_": ("studies", runs.find_studies, runs.study),
    **comparisons.REGISTRY,
}


def owner(name: str) -> str | None:
    """The registry prefix that draws the figure called `name` (the longest that matches), or None."""
    matches = [p for p in REGISTRY if (name.startswith(p) and name != p if p.endswith("_") else name == p)]
    return max(matches, key=len, default=None)


def draw(name: str) -> Path:
    """Redraw the figure `name` from its saved tables; return its PNG path."""
    prefix = owner(name)
    if prefix is None:
        raise KeyError(f"no registered figure draws {name!r}; registered: {', '.join(sorted(REGISTRY))}")
    notebook, _, build = REGISTRY[prefix]
    fig, sources = build(name[len(prefix):])
    return style.save(fig, name, sources, notebook)


def names() -> list[str]:
    """Every figure whose tables exist under results/, by file name."""
    return [prefix + suffix for prefix, (_, find, _) in REGISTRY.items() for suffix in find()
            if owner(prefix + suffix) == prefix]


def redraw_all() -> list[Path]:
    """Redraw every figure whose tables exist; return their PNG paths."""
    return [draw(name) for name in names()]


def unregistered(directory: Path | None = None) -> list[str]:
    """Files under results/figures/ that no registered figure draws (the index table aside)."""
    directory = directory or style.env.results_dir("figures")
    return sorted(p.name for p in directory.iterdir()
                  if p.suffix[1:] in style.FORMATS and owner(p.stem) is None)
