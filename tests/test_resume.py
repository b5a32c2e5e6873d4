"""Checkpoints and resuming: an interrupted fit goes on from its checkpoint and ends bit-identical."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import aedr
from aedr import AedrWarning, Autoencoder, Checkpoint, CheckpointError, VariationalAutoencoder
from aedr.training.checkpoint import header_metadata, read_checkpoint, tensors_digest

X = load_digits().data[:500]


class StopAfter:
    """A callback that stops training after ``n`` epochs (counted over a neighbour fit's phases)."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self, state):
        self.seen += 1
        return self.seen == self.n


def same_weights(a, b) -> bool:
    sa, sb = a.model_.state_dict(), b.model_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "cls, params, stop_at",
    [
        (Autoencoder, {"max_iter": 25}, 9),
        (Autoencoder, {"max_iter": 40, "n_iter_no_change": 2, "tol": 0.05, "early_stopping": True}, 5),  # plateaus
        (Autoencoder, {"max_iter": 25, "noise": "gaussian", "noise_level": 0.3}, 12),  # the noise generator
        (VariationalAutoencoder, {"max_iter": 20}, 7),
        (Autoencoder, {"max_iter": 20, "neighbor_loss": "tsne"}, 2),  # in the shaping phase
        (Autoencoder, {"max_iter": 20, "neighbor_loss": "tsne"}, 4),  # at its last epoch, before the map is refined
        (Autoencoder, {"max_iter": 20, "neighbor_loss": "umap"}, 6),  # in the fitting phase
    ],
)
def test_a_resumed_fit_ends_bit_identical_to_an_uninterrupted_one(tmp_path, cls, params, stop_at):
    torch.set_num_threads(1)
    params = {"random_state": 0, **params}
    full = cls(**params).fit(X)
    checkpoint = Checkpoint(tmp_path / "fit.ckpt", every_epochs=3)
    stopped = cls(**params, callbacks=[checkpoint, StopAfter(stop_at)]).fit(X)
    assert stopped.stop_reason_ == "callback" and stopped.n_iter_ == stop_at
    resumed = cls(**params).fit(X, resume_from=tmp_path / "fit.ckpt")
    assert same_weights(resumed, full)
    assert resumed.loss_curve_ == full.loss_curve_ and resumed.n_iter_ == full.n_iter_
    assert resumed.stop_reason_ == full.stop_reason_ and resumed.best_loss_ == full.best_loss_
    assert [p.name for p in tmp_path.iterdir()] == ["fit.ckpt"]  # no staging file left


class CtrlC:
    """A callback that sends this process Ctrl-C (SIGINT) at the end of epoch ``n``, ``times`` times."""

    def __init__(self, n, times=1):
        self.n, self.times, self.seen = n, times, 0

    def __call__(self, state):
        import signal

        self.seen += 1
        if self.seen == self.n:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)


@pytest.mark.parametrize("params", [{"max_iter": 25}, {"max_iter": 20, "neighbor_loss": "tsne"}])
def test_ctrl_c_in_python_stops_after_the_epoch_with_a_checkpoint_to_resume_from(tmp_path, params):
    """As the CLI does: Ctrl-C during a Python fit with a Checkpoint writes it after the epoch (not only
    on its schedule) and raises KeyboardInterrupt; the resumed fit ends as an uninterrupted one, and
    Ctrl-C is Python's own again afterwards."""
    import signal

    torch.set_num_threads(1)
    params = {"random_state": 0, **params}
    full = Autoencoder(**params).fit(X)
    path = tmp_path / "fit.ckpt"
    stopped = Autoencoder(**params, callbacks=[CtrlC(5), Checkpoint(path, every_seconds=1e9)])
    with pytest.raises(KeyboardInterrupt, match=r"stopped after epoch \d+; .*fit.ckpt holds it: fit\(X, resume_from="):
        stopped.fit(X)
    assert not hasattr(stopped, "model_")  # an interrupted fit leaves the estimator as it was
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert path.exists()  # written at the stop: its schedule (every 1e9 s) never came
    resumed = Autoencoder(**params).fit(X, resume_from=path)
    assert same_weights(resumed, full) and resumed.loss_curve_ == full.loss_curve_


