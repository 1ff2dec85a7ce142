"""Data-parallel helpers: one process when run plainly, DDP over gloo when run under `torchrun`."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def setup() -> tuple[int, int]:
    """(rank, world size); joins the process group when `torchrun` set WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model wrapped in DDP when data-parallel, else itself."""
    return torch.nn.parallel.DistributedDataParallel(model) if active() else model


def shard(indices: list[int], rank: int, world: int) -> list[int]:
    """This rank's share of a global batch."""
    return indices[rank::world]


def all_sum(value: float | int) -> float | int:
    """The sum of `value` over all processes (the value itself in one process)."""
    if not active():
        return value
    tensor = torch.tensor(float(value), dtype=torch.float64)
    dist.all_reduce(tensor)
    return type(value)(tensor.item())


def barrier() -> None:
    if active():
        dist.barrier()


def teardown() -> None:
    if active():
        dist.destroy_process_group()
