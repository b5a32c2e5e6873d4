"""How many CPU threads a fit uses when the user does not say: the idle cores, one for small networks.

torch's own default (one thread per core) is right on an idle machine for a network of some
size, and wrong elsewhere: a thread that has to share its core with another process holds up
every other thread at each operation's barrier, and a small network's operations are too short
to split. ``aedr fit`` and ``aedr demo`` call :func:`default_threads` unless ``--threads`` is
given; the measurements behind the rule are in BENCHMARKS.md ("Threads").

Examples
--------
>>> from aedr import Autoencoder
>>> default_threads(Autoencoder(hidden_layer_sizes=(32,)), n_features=64)
1
"""

from __future__ import annotations

import os
import time

# Multiply-adds per row of the forward pass below which a fit uses one thread: the digits
# network (64 -> 256 -> 128 -> 2 and back, about 1e5) ran no faster on two threads than on one.
SMALL_NETWORK_MACS = 2e5


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota where one is set."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def busy_cores(interval: float = 0.1) -> float | None:
    """How many cores other processes keep busy now (this one sleeps while it looks); None where unknown.

    Read from ``/proc/stat`` twice, ``interval`` seconds apart (Linux); elsewhere the
    1-minute load average stands in for it.
    """

    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return sum(values[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
    total = total1 - total0
    if total <= 0:
        return None
    return (os.cpu_count() or 1) * (1.0 - (idle1 - idle0) / total)


def forward_macs(estimator, n_features: int) -> float | None:
    """Multiply-adds per row of the encoder and decoder of a fully connected ``estimator``; None otherwise."""
    if getattr(estimator, "architecture", "mlp") != "mlp" or getattr(estimator, "encoder", None) is not None:
        return None
    sizes = [n_features, *estimator.hidden_layer_sizes, estimator.n_components]
    encoder = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2.0 * encoder


def default_threads(estimator, n_features: int, busy: float | None = None) -> int:
    """The torch thread count for fitting ``estimator`` on rows of ``n_features`` values.

    One thread for a small fully connected network (fewer than ``SMALL_NETWORK_MACS``
    multiply-adds per row); otherwise one per core that other processes leave idle (at
    least one). ``busy`` is the number of busy cores, measured with :func:`busy_cores` when
    not given.
    """
    macs = forward_macs(estimator, n_features)
    if macs is not None and macs < SMALL_NETWORK_MACS:
        return 1
    cores = available_cores()
    if busy is None:
        busy = busy_cores()
    if busy is None:
        return cores
    return int(max(1, min(cores, cores - round(busy))))
