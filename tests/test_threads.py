"""The default thread count: one for small networks, otherwise the cores other processes leave idle; n_jobs."""

import os

import numpy as np
import pytest
import torch

from aedr import Autoencoder
from aedr.training import threads
from aedr.training.threads import available_cores, busy_cores, default_threads, estimator_threads, forward_macs


def test_forward_macs_of_a_fully_connected_network():
    # 64 -> 256 -> 128 -> 2, and the decoder back: twice the encoder's multiply-adds
    assert forward_macs(Autoencoder(hidden_layer_sizes=(256, 128)), 64) == 2 * (64 * 256 + 256 * 128 + 128 * 2)
    assert forward_macs(Autoencoder(architecture="conv"), 784) is None


def test_a_small_network_gets_one_thread_whatever_the_cores():
    assert default_threads(Autoencoder(hidden_layer_sizes=(256, 128)), 64, busy=0.0) == 1


@pytest.mark.parametrize("neighbor_loss, n_rows, busy, expected", [
    (None, 50_000, 0.0, 1),  # no graph, no map: the small network's work alone
    ("tsne", 1_797, 0.0, 1),  # digits: graph and maps small too
    ("tsne", 20_000, 0.0, 8),  # a graph and maps of many rows: the idle cores
    ("umap", 20_000, 5.0, 3),
])  # fmt: skip
def test_a_small_network_on_many_rows_of_a_neighbour_fit_gets_the_idle_cores(
    monkeypatch, neighbor_loss, n_rows, busy, expected
):
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    ae = Autoencoder(hidden_layer_sizes=(256, 128), neighbor_loss=neighbor_loss)
    assert default_threads(ae, 50, busy=busy, n_rows=n_rows) == expected


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
    monkeypatch.setattr(threads, "_own_ticks", lambda: 7)  # this process used no CPU meanwhile
    assert busy_cores(interval=0) == pytest.approx(0.5)


