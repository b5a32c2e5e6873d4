"""Two processes writing the same output: the second is refused when it starts, naming the first;
a killed writer leaves nothing that blocks the next. Real processes and real locks, no mocks."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from aedr import AedrWarning, Autoencoder
from aedr._files import OutputBusyError, lock_file, output_lock, staged_file, staged_folder
from aedr.cli import app

FAST = ["--hidden-layer-sizes", "8", "--max-iter", "2", "--random-state", "0", "--quiet", "--threads", "1"]
HOLD = "import sys; from aedr._files import output_lock\nwith output_lock(sys.argv[1]):\n print('held', flush=True); sys.stdin.read()"


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_busy(result_code, stderr, target, pid):
    lines = stderr.strip().splitlines()
    assert result_code == 1, stderr
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0] == (
        f"error: {target} is being written by another aedr process (pid {pid}); "
        "wait for it to finish or choose another name"
    )


def _wait_for_lock(target, process, timeout=120):
    lock, deadline = lock_file(target), time.monotonic() + timeout
    while not (lock.exists() and lock.read_text().strip()):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)


@pytest.fixture
def holder(tmp_path):
    """A process that holds the lock on the path it is given until its stdin closes."""
    started = []

    def start(target):
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(target)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout.readline().strip() == "held"
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_second_fit_of_the_same_out_fails_at_start_and_a_killed_one_blocks_nothing(tmp_path):
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).normal(size=(2000, 20)))
    out = tmp_path / "run"
    first = subprocess.Popen(
        [sys.executable, "-m", "aedr", "fit", str(data), "-o", str(out), "--max-iter", "100000",
         "--n-iter-no-change", "100000", "--hidden-layer-sizes", "16", "--threads", "1", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_lock(out, first)
        second = subprocess.run(
            [sys.executable, "-m", "aedr", "fit", str(data), "-o", str(out), *FAST, "--force"],
            capture_output=True,
            text=True,
        )
        assert_busy(second.returncode, second.stderr, out, first.pid)
        result = cli("fit", data, "-o", out, *FAST)  # and from this process, without --force
        assert_busy(result.exit_code, result.stderr, out, first.pid)
        assert first.poll() is None  # both refused at their start, while the first still trains
        while not any(p.name.endswith(".tmp-run") for p in tmp_path.iterdir()):  # the first is writing its folder
            assert first.poll() is None
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)  # out of memory, a node lost: no clean-up runs
        first.wait(timeout=60)
    assert {p.name for p in tmp_path.iterdir()} >= {".run.lock", "data.npy"}  # what the kill left
    result = cli("fit", data, "-o", out, *FAST)  # the next run is not blocked, and clears the leftovers
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path)) == ["data.npy", "run"]
    result = cli("fit", data, "-o", out, *FAST, "--force")  # replacing leaves no staging folder or lock either
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path)) == ["data.npy", "run"]


def test_every_command_that_writes_a_file_is_refused_while_another_process_writes_it(tmp_path, holder):
    X = np.random.default_rng(0).normal(size=(40, 4))
    np.save(tmp_path / "x.npy", X)
    model = tmp_path / "model"
    Autoencoder(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X).save(model)
    cases = {
        "codes.csv": ["transform", model, tmp_path / "x.npy", "-o"],
        "rows.csv": ["inverse-transform", model, tmp_path / "x.npy", "--columns", "x0,x1", "-o"],
        "codes.png": ["plot", tmp_path / "x.npy", "-o"],
        "demo": ["demo", "--max-iter", "1", "--out"],
    }
    for name, args in cases.items():
        target = tmp_path / name
        process = holder(target)
        for extra in ([], ["--force"]):
            result = cli(*args, target, *extra)
            assert_busy(result.exit_code, result.stderr, target, process.pid)
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    assert sorted(os.listdir(tmp_path)) == ["model", "x.npy"]  # locks removed, nothing staged


def test_library_writes_are_refused_while_another_process_holds_the_lock(tmp_path, holder):
    target = tmp_path / "out"
    process = holder(target)
    for overwrite in (False, True):
        with pytest.raises(OutputBusyError, match=rf"pid {process.pid}"), staged_folder(target, overwrite=overwrite):
            pass
        with pytest.raises(OutputBusyError), staged_file(target, overwrite=overwrite):
            pass
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert os.listdir(tmp_path) == [".out.lock"]  # the file stays, its lock went with the process
    with output_lock(target), output_lock(target):  # this process's own lock, taken twice
        with staged_file(target) as staged:
            staged.write_text("x")
    assert os.listdir(tmp_path) == ["out"]


def test_a_lock_in_a_new_folder_creates_it_and_removes_it_when_nothing_was_written(tmp_path):
    with pytest.raises(RuntimeError), output_lock(tmp_path / "a" / "b" / "run"):
        assert (tmp_path / "a" / "b").is_dir()
        raise RuntimeError
    assert os.listdir(tmp_path) == []


def test_a_disk_too_full_for_the_lock_s_process_id_leaves_no_lock_file(tmp_path, monkeypatch):
    """On a full disk the empty .run.lock stayed behind the error (the file is made, its write fails)."""
    import aedr._files

    def full(descriptor, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(aedr._files.os, "write", full)
    with pytest.raises(OSError, match="cannot write here \\(no space left on device\\)"):
        with output_lock(tmp_path / "run"):
            pass
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, a folder nobody can write in")
def test_a_folder_that_cannot_be_written_is_named_not_the_lock_file(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 3)))
    result = cli("fit", tmp_path / "x.npy", "-o", "/proc/aedr-run", *FAST)
    assert result.exit_code == 1 and result.output.startswith("error: /proc: cannot write here (")
    assert ".lock" not in result.output


def interrupt_renaming(monkeypatch, name: str) -> None:
    """Ctrl-C as the file ``name`` is renamed (moved into a new output folder), until ``monkeypatch.undo()``."""
    real_rename = Path.rename

    def rename(self, to):
        if self.name == name:
            raise KeyboardInterrupt
        return real_rename(self, to)

    monkeypatch.setattr(Path, "rename", rename)


def test_an_interrupted_replace_keeps_the_files_not_yet_moved(tmp_path, monkeypatch):
    """Ctrl-C while --force moves the user's files into the new folder: those not yet moved stay in
    the old folder, renamed to a name no later cleanup removes."""

    from aedr import _files

    target, staged = tmp_path / "run", tmp_path / "staged"
    target.mkdir()
    staged.mkdir()
    for name in ("a.txt", "b.txt", "model"):
        (target / name).write_text(name)
    (staged / "model").write_text("new")
    interrupt_renaming(monkeypatch, "b.txt")
    with pytest.raises(KeyboardInterrupt) as raised:
        _files._replace(staged, target, owned=("model",))
    monkeypatch.undo()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.previous-")]
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "model"] and (target / "model").read_text() == "new"
    assert len(kept) == 1 and (kept[0] / "b.txt").read_text() == "b.txt"
    assert raised.value.previous == kept[0]  # what the command's message names
    _files._remove_leftovers(target)  # the cleanup of dead processes' staging leaves it alone
    assert kept[0].exists()


def test_ctrl_c_as_force_moves_the_users_files_says_the_run_is_written_and_where_the_rest_are(tmp_path, monkeypatch):
    """It said "nothing of it was written" while the new run had replaced the old one, and never named
    the folder holding the user's files not yet moved."""
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 4)))
    assert cli("fit", tmp_path / "x.npy", "-o", tmp_path / "run", *FAST).exit_code == 0
    for name in ("notes.txt", "zz.txt"):
        (tmp_path / "run" / name).write_text(name)
    interrupt_renaming(monkeypatch, "zz.txt")
    result = cli("fit", tmp_path / "x.npy", "-o", tmp_path / "run", "--force", *FAST)
    monkeypatch.undo()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.previous-")]
    assert result.exit_code == 130 and len(kept) == 1 and (kept[0] / "zz.txt").exists(), result.output
    assert "the new output is in place" in result.stderr and str(kept[0]) in result.stderr
    assert "nothing" not in result.stderr and (tmp_path / "run" / "notes.txt").exists()
    assert (tmp_path / "run" / "model").is_dir() and not (tmp_path / "run.checkpoint").exists()


