"""Data files: every format reads and writes, headers are detected, errors name the file."""

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aedr.data.datasets import load_mnist
from aedr.data.formats import FORMATS, format_of
from aedr.data.idx import read_idx, write_idx
from aedr.data.io import file_format, read_labels, read_table, write_table


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(12, 3)), columns=["a", "b", "c"])
    df["kind"] = ["x", "y", "z"] * 4
    return df


@pytest.mark.parametrize("name", ["d.csv", "d.tsv", "d.csv.gz", "d.parquet"])
def test_tables_with_labels(frame, tmp_path, name):
    path = tmp_path / name
    values, labels = frame[["a", "b", "c"]], frame["kind"]
    write_table(path, values, labels)
    table = read_table(path, label_col="kind")
    assert table.columns == ["a", "b", "c"]
    np.testing.assert_allclose(table.X, values.to_numpy())
    assert table.labels.tolist() == labels.tolist() and table.labels.name == "kind"


def test_columns_and_exclude(frame, tmp_path):
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    assert read_table(path, columns=["c", "a"]).columns == ["c", "a"]
    assert read_table(path, exclude=["b", "kind"]).columns == ["a", "c"]
    assert read_table(path, columns=["c", "a", "b"], exclude=["a"]).columns == ["c", "b"]  # as a stream takes them
    with pytest.raises(ValueError, match=r"no column 'zz'"):  # a typo in --exclude beside --columns, too
        read_table(path, columns=["c", "a"], exclude=["zz"])


def test_parquet_decimals_are_numbers_in_memory_as_streamed(frame, tmp_path):
    """A database's export holds decimal columns: a streamed read took them as numbers, a read into
    memory refused them as text (Decimal objects), so a model fitted streamed could not read the file."""
    import decimal

    from aedr.data.sources import open_rows

    frame = frame.assign(d=[decimal.Decimal(f"{v:.3f}") for v in frame["a"]])
    frame.loc[2, "d"] = None
    path = tmp_path / "dec.parquet"
    frame.to_parquet(path, index=False)
    table = read_table(path, label_col="kind", missing="mean")
    streamed = open_rows(path, label_col="kind")
    assert table.columns == streamed.feature_names == ["a", "b", "c", "d"]
    np.testing.assert_allclose(table.X[[0, 1, 3], 3], frame["a"].to_numpy()[[0, 1, 3]], atol=5e-4)
    assert np.isnan(streamed.read(0, 4)[2, 3])  # a null is a missing value either way


def test_columns_and_exclude_choose_the_same_features_in_memory_and_streamed(frame, tmp_path):
    """Whether a Parquet file streams depends on the memory budget: the same options must choose the
    same features either way (in memory --exclude was ignored beside --columns, and its typos passed)."""
    from aedr.data.sources import open_rows

    path = tmp_path / "d.parquet"
    frame.to_parquet(path, index=False)
    for columns, exclude in ((["a", "b", "c"], ["a"]), (None, ["b"])):
        streamed = open_rows(path, label_col="kind", columns=columns, exclude=exclude)
        assert read_table(path, label_col="kind", columns=columns, exclude=exclude).columns == streamed.feature_names
    for columns in (["a", "b"], None):
        with pytest.raises(ValueError, match="no column 'zz'"):
            open_rows(path, label_col="kind", columns=columns, exclude=["zz"])
        with pytest.raises(ValueError, match="no column 'zz'"):
            read_table(path, label_col="kind", columns=columns, exclude=["zz"])


