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
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        import atexit

        atexit.register(_leave)  # a script's ranks leave the group they were put in before Python unwinds
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


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is True on any (itself when not distributed): one decision
    that every rank takes alike, such as streaming rows that one rank's memory cannot hold."""
    if world_size() > 1 and dist.is_initialized():
        value = torch.tensor([int(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())
    return flag


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
