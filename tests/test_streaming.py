"""Rows streamed from disk (issue 16, data larger than memory): sources, statistics, training, faults, CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from typer.testing import CliRunner

import aedr.data.memory as memory
import aedr.data.stream as stream
from aedr import Autoencoder
from aedr.cli import app
from aedr.data.memory import parse_bytes
from aedr.data.scaling import AffineScaler
from aedr.data.sources import open_rows
from aedr.data.stream import StreamedRows, statistics

runner = CliRunner()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 100 rows of digits (8 MiB would be one block): block boundaries everywhere."""
    monkeypatch.setattr(memory, "BLOCK_BYTES", 100 * 64 * 4)
    monkeypatch.setattr(memory, "BUFFER_BYTES", 300 * 64 * 4)


def _handles(path) -> int:
    """This process's open descriptors on the file ``path``."""
    target = os.path.realpath(path)
    return sum(os.path.realpath(f"/proc/self/fd/{fd}") == target for fd in os.listdir("/proc/self/fd"))


@pytest.fixture
def npy(tmp_path, digits):
    path = tmp_path / "digits.npy"
    np.save(path, digits[0])
    return path


@pytest.mark.parametrize("kind", ["standard", "global", "minmax"])
def test_streamed_statistics_match_the_in_memory_scaling(npy, digits, small_blocks, kind):
    source = open_rows(npy)
    assert len(source.blocks()) == 18
    streamed, whole = AffineScaler.fit(source, kind), AffineScaler.fit(digits[0].astype(np.float64), kind)
    np.testing.assert_allclose(streamed.offset, whole.offset, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(streamed.scale, whole.scale, rtol=1e-6)


def test_chan_merge_is_stable_far_from_zero(tmp_path, small_blocks):
    """Values of 1e6 + noise of 1e-2: a sum of squares in one pass would lose the variance."""
    X = (1e6 + np.random.default_rng(0).normal(0, 1e-2, (1000, 64))).astype(np.float32)
    np.save(tmp_path / "far.npy", X)
    stats = statistics(open_rows(tmp_path / "far.npy"))
    np.testing.assert_allclose(np.sqrt(stats.m2 / stats.n), X.astype(np.float64).std(axis=0), rtol=1e-6)


def test_an_epoch_visits_every_training_row_once_in_shuffled_blocks(npy, small_blocks):
    import torch

    source = open_rows(npy)
    held_out = np.arange(0, 1797, 7)
    rows = StreamedRows(source, AffineScaler.fit(source, "standard"), "cpu", exclude=held_out)
    seen = [index for index, _ in rows.epoch_batches(64, torch.Generator().manual_seed(0))]
    order = torch.cat(seen).numpy()
    assert len(rows) == 1797 - len(held_out) == len(order)
    np.testing.assert_array_equal(np.sort(order), np.setdiff1d(np.arange(1797), held_out))
    assert not np.array_equal(order, np.sort(order))  # shuffled
    # each batch is the rows it names, scaled
    index, batch = next(rows.epoch_batches(64, torch.Generator().manual_seed(1)))
    expected = rows.scaler.transform(np.load(npy)[index.numpy()].astype(np.float64))
    np.testing.assert_allclose(batch.numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", ["auto", "standard"])
def test_rows_far_from_zero_on_disk_are_scaled_as_the_same_rows_in_memory(digits, small_blocks, tmp_path, scale, dtype):
    """Rows on disk were read and scaled in float32, so values far from zero lost their detail (1e6 + 0.3
    is 1e6 + 0.3125 in float32, and so is an offset of a float32 file's rows): a memmap's codes differed
    from the same rows' in memory by a fifth of a percent of their span. Now read and scaled in float64
    where float32 would lose it (a float64 file, or offsets beyond FLOAT32_SHIFT spreads)."""
    X = (digits[0][:600] + 1e6 + np.random.default_rng(0).uniform(0, 0.1, size=(600, 64))).astype(dtype)
    path = tmp_path / "offset.npy"
    np.save(path, X)
    params = dict(max_iter=3, hidden_layer_sizes=(16,), random_state=0, n_jobs=1, scale=scale)
    in_memory = Autoencoder(**params).fit(X)
    streamed = Autoencoder(memory_budget=0, **params).fit(np.load(path, mmap_mode="r"))
    read_whole = Autoencoder(**params).fit(open_rows(path))  # within the budget: read into memory, as float64
    np.testing.assert_allclose(streamed.scaler_.offset, in_memory.scaler_.offset, rtol=1e-12)  # blocks merged
    np.testing.assert_allclose(streamed.scaler_.scale, in_memory.scaler_.scale, rtol=1e-8)  # float32 reads: 1e-3
    Z = in_memory.transform(X)
    np.testing.assert_array_equal(in_memory.transform(np.load(path, mmap_mode="r")), Z)
    np.testing.assert_array_equal(in_memory.transform(open_rows(path)), Z)
    np.testing.assert_array_equal(read_whole.transform(X), Z)
    np.testing.assert_array_equal(streamed.transform(np.load(path, mmap_mode="r")), streamed.transform(X))


def test_a_streamed_fit_is_as_good_as_in_memory_and_deterministic(npy, digits, small_blocks, monkeypatch):
    X = digits[0]
    streamed = Autoencoder(2, max_iter=30, random_state=0, memory_budget=0).fit(open_rows(npy))
    again = Autoencoder(2, max_iter=30, random_state=0, memory_budget="0K").fit(open_rows(npy))  # text, as the CLI's
    in_memory = Autoencoder(2, max_iter=30, random_state=0).fit(X)
    np.testing.assert_array_equal(streamed.transform(X), again.transform(X))
    assert streamed.n_steps_ >= in_memory.n_steps_  # a ragged batch per buffer at most
    assert -streamed.score(X) < 1.1 * -in_memory.score(X)
    np.testing.assert_allclose(streamed.transform(open_rows(npy)), streamed.transform(X), atol=1e-5)
    with pytest.raises(ValueError, match="a size as text, such as '4G'"):
        Autoencoder(memory_budget="20Q").fit(X)
    assert streamed.score(open_rows(npy)) == pytest.approx(streamed.score(X), rel=1e-5)
    # where the fitted rows' codes lie, from evenly spaced blocks of the file: inside the codes of every row
    Z = streamed.transform(X)
    low, high = streamed.code_range_
    assert (low >= Z.min(axis=0) - 1e-5).all() and (high <= Z.max(axis=0) + 1e-5).all() and (high > low).all()
    # placed by reference rows, read a batch at a time as the encoder reads them (digits' values are whole)
    placed = streamed.transform(np.load(npy, mmap_mode="r"), reference=X)
    np.testing.assert_array_equal(placed, streamed.transform(X, reference=X))
    np.testing.assert_array_equal(
        streamed.transform(open_rows(npy), reference=X[:900]), streamed.transform(X, reference=X[:900])
    )
    holed = X.copy()
    holed[700, 3] = np.nan
    np.save(npy.with_name("holed.npy"), holed)
    with pytest.raises(ValueError, match=r"holed.npy: NaN or inf .* in data row 701"):
        streamed.transform(open_rows(npy.with_name("holed.npy")), reference=X)
    codes = npy.with_name("codes.npy")  # codes on disk decode like codes in memory, a block at a time
    monkeypatch.setattr("aedr.estimator.DECODED_BLOCK_BYTES", 8 * 64 * 500)  # blocks of 500 rows
    np.save(codes, streamed.transform(X).astype(np.float32))
    decoded = streamed.inverse_transform(open_rows(codes))
    np.testing.assert_array_equal(decoded, streamed.inverse_transform(np.load(codes)))
    assert decoded.dtype == np.float32 and decoded.shape == X.shape
    bad = streamed.transform(X).astype(np.float32)
    bad[600, 1] = np.nan  # in the second block of 500: named by its row in the file
    np.save(codes, bad)
    with pytest.raises(
        ValueError, match=r"codes.npy: NaN or inf \(or a value beyond float32\) in data row 601 \(in column 1\)"
    ):
        streamed.inverse_transform(open_rows(codes))
    np.save(codes, np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="codes.npy has 5 columns but this autoencoder's codes have 2"):
        streamed.inverse_transform(open_rows(codes))
    swapped = pd.DataFrame(streamed.transform(X), columns=streamed.get_feature_names_out())[
        ["autoencoder1", "autoencoder0"]
    ]
    swapped.to_parquet(npy.with_name("swapped.parquet"))
    with pytest.raises(ValueError, match="swapped.parquet's code columns come in another order than this model's"):
        streamed.inverse_transform(open_rows(npy.with_name("swapped.parquet")))


def test_a_memmap_streams_and_stays_untouched(tmp_path, digits):
    path = tmp_path / "d.npy"
    np.save(path, digits[0])
    mapped = np.load(path, mmap_mode="r+")
    before = np.array(mapped)
    est = Autoencoder(2, max_iter=3, random_state=0, memory_budget=0, early_stopping=True).fit(mapped)
    np.testing.assert_array_equal(np.asarray(mapped), before)
    assert est.transform(mapped).shape == (1797, 2) and len(est.validation_scores_) == est.n_iter_


def test_a_source_within_the_budget_is_read_whole(npy, digits):
    est = Autoencoder(2, max_iter=3, random_state=0).fit(open_rows(npy))
    same = Autoencoder(2, max_iter=3, random_state=0).fit(digits[0])
    np.testing.assert_array_equal(est.transform(digits[0]), same.transform(digits[0]))


def test_the_neighbour_mode_fits_streamed_rows_on_a_seeded_sample(npy, digits, monkeypatch):
    monkeypatch.setattr(stream, "NEIGHBOR_SAMPLE", 500)
    est = Autoencoder(2, neighbor_loss="umap", max_iter=4, random_state=0, memory_budget=0).fit(open_rows(npy))
    sample = stream.neighbor_sample(1797)
    assert len(sample) == 500 and np.array_equal(sample, stream.neighbor_sample(1797))
    same = Autoencoder(2, neighbor_loss="umap", max_iter=4, random_state=0).fit(digits[0][sample])
    np.testing.assert_array_equal(est.transform(digits[0]), same.transform(digits[0]))
    assert est.transform(open_rows(npy)).shape == (1797, 2)


def test_parquet_streams_by_row_group_with_names_and_labels(tmp_path, digits):
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y = digits
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(64)]).assign(label=y.astype(str))
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "d.parquet", row_group_size=250)
    source = open_rows(tmp_path / "d.parquet", label_col="label")
    assert source.shape == (1797, 64) and len(source.blocks()) == 8
    np.testing.assert_array_equal(source.read(240, 260), X[240:260])
    np.testing.assert_array_equal(source.take(np.array([3, 600, 1796])), X[[3, 600, 1796]])
    est = Autoencoder(2, max_iter=3, random_state=0, memory_budget=0).fit(source)
    assert list(est.feature_names_in_) == list(frame.columns[:64])
    assert source.labels().tolist() == y.astype(str).tolist()


