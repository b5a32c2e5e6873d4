""".h5ad files through anndata, sparse input, and aedr.tl.autoencoder with scanpy."""

import hashlib
import io
import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

import aedr
from aedr import Autoencoder
from aedr.cli import app

anndata = pytest.importorskip("anndata", reason="make test installs aedr[single-cell]")
sc = pytest.importorskip("scanpy", reason="make test installs aedr[single-cell]")
runner = CliRunner()
FAST = ["--max-iter", "3", "--hidden-layer-sizes", "16", "--quiet", "--threads", "1", "--random-state", "0"]


@pytest.fixture(scope="module")
def pbmc():
    """scanpy's bundled 700 PBMCs: scaled expression in X, raw counts (sparse) derived from its raw."""
    return sc.datasets.pbmc68k_reduced()


@pytest.fixture(scope="module")
def files(pbmc, tmp_path_factory):
    folder = tmp_path_factory.mktemp("h5ad")
    pbmc.write_h5ad(folder / "pbmc.h5ad")
    counts = sp.csr_matrix(np.round(np.expm1(pbmc.raw.X.toarray())).astype(np.float32))
    raw = anndata.AnnData(X=counts, obs=pbmc.obs.copy())
    raw.layers["counts"] = counts.copy()
    raw.write_h5ad(folder / "counts.h5ad")
    return folder


def fit(*args):
    return runner.invoke(app, ["fit", *[str(a) for a in args], *FAST])


def transform(*args):
    return runner.invoke(app, ["transform", *[str(a) for a in args]])


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fit_an_h5ad_writes_a_copy_with_the_codes_and_leaves_the_input_alone(files, pbmc, tmp_path):
    before = digest(files / "pbmc.h5ad")
    result = fit(files / "pbmc.h5ad", "--label-col", "bulk_labels", "--obsm-key", "X_ae", "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert digest(files / "pbmc.h5ad") == before
    out = anndata.read_h5ad(tmp_path / "run" / "pbmc.h5ad")
    assert out.obsm["X_ae"].shape == (700, 2) and out.uns["ae"]["params"]["max_iter"] == 3
    assert list(out.obs["bulk_labels"]) == list(pbmc.obs["bulk_labels"])
    embedding = pd.read_csv(tmp_path / "run" / "embedding.csv")
    assert embedding.columns[0] == "obs_names" and embedding["obs_names"].tolist() == pbmc.obs_names.tolist()
    np.testing.assert_allclose(out.obsm["X_ae"], embedding[["autoencoder0", "autoencoder1"]], rtol=1e-6)
    # a transform into an .h5ad writes a copy of the new file with the codes in obsm, as the fit does
    result = transform(tmp_path / "run", files / "pbmc.h5ad", "-o", tmp_path / "new.h5ad", "--obsm-key", "X_new")
    assert result.exit_code == 0 and "700 rows in obsm['X_new']" in result.stderr, result.output
    assert "keeping" not in result.stderr  # obs keeps the label: no note
    copy = anndata.read_h5ad(tmp_path / "new.h5ad")
    assert copy.obs_names.tolist() == pbmc.obs_names.tolist() and copy.var_names.tolist() == pbmc.var_names.tolist()
    assert copy.obs.equals(pbmc.obs) and sorted(copy.obsm) == sorted([*pbmc.obsm, "X_new"])
    np.testing.assert_allclose(copy.obsm["X_new"], out.obsm["X_ae"], rtol=1e-6)  # the fitted cells' own codes
    assert copy.uns["new"]["obsm_key"] == "X_new" and copy.uns["new"]["model"] == str(tmp_path / "run")
    html = (tmp_path / "run" / "map.html").read_text()
    assert '"label":"louvain"' in html and '"label":"bulk_labels"' in html  # obs columns to colour by
    # a fit with --force into the run replaces the earlier fit's copy (its codes belong to the old model),
    # and keeps a transform's copy and the user's own .h5ad there
    shutil.copy(tmp_path / "new.h5ad", tmp_path / "run" / "new.h5ad")
    shutil.copy(files / "counts.h5ad", tmp_path / "run" / "counts.h5ad")
    pd.DataFrame(pbmc.obsm["X_pca"][:, :5]).to_csv(tmp_path / "pca.csv", index=False)
    assert fit(tmp_path / "pca.csv", "-o", tmp_path / "run", "--force").exit_code == 0
    assert not (tmp_path / "run" / "pbmc.h5ad").exists()
    assert (tmp_path / "run" / "new.h5ad").is_file() and (tmp_path / "run" / "counts.h5ad").is_file()


def test_transform_writes_an_h5ad_copy_that_inverse_transform_and_explore_read(pbmc, tmp_path):
    """transform's .h5ad copy holds the new cells' genes and codes; inverse-transform decodes its codes
    (obsm, the cells' names kept), explore draws it; a streamed file gets an AnnData of codes, said so."""
    X = sp.csr_matrix(np.abs(pbmc.X[:, :40]))
    cells = anndata.AnnData(X=X, obs=pbmc.obs.copy(), var=pbmc.var.iloc[:40].copy())
    cells.write_h5ad(tmp_path / "cells.h5ad")
    cells[:100, ::-1].copy().write_h5ad(tmp_path / "new.h5ad")  # new cells, their genes in another order
    assert fit(tmp_path / "cells.h5ad", "-o", tmp_path / "run").exit_code == 0
    result = transform(tmp_path / "run", tmp_path / "new.h5ad", "-o", tmp_path / "out.h5ad")
    assert result.exit_code == 0, result.output
    copy = anndata.read_h5ad(tmp_path / "out.h5ad")
    assert copy.shape == (100, 40) and copy.var_names.tolist() == cells.var_names[::-1].tolist()
    stdout = transform(tmp_path / "run", tmp_path / "new.h5ad").stdout  # the same codes, as CSV
    np.testing.assert_allclose(
        copy.obsm["X_aedr"], pd.read_csv(io.StringIO(stdout))[["autoencoder0", "autoencoder1"]], rtol=1e-6
    )
    decoded = runner.invoke(
        app,
        [
            "inverse-transform",
            str(tmp_path / "run"),
            str(tmp_path / "out.h5ad"),
            "--label-col",
            "bulk_labels",
            "-o",
            str(tmp_path / "decoded.csv"),
        ],
    )
    assert decoded.exit_code == 0, decoded.output
    rows = pd.read_csv(tmp_path / "decoded.csv")
    assert rows["obs_names"].tolist() == cells.obs_names[:100].tolist()
    assert rows["bulk_labels"].tolist() == cells.obs["bulk_labels"][:100].tolist()
    assert rows.columns[1:41].tolist() == cells.var_names.tolist()  # decoded in the model's genes
    # to an .h5ad: the cells with every obs annotation the copy held, no --label-col needed (single-cell QA 9)
    decoded = runner.invoke(
        app, ["inverse-transform", str(tmp_path / "run"), str(tmp_path / "out.h5ad"), "-o", str(tmp_path / "d.h5ad")]
    )
    assert decoded.exit_code == 0 and "100 cells x 40 genes, the obs of" in decoded.stderr, decoded.output
    back = anndata.read_h5ad(tmp_path / "d.h5ad")
    assert back.obs_names.tolist() == cells.obs_names[:100].tolist() and back.obs.equals(copy.obs)
    np.testing.assert_allclose(back.X, rows.iloc[:, 1:41].to_numpy(), rtol=1e-5, atol=1e-6)
    refused = runner.invoke(
        app, ["inverse-transform", str(tmp_path / "run"), str(tmp_path / "out.h5ad"), "--columns", "a"]
    )
    assert refused.exit_code == 1 and "--columns apply to tables" in refused.stderr
    drawn = runner.invoke(app, ["explore", str(tmp_path / "out.h5ad"), "-o", str(tmp_path / "out.html")])
    assert drawn.exit_code == 0 and "100 points" in drawn.stderr, drawn.output
    streamed = transform(
        tmp_path / "run", tmp_path / "new.h5ad", "-o", tmp_path / "codes.h5ad", "--memory-budget", "1K"
    )
    assert streamed.exit_code == 0 and "AnnData of the codes alone" in streamed.stderr, streamed.output
    codes = anndata.read_h5ad(tmp_path / "codes.h5ad")
    assert (
        codes.var_names.tolist() == ["autoencoder0", "autoencoder1"]
        and codes.obs_names.tolist() == copy.obs_names.tolist()
    )
    np.testing.assert_allclose(codes.X, copy.obsm["X_aedr"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key", ["", "X_", "a/b"])
def test_an_obsm_key_anndata_cannot_write_is_refused_before_any_work(files, tmp_path, key):
    for command in (
        ["fit", str(files / "pbmc.h5ad"), "-o", str(tmp_path / "r")],
        ["transform", str(tmp_path / "nomodel"), str(files / "pbmc.h5ad"), "-o", str(tmp_path / "o.h5ad")],
    ):
        result = runner.invoke(app, [*command, "--obsm-key", key])
        assert result.exit_code == 2 and "cannot name an .h5ad obsm entry" in result.output
    assert not (tmp_path / "r").exists() and not (tmp_path / "o.h5ad").exists()


def test_an_obsm_key_is_refused_where_no_h5ad_holds_the_codes(files, tmp_path):
    """--obsm-key was ignored silently where there was no .h5ad copy to write or .h5ad of codes to read."""
    rows = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 4)), columns=list("abcd"))
    rows.to_csv(tmp_path / "rows.csv", index=False)
    refused = fit(tmp_path / "rows.csv", "--obsm-key", "X_ae", "-o", tmp_path / "r")
    assert refused.exit_code == 2 and "--obsm-key" in refused.output and "DATA is csv" in refused.output
    assert not (tmp_path / "r").exists()
    assert fit(tmp_path / "rows.csv", "-o", tmp_path / "r").exit_code == 0
    assert fit(files / "pbmc.h5ad", "-o", tmp_path / "cells").exit_code == 0
    for data, output, why in (
        (tmp_path / "rows.csv", tmp_path / "codes.h5ad", "DATA is csv"),
        (files / "pbmc.h5ad", tmp_path / "codes.csv", "the output is csv"),
        (files / "pbmc.h5ad", "-", "the output is standard output"),
    ):
        refused = transform(tmp_path / "cells", data, "-o", output, "--obsm-key", "X_ae")
        assert refused.exit_code == 2 and why in refused.output, refused.output
        assert str(output) == "-" or not output.exists()
    codes = tmp_path / "r" / "embedding.csv"
    for command in (["inverse-transform", tmp_path / "r", codes], ["explore", codes], ["plot", codes]):
        output = tmp_path / f"out.{dict(explore='html', plot='png').get(command[0], 'csv')}"
        refused = runner.invoke(app, [*map(str, command), "--obsm-key", "X_ae", "-o", str(output)])
        assert refused.exit_code == 2 and "an .h5ad file's obsm, and embedding.csv is csv" in refused.output
        assert not output.exists()


