"""aedr convert: a CSV/TSV table to Parquet a chunk at a time, and the refusal of a CSV beyond the budget."""

import gzip

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from aedr.cli import app
from aedr.data.convert import csv_to_parquet

runner = CliRunner()


@pytest.fixture()
def table(tmp_path):
    """2,500 rows: pandas' saved index, large integer IDs, numbers with an empty cell, a column of whole
    numbers that holds a fraction late, true/false, text labels, an empty column."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"pid": np.arange(2500) + 10**15, "a": rng.normal(size=2500), "b": rng.integers(0, 5, 2500)})
    frame = frame.astype({"b": float})
    frame.loc[7, "a"], frame.loc[2200, "b"] = np.nan, 7.5
    frame = frame.assign(flag=rng.random(2500) > 0.5, kind=rng.choice(["T cell", "B"], 2500), empty=np.nan)
    frame.to_csv(tmp_path / "t.csv")
    with gzip.open(tmp_path / "t.tsv.gz", "wt") as handle:
        frame.to_csv(handle, sep="\t")
    return frame


@pytest.mark.parametrize("name, sep", [("t.csv", ","), ("t.tsv.gz", "\t")])
def test_a_table_converts_chunk_by_chunk_to_what_pandas_reads_of_it_whole(tmp_path, table, name, sep):
    """Each column gets the type the whole table gives it (found in a first pass over the chunks): the
    IDs stay exact integers, a late fraction makes its column float, not an error."""
    done = csv_to_parquet(tmp_path / name, tmp_path / "t.parquet", chunk_rows=1000)
    assert (done.rows, done.columns, done.delimiter, done.header) == (2500, 7, sep, True)
    assert pq.ParquetFile(tmp_path / "t.parquet").metadata.num_row_groups == 3  # one per chunk: streaming's blocks
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), pd.read_csv(tmp_path / name, sep=sep))


def test_a_text_column_keeps_its_cells_as_written_in_chunks_that_look_numeric(tmp_path):
    """A column that is text over the table but numbers in one chunk had that chunk's cells retyped:
    '000001' became '1', '1' became '1.0' and 'True' 1, so a fit of the Parquet file saw 7 classes where
    the CSV's had 4. The second pass reads such columns as text; the file equals what pandas reads whole."""
    site = ["000001", "1", "2", "2"] + ["True", "x1"] * 2 + ["1,234", "7"] * 2
    pd.DataFrame({"site": site, "v": np.arange(12.0)}).to_csv(tmp_path / "s.csv", index=False)
    csv_to_parquet(tmp_path / "s.csv", tmp_path / "s.parquet", chunk_rows=4)
    written = pd.read_parquet(tmp_path / "s.parquet")
    assert written["site"].tolist() == site
    pd.testing.assert_frame_equal(written, pd.read_csv(tmp_path / "s.csv"))


def test_chunks_whose_own_types_differ_from_the_tables_are_written_in_the_tables(tmp_path):
    """Columns are converted together where pandas' chunk type is the table's (floats, whole numbers
    without an empty cell) and one by one where not: a chunk of whole numbers in a float column, an
    empty chunk in a whole-number column (nulls)."""
    # n: whole, empty, whole (int64 with nulls, read back as pandas reads it); f: whole, fractions, whole
    lines = ["n,f,g,w", "1,1,0.5,10", "2,2,1.5,20", ",1.5,2.5,30", ",2.5,3.5,40", "3,3,4.5,50", "4,4,5.5,60"]
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    csv_to_parquet(tmp_path / "c.csv", tmp_path / "c.parquet", chunk_rows=2)
    assert [f.type for f in pq.read_schema(tmp_path / "c.parquet")] == ["int64", "double", "double", "int64"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "c.parquet"), pd.read_csv(tmp_path / "c.csv"))


@pytest.mark.parametrize(
    "cells",
    [
        ["True", "False", "2", "3"],
        ["2", "3", "True", "False"],
        ["False", "True", "1.5", "2"],
        ["TRUE", "FALSE", "0", "1"],
    ],
)
def test_true_false_in_one_chunk_and_numbers_in_another_are_text_as_in_the_whole_table(tmp_path, cells):
    """A column of true/false in its first chunk (65,536 rows) and numbers later was written as numbers
    (True as 1), which pandas reads from the whole table as text: the fit of the CSV refused the column,
    the fit of the Parquet file trained on it. It is text now, each cell as written."""
    pd.DataFrame({"b": cells, "v": [0.5, 1.5, 2.5, 3.5]}).to_csv(tmp_path / "b.csv", index=False)
    csv_to_parquet(tmp_path / "b.csv", tmp_path / "b.parquet", chunk_rows=2)
    written = pd.read_parquet(tmp_path / "b.parquet")
    assert written["b"].tolist() == cells
    pd.testing.assert_frame_equal(written, pd.read_csv(tmp_path / "b.csv"))


