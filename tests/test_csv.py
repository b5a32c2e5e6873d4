"""Real CSV files as users have them: delimiters, BOM, Windows line ends, quoted fields, text and ID
columns, empty cells, categories; read by ``aedr.data.io`` and through the ``aedr`` command."""

import gzip
import io

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aedr.cli import app
from aedr.data.io import constant_note, read_labels, read_table

FAST = ["--hidden-layer-sizes", "8", "--max-iter", "2", "--random-state", "0", "--quiet", "--threads", "1"]


def aedr(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _rows(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).round(3), rng.choice(["tumour", "normal"], size=n)


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, sep):
    X, kinds = _rows()
    path = tmp_path / "cells.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "kind": kinds}).to_csv(path, sep=sep, index=False)
    table = read_table(path, label_col="kind")
    assert table.columns == ["a", "b", "c"] and np.allclose(table.X, X) and table.labels.tolist() == kinds.tolist()


def test_semicolons_with_decimal_commas_bom_crlf_and_quoted_fields(tmp_path):
    path = tmp_path / "excel.csv"
    text = 'name;a;b;kind\r\n"Smith; J";1,5;-2,25;x\r\n"Doe";2,5;3,0;y\r\n"Roe, R";3,0;4,0;x\r\n"Poe";1,0;1e3;y\r\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    table = read_table(path, label_col="kind")
    assert table.columns == ["a", "b"]  # 'name' is unique text in every row: an ID, left out with a note
    assert table.X.tolist() == [[1.5, -2.25], [2.5, 3.0], [3.0, 4.0], [1.0, 1000.0]]
    assert "left out 'name'" in table.notes[0]


@pytest.mark.parametrize(
    "encoding, said",
    [
        ("utf-16", "UTF-16 text, and aedr reads UTF-8: convert it to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8"),
        ("utf-32", "UTF-32 text"),
        ("utf-16-le", "a NUL byte in line 1: not a text table (UTF-16 text without a byte-order mark"),
        ("cp1252", "not UTF-8 text (byte 0xe9 in line 4: Latin-1 or Windows-1252?); convert it to UTF-8 first"),
    ],
)
def test_text_in_another_encoding_than_utf8_is_named_with_the_command_that_converts_it(tmp_path, encoding, said):
    """Excel's "Unicode text" (UTF-16) read as empty cells or "'utf-8' codec can't decode byte 0xff", and a
    Windows-1252 file named no line; the message says what the file is and how to convert it."""
    text = "a,b,kind\n1,2,x\n3,4,y\n5,6,caf\xe9\n" + "".join(f"{i},{i},x\n" for i in range(9))
    (tmp_path / "rows.csv").write_bytes(text.encode(encoding))
    result = aedr("fit", tmp_path / "rows.csv", "-o", tmp_path / "run", *FAST)
    assert result.exit_code == 1 and f"rows.csv: {said}" in result.stderr, result.output
    assert not (tmp_path / "run").exists()
    (tmp_path / "rows.csv").write_bytes(text.encode("utf-8-sig"))  # UTF-8, with a byte-order mark or not, reads
    assert read_table(tmp_path / "rows.csv", label_col="kind").labels.tolist()[2] == "caf\xe9"


def test_a_byte_that_is_not_utf8_deep_in_a_file_is_named_by_its_line_when_converted(tmp_path):
    rows = ["a,b,kind", *(f"{i},{2 * i},x" for i in range(200_000))]
    rows[150_001] = "1,2,caf\xe9"
    (tmp_path / "rows.csv").write_bytes("\n".join(rows).encode("latin-1"))  # beyond the start that is sniffed
    result = aedr("convert", tmp_path / "rows.csv", tmp_path / "rows.parquet")
    assert result.exit_code == 1 and "rows.csv: not UTF-8 text (byte 0xe9 in line 150002" in result.stderr
    assert not (tmp_path / "rows.parquet").exists()