def test_raw_counts_are_refused_with_the_option_that_normalises_them(files, tmp_path):
    for budget in ([], ["--memory-budget", "0"]):  # read in memory, streamed from disk
        result = fit(files / "counts.h5ad", "-o", tmp_path / "r", *budget)
        assert result.exit_code == 1 and "raw counts" in result.stderr and "--normalize" in result.stderr
        assert not (tmp_path / "r").exists()
    result = fit(
        files / "counts.h5ad", "--layer", "counts", "--normalize", "--label-col", "louvain", "-o", tmp_path / "r"
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["n_samples"] == 700 and metrics["trustworthiness"] > 0.7
    settings = anndata.read_h5ad(tmp_path / "r" / "counts.h5ad").uns["aedr"]  # how the codes were made
    assert settings["layer"] == "counts" and settings["normalize"] and settings["obsm_key"] == "X_aedr"
    # evaluate reads the file as the fit did (the model's layer, normalised), or as told: X (raw counts too)
    # streamed, which a layer cannot be
    for read in ([], ["--layer", "counts", "--normalize"], ["--layer", "X", "--memory-budget", "0"]):
        args = ["evaluate", str(tmp_path / "r"), str(files / "counts.h5ad"), *read]
        scored = runner.invoke(app, [*args, "--json"])
        assert scored.exit_code == 0, scored.output
        assert json.loads(scored.stdout)["trustworthiness"] == pytest.approx(metrics["trustworthiness"], abs=0.02)
    streamed = runner.invoke(app, ["evaluate", str(tmp_path / "r"), str(files / "counts.h5ad"), "--memory-budget", "0"])
    assert streamed.exit_code == 1 and "does not take --layer" in streamed.stderr and "--layer X" in streamed.stderr


def test_new_cells_are_read_as_the_fit_read_its_cells(files, pbmc, tmp_path):
    """A fit on a layer of raw counts, normalised, saves how it read them: transform, evaluate and the
    .h5ad copy read new cells alike unless told otherwise (--layer X, --no-normalize)."""
    query = anndata.read_h5ad(files / "counts.h5ad")
    query.X = sp.csr_matrix(pbmc.X)  # X scaled as pbmc's: what an encoder of the normalised layer must not read
    query.write_h5ad(tmp_path / "query.h5ad")
    result = fit(files / "counts.h5ad", "--layer", "counts", "--normalize", "-o", tmp_path / "r")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r" / "model" / "config.json").read_text())
    assert config["reading"] == {"layer": "counts", "normalize": True, "missing": None}
    assert aedr.persistence.saved_reading(tmp_path / "r") == config["reading"]
    fitted = pd.read_csv(tmp_path / "r" / "embedding.csv").filter(like="autoencoder").to_numpy()
    for given in ([], ["--layer", "counts", "--normalize"]):
        result = transform(tmp_path / "r", tmp_path / "query.h5ad", *given, "-o", tmp_path / "q.csv", "--force")
        assert result.exit_code == 0, result.output
        codes = pd.read_csv(tmp_path / "q.csv").filter(like="autoencoder").to_numpy()
        np.testing.assert_allclose(codes, fitted, rtol=1e-5, atol=1e-6)  # the same cells' counts: the same codes
    for backed in (None, "r"):  # aedr.tl given the model folder reads them alike, in memory or through the file
        cells = anndata.read_h5ad(tmp_path / "query.h5ad", backed=backed)
        np.testing.assert_allclose(aedr.tl.transform(cells, tmp_path / "r"), fitted, rtol=1e-5, atol=1e-6)
    # the estimator alone knows no reading: as given; the advice normalises that layer, not X as scanpy's defaults
    with pytest.raises(ValueError, match=r"holds raw counts .*sc\.pp\.normalize_total\(adata, layer='counts'\)"):
        aedr.tl.transform(anndata.read_h5ad(tmp_path / "query.h5ad"), aedr.load(tmp_path / "r"), layer="counts")
    result = transform(tmp_path / "r", tmp_path / "query.h5ad", "-o", tmp_path / "q.h5ad")
    assert result.exit_code == 0, result.output
    settings = anndata.read_h5ad(tmp_path / "q.h5ad").uns["aedr"]
    assert settings["layer"] == "counts" and settings["normalize"]
    # told otherwise: X, normalised as the model was, is refused (already log-transformed); as given, read
    result = transform(tmp_path / "r", tmp_path / "query.h5ad", "--layer", "X", "-o", tmp_path / "x.csv")
    assert result.exit_code == 1 and "--no-normalize for a model fitted with it" in result.stderr
    result = transform(
        tmp_path / "r", tmp_path / "query.h5ad", "--layer", "X", "--no-normalize", "-o", tmp_path / "x.csv"
    )
    assert result.exit_code == 0, result.output
    codes = pd.read_csv(tmp_path / "x.csv").filter(like="autoencoder").to_numpy()
    assert not np.allclose(codes, fitted, atol=1e-3)
    # the layer kept, counts not normalised: refused as raw counts
    result = transform(tmp_path / "r", tmp_path / "query.h5ad", "--no-normalize", "-o", tmp_path / "n.csv")
    assert result.exit_code == 1 and "layer 'counts' holds raw counts" in result.stderr
    # the README's command on a file beyond the memory budget: the layer is refused first, not X's values
    result = fit(
        tmp_path / "query.h5ad", "--layer", "counts", "--normalize", "--memory-budget", "0", "-o", tmp_path / "s"
    )
    assert result.exit_code == 1 and "does not take --layer" in result.stderr and "leave out" not in result.stderr
    # a model fitted on X as given keeps no reading block
    result = fit(files / "pbmc.h5ad", "-o", tmp_path / "plain")
    assert result.exit_code == 0 and "reading" not in json.loads(
        (tmp_path / "plain" / "model" / "config.json").read_text()
    )


@pytest.mark.parametrize(
    "make, args, fragments",
    [
        (lambda a: a, ["--layer", "spliced"], ["no layer 'spliced'", "layers: none"]),
        (lambda a: a, ["--label-col", "cell_type"], ["no obs column 'cell_type'", "bulk_labels"]),
        (lambda a: anndata.AnnData(obs=a.obs, var=a.var), [], ["holds no X matrix", "--layer"]),
        (lambda a: _with_value(a, np.inf), [], ["NaN or inf", "in 1 row (data row 4)"]),
        (
            lambda a: _with_value(_counts_like(a), -2.0),
            ["--normalize"],
            ["row 4, column 6 holds -2", "leave out --normalize"],
        ),
    ],
    ids=["missing layer", "missing obs key", "no X", "inf in sparse X", "negative counts to normalise"],
)
def test_bad_h5ad_files_get_one_line_errors_and_nothing_is_written(pbmc, tmp_path, make, args, fragments):
    make(pbmc.copy()).write_h5ad(tmp_path / "bad.h5ad")
    result = fit(tmp_path / "bad.h5ad", "-o", tmp_path / "r", *args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "bad.h5ad" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not (tmp_path / "r").exists()


def _counts_like(adata):
    adata.X = np.abs(adata.X)  # pbmc's X is scaled, negative in places: its magnitudes stand in for counts
    return adata


def _with_value(adata, value):
    X = sp.csr_matrix(adata.X)
    X[3, 5] = value
    adata.X = X
    return adata


def test_a_file_of_gene_ids_whose_var_holds_the_models_gene_symbols_is_told_so(files, pbmc, tmp_path):
    """10x files name genes by Ensembl ID and keep the symbols in var: "lacks 765 of the model's 765
    features" left the user to find the column (single-cell QA 10)."""
    ids = pbmc.copy()
    ids.var["gene_symbols"] = list(ids.var_names)
    ids.var_names = [f"ENSG{i:011d}" for i in range(ids.n_vars)]
    ids.write_h5ad(tmp_path / "ids.h5ad")
    assert fit(files / "pbmc.h5ad", "-o", tmp_path / "run").exit_code == 0
    hint = "var column 'gene_symbols' holds them: make it the var names first"
    for budget in ("1G", "0"):  # read whole, streamed
        result = transform(tmp_path / "run", tmp_path / "ids.h5ad", "--memory-budget", budget)
        assert result.exit_code == 1 and "lacks 765 of the model's 765" in result.stderr and hint in result.stderr
    with pytest.raises(ValueError, match=hint):
        aedr.tl.transform(ids, aedr.load(tmp_path / "run"))


def test_a_file_whose_gene_names_repeat_is_told_so_where_it_lacks_the_models_genes(files, pbmc, tmp_path):
    """ "lacks 764 of the model's 765 features" named the genes it lacked, not that its own names repeat."""
    same = pbmc.copy()
    same.var_names = ["CD3E"] * same.n_vars
    same.write_h5ad(tmp_path / "same.h5ad")
    assert fit(files / "pbmc.h5ad", "-o", tmp_path / "run").exit_code == 0
    for budget in ("1G", "0"):  # read whole, streamed
        result = transform(tmp_path / "run", tmp_path / "same.h5ad", "--memory-budget", budget)
        assert result.exit_code == 1 and "its var names repeat: 'CD3E' 765 times" in result.stderr, result.output


def test_repeated_cell_names_are_noted(pbmc, tmp_path):
    """The embedding joins codes to cells by name: repeated names passed without a word (single-cell QA 11)."""
    cells = pbmc.copy()
    cells.obs_names = [*cells.obs_names[:-3], *cells.obs_names[:3]]
    cells.write_h5ad(tmp_path / "twice.h5ad")
    result = fit(tmp_path / "twice.h5ad", "-o", tmp_path / "r")
    assert result.exit_code == 0 and f"3 cell names repeat (first: {pbmc.obs_names[0]!r})" in result.stderr


def test_labels_of_a_file_named_like_an_obs_column_are_told_to_be_missing_from_the_copy(files, pbmc, tmp_path):
    """--labels whose column is named like an obs column (cell_type): embedding.csv held the file's labels and
    the .h5ad copy obs's own, and nothing said the two outputs disagree (s56 QA)."""
    other = np.where(np.arange(pbmc.n_obs) % 2, "x", "y")
    pd.DataFrame({"bulk_labels": other}).to_csv(tmp_path / "other.csv", index=False)
    result = fit(files / "pbmc.h5ad", "--labels", tmp_path / "other.csv", "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "obs already holds a column 'bulk_labels', with other values than the labels given" in result.stderr
    copy = anndata.read_h5ad(tmp_path / "run" / "pbmc.h5ad")
    assert list(copy.obs["bulk_labels"]) == list(pbmc.obs["bulk_labels"])  # kept, and now said
    pd.DataFrame({"bulk_labels": pbmc.obs["bulk_labels"].astype(str)}).to_csv(tmp_path / "same.csv", index=False)
    same = fit(files / "pbmc.h5ad", "--labels", tmp_path / "same.csv", "-o", tmp_path / "same")
    assert same.exit_code == 0 and "obs already holds" not in same.stderr


def test_the_code_names_an_anndata_of_codes_is_told_by_are_the_estimators_own():
    from aedr import VariationalAutoencoder
    from aedr.cli.columns import CODE_PREFIXES

    X = np.random.default_rng(0).normal(size=(30, 4))
    names = {str(e(2, max_iter=1).fit(X).get_feature_names_out()[0]) for e in (Autoencoder, VariationalAutoencoder)}
    assert names == {f"{prefix}0" for prefix in CODE_PREFIXES}


def test_an_h5ad_named_like_the_embedding_file_is_refused_before_its_copy_would_replace_it(files, tmp_path):
    shutil.copy(files / "pbmc.h5ad", tmp_path / "embedding.h5ad")
    result = fit(tmp_path / "embedding.h5ad", "--format", "h5ad", "-o", tmp_path / "r")
    assert result.exit_code == 1 and not (tmp_path / "r").exists()
    assert "embedding.h5ad: the run's copy of it, with the codes in obsm, would have the name of" in result.output


def test_nan_in_an_h5ad_is_refused_naming_its_rows_from_1_and_what_to_do(tmp_path):
    X = np.random.default_rng(1).poisson(2, (150, 30)).astype(np.float64)
    X[[3, 9], 3] = np.nan
    anndata.AnnData(X=X).write_h5ad(tmp_path / "nan.h5ad")
    for missing in ("error", "mean"):
        result = fit(tmp_path / "nan.h5ad", "--missing", missing, "--normalize", "-o", tmp_path / "r")
        assert result.exit_code == 1 and not (tmp_path / "r").exists()
        assert "X holds NaN or inf in 2 rows (data rows 4, 10); fill or drop them in the AnnData first" in result.output


def test_a_damaged_h5ad_names_the_file(tmp_path):
    (tmp_path / "broken.h5ad").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 100)
    result = fit(tmp_path / "broken.h5ad", "-o", tmp_path / "r")
    assert result.exit_code == 1 and "broken.h5ad: cannot read as .h5ad" in result.stderr
    # a gene index beyond the matrix: refused in memory and streamed, before a kernel reads out of bounds
    cells = anndata.AnnData(X=sp.random(80, 6, density=0.4, format="csr", random_state=0, dtype=np.float32))
    cells.write_h5ad(tmp_path / "cells.h5ad")
    import h5py

    with h5py.File(tmp_path / "cells.h5ad", "r+") as file:
        file["X/indices"][0] = 60
    for budget in ("1G", "0"):
        result = fit(tmp_path / "cells.h5ad", "-o", tmp_path / "r", "--memory-budget", budget)
        assert result.exit_code == 1 and "a column index out of range: 60 (columns 0 to 5)" in result.stderr
        assert not (tmp_path / "r").exists()


def test_tl_autoencoder_stores_obsm_and_uns_for_scanpy(pbmc):
    import matplotlib

    matplotlib.use("Agg")
    adata = pbmc.copy()
    estimator = aedr.tl.autoencoder(adata, max_iter=5, random_state=0, use_rep="X_pca")
    assert adata.obsm["X_aedr"].shape == (700, 2) and adata.uns["aedr"]["use_rep"] == "X_pca"
    np.testing.assert_allclose(adata.obsm["X_aedr"], estimator.transform(adata.obsm["X_pca"]), rtol=1e-5, atol=1e-6)
    sc.pl.embedding(adata, basis="aedr", color="bulk_labels", show=False)  # scanpy finds and plots it
    with pytest.raises(ValueError, match="X is an AnnData; pass the rows the model was fitted on"):
        estimator.transform(adata)
    import sklearn

    with sklearn.config_context(transform_output="pandas"):  # the codes are stored as an array all the same
        aedr.tl.autoencoder(adata, max_iter=1, random_state=0, use_rep="X_pca", key_added="pd")
    assert isinstance(adata.obsm["X_pd"], np.ndarray) and adata.obsm["X_pd"].shape == (700, 2)
    with pytest.raises(ValueError, match="no adata.obsm\\['X_umap3'\\]"):
        aedr.tl.autoencoder(adata, use_rep="X_umap3")
    counts = anndata.AnnData(X=sp.csr_matrix(np.round(np.expm1(pbmc.raw.X.toarray()))))
    with pytest.raises(ValueError, match="raw counts"):
        aedr.tl.autoencoder(counts)
    genes = aedr.tl.autoencoder(adata, max_iter=1, random_state=None, key_added="genes")
    assert adata.uns["genes"]["obsm_key"] == "X_genes"
    seed = adata.uns["genes"]["params"]["random_state"]  # drawn, and recorded: it repeats the fit
    again = aedr.tl.autoencoder(adata.copy(), max_iter=1, random_state=seed, key_added="again")
    np.testing.assert_array_equal(again.transform(adata.X), genes.transform(adata.X))
    counts.var_names = adata.var_names
    with pytest.raises(ValueError, match=r"adata.X holds raw counts"):  # new cells as the fit's: not raw counts
        aedr.tl.transform(counts, genes)
    with pytest.raises(TypeError, match="adata must be an anndata.AnnData, got ndarray"):
        aedr.tl.autoencoder(adata.obsm["X_pca"])
    with pytest.raises(ValueError, match="key_added must be a non-empty string"):
        aedr.tl.autoencoder(adata, key_added="", use_rep="X_pca")


def test_tl_replaces_only_its_own_entries_and_never_its_input(pbmc):
    """key_added="pca" replaced the X_pca the model was fitted on, and scanpy's uns["pca"], with no word;
    "umap" or "neighbors" broke scanpy's own tools. As aedr fit refuses --obsm-key X_pca, before any work."""
    adata = pbmc.copy()
    pca, uns = adata.obsm["X_pca"].copy(), set(adata.uns)
    for key in ("pca", "neighbors"):  # scanpy's: obsm["X_pca"], and uns["neighbors"] without an obsm entry
        with pytest.raises(ValueError, match=r"adata already holds \w+\['\w*'\], which aedr did not write.*key_added"):
            aedr.tl.autoencoder(adata, max_iter=1, key_added=key)
    with pytest.raises(ValueError, match=r"key_added='pca' would store the codes in obsm\['X_pca'\], the use_rep"):
        aedr.tl.autoencoder(adata, max_iter=1, use_rep="X_pca", key_added="pca")
    estimator = aedr.tl.autoencoder(adata, max_iter=1, use_rep="X_pca")
    with pytest.raises(ValueError, match=r"obsm\['X_aedr'\], the use_rep they are computed from"):
        aedr.tl.autoencoder(adata, max_iter=1, use_rep="X_aedr")
    with pytest.raises(ValueError, match=r"uns\[.neighbors.\], which aedr did not write .*: choose another key_added"):
        aedr.tl.transform(adata, estimator, use_rep="X_pca", key_added="neighbors")
    aedr.tl.autoencoder(adata, max_iter=1, use_rep="X_pca", random_state=1)  # its own codes: replaced
    with pytest.warns(aedr.AedrWarning, match=r"obsm\['X_X_ae'\]: key_added names the basis, without 'X_'"):
        aedr.tl.transform(adata, estimator, use_rep="X_pca", key_added="X_ae")
    assert "X_X_ae" in adata.obsm
    del adata.obsm["X_X_ae"], adata.uns["X_ae"]
    aedr.tl.transform(adata, estimator, use_rep="X_pca")
    np.testing.assert_array_equal(adata.obsm["X_pca"], pca)
    assert set(adata.uns) == uns | {"aedr"}


def test_tl_reads_X_for_use_rep_or_layer_X_as_scanpy_and_the_cli_do(pbmc):
    """use_rep="X" (scanpy's name for adata.X) and layer="X" (aedr fit --layer X) were missing keys."""
    adata = pbmc.copy()
    plain = aedr.tl.autoencoder(adata, max_iter=1, n_jobs=1, key_added="plain").transform(adata.X)
    for given in ({"use_rep": "X"}, {"layer": "X"}):
        estimator = aedr.tl.autoencoder(adata, max_iter=1, n_jobs=1, key_added="x", **given)
        np.testing.assert_array_equal(estimator.transform(adata.X), plain)
        assert adata.uns["x"]["use_rep"] == adata.uns["x"]["layer"] == "" and estimator.feature_names_in_ is not None
        np.testing.assert_array_equal(aedr.tl.transform(adata, estimator, key_added="x", **given), adata.obsm["X_x"])


def test_tl_fits_sparse_cells_with_a_neighbour_loss_and_records_an_optimizer_class_by_name(pbmc):
    """Both failed after or before the fit: a neighbour fit of sparse cells crashed, and an optimizer given
    as a class trained, then could not be recorded in uns, and the fitted estimator was lost."""
    import torch

    cells = anndata.AnnData(X=sp.csr_matrix(pbmc.raw.X[:300]))  # log-normalised expression, sparse
    params = dict(max_iter=4, hidden_layer_sizes=(16,), n_jobs=1, optimizer=torch.optim.AdamW)
    estimator = aedr.tl.autoencoder(cells, neighbor_loss="tsne", **params)
    assert cells.uns["aedr"]["params"]["optimizer"] == "torch.optim.adamw.AdamW"
    assert cells.uns["aedr"]["params"]["neighbor_loss"] == "tsne"
    np.testing.assert_array_equal(cells.obsm["X_aedr"], estimator.transform(cells.X))


def test_tl_autoencoder_fits_an_anndata_opened_backed(files):
    backed = anndata.read_h5ad(files / "pbmc.h5ad", backed="r")  # X stays in the file
    estimator = aedr.tl.autoencoder(backed, max_iter=3, hidden_layer_sizes=(16,), memory_budget=0)  # 0: streamed
    assert backed.isbacked and backed.obsm["X_aedr"].shape == (700, 2) and backed.uns["aedr"]["layer"] == ""
    in_memory = anndata.read_h5ad(files / "pbmc.h5ad")
    np.testing.assert_allclose(backed.obsm["X_aedr"], estimator.transform(in_memory.to_df()), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="raw counts"):  # looked for in the file's first cells
        aedr.tl.autoencoder(anndata.read_h5ad(files / "counts.h5ad", backed="r"))
    with pytest.raises(ValueError, match="a slice of an AnnData opened with backed='r'.*to_memory"):
        aedr.tl.autoencoder(backed[:100])
    backed.file.close()
    (files / "pbmc.h5").write_bytes((files / "pbmc.h5ad").read_bytes())  # anndata reads any name
    other = anndata.read_h5ad(files / "pbmc.h5", backed="r")
    aedr.tl.autoencoder(other, max_iter=1, hidden_layer_sizes=(16,))
    assert other.obsm["X_aedr"].shape == (700, 2)
    other.file.close()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_input_fits_as_its_dense_form_does(dtype):
    """In float32 too, anndata's usual type: dense float32 rows were summed in float32 for the scaling,
    sparse ones in float64, and the fits drew apart (codes 2.3 apart, their spread 1.3; single-cell QA 8)."""
    X = (sp.random(400, 60, density=0.1, random_state=0, format="csr") * 5).astype(dtype)
    sparse = Autoencoder(max_iter=5, random_state=0).fit(X)
    dense = Autoencoder(max_iter=5, random_state=0).fit(X.toarray())
    np.testing.assert_allclose(sparse.scaler_.offset, dense.scaler_.offset, rtol=1e-12)
    np.testing.assert_allclose(sparse.scaler_.scale, dense.scaler_.scale, rtol=1e-12)
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X.toarray()), rtol=1e-5, atol=1e-6)
    assert sparse.score(X) == pytest.approx(dense.score(X.toarray()), rel=1e-6)


