"""Model folders: bit-identical round trips, and one clear error per kind of damage."""

import json

import numpy as np
import pandas as pd
import pytest

import aedr
from aedr import Autoencoder, ModelFileError, load
from aedr.persistence import CONFIG_FILE, WEIGHTS_FILE


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(60, 6)), columns=[f"f{i}" for i in range(6)])


@pytest.fixture(scope="module")
def fitted(data):
    return Autoencoder(n_components=2, hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(data)


@pytest.fixture
def saved(fitted, tmp_path):
    return fitted.save(tmp_path / "model")


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_layer_sizes": (8,)},
        {"hidden_layer_sizes": (), "early_stopping": True, "scale": "minmax"},
        {
            "hidden_layer_sizes": (8, 4),
            "activation": "tanh",
            "output_activation": "sigmoid",
            "loss": "bce",
            "scale": "minmax",
        },
    ],
)
def test_round_trip_is_bit_identical(data, tmp_path, params):
    ae = Autoencoder(n_components=2, max_iter=3, random_state=0, **params).fit(data)
    loaded = load(ae.save(tmp_path / "m"))
    Z = ae.transform(data)
    assert np.array_equal(loaded.transform(data), Z)
    assert np.array_equal(loaded.inverse_transform(Z), ae.inverse_transform(Z))
    assert loaded.get_params() == ae.get_params()
    assert list(loaded.feature_names_in_) == list(ae.feature_names_in_)
    assert loaded.loss_curve_ == ae.loss_curve_ and loaded.n_iter_ == ae.n_iter_
    assert np.array_equal(loaded.feature_mean_, ae.feature_mean_) and loaded.feature_mean_.dtype == np.float64
    assert np.array_equal(loaded.feature_median_, ae.feature_median_)
    assert np.array_equal(loaded.code_range_, ae.code_range_) and loaded.code_range_.dtype == np.float64
    assert list(loaded.get_feature_names_out()) == list(ae.get_feature_names_out())


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_set_output_is_kept_as_pickle_keeps_it(data, tmp_path, container):
    ae = Autoencoder(n_components=2, max_iter=1, random_state=0, hidden_layer_sizes=(4,)).fit(data)
    assert isinstance(load(ae.save(tmp_path / "plain")).transform(data), np.ndarray)
    loaded = load(ae.set_output(transform=container).save(tmp_path / "m"))
    Z = loaded.transform(data)
    assert type(Z).__module__.split(".")[0] == container and list(Z.columns) == ["autoencoder0", "autoencoder1"]
    assert type(loaded.inverse_transform(np.asarray(Z))).__module__.split(".")[0] == container


def test_conv_round_trip(tmp_path):
    X = np.random.default_rng(1).random((30, 64))
    ae = Autoencoder(n_components=2, architecture="conv", max_iter=2, random_state=0).fit(X)
    loaded = load(ae.save(tmp_path / "m"))
    assert np.array_equal(loaded.transform(X), ae.transform(X))