def test_header_detection(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1,2,cat\n3,4,dog\n5,6,cat\n")
    table = read_table(path, label_col="2")
    assert table.columns is None and table.X.shape == (3, 2) and table.labels.tolist() == ["cat", "dog", "cat"]
    path.write_text("x,y\n1,2\n3,4\n")
    assert read_table(path).columns == ["x", "y"]
    path.write_text("1,2\n3,4\n")
    assert read_table(path, header=True).columns == ["1", "2"]
    assert read_table(path, header=False).X.shape == (2, 2)
    path.write_text("a, b, kind\n1, 2, x\n3, 4, y\n")  # spaces after the commas: not part of names or labels
    table = read_table(path, label_col="kind", exclude=["a"])
    assert table.columns == ["b"] and table.labels.tolist() == ["x", "y"]
    path.write_text("1,,3\n2,3,4\n5,6,7\n")  # a gap's column is named as the options take it, too
    with pytest.raises(ValueError, match=r"empty or NaN cells in data row 1 \(in column 1\)"):
        read_table(path, exclude=["0"])
    path.write_text("1,2,cat\n3,4,dog\n")  # the error names the column as the options take it
    with pytest.raises(ValueError, match=r"column 2 \(e.g. 'cat' in row 1\); leave it out with --exclude 2,") as error:
        read_table(path)
    assert "numbered from 0" in str(error.value) and read_table(path, exclude=["2"]).X.shape == (2, 2)


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("cell_type\nT\nB\nT\n", True),  # a labels column as pandas writes it
        ("barcode,cell_type\nAAC,T\nAGT,B\nCTT,T\n", True),  # annotations: unique ids beside categories
        ("T\nB\nT\n", False),  # the first label occurs again: data
        ("AAC,T\nAGT,B\nCTT,T\n", False),
        ("foo,a\nbar,b\n", False),  # nothing repeats: no sign either way, read as data
        ("kind,1\nT,2\nB,3\n", False),  # a number below a number: data
        ("0,1,2\n0.5,1.5,2.5\n1.5,0.5,2.5\n", True),  # DataFrame(X).to_csv(index=False)
        (",0,1\n0,0.5,1.5\n1,1.5,0.5\n", True),  # DataFrame(X).to_csv(): the index column
        (",a,b\n0,0.5,1.5\n1,1.5,0.5\n", True),
        ("0,1\n1,0\n", False),  # two columns of 0 and 1 are as likely data
        (",1,2\n,3,4\n", False),  # an empty first column: a gap, not an index
        ("0,1,2\n3,4,5\n6,7,8\n", False),  # whole numbers from 0: counts, not a header
        ("0,1,2,3,4,5,6,7\n" + "0,1,0,1,1,0,0,1\n1,0,0,1,0,1,1,0\n", True),  # names above every value: pandas'
        ("0,1,2,3\n0,1,0,1\n1,0,1,0\n", False),  # half the names above the values: no sign
        (",2,3\n4,5,6\n7,8,9\n", False),  # a gap in the first row, no index below it
    ],
)
def test_header_detection_in_text_tables(tmp_path, text, header):
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert format_of(path).read(path).attrs["header"] is header
    if "," not in text:  # a labels file: its header names the labels and is not one of them
        labels = read_labels(path)
        assert len(labels) == text.count("\n") - header and labels.name == ("cell_type" if header else "label")


def _numbers_below(names, body) -> str:
    return ",".join(map(str, names)) + "\n" + "\n".join(",".join(map(str, row)) for row in body) + "\n"


_RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("text", "header"),
    [
        (_numbers_below(range(400, 700, 10), _RNG.random((20, 30)).round(4)), True),  # wavelengths above spectra
        (_numbers_below([400.5, 410.5, 420.5], _RNG.random((20, 3)).round(4)), True),
        (_numbers_below(range(2010, 2018), _RNG.integers(0, 50, (20, 8))), True),  # years above counts
        (_numbers_below([7157, 1956, 672, 5290], _RNG.integers(0, 20, (20, 4))), True),  # gene IDs above counts
        (_numbers_below([0.31, 0.52, 0.44], _RNG.random((20, 3)).round(2)), False),  # a row like the others
        (_numbers_below([900, 0.1, 0.2], _RNG.random((20, 3)).round(2)), False),  # an outlier in one column: data
        (_numbers_below([0, 100, 1000], np.arange(1, 21)[:, None] * [1, 100, 1000]), False),  # counts that grow
        (_numbers_below([400, 410], _RNG.random((3, 2)).round(2)), False),  # too few rows below to tell
        (_numbers_below([1000, 2000], (1000 // np.arange(2, 40))[:, None] * [1, 2]), False),  # counts sorted by size
    ],
    ids=["wavelengths", "fractional", "years", "gene-ids", "data", "one-outlier", "cumulative", "few-rows", "zipf"],
)
def test_a_first_line_of_numbers_far_outside_the_columns_is_a_header_and_said(tmp_path, text, header):
    """Wavelengths above spectra, years above counts: a header of numbers was read as a row of data (151
    rows of 150, unnamed, the reconstruction error 20,000 times worse), without a word. A first row of
    data, an outlier in some columns, or counts that grow down the file stay data."""
    path = tmp_path / "spectra.csv"
    path.write_text(text)
    table = read_table(path)
    assert (table.columns is not None) is header and len(table.X) == text.count("\n") - header
    assert any("read the first line as column names" in note for note in table.notes) is header
    if header:
        assert "--no-header reads it as a row" in table.notes[0]
        assert len(read_table(path, header=False).X) == text.count("\n")


@pytest.mark.parametrize("name", ["d.npy", "d.npz", "d.idx", "d.idx.gz", "d-ubyte"])
def test_arrays(tmp_path, name):
    values = pd.DataFrame(np.arange(12, dtype=np.float64).reshape(4, 3) / 7)
    path = write_table(tmp_path / name, values, pd.Series([0, 1, 0, 1], name="y"))
    table = read_table(path, label_col="y" if name.endswith("npz") else None)
    np.testing.assert_allclose(table.X, values.to_numpy(), rtol=1e-6)
    if name.endswith("npz"):
        assert table.labels.tolist() == [0, 1, 0, 1]


def test_an_npz_label_named_like_the_codes_keeps_both(tmp_path):
    values = pd.DataFrame(np.arange(6, dtype=np.float64).reshape(3, 2))
    path = write_table(tmp_path / "c.npz", values, pd.Series(["a", "b", "c"], name="X"))
    with np.load(path) as arrays:
        assert arrays.files == ["X", "X_label"] and np.array_equal(arrays["X"], values.to_numpy())
    assert read_table(path, label_col="X_label").labels.tolist() == ["a", "b", "c"]


def test_idx_images_are_flattened(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, size=(5, 4, 4), dtype=np.uint8)
    write_idx(tmp_path / "imgs-idx3-ubyte.gz", images)
    write_idx(tmp_path / "labels-idx1-ubyte.gz", np.arange(5, dtype=np.uint8))
    table = read_table(tmp_path / "imgs-idx3-ubyte.gz")
    assert table.X.shape == (5, 16) and table.image_shape == (4, 4)
    assert read_labels(tmp_path / "labels-idx1-ubyte.gz").tolist() == [0, 1, 2, 3, 4]
    assert np.array_equal(read_idx(tmp_path / "imgs-idx3-ubyte.gz"), images)


def _mnist_folder(folder, images, labels):
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    return folder


def test_load_mnist_refuses_labels_and_images_that_are_not_a_pair(tmp_path):
    """A label file shorter than its images loaded (the benchmark fitted half of MNIST and called it
    mnist10k), fractional labels were cast to whole numbers, and the labels file in the images' place
    loaded as 1-pixel images that PCA refused later: each is one line naming the file."""
    images, labels = np.zeros((6, 28, 28), np.uint8), np.arange(6, dtype=np.uint8)
    X, y = load_mnist("test", _mnist_folder(tmp_path / "ok", images, labels))
    assert X.shape == (6, 784) and y.tolist() == list(range(6))
    cases = [
        ("short", images, labels[:4], r"t10k-labels-idx1-ubyte.gz: 4 labels for the 6 images of .*t10k-images"),
        ("frac", images, labels / 3, r"t10k-labels-idx1-ubyte.gz: not MNIST labels \(an IDX array of float64"),
        ("swap", labels, labels, r"t10k-images-idx3-ubyte.gz: not MNIST images \(an IDX array of uint8 of shape"),
        ("float", images.astype(np.float32), labels, r"t10k-images-idx3-ubyte.gz: not MNIST images"),
    ]
    for name, imgs, labs, match in cases:
        with pytest.raises(ValueError, match=match):
            load_mnist("test", _mnist_folder(tmp_path / name, imgs, labs))


@pytest.mark.parametrize(
    "raw, name, match",
    [
        (b"\0\0\x08\x03\0\0", "h-ubyte", r"h-ubyte: truncated IDX header \(needs 16 bytes for 3 sizes, has 6\)$"),
        (b"\0\0\x08\x01", "h-ubyte", r"truncated IDX header \(needs 8 bytes for 1 size, has 4\)$"),
        (b"\0\0\x08\x02" + b"\xff" * 8 + b"\0" * 10, "o-ubyte", r"\(10 bytes after the header, 18,446,744,065,"),
        (gzip.compress(b"\0\0\x08\x01\0\0\0\x01\x07"), "g-ubyte", r"g-ubyte: holds gzip-compressed data; name it"),
    ],
    ids=["cut-header", "sizes-only", "huge-sizes", "gzipped"],
)
def test_a_damaged_idx_header_is_said_in_words_naming_the_file_once(tmp_path, raw, name, match):
    """numpy's 'buffer size must be a multiple of element size' for a cut header, a negative byte count
    (and the path twice) for a header of sizes alone, an int64 overflow for sizes of 2**32 - 1, and
    'bad magic number' for a gzipped file without .gz were what the user read."""
    (tmp_path / name).write_bytes(raw)
    with pytest.raises(ValueError, match=match) as info:
        read_table(tmp_path / name)
    assert str(info.value).count(str(tmp_path)) == 1


def test_the_default_mnist_folder_is_beside_a_source_tree_else_in_the_current_folder(tmp_path, monkeypatch):
    """After a plain 'pip install .', the folder beside the project was <venv>/lib/shared/data/mnist."""
    from aedr.data import datasets

    monkeypatch.delenv("AEDR_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    installed = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "aedr" / "data" / "datasets.py"
    monkeypatch.setattr(datasets, "__file__", str(installed))
    assert datasets.default_mnist_dir() == tmp_path / "shared" / "data" / "mnist"
    (tmp_path / "work" / "aedr").mkdir(parents=True)
    (tmp_path / "work" / "aedr" / "pyproject.toml").write_text("")
    monkeypatch.setattr(datasets, "__file__", str(tmp_path / "work" / "aedr" / "src" / "aedr" / "data" / "datasets.py"))
    monkeypatch.chdir(tmp_path / "work" / "aedr")
    assert datasets.default_mnist_dir() == tmp_path / "work" / "shared" / "data" / "mnist"
    monkeypatch.setenv("AEDR_DATA_DIR", str(tmp_path / "data"))
    assert datasets.default_mnist_dir() == tmp_path / "data" / "mnist"


def test_mnist_file_names():
    assert file_format("train-images-idx3-ubyte.gz") == "idx"
    assert file_format("t10k-labels.idx1-ubyte") == "idx"
    with pytest.raises(ValueError, match="unknown file type"):
        file_format("data.xlsx")
    assert file_format("GSE1_counts.txt.gz") == "tsv"  # expression tables: tab-separated .txt, delimiter sniffed


@pytest.mark.parametrize(
    "content, kwargs, match",
    [
        (
            "a,b,kind\n1,2,x\n3,4,y\n",
            {},
            r"1 column is not numeric: 'kind' \(e.g. 'x' in row 1\); leave it out with --exclude kind",
        ),
        ("a,b,kind\n1,2,x\n3,4,y\n", {"label_col": "knd"}, "did you mean 'kind'"),
        ("a,b\n1,2\n3,4\n", {"columns": ["a", "z"]}, "no column 'z'"),
        ("", {}, "empty"),
    ],
)
def test_table_errors_name_the_file(tmp_path, content, kwargs, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        read_table(path, **kwargs)
    assert "bad.csv" in str(info.value)


def test_missing_corrupt_and_pickled_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "bad.idx.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x02\x00\x00"))
    with pytest.raises(ValueError, match="bad.idx.gz"):
        read_table(tmp_path / "bad.idx.gz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled"):
        read_table(tmp_path / "obj.npy")
    # pandas' text labels saved as they come (np.save(series.to_numpy())): named as pickled, not "truncated"
    np.save(tmp_path / "labels.npy", pd.Series(["a", "b"] * 30).to_numpy(), allow_pickle=True)
    with pytest.raises(ValueError, match=r"labels.npy: holds Python objects \(pickled data\).*astype\(str\)"):
        read_labels(tmp_path / "labels.npy", rows=60)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="bad.parquet: cannot read as Parquet"):
        read_table(tmp_path / "bad.parquet")


def test_write_never_overwrites(tmp_path, frame):
    path = write_table(tmp_path / "e.csv", frame[["a"]])
    with pytest.raises(FileExistsError):
        write_table(path, frame[["b"]])
    write_table(path, frame[["b"]], overwrite=True)
    assert read_table(path).columns == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv"]


def test_a_new_format_is_one_class_and_one_registry_entry(tmp_path, monkeypatch):
    import pandas as pd

    from aedr.data import formats

    class JSONLines(formats.FileFormat):
        name, suffixes, tabular = "jsonl", (".jsonl",), True

        def read(self, path, header=None, delimiter=None):
            frame = pd.read_json(path, lines=True)
            frame.attrs["header"] = True
            return frame

        def write(self, path, values, labels, ids=None):
            formats.annotated(values, labels, ids).to_json(path, orient="records", lines=True)

    monkeypatch.setitem(formats.FORMATS, "jsonl", JSONLines())
    values = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    write_table(tmp_path / "x.jsonl", values, pd.Series(["p", "q"], name="kind"))
    table = read_table(tmp_path / "x.jsonl", label_col="kind")
    assert file_format("x.jsonl") == "jsonl" and table.columns == ["a", "b"]
    assert table.X.tolist() == [[1.0, 3.0], [2.0, 4.0]] and table.labels.tolist() == ["p", "q"]
    # the commands see its columns too: transform keeps the fit's label, plot colours by it
    from aedr.cli.columns import label_names, table_names, written_label_column

    assert table_names(tmp_path / "x.jsonl", None) == label_names(tmp_path / "x.jsonl", None) == ["a", "b", "kind"]
    codes = pd.DataFrame({"autoencoder0": [0.1, 0.2], "autoencoder1": [0.3, 0.4]})
    write_table(tmp_path / "codes.jsonl", codes, pd.Series(["p", "q"], name="kind"))
    assert written_label_column(tmp_path / "codes.jsonl", None) == "kind"


@pytest.mark.parametrize("name", [n for n, f in FORMATS.items() if f.stores_labels])
def test_every_format_that_keeps_labels_names_them_to_the_commands(tmp_path, name):
    """What transform (the fit's label column) and plot (the label written beside the codes) ask of a file."""
    from aedr.cli.columns import label_names, written_label_column

    path = tmp_path / f"codes{FORMATS[name].suffixes[0]}"
    codes = pd.DataFrame({"autoencoder0": [0.1, 0.2, 0.3], "autoencoder1": [0.3, 0.4, 0.5]})
    write_table(path, codes, pd.Series(["p", "q", "p"], name="kind"))
    assert "kind" in label_names(path, None)
    if FORMATS[name].tabular or name == "npz":  # an .h5ad of codes keeps its labels in obs, read by explore
        assert written_label_column(path, None) == "kind"


def test_a_new_output_written_meanwhile_by_another_process_is_kept(tmp_path):
    from aedr._files import OutputExistsError, staged_file, staged_folder

    target = tmp_path / "run"
    with pytest.raises(OutputExistsError), staged_folder(target) as folder:
        (folder / "mine.txt").write_text("mine")
        target.mkdir()  # another run finished first
        (target / "theirs.txt").write_text("theirs")
    assert [p.name for p in tmp_path.iterdir()] == ["run"] and (target / "theirs.txt").exists()

    out = tmp_path / "codes.csv"
    with pytest.raises(OutputExistsError), staged_file(out) as tmp:
        tmp.write_text("mine")
        out.write_text("theirs")
    assert out.read_text() == "theirs" and sorted(p.name for p in tmp_path.iterdir()) == ["codes.csv", "run"]
    with staged_file(out, overwrite=True) as tmp:  # asked to replace: replaced
        tmp.write_text("mine")
    assert out.read_text() == "mine"


def test_a_replacement_that_fails_leaves_the_earlier_output_and_no_staging_behind(tmp_path, monkeypatch):
    from aedr import _files

    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("earlier run")
    real_rename = Path.rename

    def rename(self, to):  # the new output cannot take the name (a full disk, a vanished mount)
        if Path(to) == target and ".tmp-" in self.name and not (self / "old.txt").exists():
            raise OSError(28, "No space left on device")
        return real_rename(self, to)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="No space"), _files.staged_folder(target, overwrite=True) as folder:
        (folder / "new.txt").write_text("new run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"] and (target / "old.txt").read_text() == "earlier run"
    with pytest.raises(OSError), _files.staged_folder(tmp_path / "f.txt", overwrite=True) as folder:
        (tmp_path / "f.txt").write_text("a file where the folder goes")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "run"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(
    exponent=st.integers(-30, 38),
    spread_exponent=st.integers(-8, 0),
    dtype=st.sampled_from([np.float32, np.float64]),
    kind=st.sampled_from(["standard", "global", "minmax"]),
    seed=st.integers(0, 2**16),
)
def test_scaling_is_finite_and_invertible_from_1e_minus_30_to_1e38(exponent, spread_exponent, dtype, kind, seed):
    from aedr.data.scaling import AffineScaler

    rng = np.random.default_rng(seed)
    centre = rng.normal() * 10.0**exponent
    X = (centre + rng.normal(size=(50, 3)) * 10.0 ** (exponent + spread_exponent)).astype(dtype)
    X = X[:, np.isfinite(X).all(axis=0)]
    if X.shape[1] == 0:
        return
    scaler = AffineScaler.fit(X, kind)
    assert np.isfinite(scaler.offset).all() and np.isfinite(scaler.scale).all() and (scaler.scale > 0).all()
    scaled = scaler.transform(X.astype(np.float64))
    assert np.isfinite(scaled).all() and np.abs(scaled).max() < 1e8
    back = scaler.inverse_transform(scaled)
    np.testing.assert_allclose(back, X.astype(np.float64), rtol=1e-6, atol=0)