def test_sparse_input_is_never_densified_whole():
    """40,000 x 5,000 sparse rows (0.8 GB as dense float32): fit and transform stay far below that."""
    script = (
        "import resource, numpy as np, scipy.sparse as sp, torch\n"
        "from aedr import Autoencoder\n"
        "torch.set_num_threads(1)\n"
        "X = sp.random(40000, 5000, density=0.001, random_state=0, format='csr', dtype=np.float32)\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "ae = Autoencoder(max_iter=1, hidden_layer_sizes=(8,), random_state=0).fit(X)\n"
        "Z = ae.transform(X)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)\n"
    )
    grown_mb = float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert grown_mb < 300, f"peak memory grew by {grown_mb:.0f} MB"


def test_a_sparse_h5ad_model_matches_genes_by_name(pbmc, tmp_path):
    """New cells with the genes in another order get the same codes; a missing gene is named."""
    X = sp.csr_matrix(np.abs(pbmc.X[:, :40]))
    cells = anndata.AnnData(X=X, obs=pbmc.obs.copy(), var=pbmc.var.iloc[:40].copy())
    cells.write_h5ad(tmp_path / "cells.h5ad")
    cells[:, ::-1].copy().write_h5ad(tmp_path / "reversed.h5ad")
    cells[:, 1:].copy().write_h5ad(tmp_path / "fewer.h5ad")
    assert fit(tmp_path / "cells.h5ad", "-o", tmp_path / "run").exit_code == 0
    model = tmp_path / "run" / "model"
    same = runner.invoke(app, ["transform", str(model), str(tmp_path / "cells.h5ad")]).stdout
    for budget in ([], ["--memory-budget", "1K"]):  # read whole, and streamed from disk
        reversed_ = runner.invoke(app, ["transform", str(model), str(tmp_path / "reversed.h5ad"), *budget])
        assert reversed_.exit_code == 0, reversed_.output
        np.testing.assert_allclose(
            pd.read_csv(io.StringIO(reversed_.stdout)).iloc[:, 1:3],
            pd.read_csv(io.StringIO(same)).iloc[:, 1:3],
            rtol=1e-5,
            atol=1e-6,
        )
        result = runner.invoke(app, ["transform", str(model), str(tmp_path / "fewer.h5ad"), *budget])
        assert result.exit_code == 1 and pbmc.var_names[0] in result.stderr, result.output