def test_a_file_force_cannot_move_back_says_the_run_is_written_and_leaves_no_checkpoint(tmp_path, monkeypatch):
    """A file of the user's that could not move into the new run (a read-only folder): the run had been
    written, yet its checkpoint stayed, and the next plain fit there was refused as an interrupted one."""
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 4)))
    assert cli("fit", tmp_path / "x.npy", "-o", tmp_path / "run", *FAST).exit_code == 0
    (tmp_path / "run" / "notes.txt").write_text("mine")
    real_rename = Path.rename

    def rename(self, to):
        if self.name == "notes.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_rename(self, to)

    monkeypatch.setattr(Path, "rename", rename)
    result = cli("fit", tmp_path / "x.npy", "-o", tmp_path / "run", "--force", *FAST)
    monkeypatch.undo()
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.previous-")]
    assert result.exit_code == 1 and len(kept) == 1 and (kept[0] / "notes.txt").read_text() == "mine"
    assert "run: written, but could not keep every file" in result.stderr and str(kept[0]) in result.stderr
    assert (tmp_path / "run" / "model").is_dir() and not (tmp_path / "run.checkpoint").exists()


def test_a_replace_killed_midway_leaves_the_users_files_where_no_later_write_removes_them(tmp_path):
    """kill -9 (or the OOM killer) while --force moves the user's files into the new folder: the old
    folder held them under a staging name, which the next write's cleanup of dead processes removed
    with them (30,001 files in the QA's case)."""
    target = tmp_path / "run"
    for folder, names in ((target, ("a.txt", "b.txt", "model")), (tmp_path / "staged", ("model",))):
        folder.mkdir()
        for name in names:
            (folder / name).write_text(name)
    child = f"""
import os, signal
from pathlib import Path
from aedr import _files
real = Path.rename
def rename(self, to):
    if self.name == "b.txt":
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, to)
Path.rename = rename
_files._replace(Path({str(tmp_path / "staged")!r}), Path({str(target)!r}), owned=("model",))
"""
    killed = subprocess.run([sys.executable, "-c", child], capture_output=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    from aedr import _files

    _files._remove_leftovers(target)  # the next write to the run
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.previous-")]
    assert len(kept) == 1 and (kept[0] / "b.txt").read_text() == "b.txt"
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "model"]