def test_a_parquet_row_group_read_many_times_is_never_scaled_twice(tmp_path, digits):
    """One row group serves every batch of transform and every epoch: the cached group stays as read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    X = np.tile(digits[0], (5, 1))  # 8,985 rows: two inference batches in one row group
    pq.write_table(pa.table({f"p{i}": X[:, i] for i in range(64)}), tmp_path / "one.parquet")
    source = open_rows(tmp_path / "one.parquet")
    est = Autoencoder(2, max_iter=2, random_state=0, memory_budget=0).fit(source)
    first = est.transform(source)
    np.testing.assert_array_equal(first, est.transform(source))
    np.testing.assert_allclose(first, est.transform(pd.DataFrame(X, columns=source.feature_names)), atol=1e-5)
    np.testing.assert_array_equal(source.read(0, 5), X[:5])


def test_parquet_text_columns_are_named(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"a": [1.0, 2.0], "mixed": ["1", "two"], "b": [3, 4]})
    pq.write_table(table, tmp_path / "m.parquet")
    with pytest.raises(ValueError, match=r"m.parquet: 1 column not numeric: 'mixed' \(string\)"):
        open_rows(tmp_path / "m.parquet")
    assert open_rows(tmp_path / "m.parquet", exclude=["mixed"]).shape == (2, 2)


def test_h5ad_streams_x_in_backed_mode(tmp_path, digits):
    anndata = pytest.importorskip("anndata")
    import scipy.sparse as sp

    counts = np.random.default_rng(0).poisson(3, (300, 40)).astype(np.float32)
    anndata.AnnData(X=sp.csr_matrix(counts)).write_h5ad(tmp_path / "c.h5ad")
    source = open_rows(tmp_path / "c.h5ad", normalize=True)
    expected = np.log1p(counts * (1e4 / counts.sum(axis=1, keepdims=True)))
    np.testing.assert_allclose(source.read(100, 120), expected[100:120], rtol=1e-5)
    est = Autoencoder(2, max_iter=3, random_state=0, memory_budget=0).fit(source)
    assert est.transform(source).shape == (300, 2)
    adata = anndata.AnnData(obs=pd.DataFrame(index=[str(i) for i in range(5)]))
    adata.write_h5ad(tmp_path / "nox.h5ad")
    with pytest.raises(ValueError, match="nox.h5ad: holds no X matrix"):
        open_rows(tmp_path / "nox.h5ad")


def test_a_truncated_npy_is_refused_at_open(tmp_path, digits):
    path = tmp_path / "t.npy"
    np.save(path, digits[0])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"t.npy: is truncated: its header says 1,797 rows, the file holds 89\d"):
        open_rows(path)


def test_a_forged_npy_header_is_refused_before_numpy_allocates_it(tmp_path):
    """A small file whose header claims 2e9 rows: the in-memory reader (which a small file takes) refuses
    it as the streaming one does, instead of asking numpy for 60 GiB."""
    from aedr.data.io import read_table

    path = tmp_path / "forged.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": (2 * 10**9, 4)})
        handle.write(bytes(64))
    for read in (open_rows, read_table):
        with pytest.raises(
            ValueError, match=r"forged.npy: is truncated: its header says 2,000,000,000 rows, the file holds 2$"
        ):
            read(path)


def test_an_h5ad_that_shrinks_while_streaming_is_not_read_as_zeros(tmp_path, digits, small_blocks):
    """HDF5 reads past a cut file's end as zeros: the source tells by the file's size, not by the values."""
    anndata = pytest.importorskip("anndata")
    path = tmp_path / "s.h5ad"
    anndata.AnnData(X=digits[0].astype(np.float32)).write_h5ad(path)
    source = open_rows(path)
    first = source.read(0, 10)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)  # the later rows' values
    with pytest.raises(ValueError, match="s.h5ad: changed while cells .* truncated, rewritten or replaced while it"):
        source.read(1700, 1797)
    assert np.array_equal(first, digits[0][:10])
    path = tmp_path / "gone.h5ad"
    anndata.AnnData(X=digits[0].astype(np.float32)).write_h5ad(path)
    source = open_rows(path)
    path.unlink()  # a file deleted mid-fit was said to be "truncated or replaced" (scale QA L6)
    with pytest.raises(ValueError, match="gone.h5ad: changed while cells .* the file was deleted or moved while it"):
        source.read(0, 10)


@pytest.mark.parametrize("suffix", [".npy", ".parquet", ".h5ad"])
def test_a_file_rewritten_in_place_while_streaming_is_refused(tmp_path, digits, small_blocks, suffix):
    """`cp other.npy data.npy` onto a file being streamed keeps its size and inode, which were all the
    stream compared: the fit went on with another file's rows, scaled by the first's, and exited 0
    (s56 QA). The time of the file's last change is compared too."""
    import os

    path, rows = tmp_path / f"s{suffix}", digits[0].astype(np.float32)

    def write(values):
        if suffix == ".npy":
            np.save(path, values)
        elif suffix == ".parquet":
            frame = pd.DataFrame(values, columns=[f"p{i}" for i in range(values.shape[1])])
            frame.to_parquet(path, row_group_size=300, compression=None, use_dictionary=False)  # sized by shape
        else:
            pytest.importorskip("anndata").AnnData(X=values).write_h5ad(path)

    write(rows)
    source = open_rows(path)
    assert np.array_equal(source.read(0, 10), rows[:10])
    inode, size = path.stat().st_ino, path.stat().st_size
    other = tmp_path / f"other{suffix}"
    path.rename(other)
    write(rows[::-1].copy())  # the same shape: as `cp` writes it, into the first file in place
    with open(path, "rb") as new, open(other, "r+b") as old:
        old.seek(0)
        old.write(new.read())
    other.rename(path)
    later = path.stat().st_mtime_ns + 10**9  # a second later, whatever the file system's clock tick
    os.utime(path, ns=(later, later))
    assert (path.stat().st_ino, path.stat().st_size) == (inode, size)
    with pytest.raises(ValueError, match=rf"s{suffix}: changed while (rows|cells) .* rewritten or replaced"):
        source.read(1700, 1797)