def test_float32_values_are_written_with_the_digits_they_hold(tmp_path):
    values = pd.DataFrame({"a": np.array([-1.6867352724075317, 1e-8, np.nan], dtype=np.float32), "b": [0.1, 0.2, 0.3]})
    write_table(tmp_path / "v.csv", values)
    assert (tmp_path / "v.csv").read_text().splitlines() == ["a,b", "-1.6867353,0.1", "1e-08,0.2", ",0.3"]
    back = pd.read_csv(tmp_path / "v.csv")["a"].to_numpy(np.float32)
    assert np.array_equal(back[:2], values["a"].to_numpy()[:2]) and np.isnan(back[2])


def test_a_dead_runs_staging_entries_are_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    from aedr._files import staged_file, staged_folder

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)  # a process that has exited
    left = tmp_path / f".{dead}-0badc0de.tmp-run"
    left.mkdir()
    (left / "weights.safetensors").write_bytes(b"half")
    live = tmp_path / f".{os.getpid()}-0000beef.tmp-run"  # a run still going: never touched
    live.mkdir()
    other = tmp_path / f".{dead}-0badc0de.tmp-other"  # another output's: not this write's business
    other.mkdir()
    file_left = tmp_path / f".{dead}-12345678.tmp-codes.csv"
    file_left.write_text("half")
    with staged_folder(tmp_path / "run") as folder:
        (folder / "a.txt").write_text("new")
    with staged_file(tmp_path / "codes.csv") as path:
        path.write_text("x\n")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["run", "codes.csv", live.name, other.name])