def test_a_symbolic_link_to_an_earlier_output_is_followed_and_any_other_is_replaced(tmp_path):
    """A link to an earlier model (run) folder, with overwrite, replaces that folder and stays; a link to
    anything else counts as existing and, with overwrite, is itself replaced: what it points to is never
    written (nor created, for a dangling link)."""
    from aedr._files import OutputExistsError

    X = np.random.default_rng(0).normal(size=(30, 4))
    ae = Autoencoder(n_components=2, hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X)
    ae.save(tmp_path / "model")
    (tmp_path / "latest").symlink_to("model")
    with pytest.raises(OutputExistsError):
        ae.save(tmp_path / "latest")
    ae.set_params(max_iter=2).fit(X).save(tmp_path / "latest", overwrite=True)
    assert (tmp_path / "latest").is_symlink() and '"max_iter": 2' in (tmp_path / "model" / "config.json").read_text()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine-link").symlink_to("mine")
    with pytest.raises(ValueError, match="mine-link is a symbolic link to .*mine, not to an earlier aedr output"):
        ae.save(tmp_path / "mine-link", overwrite=True)
    (tmp_path / "out.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to(tmp_path / "out.txt")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "elsewhere" / "new.txt")
    for name in ("link.txt", "dangling.txt"):
        with pytest.raises(OutputExistsError):
            with staged_file(tmp_path / name):
                pass
        with staged_file(tmp_path / name, overwrite=True) as staged:
            staged.write_text("new")
        assert not (tmp_path / name).is_symlink() and (tmp_path / name).read_text() == "new"
    assert (tmp_path / "out.txt").read_text() == "old" and not (tmp_path / "elsewhere").exists()
    (tmp_path / "loop.txt").symlink_to("loop.txt")
    with pytest.raises(ValueError, match="leads nowhere"):
        ae.save(tmp_path / "loop.txt", overwrite=True)


def test_an_npy_cut_short_by_the_disk_says_so(tmp_path):
    """numpy's own writer, cut short (a file size limit here, a full disk alike), raised 'OSError: 115008
    requested and 6384 written', with no errno: the error named neither the file nor the full disk."""
    script = (
        "import resource, sys, numpy as np, pandas as pd\n"
        "from pathlib import Path\n"
        "from aedr.data.formats import format_of\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
        "try:\n"
        "    format_of(Path('c.npy')).write(Path(sys.argv[1]), pd.DataFrame(np.ones((8000, 2))), None)\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "c.npy")], capture_output=True, text=True)
    assert done.stdout.strip() == str(errno.EFBIG), done.stdout + done.stderr


def test_a_full_disk_names_the_output_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    """A write's ENOSPC names no file: the error names the output, nothing half-written stays, and a
    checkpoint that cannot be replaced says the previous one is kept for --resume."""
    import errno

    from aedr.cli.errors import describe_error
    from aedr.training.checkpoint import Checkpoint, Snapshot

    checkpoint = Checkpoint(tmp_path / "run.checkpoint")
    checkpoint.write(Snapshot({"w": torch.zeros(3)}, {}), 4)

    def full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError) as error, staged_file(tmp_path / "codes.npy") as staged:
        staged.write_bytes(b"values")
    assert describe_error(error.value) == f"{tmp_path / 'codes.npy'}: no space left on the device"
    with pytest.raises(OSError) as error:
        checkpoint.write(Snapshot({"w": torch.ones(3)}, {}), 9)
    message = describe_error(error.value)
    assert message.startswith(f"{tmp_path / 'run.checkpoint'}: no space left on the device; the checkpoint of epoch 4")
    assert "--resume" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.checkpoint"]
    # an error naming a file inside a staged folder names the same file in the output
    with pytest.raises(OSError) as error, staged_folder(tmp_path / "run") as staged:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(staged / "map.html"))
    assert describe_error(error.value) == f"{tmp_path / 'run' / 'map.html'}: no space left on the device"
    # a checkpoint's full disk while a run folder is staged (a fit runs there) keeps its name and its note
    with pytest.raises(OSError) as error, staged_folder(tmp_path / "run2"):
        checkpoint.write(Snapshot({"w": torch.ones(3)}, {}), 9)
    assert describe_error(error.value) == message  # it said 'run2: no space left on the device', no checkpoint kept
    # any other error of the work inside the block (a fit runs there) is its own, not the output's
    with pytest.raises(OSError) as error, staged_file(tmp_path / "other.npy"):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
    assert error.value.filename is None and error.value.errno == errno.EMFILE