def test_true_false_beside_empty_chunks_stay_true_false(tmp_path):
    """An empty chunk fits any type: true/false with empty cells elsewhere stays true/false (nulls)."""
    (tmp_path / "e.csv").write_text("b,v\n,1\n,2\nTrue,3\nFalse,4\n")
    csv_to_parquet(tmp_path / "e.csv", tmp_path / "e.parquet", chunk_rows=2)
    assert pq.read_schema(tmp_path / "e.parquet").field("b").type == "bool"
    assert pd.read_parquet(tmp_path / "e.parquet")["b"].tolist() == [None, None, True, False]


def test_convert_shows_its_two_passes_progress_unless_quiet(tmp_path, table, monkeypatch):
    """A large table's conversion was silent for minutes: each pass now reports the rows it has read
    (the first pass, typing the columns, has no total yet), once it has run a couple of seconds."""
    calls = []
    csv_to_parquet(tmp_path / "t.csv", tmp_path / "p.parquet", chunk_rows=1000, progress=lambda *a: calls.append(a))
    typing = [(0, None), (1000, None), (2000, None), (2500, None)]
    assert calls == [("typing", *c) for c in typing] + [("writing", n, 2500) for n in (0, 1000, 2000, 2500)]
    monkeypatch.setattr("aedr.cli.convert.PROGRESS_DELAY", 0.0)
    result = runner.invoke(app, ["convert", str(tmp_path / "t.csv"), str(tmp_path / "q.parquet")])
    assert result.exit_code == 0, result.output
    assert "t.csv, pass 1/2 (column types): 2,500 rows" in result.stderr
    assert "t.csv, pass 2/2 (writing): 2,500/2,500 rows" in result.stderr
    result = runner.invoke(app, ["convert", str(tmp_path / "t.csv"), str(tmp_path / "r.parquet"), "--quiet"])
    assert result.exit_code == 0 and "pass" not in result.stderr and "wrote" in result.stderr
    monkeypatch.setattr("aedr.cli.convert.PROGRESS_DELAY", 60.0)  # a table converted sooner shows none
    result = runner.invoke(app, ["convert", str(tmp_path / "t.csv"), str(tmp_path / "s.parquet")])
    assert result.exit_code == 0 and "pass" not in result.stderr


def test_convert_of_standard_input_says_it_reads_a_file(tmp_path):
    """'aedr convert - out.parquet' said '-: no such file', as if a file named '-' were missing."""
    result = runner.invoke(app, ["convert", "-", str(tmp_path / "o.parquet")], input="a,b\n1,2\n")
    assert result.exit_code == 1 and "error: aedr convert reads a file, not standard input ('-')" in result.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_wide_rows_make_smaller_row_groups_that_stream(tmp_path, monkeypatch):
    monkeypatch.setattr("aedr.data.memory.BUFFER_BYTES", 16 * 50 * 100)  # 100 rows of 50 columns a group
    pd.DataFrame(np.random.default_rng(0).normal(size=(1000, 50))).to_csv(tmp_path / "w.csv", index=False)
    csv_to_parquet(tmp_path / "w.csv", tmp_path / "w.parquet")
    assert pq.ParquetFile(tmp_path / "w.parquet").metadata.num_row_groups == 10


def test_a_table_without_rows_or_of_another_format_is_refused_and_an_output_kept(tmp_path, table):
    csv_to_parquet(tmp_path / "t.csv", tmp_path / "t.parquet")
    before = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="h.csv: holds no rows to convert"):
        csv_to_parquet(tmp_path / "h.csv", tmp_path / "t.parquet", overwrite=True)
    assert (tmp_path / "t.parquet").read_bytes() == before  # refused before the output was touched
    with pytest.raises(ValueError, match="converts CSV or TSV tables"):
        csv_to_parquet(tmp_path / "t.parquet", tmp_path / "u.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv", "t.csv", "t.parquet", "t.tsv.gz"]