def test_repeated_gene_names_and_an_empty_obs_still_fit(tmp_path):
    import pandas as pd

    X = np.random.default_rng(0).random((60, 5)).astype(np.float32)
    anndata.AnnData(X=X, var=pd.DataFrame(index=["g0", "g0", "g1", "g2", "g3"])).write_h5ad(tmp_path / "dup.h5ad")
    result = fit(tmp_path / "dup.h5ad", "-o", tmp_path / "r")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "map.html").exists() and (tmp_path / "r" / "dup.h5ad").exists()


def test_a_streamed_fit_of_repeated_gene_names_writes_a_model_that_loads(tmp_path):
    """Streamed, the genes are named as in memory (a repeat gets -1): the model loads and takes the file."""
    X = np.random.default_rng(0).random((300, 6)).astype(np.float32)
    var = pd.DataFrame(index=["g0", "g0", "g1", "g1", "g2", "g3"])
    anndata.AnnData(X=sp.csr_matrix(X), var=var).write_h5ad(tmp_path / "dup.h5ad")
    streamed = fit(tmp_path / "dup.h5ad", "-o", tmp_path / "s", "--memory-budget", "1K")
    assert streamed.exit_code == 0 and "streaming" in streamed.stderr, streamed.output
    assert fit(tmp_path / "dup.h5ad", "-o", tmp_path / "m").exit_code == 0
    names = [list(aedr.load(tmp_path / r / "model").feature_names_in_) for r in ("s", "m")]
    assert names[0] == names[1] == ["g0", "g0-1", "g1", "g1-1", "g2", "g3"]
    assert transform(tmp_path / "s", tmp_path / "dup.h5ad").exit_code == 0
    # the command line says how repeats are matched, as aedr.tl warns: new cells whose repeats come in another
    # order got other codes without a word (s56 QA)
    told = "repeats 2 gene names (g0, g1): each repeat is numbered by its order of appearance"
    assert told in streamed.stderr
    swapped = anndata.AnnData(X=sp.csr_matrix(X[:, [1, 0, 2, 3, 4, 5]]), var=var)  # the two g0 columns traded
    swapped.write_h5ad(tmp_path / "swapped.h5ad")
    for budget in ("1G", "1K"):  # read whole, streamed
        result = transform(tmp_path / "m", tmp_path / "swapped.h5ad", "--memory-budget", budget)
        assert result.exit_code == 0 and f"note: {tmp_path / 'swapped.h5ad'}: the file {told}" in result.stderr


