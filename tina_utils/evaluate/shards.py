"""Evaluation over N launched processes: each rank generates its share, rank 0 merges the cache and grades.

    accelerate launch --config_file tina_utils/train/recipes/accelerate/cpu.yaml --num_processes 2 \\
        -m tina_utils.evaluate results/02_train/tiny-seed0-world3 --preset tiny
    accelerate launch --multi_gpu --num_processes 8 -m tina_utils.evaluate RUN_DIR   # one engine per GPU

A work unit is one (checkpoint, benchmark, seed). Units go to ranks round-robin in the order of the full
request list, not of what is missing, so every rank agrees on the split whatever the cache held when it started.
Each rank appends to its own cache shard (cache.py); a rerun after a kill reads every shard and regenerates nothing.
Used in: core.py (evaluate) and cli.py.
"""

import datetime
import os

from tina_utils import env


def unit_of(request: dict) -> tuple:
    """The work unit a request belongs to."""
    return request["checkpoint"], request["row"]["benchmark"], request["seed"]


def my_share(requests: list[dict], rank: int, world: int) -> list[dict]:
    """The requests of the units rank `rank` of `world` generates."""
    units = list(dict.fromkeys(unit_of(r) for r in requests))
    mine = {unit for index, unit in enumerate(units) if index % world == rank}
    return [r for r in requests if unit_of(r) in mine]


def pin_gpu() -> None:
    """Give each launched process its own GPU (before any engine starts): vLLM and torch then use device 0."""
    local_rank = os.environ.get("LOCAL_RANK")
    if local_rank is None or env.world_size() == 1:
        return
    import torch

    count = torch.cuda.device_count()  # reads the driver without creating a CUDA context
    if count:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(count)))).split(",")
        os.environ["CUDA_VISIBLE_DEVICES"] = visible[int(local_rank) % len(visible)]


def wait_for_all() -> None:
    """Block until every launched process has finished generating (a gloo barrier; shards can be uneven)."""
    import torch.distributed as dist

    started_here = not dist.is_initialized()
    if started_here:
        dist.init_process_group("gloo", timeout=datetime.timedelta(hours=24))
    dist.barrier()
    if started_here:
        dist.destroy_process_group()
