"""Every estimator parameter is declared once (aedr.params); the estimators and the CLI follow it."""

import inspect

from aedr import Autoencoder, VariationalAutoencoder
from aedr.cli.params import option_names
from aedr.params import BETA, PARAMS


def _signature(cls) -> dict:
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}


def test_the_estimators_signatures_are_the_declarations():
    assert _signature(Autoencoder) == {p.name: p.default for p in PARAMS}
    assert list(_signature(Autoencoder)) == [p.name for p in PARAMS]  # the declared order
    assert _signature(VariationalAutoencoder) == {p.name: p.default for p in (*PARAMS, BETA)}
    assert set(Autoencoder._parameter_constraints) == {p.name for p in PARAMS}
    assert set(VariationalAutoencoder._parameter_constraints) == {p.name for p in (*PARAMS, BETA)}


def test_every_declared_option_is_on_the_command_line_with_its_default():
    from typer.testing import CliRunner

    from aedr.cli import app

    text = " ".join(CliRunner().invoke(app, ["fit", "--help"], terminal_width=200).output.split())
    for name in option_names():
        assert "--" + name.replace("_", "-") in text or name == "learning_rate_init"
    assert "--learning-rate" in text and "Code width. [default: 2]" in text
    assert "[default: 256,128]" in text and "Maximum epochs or 'auto'. [default: auto]" in text


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