def test_space_separated_txt_tables_as_numpy_and_r_write_them(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 4))
    np.savetxt(tmp_path / "savetxt.txt", X)  # no header, single spaces
    np.testing.assert_allclose(read_table(tmp_path / "savetxt.txt").X, X)
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"]).assign(kind=np.where(np.arange(50) % 2, "T cell", "B"))
    frame.to_csv(tmp_path / "r.txt", sep=" ", index=False)  # R's write.table: quoted text with spaces in it
    table = read_table(tmp_path / "r.txt", label_col="kind")
    assert table.columns == ["a", "b", "c"] and table.labels.tolist()[:2] == ["B", "T cell"]
    np.savetxt(tmp_path / "padded.txt", X, fmt="%9.4f")  # fixed width: leading spaces, runs of them
    np.testing.assert_allclose(read_table(tmp_path / "padded.txt").X, X, atol=5e-5)
    (tmp_path / "padded.csv").write_bytes((tmp_path / "padded.txt").read_bytes())  # named .csv: spaces by request
    np.testing.assert_allclose(read_table(tmp_path / "padded.csv", delimiter=r"\s+").X, X, atol=5e-5)


def test_a_column_of_text_with_spaces_is_one_column_whatever_the_suffix(tmp_path):
    for name in ("labels.csv", "labels.txt"):  # "B cell" is one label, not two space-separated fields
        (tmp_path / name).write_text("cell_type\nB cell\nT cell\nB cell\n")
        assert read_labels(tmp_path / name).tolist() == ["B cell", "T cell", "B cell"]


def test_a_forced_delimiter_wins_and_a_gzipped_file_is_sniffed(tmp_path):
    path = tmp_path / "pipes.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("a|b\n1|2\n3|4\n5|6\n")
    assert read_table(path).X.tolist() == [[1, 2], [3, 4], [5, 6]]
    with pytest.raises(ValueError, match="not numeric"):  # forced to commas: one text column 'a|b'
        read_table(path, delimiter=",")


@pytest.mark.parametrize("packing", ["bz2", "xz"])
def test_bzip2_and_xz_tables_read_and_write_as_gzip_ones_do(tmp_path, packing):
    """A table compressed with bzip2 or xz (pandas reads them by name) was refused as an unknown file
    type, and the error for such a file misnamed said to name it so; fit, transform and convert read
    it as the plain table, and an output so named is written compressed."""
    import bz2
    import lzma

    X, kinds = _rows()
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "kind": kinds})
    frame.to_csv(tmp_path / "plain.csv", index=False)
    frame.to_csv(tmp_path / f"cells.csv.{packing}", index=False)
    plain, packed = (read_table(tmp_path / name, label_col="kind") for name in ("plain.csv", f"cells.csv.{packing}"))
    assert packed.columns == plain.columns and np.array_equal(packed.X, plain.X)
    aedr("fit", tmp_path / "plain.csv", "--label-col", "kind", "-o", tmp_path / "r", *FAST)
    codes = tmp_path / f"codes.csv.{packing}"
    result = aedr("transform", tmp_path / "r", tmp_path / f"cells.csv.{packing}", "-o", codes)
    assert result.exit_code == 0, result.output
    opened = {"bz2": bz2.open, "xz": lzma.open}[packing]
    with opened(codes, "rt") as text:
        assert pd.read_csv(text).shape == (30, 3)
    result = aedr("convert", tmp_path / f"cells.csv.{packing}", tmp_path / "cells.parquet")
    assert result.exit_code == 0 and pd.read_parquet(tmp_path / "cells.parquet").equals(
        pd.read_csv(tmp_path / "plain.csv")
    )
    (tmp_path / "hidden.csv").write_bytes((tmp_path / f"cells.csv.{packing}").read_bytes())
    with pytest.raises(
        ValueError, match=rf"compressed but its name does not say so; name it hidden.csv.{packing} \(read"
    ):
        read_table(tmp_path / "hidden.csv")


def test_a_zip_archive_is_named_as_such():
    from aedr.data.formats import format_of

    with pytest.raises(ValueError, match=r"cells.zip: unknown file type \(a .zip archive: unzip it first\)"):
        format_of("cells.zip")


def test_thousands_of_columns(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3000)).round(4)
    path = tmp_path / "wide.tsv"
    pd.DataFrame(X, columns=[f"gene{i}" for i in range(3000)]).to_csv(path, sep="\t", index=False)
    table = read_table(path)
    assert table.X.shape == (12, 3000) and table.columns[-1] == "gene2999" and np.allclose(table.X, X)


