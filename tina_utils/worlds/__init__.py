"""The offline worlds by name: `tina-tiny` (tiny.py) and `r1-mini` (r1_mini.py), accepted anywhere a model id is.

Both are saved atomically by save.py.

Under `accelerate launch` the world is built by rank 0 and the other ranks wait for it: transformers writes model
weights only on rank 0 of an initialised process group, so a build on another rank would lack them.
Used in: training (runner), evaluation, notebooks; `resolve_model("r1-mini")` builds or reuses the cached world.
"""

import time

from tina_utils import env
from tina_utils.worlds import r1_mini, tiny

WORLDS = {tiny.TINY_MODEL: tiny, r1_mini.R1_MINI_MODEL: r1_mini}
WAIT_S = 1800  # the tiny world's warm start takes ~1.5 min on 2 cores; a slow machine gets much longer


def resolve_model(name: str, seed: int = 0) -> str:
    """The built directory of an offline world's name; any other model id or path is returned unchanged."""
    if name not in WORLDS:
        return str(name)
    world = WORLDS[name]
    if env.process_rank() == 0 or not _group_initialised():
        return str(world.build(seed))
    return str(_wait_for(name, seed))


def is_world(name) -> bool:
    """True for the name of an offline world."""
    return str(name) in WORLDS


def _group_initialised() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def _wait_for(name: str, seed: int):
    """The world's directory once rank 0 has built it (polled: ranks may resolve worlds a different number of times)."""
    world = WORLDS[name]
    path, deadline = world.world_dir(seed), time.time() + WAIT_S
    while not world.is_built(path):
        if time.time() > deadline:
            raise RuntimeError(f"rank {env.process_rank()} waited {WAIT_S} s for rank 0 to build {path}; build it "
                               f"once before launching: python -c 'from tina_utils import worlds; "
                               f"worlds.resolve_model(\"{name}\", {seed})'")
        time.sleep(1)
    return path
