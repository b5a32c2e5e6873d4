"""The anchored code layer of neighbour models (aedr.models.anchored)."""

import copy
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from aedr import Autoencoder, VariationalAutoencoder, load
from aedr.models import MLPConfig, MLPModule
from aedr.models.anchored import ANCHORS, AnchoredCode, anchored_code
from aedr.persistence import ModelFileError


@pytest.fixture(scope="module")
def rows():
    return load_digits().data[:300]


def test_the_layer_mixes_its_anchors_and_adds_a_scaled_linear_part():
    layer = AnchoredCode(width=4, n_components=2, n_anchors=3)
    with torch.no_grad():
        layer.weights.weight.zero_()
        layer.weights.bias.copy_(torch.tensor([0.0, 0.0, 100.0]))  # all weight on the third anchor
        layer.anchors.copy_(torch.tensor([[1.0, 1.0], [2.0, 2.0], [-3.0, 5.0]]))
        layer.residual.weight.zero_()
        layer.residual.bias.copy_(torch.tensor([1.0, -1.0]))
    h = torch.randn(5, 4)
    z = layer(h)
    torch.testing.assert_close(z, torch.tensor([[-3.0 + 0.3, 5.0 - 0.3]]).expand(5, 2))
    assert layer.logits.shape == (5, 3)  # kept while training, for the loss on the nearest anchor
    assert copy.deepcopy(layer).logits is None  # a copy made while training carries no autograd graph
    layer.eval()
    layer(h)
    assert layer.logits is None
    assert layer.nearest(torch.tensor([[1.9, 2.2], [-2.0, 4.0]])).tolist() == [1, 2]


def test_anchors_are_placed_at_distinct_rows_or_with_repeats_when_rows_are_few():
    layer = AnchoredCode(width=3, n_components=2, n_anchors=4)
    places = torch.arange(20.0).reshape(10, 2)
    layer.place(places, torch.Generator().manual_seed(0))
    picked = {tuple(a) for a in layer.anchors.tolist()}
    assert len(picked) == 4 and picked <= {tuple(p) for p in places.tolist()}
    layer.place(places[:2], torch.Generator().manual_seed(0))  # 2 rows, 4 anchors
    assert {tuple(a) for a in layer.anchors.tolist()} <= {(0.0, 1.0), (2.0, 3.0)}


def test_a_neighbour_model_ends_in_anchors_placed_on_its_map_and_trains_them(rows, phase_epochs):
    ae = Autoencoder(neighbor_loss="tsne", max_iter=6, random_state=0).fit(rows)
    layer = anchored_code(ae.model_)
    assert isinstance(layer, AnchoredCode) and ae.code_anchors_ == ANCHORS == len(layer.anchors)
    assert "anchor" in ae.loss_terms_ and all(np.isfinite(ae.loss_terms_["anchor"]))
    # 300 rows for 512 anchors: placed with repeats, then moved apart by training
    assert torch.unique(layer.anchors, dim=0).shape[0] > 300
    assert layer.logits is None  # the last batch's graph is dropped when the fit ends: a fitted model copies
    assert copy.deepcopy(ae).transform(rows[:5]).shape == (5, 2)
    before = ae.n_iter_
    ae.set_params(warm_start=True, max_iter=2).fit(rows)  # a warm start deep-copies the network
    added = sum(phase_epochs(len(rows), max_iter=2))  # 1 + 1, stretched to 4 + 4
    assert added == 8 and ae.n_iter_ == before + added  # its epochs counted on from the model's
    codes = ae.transform(rows)
    assert np.isfinite(codes).all() and codes.std() > 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: Autoencoder(max_iter=2, random_state=0),
        lambda: Autoencoder(neighbor_loss="tsne", architecture="conv", max_iter=2, random_state=0),
        lambda: VariationalAutoencoder(neighbor_loss="umap", max_iter=2, random_state=0),
    ],
    ids=["plain", "conv", "variational"],
)
def test_other_models_keep_a_linear_code_layer_and_their_file_format(make, rows, tmp_path):
    ae = make().fit(rows)
    assert ae.code_anchors_ == 0 and anchored_code(ae.model_) is None
    ae.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "code_anchors" not in config["architecture"]["config"]
    np.testing.assert_array_equal(load(tmp_path / "m").transform(rows), ae.transform(rows))


def test_a_model_file_without_code_anchors_loads_with_a_linear_code_layer(rows, tmp_path):
    """Files written before anchored code layers have no ``code_anchors_``: the network they rebuild
    ends in a linear layer, as theirs did."""
    ae = Autoencoder(neighbor_loss="tsne", max_iter=2, random_state=0).fit(rows)
    ae.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["fitted"]["code_anchors_"]
    del config["architecture"]["config"]["code_anchors"]
    config_file.write_text(json.dumps(config))
    # the rebuilt network ends in a linear layer, so this file's anchored weights do not fit it
    with pytest.raises(ModelFileError, match=r"missing tensors \['encoder.4.bias', 'encoder.4.weight'\]"):
        load(tmp_path / "m")
    linear = MLPModule(MLPConfig(n_features=64, n_components=2))
    assert isinstance(linear.encoder[-1], torch.nn.Linear)


def test_reference_placement_finds_the_nearest_rows_far_from_zero_and_names_a_streamed_reference(tmp_path):
    """Rows 10,000 units from zero as the model sees them (``scale=None``): the float32 search centres
    them first, so one neighbour gives that row's own code, the row scikit-learn finds nearest."""
    from sklearn.neighbors import NearestNeighbors

    from aedr import open_rows

    X = load_digits().data[:400]
    ae = Autoencoder(neighbor_loss="tsne", scale=None, max_iter=2, random_state=0).fit(X)
    far = X + 1e4
    X_new = far[:50] + np.random.default_rng(0).normal(0, 1, (50, 64))
    rows = NearestNeighbors(n_neighbors=1).fit(far).kneighbors(X_new, return_distance=False)[:, 0]
    np.testing.assert_allclose(ae.transform(X_new, reference=far, reference_neighbors=1), ae.transform(far)[rows])
    np.save(tmp_path / "r.npy", far)
    with pytest.raises(ValueError, match="reference must be rows in memory"):
        ae.transform(X_new, reference=open_rows(tmp_path / "r.npy"))
    memmap = np.load(tmp_path / "r.npy", mmap_mode="r")  # a memory-mapped reference is read in
    np.testing.assert_allclose(ae.transform(X_new[:5], reference=memmap), ae.transform(X_new[:5], reference=far))