def test_a_one_line_table_of_a_million_columns_is_refused_before_pandas_reads_it(tmp_path):
    """A header of 1.2M names and nothing else (a CR-only export, a mis-sniffed delimiter) held pandas for
    minutes and GBs: it is refused at once, naming the count and that no data rows follow."""
    import time

    path = tmp_path / "oneline.csv"
    path.write_text(",".join(f"c{i}" for i in range(1_200_000)))  # 9.7 MB, no newline
    start = time.perf_counter()
    result = aedr("fit", path, "-o", tmp_path / "run", *FAST)
    assert time.perf_counter() - start < 30  # before: minutes
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1, result.output
    assert (
        f"{path}: has 1,200,000 columns (comma-separated) in its first line and no data rows after it; "
        "aedr reads at most 100,000 columns from a text table: save it as .npy or Parquet"
    ) in result.stderr
    assert not (tmp_path / "run").exists()


def test_the_bound_on_a_text_tables_columns(tmp_path, monkeypatch):
    """At most MAX_TEXT_COLUMNS columns, counted in the first line as pandas splits it (quoted
    delimiters, CR line ends, gzip); a table at the bound is read."""
    from aedr.data import formats

    monkeypatch.setattr(formats, "MAX_TEXT_COLUMNS", 10)
    names = ",".join(f"c{i}" for i in range(9))
    (tmp_path / "ten.csv").write_text(f'{names},"with, a comma"\r' + "\r".join(",".join(["1"] * 10) for _ in range(3)))
    assert read_table(tmp_path / "ten.csv").X.shape == (3, 10)
    with gzip.open(tmp_path / "eleven.csv.gz", "wt") as f:
        f.write(",".join(f"c{i}" for i in range(11)) + "\n" + ",".join(["1"] * 11) + "\n")
    with pytest.raises(ValueError, match=r"eleven.csv.gz: has 11 columns \(comma-separated\) in its first line; aedr"):
        read_table(tmp_path / "eleven.csv.gz")
    result = aedr("convert", tmp_path / "eleven.csv.gz", tmp_path / "eleven.parquet")  # it reads the same way
    assert result.exit_code == 1 and "eleven.csv.gz: has 11 columns" in result.stderr, result.output
    assert not (tmp_path / "eleven.parquet").exists()