def test_a_killed_fit_leaves_nothing_the_next_fit_keeps(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    X = np.random.default_rng(0).normal(size=(300, 5))
    np.save(tmp_path / "x.npy", X)
    command = [sys.executable, "-m", "aedr", "fit", "x.npy", "-o", "run", "--quiet", "--threads", "1"]
    slow = ["--max-iter", "1000000", "--n-iter-no-change", "1000000"]
    process = subprocess.Popen(command + slow, cwd=tmp_path, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".*.tmp-run")):  # staging folder made: the fit runs
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)  # no handler runs: as out of memory or a lost machine
    process.wait(timeout=60)
    assert list(tmp_path.glob(".*.tmp-run"))  # what a crash leaves
    done = subprocess.run(command + ["--max-iter", "2"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "x.npy"]


@pytest.mark.parametrize("value", [1e30, 3e37, -5.0, 0.0])
def test_a_constant_column_reaches_the_network_as_zero_whatever_its_magnitude(value):
    """The mean of nine 1e30s misses 1e30 by a rounding step (1.4e14): with a scale of 1 that step
    reached the network as 1.4e14 and the fit diverged."""
    from aedr import Autoencoder
    from aedr.data.scaling import AffineScaler

    X = np.full((9, 3), value)
    X[:, 0] = np.linspace(0, 1, 9)
    for kind in ("standard", "minmax"):
        assert np.abs(AffineScaler.fit(X, kind).transform(X)[:, 1:]).max() < 1e-12
    ae = Autoencoder(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X)
    assert np.isfinite(ae.inverse_transform(ae.transform(X))).all()


@pytest.mark.parametrize(
    "cell, kind, shown", [([1, 2], "lists", "[1, 2]"), ({"p": 1}, "records", "{'p': 1}")], ids=["list", "struct"]
)
def test_parquet_columns_of_lists_or_records_are_named(tmp_path, cell, kind, shown):
    """Parquet's list and struct columns (before: 'TypeError: unhashable type' from the ID check)."""
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.ones(40), "nested": [cell] * 40, "kind": ["x", "y"] * 20})
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(
        ValueError, match=rf"column 'nested' holds {kind} \(e.g. {re.escape(shown)}\).*--exclude nested"
    ):
        read_table(tmp_path / "t.parquet", label_col="kind")
    with pytest.raises(ValueError, match=rf"the label column 'nested' holds {kind}.*choose another --label-col"):
        read_table(tmp_path / "t.parquet", label_col="nested", exclude=["kind"])
    table = read_table(tmp_path / "t.parquet", label_col="kind", exclude=["nested"])
    assert table.columns == ["a", "b"] and table.labels.tolist()[:2] == ["x", "y"]
    table = read_table(tmp_path / "t.parquet", label_col="kind", columns=["a", "b"])  # chosen: the rest is no ID
    assert table.columns == ["a", "b"] and table.ids is None


