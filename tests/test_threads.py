"""The default thread count: one for small networks, otherwise the cores other processes leave idle."""

import os

import pytest

from aedr import Autoencoder
from aedr.training import threads
from aedr.training.threads import available_cores, busy_cores, default_threads, forward_macs


def test_forward_macs_of_a_fully_connected_network():
    # 64 -> 256 -> 128 -> 2, and the decoder back: twice the encoder's multiply-adds
    assert forward_macs(Autoencoder(hidden_layer_sizes=(256, 128)), 64) == 2 * (64 * 256 + 256 * 128 + 128 * 2)
    assert forward_macs(Autoencoder(architecture="conv"), 784) is None


def test_a_small_network_gets_one_thread_whatever_the_cores():
    assert default_threads(Autoencoder(hidden_layer_sizes=(256, 128)), 64, busy=0.0) == 1


@pytest.mark.parametrize("busy, expected", [(0.0, 8), (0.4, 8), (1.0, 7), (5.6, 2), (8.0, 1), (30.0, 1)])
def test_a_larger_network_gets_the_idle_cores(monkeypatch, busy, expected):
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    assert default_threads(Autoencoder(hidden_layer_sizes=(256, 128)), 784, busy=busy) == expected
    assert default_threads(Autoencoder(architecture="conv"), 784, busy=busy) == expected


def test_unknown_load_leaves_every_core(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "busy_cores", lambda: None)
    assert default_threads(Autoencoder(), 784) == 4


def test_the_machine_is_measured():
    cores = available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    busy = busy_cores(interval=0.05)
    assert busy is None or 0.0 <= busy <= (os.cpu_count() or 1)
    assert 1 <= default_threads(Autoencoder(), 784) <= cores


def test_busy_cores_counts_only_the_cpus_this_process_may_use(monkeypatch):
    # a 4-CPU host: CPUs 2 and 3 (not ours) fully busy, CPU 1 half busy, CPU 0 idle
    samples = iter(
        [{0: (0, 0), 1: (0, 0), 2: (0, 0), 3: (0, 0)}, {0: (100, 100), 1: (100, 50), 2: (100, 0), 3: (100, 0)}]
    )
    monkeypatch.setattr(threads, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(threads, "_allowed_cpus", lambda: {0, 1})
    assert busy_cores(interval=0) == pytest.approx(0.5)