def test_an_obs_label_named_like_a_gene_is_a_label_not_a_feature(pbmc, tmp_path):
    gene = str(pbmc.var_names[0])
    cells = anndata.AnnData(X=sp.csr_matrix(np.abs(pbmc.X[:, :40])), var=pbmc.var.iloc[:40].copy())
    cells.obs[gene] = pbmc.obs["bulk_labels"].to_numpy()
    cells.write_h5ad(tmp_path / "cells.h5ad")
    assert fit(tmp_path / "cells.h5ad", "--label-col", gene, "-o", tmp_path / "run").exit_code == 0
    for command in ("transform", "evaluate"):
        result = runner.invoke(app, [command, str(tmp_path / "run"), str(tmp_path / "cells.h5ad")])
        assert result.exit_code == 0, result.output


def test_evaluate_matches_a_new_files_genes_by_name_as_transform_does(pbmc, tmp_path):
    X = sp.csr_matrix(np.abs(pbmc.X[:, :40]))
    cells = anndata.AnnData(X=X, obs=pbmc.obs.copy(), var=pbmc.var.iloc[:40].copy())
    cells.write_h5ad(tmp_path / "cells.h5ad")
    cells[:, ::-1].copy().write_h5ad(tmp_path / "reversed.h5ad")
    more = anndata.AnnData(X=sp.hstack([X, X[:, :3]]).tocsr(), obs=pbmc.obs.copy())
    more.var_names = [*cells.var_names, "extra1", "extra2", "extra3"]
    more.write_h5ad(tmp_path / "more.h5ad")
    assert fit(tmp_path / "cells.h5ad", "-o", tmp_path / "run").exit_code == 0
    scores = []
    for name in ("cells", "reversed", "more"):
        result = runner.invoke(app, ["evaluate", str(tmp_path / "run"), str(tmp_path / f"{name}.h5ad"), "--json"])
        assert result.exit_code == 0, result.output
        scores.append(json.loads(result.stdout)["reconstruction_mse"])
    assert scores[0] == pytest.approx(scores[1], rel=1e-6) == pytest.approx(scores[2], rel=1e-6)


