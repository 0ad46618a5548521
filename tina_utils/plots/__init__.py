"""Figures in one house style, each drawn from tables saved under results/ (see `registry`). Used in: every notebook.

`python -m tina_utils.plots` (`make figures`) redraws every figure whose tables exist, without a model or torch.
"""

from tina_utils.plots.inputs import write_prompt_lengths, write_stop_scores, write_synthetic
from tina_utils.plots.registry import draw, redraw_all
from tina_utils.plots.style import BASE, COLUMN, FULL, OURS, TINA, figure, save

__all__ = ["BASE", "COLUMN", "FULL", "OURS", "TINA", "draw", "figure", "redraw_all", "save", "write_prompt_lengths",
           "write_stop_scores", "write_synthetic"]