def test_a_disk_that_fills_while_the_run_is_written_says_the_trained_model_is_kept(tmp_path, monkeypatch):
    """The error named map.html alone; the trained model in the checkpoint, which --resume writes out
    without training, went unsaid (fault QA 5)."""
    import errno

    import aedr.runs

    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 3)))

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(aedr.runs, "write_run_map", full)
    result = cli("fit", tmp_path / "x.npy", "-o", tmp_path / "run", *FAST)
    assert (
        result.exit_code == 1 and "map.html: no space left on the device; the trained model is kept in" in result.output
    )
    assert "--resume writes the run without training again" in result.output
    monkeypatch.undo()
    resumed = cli("fit", tmp_path / "x.npy", "-o", tmp_path / "run", *FAST, "--resume")
    assert resumed.exit_code == 0 and (tmp_path / "run" / "map.html").is_file(), resumed.output


def test_a_pipe_named_as_the_output_is_refused_with_or_without_force(tmp_path):
    """Never 'already exists: pass --force', which then put a file in the pipe's place (a reader
    waiting on it hung)."""
    import stat

    from aedr._files import check_new

    fifo = tmp_path / "codes.csv"
    os.mkfifo(fifo)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="codes.csv is a pipe or device, not a file; .* -o -"):
            check_new(fifo, overwrite=overwrite, folder=False)
    os.symlink(fifo, tmp_path / "link.csv")  # as -o >(gzip > x.gz) names it: /dev/fd/63 -> pipe
    with pytest.raises(ValueError, match="link.csv is a pipe or device"):
        check_new(tmp_path / "link.csv", overwrite=True, folder=False)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_running_out_of_memory_is_said_as_such_not_called_a_bug():
    """numpy's MemoryError and torch's allocator failures are the machine's limit (a ulimit, a cgroup)."""
    from aedr.cli.errors import describe_error

    for error in (
        MemoryError("Unable to allocate 381. MiB for an array with shape (1000000, 50) and data type float64"),
        RuntimeError("[enforce fail at alloc_cpu.cpp:127] . DefaultCPUAllocator: can't allocate memory: you tried"),
    ):
        message = describe_error(error)
        assert message.startswith("out of memory (") and "lower --memory-budget" in message and "bug" not in message
    assert "looks like a bug in aedr" in describe_error(RuntimeError("an index out of range"))