def test_explore_draws_an_h5ad_embedding_of_codes_or_a_copy_with_codes_in_obsm(pbmc, files, tmp_path):
    for args in (["--format", "h5ad", "-o", tmp_path / "h"], ["-o", tmp_path / "c", "--obsm-key", "X_ae"]):
        result = fit(files / "pbmc.h5ad", "--label-col", "bulk_labels", *args)
        assert result.exit_code == 0, result.output
    for embedding in (tmp_path / "h", tmp_path / "c" / "pbmc.h5ad"):
        result = runner.invoke(app, ["explore", str(embedding), "-o", str(tmp_path / f"{embedding.stem}.html")])
        assert result.exit_code == 0 and "700 points" in result.stderr, result.output
        html = (tmp_path / f"{embedding.stem}.html").read_text()
        assert "bulk_labels" in html and pbmc.obs_names[0] in html  # obs colours it, the cells' names on hover
        figure = tmp_path / f"{embedding.stem}.png"
        result = runner.invoke(app, ["plot", str(embedding), "--color-by", "bulk_labels", "-o", str(figure)])
        assert result.exit_code == 0 and figure.stat().st_size > 0, result.output
        # without --color-by, the obs column the map colours by first, said as a table's label column is
        result = runner.invoke(app, ["plot", str(embedding), "-o", str(figure), "--force"])
        assert result.exit_code == 0 and "note: colouring by obs column " in result.stderr, result.output
    panel = anndata.AnnData(X=np.abs(pbmc.X[:, :5]), obs=pbmc.obs.copy(), var=pbmc.var.iloc[:5].copy())
    panel.write_h5ad(tmp_path / "panel.h5ad")  # five genes: a narrow X is not taken for codes
    numbered = anndata.AnnData(X=np.abs(pbmc.X[:, :50]), obs=pbmc.obs.copy())
    numbered.var_names = [f"Gene{i}" for i in range(50)]  # a simulation's genes: numbered as codes might be
    numbered.write_h5ad(tmp_path / "numbered.h5ad")
    for genes in (files / "pbmc.h5ad", tmp_path / "panel.h5ad", tmp_path / "numbered.h5ad"):
        for command in (["explore", str(genes), "-o", str(tmp_path / "g.html")], ["plot", str(genes)]):
            result = runner.invoke(app, command)
            assert result.exit_code == 1 and "holds no codes: no obsm['X_aedr']" in result.stderr, result.output


