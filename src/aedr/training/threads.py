"""How many CPU threads a fit uses when the user does not say: the idle cores, one for small networks.

torch's own default (one thread per core) is right on an idle machine for a network of some
size, and wrong elsewhere: a thread that has to share its core with another process holds up
every other thread at each operation's barrier, and a small network's operations are too short
to split. The estimators' ``n_jobs`` (:func:`estimator_threads`) therefore runs a small network on
one thread; ``aedr fit`` also looks at the load (:func:`default_threads`) unless ``--threads`` is
given. The measurements behind the rule are in BENCHMARKS.md ("Threads").

Examples
--------
>>> from aedr import Autoencoder
>>> default_threads(Autoencoder(hidden_layer_sizes=(32,)), n_features=64)
1
>>> estimator_threads(Autoencoder(n_jobs=3), n_features=64)
3
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from numbers import Integral

# Multiply-adds per row of the forward pass below which a fit uses one thread: the digits
# network (64 -> 256 -> 128 -> 2 and back, about 1e5) ran no faster on two threads than on one.
SMALL_NETWORK_MACS = 2e5
# A neighbour fit also builds a graph and maps, whose work grows with the rows: from this many rows two
# idle threads fitted even a small network faster (MNIST's first 50 principal components, t-SNE: 1.2
# times at 4,000 rows, 1.45 times at 20,000; BENCHMARKS.md, "Threads").
NEIGHBOR_ROWS = 4000


def _allowed_cpus() -> set[int] | None:
    """The CPU numbers this process may run on; None where the platform cannot say (macOS, Windows)."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:
        return None


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota where one is set."""
    allowed = _allowed_cpus()
    cores = len(allowed) if allowed is not None else os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _cpu_times() -> dict[int, tuple[int, int]]:
    """``/proc/stat``'s per-CPU lines: CPU number -> (total, idle + iowait) jiffies."""
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *values = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                ticks = [int(v) for v in values[:8]]
                times[int(name[3:])] = (sum(ticks), ticks[3] + ticks[4])
    return times


def _own_ticks() -> int:
    """CPU time of every thread of this process so far (user + system), in ``/proc/stat``'s jiffies."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return int(fields[11]) + int(fields[12])  # utime, stime


def busy_cores(interval: float = 0.1) -> float | None:
    """How many of this process's cores others keep busy now.

    Read from ``/proc/stat`` twice, ``interval`` seconds apart, over the CPUs of this
    process's affinity only (Linux: a container's two cores, not the host's sixty-four), less
    this process's own CPU time meanwhile (BLAS and OpenMP threads that still spin after the
    work before, e.g. a PCA); elsewhere the 1-minute load average stands in for it; None where
    neither is known.
    """
    try:
        before, own_before = _cpu_times(), _own_ticks()
        time.sleep(interval)
        after, own_after = _cpu_times(), _own_ticks()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
    allowed = _allowed_cpus() or set(after)
    busy, spans = 0.0, []
    for cpu in allowed & set(before) & set(after):
        total, idle = after[cpu][0] - before[cpu][0], after[cpu][1] - before[cpu][1]
        if total > 0:
            busy += 1.0 - idle / total
            spans.append(total)
    own = (own_after - own_before) / (sum(spans) / len(spans)) if spans else 0.0  # in cores
    return max(0.0, busy - own)


def forward_macs(estimator, n_features: int) -> float | None:
    """Multiply-adds per row of the encoder and decoder of a fully connected ``estimator``; None otherwise."""
    from aedr.models import architecture_entry

    arch = architecture_entry(estimator)  # None for custom modules
    if arch is None or not arch.dense:
        return None
    sizes = [n_features, *estimator.hidden_layer_sizes, estimator.n_components]
    encoder = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2.0 * encoder


def is_small_network(estimator, n_features: int) -> bool:
    """Whether ``estimator`` is a fully connected network of fewer than ``SMALL_NETWORK_MACS`` multiply-adds per row."""
    macs = forward_macs(estimator, n_features)
    return macs is not None and macs < SMALL_NETWORK_MACS


def default_threads(estimator, n_features: int, busy: float | None = None, n_rows: int | None = None) -> int:
    """The torch thread count for fitting ``estimator`` on ``n_rows`` rows of ``n_features`` values.

    One thread for a small fully connected network (fewer than ``SMALL_NETWORK_MACS``
    multiply-adds per row), unless it is a neighbour fit of at least ``NEIGHBOR_ROWS`` rows;
    otherwise one per core that other processes leave idle (at least one). ``busy`` is the
    number of busy cores, measured with :func:`busy_cores` when not given.
    """
    many_rows = n_rows is not None and n_rows >= NEIGHBOR_ROWS
    if is_small_network(estimator, n_features) and not (getattr(estimator, "neighbor_loss", None) and many_rows):
        return 1
    cores = available_cores()
    if busy is None:
        busy = busy_cores()
    if busy is None:
        return cores
    return max(1, cores - round(busy))


def fit_threads(
    estimator, n_features: int, n_rows: int, *, given: int | None = None, resumed: int | None = None
) -> int:
    """The torch threads of a fit as ``aedr fit`` chooses them: ``given`` (``--threads``); else
    ``resumed``, those of the interrupted fit it goes on from (the same threads give the same model);
    under torchrun one per process, as the processes share the machine's cores; else
    :func:`default_threads` for ``n_rows`` rows of ``n_features`` values."""
    from aedr.training.distributed import world_size

    if given is not None:
        return given
    if resumed is not None:
        return resumed
    if world_size() > 1:
        return 1
    return default_threads(estimator, n_features, n_rows=n_rows)


def estimator_threads(estimator, n_features: int | None) -> int | None:
    """The torch thread count ``estimator.n_jobs`` asks for; None: leave torch's setting.

    ``n_jobs=None`` gives one thread for a small fully connected network (fewer than
    ``SMALL_NETWORK_MACS`` multiply-adds per row of ``n_features`` values) and torch's setting
    otherwise, whatever the load, so that a fit repeats on the same machine; ``n_features=None``
    (work that is not the network's, such as a nearest-neighbour search) keeps torch's setting.
    A positive ``n_jobs`` is that many threads; a negative one counts back from the available
    cores as in scikit-learn (-1: all of them, -2: all but one), at least one.
    """
    n_jobs = getattr(estimator, "n_jobs", None)  # an estimator pickled before n_jobs existed has none
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral) or n_jobs == 0):
        from sklearn.utils._param_validation import InvalidParameterError  # as every other bad value gets

        raise InvalidParameterError(
            f"The 'n_jobs' parameter of {type(estimator).__name__} must be a whole number other than 0, or None. "
            f"Got {n_jobs!r} instead."
        )
    if n_jobs is None:
        return 1 if n_features is not None and is_small_network(estimator, n_features) else None
    return job_count(n_jobs)


def job_count(n_jobs: int) -> int:
    """A positive ``n_jobs`` as given; a negative one counted back from the available cores, as in
    scikit-learn (-1: all of them, -2: all but one), at least one."""
    return int(n_jobs) if n_jobs > 0 else max(1, available_cores() + 1 + int(n_jobs))


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch CPU threads (None: leave torch's setting), then restore it.

    Blocks nest: an inner one gives the outer its count back. (With torch's OpenMP backend, the
    usual one, the count belongs to the calling Python thread.)
    """
    import torch

    previous = torch.get_num_threads()
    if n is not None and n != previous:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
