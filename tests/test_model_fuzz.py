"""Tampered model folders: every mutation of config.json or weights.safetensors ends in a clear
ValueError-family error (ModelFileError naming the file) or a model that works; never a crash."""

import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aedr import Autoencoder, ModelFileError, load
from aedr.persistence import CONFIG_FILE, WEIGHTS_FILE

X = np.random.default_rng(0).normal(size=(40, 5))


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "model"
    Autoencoder(hidden_layer_sizes=(6,), max_iter=2, random_state=0).fit(X).save(folder)
    return folder


def _paths(node, prefix=()):
    """Every path to a value in a JSON document."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:4]):
            yield from _paths(value, (*prefix, i))


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.sampled_from([0, -1, 10**12, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(-5, 10**6), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _check(folder):
    try:
        model = load(folder)
    except ModelFileError as exc:
        assert str(folder) in str(exc)
        return
    try:
        Z = model.transform(X)
    except ValueError:
        return
    assert np.isfinite(Z).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_config_is_refused_clearly_or_loads_a_working_model(original, tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("case") / "model"
    shutil.copytree(original, folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    path = data.draw(st.sampled_from([p for p in _paths(config) if p]))
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = data.draw(VALUES)
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    _check(folder)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_weights_are_refused_clearly(original, tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("case") / "model"
    shutil.copytree(original, folder)
    raw = bytearray((folder / WEIGHTS_FILE).read_bytes())
    how = data.draw(st.sampled_from(["flip", "truncate", "extend", "header"]))
    if how == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "extend":
        raw += bytes(data.draw(st.integers(1, 64)))
    else:
        raw[:8] = data.draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little")
    (folder / WEIGHTS_FILE).write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        load(folder)
