"""Training precision: bf16 and 16-mixed under torch.autocast, "32" exactly as before; scripts/gpu_check.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from typer.testing import CliRunner

from aedr import Autoencoder, Checkpoint, VariationalAutoencoder, load
from aedr.cli import app
from aedr.models import build_model
from aedr.training.callbacks import as_callback
from aedr.training.checkpoint import read_checkpoint
from aedr.training.losses import AutoencoderObjective
from aedr.training.trainer import Trainer, TrainerConfig

X = load_digits().data
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.py"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (scripts/gpu_check.py checks it)")


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("seed", [0, 1])
def test_bf16_on_the_cpu_reconstructs_as_well_as_float32(seed):
    """Digits: bf16 ended within 0.8% of float32's error, either side, over four seeds at 10, 20 and 80 epochs."""
    fp32 = Autoencoder(max_iter=20, random_state=seed).fit(X)
    bf16 = Autoencoder(max_iter=20, random_state=seed, precision="bf16").fit(X)
    assert bf16.loss_curve_ != fp32.loss_curve_  # it did train in bfloat16
    assert abs(bf16.score(X) / fp32.score(X) - 1) < 0.03
    assert bf16.transform(X).dtype == np.float64


def test_float32_is_the_default_and_deterministic():
    assert Autoencoder().precision == "32"
    a = Autoencoder(max_iter=3, random_state=0).fit(X[:300])
    b = Autoencoder(max_iter=3, random_state=0, precision="32").fit(X[:300])
    assert a.loss_curve_ == b.loss_curve_
    assert np.array_equal(a.transform(X[:300]), b.transform(X[:300]))


class Recording:
    """An objective that notes whether autocast was on and the dtype of the reconstruction."""

    def __init__(self):
        self.inner, self.seen = AutoencoderObjective("mse"), set()

    def __call__(self, model, x, index=None):
        self.seen.add((torch.is_autocast_enabled("cpu"), model.decode(model.encode(x)).dtype))
        return self.inner(model, x, index)


def tiny_trainer(precision, objective=None, callbacks=(), max_iter=4):
    model = build_model(
        "mlp",
        torch.Generator().manual_seed(0),
        n_features=8,
        n_components=2,
        hidden_layer_sizes=(16,),
        activation="relu",
        output_activation="identity",
    )
    config = TrainerConfig(precision=precision, max_iter=max_iter, batch_size=32)
    objective = objective or AutoencoderObjective("mse")
    callbacks = [as_callback(cb) for cb in callbacks]
    return Trainer(model, objective, config, "cpu", torch.Generator().manual_seed(1), callbacks)


@pytest.mark.parametrize("precision, expected", [("32", {(False, torch.float32)}), ("bf16", {(True, torch.bfloat16)})])
def test_training_and_validation_run_under_autocast_only_below_32_bits(precision, expected):
    data = torch.randn(256, 8, generator=torch.Generator().manual_seed(2))
    objective = Recording()
    trainer = tiny_trainer(precision, objective, max_iter=2)
    history = trainer.fit(data[:200], data[200:])
    assert objective.seen == expected
    assert all(isinstance(v, float) and np.isfinite(v) for v in history.loss_curve + history.validation_scores)


class StopAfter:
    def __init__(self, n):
        self.n, self.seen = n, 0

    def __call__(self, state):
        self.seen += 1
        return self.seen == self.n