def test_ctrl_c_while_python_refines_the_neighbour_map_stops_after_the_next_epoch(tmp_path, monkeypatch):
    """Between a neighbour fit's two training phases (the refined map) Python's handler was back: a Ctrl-C
    there raised at once and lost the shaping phase, with no checkpoint (s56 QA). The checkpoint's handler is
    kept between the phases: the fit stops after the fitting phase's first epoch, writes it, and resumes as
    an uninterrupted fit; the handler is Python's again after a fit that fails between the phases too."""
    import signal

    from aedr.neighbors.tsne import TSNE

    torch.set_num_threads(1)
    params = {"random_state": 0, "max_iter": 20, "neighbor_loss": "tsne"}
    full = Autoencoder(**params).fit(X)
    refine, path = TSNE.refine, tmp_path / "fit.ckpt"

    def interrupted(self, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return refine(self, *args, **kwargs)

    monkeypatch.setattr(TSNE, "refine", interrupted)
    with pytest.raises(KeyboardInterrupt, match=r"stopped after epoch \d+; .*fit.ckpt holds it"):
        Autoencoder(**params, callbacks=[Checkpoint(path, every_seconds=1e9)]).fit(X)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler and path.exists()
    monkeypatch.undo()
    resumed = Autoencoder(**params).fit(X, resume_from=path)
    assert same_weights(resumed, full) and resumed.loss_curve_ == full.loss_curve_

    def fails(self, *args, **kwargs):
        raise RuntimeError("the map failed")

    monkeypatch.setattr(TSNE, "refine", fails)
    with pytest.raises(RuntimeError, match="the map failed"):
        Autoencoder(**params, callbacks=[Checkpoint(tmp_path / "other.ckpt")]).fit(X)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_stops_at_once_and_a_programs_own_handler_is_kept(tmp_path):
    import signal

    path = tmp_path / "fit.ckpt"
    with pytest.raises(KeyboardInterrupt) as stopped:
        Autoencoder(max_iter=10, random_state=0, callbacks=[CtrlC(3, times=2), Checkpoint(path)]).fit(X)
    assert not str(stopped.value) and not path.exists()  # at once: nothing written
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    asked = []
    previous = signal.signal(signal.SIGINT, lambda *_: asked.append(True))
    try:
        ae = Autoencoder(max_iter=6, random_state=0, callbacks=[CtrlC(3), Checkpoint(path, every_epochs=4)]).fit(X)
        assert asked == [True] and ae.n_iter_ == 6  # the program's handler ran; the fit went on
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_in_the_epoch_that_ends_training_lets_the_fit_complete(tmp_path):
    """Ctrl-C in the epoch where the fit converges comes too late to stop it: the finished fit is kept,
    not thrown away for a KeyboardInterrupt."""
    params = {"max_iter": 50, "tol": 0.9, "n_iter_no_change": 1, "random_state": 0}
    converges_at = Autoencoder(**params).fit(X).n_iter_
    ae = Autoencoder(**params, callbacks=[CtrlC(converges_at), Checkpoint(tmp_path / "c", every_seconds=1e9)]).fit(X)
    assert ae.stop_reason_ == "converged" and ae.n_iter_ == converges_at


def test_an_error_while_ctrl_c_is_pending_is_reported_and_ctrl_c_is_pythons_again(tmp_path):
    import signal

    def fails(state):
        signal.raise_signal(signal.SIGINT)
        raise RuntimeError("the epoch failed")

    with pytest.raises(RuntimeError, match="the epoch failed"):  # not replaced by the pending KeyboardInterrupt
        Autoencoder(max_iter=5, callbacks=[Checkpoint(tmp_path / "c"), fails]).fit(X)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    class FailsToBegin(aedr.Callback):
        def on_train_begin(self, state):
            raise RuntimeError("cannot begin")

    with pytest.raises(RuntimeError, match="cannot begin"):  # the checkpoint's handler, installed first, is removed
        Autoencoder(max_iter=5, callbacks=[Checkpoint(tmp_path / "c"), FailsToBegin()]).fit(X)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_checkpoints_are_written_on_schedule_and_stay_readable(tmp_path):
    checkpoint = Checkpoint(tmp_path / "c", every_epochs=4)
    Autoencoder(max_iter=10, random_state=0, callbacks=[checkpoint]).fit(X)
    assert checkpoint.written_epoch == 8
    snapshot = read_checkpoint(tmp_path / "c")
    assert snapshot.state["epoch"] == 8 and snapshot.state["history"]["n_iter"] == 8
    assert {name.split("/")[0] for name in snapshot.tensors} == {"model", "best", "optimizer", "generator", "scaler"}


def test_a_checkpoint_whose_values_were_damaged_is_refused(tmp_path):
    """Model folders carry a checksum; so does a checkpoint's header, over its tensors: a flipped
    byte is refused instead of resumed into another model."""
    import json
    import struct

    checkpoint = Checkpoint(tmp_path / "c", every_epochs=2)
    ae = Autoencoder(max_iter=4, random_state=0, callbacks=[checkpoint])
    ae.fit(X)
    raw = bytearray((tmp_path / "c").read_bytes())
    size = struct.unpack("<Q", raw[:8])[0]
    start = json.loads(raw[8 : 8 + size])["model/encoder.0.weight"]["data_offsets"][0] + 8 + size
    raw[start : start + 4] = b"\x41\x41\x41\x41"
    (tmp_path / "c").write_bytes(bytes(raw))
    with pytest.raises(
        CheckpointError, match="c: is damaged or was edited: its values differ from what it was written with"
    ):
        ae.set_params(max_iter=6).fit(X, resume_from=tmp_path / "c")


def test_a_checkpoint_is_written_through_aedr_staging_alone(tmp_path):
    """Nothing but aedr's own lock and ``.PID-XXXXXXXX.tmp-NAME`` staging entry (which the next run
    removes once its process is gone) appears beside the checkpoint while it is written: a process killed mid-write
    leaves nothing else in the user's folder (safetensors' save_file stages through ``.tmpXXXXXX``)."""
    import os
    import threading

    from aedr.training.checkpoint import Snapshot

    checkpoint = Checkpoint(tmp_path / "run.checkpoint", every_epochs=1)
    checkpoint.identity, checkpoint.seed = {}, 0
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.update(os.listdir(tmp_path))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for epoch in range(3):  # 64 MB each: long enough to be seen while written
            checkpoint.write(Snapshot({"weights": torch.zeros(4000, 4000)}, {"epoch": epoch}), epoch)
    finally:
        done.set()
        watcher.join()
    aedr_own = {"run.checkpoint", ".run.checkpoint.lock"}  # and the staging entries, by their pattern
    assert {name for name in seen if name not in aedr_own and ".tmp-run.checkpoint" not in name} == set()
    assert sorted(os.listdir(tmp_path)) == ["run.checkpoint"]
    assert read_checkpoint(tmp_path / "run.checkpoint").state["epoch"] == 2


def test_a_checkpoint_of_another_fit_is_refused_naming_what_differs(tmp_path):
    file = tmp_path / "fit.ckpt"
    Autoencoder(max_iter=6, random_state=0, callbacks=[Checkpoint(file, every_epochs=2)]).fit(X)
    with pytest.raises(CheckpointError, match=r"other parameters: max_iter=6 \(now 7\)"):
        Autoencoder(max_iter=7, random_state=0).fit(X, resume_from=file)
    with pytest.raises(CheckpointError, match="other data"):
        Autoencoder(max_iter=6, random_state=0).fit(X[:-1], resume_from=file)
    with pytest.raises(CheckpointError, match="not of VariationalAutoencoder"):
        VariationalAutoencoder(max_iter=6, random_state=0).fit(X, resume_from=file)
    ae = Autoencoder(max_iter=6, random_state=0, warm_start=True).fit(X)
    with pytest.raises(ValueError, match="warm_start"):
        ae.fit(X, resume_from=file)


def test_the_same_values_as_float64_resume_a_float32_checkpoint_but_not_a_neighbour_fits(tmp_path):
    """The digits as float64 were refused for a checkpoint of them as float32, "the rows differ" (QA F8).
    Training reads every row as float64 before scaling it, so the plain fit ends bit for bit as the
    uninterrupted one; a neighbour fit builds its graph on the rows in their own type: refused, in words."""
    torch.set_num_threads(1)
    single, file = X.astype(np.float32), tmp_path / "fit.ckpt"
    params = {"max_iter": 12, "random_state": 0}
    full = Autoencoder(**params).fit(single)
    Autoencoder(**params, callbacks=[Checkpoint(file, every_epochs=2), StopAfter(5)]).fit(single)
    resumed = Autoencoder(**params).fit(X.astype(np.float64), resume_from=file)
    assert same_weights(resumed, full) and resumed.loss_curve_ == full.loss_curve_
    with pytest.raises(CheckpointError, match=r"other data \(the rows differ"):  # values float32 rounds
        Autoencoder(**params).fit(X + 0.1, resume_from=file)

    params = {"max_iter": 8, "neighbor_loss": "tsne", "random_state": 0}
    Autoencoder(**params, callbacks=[Checkpoint(file, every_epochs=1), StopAfter(1)]).fit(single)
    said = "written for these rows as float32 and this fit has them as float64; a neighbour fit builds its graph"
    with pytest.raises(CheckpointError, match=said):
        Autoencoder(**params).fit(X.astype(np.float64), resume_from=file)


def test_a_checkpoint_from_before_a_parameter_existed_resumes_at_its_default(tmp_path):
    """Every parameter added with a default that is not None made earlier checkpoints refuse to resume
    ("other parameters: noise=None (now ...)"), where an older model file loads with the default filled
    in; a checkpoint's record without the parameter now matches the default, and only the default."""
    from aedr.training.checkpoint import _check_identity, run_identity

    ae = Autoencoder(max_iter=6, random_state=0)
    identity = run_identity(ae, X)
    older = {**identity, "params": {k: v for k, v in identity["params"].items() if k != "activation"}}
    _check_identity(tmp_path / "old.ckpt", older, identity)  # activation="relu", the default: resumes
    changed = run_identity(Autoencoder(max_iter=6, random_state=0, activation="tanh"), X)
    with pytest.raises(CheckpointError, match=r"other parameters: activation=None \(now 'tanh'\)"):
        _check_identity(tmp_path / "old.ckpt", older, changed)


@pytest.mark.parametrize(
    "budget, other, message",
    [
        (0, 10**12, r"streamed its rows from disk .* memory_budget=0 to stream them as it did"),
        (10**12, 0, "read its rows into memory"),
    ],
)
def test_a_checkpoint_says_whether_its_rows_were_streamed(tmp_path, budget, other, message):
    """memory_budget="auto" may stream the rows on one run and not on the next, and the two train on
    other batches: the resumed fit is told which budget goes on, and with it ends as the uninterrupted one."""
    torch.set_num_threads(1)
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    rows, file = np.load(tmp_path / "x.npy", mmap_mode="r"), tmp_path / "fit.ckpt"
    params = {"max_iter": 6, "random_state": 0}
    full = Autoencoder(**params, memory_budget=budget).fit(rows)
    Autoencoder(**params, memory_budget=budget, callbacks=[Checkpoint(file, every_epochs=2), StopAfter(3)]).fit(rows)
    with pytest.raises(CheckpointError, match=message):
        Autoencoder(**params, memory_budget=other).fit(rows, resume_from=file)
    resumed = Autoencoder(**params, memory_budget=budget).fit(rows, resume_from=file)
    assert same_weights(resumed, full) and resumed.loss_curve_ == full.loss_curve_


def test_a_checkpoint_of_rows_in_memory_names_the_budget_that_holds_them(tmp_path):
    """Resumed with a budget too small for the rows, the refusal said "a memory_budget that holds them"
    and no value (QA F6); the value it names now reads them into memory again, and the fit ends as the
    uninterrupted one."""
    import re

    from aedr.cli.errors import option_words

    torch.set_num_threads(1)
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    rows, file = np.load(tmp_path / "x.npy", mmap_mode="r"), tmp_path / "fit.ckpt"
    params = {"max_iter": 6, "random_state": 0}
    full = Autoencoder(**params, memory_budget=10**12).fit(rows)
    Autoencoder(**params, memory_budget=10**12, callbacks=[Checkpoint(file, every_epochs=2), StopAfter(3)]).fit(rows)
    with pytest.raises(CheckpointError, match=r"holds them, as it had: memory_budget='(\d+M)' or more$") as info:
        Autoencoder(**params, memory_budget="1M").fit(rows, resume_from=file)
    budget = re.search(r"'(\d+M)'", str(info.value))[1]
    assert budget == "2M"  # 500 rows of 64 values are counted 1,680,000 bytes: in whole MiB, 2
    assert option_words(str(info.value)).endswith(f"as it had: --memory-budget {budget} or more")
    assert "memory_budget" not in option_words(str(info.value))
    resumed = Autoencoder(**params, memory_budget=budget).fit(rows, resume_from=file)
    assert same_weights(resumed, full) and resumed.loss_curve_ == full.loss_curve_


@pytest.mark.parametrize(
    "run, message",
    [
        ([1], "record of the fit is malformed"),
        ({"estimator": "Autoencoder", "params": 3}, "record of the fit is malformed"),
        ({"estimator": "Autoencoder", "rows": ["streamed"]}, "its rows were read otherwise"),
        ({"estimator": "Autoencoder", "rows": "on tape"}, "its rows were read otherwise"),
    ],
)
def test_a_checkpoint_whose_record_of_the_fit_is_tampered_with_is_refused_in_one_line(tmp_path, run, message):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    file = tmp_path / "fit.ckpt"
    Autoencoder(max_iter=2, random_state=0, callbacks=[Checkpoint(file, every_epochs=1)]).fit(X)
    with safe_open(str(file), framework="pt") as f:
        header, tensors = json.loads(f.metadata()["aedr"]), {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    save_file(tensors, str(file), metadata=header_metadata({**header, "run": run}))  # edited, its digest anew
    with pytest.raises(CheckpointError, match=message):
        Autoencoder(max_iter=2, random_state=0).fit(X, resume_from=file)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h["state"].pop("optimizer"), r"its record of the fit \(epoch, seed, state\) differs"),
        (lambda h: h.update(seed="abc"), r"its record of the fit \(epoch, seed, state\) differs"),
        (lambda h: h.pop("tensors_sha256"), r"its record of the fit \(epoch, seed, state\) differs"),
        (lambda h: h.update(version=1), "version 1, this aedr reads 2; written by an earlier aedr: start the fit"),
        (lambda h: h.update(version=9), "version 9, this aedr reads 2; upgrade aedr"),
    ],
    ids=["no optimizer state", "a seed of text", "no digest of the values", "an older version", "a newer version"],
)
def test_an_edited_or_damaged_checkpoint_header_is_refused_in_one_line(tmp_path, edit, message):
    """The header (state, seed, epoch) was used as read: an edit gave KeyError, TypeError or torch's
    RuntimeError, which the command line called a bug in aedr (fault QA 4)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    file = tmp_path / "fit.ckpt"
    Autoencoder(max_iter=2, random_state=0, callbacks=[Checkpoint(file, every_epochs=1)]).fit(X)
    with safe_open(str(file), framework="pt") as f:
        metadata = f.metadata()
    header = json.loads(metadata["aedr"])
    edit(header)
    save_file(load_file(str(file)), str(file), metadata={**metadata, "aedr": json.dumps(header)})  # its digest kept
    with pytest.raises(CheckpointError, match=message):
        Autoencoder(max_iter=2, random_state=0).fit(X, resume_from=file)
    tensors = load_file(str(file))
    tensors["best/decoder.0.bias"] = torch.zeros(1)  # a value changed, the header as written
    save_file(tensors, str(file), metadata=metadata)
    with pytest.raises(CheckpointError, match="is damaged or was edited: its values differ"):
        Autoencoder(max_iter=2, random_state=0).fit(X, resume_from=file)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no checkpoint there"),
        (b"\x00" * 100, "not a readable checkpoint"),
        (b"garbage" * 10, "not a readable checkpoint"),
    ],
)
def test_unreadable_checkpoints_get_one_clear_error(tmp_path, content, message):
    file = tmp_path / "fit.ckpt"
    if content is not None:
        file.write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as info:
        Autoencoder(max_iter=3).fit(X, resume_from=file)
    assert str(file) in str(info.value)


def test_a_safetensors_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match="not an aedr checkpoint"):
        Autoencoder(max_iter=3).fit(X, resume_from=tmp_path / "w.safetensors")


def test_a_resumed_fit_trains_through_the_checkpoints_scaling_and_warm_start_through_its_own(tmp_path, monkeypatch):
    """Neither refits the scaling: the network goes on seeing its inputs as it learnt them."""
    from aedr import _fit_setup

    file = tmp_path / "fit.ckpt"
    stopped = Autoencoder(max_iter=6, random_state=0, callbacks=[Checkpoint(file, every_epochs=2), StopAfter(4)]).fit(X)
    snapshot = read_checkpoint(file)
    assert torch.equal(snapshot.tensors["scaler/offset"], torch.from_numpy(stopped.scaler_.offset))
    assert torch.equal(snapshot.tensors["scaler/scale"], torch.from_numpy(stopped.scaler_.scale))

    def refit(*args):
        raise AssertionError("the scaling was fitted again")

    monkeypatch.setattr(_fit_setup.AffineScaler, "fit", refit)
    resumed = Autoencoder(max_iter=6, random_state=0).fit(X, resume_from=file)
    assert (resumed.scaler_.offset == stopped.scaler_.offset).all()
    assert (resumed.scaler_.scale == stopped.scaler_.scale).all()
    resumed.set_params(warm_start=True).fit(X * 10 + 5)  # new data, in other units: the first scaling stays
    assert (resumed.scaler_.offset == stopped.scaler_.offset).all()


def test_a_checkpoint_of_another_process_count_goes_on_with_a_warning(tmp_path):
    """A checkpoint of a 2-process torchrun fit resumed by one process (or the reverse) went on without a
    word, though the model then equals neither uninterrupted fit (scale QA F5)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = tmp_path / "fit.ckpt"
    params = {"max_iter": 6, "random_state": 0, "hidden_layer_sizes": (8,)}
    Autoencoder(**params, callbacks=[Checkpoint(path, every_epochs=1), StopAfter(3)]).fit(X)
    assert read_checkpoint(path).state["world_size"] == 1
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*process", category=AedrWarning)  # the same count: no word
        Autoencoder(**params).fit(X, resume_from=path)
    with safe_open(str(path), "pt") as f:
        header = json.loads(f.metadata()["aedr"])
    header["world_size"] = 2  # as torchrun's two ranks write it
    save_file(load_file(str(path)), str(path), metadata=header_metadata(header))
    with pytest.warns(AedrWarning, match="written by a fit of 2 processes and this one runs 1.*not equal an uninte"):
        Autoencoder(**params).fit(X, resume_from=path)