def test_a_parquet_file_cut_short_is_said_to_be_so(tmp_path):
    """A Parquet file whose copy stopped part-way got pyarrow's "magic bytes not found in footer. Either the
    file is corrupted or this is not a parquet file" (scale QA L7), read in memory or streamed."""
    from aedr.data.io import read_table

    path = tmp_path / "cut.parquet"
    pd.DataFrame(np.arange(400.0).reshape(100, 4), columns=list("abcd")).to_parquet(path)
    path.write_bytes(path.read_bytes()[:-100])
    for read in (open_rows, read_table):
        with pytest.raises(ValueError, match=r"cut.parquet: is cut short: it starts as a Parquet file but lacks the"):
            read(path)
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"cut.parquet: cannot read as Parquet \(.*magic bytes"):
        open_rows(path)


def test_a_file_that_shrinks_while_streaming_names_it(tmp_path, digits, small_blocks):
    path = tmp_path / "s.npy"
    np.save(path, digits[0])
    source = open_rows(path)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(
        ValueError, match="s.npy: (ended at row|changed while rows) .* truncated .*while it was being read"
    ):
        Autoencoder(2, max_iter=2, memory_budget=0).fit(source)


def test_bad_npy_files_get_clear_errors(tmp_path):
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((5, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match="Fortran order"):
        open_rows(tmp_path / "f.npy")
    np.save(tmp_path / "v.npy", np.ones(5))
    with pytest.raises(ValueError, match="rows need 2 or more dimensions"):
        open_rows(tmp_path / "v.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match="junk.npy: not a .npy file"):
        open_rows(tmp_path / "junk.npy")
    X = np.ones((10, 3), dtype=np.float32)
    X[7, 1] = np.nan
    np.save(tmp_path / "nan.npy", X)
    with pytest.raises(
        ValueError, match=r"nan.npy: NaN or inf .* in data row 8 \(in column 1\); remove or impute .* --missing drop"
    ):
        Autoencoder(2, memory_budget=0).fit(open_rows(tmp_path / "nan.npy"))
    fitted = Autoencoder(2, hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(np.ones((10, 3)) + np.eye(10, 3))
    for method in ("score", "transform"):  # scoring a file names its rows too, not the network's range
        with pytest.raises(ValueError, match=r"nan.npy: NaN or inf .* in data row 8 \(in column 1\)"):
            getattr(fitted, method)(open_rows(tmp_path / "nan.npy"))


def test_memory_budget_sizes():
    assert parse_bytes("4G") == 4 * 2**30 and parse_bytes("512MiB") == 512 * 2**20 and parse_bytes("2e9") == 2e9
    assert parse_bytes("auto") == "auto"
    with pytest.raises(ValueError, match="is not a size"):
        parse_bytes("lots")


def _fake_system(tmp_path, cgroup: str, meminfo_kb: int = 8 << 20) -> tuple:
    """A procfs (``proc/meminfo``, ``proc/self/cgroup``) and a cgroup mount to fill, under ``tmp_path``."""
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal:       16000000 kB\nMemAvailable:   {meminfo_kb} kB\n")
    (proc / "self" / "cgroup").write_text(cgroup)
    return proc, cgroups


def _cgroup_files(folder, **files) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".", 1)).write_text(f"{text}\n")


def test_the_memory_available_is_the_smallest_cgroup_v2_headroom_up_the_tree(tmp_path):
    """A Slurm-like cgroup v2 tree: the limit is set two levels above the process's cgroup, whose own
    memory.max is "max"; inactive file pages count as free, as MemAvailable counts them."""
    GiB = 2**30
    proc, cgroups = _fake_system(tmp_path, "0::/job_1/step_0/task_0\n")
    _cgroup_files(cgroups / "job_1" / "step_0" / "task_0", memory_max="max", memory_current=str(GiB))
    _cgroup_files(cgroups / "job_1" / "step_0", memory_max="max", memory_current=str(GiB))
    _cgroup_files(
        cgroups / "job_1",
        memory_max=str(4 * GiB),
        memory_current=str(3 * GiB),
        memory_stat=f"anon 1\ninactive_file {GiB // 2}",
    )
    assert memory.memory_available(proc=proc, cgroups=cgroups) == GiB + GiB // 2  # 4 - 3 + 0.5 GiB
    (cgroups / "job_1" / "memory.max").write_text("max\n")  # no limit anywhere: MemAvailable
    assert memory.memory_available(proc=proc, cgroups=cgroups) == 8 * GiB
    (cgroups / "job_1" / "step_0" / "task_0" / "memory.current").write_text("garbage\n")
    (cgroups / "job_1" / "step_0" / "task_0" / "memory.max").write_text(f"{GiB}\n")  # unreadable usage: left out
    assert memory.memory_available(proc=proc, cgroups=cgroups) == 8 * GiB


def test_the_memory_available_reads_a_cgroup_v1_memory_limit(tmp_path):
    GiB = 2**30
    cgroup = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"  # a hybrid host: v1 memory, v2 without it
    proc, cgroups = _fake_system(tmp_path, cgroup)
    v1 = cgroups / "memory"
    _cgroup_files(v1, memory_limit_in_bytes="9223372036854771712", memory_usage_in_bytes=str(5 * GiB))  # unlimited
    _cgroup_files(
        v1 / "docker" / "abc",
        memory_limit_in_bytes=str(2 * GiB),
        memory_usage_in_bytes=str(GiB + GiB // 4),
        memory_stat=f"inactive_file 999\ntotal_inactive_file {GiB // 4}",
    )
    assert memory.memory_available(proc=proc, cgroups=cgroups) == GiB
    (proc / "meminfo").write_text("MemAvailable:   1024 kB\n")  # the system's, when it is the smallest
    assert memory.memory_available(proc=proc, cgroups=cgroups) == 1 << 20
    (proc / "meminfo").unlink()
    (proc / "self" / "cgroup").unlink()  # nothing known: all physical memory
    assert memory.memory_available(proc=proc, cgroups=cgroups) == os.sysconf("SC_PAGE_SIZE") * os.sysconf(
        "SC_PHYS_PAGES"
    )


def test_the_auto_budget_follows_the_address_space_limit(tmp_path):
    """Under ``ulimit -v`` (RLIMIT_AS) the auto budget is half of what the limit leaves, not half of the
    machine's free memory: a file that would not fit in memory there is streamed."""
    import subprocess
    import sys

    from aedr.data import memory

    if memory.budget_bytes("auto") <= 300 << 20:
        pytest.skip("the machine leaves less than 600 MiB free: a limit of 512 MiB more would not be lower")
    script = """
import resource
from aedr.data import memory
before = memory.budget_bytes("auto")
size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + (512 << 20), resource.getrlimit(resource.RLIMIT_AS)[1]))
print(before, memory.budget_bytes("auto"))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    before, after = map(int, out.split())
    assert after <= 256 << 20 < before and after > 200 << 20, (before, after)


def test_cli_fit_transform_and_inverse_transform_stream(tmp_path, npy, digits, small_blocks):
    out = tmp_path / "run"
    result = runner.invoke(app, ["fit", str(npy), "-o", str(out), "--memory-budget", "0", "--max-iter", "3", "-q"])
    assert result.exit_code == 0, result.output
    assert "streaming 1,797 x 64 rows from disk" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_samples"] == 1797 and metrics["reconstruction_mse"] > 0
    codes = np.load(out / "embedding.npy")
    assert codes.shape == (1797, 2)
    refused = runner.invoke(
        app, ["fit", str(npy), "-o", str(tmp_path / "r2"), "--memory-budget", "0", "--missing", "mean"]
    )
    assert refused.exit_code != 0 and "does not take --missing" in refused.output
    # a streamed .npy has no column selection: refused by name, not read whole without a word
    refused = runner.invoke(
        app, ["fit", str(npy), "-o", str(tmp_path / "r3"), "--memory-budget", "0", "--exclude", "0"]
    )
    assert refused.exit_code != 0 and "does not take --exclude" in refused.output
    assert not (tmp_path / "r3").exists()
    result = runner.invoke(app, ["transform", str(out / "model"), str(npy), "-o", str(tmp_path / "codes.npy")])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "codes.npy"), codes, atol=1e-5)
    result = runner.invoke(
        app, ["inverse-transform", str(out / "model"), str(tmp_path / "codes.npy"), "-o", str(tmp_path / "rows.npy")]
    )
    assert result.exit_code == 0, result.output
    rows = np.load(tmp_path / "rows.npy")
    assert rows.shape == (1797, 64) and rows.dtype == np.float32  # written a chunk at a time
    np.testing.assert_allclose(rows, Autoencoder and _load(out).inverse_transform(codes), rtol=1e-4, atol=1e-3)
    # codes with labels beside them: the chunked .npy holds the rows alone, and says so
    labelled = pd.DataFrame(codes, columns=["autoencoder0", "autoencoder1"]).assign(digit=digits[1].astype(str))
    labelled.to_csv(tmp_path / "codes.csv", index=False)
    args = ["inverse-transform", str(out / "model"), str(tmp_path / "codes.csv"), "-o", str(tmp_path / "rows2.npy")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "(1797 rows x 64 columns, float32)" in result.output
    assert "rows2.npy holds the decoded rows alone, without the labels" in result.output
    # the model's budget (here 0) is the fit's: on this machine --memory-budget sets another
    args = ["inverse-transform", str(out / "model"), str(tmp_path / "codes.npy"), "-o", str(tmp_path / "rows.csv")]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "exceed the memory budget (0 KiB; --memory-budget sets it)" in refused.output
    assert runner.invoke(app, [*args, "--memory-budget", "1G"]).exit_code == 0
    assert pd.read_csv(tmp_path / "rows.csv").shape == (1797, 64)
    bad = runner.invoke(app, [*args, "--memory-budget", "lots", "--force"])
    assert bad.exit_code == 2 and "--memory-budget" in bad.output and "is not a size" in bad.output
    result = runner.invoke(app, ["transform", str(out / "model"), str(npy), "--memory-budget", "1G"])
    assert result.exit_code == 0 and "streaming" not in result.stderr  # read whole under the larger budget


def _load(out):
    from aedr import load

    return load(out / "model")


def test_cli_streams_parquet_and_h5ad_with_their_labels(tmp_path, digits, small_blocks):
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y = digits
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(64)]).assign(digit=y.astype(str))
    frame.insert(0, "image", [f"img{i}" for i in range(len(y))])  # a row ID: left out, written beside the codes
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "d.parquet", row_group_size=400)
    out = tmp_path / "pq-run"
    args = ["fit", str(tmp_path / "d.parquet"), "-o", str(out), "--label-col", "digit", "--memory-budget", "0"]
    result = runner.invoke(app, [*args, "--max-iter", "3", "-q"])
    assert result.exit_code == 0, result.output
    assert "left out 'image': a different value in every row looks like an ID" in result.output
    embedding = pd.read_parquet(out / "embedding.parquet")
    assert embedding.columns[0] == "image" and embedding["image"].tolist() == frame["image"].tolist()
    assert embedding["digit"].tolist() == y.astype(str).tolist() and "knn_accuracy" in json.loads(
        (out / "metrics.json").read_text()
    )
    frame.iloc[::-1].drop(columns="digit").to_parquet(tmp_path / "new.parquet", row_group_size=400)
    result = runner.invoke(app, ["transform", str(out), str(tmp_path / "new.parquet"), "-o", str(tmp_path / "c.csv")])
    assert result.exit_code == 0 and "streaming" in result.output, result.output  # the model's budget: 0
    codes = pd.read_csv(tmp_path / "c.csv")
    assert codes["index"].tolist() == list(range(len(y)))[::-1]  # iloc[::-1]'s index, kept as the rows' IDs
    codes = codes.drop(columns="index").set_index("image").loc[embedding["image"]]
    np.testing.assert_allclose(codes.to_numpy(), embedding.iloc[:, 1:3].to_numpy(), rtol=1e-5, atol=1e-6)
    # the fit's ID column is kept by its name, whatever its values (here one batch's name in every row)
    frame.drop(columns="digit").assign(image="batch7").to_parquet(tmp_path / "same.parquet", row_group_size=400)
    result = runner.invoke(app, ["transform", str(out), str(tmp_path / "same.parquet"), "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0 and "streaming" in result.output, result.output
    assert pd.read_csv(tmp_path / "s.csv")["image"].eq("batch7").all()

    anndata = pytest.importorskip("anndata")
    obs = pd.DataFrame({"digit": y.astype(str)}, index=[str(i) for i in range(len(y))])
    anndata.AnnData(X=X, obs=obs).write_h5ad(tmp_path / "d.h5ad")
    out = tmp_path / "h5-run"
    args = ["fit", str(tmp_path / "d.h5ad"), "-o", str(out), "--label-col", "digit", "--memory-budget", "0"]
    result = runner.invoke(app, [*args, "--max-iter", "3", "-q"])
    assert result.exit_code == 0, result.output
    assert "no .h5ad copy with the codes in obsm: the file was streamed" in result.output
    assert "map.html has no obs colourings (aedr explore RUN --data d.h5ad draws them)" in " ".join(
        result.output.split()
    )
    assert pd.read_csv(out / "embedding.csv")["digit"].tolist() == y.tolist()
    mapped = runner.invoke(
        app, ["explore", str(out), "--data", str(tmp_path / "d.h5ad"), "-o", str(tmp_path / "m.html")]
    )
    assert mapped.exit_code == 0 and '"name":"9"' in (tmp_path / "m.html").read_text(), mapped.output


def test_a_source_closes_its_file_at_the_end_of_a_with_block_and_reopens_to_read(tmp_path, digits):
    import anndata
    import pyarrow as pa
    import pyarrow.parquet as pq

    X = digits[0][:100].astype(np.float32)
    np.save(tmp_path / "d.npy", X)
    pq.write_table(pa.Table.from_pandas(pd.DataFrame(X, columns=[f"p{i}" for i in range(64)])), tmp_path / "d.parquet")
    anndata.AnnData(X=X).write_h5ad(tmp_path / "d.h5ad")

    for name in ("d.npy", "d.parquet", "d.h5ad"):
        path = tmp_path / name
        with open_rows(path) as rows:
            np.testing.assert_allclose(rows[0:3], X[:3])
            assert _handles(path) == 1, name
        assert _handles(path) == 0, name
        np.testing.assert_allclose(rows[5:7], X[5:7])  # reading again reopens the file
        rows.close()


def test_a_streamed_file_refused_after_opening_is_closed(tmp_path, digits):
    """An error found once the file is open (here a label column the file lacks) leaves no handle on it."""
    import anndata

    anndata.AnnData(X=digits[0][:100]).write_h5ad(tmp_path / "d.h5ad")
    args = ["fit", str(tmp_path / "d.h5ad"), "-o", str(tmp_path / "run"), "--memory-budget", "0"]
    result = runner.invoke(app, [*args, "--label-col", "cell_type", "-q"])
    assert result.exit_code != 0 and "no obs column 'cell_type'" in result.output
    assert _handles(tmp_path / "d.h5ad") == 0


def test_a_file_refused_while_opening_it_to_stream_is_closed(tmp_path, digits):
    """A Parquet file without the label column, an .h5ad file without X: refused with no handle left on them."""
    import anndata
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame(digits[0][:50], columns=[f"p{i}" for i in range(64)])
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "d.parquet")
    anndata.AnnData(obs=pd.DataFrame(index=[str(i) for i in range(50)])).write_h5ad(tmp_path / "d.h5ad")

    # checked while the error is still held (its traceback keeps the half-made source alive, as a
    # caller reporting it does), not after the garbage collector has closed the file
    with pytest.raises(ValueError, match="no column 'digit'") as parquet_error:
        open_rows(tmp_path / "d.parquet", label_col="digit")
    assert parquet_error.traceback and _handles(tmp_path / "d.parquet") == 0
    with pytest.raises(ValueError, match="holds no X matrix") as h5ad_error:
        open_rows(tmp_path / "d.h5ad")
    assert h5ad_error.traceback and _handles(tmp_path / "d.h5ad") == 0


def test_evaluate_reads_rows_opened_from_a_file(tmp_path):
    X = np.random.default_rng(0).normal(size=(60, 4))
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame.to_parquet(tmp_path / "x.parquet")
    ae = Autoencoder(max_iter=2, hidden_layer_sizes=(8,), random_state=0).fit(frame)
    y = np.arange(60) % 2
    scores = ae.evaluate(open_rows(tmp_path / "x.parquet"), y)  # with the file's column names: no warning
    assert scores == pytest.approx(ae.evaluate(frame, y), rel=1e-6)


@pytest.mark.parametrize("budget", ["1G", "0"])  # read in memory, streamed from disk
def test_a_pandas_index_saved_in_parquet_is_the_rows_ids(tmp_path, digits, budget):
    """``df.to_parquet()`` keeps a DataFrame's index (sample names, or the rows kept by a filter): it is
    written beside the codes as the rows' IDs, never taken as a feature, read in memory or streamed."""
    X, y = digits
    frame = pd.DataFrame(X[:300], columns=[f"p{i}" for i in range(64)]).assign(digit=y[:300].astype(str))
    named = frame.set_axis([f"img{i}" for i in range(300)]).rename_axis("image")
    named.to_parquet(tmp_path / "named.parquet", row_group_size=100)
    frame[frame["p10"] > 2].to_parquet(tmp_path / "kept.parquet", row_group_size=100)  # whole numbers, unnamed
    times = np.linspace(0, 1, 300)  # not unique-looking text, yet the index: an ID all the same, never a feature
    frame.set_axis(pd.Index(times, name="time")).to_parquet(tmp_path / "time.parquet", row_group_size=100)
    named.assign(image=named.index).set_index("image", drop=False).to_parquet(tmp_path / "twice.parquet")
    # a range index other than 0, 1, 2, ...: pandas stores no column, only its start, stop and step
    frame.iloc[100:].to_parquet(tmp_path / "shifted.parquet", row_group_size=100)
    frame.rename_axis("row").to_parquet(tmp_path / "ranged.parquet", row_group_size=100)
    for name, column, values in (
        ("named", "image", [f"img{i}" for i in range(300)]),
        ("kept", "index", np.flatnonzero(frame["p10"] > 2).tolist()),
        ("time", "time", times.tolist()),
        ("twice", "image", [f"img{i}" for i in range(300)]),  # set_index(c, drop=False): the column, once
        ("shifted", "index", list(range(100, 300))),
        ("ranged", "row", list(range(300))),
    ):
        out = tmp_path / f"{name}-{budget}"
        args = ["fit", str(tmp_path / f"{name}.parquet"), "-o", str(out), "--label-col", "digit"]
        result = runner.invoke(app, [*args, "--memory-budget", budget, "--max-iter", "2", "-q"])
        assert result.exit_code == 0, result.output
        embedding = pd.read_parquet(out / "embedding.parquet")
        assert embedding.columns.tolist() == [column, "autoencoder0", "autoencoder1", "digit"]
        assert (
            embedding[column].tolist() == values and json.loads((out / "metrics.json").read_text())["n_features"] == 64
        )
        result = runner.invoke(app, ["transform", str(out), str(tmp_path / f"{name}.parquet")])
        assert result.exit_code == 0 and result.stdout.startswith(f"{column},autoencoder0"), result.output


@pytest.mark.parametrize("budget", ["1G", "0"])  # read in memory, streamed from disk
def test_a_parquet_column_that_numbers_the_rows_is_an_id_in_memory_and_streamed(tmp_path, digits, budget):
    """Whole numbers 0..n-1 under any name are the rows' numbers, not a feature, by either reader (the
    streamed one reads only columns whose row-group statistics allow it); counts in 0..16 stay features."""
    X, y = digits
    frame = pd.DataFrame(X[:300], columns=[f"p{i}" for i in range(64)]).astype(np.int64)
    frame.insert(0, "n", np.arange(300)[::-1])  # in any order
    frame.to_parquet(tmp_path / "d.parquet", row_group_size=70, index=False)
    out = tmp_path / f"run-{budget}"
    args = ["fit", str(tmp_path / "d.parquet"), "-o", str(out), "--memory-budget", budget, "--max-iter", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "left out 'n': a different value in every row looks like an ID" in result.output
    embedding = pd.read_parquet(out / "embedding.parquet")
    assert embedding.columns.tolist() == ["n", "autoencoder0", "autoencoder1"]
    assert embedding["n"].tolist() == list(range(299, -1, -1))
    assert json.loads((out / "metrics.json").read_text())["n_features"] == 64


def test_evaluate_streams_a_file_beyond_the_budget_to_the_scores_read_in_memory(tmp_path, digits, small_blocks):
    from aedr import load
    from aedr.scoring import embedding_scores

    X, y = digits
    np.save(tmp_path / "d.npy", X.astype(np.float32))
    pd.Series(y, name="digit").to_csv(tmp_path / "y.csv", index=False)
    args = ["fit", str(tmp_path / "d.npy"), "-o", str(tmp_path / "run"), "--memory-budget", "0"]
    assert runner.invoke(app, [*args, "--max-iter", "3", "--seed", "0", "-q"]).exit_code == 0
    args = ["evaluate", str(tmp_path / "run"), str(tmp_path / "d.npy"), "--labels", str(tmp_path / "y.csv")]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0 and "streaming" in result.stderr, result.output
    scores = json.loads(result.stdout)
    ae = load(tmp_path / "run")
    rows = X.astype(np.float32)
    Z = ae.transform(rows)
    expected = {"n_samples": len(X), **embedding_scores(rows, Z, ae.inverse_transform(Z), y)}
    assert scores.keys() == expected.keys() and scores["knn_accuracy"] > 0.5
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, rel=1e-4), key


def test_float32_rows_on_disk_give_float32_codes_as_in_memory(tmp_path, digits):
    X = digits[0][:300].astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    pd.DataFrame(X, columns=[f"p{i}" for i in range(64)]).to_parquet(tmp_path / "x.parquet")
    pd.DataFrame(X.astype(np.float64), columns=[f"p{i}" for i in range(64)]).to_parquet(tmp_path / "w.parquet")
    ae = Autoencoder(2, hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X)
    for rows in (
        np.load(tmp_path / "x.npy", mmap_mode="r"),
        open_rows(tmp_path / "x.npy"),
        open_rows(tmp_path / "x.parquet"),
    ):
        assert ae.transform(rows).dtype == np.float32, type(rows)
    assert ae.transform(open_rows(tmp_path / "w.parquet")).dtype == np.float64


def test_decoded_rows_beyond_the_budget_are_written_in_chunks_the_budget_holds():
    """A fixed 65,536 rows a chunk held 3.3 GB for 2,000 columns under --memory-budget 100M (fault QA 2)."""
    from types import SimpleNamespace

    from aedr.cli.inverse_transform import CHUNK_ROWS, MIN_CHUNK_ROWS, _chunk_rows

    model = SimpleNamespace(memory_budget=100 * 2**20, n_features_in_=2000)
    assert _chunk_rows(model) == 100 * 2**20 // (32 * 2000)  # 1,638 rows: 105 MB while decoded
    assert _chunk_rows(SimpleNamespace(memory_budget=0, n_features_in_=64)) == MIN_CHUNK_ROWS
    assert _chunk_rows(SimpleNamespace(memory_budget=2**40, n_features_in_=2)) == CHUNK_ROWS


def test_a_model_that_fills_empty_cells_fills_them_in_rows_streamed_from_disk(tmp_path, digits):
    """A model fitted with --missing mean refused every file beyond its budget, gaps or none: 'streamed from
    disk, which does not take --missing', an option the user never gave (fault QA 3). The model's training
    means now fill the streamed rows' empty cells, as they fill rows read into memory."""
    X = digits[0].astype(np.float32)[:400]
    gappy = X.copy()
    gappy[3, 5] = gappy[10, 20] = np.nan
    np.save(tmp_path / "gappy.npy", gappy)
    np.save(tmp_path / "clean.npy", X)
    fit = ["fit", str(tmp_path / "gappy.npy"), "-o", str(tmp_path / "run"), "--missing", "mean", "--max-iter", "2"]
    assert runner.invoke(app, [*fit, "--hidden-layer-sizes", "16", "-q"]).exit_code == 0
    model = str(tmp_path / "run" / "model")
    for name in ("gappy", "clean"):
        streamed, whole = tmp_path / f"{name}_streamed.npy", tmp_path / f"{name}_whole.npy"
        result = runner.invoke(
            app, ["transform", model, str(tmp_path / f"{name}.npy"), "-o", str(streamed), "--memory-budget", "1K"]
        )
        assert result.exit_code == 0 and "streaming 400 x 64 rows from disk" in result.output, result.output
        assert runner.invoke(app, ["transform", model, str(tmp_path / f"{name}.npy"), "-o", str(whole)]).exit_code == 0
        np.testing.assert_allclose(np.load(streamed), np.load(whole), atol=1e-5)
    refused = runner.invoke(  # --missing error: empty cells refused, streamed or not
        app,
        [
            "transform",
            model,
            str(tmp_path / "gappy.npy"),
            "-o",
            str(tmp_path / "e.npy"),
            "--memory-budget",
            "1K",
            "--missing",
            "error",
        ],
    )
    assert refused.exit_code == 1 and "data rows 4, 11 (the first in column 5)" in refused.output
