"""scanpy-style tools: ``aedr.tl.autoencoder(adata)`` fits an autoencoder on an AnnData and stores the codes.

In a scanpy session::

    import scanpy as sc, aedr
    adata = sc.datasets.pbmc68k_reduced()
    ae = aedr.tl.autoencoder(adata, neighbor_loss="tsne", use_rep="X_pca")
    sc.pl.embedding(adata, basis="aedr", color="bulk_labels")
    aedr.tl.transform(new_cells, ae, use_rep="X_pca")   # new cells into the same map (genes by name)
"""

from __future__ import annotations

import os
import warnings
from contextlib import closing, nullcontext

import numpy as np
import scipy.sparse as sp

from aedr._warnings import warn


def autoencoder(
    adata, n_components: int = 2, *, use_rep=None, layer=None, key_added: str = "aedr", random_state=0, **params
):
    """Fit :class:`aedr.Autoencoder` on the cells of ``adata``; store the codes in
    ``adata.obsm["X_" + key_added]`` and the settings in ``adata.uns[key_added]``.

    Parameters
    ----------
    adata : anndata.AnnData
    n_components : int, default=2
    use_rep : str, optional
        Fit on ``adata.obsm[use_rep]`` (for example ``"X_pca"``) instead of ``X`` (``"X"``: ``X`` itself,
        as in scanpy).
    layer : str, optional
        Fit on ``adata.layers[layer]`` instead of ``X`` (``"X"``: ``X`` itself, as ``aedr fit --layer X``).
    key_added : str, default="aedr"
        ``sc.pl.embedding(adata, basis=key_added)`` then plots the codes. Only entries aedr wrote are
        replaced: a ``key_added`` whose ``obsm["X_" + key_added]`` or ``uns[key_added]`` holds anything
        else (scanpy's ``"pca"``, ``"umap"``, ``"neighbors"``), or that names ``use_rep``, is refused.
    random_state, **params
        :class:`aedr.Autoencoder`'s parameters (``neighbor_loss="tsne"`` keeps t-SNE's neighbourhoods);
        ``random_state=None`` draws a seed (the estimator's ``random_state_``), which
        ``uns[key_added]["params"]`` records.

    Returns
    -------
    Autoencoder
        The fitted estimator. Fitted on genes (``X`` or a layer), it records their names (made unique
        as ``var_names_make_unique`` makes them): :func:`aedr.tl.transform` embeds new cells by gene
        name, whatever their order, and ``.transform`` of a DataFrame checks the names; ``.transform``
        of a bare matrix takes its columns as the fitted genes in order (scikit-learn warns that it
        has no names).

    Sparse ``X`` or layers stay sparse: the network sees them densified a batch at a time. Raw counts
    (whole numbers above 20) are refused: normalise first (``sc.pp.normalize_total``, ``sc.pp.log1p``).
    An AnnData opened with ``backed="r"`` is fitted on its ``X`` read through the file (as
    :func:`aedr.open_rows` reads an ``.h5ad``): streamed a block of cells at a time when it would need
    more than the ``memory_budget`` parameter, as ``aedr fit`` does (its layers and ``obsm`` are in
    memory already).
    A slice of one is refused: anndata cannot add codes to it; ``adata.to_memory()`` first.
    All of ``adata``'s genes are fitted on: for the highly variable ones alone, as ``sc.pp.pca`` picks,
    pass ``adata[:, adata.var.highly_variable].copy()`` (or ``use_rep="X_pca"``).
    """
    from aedr.data.anndata import H5adSource, unique_names
    from aedr.estimator import Autoencoder

    unknown = sorted(set(params) - set(Autoencoder().get_params(deep=False)))
    if unknown:
        raise TypeError(
            f"aedr.tl.autoencoder() got an unexpected keyword argument {unknown[0]!r}: it takes adata, n_components, "
            "use_rep, layer, key_added and aedr.Autoencoder's parameters"
        )
    use_rep, layer = _meant(adata, use_rep, layer)
    X, source = _cells(adata, use_rep, layer, key_added)
    with closing(X) if isinstance(X, H5adSource) else nullcontext():
        if isinstance(X, H5adSource):
            _refuse_counts(X.first_cells(10_000), source)  # its first cells
        else:
            X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
            _refuse_counts(X, source)
        estimator = Autoencoder(n_components, random_state=random_state, **params)
        codes = estimator.fit_transform(X)
    if use_rep is None:  # genes: new cells are matched by name (a backed file's names came with its rows)
        estimator.feature_names_in_ = np.asarray(unique_names(adata.var_names), dtype=object)
    _store(adata, key_added, codes, estimator, use_rep, layer)
    return estimator