def test_every_text_column_is_named_in_one_sentence_with_the_options_that_fix_it(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("a,city,b,kind\n1,Paris,2,x\n3,Lyon,4,y\n5,Paris,6,x\n")
    with pytest.raises(ValueError) as info:
        read_table(path)
    message = str(info.value)
    assert "2 columns are not numeric: 'city' (e.g. 'Paris' in row 1), 'kind' (e.g. 'x' in row 1)" in message
    assert "--exclude city,kind" in message and "--label-col" in message and "--one-hot city,kind" in message
    # names a shell would split or redirect are quoted, so the suggestion pastes as it is
    path.write_text("a,cell type,b,<b>kind</b>\n1,T cell,2,x\n3,B cell,4,y\n5,T cell,6,x\n")
    with pytest.raises(ValueError) as info:
        read_table(path)
    assert "--exclude 'cell type,<b>kind</b>'" in str(info.value), str(info.value)
    assert "--one-hot 'cell type,<b>kind</b>'" in str(info.value)


@pytest.mark.parametrize(
    "column, values, dropped",
    [
        ("sample", ["s1", "s2", "s3", "s4", "s5"], True),  # unique text
        ("sample_id", ["000001", "000002", "000003", "S4", "S5"], True),  # zero-padded numbers among them
        ("id", [17, 4, 99, 23, 8], True),  # unique whole numbers named like an ID
        ("cell_id", [5, 1, 2, 4, 3], True),
        ("row", [1, 2, 3, 4, 5], True),  # a row number: 0, 1, 2, ... or 1, 2, 3, ... in any order
        ("year", [2001, 2002, 2003, 2004, 2005], False),
        ("income", [41000, 52000, 38000, 61000, 45000], False),  # unique, but a measurement
        ("age", [30, 30, 41, 52, 41], False),
    ],
)
def test_a_column_that_looks_like_an_id_is_left_out_with_a_note(tmp_path, column, values, dropped):
    path = tmp_path / "ids.csv"
    pd.DataFrame({column: values, "a": [1.0, 2, 3, 4, 5], "b": [2.0, 1, 0, 1, 2]}).to_csv(path, index=False)
    table = read_table(path)
    assert (table.columns == ["a", "b"]) is dropped
    assert bool(table.notes) is dropped
    if not isinstance(values[0], str):  # named in --columns, numbers are used
        assert read_table(path, columns=[column, "a"]).columns == [column, "a"]


def test_missing_values_error_drop_mean_median(tmp_path):
    path = tmp_path / "holes.csv"
    path.write_text("a,b,kind\n1,2,x\n,4,y\n5,,x\n7,8,y\n9,10,x\n")
    with pytest.raises(
        ValueError, match=r"empty or NaN cells in data rows 2, 3 \(in columns 'a', 'b'\); pass --missing"
    ):
        read_table(path, label_col="kind")
    dropped = read_table(path, label_col="kind", missing="drop")
    assert dropped.X.tolist() == [[1, 2], [7, 8], [9, 10]] and dropped.labels.tolist() == ["x", "y", "x"]
    assert "dropped 2 rows" in dropped.notes[0]
    assert read_table(path, missing="mean", label_col="kind").X[1:3].tolist() == [[5.5, 4], [5, 6]]
    assert read_table(path, missing="median", label_col="kind").X[1:3].tolist() == [[6, 4], [5, 6]]
    with pytest.raises(ValueError, match="missing='zero'"):
        read_table(path, missing="zero")


def test_one_hot_categories_and_a_model_that_encodes_them_again(tmp_path):
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "colour": rng.choice(["red", "blue"], n)})
    frame.to_csv(tmp_path / "train.csv", index=False)
    table = read_table(tmp_path / "train.csv", one_hot=["colour"])
    assert table.columns == ["a", "b", "colour=blue", "colour=red"]
    assert (table.X[:, 2] + table.X[:, 3] == 1).all()

    result = aedr("fit", tmp_path / "train.csv", "--one-hot", "colour", "-o", tmp_path / "run", *FAST)
    assert result.exit_code == 0, result.output
    frame.head(3).assign(colour="red").to_csv(tmp_path / "new.csv", index=False)  # 'blue' absent here
    result = aedr("transform", tmp_path / "run", tmp_path / "new.csv", "-o", tmp_path / "codes.csv")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "codes.csv").shape == (3, 2)
    assert "categories the model was not fitted on" not in result.stderr
    frame.head(3).assign(colour=["red", "purple", "purple"]).to_csv(tmp_path / "new.csv", index=False)
    result = aedr("transform", tmp_path / "run", tmp_path / "new.csv", "-o", tmp_path / "codes.csv", "--force")
    assert result.exit_code == 0, result.output
    assert "2 rows hold categories the model was not fitted on (colour=purple)" in result.stderr
    assert "left out" not in result.stderr  # not also a column 'colour=purple' of the file (CLI QA 8)
    result = aedr("inverse-transform", tmp_path / "run", tmp_path / "codes.csv")
    assert result.stdout.splitlines()[0] == "a,b,colour=blue,colour=red"
    assert "note: colour=... is one-hot encoded: each decoded row holds a number per category" in result.stderr


