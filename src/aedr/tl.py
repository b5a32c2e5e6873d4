"""scanpy-style tools: ``aedr.tl.autoencoder(adata)`` fits an autoencoder on an AnnData and stores the codes.

In a scanpy session::

    import scanpy as sc, aedr
    adata = sc.datasets.pbmc68k_reduced()
    aedr.tl.autoencoder(adata, neighbor_loss="tsne", use_rep="X_pca")
    sc.pl.embedding(adata, basis="aedr", color="bulk_labels")
"""

from __future__ import annotations

from contextlib import closing, nullcontext

import numpy as np
import scipy.sparse as sp


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
        Fit on ``adata.obsm[use_rep]`` (for example ``"X_pca"``) instead of ``X``.
    layer : str, optional
        Fit on ``adata.layers[layer]`` instead of ``X``.
    key_added : str, default="aedr"
        ``sc.pl.embedding(adata, basis=key_added)`` then plots the codes.
    random_state, **params
        :class:`aedr.Autoencoder`'s parameters (``neighbor_loss="tsne"`` keeps t-SNE's neighbourhoods).

    Returns
    -------
    Autoencoder
        The fitted estimator: ``.transform`` embeds new cells with the same genes (or representation).

    Sparse ``X`` or layers stay sparse: the network sees them densified a batch at a time. Raw counts
    (whole numbers above 20) are refused: normalise first (``sc.pp.normalize_total``, ``sc.pp.log1p``).
    An AnnData opened with ``backed="r"`` is fitted on its ``X`` read through the file (as
    :func:`aedr.open_rows` reads an ``.h5ad``): streamed a block of cells at a time when it would need
    more than the ``memory_budget`` parameter, as ``aedr fit`` does (its layers and ``obsm`` are in
    memory already).
    A slice of one is refused: anndata cannot add codes to it; ``adata.to_memory()`` first.
    """
    from aedr.data.stream import H5adSource
    from aedr.estimator import Autoencoder
    from aedr.runs import settings_of

    if not all(hasattr(adata, name) for name in ("obsm", "uns", "layers", "X")):
        raise TypeError(f"adata must be an anndata.AnnData, got {type(adata).__name__}")
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"key_added must be a non-empty string, got {key_added!r}")
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
        X, source = H5adSource(adata.filename), "X"  # whatever the file's suffix: anndata opened it
    else:
        if adata.X is None:
            raise ValueError("adata.X is empty: pass layer= or use_rep=")
        X, source = adata.X, "X"
    with closing(X) if isinstance(X, H5adSource) else nullcontext():
        if isinstance(X, H5adSource):
            _refuse_counts(X.first_cells(10_000), source)  # its first cells
        else:
            X = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
            _refuse_counts(X, source)
        estimator = Autoencoder(n_components, random_state=random_state, **params)
        codes = estimator.fit_transform(X)
    adata.obsm[f"X_{key_added}"] = np.asarray(codes, dtype=np.float32)  # an array whatever set_output chose
    adata.uns[key_added] = {"params": settings_of(estimator), "use_rep": use_rep or "", "layer": layer or ""}
    return estimator


def _refuse_counts(X, source: str) -> None:
    from aedr.data.anndata import raw_counts_max

    largest = raw_counts_max(X)
    if largest is not None:
        raise ValueError(
            f"adata.{source} holds raw counts (whole numbers up to {largest:.0f}); normalise them first "
            "(sc.pp.normalize_total(adata); sc.pp.log1p(adata)) or pass layer= / use_rep="
        )