def test_16_mixed_scales_the_loss_and_a_checkpoint_keeps_the_scaler(tmp_path):
    """The trainer runs 16-mixed on any device (the estimator refuses it on the CPU, where it is slow):
    a resumed fit continues the gradient scaler's state and ends bit-identical."""
    data = torch.randn(256, 8, generator=torch.Generator().manual_seed(2))
    full = tiny_trainer("16-mixed", max_iter=5)
    history = full.fit(data)
    assert history.loss_curve[-1] < history.loss_curve[0] and full.scaler is not None
    checkpoint = Checkpoint(tmp_path / "c", every_epochs=1)
    tiny_trainer("16-mixed", callbacks=[checkpoint, StopAfter(2)], max_iter=5).fit(data)
    snapshot = read_checkpoint(tmp_path / "c")
    assert snapshot.state["grad_scaler"]["_growth_tracker"] == 2 * 256 // 32  # steps since the scale last changed
    resumed = tiny_trainer("16-mixed", max_iter=5)
    assert resumed.fit(data, resume=snapshot).loss_curve == history.loss_curve
    assert resumed.scaler.state_dict() == full.scaler.state_dict()
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(), full.model.state_dict().values()))


def test_unknown_and_misplaced_precisions_are_one_clear_error():
    with pytest.raises(ValueError, match="'precision' parameter of Autoencoder must be a str among") as info:
        Autoencoder(precision="fp8").fit(X[:50])
    assert all(f"'{name}'" in str(info.value) for name in ("32", "bf16", "16-mixed", "fp8"))
    with pytest.raises(ValueError, match="precision='16-mixed' needs a GPU.*use precision='bf16'"):
        Autoencoder(precision="16-mixed", device="cpu").fit(X[:50])
    with pytest.raises(ValueError, match="precision='fp8' is not one of '32', 'bf16', '16-mixed'"):
        tiny_trainer("fp8").fit(torch.zeros(40, 8))


def test_other_estimators_and_modes_train_in_bf16():
    vae = VariationalAutoencoder(max_iter=3, random_state=0, precision="bf16").fit(X[:300])
    neighbours = Autoencoder(max_iter=8, random_state=0, precision="bf16", neighbor_loss="umap").fit(X[:300])
    for est in (vae, neighbours):
        assert np.isfinite(est.loss_curve_).all() and np.isfinite(est.transform(X[:300])).all()


def test_the_command_line_takes_precision_and_the_model_records_it(tmp_path):
    data = tmp_path / "x.npy"
    np.save(data, X[:200])
    runner = CliRunner()
    fast = ["--hidden-layer-sizes", "16", "--max-iter", "2", "--seed", "0", "--quiet", "--threads", "1"]
    result = runner.invoke(app, ["fit", str(data), "-o", str(tmp_path / "run"), "--precision", "bf16", *fast])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert config["params"]["precision"] == "bf16" and load(tmp_path / "run" / "model").precision == "bf16"
    refused = runner.invoke(app, ["fit", str(data), "-o", str(tmp_path / "r2"), "--precision", "16-mixed", *fast])
    assert refused.exit_code == 2 and "--precision '16-mixed' needs a GPU" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


@needs_cuda
@pytest.mark.parametrize("precision", ["bf16", "16-mixed"])
def test_reduced_precision_on_cuda_reconstructs_as_well_as_float32(precision):
    fp32 = Autoencoder(max_iter=20, random_state=0, device="cuda").fit(X)
    low = Autoencoder(max_iter=20, random_state=0, device="cuda", precision=precision).fit(X)
    assert abs(low.score(X) / fp32.score(X) - 1) < 0.05


def _script(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present: the script runs in full on it")
def test_gpu_check_without_cuda_exits_with_one_line(tmp_path):
    result = _script(cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "CUDA is not available" in result.stderr and "--device cpu" in result.stderr


def test_gpu_check_runs_on_the_cpu_at_tiny_sizes(tmp_path):
    tiny = ["--rows", "1000", "--epochs", "2", "--compare-rows", "600", "--compare-epochs", "2", "--matmul-size", "128"]
    result = _script("--device", "cpu", *tiny, "--out", "check.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["passed"] and set(report["peaks_tflops"]) == {"fp32", "bf16", "fp16"}
    rows = {r["precision"]: r for r in report["training"]}
    assert rows["32"]["rows_per_s"] > 0 and 0 < rows["bf16"]["peak_share"]
    assert "needs a GPU" in rows["16-mixed"]["refused"]
    assert "| agreement with the CPU (fp32) |" in result.stdout
