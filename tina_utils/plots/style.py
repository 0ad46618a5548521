"""The house style of every figure: print sizes, a colour-blind-safe palette with line styles, and `save`, which
writes PDF (TrueType fonts), SVG (real text) and PNG byte-stably and records the figure in results/figures/index.csv.
"""

import os
import subprocess
from functools import lru_cache
from pathlib import Path

import matplotlib
import pandas as pd
from cycler import cycler
from filelock import FileLock
from matplotlib.figure import Figure

from tina_utils import env

COLUMN, FULL = 3.3, 6.8  # inches: one column and the full text width of a two-column paper
# Okabe & Ito's palette (distinguishable under the common colour-vision deficiencies), each with its own dash.
OURS, TINA, BASE, GREEN = "#0072B2", "#D55E00", "#7F7F7F", "#009E73"
ORANGE, SKY, PURPLE = "#E69F00", "#56B4E9", "#CC79A7"
PALETTE = [OURS, TINA, GREEN, ORANGE, PURPLE, SKY, "#000000"]
DASHES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (3, 1, 1, 1, 1, 1))]
MIN_FONT_PT = 8
FORMATS = ("pdf", "svg", "png")
LABELS = {"aime24": "AIME24", "aime25": "AIME25", "amc23": "AMC23", "math500": "MATH500", "gpqa": "GPQA-D",
          "minerva": "Minerva", "avg": "Average"}
RC = {"font.family": "DejaVu Sans", "font.size": MIN_FONT_PT, "axes.titlesize": MIN_FONT_PT + 1,
      "axes.labelsize": MIN_FONT_PT, "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT,
      "legend.fontsize": MIN_FONT_PT, "figure.titlesize": MIN_FONT_PT + 1, "axes.spines.top": False,
      "axes.spines.right": False, "lines.linewidth": 1.2, "lines.markersize": 4, "legend.frameon": False,
      "axes.prop_cycle": cycler(color=PALETTE, linestyle=DASHES),
      "pdf.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "tina-figures"}
# No dates, tool versions or commits inside the files: the same tables give the same bytes.
METADATA = {"pdf": {"CreationDate": None, "Producer": None, "Creator": None},
            "svg": {"Date": None, "Creator": None}, "png": {"Software": None}}
INDEX_COLUMNS = ["figure", "notebook", "sources", "commit"]


def figure(width: float = FULL, height: float = 2.6) -> Figure:
    """A constrained-layout Figure in the house style (not registered with pyplot); `width`: COLUMN or FULL."""
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), layout="constrained", dpi=100)


def styled(draw):
    """Decorator: run a drawing function under the house style's rc settings."""
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)
    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = draw.__name__, draw.__doc__, draw
    return wrapper


@lru_cache(maxsize=1)
def commit() -> str:
    """The checkout's commit (short), or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def _relative(path) -> str:
    """A source table's path relative to results/ (as given when outside it)."""
    path, root = Path(path), env.results_dir()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def record(name: str, notebook: str, sources) -> None:
    """Add or replace the figure's row in results/figures/index.csv (where it came from)."""
    index = env.results_dir("figures") / "index.csv"
    row = {"figure": name, "notebook": notebook, "sources": ";".join(sorted(_relative(s) for s in sources)),
           "commit": commit()}
    with FileLock(str(env.tina_home() / "figure-index.lock")):  # not beside the figures
        table = pd.read_csv(index, dtype=str).fillna("") if index.exists() else pd.DataFrame(columns=INDEX_COLUMNS)
        table = pd.concat([table[table["figure"] != name], pd.DataFrame([row])]).sort_values("figure")
        table.to_csv(index, index=False, lineterminator="\n")


def formats() -> list[str]:
    """The formats `save` writes: $TINA_FIGURE_FORMATS (e.g. "png" while iterating), default PDF, SVG and PNG."""
    wanted = [f.strip() for f in os.environ.get("TINA_FIGURE_FORMATS", ",".join(FORMATS)).split(",") if f.strip()]
    unknown = sorted(set(wanted) - set(FORMATS))
    if unknown or "png" not in wanted:  # notebooks display the PNG
        raise ValueError(f"TINA_FIGURE_FORMATS={','.join(wanted)}: use a comma list of {', '.join(FORMATS)} "
                         "that includes png")
    return wanted


def save(fig: Figure, name: str, sources=(), notebook: str = "") -> Path:
    """Write results/figures/<name>.pdf, .svg and .png in the house style, index them; return the PNG path."""
    directory = env.results_dir("figures")
    with matplotlib.rc_context(RC):
        for fmt in formats():
            fig.savefig(directory / f"{name}.{fmt}", dpi=200, metadata=METADATA[fmt])
    record(name, notebook, sources)
    return directory / f"{name}.png"


def not_run_yet(ax, what: str) -> None:
    """Mark an axis whose side of the comparison has no run yet."""
    ax.text(0.5, 0.5, f"ours: not run yet\n{what}", ha="center", va="center", transform=ax.transAxes,
            color=BASE, wrap=True)