def test_a_csv_beyond_the_memory_budget_is_refused_naming_the_conversion_that_streams(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2500, 4)), columns=list("abcd")).assign(kind=rng.choice(["x", "y"], 2500))
    frame.to_csv(tmp_path / "my cells.csv", index=False)
    csv = tmp_path / "my cells.csv"
    fit = ["fit", str(csv), "--label-col", "kind", "--memory-budget", "100K", "-o", str(tmp_path / "r")]
    result = runner.invoke(app, fit)
    assert result.exit_code == 1 and not (tmp_path / "r").exists()
    advice = f"convert it once to Parquet, which streams from disk (aedr convert '{csv}' 'my cells.parquet')"
    assert advice in result.stderr and "beyond the memory budget (100 KiB)" in result.stderr
    model = ["fit", str(csv), "--label-col", "kind", "--max-iter", "1", "--hidden-layer-sizes", "4", "--quiet"]
    assert runner.invoke(app, [*model, "-o", str(tmp_path / "m")]).exit_code == 0
    piped = runner.invoke(app, ["transform", str(tmp_path / "m"), "-", "--memory-budget", "100K", "-o", "-"],
                          input=csv.read_bytes())  # fmt: skip
    assert piped.exit_code == 1 and "aedr convert <stdin>" not in piped.stderr  # convert reads files, not pipes
    assert "save the stream to a file, convert that to Parquet" in piped.stderr
    with_missing = runner.invoke(app, [*fit, "--missing", "mean"])  # an option a streamed file does not take
    assert with_missing.exit_code == 1 and "--missing need the rows in memory: raise --memory-budget" in (
        with_missing.stderr
    )
    converted = runner.invoke(app, ["convert", str(csv), str(tmp_path / "t.parquet")])
    assert converted.exit_code == 0 and "(2,500 rows x 5 columns)" in converted.stderr
    assert "read my cells.csv: comma-separated, its first line as the column names" in converted.stderr
    again = runner.invoke(app, ["convert", str(csv), str(tmp_path / "t.parquet")])
    assert again.exit_code == 1 and "already exists" in again.stderr
    fitted = runner.invoke(app, ["fit", str(tmp_path / "t.parquet"), "--label-col", "kind", "--memory-budget", "100K",
                                 "--max-iter", "2", "--threads", "1", "-q", "-o", str(tmp_path / "r")])  # fmt: skip
    assert fitted.exit_code == 0 and "streaming 2,500 x 4 rows from disk" in fitted.stderr, fitted.output
    frame.to_csv(tmp_path / "big.csv.gz", index=False)  # gzip: its text's size estimated from its first MiB
    result = runner.invoke(app, ["fit", str(tmp_path / "big.csv.gz"), "--label-col", "kind", "--memory-budget", "100K"])
    assert result.exit_code == 1 and "aedr convert" in result.stderr