def test_the_command_line_options_and_notes(tmp_path):
    path = tmp_path / "export.txt.csv"
    rows = [f"s{i};{i % 3},{i % 7};{i // 2},5;{'ab'[i % 2]}" for i in range(30)]
    path.write_text("sample;x;y;kind\n" + "\n".join(rows) + "\n")
    result = aedr("fit", path, "--label-col", "kind", "-o", tmp_path / "run", *FAST)
    assert result.exit_code == 0, result.output
    assert "note: " in result.stderr and "left out 'sample'" in result.stderr
    written = pd.read_csv(tmp_path / "run" / "embedding.csv", sep=None, engine="python")
    assert list(written.columns) == ["sample", "autoencoder0", "autoencoder1", "kind"]  # the ID kept, first
    assert written["sample"].tolist() == [f"s{i}" for i in range(30)]

    result = aedr("fit", path, "--delimiter", "comma", "-o", tmp_path / "bad", *FAST)
    assert result.exit_code == 1 and "with comma as the delimiter" in result.stderr and "--delimiter" in result.stderr
    assert not (tmp_path / "bad").exists()
    result = aedr("fit", path, "--delimiter", "ab", "-o", tmp_path / "bad", *FAST)
    assert result.exit_code == 2 and "--delimiter" in result.stderr and "'ab'" in result.stderr
    result = aedr("fit", path, "--missing", "zero", "-o", tmp_path / "bad", *FAST)
    assert result.exit_code == 2 and "--missing" in result.stderr and "drop" in result.stderr


def test_missing_rows_dropped_on_the_command_line_keep_labels_aligned(tmp_path):
    path = tmp_path / "holes.csv"
    rows = [f"{i * 1.5},{'' if i % 10 == 3 else i % 4},{'ab'[i % 2]}" for i in range(30)]
    path.write_text("a,b,kind\n" + "\n".join(rows) + "\n")
    result = aedr("fit", path, "--label-col", "kind", "--missing", "drop", "-o", tmp_path / "run", *FAST)
    assert result.exit_code == 0, result.output
    assert "dropped 3 rows with empty cells: data rows 4, 14, 24 (in column 'b'); column 'row' numbers the rest" in (
        result.stderr
    )
    embedding = pd.read_csv(tmp_path / "run" / "embedding.csv")
    assert len(embedding) == 27 and embedding["kind"].tolist() == ["ab"[i % 2] for i in range(30) if i % 10 != 3]
    # the codes line up with the file's rows by number (pasted beside the file, every row after the first
    # dropped one was against another's code)
    assert embedding["row"].tolist() == [i + 1 for i in range(30) if i % 10 != 3]
    assert "row IDs" not in aedr("info", tmp_path / "run").stdout  # aedr's numbers: no ID column of the file
    result = aedr("transform", tmp_path / "run", path, "--missing", "drop", "-o", tmp_path / "codes.csv")
    assert pd.read_csv(tmp_path / "codes.csv")["row"].tolist() == embedding["row"].tolist()


def test_missing_rows_dropped_take_their_labels_from_a_labels_file_too(tmp_path):
    path, labels = tmp_path / "holes.csv", tmp_path / "kinds.csv"
    path.write_text("a,b\n" + "\n".join(f"{i * 1.5},{'' if i % 10 == 3 else i % 4}" for i in range(30)) + "\n")
    labels.write_text("kind\n" + "\n".join(f"k{i}" for i in range(30)) + "\n")
    result = aedr("fit", path, "--labels", labels, "--missing", "drop", "-o", tmp_path / "run", *FAST)
    assert result.exit_code == 0, result.output
    assert "its first line, 'kind', taken as the labels' name" in result.stderr
    embedding = pd.read_csv(tmp_path / "run" / "embedding.csv")
    assert embedding["kind"].tolist() == [f"k{i}" for i in range(30) if i % 10 != 3]
    labels.write_text("kind\n" + "\n".join(f"k{i}" for i in range(27)) + "\n")  # labels of the kept rows only
    result = aedr("fit", path, "--labels", labels, "--missing", "drop", "-o", tmp_path / "run2", *FAST)
    assert result.exit_code == 1 and "28 labels for 30 rows" in result.stderr  # the header too: no way to tell
    assert "(the 3 --missing drop leaves out among them)" in result.stderr