def _gzip_named_csv(path):
    path.write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n"))


@pytest.mark.parametrize(
    "name, write, message",
    [
        ("h.csv", lambda p: p.write_text("a,b,c\n"), "no data rows (only the column names: a, b, c)"),
        ("z.parquet", lambda p: pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(p), "no data rows"),
        ("big.csv", lambda p: p.write_text("a,b\n1e400,2\n3,4\n"), "'a' holds a number beyond the range of 64-bit"),
        ("g.csv", _gzip_named_csv, "gzip-compressed but its name does not say so; name it g.csv.gz"),
        ("e.npz", lambda p: np.savez(p), "the file holds no arrays"),
    ],
    ids=["header-only", "zero-row-parquet", "overflow", "gzip-named-csv", "empty-npz"],
)
def test_files_with_nothing_usable_say_what_is_wrong(tmp_path, name, write, message):
    """Each once got a message about something else ('not numeric', a utf-8 codec error, an empty list)."""
    write(tmp_path / name)
    with pytest.raises(ValueError) as caught:
        read_table(tmp_path / name)
    assert str(caught.value).startswith(f"{tmp_path / name}: ") and message in str(caught.value)


def test_keep_text_sets_text_columns_aside(tmp_path):
    rows = pd.DataFrame({"g1": [1.0, np.nan, 3.0, 4.0], "kind": list("xyxy"), "cell": ["c1", "c2", "c3", "c4"],
                         "g2": [0.5, 0.6, 0.7, 0.8]})  # fmt: skip
    rows.to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(ValueError, match="not numeric"):
        read_table(tmp_path / "rows.csv", missing="mean")  # text refused as features by default
    table = read_table(tmp_path / "rows.csv", keep_text=True, missing="drop")
    assert table.columns == ["g1", "g2"] and table.X.tolist() == [[1.0, 0.5], [3.0, 0.7], [4.0, 0.8]]
    assert table.text.to_dict("list") == {"kind": ["x", "x", "y"], "cell": ["c1", "c3", "c4"]}  # rows dropped alike
    table = read_table(tmp_path / "rows.csv", keep_text=True, label_col="kind", exclude=["g1"])
    assert table.columns == ["g2"] and list(table.text.columns) == ["cell"] and table.labels.tolist() == list("xyxy")
    only = read_table(tmp_path / "rows.csv", keep_text=True, columns=None, exclude=["g1", "g2"])
    assert only.X.shape == (4, 0) and list(only.text.columns) == ["kind", "cell"]  # annotations alone
    with pytest.raises(ValueError, match="not numeric"):
        read_table(tmp_path / "rows.csv", keep_text=True, columns=["g2", "kind"])  # named features stay features


