"""Every estimator parameter is declared once (aedr.params); the estimators and the CLI follow it."""

import inspect

import pytest

from aedr import Autoencoder, VariationalAutoencoder
from aedr.cli.params import option_names
from aedr.params import BETA, PARAMS


def _signature(cls) -> dict:
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}


def _differing(signature: dict, declared: dict) -> dict:
    """The names whose default differs, or that only one side has: what a failure shows."""
    return {k: (signature.get(k, "absent"), declared.get(k, "absent")) for k in {*signature, *declared}
            if signature.get(k, "absent") != declared.get(k, "absent")}  # fmt: skip


def test_the_estimators_signatures_are_the_declarations():
    assert _differing(_signature(Autoencoder), {p.name: p.default for p in PARAMS}) == {}
    assert list(_signature(Autoencoder)) == [p.name for p in PARAMS]  # the declared order
    assert _differing(_signature(VariationalAutoencoder), {p.name: p.default for p in (*PARAMS, BETA)}) == {}
    assert set(Autoencoder._parameter_constraints) == {p.name for p in PARAMS}
    assert set(VariationalAutoencoder._parameter_constraints) == {p.name for p in (*PARAMS, BETA)}


def test_every_declared_option_is_on_the_command_line_with_its_default():
    from typer.testing import CliRunner

    from aedr.cli import app

    text = " ".join(CliRunner().invoke(app, ["fit", "--help"], terminal_width=200).output.split())
    for name in option_names():
        assert "--" + name.replace("_", "-") in text or name == "learning_rate_init"
    assert "--learning-rate" in text and "Code width. [default: 2]" in text
    assert "[default: 256,128]" in text and "(at least 10 x this steps a phase). [default: auto]" in text


def test_a_bad_element_of_a_list_option_is_named(tmp_path):
    import numpy as np
    from typer.testing import CliRunner

    from aedr.cli import app

    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).normal(size=(40, 5)))
    result = CliRunner().invoke(app, ["fit", str(data), "--hidden-layer-sizes", "64,x", "-o", str(tmp_path / "r")])
    assert (
        result.exit_code == 2
        and "--hidden-layer-sizes" in result.output
        and "'x' is not a whole number" in result.output
    )
    assert not (tmp_path / "r").exists()


def test_the_help_lists_every_registered_value():
    """A value registered for a parameter (a new activation, loss, scaling, ...) shows in its help."""
    from aedr.params import REGISTRIES, _registry

    declared = {p.name: p for p in PARAMS}
    for name, where in REGISTRIES.items():
        help_text = declared[name].help_text()
        missing = [key for key in _registry(where) if key not in help_text]
        assert not missing, f"{name}'s help does not list {missing}: {help_text!r}"


@pytest.mark.parametrize(
    "line, words",
    [
        ("max_iter = 1.5", "cannot use 1.5 for max_iter (1.5 is not a whole number)"),
        ("max_iter = true", "cannot use True for max_iter (True is not a whole number)"),
        ("batch_size = 0.5", "cannot use 0.5 for batch_size"),
        ("learning_rate = true", "cannot use True for learning_rate_init (True is not a number)"),
        ("noise_level = true", "cannot use True for noise_level (True is not a number)"),  # fitted as 1.0
        ("tol = false", "cannot use False for tol (False is not a number)"),  # fitted as 0
        ("n_iter_no_change = true", "cannot use True for n_iter_no_change (True is not a whole number)"),
        ("random_state = true", "cannot use True for random_state (True is not a whole number)"),
        ("hidden_layer_sizes = [64.7, 2]", "(64.7 is not a whole number)"),
        ("input_shape = [1, 8.9, 8]", "(8.9 is not a whole number)"),
    ],
)
def test_a_config_files_value_of_the_wrong_type_is_refused_not_cast(tmp_path, line, words):
    """TOML gives typed values: int(1.5) is 1 and float(True) 1.0, which the options and Python refuse."""
    import numpy as np
    from typer.testing import CliRunner

    from aedr.cli import app

    data, config = tmp_path / "x.npy", tmp_path / "c.toml"
    np.save(data, np.random.default_rng(0).normal(size=(40, 64)))
    config.write_text(line + "\n")
    result = CliRunner().invoke(app, ["fit", str(data), "--config", str(config), "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and words in result.output, result.output
    assert not (tmp_path / "r").exists()


def _fit_with_config(tmp_path, text: str | bytes, *options):
    """``aedr fit`` of 40 random rows with a config file holding ``text``, as CliRunner saw it."""
    import numpy as np
    from typer.testing import CliRunner

    from aedr.cli import app

    data, config = tmp_path / "x.npy", tmp_path / "c.toml"
    np.save(data, np.random.default_rng(0).normal(size=(40, 5)))
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    command = ["fit", str(data), "--config", str(config), "-o", str(tmp_path / "r"), "--quiet", *options]
    return CliRunner().invoke(app, command)


def test_a_config_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Windows Notepad starts a UTF-8 file with a BOM: the file was "not valid TOML (Invalid statement (at
    line 1, column 1))"."""
    result = _fit_with_config(tmp_path, b"\xef\xbb\xbfn_components = 3\nmax_iter = 1\n", "--hidden-layer-sizes", "4")
    assert result.exit_code == 0, result.output
    assert "5 -> 3-D" in result.output


