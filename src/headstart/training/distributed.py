"""Data-parallel training across processes started by `torchrun` or `accelerate launch` (DDP).

The launchers set WORLD_SIZE, RANK, LOCAL_RANK and MASTER_ADDR/PORT; the training loop calls
`setup()` and, when more than one process runs, wraps the model in DistributedDataParallel. Each
optimisation step's batch (`batch_size` examples, the *global* batch) is split across the processes,
so N processes follow the same optimisation path as one, each computing 1/N of every batch; only
rank 0 shows progress and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: Sequence[int]) -> list[int]:
        """This process's share of a global batch; a batch smaller than the world is repeated so no rank idles."""
        batch = list(batch)
        if len(batch) < self.world_size:
            batch = (batch * self.world_size)[: self.world_size]
        return batch[self.rank:: self.world_size]


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a multi-process launch (safe before setup())."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def setup(device: str) -> tuple[Dist, str]:
    """Join the process group when launched with several processes; returns the layout and this rank's device."""
    import torch
    import torch.distributed as torch_dist

    if env_world_size() <= 1 or not torch_dist.is_available():
        return Dist(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)  # "cuda" now means this rank's own GPU everywhere below
        device = f"cuda:{local_rank}"
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return Dist(torch_dist.get_rank(), torch_dist.get_world_size(), local_rank), device


def wrap(model, dist: Dist, device: str):
    """The model wrapped for gradient averaging (parameters are broadcast from rank 0 on wrapping)."""
    if not dist.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [dist.local_rank] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=ids)
