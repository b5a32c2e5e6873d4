"""Training on several processes and machines with torch.distributed, as ``torchrun`` launches them.

Under ``torchrun`` (``WORLD_SIZE`` above 1 in the environment) a fit joins the process group
torchrun describes (gloo on the CPU, nccl on CUDA) and trains with DistributedDataParallel: every
rank draws the same shuffled order, takes every N-th row of each batch (so a batch of B rows is
B / N per rank and the gradients DDP averages are those of the whole batch), and epoch losses are
summed over ranks, so validation, plateaus and early stopping agree everywhere. Rank 0 alone
writes files and shows progress. Without torchrun nothing here does anything.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def world_size() -> int:
    """The number of ranks of the process group (1 when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group if there is one and it is not joined yet; the device this rank
    trains on (its local GPU under torchrun with CUDA)."""
    if world_size() <= 1:
        return device
    device = rank_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        import atexit

        atexit.register(_leave)  # a script's ranks leave the group they were put in before Python unwinds
    return device


def rank_device(device: torch.device) -> torch.device:
    """The device this rank trains on: under torchrun with CUDA, ``device`` without an index becomes
    the rank's local GPU (``LOCAL_RANK``), made the calling thread's current one; else ``device``."""
    if world_size() > 1 and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def _leave() -> None:
    import gc

    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def finish() -> None:
    """Wait for every rank, leave the process group, and end the process at once.

    A command's last step under torchrun: a process that unwinds normally while the DDP reducer
    and gloo's threads are still referenced can abort as the interpreter shuts down (seen here
    about once in ten runs on a loaded machine), which torchrun reports as a failed rank.
    """
    import sys

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        _leave()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def sum_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """``value`` summed over every rank (itself when not distributed)."""
    if world_size() > 1 and dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def broadcast(value: torch.Tensor) -> torch.Tensor:
    """Rank 0's ``value`` (a tensor of the same shape and dtype on every rank) on every rank, on the
    device it came on."""
    if world_size() > 1 and dist.is_initialized():
        device = value.device
        value = value.cuda() if dist.get_backend() == "nccl" else value.cpu()
        dist.broadcast(value, src=0)
        value = value.to(device)
    return value


def every_rank(value: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's ``value`` (a tensor of the same shape and dtype on every rank), in rank order, on
    every rank, on the device it came on (``[value]`` when not distributed)."""
    if world_size() > 1 and dist.is_initialized():
        device = value.device
        value = (value.cuda() if dist.get_backend() == "nccl" else value.cpu()).contiguous()
        values = [torch.empty_like(value) for _ in range(dist.get_world_size())]
        dist.all_gather(values, value)
        return [v.to(device) for v in values]
    return [value]


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is True on any (itself when not distributed): one decision
    that every rank takes alike, such as streaming rows that one rank's memory cannot hold."""
    if world_size() > 1 and dist.is_initialized():
        value = torch.tensor([int(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())
    return flag


def check_same_rows(X) -> None:
    """Under torchrun, a ValueError on every rank unless every rank was given the same rows: their
    shape and, for rows in memory, a digest of 1,000 of them spread over the array. Ranks given other
    rows trained each on its own data without a word, or failed deep in DistributedDataParallel
    (another shape: a gloo abort). Nothing to check when not distributed."""
    if world_size() <= 1 or not dist.is_initialized():
        return
    import hashlib

    import numpy as np

    n, d = int(X.shape[0]), int(X.shape[1])
    digest = 0
    if isinstance(X, np.ndarray):
        sample = np.ascontiguousarray(X[:: max(1, n // 1000)])
        digest = int.from_bytes(hashlib.sha256(sample.view(np.uint8)).digest()[:7], "little")
    mine = torch.tensor([n, d, digest], dtype=torch.int64)
    first = broadcast(mine.clone())
    if any_rank(not torch.equal(mine, first)):
        if torch.equal(mine, first):
            mismatch = "another rank's differ from rank 0's"
        elif torch.equal(mine[:2], first[:2]):
            mismatch = f"rank {rank()}'s values differ from rank 0's"
        else:
            mismatch = f"rank {rank()} has {n:,} x {d:,}, rank 0 {int(first[0]):,} x {int(first[1]):,}"
        raise ValueError(f"under torchrun every rank must be given the same rows: {mismatch}")


def check_same_params(params: dict) -> None:
    """Under torchrun, a ValueError on every rank unless every rank was given the same ``params`` (plain
    JSON values: what the fit computes, not how it runs). Ranks given another ``max_iter`` hung at the
    first epoch one of them skipped; another rate or seed trained each rank its own way, without a word,
    and the model recorded rank 0's settings. Nothing to check when not distributed.

    Every rank's digest goes to every rank; where one differs, the first such rank's parameters go to
    all, so each names the same parameter and both values."""
    if world_size() <= 1 or not dist.is_initialized():
        return
    import hashlib
    import json

    text = json.dumps(params, sort_keys=True)
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    digests = every_rank(torch.tensor([int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "little")]))
    other = next((r for r, digest in enumerate(digests) if not torch.equal(digest, digests[0])), None)
    if other is None:
        return
    first, theirs = json.loads(_broadcast_text(text, 0, device)), json.loads(_broadcast_text(text, other, device))
    name = next(k for k in sorted(first.keys() | theirs.keys()) if first.get(k) != theirs.get(k))
    raise ValueError(
        f"under torchrun every rank must be given the same options: rank {other} has {name}={theirs.get(name)!r}, "
        f"rank 0 {name}={first.get(name)!r}"
    )


def _broadcast_text(text: str, src: int, device: str) -> str:
    """Rank ``src``'s ``text`` on every rank: its length, then its bytes."""
    data = text.encode()
    size = torch.tensor([len(data)], device=device)
    dist.broadcast(size, src=src)
    buffer = torch.zeros(int(size.item()), dtype=torch.uint8, device=device)
    if rank() == src:
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, src=src)
    return bytes(buffer.cpu().numpy()).decode()


class ObjectiveStep(nn.Module):
    """The objective as a module's forward, so that DistributedDataParallel sees the model run and
    averages its gradients over the ranks in the backward pass."""

    def __init__(self, model: nn.Module, objective):
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, x, index):
        return self.objective(self.model, x, index)


def distributed_step(model: nn.Module, objective, device: torch.device):
    """``objective`` wrapped in DistributedDataParallel when training on several ranks, else None."""
    if world_size() <= 1 or not dist.is_initialized():
        return None
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(ObjectiveStep(model, objective), device_ids=ids)
