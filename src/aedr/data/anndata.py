"""AnnData's ``.h5ad`` files: rows from ``X`` or a layer (dense or sparse CSR), labels from ``obs``,
``X`` streamed from disk in backed mode (:class:`H5adSource`), and a copy of the file with the codes
in ``obsm``. Needs the ``anndata`` package (aedr's ``single-cell`` extra:
``pip install -c constraints.txt '.[single-cell]'`` in aedr's folder)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aedr._words import first_line, listed, plural
from aedr.data.sources import RowSource, file_stamp

COUNTS_MAX = 20  # whole-number data with values above this look like raw counts, which need normalising
TARGET_SUM = 1e4  # normalise: counts per this many per cell, then log1p (scanpy's normalize_total + log1p)


def _anndata():
    try:
        import anndata
    except ImportError:
        raise ValueError(
            "reading .h5ad files needs anndata: pip install anndata, or aedr's single-cell extra "
            "(pip install -c constraints.txt '.[single-cell]' in aedr's folder)"
        ) from None
    return anndata


def read_h5ad(path: Path, *, backed: bool = False):
    """The AnnData in ``path``, with a clear error for a file anndata cannot read (``backed``: opened
    read-only with ``X`` left on disk; the caller closes ``adata.file``)."""
    anndata = _anndata()
    try:
        return anndata.read_h5ad(path, backed="r") if backed else anndata.read_h5ad(path)
    except Exception as exc:  # h5py and anndata report damaged files with many exception types
        raise ValueError(f"{path}: cannot read as .h5ad ({first_line(exc)})") from exc


def h5ad_rows(path: Path, *, label_col=None, layer=None, normalize=False):
    """``(X, var_names, labels, obs)`` of the ``.h5ad`` file ``path``: ``X`` (or ``layer``) as a float
    array or CSR matrix, ``obs[label_col]`` as labels, and ``obs`` (every column, indexed by the
    obs names; :func:`obs_ids` gives them as the rows' IDs).

    Raw counts (whole numbers above :data:`COUNTS_MAX`) are refused unless ``normalize``, which scales
    each cell to :data:`TARGET_SUM` and takes ``log1p``, as scanpy's ``normalize_total`` and ``log1p``.
    """
    adata = read_h5ad(path)
    if layer is not None:
        if layer not in adata.layers:
            raise ValueError(f"{path}: no layer {layer!r} (layers: {listed(adata.layers.keys(), 10)})")
        X = adata.layers[layer]
    else:
        X = adata.X
        if X is None:
            raise ValueError(
                f"{path}: holds no X matrix; choose a layer with --layer (layers: {listed(adata.layers.keys(), 10)})"
            )
    X = _matrix(path, X, layer)
    labels = None
    if label_col is not None:
        if label_col not in adata.obs.columns:
            raise ValueError(f"{path}: no obs column {label_col!r} (obs columns: {listed(adata.obs.columns, 10)})")
        labels = adata.obs[label_col].reset_index(drop=True).rename(label_col)
    if normalize:
        refuse_normalised(path, X)
        X = normalize_counts(X, path)
    else:
        refuse_counts(path, X, layer)
    obs = adata.obs
    obs.attrs["palettes"] = scanpy_palettes(adata)  # the map colours the cells as scanpy's plots do
    return X, [str(v) for v in adata.var_names], labels, obs


def scanpy_palettes(adata) -> dict[str, dict[str, str]]:
    """The colours scanpy keeps for the categorical obs columns (``uns["<column>_colors"]``, one per
    category, in the categories' order) as ``{column: {category: "#rrggbb"}}``; a column whose list does
    not match its categories, or holds anything matplotlib does not read as a colour, is left out."""
    palettes = {}
    for column in adata.obs.columns:
        values, colours = adata.obs[column], adata.uns.get(f"{column}_colors")
        if not isinstance(values.dtype, pd.CategoricalDtype) or colours is None:
            continue
        colours = [str(c) for c in np.asarray(colours).ravel()]
        categories = [str(c) for c in values.cat.categories]
        if len(colours) != len(categories):
            continue
        from matplotlib.colors import to_hex  # only for a file that has colours: reading stays light

        try:  # '#rrggbb', which plotly takes, whatever matplotlib and scanpy took ('none', '#abcd'); no markup
            palettes[str(column)] = dict(zip(categories, map(to_hex, colours)))
        except ValueError:
            continue
    return palettes


def unique_names(names) -> list[str]:
    """Gene names made unique as anndata's ``var_names_make_unique`` makes them (a repeated name gets
    ``-1``, ``-2``, ...), whether the AnnData is in memory or backed: the names a model records."""
    index = pd.Index([str(n) for n in names])
    if index.is_unique:
        return list(index)
    with warnings.catch_warnings():  # anndata's note on names that already end in -1: the result is still unique
        warnings.simplefilter("ignore")
        return [str(n) for n in _anndata().utils.make_index_unique(index)]


def repeats_note(names, where: str) -> str | None:
    """A note when gene ``names`` repeat: the model's genes are then matched by name *and* order of
    appearance (``GENE``, ``GENE-1``), which no name can check; None when every name is unique."""
    counts = pd.Index([str(n) for n in names]).value_counts()
    repeated = list(counts[counts > 1].index)
    if not repeated:
        return None
    return (
        f"{where} repeats {plural(len(repeated), 'gene name')} ({listed(repeated, 3)}): each repeat is numbered by "
        "its order of appearance (GENE, GENE-1, ...), as var_names_make_unique numbers them, and matched to a "
        "model's genes so: in new cells whose repeats come in another order they trade places"
    )


OBS_NAMES = "obs_names"  # the column the cells' names (barcodes) are written under beside their codes


def obs_ids(obs: pd.DataFrame) -> pd.DataFrame | None:
    """An AnnData's obs names as the rows' IDs: one column, ``obs_names``, numbered from 0; None for
    anndata's default names ``"0", "1", ...``, which only number the rows.

    Examples
    --------
    >>> obs_ids(pd.DataFrame(index=["AAAC-1", "AAAG-1"])).to_dict("list")
    {'obs_names': ['AAAC-1', 'AAAG-1']}
    >>> obs_ids(pd.DataFrame(index=["0", "1"])) is None
    True
    """
    names = obs.index.astype(str).to_numpy()
    if np.array_equal(names, np.arange(len(names)).astype(str)):
        return None
    return pd.DataFrame({OBS_NAMES: names})


def _matrix(path: Path, X, layer):
    where = f"layer {layer!r}" if layer is not None else "X"
    if sp.issparse(X):
        from aedr._validation import sparse_problem

        if (problem := sparse_problem(X)) is not None:  # before csr_matrix or any statistic reads its indices
            raise ValueError(f"{path}: {where} is a malformed sparse matrix ({problem}); the file is damaged")
        X = sp.csr_matrix(X)
    else:
        X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path}: {where} holds no data (shape {X.shape})")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {where} holds {X.dtype}, not numbers")
    values = X.data if sp.issparse(X) else X
    if not np.isfinite(values).all():
        if sp.issparse(X):  # the rows of the stored values, without densifying the matrix
            rows = np.unique(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[~np.isfinite(X.data)])
        else:
            rows = np.unique(np.nonzero(~np.isfinite(X))[0])
        raise ValueError(
            f"{path}: {where} holds NaN or inf in {plural(len(rows), 'row')} (data "
            f"{'rows' if len(rows) > 1 else 'row'} {listed([str(r + 1) for r in rows], 5)}); fill or drop them in "
            "the AnnData first (--missing fills a table's empty cells, not an .h5ad's)"
        )
    dtype = np.float32 if X.dtype == np.float32 or X.dtype.kind in "biu" else np.float64
    return X.astype(dtype)


def raw_counts_max(X) -> float | None:
    """The largest value when ``X`` (dense or sparse) looks like raw counts (whole numbers above
    :data:`COUNTS_MAX`), else None."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size and np.issubdtype(values.dtype, np.number) and np.all(values == np.round(values)):
        largest = float(values.max())
        return largest if largest > COUNTS_MAX else None
    return None


def refuse_counts(path: Path, X, layer) -> None:
    """A ValueError when ``X`` looks like raw counts (:func:`raw_counts_max`), naming ``--normalize``."""
    largest = raw_counts_max(X)
    if largest is not None:
        where = f"layer {layer!r}" if layer is not None else "X"
        raise ValueError(
            f"{path}: {where} holds raw counts (whole numbers up to {largest:.0f}); normalise them first, "
            f"or pass --normalize (counts per {TARGET_SUM:,.0f} per cell, then log1p, as scanpy does)"
        )


def refuse_normalised(path, X) -> None:
    """A ValueError when ``X``, which ``--normalize`` is asked to normalise, already looks normalised and
    log-transformed: fractions, none above :data:`COUNTS_MAX` (counts, even an EM quantifier's fractional
    ones, reach beyond it). Told once per file: from all its values, or its first block when streamed."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size and values.max() <= COUNTS_MAX and not np.all(values == np.round(values)):
        raise ValueError(
            f"{path}: --normalize takes raw counts, but the values are fractions no larger than {values.max():.3g}: "
            "they look normalised and log-transformed already (a second log1p would distort them); "
            "leave out --normalize (--no-normalize for a model fitted with it)"
        )


def normalize_counts(X, path=None, first_row: int = 0):
    """Each row scaled to sum to :data:`TARGET_SUM`, then ``log1p`` (sparse stays sparse).

    Counts are never negative: a negative value raises a ValueError naming its row (counted from
    ``first_row`` + 1) and column, and ``path`` when given, instead of turning into NaN."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size and values.min() < 0:
        dense = X.toarray() if sp.issparse(X) else np.asarray(X)  # only on the way to the error
        row, column = (int(i) for i in np.argwhere(dense < 0)[0])
        where = f"{path}: " if path is not None else ""
        raise ValueError(
            f"{where}--normalize takes raw counts, but row {first_row + row + 1}, column {column + 1} holds "
            f"{dense[row, column]:g}; these look already transformed: leave out --normalize "
            "(--no-normalize for a model fitted with it)"
        )
    totals = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
    factors = TARGET_SUM / np.where(totals > 0, totals, 1.0)
    if sp.issparse(X):
        X = sp.csr_matrix(sp.diags(factors) @ X, dtype=np.float32)
        X.data = np.log1p(X.data)
        return X
    return np.log1p(X * factors[:, None]).astype(np.float32)


def write_h5ad_codes(
    source: Path, target: Path, codes: np.ndarray, key: str, settings: dict, labels: pd.Series | None = None
) -> bool:
    """Write a copy of the ``.h5ad`` file ``source`` to ``target`` with ``codes`` in ``obsm[key]``,
    ``settings`` in ``uns[key without 'X_']`` and ``labels`` (from a labels file: one per cell) in
    ``obs`` when it lacks them; ``source`` is only read. An ``obsm[key]`` that aedr did not write (its
    ``uns`` records none) is refused, never replaced. Returns whether the copy replaced an earlier
    model's codes there.

    The file is copied byte for byte and the entries written into the copy, so that its matrices are
    never read into memory (they are as the source stored them, compression included); a file of an
    anndata before 0.8, whose layout lacks the encoding attributes, is read whole and written again."""
    import shutil

    import h5py

    adata = read_h5ad(source, backed=True)
    try:
        _check_free(source, adata, key)
        obs, replaced = adata.obs, key in adata.obsm  # aedr's own codes: _check_free refuses any other
        with h5py.File(source, "r") as f:
            encoded = f.attrs.get("encoding-type") == "anndata"
    finally:
        adata.file.close()
    name = None if labels is None else str(labels.name or "label")
    added = name is not None and name not in obs.columns  # a labels file's, which obs lacks
    if added:
        obs = obs.assign(**{name: np.asarray(labels)})
    elif name is not None and not np.array_equal(
        obs[name].astype(str).to_numpy(), pd.Series(np.asarray(labels, dtype=object)).astype(str).to_numpy()
    ):  # a labels file's column of obs's name: the copy keeps obs's (s56 QA: the two outputs disagreed unsaid)
        from aedr._warnings import warn

        warn(
            f"{source}'s obs already holds a column {name!r}, with other values than the labels given: the copy "
            f"{Path(target).name} keeps obs's, and the embedding holds the labels given (name the labels' column "
            "otherwise to have both)"
        )
    entries = {"obsm": (key, np.asarray(codes, dtype=np.float32)), "uns": (key.removeprefix("X_"), settings)}
    if not encoded:
        adata = read_h5ad(source)
        adata.obs = obs
        for group, (entry, value) in entries.items():
            getattr(adata, group)[entry] = value
        adata.write_h5ad(target)
        return replaced
    write_elem = _anndata().io.write_elem
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as f:
        if added:
            del f["obs"]
            write_elem(f, "obs", obs)
        for group, (entry, value) in entries.items():
            if group not in f:
                write_elem(f, group, {entry: value})
                continue
            if entry in f[group]:  # aedr's own codes of an earlier run (_check_free): replaced
                del f[group][entry]
            write_elem(f[group], entry, value)
    return replaced


def fit_copies(folder: Path) -> tuple[str, ...]:
    """The names of the ``.h5ad`` files in the run folder ``folder`` that ``aedr fit`` wrote: copies of
    its input with the codes in ``obsm`` and its settings (an ``obsm_key`` and ``params``, no ``model``,
    which a transform's copy records) in ``uns``. A fit with ``--force`` replaces them with the run."""
    try:
        import h5py
    except ImportError:  # without anndata no copy was written here
        return ()
    names = []
    for path in sorted(Path(folder).glob("*.h5ad")):
        try:
            with h5py.File(path, "r") as f:
                entries = f["uns"].values() if isinstance(f.get("uns"), h5py.Group) else ()
                if any(
                    isinstance(e, h5py.Group) and {"obsm_key", "params"} <= set(e) and "model" not in e for e in entries
                ):
                    names.append(path.name)
        except (OSError, ValueError):  # not an HDF5 file: the user's, kept
            continue
    return tuple(names)


def check_obsm_key(path: Path, key: str) -> None:
    """A ValueError when the ``.h5ad`` file ``path`` holds an ``obsm[key]`` that aedr did not write (read
    in backed mode: the matrix stays on disk), before a fit whose copy would replace it."""
    adata = read_h5ad(path, backed=True)
    try:
        _check_free(path, adata, key)
    finally:
        adata.file.close()


def _recorded_keys(adata) -> list[str]:
    """The obsm keys of the codes aedr wrote into ``adata`` (each copy records its key in ``uns``)."""
    return [v.get("obsm_key") for v in adata.uns.values() if isinstance(v, dict) and "obsm_key" in v]


def _check_free(path, adata, key: str, option: str = "--obsm-key") -> None:
    """A ValueError when the codes' ``obsm[key]``, or the settings' ``uns[key without 'X_']``, would replace
    an entry aedr did not write (scanpy's ``X_pca``, ``uns["leiden"]``): aedr replaces only its own.
    ``path`` names the AnnData in the message, ``option`` what chooses the key."""
    if key in adata.obsm and key not in _recorded_keys(adata):
        raise ValueError(f"{path} already holds obsm[{key!r}], which aedr did not write: choose another {option}")
    entry = key.removeprefix("X_")
    settings = adata.uns.get(entry)
    if entry in adata.uns and not (isinstance(settings, dict) and settings.get("obsm_key") == key):
        raise ValueError(
            f"{path} already holds uns[{entry!r}], which aedr did not write (aedr keeps its settings for "
            f"obsm[{key!r}] there): choose another {option}"
        )


def check_key_added(adata, key_added: str, use_rep) -> None:
    """:func:`aedr.tl.autoencoder`'s and :func:`aedr.tl.transform`'s check, before any work: the codes'
    ``obsm["X_" + key_added]`` and ``uns[key_added]`` may replace only aedr's own entries, and never the
    representation the cells are read from (``use_rep``)."""
    key = f"X_{key_added}"
    if use_rep == key:
        raise ValueError(
            f"key_added={key_added!r} would store the codes in obsm[{key!r}], the use_rep they are computed from: "
            "choose another key_added"
        )
    _check_free("adata", adata, key, option="key_added")


def h5ad_codes(path: Path, are_codes=lambda names: False, key: str | None = None):
    """``(codes, names, obs, obs_names)`` of an ``.h5ad`` embedding: the codes ``aedr fit`` and
    ``aedr transform`` add to a copy of a file (``obsm[key]``, the key its ``uns`` records, else
    ``obsm["X_aedr"]``), or else ``X`` of an AnnData of codes (``--format h5ad``, a streamed
    file's transform): one whose ``var`` names ``are_codes(names)`` says are codes (``autoencoder0``, ``autoencoder1``, ...), never genes.
    ``X`` is read only in that case (AnnData's backed mode): a copy's genes stay on disk. ``key``: the
    obsm key to read; a file holding aedr's codes under more than one is refused without it."""
    adata = read_h5ad(path, backed=True)
    try:
        from aedr.data.formats import OBSM_KEY

        present = [k for k in dict.fromkeys([*_recorded_keys(adata), OBSM_KEY]) if k in adata.obsm]
        if key is not None and key not in adata.obsm:
            raise ValueError(f"{path}: no obsm[{key!r}] (obsm keys: {listed(adata.obsm.keys())})")
        if key is None and len(present) > 1:  # two models' codes (a fit's copy transformed again)
            raise ValueError(
                f"{path}: holds aedr's codes under {len(present)} obsm keys ({listed(present)}): choose one with "
                "--obsm-key"
            )
        key = key if key is not None else (present[0] if present else None)
        if key is not None:
            values = np.asarray(adata.obsm[key], dtype=np.float64)
            names = [f"{key.removeprefix('X_')}{i}" for i in range(values.shape[1] if values.ndim == 2 else 0)]
        elif not are_codes([str(v) for v in adata.var_names]):
            raise ValueError(
                f"{path}: holds no codes: no obsm['X_aedr'] (obsm keys: {listed(adata.obsm.keys())}), and X's "
                f"{adata.n_vars:,} columns are not named as codes (autoencoder0, autoencoder1, ...)"
            )
        else:
            X = adata.X[:]
            values = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
            names = [str(v) for v in adata.var_names]
        obs = adata.obs.reset_index(drop=True)
        obs.attrs["palettes"] = scanpy_palettes(adata)  # the cells coloured as scanpy's plots do
        return values, names, obs, [str(n) for n in adata.obs_names]
    finally:
        adata.file.close()


def write_rows_h5ad(path: Path, rows: pd.DataFrame, obs: pd.DataFrame, obs_names) -> None:
    """``rows`` (decoded cells: one column per gene) as an AnnData with ``obs`` (every annotation of the
    cells, as the file of codes held them) named by ``obs_names``."""
    obs = obs.copy()
    obs.index = pd.Index([str(n) for n in obs_names])
    _write_frame(path, rows, obs)


def write_codes_h5ad(path: Path, values: pd.DataFrame, labels: pd.Series | None, ids=None) -> None:
    """Codes as an AnnData of their own (``X``: the codes; ``obs``: the rows' IDs and the labels; the
    first ID column, as text, names the rows)."""
    names = [str(i) for i in range(len(values))] if ids is None else ids.iloc[:, 0].astype(str).tolist()
    obs = pd.DataFrame(index=names)
    for column in [] if ids is None else ids.columns:
        if column != OBS_NAMES:  # an AnnData's own names: the index already
            obs[str(column)] = ids[column].to_numpy()
    if labels is not None:
        obs[str(labels.name or "label")] = labels.to_numpy()
    _write_frame(path, values, obs)


def _write_frame(path: Path, frame: pd.DataFrame, obs: pd.DataFrame) -> None:
    """``frame``'s values (float32) as an AnnData's ``X``, its column names as ``var``'s, with ``obs``."""
    var = pd.DataFrame(index=[str(c) for c in frame.columns])
    _anndata().AnnData(X=frame.to_numpy(dtype=np.float32), obs=obs, var=var).write_h5ad(path)


def names_hint(var: pd.DataFrame, wanted) -> str:
    """For a file that lacks a model's genes by name: `` (var column NAME holds them: ...)`` when a
    column of ``var`` beside its names holds at least half of ``wanted`` (gene symbols beside Ensembl
    IDs, as 10x files keep them); else `` (its var names repeat: 'g0' 30 times ...)`` when its names
    repeat (numbered GENE, GENE-1, ..., they match none of the model's); else ``""``."""
    wanted = {str(n) for n in wanted}
    for column in var.columns:
        values = var[column]
        if values.dtype.kind in "OSU" or isinstance(values.dtype, pd.CategoricalDtype):
            if len(wanted & set(values.astype(str))) >= len(wanted) / 2:
                return (
                    f" (var column {column!r} holds them: make it the var names first, "
                    f"adata.var_names = adata.var[{column!r}].astype(str))"
                )
    counts = pd.Index([str(n) for n in var.index]).value_counts()
    repeated = counts[counts > 1]
    if not repeated.empty:
        shown = listed([f"{name!r} {count} times" for name, count in repeated.items()], 3)
        return f" (its var names repeat: {shown}; were its genes named as the fit's file named them?)"
    return ""


class H5adSource(RowSource):
    """An ``.h5ad`` file's ``X`` in AnnData's backed mode (dense or sparse CSR), read a block of cells at
    a time; ``normalize`` scales each cell's counts to 10,000 and takes log1p, a cell at a time.
    ``genes``: the genes to read, by name and in that order (a fitted model's), each cell normalised
    over all of its genes first, as in memory; a ValueError names those the file lacks."""

    def __init__(self, path, *, normalize: bool = False, genes=None):
        self.path = Path(path)
        self.adata = read_h5ad(self.path, backed=True)
        try:
            self._describe(normalize)
            self._positions, self._stored = None, self.shape
            if genes is not None and list(genes) != self.feature_names:
                from aedr._validation import column_positions

                try:
                    self._positions = column_positions(self.feature_names, genes, str(self.path), "genes")
                except ValueError as exc:
                    raise ValueError(f"{exc}{names_hint(self.adata.var, genes)}") from None
                self.feature_names = [str(g) for g in genes]
                self.shape = (self.shape[0], len(self.feature_names))
        except BaseException:  # a file refused once open is not left open
            self.close()
            raise

    def _describe(self, normalize: bool) -> None:
        """The open file's shape and gene names; ValueError for an X that cannot stream."""
        try:
            X = self.adata.X
        except KeyError:  # backed mode looks X up in the file
            X = None
        if X is None:
            raise ValueError(
                f"{self.path}: holds no X matrix, which a file streamed from disk is read from (a layer is read in "
                "memory: choose it with --layer and raise --memory-budget to hold it)"
            )
        if len(X.shape) != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{self.path}: X holds no data (shape {X.shape})")
        if np.dtype(X.dtype).kind not in "biuf":
            raise ValueError(f"{self.path}: X holds {X.dtype}, not numbers")
        self.shape = (int(X.shape[0]), int(X.shape[1]))
        self.feature_names = unique_names(self.adata.var_names)  # as read in memory: a repeated gene gets -1, ...
        self.normalize = normalize
        self.dtype = np.dtype(np.float32 if normalize else X.dtype)  # normalize_counts gives float32
        self._stamp = file_stamp(self.path)

    @property
    def read_shape(self) -> tuple[int, int]:
        """All of the file's genes: read whole, the file's X is read before the model's genes are taken."""
        return self._stored

    def first_cells(self, n: int | None = None):
        """The file's first ``n`` cells (None: its first block) as stored, dense or sparse, not normalised:
        what raw counts are told by before the whole file is read."""
        return self.adata.X[: min(self.shape[0], self.block_rows() if n is None else n)]

    def _read(self, start, stop):
        try:
            rows = self.adata.X[start:stop]
        except Exception as exc:
            raise ValueError(f"{self.path}: cannot read cells {start}-{stop} ({first_line(exc)})") from exc
        if (now := file_stamp(self.path)) != self._stamp:  # HDF5 reads past a cut file's end as zeros: told by the file
            what = "deleted or moved" if now is None else "truncated, rewritten or replaced"
            raise ValueError(
                f"{self.path}: changed while cells {start:,}-{stop:,} of {self.shape[0]:,} were read: the file was "
                f"{what} while it was being read"
            )
        if sp.issparse(rows):
            from aedr._validation import sparse_problem

            if (problem := sparse_problem(rows)) is not None:  # before any kernel reads its indices
                raise ValueError(f"{self.path}: cells {start:,}-{stop:,} are a malformed sparse matrix ({problem})")
        if self.normalize:
            rows = normalize_counts(rows, self.path, start)
        if self._positions is not None:
            rows = rows[:, self._positions]
        return rows.toarray() if sp.issparse(rows) else np.asarray(rows)

    def obs(self):
        return self.adata.obs.reset_index(drop=True)

    def ids(self):
        """The cells' obs names, as the rows' IDs (:func:`aedr.data.anndata.obs_ids`)."""
        return obs_ids(self.adata.obs)

    def close(self):
        if getattr(self, "adata", None) is not None and self.adata.isbacked:
            self.adata.file.close()