def test_an_output_without_room_for_labels_says_it_left_them_out(tmp_path):
    path, labels = tmp_path / "rows.csv", tmp_path / "kinds.csv"
    path.write_text("a,b\n" + "\n".join(f"{i * 1.5},{i % 4}" for i in range(30)) + "\n")
    labels.write_text("kind\n" + "\n".join("ab"[i % 2] for i in range(30)) + "\n")
    result = aedr("fit", path, "--labels", labels, "--format", "npy", "-o", tmp_path / "run", *FAST)
    assert (
        result.exit_code == 0
        and "embedding.npy holds the codes alone; --format csv, tsv, parquet, npz or h5ad keeps" in result.stderr
    )
    result = aedr("transform", tmp_path / "run", path, "--labels", labels, "-o", tmp_path / "codes.npy")
    assert result.exit_code == 0 and "codes.npy holds the codes alone" in result.stderr
    result = aedr("transform", tmp_path / "run", path, "--labels", labels, "-o", tmp_path / "codes.npz")
    assert result.exit_code == 0 and "alone" not in result.stderr
    assert np.load(tmp_path / "codes.npz")["kind"].tolist() == ["ab"[i % 2] for i in range(30)]


def test_repeated_column_names_are_told_apart_with_a_note(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,a,b,b,c\n1,2,3,4,5\n5,6,7,8,9\n9,1,2,3,4\n")
    table = read_table(path)
    assert table.columns == ["a", "a.1", "b", "b.1", "c"]
    assert table.notes == ["repeated column names are told apart as 'a' -> 'a.1', 'b' -> 'b.1'"]
    path.write_text("a,b,a.1\n1,2,3\n4,5,6\n")  # a name of that form, given so, is no renaming
    assert read_table(path).notes == []


def test_a_file_without_a_header_writes_its_id_column_as_id(tmp_path):
    rows = [f"s{i:02d},{i % 3},{i % 7},{i // 2},{'ab'[i % 2]}" for i in range(30)]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
    assert aedr("fit", tmp_path / "rows.csv", "--label-col", "4", "-o", tmp_path / "run", *FAST).exit_code == 0
    written = pd.read_csv(tmp_path / "run" / "embedding.csv")
    assert list(written.columns) == ["id", "autoencoder0", "autoencoder1", "4"] and written["id"][29] == "s29"
    decoded = aedr("inverse-transform", tmp_path / "run", tmp_path / "run" / "embedding.csv")
    assert "keeping '4' beside the decoded rows" in decoded.stderr
    assert pd.read_csv(io.StringIO(decoded.stdout)).columns.tolist() == ["id", "x0", "x1", "x2", "4"]


def test_the_convert_command_named_for_another_encoding_is_one_a_shell_runs(tmp_path):
    """The iconv line named the path unquoted, and a name holding braces broke the message's own formatting."""
    path = tmp_path / "my {rows}.csv"
    path.write_bytes("a,b\n1,caf\xe9\n2,3\n".encode("cp1252"))
    result = aedr("fit", path, "-o", tmp_path / "run", *FAST)
    assert result.exit_code == 1 and f"iconv -f WINDOWS-1252 -t UTF-8 '{path}' > '{tmp_path}/utf8-my {{rows}}.csv'" in (
        result.stderr
    ), result.stderr


def test_labels_written_as_a_missing_value_marker_are_said(tmp_path):
    """Namibia's code NA, or a class called None, is read as a missing label (as pandas and R read
    those words), which the map and the k-NN accuracy then leave out: said, with the count of each
    word. Empty cells and numeric labels need no such note."""
    X, _ = _rows(n=12)
    path = tmp_path / "countries.csv"
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["country"] = ["NA", "ZA", "None", "BW"] * 3
    frame.to_csv(path, index=False)
    table = read_table(path, label_col="country")
    assert table.labels.isna().sum() == 6
    assert "6 labels of 'country' are written 'NA' (3) or 'None' (3) and read as missing" in " ".join(table.notes)
    from pandas._libs.parsers import STR_NA_VALUES

    from aedr.data.formats import NA_WORDS

    assert NA_WORDS == STR_NA_VALUES - {""}  # the words pandas reads as missing, which the note counts
    frame.assign(kind=["x", "y"] * 6).to_csv(path, index=False)  # a column one-hot encoded beside them
    table = read_table(path, label_col="country", one_hot=["kind"])
    assert "6 labels of 'country' are written 'NA' (3) or 'None' (3)" in " ".join(table.notes)
    frame.assign(country=["", "ZA", "", "BW"] * 3).to_csv(path, index=False)
    assert not any("read as missing" in note for note in read_table(path, label_col="country").notes)
    frame.assign(country=["NA", "1", "2", "3"] * 3).to_csv(path, index=False)
    assert not any("read as missing" in note for note in read_table(path, label_col="country").notes)


def test_cells_that_are_not_numbers_say_what_they_look_like(tmp_path):
    """A '-' or '?' for a missing value, or a number with a decimal comma where the table's others have
    points, were refused with advice to one-hot encode the column; the error now names what the cells
    look like and how to fix them, and keeps --one-hot for columns of categories."""
    X, _ = _rows(n=20)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype(object)
    frame.loc[3, "a"], frame.loc[5, "b"], frame.loc[7, "b"] = "-", "?", "-"
    frame.to_csv(tmp_path / "marks.csv", index=False)
    with pytest.raises(ValueError) as error:
        read_table(tmp_path / "marks.csv")
    message = str(error.value)
    assert "'-', '?' in 3 cells of 'a', 'b' look like a mark of a missing value: write those cells empty" in message
    assert "--one-hot" not in message
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype(object)
    frame["b"] = [f"{v:.2f}".replace(".", ",") for v in X[:, 1]]
    frame["c"] = frame["c"].map(lambda v: f"{1000 + abs(v):,.1f}".replace(",", " ").replace(".", ",").replace(" ", "."))
    frame.to_csv(tmp_path / "commas.csv", sep=";", index=False, decimal=".")
    with pytest.raises(ValueError) as error:
        read_table(tmp_path / "commas.csv")
    message = str(error.value)
    assert "in 'c' is a number with a decimal comma and its thousands grouped by points: write it" in message
    assert "--one-hot" not in message
    frame = pd.DataFrame({"a": X[:, 0], "share": [f"{v:.1f}%" for v in X[:, 1] * 10]})
    frame["visit"] = ["2021-03-01", "2021-03-02"] * 10  # repeated dates: no ID
    frame.to_csv(tmp_path / "dates.csv", index=False)
    with pytest.raises(ValueError) as error:
        read_table(tmp_path / "dates.csv")
    message = str(error.value)
    assert "in 'share' is a percentage: write its cells as numbers" in message
    assert "'2021-03-01' in 'visit' is a date or a time: write it as a number" in message and "--one-hot" not in message
    frame.assign(kind=["x", "y"] * 10)[["a", "kind"]].to_csv(tmp_path / "kinds.csv", index=False)
    with pytest.raises(ValueError, match=r"or encode categories with --one-hot kind$"):
        read_table(tmp_path / "kinds.csv")


def test_decimal_commas_are_read_in_tables_separated_by_tabs_or_pipes(tmp_path):
    X, _ = _rows()
    for sep in ("\t", "|"):
        pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(tmp_path / "eu.tsv", sep=sep, decimal=",", index=False)
        assert np.allclose(read_table(tmp_path / "eu.tsv").X, X)


def test_a_preamble_of_comment_lines_is_left_out(tmp_path):
    """An export's '# exported from ... / # units: ...' lines above the header were read as the table
    ('Expected 1 fields in line 3, saw 4; check --delimiter'): they are skipped, in convert too."""
    X, kinds = _rows()
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "kind": kinds})
    path = tmp_path / "export.csv"
    path.write_text(
        "# exported from LIMS 2024-01-01, by J. Doe\n\n# units: mg/L; a, b, c\n" + frame.to_csv(index=False)
    )
    table = read_table(path, label_col="kind")
    assert table.columns == ["a", "b", "c"] and np.allclose(table.X, X) and table.labels.tolist() == kinds.tolist()
    assert table.notes[0] == "skipped 3 lines of '#' comments at the top"
    result = aedr("convert", path, tmp_path / "export.parquet")
    assert result.exit_code == 0 and pd.read_parquet(tmp_path / "export.parquet").equals(frame), result.output
    np.savetxt(path, X, delimiter=",", header="a,b,c")  # its header is a comment line: '# a,b,c'
    table = read_table(path)
    assert table.columns == ["a", "b", "c"] and np.allclose(table.X, X)