def transform(adata, estimator, *, use_rep=None, layer=None, key_added: str = "aedr"):
    """Embed the cells of ``adata`` with ``estimator`` (fitted by :func:`autoencoder`, or loaded with
    :func:`aedr.load`) and store the codes in ``adata.obsm["X_" + key_added]``, as scanpy's ``ingest``
    adds a new batch to a reference's embedding.

    ``estimator`` may also be a model folder (or an ``aedr fit`` run folder): its cells are then read
    as its fit read them, as ``aedr transform`` reads them (the fit's ``--layer`` unless ``layer`` or
    ``use_rep`` is given, and that layer's raw counts normalised as ``--normalize`` did).

    Genes are matched by name: a model fitted on genes takes them from ``adata`` in its own order
    (extra genes are left out; a missing one is an error naming it). Pass the ``use_rep`` or
    ``layer`` the model was fitted on, holding values prepared as those were (normalised, log1p): raw
    counts are refused, as :func:`autoencoder` refuses them. ``adata.uns[key_added]`` records the
    model's settings and the obsm key, as :func:`autoencoder` records them.

    Returns
    -------
    ndarray (n_cells, n_components), float32
        The codes.
    """
    from sklearn.utils.validation import check_is_fitted

    from aedr._validation import column_positions
    from aedr.data.anndata import H5adSource, names_hint, repeats_note, unique_names

    normalize = False
    if isinstance(estimator, (str, os.PathLike)):  # a model folder: read new cells as its fit read its cells
        from aedr.persistence import load, saved_reading

        reading, estimator = saved_reading(estimator), load(estimator)
        if use_rep is None:
            layer = reading.get("layer") if layer is None else layer
            normalize = bool(reading.get("normalize")) and layer == reading.get("layer")
    check_is_fitted(estimator)
    use_rep, layer = _meant(adata, use_rep, layer)
    X, source = _cells(adata, use_rep, layer, key_added, normalize)
    if normalize and not isinstance(X, H5adSource):  # over all of adata's genes, then the model's are taken
        from aedr.data.anndata import normalize_counts, refuse_normalised

        refuse_normalised(f"adata.{source}", X)
        X = normalize_counts(X, f"adata.{source}")
    names = getattr(estimator, "feature_names_in_", None)
    with closing(X) if isinstance(X, H5adSource) else nullcontext():
        if names is not None and use_rep is None:
            note = repeats_note(adata.var_names, "adata")
            if note is not None:
                warn(note)
            genes = unique_names(adata.var_names)
            if genes != [str(n) for n in names]:
                try:
                    positions = column_positions(genes, names, "adata", "genes")  # names a missing one
                except ValueError as exc:
                    raise ValueError(f"{exc}{names_hint(adata.var, names)}") from None
                if isinstance(X, H5adSource):
                    raise ValueError(
                        "adata, opened with backed='r', holds the model's genes in another order or among others: "
                        "load the cells first (adata.to_memory()), which aedr then matches by name"
                    )
                X = X[:, positions]
        elif names is None and not isinstance(X, H5adSource) and X.shape[1] != estimator.n_features_in_:
            raise ValueError(
                f"adata.{source} has {X.shape[1]} columns but the model expects {estimator.n_features_in_}"
            )
        if not isinstance(X, H5adSource):
            X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
        if use_rep is None and not normalize:  # genes prepared as the fit's were: raw counts refused, as in autoencoder
            _refuse_counts(X.first_cells(10_000) if isinstance(X, H5adSource) else X, source)
        with warnings.catch_warnings():  # the genes were matched by name above: a bare matrix is what the model gets
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            codes = np.asarray(estimator.transform(X), dtype=np.float32)
    return _store(adata, key_added, codes, estimator, use_rep, layer)