def test_thousands_separated_by_commas(tmp_path):
    """'1,234' in quotes is the number 1234, header or not; a file where another comma number such as
    '1,2' appears keeps such cells as text (it is not read as 12)."""
    path = tmp_path / "t.csv"
    for text, names in (('a,b\n"1,234",5\n"12,345.5",6\n7,8\n', ["a", "b"]), ('"1,234",5\n"12,345.5",6\n7,8\n', None)):
        path.write_text(text)
        table = read_table(path)
        assert table.columns == names and table.X.tolist() == [[1234.0, 5.0], [12345.5, 6.0], [7.0, 8.0]]
    path.write_text('a,b\n"1,2",5\n"1,234",6\n')
    with pytest.raises(ValueError, match=r"'a' \(e.g. '1,2' in row 1\)"):
        read_table(path)
    path.write_text("a;b\n1,5;2\n3,25;4\n")  # decimal commas: no thousands there
    assert read_table(path).X.tolist() == [[1.5, 2.0], [3.25, 4.0]]
    path.write_text("a,b\n" + '"1,234",5\n' * 60 + '"2,5",6\n')  # beyond the rows sniffed: still text
    with pytest.raises(ValueError, match="'a' .* is not numeric|1 column is not numeric"):
        read_table(path)
    tsv = tmp_path / "t.tsv"
    tsv.write_text("0,125\t1,500\n2,250\t0,375\n")  # decimal commas in a TSV (not thousands): read as such
    assert read_table(tsv).X.tolist() == [[0.125, 1.5], [2.25, 0.375]]
    tsv.write_text("a\tb\n1,234\t15,000\n2,500\t987\n")  # each could be thousands: not guessed, said
    with pytest.raises(ValueError, match=r"'1,234' in 'a' may be a number with a decimal comma or with its thousands"):
        read_table(tsv, header=True)


def test_the_array_of_an_npz_is_picked_by_columns(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "u.npz", rng.random((30, 4)), rng.random((30, 3)))  # unnamed: arr_0, arr_1
    with pytest.raises(ValueError, match="cannot tell which array holds the data .*pick it with --columns NAME"):
        read_table(tmp_path / "u.npz")
    assert read_table(tmp_path / "u.npz", columns=["arr_1"]).X.shape == (30, 3)
    np.savez(tmp_path / "n.npz", X=rng.random((30, 4)), Z=rng.random((30, 2)), y=np.arange(30) % 2)
    table = read_table(tmp_path / "n.npz", columns=["Z"], label_col="y")
    assert table.X.shape == (30, 2) and table.labels.tolist()[:3] == [0, 1, 0]
    with pytest.raises(ValueError, match=r"--columns takes one of its arrays: X, Z, y"):
        read_table(tmp_path / "n.npz", columns=["W"])
    with pytest.raises(ValueError, match="cannot be both the data and the labels"):
        read_table(tmp_path / "n.npz", columns=["y"], label_col="y")


def test_the_row_count_settles_a_labels_files_header(tmp_path):
    """A first label that looks like a header (its class occurs once) stays a label when the count
    says so; a first line over one label too many is the name, and the note says it was taken so."""
    path = tmp_path / "labels.csv"
    path.write_text("setosa\nversicolor\nversicolor\nvirginica\n")
    assert read_labels(path).tolist() == ["versicolor", "versicolor", "virginica"]  # alone: read as a header
    assert read_labels(path, rows=4).tolist() == ["setosa", "versicolor", "versicolor", "virginica"]
    path.write_text("kind\nk0\nk1\nk2\n")
    labels = read_labels(path, rows=3)
    assert (
        labels.name == "kind" and labels.tolist() == ["k0", "k1", "k2"] and "'kind', taken as" in labels.attrs["note"]
    )
    path.write_text("a\nb\nc\na\n")  # the first value occurs again: a label, and one too many
    assert len(read_labels(path, rows=3)) == 4


