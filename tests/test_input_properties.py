"""Any input to ``fit``: a ValueError saying what is wrong with it, or a model whose codes and
reconstructions are finite and of the right shape. Shapes from empty to 30 x 8, every dtype a user
may pass, values from 1e-30 to 1e38 of either sign, NaN and inf anywhere."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from aedr import Autoencoder, TrainingDivergedError

MAGNITUDES = [0.0, 1e-30, 1e-12, 1.0, 1e6, 1e30, 1e38]
SPECIAL = [np.nan, np.inf, -np.inf]
INTERNALS = ("torch", "tensor", "aten", "cuda", "traceback", "nonetype", "object has no attribute")


@st.composite
def inputs(draw):
    n, d = draw(st.integers(0, 30)), draw(st.integers(0, 8))
    dtype = draw(st.sampled_from(["float16", "float32", "float64", "int64", "int8", "bool", "str"]))
    if dtype == "bool":
        return draw(arrays(np.bool_, (n, d)))
    if dtype.startswith("int"):
        info = np.iinfo(dtype)
        return draw(arrays(dtype, (n, d), elements=st.integers(int(info.min), int(info.max))))
    # a spread around an offset, each of any magnitude and sign: 1e38 +- 1e-30 is as possible as 0 +- 1
    offset = draw(st.sampled_from(MAGNITUDES)) * draw(st.sampled_from([1, -1]))
    spread = draw(st.sampled_from(MAGNITUDES))
    unit = draw(arrays(np.float64, (n, d), elements=st.floats(-1, 1)))
    X = offset + spread * unit
    for _ in range(draw(st.integers(0, 3)) if n * d else 0):  # NaN / inf at some places
        X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = draw(st.sampled_from(SPECIAL))
    if dtype == "str":
        words = draw(st.lists(st.sampled_from(["x", "", "1e400", "nan"]), max_size=2))
        X = X.astype(object)
        for word in words if n * d else []:
            X[draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))] = word
        return X.astype(str).astype(object)
    with np.errstate(over="ignore"):
        return X.astype(dtype)  # float16 and float32 overflow to inf: one more way to get inf


@settings(max_examples=40, deadline=None)
@given(X=inputs(), n_components=st.integers(1, 2), scale=st.sampled_from(["auto", "minmax", None]))
def test_fit_refuses_clearly_or_gives_finite_codes_and_reconstructions(X, n_components, scale):
    ae = Autoencoder(n_components=n_components, hidden_layer_sizes=(3,), scale=scale, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's and numpy's warnings about odd input are not the point
        try:
            ae.fit(X)
        except (ValueError, TrainingDivergedError) as exc:
            message = str(exc)
            assert message.strip() and not any(word in message.lower() for word in INTERNALS), message
            return
        Z = ae.transform(X)
        assert Z.shape == (X.shape[0], n_components) and np.isfinite(Z).all()
        back = ae.inverse_transform(Z)
        assert back.shape == X.shape and np.isfinite(back).all()
