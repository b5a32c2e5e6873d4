"""Training under torchrun: 2 CPU ranks (gloo) against one process, as a user launches them."""

import json
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from aedr import load

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
FIT = ["--max-iter", "8", "--batch-size", "128", "--random-state", "0", "--hidden-layer-sizes", "32", "--threads", "1"]
pytestmark = pytest.mark.xdist_group("torchrun")  # the two ranks want both cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(command, cwd, timeout=300):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def on_two_ranks(folder, fit: str, report: str, setup: str = ""):
    """Run a script on two standalone ranks: ``setup``, 120 random rows ``X``, ``ae = <fit>``, then each
    rank prints ``rank <r> <report>`` in one write (the ranks share stdout); the run's output."""
    script = folder / "ranks.py"
    script.write_text(
        "import numpy as np, torch.distributed as dist\n"
        "from aedr import Autoencoder\n"
        "from aedr.neighbors import training\n"
        f"{setup}\n"
        "X = np.random.default_rng(0).random((120, 8))\n"
        f"ae = {fit}\n"
        f"print(f'rank {{dist.get_rank()}} {report}', flush=True)\n"
    )
    return run([*TORCHRUN, "--standalone", "--nproc-per-node", "2", str(script)], folder, timeout=120)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    np.save(folder / "x.npy", np.random.default_rng(0).normal(size=(2048, 20)).astype(np.float32))
    return folder


def test_two_ranks_follow_one_process_with_the_whole_batch(data):
    """Each rank takes half of every 128-row batch; DDP averages the gradients: the same loss curve."""
    standalone = [*TORCHRUN, "--standalone", "--nproc-per-node", "2"]
    result = run([*standalone, "-m", "aedr", "fit", "x.npy", "-o", "two", *FIT, "--quiet"], data)
    run([sys.executable, "-m", "aedr", "fit", "x.npy", "-o", "one", *FIT, "--quiet"], data)
    one, two = load(data / "one" / "model"), load(data / "two" / "model")
    np.testing.assert_allclose(two.loss_curve_, one.loss_curve_, rtol=1e-5)
    assert json.loads((data / "two" / "model" / "config.json").read_text())["fitted"]["world_size_"] == 2
    assert one.world_size_ == 1
    assert result.stderr.count("wrote two/") == 1  # rank 0 alone reports and writes
    assert "on 2 processes (torchrun)" in result.stdout
    described = run([sys.executable, "-m", "aedr", "info", "two"], data).stdout
    assert "training       8 epochs on 2 processes (torchrun), seed 0," in described
    assert sorted(p.name for p in data.iterdir()) == ["one", "two", "x.npy"]


def test_a_python_script_under_torchrun_trains_with_ddp(data):
    script = data / "train.py"
    script.write_text(
        "import numpy as np, torch.distributed as dist\n"
        "from aedr import Autoencoder\n"
        "X = np.load('x.npy')\n"
        "ae = Autoencoder(max_iter=5, batch_size=128, hidden_layer_sizes=(32,), random_state=0).fit(X)\n"
        "if dist.get_rank() == 0:\n"
        "    ae.save('script-model')\n"
        # one string, one write: two ranks finishing together must not interleave their words
        "print(f'rank {dist.get_rank()} of {dist.get_world_size()} stopped at {ae.n_iter_} {ae.stop_reason_}', flush=True)\n"
    )
    result = run([*TORCHRUN, "--standalone", "--nproc-per-node", "2", str(script)], data)
    assert "rank 0 of 2 stopped at 5" in result.stdout and "rank 1 of 2 stopped at 5" in result.stdout
    assert load(data / "script-model").world_size_ == 2


def test_the_neighbour_mode_under_torchrun_keeps_its_quality(tmp_path):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    options = ["--label-col", "y", "--neighbor-loss", "tsne", "--random-state", "0", "--threads", "1", "--quiet"]
    run(
        [*TORCHRUN, "--standalone", "--nproc-per-node", "2", "-m", "aedr", "fit", "d.npz", "-o", "two", *options],
        tmp_path,
    )
    run([sys.executable, "-m", "aedr", "fit", "d.npz", "-o", "one", *options], tmp_path)
    one, two = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("one", "two"))
    assert abs(one["trustworthiness"] - two["trustworthiness"]) < 0.005
    assert abs(one["knn_accuracy"] - two["knn_accuracy"]) < 0.005