def test_variational_round_trip(data, tmp_path):
    vae = aedr.VariationalAutoencoder(n_components=2, hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(data)
    loaded = load(vae.save(tmp_path / "m"))
    assert type(loaded) is aedr.VariationalAutoencoder
    Z = vae.transform(data)
    assert np.array_equal(loaded.transform(data), Z)
    assert np.array_equal(loaded.inverse_transform(Z), vae.inverse_transform(Z))


def test_files_are_data(saved):
    config = json.loads((saved / CONFIG_FILE).read_text())
    assert config["format_version"] == 1 and config["estimator"] == "Autoencoder"
    assert set(config["versions"]) >= {"aedr", "torch", "sklearn"}
    assert config["architecture"]["name"] == "mlp"
    assert (saved / WEIGHTS_FILE).read_bytes()[8:9] == b"{"  # safetensors: length, then a JSON header
    assert sorted(p.name for p in saved.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]


def test_how_the_fit_ran_is_not_saved(data, tmp_path):
    """verbose (the CLI's progress bar) and n_jobs are how a process ran the fit: a loaded model has their
    defaults, and a file of an earlier aedr that holds them still loads."""
    folder = Autoencoder(hidden_layer_sizes=(8,), max_iter=2, random_state=0, verbose=True, n_jobs=1)
    folder = folder.fit(data).save(tmp_path / "model")
    assert not {"verbose", "n_jobs", "callbacks"} & set(json.loads((folder / CONFIG_FILE).read_text())["params"])
    loaded = load(folder)
    assert loaded.verbose is False and loaded.n_jobs is None
    _edit_config(folder, _set(["params", "verbose"], True))
    assert load(folder).verbose is False


def test_refuses_to_overwrite(fitted, saved):
    with pytest.raises(FileExistsError):
        fitted.save(saved)
    fitted.save(saved, overwrite=True)
    load(saved)


def test_overwrite_replaces_a_saved_model_only(fitted, tmp_path):
    """save(path, overwrite=True) on a folder of the user's own files (a project, a home folder)
    would delete them: refused, and so is a file in the model's place."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="project is a folder without config.json, not an earlier aedr output"):
        fitted.save(project, overwrite=True)
    (tmp_path / "a.txt").write_text("mine too")
    with pytest.raises(ValueError, match="a.txt is a file; a folder is written there"):
        fitted.save(tmp_path / "a.txt", overwrite=True)
    assert (project / "notes.txt").read_text() == "mine" and (tmp_path / "a.txt").read_text() == "mine too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "project"]


def test_unfitted_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Autoencoder().save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_custom_modules_saved_as_weights_and_passed_back(data, tmp_path):
    from torch import nn

    def modules():
        return nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2)), nn.Sequential(
            nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 6)
        )

    encoder, decoder = modules()
    custom = Autoencoder(encoder=encoder, decoder=decoder, max_iter=2, random_state=0).fit(data)
    custom.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["architecture"]["name"] == "custom" and config["params"]["encoder"] is None
    with pytest.raises(
        ModelFileError,
        match=r"custom modules \(Sequential, Sequential\), which only Python can rebuild; pass them back",
    ):
        load(tmp_path / "m")
    with pytest.raises(ModelFileError, match="the encoder was a Sequential when saved, got a Linear"):
        load(tmp_path / "m", encoder=nn.Linear(6, 2), decoder=nn.Linear(2, 6))
    fresh_encoder, fresh_decoder = modules()
    loaded = load(tmp_path / "m", encoder=fresh_encoder, decoder=fresh_decoder)
    np.testing.assert_array_equal(loaded.transform(data), custom.transform(data))
    np.testing.assert_array_equal(
        loaded.inverse_transform(custom.transform(data)), custom.inverse_transform(custom.transform(data))
    )


def _edit_config(folder, edit):
    file = folder / CONFIG_FILE
    config = json.loads(file.read_text())
    edit(config)
    file.write_text(json.dumps(config))


def _replace(folder, old, new):
    file = folder / CONFIG_FILE
    file.write_text(file.read_text().replace(old, new, 1))


def _set(path, value):
    def edit(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    "damage, file, match",
    [
        (lambda f: (f / CONFIG_FILE).unlink(), CONFIG_FILE, "missing"),
        (lambda f: (f / WEIGHTS_FILE).unlink(), WEIGHTS_FILE, "missing"),
        (lambda f: [(f / WEIGHTS_FILE).unlink(), (f / WEIGHTS_FILE).mkdir()], WEIGHTS_FILE, "not a regular file"),
        (lambda f: [(f / CONFIG_FILE).unlink(), (f / CONFIG_FILE).symlink_to("/dev/zero")], CONFIG_FILE, "not a regul"),
        (lambda f: _edit_config(f, _set(["fitted", "n_features_in_"], True)), CONFIG_FILE, "integer, got True"),
        (lambda f: (f / CONFIG_FILE).write_text((f / CONFIG_FILE).read_text()[:200]), CONFIG_FILE, "not valid JSON"),
        (lambda f: (f / CONFIG_FILE).write_bytes(b"\xff\xfe\x00garbage"), CONFIG_FILE, "corrupted"),
        (lambda f: (f / WEIGHTS_FILE).write_bytes((f / WEIGHTS_FILE).read_bytes()[:100]), WEIGHTS_FILE, "truncated"),
        (lambda f: (f / WEIGHTS_FILE).write_bytes(b""), WEIGHTS_FILE, r"0 bytes, fewer than the 8 its header's length"),
        (lambda f: _flip_byte(f / WEIGHTS_FILE), WEIGHTS_FILE, "checksum"),
        (lambda f: _edit_config(f, _set(["format_version"], 2)), CONFIG_FILE, "newer aedr"),
        (lambda f: _edit_config(f, _set(["format"], "something")), CONFIG_FILE, "not an aedr model"),
        (lambda f: _edit_config(f, lambda c: c.pop("scaler")), CONFIG_FILE, "'scaler' is missing"),
        (lambda f: _edit_config(f, _set(["scaler", "offset"], [0.0])), CONFIG_FILE, "scaler.offset"),
        (lambda f: _edit_config(f, _set(["fitted", "feature_mean_"], [0.0])), CONFIG_FILE, "feature_mean_' must be"),
        (lambda f: _edit_config(f, _set(["output"], {"transform": "arrow"})), CONFIG_FILE, "'output' must be"),
        (lambda f: _edit_config(f, _set(["columns"], {"ids": "sample"})), CONFIG_FILE, "'columns' must be"),
        (lambda f: (f / CONFIG_FILE).write_text("[" * 100_000 + "]" * 100_000), CONFIG_FILE, "nested too deeply"),
        (lambda f: _replace(f, '"max_iter": ', '"max_iter": ' + "9" * 5000), CONFIG_FILE, "no aedr config holds"),
        (lambda f: _edit_config(f, _set(["scaler", "scale", 0], -1.0)), CONFIG_FILE, "zero or a negative"),
        (lambda f: _edit_config(f, _set(["scaler", "constant"], [99])), CONFIG_FILE, "'scaler.constant' must be"),
        (lambda f: _edit_config(f, _set(["scaler", "constant"], [0, 0])), CONFIG_FILE, "'scaler.constant' must be"),
        (lambda f: _edit_config(f, _set(["params", "callbacks"], ["x"])), CONFIG_FILE, "'params.callbacks' must"),
        (lambda f: _edit_config(f, _set(["fitted", "feature_names_in_"], list("aabcde"))), CONFIG_FILE, "6 different"),
        (lambda f: _edit_config(f, _set(["fitted", "feature_names_in_"], list(range(6)))), CONFIG_FILE, "(text)"),
        (lambda f: _edit_config(f, _set(["columns"], {"label": 3})), CONFIG_FILE, "'columns' must be"),
        (lambda f: _edit_config(f, _set(["reading"], {"layer": 3})), CONFIG_FILE, "'reading' must be"),
        (lambda f: _edit_config(f, _set(["format_version"], True)), CONFIG_FILE, "whole number .* got bool True"),
        (lambda f: _edit_config(f, _set(["format_version"], 1.0)), CONFIG_FILE, "whole number .* got float 1.0"),
        (lambda f: _edit_config(f, _set(["format_version"], "1")), CONFIG_FILE, "whole number .* got str '1'"),
        (lambda f: _edit_config(f, _set(["reading"], {"normalize": "yes"})), CONFIG_FILE, "'reading' must be"),
        (lambda f: _edit_config(f, _set(["reading"], {"log1p": True})), CONFIG_FILE, "'reading' must be"),
        (lambda f: _edit_config(f, _set(["fitted", "feature_median_"], None)), CONFIG_FILE, "feature_median_' has an"),
        (lambda f: _edit_config(f, _set(["estimator"], "os.system")), CONFIG_FILE, "unknown estimator"),
        (lambda f: _edit_config(f, _set(["params", "activation"], "nope")), CONFIG_FILE, "invalid 'params'"),
        (lambda f: _edit_config(f, _set(["params", "bogus"], 1)), CONFIG_FILE, "invalid 'params'"),
        (
            lambda f: _edit_config(f, _set(["params", "n_components"], 3)),
            CONFIG_FILE,
            r"architecture\.config\.n_components is 2, but 'params' and 'fitted' build 3",
        ),
        (
            lambda f: _edit_config(f, _set(["architecture", "config", "n_features"], {"a": 1})),
            CONFIG_FILE,
            r"architecture\.config\.n_features is \{'a': 1\}, but 'params' and 'fitted' build \d+; the file was",
        ),
    ],
)
def test_damaged_model_gives_one_clear_error(saved, damage, file, match):
    damage(saved)
    with pytest.raises(ModelFileError, match=match) as info:
        load(saved)
    assert file in str(info.value)


def test_weights_that_do_not_fit_the_architecture(data, saved, tmp_path):
    other = (
        Autoencoder(n_components=2, hidden_layer_sizes=(5,), max_iter=1, random_state=0).fit(data).save(tmp_path / "o")
    )
    (saved / WEIGHTS_FILE).write_bytes((other / WEIGHTS_FILE).read_bytes())
    sha = json.loads((other / CONFIG_FILE).read_text())["weights"]["sha256"]
    _edit_config(saved, _set(["weights", "sha256"], sha))
    with pytest.raises(ModelFileError, match=r"weights.safetensors: tensor .* needs"):
        load(saved)


def test_not_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFileError, match="is a file"):
        load(tmp_path / "file")


def _flip_byte(file):
    data = bytearray(file.read_bytes())
    data[-5] ^= 0xFF
    file.write_bytes(bytes(data))


def _peak_rss_loading(folder) -> str:
    import subprocess
    import sys

    code = (
        "import resource, aedr\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        f"    aedr.load({str(folder)!r})\n"
        "except aedr.ModelFileError as exc:\n"
        "    print('refused:', exc)\n"
        "print('grew_mb', (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout


@pytest.mark.parametrize("sizes", [[12000, 12000], [10**12]])
def test_a_config_describing_a_huge_network_is_refused_before_anything_is_built(saved, sizes):
    """Both the params and the architecture edited consistently: only the weights' header can tell."""

    def edit(config):
        config["params"]["hidden_layer_sizes"] = sizes
        config["architecture"]["config"]["hidden_layer_sizes"] = sizes

    _edit_config(saved, edit)
    output = _peak_rss_loading(saved)
    assert "refused:" in output and "weights.safetensors" in output
    assert "does not match the architecture" in output or "needs F32" in output
    assert float(output.split("grew_mb")[1]) < 200  # the 12000 x 12000 network alone would be 1.5 GB


@pytest.mark.parametrize("name", ["transform", "transform_", "foo_"])
def test_only_the_fitted_values_aedr_writes_load(saved, name):
    _edit_config(saved, _set(["fitted", name], 1))
    with pytest.raises(ModelFileError, match=f"'fitted.{name}' is not a fitted value"):
        load(saved)


@pytest.mark.parametrize(
    "name, value",
    [("loss_curve_", 5), ("stop_reason_", [1]), ("n_iter_", "abc"), ("n_iter_", True), ("batch_size_", 0),
     ("learning_rate_", float("nan")), ("input_shape_", [1000000, 1000000]), ("loss_terms_", {"mse": "x"}),
     ("code_range_", [[0, 0]]), ("code_range_", [[1, 0], [0, 1]]), ("code_range_", [[0, 0], [1, None]])],
)  # fmt: skip
def test_fitted_values_of_the_wrong_kind_are_refused_naming_them(saved, name, value):
    _edit_config(saved, _set(["fitted", name], value))
    with pytest.raises(ModelFileError, match=f"'fitted.{name}' has an invalid value"):
        load(saved)


def test_an_oversized_config_is_refused_before_it_is_read(saved):
    config = saved / "config.json"
    config.write_text(config.read_text() + " " * (65 << 20))
    with pytest.raises(ModelFileError, match="more than any aedr config"):
        load(saved)


def test_non_finite_scaling_or_weights_are_refused_at_load(saved):
    import hashlib

    from safetensors.torch import load_file, save_file

    _edit_config(saved, lambda c: c["scaler"]["scale"].__setitem__(0, float("nan")))
    with pytest.raises(ModelFileError, match="'scaler.scale' holds NaN"):
        load(saved)
    _edit_config(saved, lambda c: c["scaler"]["scale"].__setitem__(0, 1.0))
    tensors = load_file(saved / WEIGHTS_FILE)
    name = sorted(tensors)[0]
    tensors[name][0] = float("inf")
    save_file(tensors, saved / WEIGHTS_FILE)  # the checksum recomputed, as an attacker would
    digest = hashlib.sha256((saved / WEIGHTS_FILE).read_bytes()).hexdigest()
    _edit_config(saved, lambda c: c["weights"].__setitem__("sha256", digest))
    with pytest.raises(ModelFileError, match=f"tensor '{name}' holds NaN or infinite"):
        load(saved)


def test_a_loss_term_missing_from_some_epochs_is_strict_json_null_and_nan_again(fitted, tmp_path):
    """A neighbour fit on large data has no reconstruction term while it shapes the encoder alone."""
    import copy
    import math

    model = copy.deepcopy(fitted)
    model.loss_terms_ = {"mse": [math.nan, 0.5, 0.25]}
    path = model.save(tmp_path / "m")
    text = (path / CONFIG_FILE).read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    loaded = load(path).loss_terms_["mse"]
    assert math.isnan(loaded[0]) and loaded[1:] == [0.5, 0.25]


def test_load_takes_a_run_folder_as_the_command_line_does(saved, fitted, data):
    """aedr fit writes its model into run/model; load("run") finds it there, as every command does."""
    run = saved.parent  # tmp_path, holding model/
    np.testing.assert_array_equal(load(run).transform(data), fitted.transform(data))
    with pytest.raises(ModelFileError, match="config.json"):
        load(run / "model" / "missing")


def test_a_model_saved_before_a_rule_was_tightened_still_loads(saved, data):
    """exaggeration below 0.25 (and early_exaggeration below 1) was accepted and saved by an earlier aedr; such a
    model still loads and encodes, and only a new fit applies today's rule."""
    _edit_config(saved, _set(["params", "exaggeration"], 0.1))
    loaded = load(saved)
    assert loaded.exaggeration == 0.1 and loaded.transform(data).shape == (60, 2)
    with pytest.raises(ValueError, match=r"'exaggeration' parameter .* \[0.25, inf\)"):
        loaded.fit(data)
    _edit_config(saved, _set(["params", "exaggeration"], 0.0))  # never accepted
    with pytest.raises(ModelFileError, match="exaggeration"):
        load(saved)


def test_code_range_of_another_width_is_refused_and_a_model_saved_before_it_is_silent(saved, data):
    """A model keeps where its fitted rows' codes lie (code_range_), against which inverse_transform tells codes
    far outside; one saved before aedr kept it loads and decodes without a word."""
    import warnings

    _edit_config(saved, _set(["fitted", "code_range_"], [[0, 0, 0], [1, 1, 1]]))
    with pytest.raises(ModelFileError, match=r"'fitted.code_range_' spans 3 code axes, not the model's 2"):
        load(saved)
    config = json.loads((saved / CONFIG_FILE).read_text())
    del config["fitted"]["code_range_"]
    (saved / CONFIG_FILE).write_text(json.dumps(config))
    older = load(saved)
    assert not hasattr(older, "code_range_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        older.inverse_transform(np.full((1, 2), 1e6))