def test_new_rows_say_which_numeric_columns_the_model_left_out_and_which_it_lacks(tmp_path):
    """transform of a file with a numeric column the model was not fitted on gave the right codes
    without a word (the column may be meant for the model); a file without a one-hot column was told it
    lacks 'smoker=no', 'smoker=yes' where the file's column is 'smoker'."""
    X, kinds = _rows()
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "smoker": ["yes", "no"] * 15, "kind": kinds})
    frame.to_csv(tmp_path / "train.csv", index=False)
    aedr("fit", tmp_path / "train.csv", "--label-col", "kind", "--one-hot", "smoker", "-o", tmp_path / "r", *FAST)
    frame.assign(dose=np.arange(30.0)).to_csv(tmp_path / "more.csv", index=False)
    result = aedr("transform", tmp_path / "r", tmp_path / "more.csv")
    assert result.exit_code == 0 and "left out 1 column the model was not fitted on: 'dose'" in result.stderr
    same = aedr("transform", tmp_path / "r", tmp_path / "train.csv")
    assert "left out" not in same.stderr and same.stdout == result.stdout
    frame.drop(columns="smoker").to_csv(tmp_path / "less.csv", index=False)
    result = aedr("transform", tmp_path / "r", tmp_path / "less.csv")
    assert result.exit_code == 1 and "lacks 1 of the columns the model was fitted on ('smoker')" in result.stderr