def test_busy_cores_leaves_out_this_process_own_spinning_threads(monkeypatch):
    # both CPUs fully busy over 100 jiffies each, 150 of them this process's own threads (BLAS still spinning)
    samples = iter([{0: (0, 0), 1: (0, 0)}, {0: (100, 0), 1: (100, 0)}])
    own = iter([1000, 1150])
    monkeypatch.setattr(threads, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(threads, "_own_ticks", lambda: next(own))
    monkeypatch.setattr(threads, "_allowed_cpus", lambda: {0, 1})
    assert busy_cores(interval=0) == pytest.approx(0.5)


def test_a_process_that_just_ran_blas_does_not_count_itself_busy():
    import time

    from threadpoolctl import threadpool_limits

    if available_cores() < 2:
        pytest.skip("needs two cores")
    a = np.random.default_rng(0).normal(size=(1500, 1500))
    with threadpool_limits(limits=2, user_api="blas"):  # the suite runs with OMP_NUM_THREADS=1
        start = time.perf_counter()
        while time.perf_counter() - start < 0.3:
            a @ a  # BLAS's threads spin for a while after each product
        measured = busy_cores(interval=0.1)
    baseline = os.getloadavg()[0]
    assert measured is not None and measured < max(0.75, baseline), (measured, baseline)


@pytest.mark.parametrize(
    "n_jobs, n_features, expected",
    [(None, 64, 1), (None, 784, None), (None, None, None), (3, 64, 3), (-1, 64, 8), (-2, 784, 7), (-20, 64, 1)],
)
def test_n_jobs_resolves_to_a_thread_count(monkeypatch, n_jobs, n_features, expected):
    """None: one thread for a small network (digits' 64 features), torch's setting (None) for a larger one
    or for work that is not the network's; negative counts back from the cores, as in scikit-learn."""
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    assert estimator_threads(Autoencoder(n_jobs=n_jobs), n_features) == expected


@pytest.fixture
def three_threads():
    """torch set to 3 threads for the test (a count no rule picks), and given back after it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(previous)


def _record_threads(ae, seen):
    """Hooks on the fitted network's encoder and decoder that note torch's thread count at each call."""
    for part in (ae.model_.encoder, ae.model_.decoder):
        part.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))


@pytest.mark.parametrize("n_jobs, expected", [(None, 1), (2, 2)])
def test_the_fit_and_the_network_run_on_n_jobs_threads_and_torch_setting_returns(n_jobs, expected, three_threads):
    X = np.random.default_rng(0).normal(size=(120, 64))  # 64 -> (256, 128) -> 2: a small network
    during_fit = []
    ae = Autoencoder(max_iter=2, random_state=0, n_jobs=n_jobs)
    ae.set_params(callbacks=[lambda state: during_fit.append(torch.get_num_threads())]).fit(X)
    assert during_fit == [expected, expected] and torch.get_num_threads() == 3
    during_use = []
    _record_threads(ae, during_use)
    ae.inverse_transform(ae.transform(X))
    ae.score(X)
    assert set(during_use) == {expected} and len(during_use) == 4
    assert torch.get_num_threads() == 3
    during_use.clear()
    ae.set_params(hidden_layer_sizes=(4096, 4096)).transform(X)  # the next fit's network, not this one's
    assert during_use == [expected]
    during_use.clear()
    ae.transform(X, reference=X)  # a nearest-neighbour search: n_jobs=None leaves torch's count
    assert set(during_use) == {3 if n_jobs is None else expected}


def test_a_larger_network_keeps_torchs_setting_and_a_failed_fit_restores_it(three_threads):
    X = np.random.default_rng(0).normal(size=(60, 784))
    seen = []
    Autoencoder(max_iter=1, callbacks=[lambda state: seen.append(torch.get_num_threads())]).fit(X)
    assert seen == [3]

    def fail(state):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        Autoencoder(max_iter=2, n_jobs=1, callbacks=[fail]).fit(X)
    assert torch.get_num_threads() == 3


def test_one_and_two_threads_give_the_same_small_fit():
    """The reason n_jobs=None may choose for the user: a small network's fit does not depend on it."""
    X = np.random.default_rng(1).normal(size=(300, 64))
    fits = [Autoencoder(max_iter=3, random_state=2, n_jobs=n).fit(X) for n in (1, 2)]
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    np.testing.assert_array_equal(fits[0].transform(X), fits[1].transform(X))


def test_n_jobs_zero_is_refused():
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        Autoencoder(n_jobs=0).fit(np.zeros((10, 3)))


def test_the_thread_count_is_not_part_of_a_checkpoints_identity():
    from aedr.training.checkpoint import run_identity

    X = np.random.default_rng(0).normal(size=(20, 4))
    assert run_identity(Autoencoder(n_jobs=2), X) == run_identity(Autoencoder(), X)


def test_torch_threads_blocks_nest(three_threads):
    from aedr.training.threads import torch_threads

    with torch_threads(2):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2  # the enclosing block's count is back
        with torch_threads(None):
            assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 3


def test_n_jobs_is_checked_when_set_after_fit_and_is_not_saved(tmp_path):
    import json

    from aedr import load

    X = np.random.default_rng(0).normal(size=(60, 5))
    ae = Autoencoder(hidden_layer_sizes=(8,), max_iter=1, n_jobs=2).fit(X)
    from sklearn.utils._param_validation import InvalidParameterError

    for bad in (0, "2", True):  # scikit-learn's error, as the fit gives for every other bad value
        with pytest.raises(InvalidParameterError, match="'n_jobs' parameter of Autoencoder must be a whole number"):
            ae.set_params(n_jobs=bad).transform(X)
    with pytest.raises(InvalidParameterError, match=r"must be a whole number other than 0, or None. Got True"):
        Autoencoder(n_jobs=True).fit(X)
    ae.set_params(n_jobs=1).save(tmp_path / "m")
    assert "n_jobs" not in json.loads((tmp_path / "m" / "config.json").read_text())["params"]
    loaded = load(tmp_path / "m")
    assert loaded.n_jobs is None
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