def test_a_neighbour_checkpoint_keeps_the_noise_of_its_drawn_rows_and_one_without_it_is_refused(tmp_path, phase_epochs):
    """The fitting phase draws rows near each training row at its own scale, kept in the checkpoint with the
    map; a checkpoint from before the drawn rows, resumed in its fitting phase, is refused in words."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = tmp_path / "fit.ckpt"
    params = {"max_iter": 20, "neighbor_loss": "umap", "random_state": 0}
    shaping = phase_epochs(len(X), max_iter=20)[0]
    Autoencoder(**params, callbacks=[Checkpoint(path, every_epochs=1), StopAfter(shaping + 2)]).fit(X)
    snapshot = read_checkpoint(path)
    assert snapshot.state["phase"] == "fitting" and snapshot.tensors["map/nearby_scale"].shape == (len(X),)
    tensors = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        header = json.loads(f.metadata()["aedr"])
    del tensors["map/nearby_scale"]
    header["tensors_sha256"] = tensors_digest(tensors)
    save_file(tensors, str(path), metadata=header_metadata(header))
    with pytest.raises(CheckpointError, match="written by an earlier aedr, whose neighbour fit drew no rows near"):
        Autoencoder(**params).fit(X, resume_from=path)


def test_the_time_of_a_neighbour_fits_maps_counts_towards_the_next_checkpoint(tmp_path, monkeypatch):
    """A neighbour fit's layout map (minutes on large data) is kept in the checkpoint: the first epoch
    end after a map that took longer than ``every_seconds`` writes one, rather than a full interval
    after training began."""
    from aedr.neighbors.tsne import TSNE
    from aedr.training import checkpoint as checkpoint_module

    clock = [0.0]
    monkeypatch.setattr(checkpoint_module.time, "monotonic", lambda: clock[0])
    embed = TSNE.embed

    def slow_embed(self, *args):  # the map takes 200 "seconds" of the checkpoint's clock
        clock[0] += 200.0
        return embed(self, *args)

    monkeypatch.setattr(TSNE, "embed", slow_embed)
    written = []

    class Recorded(Checkpoint):
        def write(self, snapshot, epoch):
            written.append((snapshot.state.get("phase"), epoch))
            super().write(snapshot, epoch)

    torch.set_num_threads(1)
    Autoencoder(max_iter=20, neighbor_loss="tsne", random_state=0, callbacks=[Recorded(tmp_path / "c")]).fit(X)
    assert written == [("shaping", 1)]  # the clock moved only in the map


@pytest.mark.parametrize("step", ["embed", "refine"])
def test_a_ctrl_c_during_the_neighbour_map_keeps_the_map_in_a_checkpoint(tmp_path, monkeypatch, step):
    """aedr fit took Ctrl-C only once training had begun: one during a neighbour fit's graph and map (42 s
    of full MNIST) lost them, 'nothing was written' and no checkpoint (fault QA 7). Now the fit stops after
    its first epoch, and --resume ends as an uninterrupted fit. So does one while the map is refined
    between the two training phases, where the handler was Python's again and the shaping phase was lost
    (s56 QA)."""
    import signal

    from typer.testing import CliRunner

    from aedr.cli import app
    from aedr.neighbors.tsne import TSNE

    np.save(tmp_path / "x.npy", X[:300].astype(np.float32))
    fit = ["fit", str(tmp_path / "x.npy"), "--neighbor-loss", "tsne", "--max-iter", "8", "--random-state", "0"]
    fit += ["--hidden-layer-sizes", "16", "--threads", "1", "-q"]
    runner = CliRunner()
    assert runner.invoke(app, [*fit, "-o", str(tmp_path / "whole")]).exit_code == 0
    made = getattr(TSNE, step)

    def interrupted(self, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # as the map is made, or refined
        return made(self, *args, **kwargs)

    monkeypatch.setattr(TSNE, step, interrupted)
    stopped = runner.invoke(app, [*fit, "-o", str(tmp_path / "run")])
    assert stopped.exit_code == 130, stopped.output
    assert "SIGINT: stopping after the first epoch to write a checkpoint" in stopped.output
    assert f"at epoch 1{' of the fitting phase' * (step == 'refine')}" in stopped.output, stopped.output
    assert (tmp_path / "run.checkpoint").is_file()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.undo()
    resumed = runner.invoke(app, [*fit, "-o", str(tmp_path / "run"), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    np.testing.assert_array_equal(
        np.load(tmp_path / "run" / "embedding.npy"), np.load(tmp_path / "whole" / "embedding.npy")
    )


@pytest.mark.parametrize(
    "kwargs, words",
    [({"every_epochs": 0}, "every_epochs must be a whole number of at least 1"), ({"every_epochs": 2.5}, "every_epochs"),
     ({"every_epochs": -2}, "every_epochs"), ({"every_epochs": True}, "every_epochs"),
     ({"every_seconds": -1}, "every_seconds must be a number of at least 0"),
     ({"every_seconds": float("nan")}, "every_seconds"), ({"every_seconds": "60"}, "every_seconds")],
)  # fmt: skip
def test_a_checkpoint_schedule_that_cannot_be_kept_is_refused(tmp_path, kwargs, words):
    """every_epochs=0 meant every 120 s (0 read as not given), and a short fit wrote no checkpoint; a
    negative, fractional or NaN schedule was taken without a word, and NaN never wrote (s56 QA)."""
    with pytest.raises(ValueError, match=words):
        Checkpoint(tmp_path / "c", **kwargs)
    assert Checkpoint(tmp_path / "c", every_epochs=1).every_epochs == 1
    assert Checkpoint(tmp_path / "c", every_seconds=0).every_seconds == 0
    assert Checkpoint(tmp_path / "c", every_seconds=float("inf")).every_seconds == float("inf")  # only when stopped
