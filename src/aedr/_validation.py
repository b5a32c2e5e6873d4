"""Input checks that name the problem before it reaches torch."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data

from aedr._warnings import warn
from aedr._words import listed
from aedr.data.images import check_image_layout


class ParameterError(ValueError):
    """A parameter's value that no data could make right (a device name, a layer size of 0): the
    command line reports it as a usage error, exit code 2, as scikit-learn's own parameter checks."""


def check_whole(name: str, value, low: int = 1) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a whole number (not a bool) of at least ``low``."""
    if not isinstance(value, Integral) or isinstance(value, (bool, np.bool_)) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")


def _non_numeric_columns(X) -> list[str]:
    """Names of non-numeric columns when ``X`` is a pandas or polars DataFrame, else []."""
    schema = getattr(X, "schema", None)  # a polars DataFrame: its dtypes say
    if schema is not None and hasattr(schema, "items") and not hasattr(X, "iloc"):
        return [str(name) for name, dtype in schema.items() if not (dtype.is_numeric() or str(dtype) == "Boolean")]
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return []
    return [str(name) for i, (name, dtype) in enumerate(dtypes.items()) if not _numeric_column(X, i, dtype)]


def _numeric_column(X, i: int, dtype) -> bool:
    """Whether column ``i`` of DataFrame ``X`` holds numbers: a numeric dtype, a categorical one whose
    categories are numbers (read as their values, as scikit-learn's PCA reads them), or Python numbers
    in an object column (as a numpy object array of numbers is accepted)."""
    if dtype.kind in "biuf":
        return True
    if str(dtype) == "category":
        return dtype.categories.dtype.kind in "biuf"
    if str(dtype) != "object":  # strings, dates: not numbers
        return False
    try:
        np.asarray(X.iloc[:, i], dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _check_column_names(X, name: str) -> None:
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(columns, "duplicated"):
        return
    repeated = columns[columns.duplicated()]
    if len(repeated):
        first = repeated[0]
        raise ValueError(
            f"{name} has {len(repeated)} repeated column name{'s' * (len(repeated) != 1)} (first: {str(first)!r}, "
            f"{int((columns == first).sum())} columns); give each column its own name"
        )


def sparse_problem(X) -> str | None:
    """What is wrong with the index arrays of the CSR or CSC matrix ``X`` (a damaged file's, or arrays put
    together by hand), else None. scipy's constructors check the arrays' lengths, not the indices' range,
    and its kernels (and scikit-learn's) then read memory out of bounds: wrong statistics, or a crash.

    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix((np.ones(2), np.array([0, 7]), np.array([0, 1, 2])), shape=(2, 3))
    >>> sparse_problem(X)
    'a column index out of range: 7 (columns 0 to 2)'
    """
    if not sp.issparse(X) or X.format not in ("csr", "csc"):
        return None  # COO: scipy's constructor checks its indices
    major, minor = X.shape if X.format == "csr" else X.shape[::-1]
    line, other = ("row", "column") if X.format == "csr" else ("column", "row")
    indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
    if len(indptr) != major + 1 or indptr[0] != 0 or indptr[-1] != len(indices) or len(indices) != len(X.data):
        return f"its {line} pointers do not match its {len(X.data)} stored values"
    if np.any(np.diff(indptr) < 0):
        return f"its {line} pointers decrease"
    if len(indices) and (indices.min() < 0 or indices.max() >= minor):
        bad = indices.min() if indices.min() < 0 else indices.max()
        return f"a {other} index out of range: {bad} ({other}s 0 to {minor - 1})"
    return None


def check_sparse(X, name: str = "X"):
    """``X``, a sparse matrix refused in one line when its index arrays are malformed
    (:func:`sparse_problem`); one whose two index arrays differ in integer type (which scikit-learn's
    kernels refuse) as a copy with both as int64."""
    problem = sparse_problem(X)
    if problem is not None:
        raise ValueError(f"{name} is a malformed sparse matrix: {problem}")
    if sp.issparse(X) and X.format in ("csr", "csc") and X.indices.dtype != X.indptr.dtype:
        X = X.copy()
        X.indices, X.indptr = X.indices.astype(np.int64), X.indptr.astype(np.int64)
    return X


def check_finite(X: np.ndarray, name: str = "X") -> None:
    """Raise a ValueError saying how many rows hold NaN and how many inf (sparse ``X``: its stored values)."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        bad = ~np.isfinite(X.data)
        if not bad.any():
            return
        rows = np.unique(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[bad])
        kinds = " and ".join(k for k, test in (("NaN", np.isnan), ("inf", np.isinf)) if test(X.data).any())
        raise ValueError(
            f"{name} (sparse) holds {kinds} in {len(rows)} row{'s' * (len(rows) != 1)} (first rows: "
            f"{rows[:5].tolist()}); remove or impute them first"
        )
    finite = np.isfinite(X)
    if finite.all():
        return
    nan_rows = np.flatnonzero(np.isnan(X).any(axis=1))
    inf_rows = np.flatnonzero(np.isinf(X).any(axis=1))
    parts = []
    if len(nan_rows):
        parts.append(f"NaN in {len(nan_rows)} row{'s' * (len(nan_rows) != 1)}")
    if len(inf_rows):
        parts.append(f"inf in {len(inf_rows)} row{'s' * (len(inf_rows) != 1)}")
    first = np.flatnonzero(~finite.all(axis=1))[:5].tolist()
    raise ValueError(
        f"{name} contains {' and '.join(parts)} (first rows: {first}); "
        "remove or impute them (e.g. sklearn.impute.SimpleImputer) first"
    )


def refuse_text(X, name: str = "X") -> None:
    """One line for ``X`` of text (numpy would parse "1.5" quietly; scikit-learn's message names a value)."""
    dtype = getattr(X, "dtype", None)
    if getattr(dtype, "kind", None) in ("U", "S"):
        raise ValueError(
            f"{name} holds text ({dtype}), not numbers, as scikit-learn refuses it; convert it first "
            f"(np.asarray({name}, dtype=float)), or read the file as numbers"
        )


def check_code_columns(X, names: list[str], name: str = "X") -> None:
    """For codes given to ``inverse_transform`` as a DataFrame: a ValueError for a column that is not
    numbers, and an :class:`~aedr.AedrWarning` when its columns, all named, are not the model's code
    columns ``names`` (``autoencoder0``, ...): they are decoded by position. (The code columns in another
    order are refused before this.)"""
    bad = _non_numeric_columns(X)
    if bad:
        raise ValueError(
            f"{name} has {len(bad)} code column{'s' * (len(bad) != 1)} that {'are' if len(bad) > 1 else 'is'} not "
            f"numbers ({listed(bad, 5, quoted=True)}): codes are numbers, as transform wrote them"
        )
    columns = getattr(X, "columns", None)
    given = [] if columns is None else list(columns)
    if given and all(isinstance(c, str) for c in given) and given != names and len(given) == len(names):
        warn(
            f"{name}'s columns ({listed(given, 3, quoted=True)}) are not this model's code columns "
            f"({listed(names, 3, quoted=True)}): decoded by position, {given[0]!r} as {names[0]!r}"
        )


def refuse_complex(X, name: str = "X") -> None:
    """One line for complex ``X`` (scikit-learn's own message prints the whole array); it keeps
    scikit-learn's wording, which its estimator checks look for."""
    if np.iscomplexobj(X) or (hasattr(X, "dtypes") and any(_complex_dtype(d) for d in X.dtypes)):
        raise ValueError(_complex_words(name))


def _complex_words(name: str) -> str:
    return f"Complex data not supported: {name} holds complex numbers; pass real values (e.g. their magnitudes)"


def one_dimensional_words(X, name: str = "X", one: str = "feature") -> str:
    """The error for 1-D ``X``, in scikit-learn's opening words ("Reshape your data", which its checks
    look for), without the whole array its message prints."""
    return (
        f"{name} is 1-D (shape {np.shape(X)}). Reshape your data: {name}.reshape(-1, 1) for one {one},"
        f" {name}.reshape(1, -1) for one row"
    )


def as_rows(X, name: str = "X"):
    """``X`` as something scikit-learn's checks read as rows: a torch tensor as a numpy array
    (detached, on the CPU); a polars LazyFrame (a query rather than rows) or an iterator refused in
    one line (numpy reads them as 'setting an array element with a sequence' or fails in ``float()``)."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    if X is None:  # numpy reads it as a scalar NaN ("array=nan")
        raise ValueError(f"{name} is None; pass the rows as an array, DataFrame or list of rows")
    if type(X).__name__ == "AnnData" and hasattr(X, "obsm"):  # numpy would read it as an array of one object
        raise ValueError(
            f"{name} is an AnnData; pass the rows the model was fitted on: {name}.X, {name}.layers[...] or "
            f"{name}.obsm[...] (aedr.tl.autoencoder records which in adata.uns)"
        )
    if type(X).__name__ == "LazyFrame" and type(X).__module__.startswith("polars"):
        raise ValueError(f"{name} is a polars LazyFrame, a query rather than rows; pass {name}.collect()")
    if hasattr(X, "__next__") or (hasattr(X, "__iter__") and not hasattr(X, "__len__")):
        raise ValueError(
            f"{name} is an iterator ({type(X).__name__}); pass the rows as an array, DataFrame or list of rows"
        )
    return X


def _names_mismatch(estimator, X, name: str) -> str:
    """scikit-learn's feature-name error (its first words, which its checks look for) in one line."""
    fitted = [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    given = [str(c) for c in getattr(X, "columns", [])]

    fitted_set, given_set = set(fitted), set(given)
    unseen = [c for c in given if c not in fitted_set]
    missing = [c for c in fitted if c not in given_set]
    parts = [f"{name} has {listed(unseen, 5, quoted=True)}, not seen at fit time"] if unseen else []
    parts += [f"{name} lacks {listed(missing, 5, quoted=True)}"] if missing else []
    if not parts:
        return (
            f"The feature names should match those that were passed during fit: {name} has them in another order; "
            f"pass {name}[model.feature_names_in_]"
        )
    return f"The feature names should match those that were passed during fit: {'; '.join(parts)}"


def _complex_dtype(dtype) -> bool:
    """Whether a column's dtype is complex; pandas' nullable and polars' dtypes, which numpy cannot
    interpret, are not."""
    try:
        return np.dtype(dtype).kind == "c"
    except TypeError:
        return False


def validate_rows(estimator, X, *, reset: bool, name: str = "X") -> np.ndarray:
    """``validate_data`` for numeric 2-D input, with clearer errors naming ``name``.

    Returns a float64 or float32 array (never the caller's array modified).
    """
    X = check_sparse(as_rows(X, name), name)  # before any kernel reads its indices
    dtype_kind = getattr(getattr(X, "dtype", None), "kind", None)
    if dtype_kind in ("m", "M"):  # numpy reads dates as numbers
        raise ValueError(f"{name} holds {X.dtype} values (dates or durations), not numbers; convert them first")
    refuse_text(X, name)
    _check_column_names(X, name)
    bad = _non_numeric_columns(X)
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise ValueError(
            f"{name} has {len(bad)} non-numeric column{'s' * (len(bad) != 1)} ({shown}); encode or drop {'them' if len(bad) > 1 else 'it'}"
            + (" before fitting" if reset else "")
        )
    try:
        with warnings.catch_warnings(record=name != "X") as said:
            if name != "X":
                warnings.simplefilter("always")
            X = validate_data(
                estimator,
                X,
                reset=reset,
                dtype=[np.float64, np.float32],
                accept_sparse="csr",
                ensure_all_finite=False,
                ensure_min_samples=2 if reset else 1,
            )
        for w in said or ():  # scikit-learn's feature-name warnings say "X" of any rows: given as the caller's
            text = str(w.message)
            warnings.warn_explicit(
                f"{name} {text[2:]}" if text.startswith("X ") else text, w.category, w.filename, w.lineno
            )
    except TypeError as exc:
        if "argument must be a string or a real number" in str(exc):  # objects (dicts, lists) in an object array
            kind = str(exc).split(", not ")[-1]  # a TypeError still, as scikit-learn's estimator checks expect
            raise TypeError(f"{name} must be numeric: {kind} objects are not numbers ({exc})") from exc
        raise
    except ValueError as exc:
        if "could not convert" in str(exc):
            raise ValueError(f"{name} must be numeric: {exc}") from exc
        if "inhomogeneous" in str(exc):  # numpy's words for rows of different lengths
            raise ValueError(f"{name}'s rows have different lengths; give every row the same number of values") from exc
        # scikit-learn's messages print the whole array: neither is chained to aedr's own
        if str(exc).startswith("Expected 2D array, got 1D array"):
            raise ValueError(one_dimensional_words(X, name)) from None
        if str(exc).startswith("Complex data not supported"):
            raise ValueError(_complex_words(name)) from None
        if str(exc).startswith("Found array with 1 sample(s)"):  # its words kept: scikit-learn's checks look for them
            raise ValueError(f"{name} has 1 row (1 sample(s)); a fit needs at least 2") from None
        if str(exc).startswith("The feature names should match"):  # scikit-learn's message: lists over lines
            raise ValueError(_names_mismatch(estimator, X, name)) from exc
        if name != "X":
            raise ValueError(f"{name}: {exc}") from exc
        raise
    check_finite(X, name)
    return X


SHIFT_WARNING = 3.0  # spreads between new rows' column means and the training rows' that warn (the median column)


def check_prepared_alike(estimator, X) -> None:
    """An :class:`~aedr.AedrWarning` when the columns of ``X`` (rows in memory, dense or sparse) lie, at the median column,
    more than :data:`SHIFT_WARNING` of the model's spreads (its scaling's: standard deviations, ranges)
    from the training rows' column means: rows in other units than the fit's (raw counts where it read
    them normalised and log-transformed, grams for kilograms), whose codes land off the map. Rows from
    the training rows' distribution lie a fraction of a spread away; a model saved before aedr kept
    the training means is not checked."""
    means = getattr(estimator, "feature_mean_", None)
    if means is None or X.shape[0] == 0:
        return
    new = np.asarray(X.mean(axis=0), dtype=np.float64).ravel() if sp.issparse(X) else X.mean(axis=0, dtype=np.float64)
    shift = np.abs(new - np.asarray(means, dtype=np.float64)) / np.asarray(estimator.scaler_.scale, dtype=np.float64)
    median = float(np.median(shift))
    if median > SHIFT_WARNING:
        warn(
            f"the columns of the rows to encode lie a median {median:.3g} training spreads from the training rows' "
            "means: were they prepared as the fit's rows (the same units; normalised, log-transformed alike)? Rows "
            "in other units get codes off the map"
        )


def column_positions(columns, wanted, where: str, what: str = "features") -> list[int]:
    """Where each of the names ``wanted`` stands among ``columns``; a ValueError naming ``where`` and
    the first missing ones."""
    position = {str(name): i for i, name in enumerate(columns)}
    missing = [str(n) for n in wanted if str(n) not in position]
    if missing:
        raise ValueError(f"{where} lacks {len(missing)} of the model's {len(wanted)} {what}: {', '.join(missing[:5])}")
    return [position[str(n)] for n in wanted]


def columns_by_name(X, columns, wanted, where: str, what: str = "features"):
    """The columns ``wanted`` (names) of the matrix ``X`` (dense or sparse) whose columns are named
    ``columns``, in ``wanted``'s order (:func:`column_positions`)."""
    return X[:, column_positions(columns, wanted, where, what)]


def flatten_images(X, name: str = "X"):
    """(n, C, H, W) or (n, H, W) arrays become rows; returns (rows, image shape or None). Images
    stored channels last are refused, naming ``name``."""
    ndim = getattr(X, "ndim", 2)
    if ndim > 4 and hasattr(X, "reshape"):  # scikit-learn's words: "dim <= 2 is required", though 3 and 4 are read
        raise ValueError(
            f"{name} has {ndim} dimensions: give rows (2-D) or images, (n, H, W) or (n, C, H, W); "
            f"{name}.reshape(len({name}), -1) makes each sample one row"
        )
    if ndim in (3, 4) and hasattr(X, "reshape"):
        check_image_layout(X.shape, name)
        shape = tuple(X.shape[1:]) if ndim == 4 else (1, *X.shape[1:])
        return X.reshape(len(X), -1), shape
    return X, None


def check_custom_modules(model, n_features: int, n_components: int) -> None:
    """Dry-run custom modules on two zero rows; name the shape that is wrong."""
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("custom encoder and decoder have no trainable parameters: there is nothing to train")
    with torch.no_grad():
        try:
            z = model.encode(torch.zeros(2, n_features))
            x = model.decode(z)
        except Exception as exc:  # a user module can fail in any way; report it in one line
            raise ValueError(f"custom encoder/decoder failed on a (2, {n_features}) batch: {exc}") from exc
    if tuple(z.shape) != (2, n_components):
        raise ValueError(f"custom encoder must map (B, {n_features}) to (B, {n_components}), got {tuple(z.shape)}")
    if tuple(x.shape) != (2, n_features):
        raise ValueError(f"custom decoder must map (B, {n_components}) to (B, {n_features}), got {tuple(x.shape)}")


def validate_source(estimator, source, *, reset: bool) -> None:
    """What ``validate_data`` does for rows in memory, for rows on disk (a
    :class:`~aedr.data.sources.RowSource`): at least 2 rows to fit, the feature count and names set by
    ``fit`` (``reset``) or checked against it. Their values are checked as they are read."""
    n_samples, n_features = source.shape
    if reset:
        if n_samples < 2:
            raise ValueError(f"{source.name}: holds {n_samples} row{'s' * (n_samples != 1)}; fitting needs at least 2")
        estimator.n_features_in_ = n_features
        if source.feature_names is not None:
            estimator.feature_names_in_ = np.asarray(source.feature_names, dtype=object)
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    if n_samples < 1:
        raise ValueError(f"{source.name}: holds no rows")
    if n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input ({source.name})"
        )
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is not None and source.feature_names is not None and list(fitted) != list(source.feature_names):
        raise ValueError(f"{source.name}: the feature names differ from those seen in fit")