def test_two_nodes_on_localhost_rendezvous_and_train(data):
    """The multi-node command of the README, as two "nodes" of one process each on this machine."""
    port = free_port()
    node = [*TORCHRUN, "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d"]
    node += ["--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "aedr-test"]
    fit = ["-m", "aedr", "fit", "x.npy", "-o", "nodes", *FIT, "--quiet"]
    first = subprocess.Popen(
        [*node, "--node-rank", "0", *fit], cwd=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    second = subprocess.Popen(
        [*node, "--node-rank", "1", *fit], cwd=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert load(data / "nodes" / "model").world_size_ == 2


def test_a_failing_rank_ends_the_run(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text(
        "import os, numpy as np\n"
        "from aedr import Autoencoder\n"
        "X = np.random.default_rng(0).normal(size=(256, 8))\n"
        "if os.environ['RANK'] == '1':\n"
        "    X[3, 2] = np.nan  # bad data on one rank only\n"
        "Autoencoder(max_iter=200, random_state=0).fit(X)\n"
    )
    command = [*TORCHRUN, "--standalone", "--nproc-per-node", "2", str(script)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "X contains NaN in 1 row" in result.stderr


def test_a_rank_failing_before_the_group_forms_says_its_own_error(data, tmp_path):
    """A file missing on rank 1's machine: rank 0, waiting for the group, cannot know that error, and the
    only line aedr printed was rank 0's 'terminated (SIGTERM)' when torchrun stopped it."""
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(
        f'#!/bin/sh\nF={data / "x.npy"}\n[ "$RANK" = 1 ] && F=missing.npy\n'
        f'exec {sys.executable} -m aedr fit "$F" --out r --max-iter 2 -q "$@"\n'
    )
    wrapper.chmod(0o755)
    command = [*TORCHRUN, "--standalone", "--nproc-per-node", "2", "--no-python", str(wrapper)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and not (tmp_path / "r").exists()
    assert "error: rank 1: missing.npy: no such file" in result.stderr, result.stderr


def test_a_umap_fit_under_torchrun_builds_its_map_on_rank_0(tmp_path):
    """The map's own trainer stays out of DDP: rank 0 builds it while the others wait for it."""
    result = on_two_ranks(
        tmp_path, "Autoencoder(2, max_iter=4, neighbor_loss='umap', random_state=0).fit(X)", "epochs {ae.n_iter_}"
    )
    # 1 + 1 epochs, each phase stretched to 4 to make its 40 steps: every rank counts the same
    assert "rank 0 epochs 8" in result.stdout and "rank 1 epochs 8" in result.stdout


def test_a_port_already_taken_fails_at_once_and_writes_nothing(data, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [*TORCHRUN, "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(port)]
        command += ["-m", "aedr", "fit", str(data / "x.npy"), "--out", str(tmp_path / "run"), "-q", *FIT]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "EADDRINUSE" in result.stderr and f"port: {port}" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_neighbour_fit_shaping_the_encoder_alone_trains_under_torchrun(tmp_path):
    """DistributedDataParallel takes no gradient from the decoder while the shaping phase leaves it out."""
    result = on_two_ranks(
        tmp_path,
        "Autoencoder(2, max_iter=12, neighbor_loss='tsne', random_state=0).fit(X)",
        'mse {np.isfinite(ae.loss_terms_["mse"][-1])}',  # the script's f-string is in single quotes
        setup="training.DECODER_STEPS = 1  # shape the encoder alone, as on large data",
    )
    assert "rank 0 mse True" in result.stdout and "rank 1 mse True" in result.stdout


def test_ranks_whose_memory_budgets_differ_all_stream(tmp_path):
    """One rank's budget holds the rows and the other's does not (machines with different free memory):
    every rank streams, and they train as one."""
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((600, 8)).astype(np.float32))
    fit = (
        "Autoencoder(max_iter=3, batch_size=64, hidden_layer_sizes=(8,), random_state=0, "
        "memory_budget=0 if os.environ['RANK'] == '1' else 10**12).fit(np.load('x.npy', mmap_mode='r'))"
    )
    result = on_two_ranks(tmp_path, fit, "{ae.loss_curve_}", setup="import os")
    curves = dict(re.findall(r"rank (\d) (\[[^\]]*\])", result.stdout))  # the ranks' lines may interleave
    assert len(curves) == 2 and curves["0"] == curves["1"], result.stdout


def test_aedr_fit_ranks_whose_memory_budgets_differ_all_stream_the_file(data, tmp_path):
    """`aedr fit` under torchrun, rank 1 with too small a budget for the file: every rank streams it."""
    script = tmp_path / "fit.py"
    script.write_text(
        "import os, sys\n"
        "from aedr.cli import main\n"
        "budget = '0' if os.environ['RANK'] == '1' else '8G'\n"
        f"sys.argv = ['aedr', 'fit', {str(data / 'x.npy')!r}, '-o', 'mixed', '--memory-budget', budget, *{FIT!r}]\n"
        "main()\n"
    )
    result = run([*TORCHRUN, "--standalone", "--nproc-per-node", "2", str(script)], tmp_path)
    assert result.stderr.count("streaming 2,048 x 20 rows from disk") == 1, result.stderr  # rank 0 reports it
    assert load(tmp_path / "mixed" / "model").world_size_ == 2


def test_a_signal_to_one_rank_stops_the_job_with_a_checkpoint_and_writes_nothing(data, tmp_path):
    """SIGTERM to rank 1 alone stops every rank after the epoch: rank 0 writes the checkpoint, no run,
    and says so; a fit stopped there is not taken for a finished one."""
    import os
    import signal
    import time

    out = tmp_path / "run"
    command = [*TORCHRUN, "--standalone", "--nproc-per-node", "2", "-m", "aedr", "fit", str(data / "x.npy")]
    fit = ["--max-iter", "100000", "--batch-size", "128", "--hidden-layer-sizes", "32", "--threads", "1", "-q"]
    fit += ["--checkpoint-every", "0"]  # a checkpoint after every epoch: the sign that training runs
    process = subprocess.Popen([*command, "--out", str(out), *fit], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    rank1, deadline = None, time.monotonic() + 120
    while rank1 is None and time.monotonic() < deadline:  # the rank-1 process of this job, once it trains
        time.sleep(0.5)
        if not (tmp_path / "run.checkpoint").is_file():
            continue
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
                cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if b"RANK=1" in environ and str(out).encode() in cmdline:
                rank1 = int(pid)
    assert rank1 is not None, "rank 1 never started training"
    os.kill(rank1, signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0 and not out.exists(), err
    assert "at epoch" in err and "nothing was written" in err and "--resume" in err, err
    assert "looks like a bug" not in err, err
    assert (tmp_path / "run.checkpoint").is_file()


def test_a_usage_error_under_torchrun_is_printed_once(data, tmp_path):
    command = [*TORCHRUN, "--standalone", "--nproc-per-node", "2", "-m", "aedr", "fit", str(data / "x.npy"), "--bogus"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    printed = [line for line in result.stderr.splitlines() if line.startswith("error: No such option: --bogus")]
    assert len(printed) == 1, result.stderr  # torchrun's summary quotes each rank's error file besides
    # rank 1, waiting for rank 0 to print, was stopped by torchrun's SIGTERM in the wait: no traceback of
    # aedr's (torchrun's own launcher prints one of its ChildFailedError)
    assert "aedr.cli.errors.Terminated" not in result.stderr and "src/aedr/" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "change, said", [("X = X[:100]", "rank 1 has 100 x 8, rank 0 120 x 8"), ("X[5] += 1", "values differ")]
)
def test_ranks_given_other_rows_are_refused_before_training(tmp_path, change, said):
    """Ranks given other rows in Python failed in gloo (SIGABRT) or trained each on its own data (scale QA F6)."""
    script = tmp_path / "differ.py"
    script.write_text(
        "import os, numpy as np\n"
        "from aedr import Autoencoder\n"
        "X = np.random.default_rng(0).random((120, 8))\n"
        f"if os.environ['RANK'] == '1':\n    {change}\n"
        "try:\n"
        "    Autoencoder(max_iter=2, hidden_layer_sizes=(8,), random_state=0).fit(X)\n"
        "except ValueError as exc:\n"
        "    print(f\"rank {os.environ['RANK']} refused: {exc}\", flush=True)\n"
    )
    result = run([*TORCHRUN, "--standalone", "--nproc-per-node", "2", str(script)], tmp_path, timeout=120)
    for rank in (0, 1):  # every rank stops, with one clear error
        assert f"rank {rank} refused: under torchrun every rank must be given the same rows" in result.stdout
    assert said in result.stdout, result.stdout


def test_commands_but_fit_run_once_under_torchrun(data, tmp_path):
    """transform under torchrun wrote every row twice to standard output (exit 0), or failed on its own
    output's lock; evaluate printed its scores twice. Only fit trains across the ranks."""
    port = str(free_port())
    launch = [*TORCHRUN, "--nnodes", "1", "--nproc-per-node", "2", "--master-port", port, "-m", "aedr"]
    rows = data / "x.npy"
    run([sys.executable, "-m", "aedr", "fit", str(rows), "--out", "m", *FIT, "--quiet"], cwd=tmp_path)
    codes = run([*launch, "transform", "m", str(rows), "-o", "-"], cwd=tmp_path)
    assert codes.stdout.count("autoencoder0") == 1 and len(codes.stdout.splitlines()) == 2048 + 1
    assert "transform runs in rank 0 alone" in codes.stderr
    run([*launch, "transform", "m", str(rows), "-o", "codes.csv"], cwd=tmp_path)
    assert len((tmp_path / "codes.csv").read_text().splitlines()) == 2048 + 1


@pytest.mark.parametrize("sig, code, how", [("SIGTERM", 143, "terminated (SIGTERM)"), ("SIGINT", 130, "interrupted")])
def test_a_fit_left_with_another_jobs_torchrun_settings_says_it_waits_and_stops_on_a_signal(
    data, tmp_path, sig, code, how
):
    """WORLD_SIZE and RANK left from another job made a plain fit wait silently in the rendezvous for a
    rank that never came, deaf to Ctrl-C and SIGTERM (only kill -9 ended it); then they ended it at once,
    without a word and leaving the output's lock file. Now it says it waits, and a signal stops it as one
    at any other moment does."""
    import os
    import signal
    import threading
    import time

    env = {**os.environ, "WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    command = [sys.executable, "-m", "aedr", "fit", str(data / "x.npy"), "--out", "r", *FIT]
    process = subprocess.Popen(  # Ctrl-C as a terminal sends it: a test runner's worker may ignore SIGINT
        command,
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not lines and time.monotonic() < deadline:  # the note, said just before the rendezvous
            time.sleep(0.2)
        assert lines and "note: joining a torchrun group of 2 processes at 127.0.0.1:" in lines[0], lines
        assert "unset them" in lines[0]
        time.sleep(2)
        process.send_signal(getattr(signal, sig))
        assert process.wait(timeout=30) == code
        time.sleep(0.5)  # the reader's last lines
        assert f"error: {how}; nothing was written" in "".join(lines), lines
        assert sorted(p.name for p in tmp_path.iterdir()) == [], "no run, no lock file left"
    finally:
        process.kill()


def test_aedr_fit_ranks_given_other_options_are_refused_before_training(data, tmp_path):
    """Rank 1 with another --max-iter hung at the first epoch rank 0 trained alone (Ctrl-C could not stop
    it); another --learning-rate or seed trained each rank its own way, exit 0 (fault QA 1). Every rank
    now stops at once, naming the option and both values; nothing is written."""
    script = tmp_path / "fit.py"
    script.write_text(
        "import os, sys\n"
        "from aedr.cli import main\n"
        "more = ['--max-iter', '3'] if os.environ['RANK'] == '1' else []\n"
        f"sys.argv = ['aedr', 'fit', {str(data / 'x.npy')!r}, '-o', 'other', *{FIT!r}, *more]\n"
        "main()\n"
    )
    command = [*TORCHRUN, "--standalone", "--nproc-per-node", "2", str(script)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    said = "under torchrun every rank must be given the same options: rank 1 has --max-iter 3, rank 0 --max-iter 8"
    assert said in result.stderr, result.stderr
    assert not (tmp_path / "other").exists() and not (tmp_path / "other.checkpoint").exists()


@pytest.mark.parametrize(
    "params, stop_at",
    [
        ("neighbor_loss='tsne'", 3),  # in the shaping phase
        ("neighbor_loss='umap'", 10),  # in the fitting phase
        ("noise='gaussian', noise_level=0.3", 3),  # a denoising fit
    ],
)
def test_a_resumed_fit_under_torchrun_ends_bit_identical(tmp_path, params, stop_at):
    """Each rank draws its own noise (a neighbour fit's dropped inputs and rows drawn near the training rows,
    a denoising fit's corruption), and the checkpoint kept rank 0's generators alone: rank 1 resumed with
    rank 0's noise, and the model differed (QA F4). Rank 1's own clock never says a checkpoint is due here:
    rank 0's decides, as every rank gives its generators' states to it."""
    script = tmp_path / "resume.py"
    script.write_text(
        "import torch, torch.distributed as dist\n"
        "from sklearn.datasets import load_digits\n"
        "from aedr import Autoencoder, Checkpoint\n"
        "X = load_digits().data[:300]\n"
        f"params = dict(n_components=2, max_iter=8, random_state=0, {params})\n"
        "seen = []\n"
        f"stop = lambda state: seen.append(1) or len(seen) == {stop_at}\n"
        "full = Autoencoder(**params).fit(X)\n"
        "clock = dict(every_epochs=1) if dist.get_rank() == 0 else dict(every_seconds=1e9)\n"
        "Autoencoder(**params, callbacks=[Checkpoint('fit.ckpt', **clock), stop]).fit(X)\n"
        "resumed = Autoencoder(**params).fit(X, resume_from='fit.ckpt')\n"
        "a, b = full.model_.state_dict(), resumed.model_.state_dict()\n"
        "same = all(torch.equal(a[k], b[k]) for k in a) and full.loss_curve_ == resumed.loss_curve_\n"
        "print(f'rank {dist.get_rank()} same {same}', flush=True)\n"
    )
    result = run([*TORCHRUN, "--standalone", "--nproc-per-node", "2", str(script)], tmp_path, timeout=240)
    assert "rank 0 same True" in result.stdout and "rank 1 same True" in result.stdout, result.stdout