def test_normalize_refuses_values_already_normalised_and_log_transformed(files, tmp_path):
    logged = anndata.read_h5ad(files / "counts.h5ad")
    sc.pp.normalize_total(logged)
    sc.pp.log1p(logged)
    logged.write_h5ad(tmp_path / "logged.h5ad")
    for budget in ("1G", "0"):  # in memory, streamed (told by the first block, before any work)
        result = fit(tmp_path / "logged.h5ad", "--normalize", "--memory-budget", budget, "-o", tmp_path / "r")
        assert result.exit_code == 1 and "look normalised and log-transformed already" in result.stderr
        assert "leave out --normalize" in result.stderr and not (tmp_path / "r").exists()
    # an EM quantifier's fractional counts are counts: normalised in memory and streamed alike, whatever a
    # later block's values
    counts = anndata.read_h5ad(files / "counts.h5ad")
    fractional = anndata.AnnData(X=sp.csr_matrix(counts.X.toarray() * 0.7 + 0.25 * (counts.X.toarray() > 0)))
    fractional.write_h5ad(tmp_path / "em.h5ad")
    for budget in ("1G", "0"):
        result = fit(tmp_path / "em.h5ad", "--normalize", "--memory-budget", budget, "-o", tmp_path / f"em{budget}")
        assert result.exit_code == 0, result.output


def test_tl_records_the_genes_and_tl_transform_places_new_cells_by_gene_name(pbmc):
    reference, new = pbmc[:500].copy(), pbmc[500:].copy()
    ae = aedr.tl.autoencoder(reference, max_iter=3, hidden_layer_sizes=(16,))
    assert list(ae.feature_names_in_) == list(pbmc.var_names)
    codes = aedr.tl.transform(new, ae)
    assert codes.dtype == np.float32 and np.array_equal(new.obsm["X_aedr"], codes)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):  # a bare matrix: order unchecked
        np.testing.assert_array_equal(codes, ae.transform(new.X))
    shuffled = new[:, np.random.default_rng(0).permutation(new.n_vars)].copy()
    np.testing.assert_array_equal(aedr.tl.transform(shuffled, ae, key_added="again"), codes)
    with pytest.raises(ValueError, match=f"adata lacks 1 of the model's {pbmc.n_vars} genes: {pbmc.var_names[0]}"):
        aedr.tl.transform(new[:, 1:].copy(), ae)
    with pytest.raises(TypeError, match="aedr.tl.autoencoder\\(\\) got an unexpected keyword argument 'copy'"):
        aedr.tl.autoencoder(reference, copy=True)


def test_tl_transform_says_when_repeated_gene_names_are_matched_by_their_order(pbmc):
    """Two genes of one name can be told apart only by their order (GENE, GENE-1): said, once a call."""
    cells = pbmc[:300].copy()
    cells.var_names = [*cells.var_names[:-1], cells.var_names[0]]  # the last gene named as the first
    with pytest.warns(UserWarning, match="not unique"):  # anndata's own note
        ae = aedr.tl.autoencoder(cells.copy(), max_iter=2, hidden_layer_sizes=(8,))
    with pytest.warns(aedr.AedrWarning, match=rf"adata repeats 1 gene name \({cells.var_names[0]}\): each repeat is"):
        aedr.tl.transform(cells, ae)
    unique = aedr.tl.autoencoder(pbmc[:300].copy(), max_iter=2, hidden_layer_sizes=(8,))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="adata repeats", category=aedr.AedrWarning)
        aedr.tl.transform(pbmc[300:].copy(), unique)


def test_h5ad_codes_of_two_models_a_streamed_label_and_dense_genes_in_another_order(pbmc, tmp_path):
    """Review of f5bd266: a streamed transform with the fit's label into an .h5ad crashed (no file to copy);
    a copy holding two models' codes was decoded from the first recorded, silently; dense genes in another
    order were refused in memory; a streamed file's extra genes were left out of the memory decision."""
    from aedr.data.anndata import H5adSource

    X = np.abs(pbmc.X[:, :40])  # dense
    cells = anndata.AnnData(X=X, obs=pbmc.obs.copy(), var=pbmc.var.iloc[:40].copy())
    cells.write_h5ad(tmp_path / "cells.h5ad")
    cells[:, ::-1].copy().write_h5ad(tmp_path / "reversed.h5ad")
    assert fit(tmp_path / "cells.h5ad", "--label-col", "bulk_labels", "-o", tmp_path / "run").exit_code == 0
    same = transform(tmp_path / "run", tmp_path / "cells.h5ad")
    turned = transform(tmp_path / "run", tmp_path / "reversed.h5ad")  # dense, in memory, genes by name
    assert turned.exit_code == 0 and turned.stdout == same.stdout, turned.output
    streamed = transform(tmp_path / "run", tmp_path / "cells.h5ad", "-o", tmp_path / "s.h5ad", "--memory-budget", "1K")
    assert streamed.exit_code == 0 and "AnnData of the codes alone" in streamed.stderr, streamed.output
    assert transform(tmp_path / "run", tmp_path / "run" / "cells.h5ad", "-o", tmp_path / "two.h5ad", "--obsm-key",
                     "X_again").exit_code == 0  # fmt: skip
    decode = ["inverse-transform", str(tmp_path / "run"), str(tmp_path / "two.h5ad")]
    refused = runner.invoke(app, decode)
    assert (
        refused.exit_code == 1 and "under 2 obsm keys (X_aedr, X_again): choose one with --obsm-key" in refused.stderr
    )
    assert runner.invoke(app, [*decode, "--obsm-key", "X_again"]).exit_code == 0
    source = H5adSource(tmp_path / "reversed.h5ad", genes=list(cells.var_names[:10]))
    assert source.shape == (700, 10) and source.read_shape == (700, 40)  # read whole: all 40 genes in memory
    source.close()