@pytest.mark.parametrize(
    "text, words",
    [
        ("max_iter = 3\nmax-iter = 4\n", "'max_iter' and 'max-iter' both set max_iter; keep one"),
        ("learning_rate = 0.1\nlearning_rate_init = 0.01\n", "'learning_rate' and 'learning_rate_init' both set"),
    ],
)
def test_a_config_file_that_sets_a_parameter_twice_is_refused(tmp_path, text, words):
    """max_iter = 3 and max-iter = 4 in one file fitted 4 epochs without a word (the last spelling won)."""
    result = _fit_with_config(tmp_path, text)
    assert result.exit_code == 2 and words in result.output and "--config" in result.output, result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("key", ["callbacks", "encoder", "decoder", "warm-start"])
def test_a_python_only_parameter_in_a_config_file_is_named_as_such(tmp_path, key):
    """callbacks, encoder, decoder and warm_start were each an "unknown parameter", with a "did you mean"
    of some unrelated key (warm_start: 'random_state') or the list of every key."""
    result = _fit_with_config(tmp_path, f"{key} = 1\n")
    name = key.replace("-", "_")
    words = f"'{key}' is a parameter of the Python API alone (aedr.Autoencoder({name}=...)), which a config file"
    assert result.exit_code == 2 and words in " ".join(result.output.split()), result.output
    assert "did you mean" not in result.output and "unknown" not in result.output


@pytest.mark.parametrize("cls", [Autoencoder, VariationalAutoencoder])
def test_a_network_of_millions_of_layers_is_refused_before_the_rows_are_read(cls):
    """hidden_layer_sizes of 3 million layers of width 1 ran (the memory check counts weights, and they
    hold few): 20,000 layers had not finished one epoch of 50 rows in a minute."""
    import numpy as np

    from aedr._fit_setup import MAX_HIDDEN_LAYERS, check_depth
    from aedr._validation import ParameterError

    nan_rows = np.full((50, 5), np.nan)  # refused as rows only once the network's depth has passed
    with pytest.raises(ParameterError, match="'hidden_layer_sizes' must have at most 256 layers, got 3,000,000"):
        cls(hidden_layer_sizes=(1,) * 3_000_000).fit(nan_rows)
    check_depth(cls(hidden_layer_sizes=[8] * MAX_HIDDEN_LAYERS))  # the bound itself is taken


def test_a_config_file_of_too_many_layers_is_refused_naming_the_file(tmp_path):
    result = _fit_with_config(tmp_path, f"hidden_layer_sizes = {[1] * 300}\n")
    assert result.exit_code == 2 and not (tmp_path / "r").exists(), result.output
    assert "c.toml: hidden_layer_sizes must have at most 256 layers, got 300" in " ".join(result.output.split())


@pytest.mark.parametrize(
    "text, words",
    [
        ('max_iter = "three"', "c.toml: cannot use 'three' for max_iter"),
        ('precision = "16-mixed"', "c.toml: precision='16-mixed' needs a GPU"),
        ('device = "mps"', "c.toml: device='mps' was asked for but MPS is not available here"),
    ],
)
def test_a_config_files_bad_value_is_told_as_the_files_not_as_an_option(tmp_path, text, words):
    """A device or a precision this machine cannot run, set in a config file, was blamed on --device or
    --precision, options never typed; a value of the wrong type named the file where --config belongs."""
    result = _fit_with_config(tmp_path, text + "\n")
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and words in output and "Invalid value for --config: " in output, output
    assert "--device" not in output and "--precision" not in output and not (tmp_path / "r").exists()


def test_min_dist_stays_within_umaps_spread():
    import numpy as np

    from aedr import Autoencoder

    with pytest.raises(
        ValueError, match=r"'min_dist' parameter of Autoencoder must be a float in the range \[0.0, 1.0\]"
    ):
        Autoencoder(neighbor_loss="umap", min_dist=100).fit(np.random.default_rng(0).normal(size=(60, 4)))


def test_an_unknown_optimizer_is_named_among_the_options_values(tmp_path):
    """scikit-learn's constraint also allows a torch.optim class, which no command-line value can be."""
    import numpy as np
    from typer.testing import CliRunner

    from aedr.cli import app

    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 5)))
    result = CliRunner().invoke(
        app, ["fit", str(tmp_path / "x.npy"), "--optimizer", "lbfgs", "-o", str(tmp_path / "r")]
    )
    assert (
        result.exit_code == 2 and "--optimizer must be one of adam, adamw, rmsprop, sgd; got 'lbfgs'" in result.output
    )
    assert "instance of" not in result.output


def test_the_docstrings_defaults_are_the_declarations():
    """Changing a default left the numpydoc ``default=`` of the estimator's docstring stale, unnoticed
    (a newcomer's review found it the one place of six that no test checked)."""
    import ast
    import re

    for cls, params in ((Autoencoder, PARAMS), (VariationalAutoencoder, (BETA,))):
        documented = {}
        for names, default in re.findall(r"^    (\w+(?:, \w+)*) : .*?default=(.+)$", cls.__doc__, re.M):
            for name in names.split(", "):
                documented[name] = default
        for param in params:
            assert param.name in documented, f"{cls.__name__}'s docstring gives no default for {param.name}"
            text = documented[param.name]
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
            value = tuple(value) if isinstance(value, list) else value
            assert value == param.default, f"{param.name}: the docstring says {text}, the declaration {param.default!r}"
