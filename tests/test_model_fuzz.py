"""Tampered model folders: every mutation of config.json or weights.safetensors ends in a clear
ValueError-family error (ModelFileError naming the file) or a model that works; never a crash, and
never more memory than a fixed bound. Mutated weights are also given a matching checksum, so that
they reach the checks behind it (the header against the architecture, the tensors' values)."""

import hashlib
import json
import resource
import shutil
import struct

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


MEMORY_BOUND = 200 * 2**20  # bytes a load of this 5-feature model may add to the process's peak


def _check(folder):
    """A clear refusal naming the folder, or a model whose codes are finite (or refused clearly)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes
    try:
        _load_and_transform(folder)
    finally:
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak
        assert grown < MEMORY_BOUND, f"loading took {grown / 2**20:.0f} MB more"


def _load_and_transform(folder):
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


def _split(raw: bytes) -> tuple[dict, bytes]:
    """A safetensors file's header and data."""
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _join(header: dict, data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _with_checksum(folder, raw: bytes) -> None:
    """Write ``raw`` as the weights and its checksum into config.json, as a careful forger would."""
    (folder / WEIGHTS_FILE).write_bytes(raw)
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["weights"]["sha256"] = hashlib.sha256(raw).hexdigest()
    (folder / CONFIG_FILE).write_text(json.dumps(config))


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
    _with_checksum(folder, bytes(raw))  # the same bytes with a matching checksum: refused further on, or loads
    _check(folder)


SIZES = st.one_of(st.integers(-3, 12), st.sampled_from([10**6, 10**12, 2**63, 2**64 + 1]))
HEADER_VALUES = st.one_of(
    VALUES,
    st.sampled_from(["F16", "F64", "I64", "U8", "BOOL", "BF16"]),
    st.lists(SIZES, max_size=4),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_weights_with_a_matching_checksum_are_refused_clearly_or_load_a_working_model(
    original, tmp_path_factory, data
):
    folder = tmp_path_factory.mktemp("case") / "model"
    shutil.copytree(original, folder)
    header, tensors = _split((folder / WEIGHTS_FILE).read_bytes())
    names = sorted(k for k in header if k != "__metadata__")
    name = data.draw(st.sampled_from(names))
    how = data.draw(st.sampled_from(["value", "entry", "add", "remove", "data"]))
    if how == "value":  # one weight set to any float32: NaN, infinite, huge, tiny
        start, end = header[name]["data_offsets"]
        at = start + 4 * data.draw(st.integers(0, (end - start) // 4 - 1))
        value = data.draw(st.floats(width=32, allow_nan=True, allow_infinity=True))
        tensors = tensors[:at] + struct.pack("<f", value) + tensors[at + 4 :]
    elif how == "entry":  # a tensor's dtype, shape or byte range rewritten
        key = data.draw(st.sampled_from(["dtype", "shape", "data_offsets"]))
        header[name][key] = data.draw(HEADER_VALUES)
    elif how == "add":
        header[data.draw(st.text(min_size=1, max_size=8))] = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    elif how == "remove":
        del header[name]
    else:  # the data cut or padded to some length
        tensors = tensors[: data.draw(st.integers(0, len(tensors)))] + bytes(data.draw(st.integers(0, 64)))
    _with_checksum(folder, _join(header, tensors))
    _check(folder)


def test_a_config_that_asks_for_a_huge_network_is_refused_in_bounded_memory(original, tmp_path):
    """The issue's case: hidden_layer_sizes [12000, 12000] allocated 1.5 GB before any error."""
    folder = tmp_path / "model"
    shutil.copytree(original, folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    for sizes in ([12000, 12000], [10**12]):
        config["params"]["hidden_layer_sizes"] = config["architecture"]["config"]["hidden_layer_sizes"] = sizes
        (folder / CONFIG_FILE).write_text(json.dumps(config))
        _check(folder)
        with pytest.raises(ModelFileError, match="hidden_layer_sizes|weights.safetensors"):
            load(folder)


def test_a_config_listing_more_layers_than_the_weights_hold_is_refused_before_any_network_is_built(original, tmp_path):
    """200,000 hidden layers in a 2.6 MB config.json took 138 s and 3.4 GB to refuse: the network was
    built (on the meta device) before its tensors were checked against the weights' header."""
    import time

    folder = tmp_path / "model"
    shutil.copytree(original, folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["params"]["hidden_layer_sizes"] = config["architecture"]["config"]["hidden_layer_sizes"] = [4] * 200_000
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    start = time.perf_counter()
    with pytest.raises(
        ModelFileError, match=r"'params.hidden_layer_sizes' lists 200,000 values, more than the 8 tensors"
    ):
        load(folder)
    assert time.perf_counter() - start < 20  # seconds, where building the layers took minutes


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            ("fitted", "input_shape_"),
            [3, 9, 9],
            r"'fitted.input_shape_' \[3, 9, 9\] holds 243 values, not the model's 5",
        ),
        (("fitted", "random_state_"), 10**40, "random_state_"),
        (("params", "device"), "tpu:0", "'params.device' 'tpu:0' is not a device name"),
    ],
)
def test_values_no_fit_gives_are_refused_where_they_would_fail_later(original, tmp_path, key, value, message):
    """Each loaded before and failed later with a message about something else: an image shape of other
    size broke plot reconstructions, and a seed fit refuses broke Autoencoder(random_state=ae.random_state_)."""
    folder = tmp_path / "model"
    shutil.copytree(original, folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    node = config
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=message):
        load(folder)


@pytest.mark.parametrize("device, message", [("meta", "device='meta' holds no data"), ("gpu", "'gpu' is not a device")])
def test_a_device_load_cannot_use_is_the_callers_error_not_the_folders(original, device, message, monkeypatch):
    """torch's own NotImplementedError ('Cannot copy out of meta tensor') came through; then a ModelFileError
    blamed the folder, after its weights were read and hashed. Checked first, as a plain ValueError."""
    import aedr.persistence

    monkeypatch.setattr(aedr.persistence, "read_config", None)  # never reached
    with pytest.raises(ValueError, match=message) as caught:
        load(original, device=device)
    assert not isinstance(caught.value, ModelFileError)


def test_a_fit_scaling_beyond_float32s_range_saves_and_loads(tmp_path):
    """A fit scales in float64: a column of underflowed probabilities (spread 1e-46) or a constant column
    of 1e39s gives a scale beyond float32's range, which the network never sees (the scaled values are
    of order one). Such models were refused at load as hand-edited: fitted and saved, never loaded again."""
    X = np.random.default_rng(0).normal(size=(80, 4))
    tiny = np.zeros(80)
    tiny[7] = 1e-45
    X = np.column_stack([X, tiny, np.full(80, 1e39)])
    ae = Autoencoder(max_iter=3, hidden_layer_sizes=(8,), random_state=0, n_jobs=1).fit(X)
    assert ae.scaler_.scale[4] < np.finfo(np.float32).tiny and ae.scaler_.scale[5] > np.finfo(np.float32).max
    ae.save(tmp_path / "model")
    loaded = load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    np.testing.assert_array_equal(loaded.inverse_transform(ae.transform(X)), ae.inverse_transform(ae.transform(X)))


def test_a_scaling_edited_to_overflow_names_the_column_it_overflows(original, tmp_path):
    """A hand-edited scale that no data of the fit's units fits (1e-300) loads, as a fit may give any
    positive scale; transform then names the column whose scaled values are beyond float32."""
    folder = tmp_path / "model"
    shutil.copytree(original, folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["scaler"]["scale"][3] = 1e-300
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    ae = load(folder)
    rows = np.ones((2, len(config["scaler"]["scale"])))
    with pytest.raises(
        ValueError,
        match=r"values after scaling up to \S+ in the column at index 3\): too far outside the training data",
    ):
        ae.transform(rows)


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"hidden_layer_sizes": [-1]}, r"'params.hidden_layer_sizes' must be a sequence of positive whole numbers"),
        ({"hidden_layer_sizes": [6.0]}, r"'params.hidden_layer_sizes' must be a sequence of positive whole numbers"),
        ({"loss": "bce"}, r"loss='bce' needs output_activation='sigmoid'"),
        ({"input_shape": [1, 1, 5]}, r"input_shape=\(1, 1, 5\) applies to architecture='conv'"),
    ],
)
def test_parameters_fit_refuses_are_refused_at_load(original, tmp_path, edit, message):
    """An edit written alike in 'params' and the architecture: a negative layer width reached torch's
    RuntimeError, which the command line called a bug in aedr; the others loaded a model fit refuses."""
    folder = tmp_path / "model"
    shutil.copytree(original, folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["params"].update(edit)
    config["architecture"]["config"].update({k: v for k, v in edit.items() if k in config["architecture"]["config"]})
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match=message):
        load(folder)


def test_a_thread_count_in_an_older_model_file_is_not_the_models(original, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(original, folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    config["params"]["n_jobs"] = 64
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    assert load(folder).n_jobs is None  # the process's choice, as for a model saved without it


@pytest.mark.parametrize(
    "header, words",
    [(b"[" * 100_000 + b"]" * 100_000, "maximum recursion depth"), (b'{"a": ' + b"9" * 5000 + b"}", "4300 digits")],
)
def test_a_weights_header_no_json_reader_takes_is_a_damaged_file(original, tmp_path, header, words):
    """JSON nested deeper than Python's recursion limit, or a number of thousands of digits: a RecursionError
    (called a bug in aedr on the command line) and a ValueError naming no file, as config.json's were not."""
    folder = tmp_path / "model"
    shutil.copytree(original, folder)
    _with_checksum(folder, len(header).to_bytes(8, "little") + header)
    with pytest.raises(ModelFileError, match=rf"weights.safetensors: not a valid safetensors file .*{words}"):
        load(folder)