def test_an_obsm_key_the_file_already_holds_for_its_own_codes_is_refused(files, tmp_path):
    """--obsm-key X_pca replaced scanpy's PCA (and uns['pca']) in the copy; the fit refuses before training."""
    result = fit(files / "pbmc.h5ad", "--obsm-key", "X_pca", "-o", tmp_path / "r")
    assert result.exit_code == 1 and "already holds obsm['X_pca'], which aedr did not write" in result.stderr
    assert not (tmp_path / "r").exists() and "epoch" not in result.output
    assert fit(files / "pbmc.h5ad", "-o", tmp_path / "run").exit_code == 0
    again = transform(tmp_path / "run", tmp_path / "run" / "pbmc.h5ad", "-o", tmp_path / "o.h5ad")  # aedr's own
    assert again.exit_code == 0 and "replacing the codes of the model that wrote them there" in again.stderr
    refit = fit(tmp_path / "run" / "pbmc.h5ad", "-o", tmp_path / "run2")  # said, not done silently (single-cell QA 11)
    assert (
        refit.exit_code == 0 and "obsm['X_aedr'] held an earlier model's codes; this fit's replace them" in refit.stderr
    )
    fresh = transform(tmp_path / "run", files / "pbmc.h5ad", "-o", tmp_path / "f.h5ad")
    assert fresh.exit_code == 0 and "replacing" not in fresh.stderr
    taken = transform(tmp_path / "run", files / "pbmc.h5ad", "-o", tmp_path / "p.h5ad", "--obsm-key", "X_umap")
    assert taken.exit_code == 1 and "obsm['X_umap'], which aedr did not write" in taken.stderr
    assert not (tmp_path / "p.h5ad").exists()
    # the settings go to uns[key without X_]: a user's own entry there is not replaced either (single-cell QA 7)
    leiden = anndata.read_h5ad(files / "pbmc.h5ad")
    leiden.uns["leiden"] = {"params": {"resolution": 1.0}}
    leiden.write_h5ad(tmp_path / "leiden.h5ad")
    result = fit(tmp_path / "leiden.h5ad", "--obsm-key", "X_leiden", "-o", tmp_path / "l")
    assert result.exit_code == 1 and "already holds uns['leiden'], which aedr did not write" in result.stderr
    # codes aedr.tl wrote are aedr's own: the command line replaces them in its copy (single-cell QA 5)
    aedr.tl.autoencoder(leiden, max_iter=1, use_rep="X_pca")
    leiden.write_h5ad(tmp_path / "tl.h5ad")
    assert fit(tmp_path / "tl.h5ad", "-o", tmp_path / "t").exit_code == 0


def test_labels_from_a_file_are_kept_in_the_h5ad_copy(files, pbmc, tmp_path):
    """--labels FILE coloured the map but the .h5ad copy, the file a scanpy user opens next, lacked them."""
    pd.DataFrame({"state": [f"s{i % 3}" for i in range(700)]}).to_csv(tmp_path / "states.csv", index=False)
    result = fit(files / "pbmc.h5ad", "--labels", tmp_path / "states.csv", "-o", tmp_path / "run")
    assert result.exit_code == 0, result.output
    copy = anndata.read_h5ad(tmp_path / "run" / "pbmc.h5ad")
    assert copy.obs["state"].tolist()[:4] == ["s0", "s1", "s2", "s0"] and "bulk_labels" in copy.obs.columns


def test_the_h5ad_copy_keeps_the_source_s_matrices_as_stored_without_reading_them(pbmc, tmp_path):
    """The copy is the source's bytes with the entries added: a compressed X stays compressed (the copy
    read the whole file into memory and wrote it anew); a file without anndata's encoding attributes
    (before 0.8) is read and written whole, to the same result."""
    import h5py

    from aedr.data.anndata import write_h5ad_codes

    pbmc.write_h5ad(tmp_path / "cells.h5ad", compression="gzip")
    shutil.copyfile(tmp_path / "cells.h5ad", tmp_path / "old.h5ad")
    with h5py.File(tmp_path / "old.h5ad", "r+") as f:
        del f.attrs["encoding-type"], f.attrs["encoding-version"]
    codes = np.random.default_rng(0).normal(size=(pbmc.n_obs, 2))
    labels = pd.Series(np.arange(pbmc.n_obs) % 3, name="state")
    settings = {"params": {"max_iter": 3}, "obsm_key": "X_ae"}
    for source in ("cells", "old"):
        write_h5ad_codes(tmp_path / f"{source}.h5ad", tmp_path / f"{source}-copy.h5ad", codes, "X_ae", settings, labels)
        copy = anndata.read_h5ad(tmp_path / f"{source}-copy.h5ad")
        np.testing.assert_array_equal(copy.X, pbmc.X)
        np.testing.assert_allclose(copy.obsm["X_ae"], codes.astype(np.float32))
        assert copy.uns["ae"]["params"]["max_iter"] == 3 and copy.uns["louvain_colors"].tolist() == list(
            pbmc.uns["louvain_colors"]
        )
        assert copy.obs.drop(columns="state").equals(pbmc.obs) and copy.obs["state"].tolist() == labels.tolist()
        assert sorted(copy.obsm) == sorted([*pbmc.obsm, "X_ae"]) and copy.layers.keys() == pbmc.layers.keys()
    with h5py.File(tmp_path / "cells-copy.h5ad", "r") as f:
        assert f["X"].compression == "gzip"
    again = codes + 1  # aedr's own codes of an earlier run are replaced in place
    write_h5ad_codes(tmp_path / "cells-copy.h5ad", tmp_path / "twice.h5ad", again, "X_ae", settings, labels)
    np.testing.assert_allclose(anndata.read_h5ad(tmp_path / "twice.h5ad").obsm["X_ae"], again.astype(np.float32))


def test_column_options_on_an_h5ad_say_how_to_choose_its_genes(files, tmp_path):
    """'choose h5ad features before saving (no column options)' was hard to read (s56 QA)."""
    result = fit(files / "pbmc.h5ad", "--exclude", "HES4", "-o", tmp_path / "run")
    assert result.exit_code == 1 and "pick a table's columns, not an .h5ad file's genes" in result.stderr
    assert "adata[:, genes].copy().write_h5ad(" in result.stderr and not (tmp_path / "run").exists()
