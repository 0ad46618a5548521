"""Tina reproduction helpers, one sub-package per notebook stage: data (01), train (02), evaluate (03), cost (04),
phase (05), and rewards (02, 03). env, tiny, plots, pipeline and claims are shared by every stage.
"""

import warnings

# tqdm.auto warns (with its absolute install path) when ipywidgets is absent; text progress bars are fine here.
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
