"""Data-parallel set-up under torchrun: gloo on CPU, nccl on GPU; a no-op when run alone."""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str = "auto") -> Distributed:
    """Join the process group torchrun describes in the environment, if any."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Distributed(rank, world_size, device)


def teardown(env: Distributed) -> None:
    if env.world_size > 1:
        dist.destroy_process_group()


def mean_across(value: float, env: Distributed) -> float:
    """The mean of a scalar over all processes (the value itself when alone)."""
    if env.world_size == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=env.device)
    dist.all_reduce(t)
    return float(t) / env.world_size
