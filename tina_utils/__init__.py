"""Tina reproduction helpers: the notebooks in `notebooks/` call these small modules."""

import warnings

# tqdm.auto warns (with its absolute install path) when ipywidgets is absent; text progress bars are fine here.
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