def test_columns_without_a_name_and_a_spreadsheet_are_named_as_such(tmp_path):
    """Two empty column names were 'repeated column names'; a .xlsx got a bare 'unknown file type'."""
    from aedr.data.formats import format_of

    path = tmp_path / "gaps.csv"
    path.write_text("a,,b,\n1,2,3,4\n5,6,7,8\n")
    assert read_table(path).notes == ["columns without a name are named 'Unnamed: 1', 'Unnamed: 3'"]
    with pytest.raises(ValueError, match=r"book.xlsx: unknown file type \(a spreadsheet: save its sheet as CSV"):
        format_of("book.xlsx")
    result = aedr("plot", "loss")
    assert result.exit_code == 2 and "no figure 'loss': aedr fit draws the loss curve as its run's loss.png" in (
        result.stderr
    )


def test_a_column_of_one_value_is_noted_in_a_fit(tmp_path):
    """A constant column went into the network without a word; new rows (a file of one row is constant
    in every column) are not told."""
    X, kinds = _rows()
    path = tmp_path / "const.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "batch": 7.0, "kind": kinds}).to_csv(path, index=False)
    assert constant_note(read_table(path, label_col="kind")) == (
        "1 column holds one value in every row, nothing for the codes to keep: 'batch' (--exclude leaves it out)"
    )
    fit = aedr("fit", path, "--label-col", "kind", "-o", tmp_path / "r", *FAST)
    assert fit.exit_code == 0 and "const.csv: 1 column holds one value in every row" in fit.stderr
    np.save(tmp_path / "const.npy", np.ones((30, 4)))  # no names; every code alike, and perfect scores
    flat = aedr("fit", tmp_path / "const.npy", "-o", tmp_path / "c", *FAST)
    assert "const.npy: every column holds one value in every row: every row gets the same code" in flat.stderr
    # explore reads the fit's rows for their fields: nothing is fitted there, so nothing to say
    explore = aedr("explore", tmp_path / "r", "--data", path, "--label-col", "kind", "-o", tmp_path / "m.html")
    assert explore.exit_code == 0 and "one value in every row" not in explore.stderr, explore.stderr


def test_a_file_of_one_row_is_refused_by_name(tmp_path):
    """scikit-learn's 'Found array with 1 sample(s) (shape=(1, 3)) ... required by Autoencoder' named no file."""
    (tmp_path / "one.csv").write_text("a,b,c\n1,2,3\n")
    result = aedr("fit", tmp_path / "one.csv", "-o", tmp_path / "r", *FAST)
    assert result.exit_code == 1 and "one.csv: 1 data row; a fit needs at least 2" in result.stderr
    assert not (tmp_path / "r").exists()
    from aedr import Autoencoder

    with pytest.raises(ValueError, match=r"^X has 1 row \(1 sample\(s\)\); a fit needs at least 2$"):
        Autoencoder().fit(np.ones((1, 3)))