@pytest.mark.parametrize("name", ["codes.csv.gz", "codes.tsv.gz", "codes.idx.gz"])
def test_gzip_outputs_hold_no_temporary_name(tmp_path, name):
    """Outputs are written under a temporary name and renamed: their gzip header names no file (FNAME
    unset), so ``gunzip -N`` cannot bring back the temporary name; they read back as written."""
    values = pd.DataFrame(np.arange(6, dtype=np.float64).reshape(3, 2) / 4, columns=["a0", "a1"])
    path = write_table(tmp_path / name, values, None if "idx" in name else pd.Series(list("xyx"), name="kind"))
    assert path.read_bytes()[:2] == b"\x1f\x8b" and path.read_bytes()[3] & 0x08 == 0
    np.testing.assert_allclose(read_table(path, label_col=None if "idx" in name else "kind").X, values.to_numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_the_fit_commands_help_names_every_registered_file_format():
    """A format added to FORMATS is named where a user looks for what aedr reads (the help stays
    hand-written so that --help imports no registry)."""
    from typer.testing import CliRunner

    from aedr.cli import app

    text = " ".join(CliRunner().invoke(app, ["fit", "--help"], terminal_width=200).output.lower().split())
    missing = [name for name in FORMATS if name not in text]
    assert not missing, f"aedr fit --help does not name {missing}"


@pytest.mark.parametrize(
    "name", ["PatientID", "SampleId", "cellID", "record_no", "Subject", "patient_id", "CaseNo", "S.No."]
)
def test_unique_whole_numbers_under_an_ids_name_are_left_out_as_ids(tmp_path, name):
    """camelCase ID names and numbered records were used as features: the codes then carried the row
    order (iris sorted by species: the label leaked into the map)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.permutation(np.arange(10_001, 10_041)), "a": rng.random(40), "b": rng.random(40)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    table = read_table(tmp_path / "t.csv")
    assert table.columns == ["a", "b"] and table.ids.columns.tolist() == [name]
    assert f"left out '{name}'" in table.notes[0]


@pytest.mark.parametrize("name", ["lipid", "OID", "width", "atomic_number", "worst_case", "floor_no"])
def test_unique_whole_numbers_under_other_names_stay_features(tmp_path, name):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({name: rng.permutation(np.arange(10_001, 10_041)), "a": rng.random(40)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert read_table(tmp_path / "t.csv").columns == [name, "a"]


def test_zero_padded_ids_keep_their_text_and_plain_ones_their_numbers(tmp_path):
    """A patient_id of 00001 was written beside the codes as 1, which a join by text (a spreadsheet, a
    database key) does not match to its row. An ID column of whole numbers not written plainly is its
    text as written; plain whole numbers stay numbers; a padded feature is still its number, as pandas reads it."""
    rows = [f"{i + 1:05d},{i + 101},{i % 4:03d},{i * 0.5}" for i in range(30)]
    (tmp_path / "p.csv").write_text("patient_id,sample_id,dose,a\n" + "\n".join(rows) + "\n")
    table = read_table(tmp_path / "p.csv")
    assert table.columns == ["dose", "a"] and table.X[:5, 0].tolist() == [0, 1, 2, 3, 0]
    assert table.ids["patient_id"].tolist()[:2] == ["00001", "00002"] and table.ids["sample_id"].iloc[0] == 101
    chosen = read_table(tmp_path / "p.csv", columns=["a"])  # the features by name: the IDs beside them alike
    assert chosen.ids["patient_id"].tolist() == table.ids["patient_id"].tolist()


def test_a_text_column_unique_but_for_a_repeat_says_why_it_is_no_id(tmp_path):
    ids = [f"s{i}" for i in range(40)]
    ids[5] = "s4"
    pd.DataFrame({"sample": ids, "a": np.arange(40.0), "b": np.ones(40)}).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(ValueError, match=r"'sample' \(e.g. 's0' in row 1\), not an ID: 's4' repeats; leave it out"):
        read_table(tmp_path / "t.csv")


def test_a_csv_is_written_a_chunk_at_a_time_as_it_reads_whole(tmp_path, monkeypatch):
    """Codes were formatted as text all at once: 2M x 10 codes took 1.8 GB beyond a memory budget (scale
    QA F2). Chunks of rows give the same file: one header, the shortest floats, labels and IDs beside."""
    from aedr.data import formats

    Z = pd.DataFrame(np.random.default_rng(0).normal(size=(23, 2)).astype(np.float32), columns=["a0", "a1"])
    Z.iloc[4, 1] = np.nan
    labels, ids = pd.Series(list("xyz") * 7 + ["x", "y"], name="kind"), pd.DataFrame({"id": range(100, 123)})
    formats.format_of("whole.csv").write(tmp_path / "whole.csv", Z, labels, ids)
    monkeypatch.setattr(formats, "CSV_CHUNK_ROWS", 5)
    formats.format_of("parts.csv").write(tmp_path / "parts.csv", Z, labels, ids)
    assert (tmp_path / "parts.csv").read_text() == (tmp_path / "whole.csv").read_text()
    back = pd.read_csv(tmp_path / "parts.csv")
    assert back.columns.tolist() == ["id", "a0", "a1", "kind"] and len(back) == 23
    np.testing.assert_array_equal(back[["a0", "a1"]].to_numpy(np.float32), Z.to_numpy())
    formats.format_of("empty.csv").write(tmp_path / "empty.csv", Z.iloc[:0], None)
    assert (tmp_path / "empty.csv").read_text().strip() == "a0,a1"
