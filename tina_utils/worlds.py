"""The offline worlds by name: `tina-tiny` (tiny.py) and `r1-mini` (r1_mini.py), accepted anywhere a model id is.

Used in: training (runner), evaluation, notebooks; `resolve_model("r1-mini")` builds or reuses the cached world.
"""

from tina_utils import r1_mini, tiny

WORLDS = {tiny.TINY_MODEL: tiny.build, r1_mini.R1_MINI_MODEL: r1_mini.build}


def resolve_model(name: str, seed: int = 0) -> str:
    """The built directory of an offline world's name; any other model id or path is returned unchanged."""
    return str(WORLDS[name](seed)) if name in WORLDS else str(name)


def is_world(name) -> bool:
    """True for the name of an offline world."""
    return str(name) in WORLDS
