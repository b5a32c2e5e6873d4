"""aedr convert: a CSV/TSV table to Parquet a chunk at a time, and the refusal of a CSV beyond the budget."""

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
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2500, 4)), columns=["a", "b", "c", "d"])
    frame["kind"] = rng.choice(["x", "y"], 2500)
    frame.loc[7, "b"] = np.nan
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.tsv.gz", index=False, sep="\t")
    return frame


@pytest.mark.parametrize("name", ["t.csv", "t.tsv.gz"])
def test_a_table_converts_chunk_by_chunk_to_the_same_values(tmp_path, table, name):
    assert csv_to_parquet(tmp_path / name, tmp_path / "t.parquet", chunk_rows=1000) == (2500, 5)
    file = pq.ParquetFile(tmp_path / "t.parquet")
    assert file.metadata.num_row_groups == 3  # one per chunk: what streaming reads a block at a time
    assert [str(f.type) for f in file.schema_arrow] == ["float", "float", "float", "float", "string"]
    back = pd.read_parquet(tmp_path / "t.parquet")
    numbers = table[["a", "b", "c", "d"]].to_numpy(np.float32)
    np.testing.assert_array_equal(back[["a", "b", "c", "d"]].to_numpy(), numbers)  # NaN where the cell was empty
    assert back["kind"].tolist() == table["kind"].tolist()


def test_text_in_a_column_of_numbers_is_named_and_nothing_is_written(tmp_path, table):
    bad = table.astype({"c": object})
    bad.loc[1500, "c"] = "oops"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"bad.csv: line 1,502, column 'c': 'oops' is not a number"):
        csv_to_parquet(tmp_path / "bad.csv", tmp_path / "bad.parquet", chunk_rows=1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "t.csv", "t.tsv.gz"]
    with pytest.raises(ValueError, match="converts CSV or TSV tables"):
        csv_to_parquet(tmp_path / "t.parquet", tmp_path / "u.parquet")


def test_a_csv_beyond_the_memory_budget_is_refused_naming_the_conversion_that_streams(tmp_path, table):
    csv = tmp_path / "t.csv"
    result = runner.invoke(
        app, ["fit", str(csv), "--label-col", "kind", "--memory-budget", "100K", "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 1 and not (tmp_path / "r").exists()
    assert (
        f"a CSV/TSV is read whole: convert it once to Parquet, which streams from disk (aedr convert {csv} t.parquet)"
        in (result.stderr)
    )
    converted = runner.invoke(app, ["convert", str(csv), str(tmp_path / "t.parquet")])
    assert converted.exit_code == 0 and "(2,500 rows x 5 columns)" in converted.stdout
    again = runner.invoke(app, ["convert", str(csv), str(tmp_path / "t.parquet")])
    assert again.exit_code == 1 and "already exists" in again.stderr
    fitted = runner.invoke(app, ["fit", str(tmp_path / "t.parquet"), "--label-col", "kind", "--memory-budget", "100K",
                                 "--missing", "error", "--exclude", "b", "--max-iter", "2", "--threads", "1", "-q",
                                 "-o", str(tmp_path / "r")])  # fmt: skip
    assert fitted.exit_code == 0 and "streaming 2,500 x 3 rows from disk" in fitted.stderr, fitted.output