def test_out_of_memory_under_an_address_space_limit_names_the_limit(monkeypatch):
    """Under `ulimit -v` a streamed fit failed while scoring, told only to lower --memory-budget so that rows
    stream, which they did (scale QA M4): the limit is named first, as the thing to raise."""
    import resource

    from aedr.cli.errors import describe_error

    real, error = resource.getrlimit, MemoryError("Unable to allocate 62.0 MiB")
    for limit, said in ((resource.RLIM_INFINITY, None), (3 << 29, "1.5 GiB")):

        def fake(which, limit=limit):
            return (limit, resource.RLIM_INFINITY) if which == resource.RLIMIT_AS else real(which)

        monkeypatch.setattr(resource, "getrlimit", fake)
        message = describe_error(error)
        assert "lower --memory-budget" in message
        assert ("ulimit" in message) == (said is not None)
        assert said is None or f"raise the process's limit (ulimit -v: {said}), or lower --memory-budget" in message


def test_a_torchrun_peer_that_failed_is_named_as_the_cause_not_a_bug(monkeypatch):
    """Rank 0 sees only gloo's lost connection when another rank fails; its error is torchrun's to show."""
    from aedr.cli.errors import describe_error

    lost = RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert (
        describe_error(lost)
        == "another process of the torchrun group failed or left: torchrun's summary names its error"
    )
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert "looks like a bug in aedr" in describe_error(lost)


def test_a_model_saved_into_the_working_folder_is_replaced_in_place(tmp_path, monkeypatch):
    """save(os.getcwd(), overwrite=True) said 'already exists (pass overwrite=True ...)' though it was
    passed: the working folder is written in place, its earlier model files replaced, others kept."""
    X = np.random.default_rng(0).normal(size=(50, 4))
    model = Autoencoder(max_iter=2, hidden_layer_sizes=(3,), random_state=0).fit(X)
    monkeypatch.chdir(tmp_path)
    model.save(os.getcwd())
    (tmp_path / "notes.txt").write_text("mine")
    inode = tmp_path.stat().st_ino
    again = Autoencoder(max_iter=3, hidden_layer_sizes=(3,), random_state=1).fit(X)
    again.save(os.getcwd(), overwrite=True)
    assert tmp_path.stat().st_ino == inode and (tmp_path / "notes.txt").read_text() == "mine"
    from aedr import load

    np.testing.assert_array_equal(load(tmp_path).transform(X), again.transform(X))


def test_a_replaced_output_whose_files_cannot_be_removed_is_said(tmp_path, monkeypatch):
    """save(overwrite=True) over a model whose old files the system keeps (immutable, held open on NFS)
    reported success and left NAME.previous-XXXXXXXX beside it unsaid."""
    from aedr import _files

    target, staged = tmp_path / "model", tmp_path / "staged"
    target.mkdir()
    staged.mkdir()
    (target / "config.json").write_text("old")
    (staged / "config.json").write_text("new")
    monkeypatch.setattr(_files.shutil, "rmtree", lambda path, ignore_errors=False: None)  # removes nothing
    with pytest.warns(AedrWarning, match="could not be removed and stay in") as said:
        _files._replace(staged, target, owned=("config.json",))
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("model.previous-")]
    assert len(kept) == 1 and (target / "config.json").read_text() == "new"
    assert str(said[0].message).endswith(f"stay in {kept[0]}")
