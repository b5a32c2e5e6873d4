"""The autoencoder family: conv, denoising, sparse, contractive, variational, custom modules."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from aedr import Autoencoder, VariationalAutoencoder
from aedr.models.conv import ConvConfig, ConvModule
from aedr.training.losses import jacobian_norm


@pytest.fixture(scope="module")
def X(digits):
    return digits[0]


def quick(cls=Autoencoder, **params):
    small = {} if "encoder" in params else {"hidden_layer_sizes": (32,)}  # custom modules are the whole network
    return cls(**({"max_iter": 3, "random_state": 0} | small | params))


@parametrize_with_checks([VariationalAutoencoder(max_iter=20, hidden_layer_sizes=(8,))])
def test_sklearn_checks_vae(estimator, check):
    check(estimator)


# -------------------------------------------------------------------- conv
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 32, 32), (1, 13, 17), (2, 5, 5)])
def test_conv_decoder_lands_on_input_shape(shape):
    n = int(np.prod(shape))
    model = ConvModule(ConvConfig(n_features=n, n_components=3, input_shape=shape))
    x_hat, z = model(torch.randn(4, n))
    assert z.shape == (4, 3) and x_hat.shape == (4, n)


def test_conv_accepts_flat_rows_and_image_arrays(X):
    flat = quick(architecture="conv").fit(X)
    assert flat.input_shape_ == (1, 8, 8) and np.unique(flat.scaler_.scale).size == 1  # "auto" -> one global scale
    images = quick(architecture="conv").fit(X.reshape(-1, 1, 8, 8))
    np.testing.assert_array_equal(flat.transform(X), images.transform(X.reshape(-1, 8, 8)))
    assert flat.inverse_transform(flat.transform(X)).shape == X.shape


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_images_of_another_shape_than_fitted_are_refused_not_flattened(X, architecture, tmp_path):
    """192 values a row fit (3, 8, 8) images only in that layout: channels-last images, or a 12 x 16
    image, are refused by name instead of encoded as if they were the fitted layout, whatever network
    read them (the MLP flattens them, and once accepted any image of 192 pixels)."""
    images = np.concatenate([X.reshape(-1, 1, 8, 8)] * 3, axis=1)[:200]
    model = quick(architecture=architecture).fit(images)
    assert model.input_shape_ == (3, 8, 8)
    from aedr import load

    model.save(tmp_path / "m")
    assert load(tmp_path / "m").input_shape_ == (3, 8, 8)
    if architecture == "conv":  # aedr info names the channels the network derived from the image size
        from typer.testing import CliRunner

        from aedr.cli import app

        info = CliRunner().invoke(app, ["info", str(tmp_path / "m")])
        assert info.exit_code == 0 and "input_shape=(3,8,8), channels=(32,)" in info.output, info.output
    warm = quick(architecture=architecture, warm_start=True).fit(images)
    if architecture == "mlp":  # flat rows go on from the images' network, which keeps their shape
        warm.fit(images.reshape(200, -1))
        assert warm.input_shape_ == (3, 8, 8)
    with pytest.raises(ValueError, match=r"fitted with input_shape=\(3, 8, 8\); got input_shape=\(3, 4, 16\)"):
        warm.fit(images.reshape(200, 3, 4, 16))
    for wrong, words in (
        (images.transpose(0, 2, 3, 1), r"X holds images of shape \(8, 8, 3\), channels last"),
        (images.reshape(200, 12, 16), r"X holds images of shape \(12, 16\); this model was fitted on images"),
    ):
        for method in (model.transform, model.score):
            with pytest.raises(ValueError, match=words):
                method(wrong)
    with pytest.raises(ValueError, match=r"reference holds images of shape \(12, 16\); this model was fitted"):
        model.transform(images, reference=images.reshape(200, 12, 16))
    np.testing.assert_array_equal(model.transform(images.reshape(200, -1)), model.transform(images))


def test_conv_input_shape_errors(X):
    with pytest.raises(ValueError, match=r"n_features=63 \(not a square\)"):
        quick(architecture="conv").fit(X[:, :63])
    with pytest.raises(ValueError, match=r"input_shape=\(1, 4, 4\) holds 16 values but X has n_features=64"):
        quick(architecture="conv", input_shape=(1, 4, 4)).fit(X)
    colour = quick(architecture="conv", input_shape=(4, 4, 4), n_components=2).fit(X)
    assert colour.input_shape_ == (4, 4, 4)
    with pytest.raises(ValueError, match=r"\(8, 8, 1\) reads as 8 channels of 8 x 1 images; .* give \(1, 8, 8\)"):
        quick(architecture="conv", input_shape=(8, 8, 1)).fit(X)  # channels last, as the plots take it: refused
    with pytest.raises(ValueError, match=r"input_shape=\(1, 8, 8\) applies to architecture='conv'"):
        quick(input_shape=(1, 8, 8)).fit(X)  # the flat network would ignore it: said, not ignored
    with pytest.raises(ValueError, match=r"input_shape=\(1, 4, 16\) disagrees with X's images of shape \(1, 8, 8\)"):
        quick(architecture="conv", input_shape=(1, 4, 16)).fit(X.reshape(-1, 1, 8, 8))
    assert quick(architecture="conv", input_shape=(1, 4, 16)).fit(X).input_shape_ == (1, 4, 16)  # flat rows: as said
    inferred = quick(architecture="conv", warm_start=True).fit(X)
    inferred.set_params(input_shape=(8, 8)).fit(X)  # the shape the fit inferred, named: the same network
    inferred.set_params(input_shape=None).fit(X.reshape(-1, 1, 8, 8))  # and back, from images of that shape
    with pytest.raises(ValueError, match=r"fitted with input_shape=\(1, 8, 8\); got input_shape=\(4, 4, 4\)"):
        inferred.set_params(input_shape=(4, 4, 4)).fit(X)


def test_images_stored_channels_last_are_refused_not_read_as_channels(X, tmp_path):
    """(n, H, W, C) would make a conv network of 8 'channels' of 8 x 1 images: refused by name, in
    Python and from a file before anything is fitted."""
    last = np.repeat(X.reshape(-1, 8, 8, 1), 3, axis=3)
    sixteen = np.random.default_rng(0).random((40, 16, 4, 4))  # 16 channels first, not channels last
    assert quick(architecture="conv").fit(sixteen).input_shape_ == (16, 4, 4)
    for images in (last, last[..., :1]):
        with pytest.raises(ValueError, match=r"X holds images of shape \(8, 8, [13]\), channels last .* np.moveaxis"):
            quick(architecture="conv").fit(images)
    np.save(tmp_path / "last.npy", last[:100])
    from typer.testing import CliRunner

    from aedr.cli import app

    result = CliRunner().invoke(app, ["fit", str(tmp_path / "last.npy"), "-o", str(tmp_path / "r"), "--max-iter", "1"])
    assert result.exit_code == 1 and "last.npy holds images of shape (8, 8, 3), channels last" in result.output
    # a file's advice is a file's: every command reads it alike, and only fit has --input-shape (s55 QA)
    assert "np.save(path, np.moveaxis(X, -1, 1))" in result.output and "input-shape" not in result.output
    assert not (tmp_path / "r").exists()
    np.save(
        tmp_path / "first.npy", np.moveaxis(last[:100], -1, 1)
    )  # (n, 3, 8, 8): the file's shape reaches the network
    args = ["fit", str(tmp_path / "first.npy"), "-o", str(tmp_path / "r"), "--architecture", "conv", "--max-iter", "1"]
    result = CliRunner().invoke(app, [*args, "--hidden-layer-sizes", "8", "-q"])
    assert result.exit_code == 0, result.output
    from aedr import load

    assert load(tmp_path / "r" / "model").input_shape_ == (3, 8, 8)


# ---------------------------------------------------------- regularisers
def hoyer(Z):
    """Scale-free sparsity in [0, 1] (Hoyer 2004): 1 for one non-zero per code."""
    d = Z.shape[1]
    ratio = np.abs(Z).sum(1) / np.sqrt((Z**2).sum(1))
    return float(np.mean((np.sqrt(d) - ratio) / (np.sqrt(d) - 1)))


def test_sparsity_makes_codes_sparser_scale_free(X):
    params = {"n_components": 32, "hidden_layer_sizes": (64,), "max_iter": 60}
    plain = quick(**params).fit(X)
    sparse = quick(sparsity=0.1, **params).fit(X)
    assert hoyer(sparse.transform(X)) > hoyer(plain.transform(X)) + 0.01
    assert set(sparse.loss_terms_) == {"mse", "sparsity"}


def test_contractive_shrinks_encoder_jacobian(X):
    params = {"n_components": 8, "hidden_layer_sizes": (64,), "max_iter": 30}
    plain = quick(**params).fit(X)
    contractive = quick(contractive=0.1, **params).fit(X)
    x = torch.as_tensor(plain.scaler_.transform(X), dtype=torch.float32)
    assert jacobian_norm(contractive.model_.encode, x) < 0.2 * jacobian_norm(plain.model_.encode, x)


def test_denoising_reconstructs_noisy_inputs_better(X):
    noisy = X + np.random.default_rng(0).normal(0, 4, X.shape)
    params = {"n_components": 8, "hidden_layer_sizes": (64,), "max_iter": 60, "scale": "global"}
    plain = quick(**params).fit(X)
    denoising = quick(noise="gaussian", noise_level=0.5, **params).fit(X)
    err = {m: np.mean((m.inverse_transform(m.transform(noisy)) - X) ** 2) for m in (plain, denoising)}
    assert err[denoising] < 0.9 * err[plain]


def test_masking_noise_trains_and_is_validated(X):
    assert np.isfinite(quick(noise="masking", noise_level=0.3).fit(X).loss_curve_).all()
    with pytest.raises(ValueError, match="noise_level < 1"):
        quick(noise="masking", noise_level=1.0).fit(X)


# ------------------------------------------------------------------- VAE
def test_vae_transform_is_posterior_mean_and_sample(X):
    vae = quick(VariationalAutoencoder, max_iter=5).fit(X)
    np.testing.assert_array_equal(vae.transform(X), vae.transform(X))  # no sampling at inference
    assert set(vae.loss_terms_) == {"mse", "kl"} and len(vae.loss_terms_["kl"]) == vae.n_iter_
    samples = vae.sample(7, random_state=0)
    assert samples.shape == (7, 64)
    np.testing.assert_array_equal(samples, vae.sample(7, random_state=0))
    drawn = [vae.sample(3, random_state=np.random.default_rng(5)) for _ in range(2)]  # a Generator, as numpy's
    np.testing.assert_array_equal(*drawn)
    frame = vae.set_output(transform="pandas").sample(7, random_state=0)  # as inverse_transform gives rows
    assert list(frame.columns) == [f"x{i}" for i in range(64)] and np.array_equal(frame.to_numpy(), samples)
    for bad in (-1, 0, 2.7, True):
        with pytest.raises(ValueError, match="n_samples must be a whole number of at least 1"):
            vae.sample(bad)
    # more than memory holds: refused before anything is drawn (10**9 samples got the process killed; API QA 4)
    with pytest.raises(MemoryError, match=r"decoding 1,000,000,000,000 samples into rows of 64 values needs about"):
        vae.sample(10**12)


def test_vae_beta_trades_kl_for_reconstruction(X):
    params = {"hidden_layer_sizes": (64,), "max_iter": 30}
    loose = quick(VariationalAutoencoder, beta=0.1, **params).fit(X)
    tight = quick(VariationalAutoencoder, beta=4.0, **params).fit(X)
    assert tight.loss_terms_["kl"][-1] < 0.5 * loose.loss_terms_["kl"][-1]
    assert tight.loss_terms_["mse"][-1] > loose.loss_terms_["mse"][-1]


def test_conv_vae(X):
    vae = quick(VariationalAutoencoder, architecture="conv").fit(X)
    assert vae.transform(X).shape == (1797, 2) and vae.sample(2).shape == (2, 64)


# ---------------------------------------------------------- custom modules
def test_custom_modules_are_trained_on_copies(X):
    encoder = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    decoder = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 64))
    before = [p.detach().clone() for p in encoder.parameters()]
    ae = quick(encoder=encoder, decoder=decoder, max_iter=10).fit(X)
    assert ae.transform(X).shape == (1797, 2)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters())), "the user's module must not change"


def test_custom_module_errors(X):
    with pytest.raises(ValueError, match="both encoder and decoder"):
        quick(encoder=torch.nn.Linear(64, 2)).fit(X)
    with pytest.raises(ValueError, match=r"custom encoder must map \(B, 64\) to \(B, 2\), got \(2, 3\)"):
        quick(encoder=torch.nn.Linear(64, 3), decoder=torch.nn.Linear(3, 64)).fit(X)
    with pytest.raises(ValueError, match="failed on a"):
        quick(encoder=torch.nn.Linear(10, 2), decoder=torch.nn.Linear(2, 64)).fit(X)
    with pytest.raises(ValueError, match="does not take custom"):
        quick(VariationalAutoencoder, encoder=torch.nn.Linear(64, 2), decoder=torch.nn.Linear(2, 64)).fit(X)
    with pytest.raises(ValueError, match="modules given are the network: architecture='conv' would be ignored"):
        quick(encoder=torch.nn.Linear(64, 2), decoder=torch.nn.Linear(2, 64), architecture="conv").fit(X)
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(5,\) would be ignored"):
        quick(encoder=torch.nn.Linear(64, 2), decoder=torch.nn.Linear(2, 64), hidden_layer_sizes=[5]).fit(X)


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (Autoencoder, {"architecture": "conv"}),
        (Autoencoder, {"noise": "masking", "noise_level": 0.3}),
        (Autoencoder, {"sparsity": 0.01, "contractive": 0.01}),
        (VariationalAutoencoder, {"beta": 2.0}),
        (VariationalAutoencoder, {"architecture": "conv"}),
    ],
)
def test_every_variant_round_trips_through_a_model_folder(X, tmp_path, cls, params):
    import aedr

    model = quick(cls, **params).fit(X)
    model.save(tmp_path / "m")
    loaded = aedr.load(tmp_path / "m")
    assert type(loaded) is cls and loaded.get_params()["architecture"] == model.architecture
    Z = model.transform(X)
    np.testing.assert_array_equal(loaded.transform(X), Z)
    np.testing.assert_array_equal(loaded.inverse_transform(Z), model.inverse_transform(Z))


def test_cli_fits_a_vae_and_draws_its_latent_grid(X, tmp_path):
    from typer.testing import CliRunner

    from aedr.cli import app

    np.save(tmp_path / "digits.npy", X[:300])
    runner = CliRunner()
    fit = runner.invoke(
        app, ["fit", str(tmp_path / "digits.npy"), "--model", "vae", "--beta", "4", "--max-iter", "2", "--quiet",
              "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert fit.exit_code == 0, fit.output
    config = (tmp_path / "run" / "model" / "config.json").read_text()
    assert '"VariationalAutoencoder"' in config and '"beta": 4.0' in config
    grid = runner.invoke(
        app, ["plot", "latent-grid", str(tmp_path / "run" / "model"), "-n", "5", "-o", str(tmp_path / "g.png")]
    )
    assert grid.exit_code == 0, grid.output
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    # DATA set a VAE's grid to its codes' range, where the help says a VAE's grid spans the prior: refused
    with_data = runner.invoke(
        app, ["plot", "latent-grid", str(tmp_path / "run" / "model"), str(tmp_path / "digits.npy"), "-n", "5",
              "-o", str(tmp_path / "h.png")],
    )  # fmt: skip
    assert with_data.exit_code == 2 and not (tmp_path / "h.png").exists()
    assert "VariationalAutoencoder's grid spans its prior, [-3, 3] (--extent)" in with_data.output
    assert "leave DATA out" in with_data.output
    wrong = runner.invoke(app, ["fit", str(tmp_path / "digits.npy"), "--beta", "4", "--out", str(tmp_path / "r2")])
    assert wrong.exit_code == 2 and "add --model vae" in wrong.output
    # aedr sample: the prior's codes decoded, as VariationalAutoencoder.sample draws them with that seed
    drawn = runner.invoke(
        app, ["sample", str(tmp_path / "run"), "-n", "4", "--seed", "3", "-o", str(tmp_path / "s.csv")]
    )
    assert drawn.exit_code == 0 and "wrote" in drawn.output, drawn.output
    from aedr import load

    rows = pd.read_csv(tmp_path / "s.csv")
    assert list(rows.columns) == [f"x{i}" for i in range(64)] and len(rows) == 4
    expected = load(tmp_path / "run" / "model").sample(4, random_state=3).astype(np.float32)
    np.testing.assert_array_equal(rows.to_numpy(dtype=np.float32), expected)
    runner.invoke(app, ["fit", str(tmp_path / "digits.npy"), "--max-iter", "1", "-q", "--out", str(tmp_path / "plain")])
    plain = runner.invoke(app, ["sample", str(tmp_path / "plain"), "-o", str(tmp_path / "p.csv")])
    assert plain.exit_code == 2 and "holds a plain Autoencoder, whose codes follow no prior" in plain.output
    assert not (tmp_path / "p.csv").exists()


def test_a_new_network_is_one_module_and_one_registry_entry(X, tmp_path, monkeypatch):
    """A network of its own config (a setting the estimator does not pass keeps its default), fitted,
    saved and loaded by name; the registry entry's flags, not the name, decide the anchored code layer."""
    from dataclasses import dataclass

    from torch import nn

    from aedr import load, models
    from aedr.models.base import AutoencoderModule, dense_stack

    @dataclass(frozen=True)
    class SkipConfig:
        n_features: int
        n_components: int
        hidden_layer_sizes: tuple = (32,)
        activation: str = "relu"
        output_activation: str = "identity"
        code_anchors: int = 0
        skip: float = 0.5  # its own setting

    class SkipModule(AutoencoderModule):
        def __init__(self, config):
            super().__init__()
            self.config = config
            widths = [config.n_features, *config.hidden_layer_sizes, config.n_components]
            self.encoder = dense_stack(widths, config.activation)
            self.decoder = dense_stack(widths[::-1], config.activation)
            self.shortcut = nn.Linear(config.n_components, config.n_features)
            self.output_activation = nn.Identity()

        def decode_logits(self, z):
            return self.decoder(z) + self.config.skip * self.shortcut(z)

    monkeypatch.setitem(models.ARCHITECTURES, "skip", models.Architecture(SkipConfig, SkipModule))
    ae = quick(architecture="skip").fit(X)
    assert isinstance(ae.model_, SkipModule) and ae.model_.config.skip == 0.5
    np.testing.assert_array_equal(load(ae.save(tmp_path / "m")).transform(X), ae.transform(X))
    neighbor = quick(architecture="skip", neighbor_loss="tsne", max_iter=2).fit(X[:300])
    assert neighbor.code_anchors_ == 0  # no anchored_code flag: a linear code layer
