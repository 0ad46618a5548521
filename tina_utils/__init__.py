"""Tina reproduction helpers: the notebooks in `notebooks/` call these small modules."""

__version__ = "0.1.0"