def test_convert_says_how_it_read_the_table_and_reads_fixed_width_numbers(tmp_path):
    """numpy's savetxt with a width pads with spaces: runs of spaces separate the fields, as fit reads them."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    np.savetxt(tmp_path / "x.txt", X, fmt="%10.5f")
    result = runner.invoke(app, ["convert", str(tmp_path / "x.txt"), str(tmp_path / "x.parquet")])
    assert result.exit_code == 0 and "read x.txt: space-separated, no header line" in result.stderr, result.output
    np.testing.assert_allclose(pd.read_parquet(tmp_path / "x.parquet").to_numpy(), X, atol=1e-5)
    (tmp_path / "r.csv").write_text("a;a;b\n1,5;2;3\n4;5;6,25\n")  # repeated names, decimal commas
    result = runner.invoke(app, ["convert", str(tmp_path / "r.csv"), str(tmp_path / "r.parquet")])
    assert "semicolon-separated" in result.stderr and "told apart as 'a' -> 'a.1'" in result.stderr, result.output
    assert pd.read_parquet(tmp_path / "r.parquet").to_numpy().tolist() == [[1.5, 2, 3], [4, 5, 6.25]]
    (tmp_path / "one.csv").write_text("a,b\n1,2\n")
    result = runner.invoke(app, ["convert", str(tmp_path / "one.csv"), str(tmp_path / "one.parquet")])
    assert f"wrote {tmp_path / 'one.parquet'} (1 row x 2 columns)" in result.stderr
    result = runner.invoke(
        app, ["convert", str(tmp_path / "one.csv"), str(tmp_path / "t.parquet"), "--delimiter", "tab"]
    )
    assert "note: one column read with --delimiter tab: if the lines hold another separator" in result.stderr
    pd.DataFrame(np.arange(800.0).reshape(200, 4), columns=list("abcd")).to_csv(tmp_path / "h.csv", index=False)
    result = runner.invoke(app, ["convert", str(tmp_path / "h.csv"), str(tmp_path / "h.parquet"), "--no-header"])
    assert result.stderr.count("note:") == 1, result.stderr  # one hint, not one note per column
    assert "the first line holds text in 4 columns that are numbers below it" in result.stderr
    forced = runner.invoke(
        app, ["convert", str(tmp_path / "x.txt"), str(tmp_path / "y.parquet"), "--delimiter", "space"]
    )
    assert forced.exit_code == 0 and "space-separated" in forced.stderr


def test_a_column_of_numbers_with_a_stray_text_cell_is_named_with_the_cell(tmp_path, table):
    """One typo in 2,500 numbers made the column text without a word, and the streamed fit of the Parquet
    file then named the column alone (scale QA F3); a column of real text is no news."""
    table = table.astype({"a": object})
    table.loc[2100, "a"], table.loc[2300, "a"] = "oops", "n/a?"
    table.to_csv(tmp_path / "typo.csv")
    done = csv_to_parquet(tmp_path / "typo.csv", tmp_path / "typo.parquet", chunk_rows=1000)
    assert done.stray_text == {"a": ("oops", 2101, 2)}  # kind is text, as before: no stray for it
    result = runner.invoke(app, ["convert", str(tmp_path / "typo.csv"), str(tmp_path / "cli.parquet")])
    assert result.exit_code == 0 and "column 'a' is numbers but for 'oops' in data row 2,101 and 1 more cell" in (
        result.stderr
    )


def test_whole_numbers_beyond_int64_convert_as_pandas_reads_them(tmp_path):
    """Hashes and IDs of 2**63 and above crashed convert (OverflowError into int64), while fit read the
    same table: they are uint64, and text beside a negative number in another chunk, as pandas reads
    the whole table."""
    path = tmp_path / "ids.csv"
    path.write_text(
        "x,h,m\n1.5,1,-5\n2.5,9223372036854775808,1\n3.5,3,9223372036854775809\n4.5,18446744073709551615,2\n"
    )
    csv_to_parquet(path, tmp_path / "ids.parquet", chunk_rows=2)  # the negative number and the large one apart
    converted, read = pd.read_parquet(tmp_path / "ids.parquet"), pd.read_csv(path)
    assert converted.dtypes.to_dict() == read.dtypes.to_dict() == {"x": "float64", "h": "uint64", "m": object}
    assert converted["h"].tolist() == read["h"].tolist() and converted["m"].tolist() == read["m"].astype(str).tolist()


def test_zero_padded_ids_convert_as_written_and_padded_features_as_numbers(tmp_path):
    """A patient_id of 00001 became 1 in the Parquet file, so the codes of a fit of it did not join back
    to the table by text. An ID (whole numbers under an ID's name, unique) not written plainly is text
    as written, as a fit of the table writes it; a padded feature, or padded numbers that repeat, are the
    numbers pandas reads (a fit of the table uses them so), and plain IDs stay whole numbers."""
    rows = [f"{i + 1:05d},{i + 101},{i % 4:03d},{i // 2:04d},{i * 0.5}" for i in range(30)]
    (tmp_path / "p.csv").write_text("patient_id,sample_id,dose,visit_id,a\n" + "\n".join(rows) + "\n")
    csv_to_parquet(tmp_path / "p.csv", tmp_path / "p.parquet", chunk_rows=4)
    written = pd.read_parquet(tmp_path / "p.parquet")
    assert written.dtypes.astype(str).tolist() == ["object", "int64", "int64", "int64", "float64"]
    assert written["patient_id"].tolist()[:2] == ["00001", "00002"] and written["dose"].tolist()[:5] == [0, 1, 2, 3, 0]
    from aedr.data.io import read_table

    table, converted = read_table(tmp_path / "p.csv"), read_table(tmp_path / "p.parquet")
    assert converted.columns == table.columns == ["dose", "visit_id", "a"]
    pd.testing.assert_frame_equal(converted.ids, table.ids)


def test_a_ragged_line_deep_in_the_file_names_the_delimiter_as_one_near_the_top_does(tmp_path):
    """A bad line past the first rows said only pandas' words, without the delimiter or the hint the same
    error near the top gives; where it started a chunk it was not refused at all."""
    lines = ["a;b", *(f"{i};{i}" for i in range(3000)), "1;2;3", "4;4"]
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    # inside a chunk, and starting one (where pandas' reader dropped the third field and the file was written)
    for rows in (170, 100):
        with pytest.raises(
            ValueError, match=r"as the delimiter: data row 3,001 has more fields than the 2 columns; check"
        ):
            csv_to_parquet(tmp_path / "r.csv", tmp_path / "r.parquet", chunk_rows=rows)
        assert not (tmp_path / "r.parquet").exists()
    (tmp_path / "r.csv").write_text("\n".join([*lines[:-2], "1;2;3;4", "4;4"]) + "\n")
    with pytest.raises(ValueError, match=r"with semicolon as the delimiter \(.*line 3002, saw 4\); check --delimiter"):
        csv_to_parquet(tmp_path / "r.csv", tmp_path / "r.parquet", chunk_rows=170)