def _store(adata, key_added: str, codes, estimator, use_rep, layer) -> np.ndarray:
    """The ``codes`` in ``adata.obsm["X_" + key_added]``, and in ``adata.uns[key_added]`` how they were made:
    ``estimator``'s parameters, the ``use_rep`` or ``layer`` read, and the obsm key (by which ``aedr fit``
    and ``aedr transform`` know aedr's own codes, which their copies may replace). Returns the codes."""
    from aedr.runs import settings_of

    codes = np.asarray(codes, dtype=np.float32)  # an array whatever set_output chose
    adata.obsm[f"X_{key_added}"] = codes
    settings = {"params": settings_of(estimator), "use_rep": use_rep or "", "layer": layer or ""}
    adata.uns[key_added] = {**settings, "obsm_key": f"X_{key_added}"}
    return codes


def _meant(adata, use_rep, layer):
    """``(use_rep, layer)`` with ``"X"`` meaning ``adata.X`` (None), as scanpy's ``use_rep`` and aedr's
    ``--layer`` read it, unless the AnnData holds an entry of that name."""
    if use_rep == "X" and "X" not in getattr(adata, "obsm", {}):
        use_rep = None
    if layer == "X" and "X" not in getattr(adata, "layers", {}):
        layer = None
    return use_rep, layer


def _cells(adata, use_rep, layer, key_added, normalize: bool = False):
    """``(matrix, where)``: the cells of ``adata`` to embed (``obsm[use_rep]``, a layer, ``X``, or a
    backed file's ``X`` as an :class:`~aedr.data.anndata.H5adSource`, ``normalize``-d as it is read),
    after the checks both tools make."""
    from aedr.data.anndata import H5adSource, check_key_added

    if not all(hasattr(adata, name) for name in ("obsm", "uns", "layers", "X")):
        raise TypeError(f"adata must be an anndata.AnnData, got {type(adata).__name__}")
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added must be a non-empty string, got {key_added!r}")
    check_key_added(adata, key_added, use_rep)  # before any work: aedr replaces only its own entries
    if key_added.startswith("X_"):  # scanpy's obsm-style name given where the basis is meant
        warn(
            f"key_added={key_added!r} stores the codes in obsm['X_{key_added}']: key_added names the basis, "
            f"without 'X_' (key_added={key_added[2:]!r} gives obsm[{key_added!r}])"
        )
    if getattr(adata, "isbacked", False) and adata.is_view:
        raise ValueError(
            "adata is a slice of an AnnData opened with backed='r', which anndata cannot add codes to: "
            "load the slice first (adata = adata.to_memory())"
        )
    if use_rep is not None and layer is not None:
        raise ValueError("give use_rep or layer, not both")
    if use_rep is not None:
        if use_rep not in adata.obsm:
            raise ValueError(f"no adata.obsm[{use_rep!r}] (obsm keys: {', '.join(adata.obsm.keys()) or 'none'})")
        X, source = adata.obsm[use_rep], f"obsm[{use_rep!r}]"
    elif layer is not None:
        if layer not in adata.layers:
            raise ValueError(f"no adata.layers[{layer!r}] (layers: {', '.join(adata.layers.keys()) or 'none'})")
        X, source = adata.layers[layer], f"layers[{layer!r}]"
    elif getattr(adata, "isbacked", False):  # X stays in the file: read through it, as aedr fit reads an .h5ad
        X, source = H5adSource(adata.filename, normalize=normalize), "X"  # whatever its suffix: anndata opened it
    else:
        if adata.X is None:
            raise ValueError("adata.X is empty: pass layer= or use_rep=")
        X, source = adata.X, "X"
    return X, source


def _refuse_counts(X, source: str) -> None:
    from aedr.data.anndata import raw_counts_max

    largest = raw_counts_max(X)
    if largest is not None:
        if source == "X":
            how = "(sc.pp.normalize_total(adata); sc.pp.log1p(adata)), or pass the layer= or use_rep= that holds normalised values"
        else:  # scanpy's functions normalise X unless told the layer
            layer = source[len("layers[") : -1]
            how = f"(sc.pp.normalize_total(adata, layer={layer}); sc.pp.log1p(adata, layer={layer}), which replace its counts)"
        raise ValueError(
            f"adata.{source} holds raw counts (whole numbers up to {largest:.0f}); normalise them first {how}"
        )
