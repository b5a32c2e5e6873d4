"""The ``aedr`` command end to end (typer's CliRunner; a subprocess for Ctrl-C)."""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from typer.testing import CliRunner

from aedr import Autoencoder, Checkpoint, load
from aedr.cli import app
from aedr.cli.params import option_names
from aedr.data.idx import write_idx
from aedr.training.checkpoint import read_checkpoint, read_header

runner = CliRunner()
RUN_FILES = ["embedding.csv", "embedding.png", "loss.png", "map.html", "metrics.json", "model"]  # what a fit writes
FAST = ["--hidden-layer-sizes", "8", "--max-iter", "2", "--random-state", "0", "--quiet", "--threads", "1"]


def aedr(*args, ok=True):
    result = runner.invoke(app, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def assert_one_line_error(result, *fragments, code=1):
    """One ``error:`` line holding every fragment; exit code 1 (runtime) or 2 (usage)."""
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    """A small CSV: 6 numeric features and a text label column."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(80, 6)), columns=[f"g{i}" for i in range(6)])
    frame["cell_type"] = np.where(frame["g0"] > 0, "T", "B")
    path = tmp_path_factory.mktemp("data") / "cells.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run(cells, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run1"
    aedr("fit", cells, "--label-col", "cell_type", "--out", out, *FAST)
    return out


def command_paths() -> list[list[str]]:
    """Every command and subcommand the app registers (``["plot", "embedding"]``), walked from the app."""
    import typer

    paths = []

    def walk(group, prefix):
        for name, command in group.commands.items():
            paths.append([*prefix, name])
            if hasattr(command, "commands"):
                walk(command, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_version_and_help():
    assert aedr("--version").stdout.startswith("aedr ")
    help_text = aedr("--help").stdout
    paths = command_paths()
    assert {"fit", "transform", "plot", "explore", "benchmark", "demo"} <= {path[0] for path in paths}
    for path in paths:
        assert path[0] in help_text
        assert "Example" in aedr(*path, "--help").stdout, path


@pytest.mark.parametrize(
    "words, expected",
    [
        ("aedr fi", ["fit"]),
        ("aedr plot la", ["latent-grid"]),
        ("aedr fit x.csv --activation ", ["gelu", "identity", "relu", "sigmoid", "tanh"]),
        ("aedr fit x.csv --neighbor-loss ", ["tsne", "umap", "none"]),
        ("aedr fit x.csv --max-iter ", ["auto"]),
        ("aedr fit x.csv --memory-budget ", ["auto"]),  # not the 4G its size rule holds as an example
        ("aedr fit x.csv --device c", ["cpu", "cuda"]),
        ("aedr fit x.csv --hidden-layer-sizes ", []),
        ("aedr fit x.csv --model v", ["vae"]),
        ("aedr fit x.csv --format p", ["parquet"]),
        ("aedr transform m x.csv --missing m", ["mean", "median"]),
        ("aedr fit x.csv --delimiter s", ["semicolon", "space"]),
    ],
)
def test_the_shell_completes_commands_options_and_their_choices(words, expected):
    """What bash's completion (``aedr --install-completion``) offers after ``words``: the registries' names for
    an estimator option, the fixed words of the others, nothing (so file names) for a free value."""
    env = {"_AEDR_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    result = runner.invoke(app, [], env=env, prog_name="aedr")
    assert result.exit_code == 0, result.output
    assert result.output.split() == expected


def test_a_shared_options_help_says_what_each_command_does_with_it():
    """--label-col colours plots only where the command draws them; inverse-transform's --columns picks codes."""

    def option_help(*command, flag):
        text = " ".join(aedr(*command, "--help").stdout.replace("│", " ").split())
        return text[text.rindex(flag) :][:200]  # the option's own line, after any example naming it

    assert "colours plots" in option_help("fit", flag="--label-col")
    for command in (["transform"], ["inverse-transform"], ["evaluate"], ["plot", "reconstructions"]):
        assert "colours plots" not in option_help(*command, flag="--label-col"), command
    assert "k-NN accuracy" in option_help("evaluate", flag="--label-col")
    assert "code columns" in option_help("inverse-transform", flag="--columns")
    assert "feature columns" in option_help("transform", flag="--columns")


def test_every_reading_flag_is_a_parameter_named_as_the_field_it_sets():
    """given_options reads a command's reading flags by parameter name: a parameter spelt otherwise
    (``lable_col``) would be left out without a word. Each command's parameter behind a reading flag is
    named as its ReadOptions field (``labels`` for --labels), or passes the value itself (listed)."""
    from dataclasses import fields

    import typer

    from aedr.cli.inputs import _PARAMETER_OF
    from aedr.data.reading import ReadOptions

    parameter_of = {"--" + f.name.replace("_", "-"): _PARAMETER_OF.get(f.name, f.name) for f in fields(ReadOptions)}
    parameter_of["--labels"] = parameter_of.pop("--labels-file")
    passed_itself = {("plot", "embedding", "--label-col")}  # its --color-by: label_col=color_by, given_options
    root, checked = typer.main.get_command(app), 0
    for path in command_paths():
        command = root
        for name in path:
            command = command.commands[name]
        for param in getattr(command, "params", []):
            for flag in set(getattr(param, "opts", [])) & set(parameter_of):
                checked += 1
                if (*path, flag) not in passed_itself:
                    assert param.name == parameter_of[flag], (path, flag, param.name)
    assert checked > 40  # the test reaches the commands' reading flags


def test_every_estimator_parameter_is_an_option():
    help_text = aedr("fit", "--help").stdout
    for name in option_names():
        flag = "--learning-rate" if name == "learning_rate_init" else "--" + name.replace("_", "-")
        assert flag in help_text, name


def test_fit_writes_a_complete_run(run, cells):
    assert sorted(p.name for p in run.iterdir()) == RUN_FILES
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"reconstruction_mse", "trustworthiness", "fit_seconds", "epochs"} <= set(metrics)
    embedding = pd.read_csv(run / "embedding.csv")
    assert list(embedding.columns) == ["autoencoder0", "autoencoder1", "cell_type"]
    model = load(run / "model")
    data = pd.read_csv(cells).drop(columns="cell_type")
    # Codes are written in float32, the precision the network computes them in.
    written = embedding[["autoencoder0", "autoencoder1"]].to_numpy(np.float32)
    np.testing.assert_array_equal(model.transform(data).astype(np.float32), written)
    assert list(model.feature_names_in_) == list(data.columns) and model.max_iter == 2


def test_fit_progress_bar_on_stderr(cells, tmp_path):
    result = aedr(
        "fit", cells, "--label-col", "cell_type", "-o", tmp_path / "r", "--hidden-layer-sizes", "4", "--max-iter", "2"
    )
    assert (
        "Autoencoder: 2/2 epochs" in result.stderr and "loss=" in result.stderr and "Autoencoder:" not in result.stdout
    )


def test_a_large_fit_says_when_training_ends_before_its_run_is_written(cells, tmp_path, monkeypatch):
    """A million rows' run took about 35 s to encode, score and write after the last epoch, without a word
    (scale QA L1); from WRITING_NOTE_ROWS rows the fit says training has ended."""
    args = ["fit", cells, "--label-col", "cell_type", "--hidden-layer-sizes", "4", "--max-iter", "2"]
    assert "training ended" not in aedr(*args, "-o", tmp_path / "small").stderr
    monkeypatch.setattr("aedr.runs.WRITING_NOTE_ROWS", 10)
    stderr = aedr(*args, "-o", tmp_path / "large").stderr
    assert "training ended: encoding the " in stderr and "rows, scoring them and writing the run" in stderr
    assert stderr.index("Autoencoder: 2/2 epochs") < stderr.index("training ended") < stderr.index("wrote")


@pytest.mark.parametrize(
    "name, extra, embedding",
    [
        ("d.tsv", ["--label-col", "y"], "embedding.tsv"),
        ("d.parquet", ["--label-col", "y"], "embedding.parquet"),
        ("d.npy", [], "embedding.npy"),
        ("d.npz", ["--label-col", "y"], "embedding.npz"),
        ("d-idx2-ubyte.gz", ["--labels", "LABELS"], "embedding.csv"),
    ],
)
def test_fit_every_input_format(tmp_path, name, extra, embedding):
    X = np.random.default_rng(1).integers(0, 255, size=(40, 5)).astype(np.uint8)
    y = np.arange(40) % 2
    path = tmp_path / name
    if name.endswith(".tsv") or name.endswith(".parquet"):
        frame = pd.DataFrame(X.astype(float), columns=list("abcde")).assign(y=y)
        frame.to_csv(path, sep="\t", index=False) if name.endswith(".tsv") else frame.to_parquet(path)
    elif name.endswith(".npy"):
        np.save(path, X.astype(float))
    elif name.endswith(".npz"):
        np.savez(path, X=X.astype(float), y=y)
    else:
        write_idx(path, X)
        write_idx(tmp_path / "labels-idx1-ubyte", y.astype(np.uint8))
        extra = ["--labels", tmp_path / "labels-idx1-ubyte"]
    aedr("fit", path, "-o", tmp_path / "run", *extra, *FAST)
    assert (tmp_path / "run" / embedding).is_file()
    codes = aedr("transform", tmp_path / "run" / "model", path, *extra).stdout.splitlines()
    assert len(codes) == 41 and codes[0].startswith("autoencoder0,autoencoder1")


def test_config_file_and_options_override_it(cells, tmp_path):
    config = tmp_path / "params.toml"
    config.write_text(
        'hidden_layer_sizes = [4]\nmax-iter = 1\nn_components = 3\nlearning_rate = 0.01\nscale = "minmax"\n'
    )
    aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "r", "--config", config, "-k", "2", "-q")
    model = load(tmp_path / "r" / "model")
    assert (model.hidden_layer_sizes, model.max_iter, model.n_components) == ((4,), 1, 2)
    assert (model.learning_rate_init, model.scale) == (0.01, "minmax")
    config.write_text("hiden_layer_sizes = [4]\n")
    result = aedr("fit", cells, "-o", tmp_path / "r2", "--config", config, ok=False)
    assert_one_line_error(result, "params.toml", "hiden_layer_sizes", "hidden_layer_sizes", code=2)
    config.write_text("n_jobs = 2\n")
    result = aedr("fit", cells, "-o", tmp_path / "r2", "--config", config, ok=False)
    assert_one_line_error(result, "params.toml", "'n_jobs' is the command's --threads option", code=2)
    config.write_text("max_iter = -3\n")  # a bad value is the file's, unless an option overrides it
    result = aedr("fit", cells, "-o", tmp_path / "r3", "--config", config, ok=False)
    words = "must be a whole number of at least 1, or auto"
    assert_one_line_error(result, f"{config}: max_iter {words}; got -3", "(see 'aedr fit --help')", code=2)
    result = aedr("fit", cells, "-o", tmp_path / "r3", "--config", config, "--max-iter", "0", ok=False)
    assert_one_line_error(result, f"error: --max-iter {words}; got 0", "(see 'aedr fit --help')", code=2)
    assert "params.toml" not in result.output


def test_transform_to_file_keeps_labels(run, cells, tmp_path):
    out = tmp_path / "new.parquet"
    result = aedr("transform", run / "model", cells, "-o", out, "--label-col", "cell_type")
    frame = pd.read_parquet(out)
    assert f"wrote {out} (80 rows x 3 columns)" in result.stderr  # the codes and their label
    assert list(frame.columns) == ["autoencoder0", "autoencoder1", "cell_type"]
    expected = pd.read_csv(run / "embedding.csv")
    written = expected.iloc[:, :2].to_numpy(np.float32)
    np.testing.assert_array_equal(frame[["autoencoder0", "autoencoder1"]].to_numpy(np.float32), written)
    assert_one_line_error(aedr("transform", run / "model", cells, "-o", out, ok=False), "already exists", "--force")
    aedr("transform", run / "model", cells, "-o", out, "--force")
    piped = aedr("transform", run / "model", cells, "-o", "-", "--label-col", "cell_type").stdout  # -o -: stdout
    assert piped.splitlines()[0] == "autoencoder0,autoencoder1,cell_type" and len(piped.splitlines()) == 81


def test_transform_keeps_the_fits_label_and_id_columns_in_any_number_of_rows(tmp_path):
    """The model remembers the training file's label and ID columns: a new file's are written beside
    its codes without --label-col, even one row (too few to tell an ID by its values), and evaluate
    scores by the label; a file without them, or another --label-col, is read as told."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    frame.insert(0, "sample", [f"s{i}" for i in range(60)])  # unique text, not named like an ID
    frame["kind"] = np.where(frame["a"] > 0, "x", "y")
    frame.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "run"
    aedr("fit", tmp_path / "train.csv", "--label-col", "kind", "--out", out, *FAST)
    assert "beside codes   label 'kind'; row IDs 'sample'" in aedr("info", out).stdout
    model = load(out / "model")
    for rows in (1, 2, 60):
        frame.iloc[:rows].to_csv(tmp_path / "new.csv", index=False)
        result = aedr("transform", out, tmp_path / "new.csv")
        assert "keeping 'kind' beside the codes: the label column of the fit" in result.stderr
        codes = pd.read_csv(io.StringIO(result.stdout))
        assert list(codes.columns) == ["sample", "autoencoder0", "autoencoder1", "kind"], rows
        assert codes["sample"].tolist() == frame["sample"].iloc[:rows].tolist()
        assert codes["kind"].tolist() == frame["kind"].iloc[:rows].tolist()
        expected = model.transform(frame[list("abcd")].iloc[:rows])
        np.testing.assert_allclose(codes[["autoencoder0", "autoencoder1"]].to_numpy(), expected, rtol=1e-5, atol=1e-6)
    aedr("transform", out, tmp_path / "train.csv", "-o", tmp_path / "codes.npz")  # sample, X, kind
    decoded = aedr("inverse-transform", out, tmp_path / "codes.npz").stdout  # the IDs read back before X
    assert decoded.splitlines()[0] == "sample,a,b,c,d,kind" and decoded.splitlines()[1].startswith("s0,")
    scores = json.loads(aedr("evaluate", out, tmp_path / "train.csv", "--json").stdout)
    assert scores["knn_accuracy"] is not None and "knn_labelled_rows" not in scores
    assert scores["knn_neighbors"] == 5 and scores["n_neighbors"] == 10  # the k of each score, said
    frame.assign(kind=frame["kind"].where(np.arange(60) % 3 > 0)).to_csv(tmp_path / "part.csv", index=False)
    scores = json.loads(aedr("evaluate", out, tmp_path / "part.csv", "--json").stdout)  # unlabelled rows: no class
    assert scores["knn_labelled_rows"] == 40 and scores["knn_accuracy"] is not None
    partly = aedr("fit", tmp_path / "part.csv", "--label-col", "kind", "-o", tmp_path / "part", *FAST)
    assert "5-NN accuracy " in partly.stdout and " (of the 40 labelled rows)" in partly.stdout  # said by the fit too
    frame[list("abcd")].to_csv(tmp_path / "bare.csv", index=False)  # neither column: codes alone, no note
    bare = aedr("transform", out, tmp_path / "bare.csv")
    assert "note" not in bare.stderr and bare.stdout.splitlines()[0] == "autoencoder0,autoencoder1"
    chosen = aedr("transform", out, tmp_path / "train.csv", "--label-col", "sample")
    assert "note" not in chosen.stderr and chosen.stdout.splitlines()[0] == "autoencoder0,autoencoder1,sample"
    # a model saved from Python records no columns: transform keeps only what it can tell
    model.save(tmp_path / "python")
    assert "beside codes" not in aedr("info", tmp_path / "python").stdout
    plain = aedr("transform", tmp_path / "python", tmp_path / "new.csv")
    assert plain.stdout.splitlines()[0] == "sample,autoencoder0,autoencoder1"


@pytest.fixture
def watch_threads(monkeypatch):
    """``watch(*modules)``: torch set to 3 threads (given back after the test), and every model the
    modules' ``load_model`` loads noting torch's count each time its network runs, in the list returned."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(3)

    def watch(*modules):
        seen, real_load = [], modules[0].load_model

        def load_and_watch(folder):
            estimator = real_load(folder)
            for part in (estimator.model_.encoder, estimator.model_.decoder):
                part.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
            return estimator

        for module in modules:
            monkeypatch.setattr(module, "load_model", load_and_watch)
        return seen

    yield watch
    torch.set_num_threads(previous)


def test_the_model_commands_take_threads(run, cells, tmp_path, watch_threads):
    import torch

    from aedr.cli import evaluate, inverse_transform, transform

    seen = watch_threads(transform, inverse_transform, evaluate)
    codes = tmp_path / "codes.csv"
    for extra, expected in ((["--threads", "2"], 2), ([], 1)):  # without: one for this small network
        seen.clear()
        aedr("transform", run / "model", cells, "-o", codes, "--label-col", "cell_type", "--force", *extra)
        aedr("inverse-transform", run / "model", codes, "-o", tmp_path / "rows.csv", "--force", *extra)
        aedr("evaluate", run / "model", cells, "--label-col", "cell_type", *extra)
        assert set(seen) == {expected} and len(seen) >= 4, seen
        assert torch.get_num_threads() == 3  # given back when each command ends
    result = aedr("transform", run / "model", cells, "--threads", "0", ok=False)
    assert result.exit_code == 2 and "--threads" in result.stderr and "-1 for every core" in result.stderr
    from aedr.training.threads import available_cores

    seen.clear()  # counted back from the cores, as n_jobs=-1 is
    aedr("transform", run / "model", cells, "-o", codes, "--label-col", "cell_type", "--force", "--threads", "-1")
    assert set(seen) == {available_cores()}, seen


def test_fit_runs_on_the_count_it_chose(cells, tmp_path, monkeypatch):
    """--threads, and aedr fit's own choice, reach the fit itself, a small network's included."""
    import torch

    from aedr.estimator import Autoencoder
    from aedr.training import threads

    seen, real_train = [], Autoencoder._train
    monkeypatch.setattr(
        Autoencoder, "_train", lambda self, *a: seen.append(torch.get_num_threads()) or real_train(self, *a)
    )
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(threads, "busy_cores", lambda: 0.0)
    fast = [a for a in FAST if a not in ("--threads", "1")]
    fast += ["--label-col", "cell_type"]
    aedr("fit", cells, "-o", tmp_path / "a", *fast, "--threads", "2")
    aedr("fit", cells, "-o", tmp_path / "b", *fast)  # a small network: one thread
    monkeypatch.setattr(threads, "NEIGHBOR_ROWS", 50)  # the 80 rows count as many: the idle cores
    aedr("fit", cells, "-o", tmp_path / "c", *fast, "--neighbor-loss", "tsne", "--perplexity", "5")
    assert seen == [2, 1, 2]


def test_transform_picks_the_model_columns_by_name(run, cells, tmp_path):
    shuffled = pd.read_csv(cells)[["cell_type", "g5", "g4", "g3", "g2", "g1", "g0"]].assign(extra=1.0)
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    codes = pd.read_csv(io.StringIO(aedr("transform", run / "model", tmp_path / "shuffled.csv").stdout))
    assert list(codes.columns) == ["autoencoder0", "autoencoder1", "cell_type"]  # the fit's label, kept
    np.testing.assert_allclose(codes.iloc[:, :2].to_numpy(), pd.read_csv(run / "embedding.csv").iloc[:, :2].to_numpy())
    pd.read_csv(cells).drop(columns="g3").to_csv(tmp_path / "missing.csv", index=False)
    assert_one_line_error(aedr("transform", run / "model", tmp_path / "missing.csv", ok=False), "missing.csv", "'g3'")


def test_transform_fills_empty_cells_from_the_training_rows(run, cells, tmp_path):
    """A new row's gap takes the training column's mean (median), as SimpleImputer fills it: its code is
    the same alone or beside other rows, and a model saved before the statistics were kept falls back
    to the file's own with a note saying so."""
    train = pd.read_csv(cells)
    new = train.drop(columns="cell_type").iloc[:3].copy()
    new.iloc[0, 2] = np.nan
    new.to_csv(tmp_path / "three.csv", index=False)
    new.iloc[:1].to_csv(tmp_path / "one.csv", index=False)
    model = load(run / "model")
    for kind in ("mean", "median"):
        three = aedr("transform", run / "model", tmp_path / "three.csv", "--missing", kind)
        one = aedr("transform", run / "model", tmp_path / "one.csv", "--missing", kind)
        assert f"with its column's {kind} in the training rows: data row 1 (in column 'g2')" in three.stderr
        filled = new.iloc[:1].fillna({"g2": getattr(train["g2"], kind)()})
        codes = pd.read_csv(io.StringIO(three.stdout)).to_numpy()
        np.testing.assert_allclose(codes[0], model.transform(filled)[0], rtol=1e-6)
        alone = pd.read_csv(io.StringIO(one.stdout)).to_numpy()[0]  # a batch of 1 or 3: equal up to float rounding
        np.testing.assert_allclose(alone, codes[0], rtol=1e-6, atol=1e-6)
    config = json.loads((run / "model" / "config.json").read_text())
    for key in ("feature_mean_", "feature_median_"):
        del config["fitted"][key]
    shutil.copytree(run / "model", tmp_path / "old")
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = aedr("transform", tmp_path / "old", tmp_path / "three.csv", "--missing", "mean")
    assert "mean in this file (the model keeps no training statistics)" in old.stderr


def test_a_model_fitted_with_missing_mean_fills_new_rows_alike_unless_told(cells, tmp_path):
    """--missing median at the fit was forgotten by the model: transform refused the same kind of rows
    until told again (first-user QA 13). It is kept with the model now, as --layer and --normalize are."""
    train = pd.read_csv(cells)
    train.iloc[4, 1] = np.nan
    train.to_csv(tmp_path / "gaps.csv", index=False)
    aedr("fit", tmp_path / "gaps.csv", "--label-col", "cell_type", "--missing", "median", "-o", tmp_path / "r", *FAST)
    config = json.loads((tmp_path / "r" / "model" / "config.json").read_text())
    assert config["reading"] == {"layer": None, "normalize": False, "missing": "median"}
    assert "rows read      empty cells filled with the training rows' median" in aedr("info", tmp_path / "r").stdout
    new = train.drop(columns="cell_type").iloc[:3]
    new.to_csv(tmp_path / "new.csv", index=False)
    kept = aedr("transform", tmp_path / "r", tmp_path / "gaps.csv")
    told = aedr("transform", tmp_path / "r", tmp_path / "gaps.csv", "--missing", "median")
    assert kept.stdout == told.stdout and "median in the training rows: data row 5" in kept.stderr
    refused = aedr("transform", tmp_path / "r", tmp_path / "gaps.csv", "--missing", "error", ok=False)
    assert_one_line_error(refused, "empty or NaN cells in data row 5")


@pytest.mark.parametrize("command", ["transform", "evaluate"])
def test_a_label_column_that_is_one_of_the_models_features_is_refused_by_name(run, cells, command):
    result = aedr(command, run, cells, "--label-col", "g3", ok=False)
    assert_one_line_error(result, "'g3' is one of the model's feature columns; it cannot also be the label", code=2)


def test_a_label_column_named_like_a_code_column_is_refused_before_training(run, cells, tmp_path):
    """A label column named autoencoder1 made the embedding hold two columns of one name: the fit trained,
    then failed with "this looks like a bug in aedr", and --resume failed again (s56 QA)."""
    frame = pd.read_csv(cells).rename(columns={"cell_type": "autoencoder1"})
    frame.to_csv(tmp_path / "named.csv", index=False)
    result = aedr("fit", tmp_path / "named.csv", "--label-col", "autoencoder1", "-o", tmp_path / "r", *FAST, ok=False)
    assert_one_line_error(result, "named.csv: the label column 'autoencoder1' is named like a code column", "rename")
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.checkpoint").exists()
    result = aedr("transform", run, tmp_path / "named.csv", "--label-col", "autoencoder1", ok=False)
    assert_one_line_error(result, "'autoencoder1' is named like a code column written beside it")


def test_a_fit_label_that_is_a_feature_of_the_new_table_is_not_blamed_on_label_col(run, cells, tmp_path):
    """A model whose label column is one of its features in a table (an .h5ad's obs column named like a gene,
    or a config edited by hand) made transform refuse 'Invalid value for --label-col', which was never given
    (s56 QA 5): the label is not taken from the table, whose column is a feature."""
    model = tmp_path / "model"
    shutil.copytree(run / "model", model)
    config = json.loads((model / "config.json").read_text())
    config["columns"]["label"] = "g3"
    (model / "config.json").write_text(json.dumps(config))
    result = aedr("transform", model, cells, "-o", tmp_path / "codes.csv")
    assert "--label-col" not in result.stderr and list(pd.read_csv(tmp_path / "codes.csv").columns[-1:]) != ["g3"]
    np.testing.assert_allclose(
        pd.read_csv(tmp_path / "codes.csv").iloc[:, :2], pd.read_csv(run / "embedding.csv").iloc[:, :2], atol=1e-6
    )


@pytest.mark.parametrize("command", ["transform", "evaluate"])
def test_columns_or_exclude_that_leave_out_a_models_feature_are_refused_by_the_option(run, cells, command):
    """scikit-learn's "X lacks 'g3'" named neither the option nor the file (CLI QA 7)."""
    result = aedr(command, run, cells, "--exclude", "g3", ok=False)
    assert_one_line_error(result, "--exclude", "leaves out 1 of the", "columns the model was fitted on ('g3')", code=2)
    result = aedr(command, run, cells, "--columns", "g1,g2", ok=False)
    assert_one_line_error(result, "--columns", "the model was fitted on ('g0', 'g3',", code=2)


def test_inverse_transform(run, tmp_path):
    out = tmp_path / "reconstructed.csv"
    aedr("inverse-transform", run / "model", run / "embedding.csv", "-o", out, "--label-col", "cell_type")
    frame = pd.read_csv(out)
    assert list(frame.columns) == [f"g{i}" for i in range(6)] + ["cell_type"]
    model = load(run / "model")
    codes = pd.read_csv(run / "embedding.csv").iloc[:, :2].to_numpy()
    np.testing.assert_allclose(frame.iloc[:, :6].to_numpy(), model.inverse_transform(codes))
    kept = aedr("inverse-transform", run / "model", run / "embedding.csv", "-o", tmp_path / "kept.csv")
    assert "keeping 'cell_type' beside the decoded rows" in kept.stderr  # the column fit wrote, found alone
    assert pd.read_csv(tmp_path / "kept.csv").equals(frame)


def test_inverse_transform_warns_of_codes_far_outside_the_fitted_rows(run, tmp_path):
    """A code far outside where the fitted rows' codes lie decoded into a row like none of the data, without a
    word: the warning names the first such row and the fitted codes' span, and the rows are still written."""
    codes = pd.read_csv(run / "embedding.csv").iloc[:4, :2]
    codes.iloc[2, 1] = 1e6
    codes.to_csv(tmp_path / "far.csv", index=False)
    result = aedr("inverse-transform", run / "model", tmp_path / "far.csv", "-o", tmp_path / "rows.csv")
    assert (
        "warning: 1 of the 4 codes lies far outside the fitted rows' codes (first: data row 3 of the file, "
        in result.stderr
    )
    assert len(pd.read_csv(tmp_path / "rows.csv")) == 4
    quiet = aedr("inverse-transform", run / "model", run / "embedding.csv", "-o", tmp_path / "all.csv")
    assert "far outside" not in quiet.stderr


def test_inverse_transform_takes_the_missing_option_its_error_names(run, tmp_path):
    codes = pd.read_csv(run / "embedding.csv").iloc[:5, :2]
    codes.iloc[1, 0] = np.nan
    codes.to_csv(tmp_path / "codes.csv", index=False)
    result = aedr("inverse-transform", run / "model", tmp_path / "codes.csv", ok=False)
    assert_one_line_error(result, "empty or NaN cells in data row 2", "pass --missing drop")
    dropped = aedr("inverse-transform", run / "model", tmp_path / "codes.csv", "--missing", "drop")
    assert len(pd.read_csv(io.StringIO(dropped.stdout))) == 4 and "dropped 1 row" in dropped.stderr


def test_inverse_transform_of_codes_under_other_names_points_to_columns(run, tmp_path):
    codes = pd.read_csv(run / "embedding.csv").iloc[:5, :2].set_axis(["x", "y"], axis=1)
    codes.to_csv(tmp_path / "xy.csv", index=False)
    result = aedr("inverse-transform", run / "model", tmp_path / "xy.csv", ok=False)
    assert_one_line_error(
        result, "lacks the model's code columns (autoencoder0, autoencoder1); --columns picks the code columns"
    )
    rows = aedr("inverse-transform", run / "model", tmp_path / "xy.csv", "--columns", "x,y").stdout
    assert len(pd.read_csv(io.StringIO(rows))) == 5


def test_inverse_transform_of_codes_of_another_width_counts_their_columns(run, tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((3, 1), dtype=np.float32))
    result = aedr("inverse-transform", run / "model", tmp_path / "one.npy", ok=False)
    assert_one_line_error(result, "one.npy: 1 code column, but the model has --n-components 2")  # "1 code columns"


def test_evaluate(run, cells, tmp_path):
    scores = json.loads(aedr("evaluate", run / "model", cells, "--label-col", "cell_type", "--json").stdout)
    assert {"reconstruction_mse", "trustworthiness", "n_samples"} <= set(scores)
    assert 0 < scores["trustworthiness"] <= 1 and scores["n_samples"] == 80
    table = aedr("evaluate", run / "model", cells, "--label-col", "cell_type").stdout.splitlines()
    assert table[0] == f"scores of {run / 'model'} on {cells} (k-NN accuracy by 'cell_type')"  # what was scored
    assert any(line.startswith("trustworthiness ") for line in table[1:])
    rare = pd.read_csv(cells).assign(cell_type=["rare"] * 2 + ["common"] * 78)
    rare.to_csv(tmp_path / "rare.csv", index=False)
    result = aedr("evaluate", run / "model", tmp_path / "rare.csv", "--label-col", "cell_type", "--json")
    assert json.loads(result.stdout)["knn_accuracy"] is None  # said, not silently left out
    assert "no k-NN accuracy: the labels cannot be scored (class 'rare' has 2 rows (each needs 5))" in result.stderr
    pd.read_csv(cells).head(15).to_csv(tmp_path / "few.csv", index=False)  # scored with fewer neighbours: said
    result = aedr("evaluate", run / "model", tmp_path / "few.csv", "--json")
    assert json.loads(result.stdout)["n_neighbors"] == 6
    assert (
        "note: trustworthiness and continuity of 6 neighbours, not 10: the neighbours must stay fewer" in result.stderr
    )


def test_info(run):
    text = aedr("info", run / "model").stdout
    for fragment in (
        "Autoencoder",
        "architecture   mlp",
        "6 features (g0",
        "training",
        "versions",
        "torch",
        "stopped",
        "settings       scaling standard, precision 32",
    ):
        assert fragment in text
    assert json.loads(aedr("info", run / "model", "--json").stdout)["format_version"] == 1


def test_info_quotes_feature_names_that_would_break_its_line(tmp_path):
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 3)), columns=["line\nbreak", "a, b", "plain"])
    Autoencoder(max_iter=2, hidden_layer_sizes=(4,), random_state=0).fit(frame).save(tmp_path / "m")
    line = next(x for x in aedr("info", tmp_path / "m").stdout.splitlines() if x.startswith("input"))
    assert line == "input          3 features ('line\\nbreak', 'a, b', plain)"
    assert "hidden_layer_sizes=(4,)" in aedr("info", tmp_path / "m").stdout  # a tuple of one, as Python writes it


def test_info_describes_a_model_whose_file_lacks_what_it_only_reports(run, tmp_path):
    """Without 'versions' or 'learning_rate_' (which transform and evaluate never read) info called the
    folder "a bug in aedr"."""
    shutil.copytree(run / "model", tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["versions"], config["fitted"]["learning_rate_"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    text = aedr("info", tmp_path / "m").stdout
    assert "versions       not recorded" in text and "learning rate not recorded" in text


def test_plot_embedding(run, tmp_path):
    out = tmp_path / "e.png"
    aedr("plot", run / "embedding.csv", "--color-by", "cell_type", "-o", out)
    assert out.read_bytes()[:4] == b"\x89PNG"
    aedr("plot", "embedding", run / "embedding.csv", "--color-by", "cell_type", "-o", out, "--force")
    assert_one_line_error(
        aedr("plot", run / "embedding.csv", "--color-by", "nope", "-o", tmp_path / "x.png", ok=False), "'nope'"
    )


def test_plot_colours_by_the_label_column_fit_wrote(run, tmp_path):
    out = tmp_path / "auto.png"
    result = aedr("plot", run, "-o", out)  # the run folder: its embedding.csv, text labels in 'cell_type'
    assert "colouring by 'cell_type'" in result.stderr and f"wrote {out}" in result.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"
    codes = pd.read_csv(run / "embedding.csv")
    np.savez(
        tmp_path / "codes.npz",
        X=codes[["autoencoder0", "autoencoder1"]].to_numpy(),
        kind=codes["cell_type"].to_numpy(dtype=str),
    )
    result = aedr("plot", tmp_path / "codes.npz", "-o", tmp_path / "npz.png")
    assert "colouring by 'kind'" in result.stderr
    codes.drop(columns="cell_type").to_csv(tmp_path / "plain.csv", index=False)
    assert "colouring" not in aedr("plot", tmp_path / "plain.csv", "-o", tmp_path / "plain.png").stderr
    np.save(tmp_path / "groups.npy", np.arange(len(codes)) % 3)  # --labels: the written column is no code
    result = aedr("plot", run, "--labels", tmp_path / "groups.npy", "-o", tmp_path / "groups.png")
    assert "colouring" not in result.stderr and (tmp_path / "groups.png").read_bytes()[:4] == b"\x89PNG"
    result = aedr("plot", tmp_path / "codes.npz", "--labels", tmp_path / "groups.npy", "-o", tmp_path / "npz2.png")
    assert (tmp_path / "npz2.png").read_bytes()[:4] == b"\x89PNG"  # an .npz's extra arrays are never codes


def test_plot_three_columns_in_3d(run, tmp_path):
    codes = pd.read_csv(run / "embedding.csv")
    codes.insert(2, "autoencoder2", codes["autoencoder0"] * 0.5)
    codes.to_csv(tmp_path / "three.csv", index=False)
    result = aedr("plot", tmp_path / "three.csv", "-o", tmp_path / "three.png")
    assert "colouring by 'cell_type'" in result.stderr and "the first 2 of" not in result.stderr
    codes.insert(3, "autoencoder3", codes["autoencoder1"] * 2)
    codes.to_csv(tmp_path / "four.csv", index=False)
    result = aedr("plot", tmp_path / "four.csv", "-o", tmp_path / "four.png")  # the columns drawn, by name
    assert "drawing 'autoencoder0' and 'autoencoder1', the first 2 of 4 columns (--columns to choose)" in result.stderr
    np.save(tmp_path / "four.npy", codes.iloc[:, :4].to_numpy())  # no column names: the columns by place
    result = aedr("plot", tmp_path / "four.npy", "-o", tmp_path / "four-npy.png")
    assert "drawing column 0 and column 1, the first 2 of 4 columns" in result.stderr


def test_plot_reconstructions_of_images(digits, tmp_path):
    X, y = digits
    images = tmp_path / "digits-idx3-ubyte.gz"
    write_idx(images, X[:60].reshape(60, 8, 8).astype(np.uint8))
    aedr("fit", images, "-o", tmp_path / "run", *FAST)
    out = tmp_path / "recon.png"
    aedr("plot", "reconstructions", tmp_path / "run" / "model", images, "-o", out, "-n", "8")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_the_figure_commands_take_threads(digits, tmp_path, watch_threads):
    """plot reconstructions, plot latent-grid and explore run their model on --threads, else on one
    thread for a small network, and give torch's count back when they end."""
    import torch

    from aedr.cli import common, latent_grid, plot

    X, _ = digits
    images = tmp_path / "digits-idx3-ubyte.gz"
    write_idx(images, X[:60].reshape(60, 8, 8).astype(np.uint8))
    aedr("fit", images, "-o", tmp_path / "run", *FAST)
    seen = watch_threads(common, plot, latent_grid)
    model = tmp_path / "run" / "model"
    for extra, expected in ((["--threads", "2"], 2), ([], 1)):
        seen.clear()
        aedr("plot", "reconstructions", model, images, "-o", tmp_path / "r.png", "--force", *extra)
        aedr("plot", "latent-grid", model, images, "-o", tmp_path / "g.png", "--force", *extra)
        aedr("explore", tmp_path / "run", "--data", images, "-o", tmp_path / "m.html", "--force", *extra)
        assert set(seen) == {expected} and len(seen) >= 5, seen
        assert torch.get_num_threads() == 3


@pytest.mark.parametrize(
    "args, fragments, code",
    [
        (["fit", "MISSING.csv"], ["MISSING.csv", "no such file"], 1),
        (["fit", "MISSING"], ["MISSING: no such file"], 1),  # not "unknown file type": the name has no suffix
        (["fit", "CELLS", "--labels", "MISSING"], ["MISSING: no such file"], 1),
        (["plot", "MISSING", "-o", "XLSX"], ["MISSING: no such file or folder"], 1),
        (["fit", "CELLS"], ["cells.csv", "'cell_type'", "not numeric"], 1),
        (["fit", "CELLS", "--label-col", "celltype"], ["did you mean 'cell_type'"], 1),
        (
            ["fit", "NAN"],
            ["nan.csv", "empty or NaN cells in data row 2 (in column 'a')", "--missing drop, mean or median"],
            1,
        ),
        (["fit", "CELLS", "--bogus"], ["No such option", "--bogus", "aedr fit --help"], 2),
        (["fit", "CELLS", "--max-iters", "3"], ["No such option: --max-iters; did you mean --max-iter?"], 2),
        (["fit", "CELLS", "--activation", "rleu"], ["got 'rleu'; did you mean 'relu'?"], 2),
        (["fit", "CELLS", "--model", "vea"], ["'vea': expected one of autoencoder, vae; did you mean 'vae'?"], 2),
        (
            ["fit", "CELLS", "--n-components", "two"],
            ["Invalid value for '--n-components'", "expected a whole number"],
            2,
        ),
        (
            ["evaluate", "RUN", "CELLS", "--labels", "CELLS", "--label-col", "x"],
            ["--label-col or --labels, not both"],
            2,
        ),
        (["fit", "CELLS", "--label-col", "cell_type", "--activation", "nope"], ["--activation must be", "nope"], 2),
        (["fit", "CELLS", "--label-col", "cell_type", "--batch-size", "many"], ["--batch-size", "'many'"], 2),
        (
            ["fit", "CELLS", "--label-col", "cell_type", "--max-iter", "0"],
            ["--max-iter must be a whole number of at least 1, or auto; got 0"],
            2,
        ),
        (
            ["fit", "CELLS", "--label-col", "cell_type", "--validation-fraction", "1.5"],
            ["--validation-fraction must be a number above 0 and below 1; got 1.5"],
            2,
        ),
        pytest.param(
            ["fit", "CELLS", "--label-col", "cell_type", "--device", "cuda"],
            ["--device 'cuda' was asked for but CUDA is not available here"],
            2,  # a value this machine cannot take is a usage error, as --precision 16-mixed on the CPU
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present"),
        ),
        (
            ["fit", "CELLS", "--label-col", "cell_type", "--neighbor-loss", "no-such-method"],
            ["--neighbor-loss", "no-such-method"],
            2,
        ),
        (
            ["fit", "CELLS", "--label-col", "cell_type", "--neighbor-loss", "umap", "--n-neighbors", "100"],
            ["--n-neighbors 100 needs at least 100 training rows, got 80", "or --n-neighbors 80 at most"],
            1,
        ),
        (
            ["fit", "CELLS", "--label-col", "cell_type", "--perplexity", "10"],
            ["--perplexity is a setting of --neighbor-loss tsne, and this fit has no --neighbor-loss"],
            2,  # silently ignored before: the weights were those of a fit without it
        ),
        (
            ["fit", "CELLS", "--label-col", "cell_type", "--neighbor-loss", "tsne", "--min-dist", "0.5"],
            ["--min-dist is a setting of --neighbor-loss umap, and this fit has --neighbor-loss tsne"],
            2,
        ),
        (["fit", "CELLS", "--label-col", "cell_type", "-o", "RUN"], ["already exists", "--force"], 1),
        (["transform", "CELLS", "CELLS"], ["cells.csv", "model folder"], 1),
        (["plot", "RUN/embedding.csv", "--color-by", "cell_type", "-o", "XLSX"], ["x.xlsx", "ends with its format"], 2),
        (["plot", "reconstructions", "RUN", "CELLS", "-o", "RUN/e"], ["e: a figure's name ends with", ".png"], 2),
        pytest.param(
            ["plot", "RUN", "-o", "PGF"],
            ["x.pgf: a .pgf figure needs LaTeX (xelatex), which is not installed here; write .pdf or .svg"],
            2,  # matplotlib lists the format, then fails after the drawing: refused first
            marks=pytest.mark.skipif(shutil.which("xelatex") is not None, reason="LaTeX is installed"),
        ),
        (["plot", "RUN/model"], ["model: a model folder, which holds no codes; plot its run folder"], 1),
        (
            ["plot", "reconstruction", "RUN", "CELLS"],
            ["no figure 'reconstruction'; did you mean 'reconstructions'?"],
            2,
        ),
        (["plot", "embedding.csv"], ["embedding.csv: no such file or folder"], 1),  # a file, not a misspelt figure
        (["frobnicate"], ["No such command"], 2),
    ],
)
def test_errors_are_one_line_with_their_exit_code(cells, run, tmp_path, monkeypatch, args, fragments, code):
    monkeypatch.chdir(tmp_path)  # a fit's default output (cells-aedr) claimed here, not where another test claims it
    (tmp_path / "nan.csv").write_text("a,b\n1,2\n,3\n4,5\n")
    names = {
        "CELLS": cells,
        "NAN": tmp_path / "nan.csv",
        "MISSING.csv": tmp_path / "MISSING.csv",
        "MISSING": tmp_path / "MISSING",
        "RUN": run,
        "RUN/embedding.csv": run / "embedding.csv",
        "XLSX": tmp_path / "x.xlsx",
        "PGF": tmp_path / "x.pgf",
        "RUN/model": run / "model",
    }
    result = aedr(*[names.get(a, a) for a in args], ok=False)
    assert_one_line_error(result, *fragments, code=code)


def test_fit_with_a_neighbour_loss(cells, tmp_path):
    out = tmp_path / "nb"
    aedr(
        "fit",
        cells,
        "--label-col",
        "cell_type",
        "--out",
        out,
        *FAST,
        "--neighbor-loss",
        "tsne",
        "--perplexity",
        "10",
        "--exaggeration",
        "3",
        "--early-exaggeration",
        "6",
    )
    model = load(out / "model")
    assert (model.neighbor_loss, model.perplexity, model.exaggeration, model.early_exaggeration) == (
        "tsne",
        10.0,
        3.0,
        6.0,
    )
    assert json.loads((out / "metrics.json").read_text())["trustworthiness"] > 0


def test_verbose_reports_the_settings_the_fit_ran_with(cells, tmp_path):
    fast = [a for a in FAST if a not in ("--threads", "1")]
    result = aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "v", "--verbose", *fast)
    text = result.stderr
    for fragment in ("device cpu", "1 torch thread (aedr's choice", "batch size 8", "learning rate 0.001"):
        assert fragment in text, text
    assert "scaling standard" in text and "epochs run 2 of 2: ran every epoch of its budget (--max-iter" in text
    quiet = aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "q", *FAST)
    assert "batch size" not in quiet.stderr
    assert "2 torch threads" in aedr("-v", "fit", cells, "-o", tmp_path / "t", "--label-col", "cell_type",
                                     *fast, "--threads", "2").stderr  # fmt: skip
    # --threads is the fit's n_jobs, not the model's: the model file does not keep it
    assert "n_jobs" not in json.loads((tmp_path / "t" / "model" / "config.json").read_text())["params"]
    assert load(tmp_path / "t" / "model").n_jobs is None


def test_verbose_shows_the_traceback(tmp_path):
    result = aedr("fit", tmp_path / "missing.csv", "--verbose", ok=False)
    assert result.exit_code == 1 and "Traceback" in result.stderr and "error: " in result.stderr


def test_corrupted_model_file(run, cells, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(run / "model", model)
    weights = model / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-40])
    result = aedr("transform", model, cells, "--label-col", "cell_type", ok=False)
    assert_one_line_error(result, "weights.safetensors", "truncated")
    (model / "config.json").write_text("{not json")
    assert_one_line_error(aedr("info", model, ok=False), "config.json", "not valid JSON")


def _interrupt_fit(tmp_path, *extra, sig=signal.SIGINT):
    """Start `aedr fit` on a long job, send ``sig`` (Ctrl-C) once training shows progress."""
    X = np.random.default_rng(0).normal(size=(2000, 20))
    np.save(tmp_path / "big.npy", X)
    stderr = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "aedr", "fit", str(tmp_path / "big.npy"), "-o", str(tmp_path / "run"),
           "--max-iter", "100000", "--n-iter-no-change", "100000",  # never converges before the signal, even on a slow machine
           "--hidden-layer-sizes", "16", "--threads", "1", *extra]  # fmt: skip
    with open(stderr, "w") as err:
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        deadline = time.monotonic() + 120
        while "epochs, " not in stderr.read_text():  # the first epoch's line
            assert process.poll() is None and time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.2)
        process.send_signal(sig)
        process.wait(timeout=120)
    return process.returncode, stderr.read_text()


def test_ctrl_c_during_fit_stops_after_the_epoch_and_writes_only_a_checkpoint(tmp_path):
    code, err = _interrupt_fit(tmp_path)
    assert code == 130 and "interrupted at epoch" in err and "nothing was written" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy", "run.checkpoint", "stderr.txt"]


def test_ctrl_c_with_save_best_keeps_the_best_weights(tmp_path):
    code, err = _interrupt_fit(tmp_path, "--save-best")
    assert code == 130 and "saved the best weights" in err
    model = load(tmp_path / "run" / "model")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["interrupted"] is True
    assert model.best_loss_ == min(model.loss_curve_)


def test_sigterm_with_save_best_keeps_the_best_weights_like_ctrl_c(tmp_path):
    code, err = _interrupt_fit(tmp_path, "--save-best", sig=signal.SIGTERM)
    assert code == 143 and "terminated (SIGTERM) at epoch" in err and "saved the best weights" in err, err
    assert "Traceback" not in err
    model = load(tmp_path / "run" / "model")
    assert model.stop_reason_ == "callback" and model.best_loss_ == min(model.loss_curve_)
    assert "--resume --force" in err  # the checkpoint stays: training can go on
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy", "run", "run.checkpoint", "stderr.txt"]


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT"])
def test_a_signal_just_after_the_last_epoch_is_held_until_the_trained_model_is_kept(tmp_path, monkeypatch, stop):
    """A Ctrl-C or SIGTERM in the moment between the last epoch and the trained model's checkpoint (the
    stop handler released, the checkpoint not yet written) lost the training: 'nothing was written', no
    checkpoint (s56 QA). The signal is held until the trained model is kept, then acts."""
    import signal

    from aedr import _fit_setup

    code_range = _fit_setup.code_range

    def signalled(*args, **kwargs):  # a step of fit after its last epoch
        signal.raise_signal(getattr(signal, stop))
        return code_range(*args, **kwargs)

    np.save(tmp_path / "rows.npy", np.random.default_rng(0).normal(size=(200, 6)))
    monkeypatch.setattr(_fit_setup, "code_range", signalled)
    fit = ["fit", tmp_path / "rows.npy", "--threads", "1", "--random-state", "0", "--quiet", "--max-iter", "3"]
    result = aedr(*fit, "-o", tmp_path / "run", ok=False)
    assert result.exit_code == (143 if stop == "SIGTERM" else 130), result.output
    assert (
        f"after training, while the run was written: nothing of it was written; the trained model is kept in {tmp_path / 'run.checkpoint'}"
        in result.stderr
    )
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.undo()
    assert aedr(*fit, "-o", tmp_path / "run", "--resume").exit_code == 0
    assert (tmp_path / "run" / "model").is_dir() and not (tmp_path / "run.checkpoint").exists()


@pytest.mark.parametrize("stop", ["SIGTERM", "Ctrl-C"])
def test_a_stop_while_the_outputs_are_written_keeps_the_trained_model_for_resume(tmp_path, monkeypatch, stop):
    """Ctrl-C or SIGTERM after the last epoch, while the run is written (no periodic checkpoint was due
    yet): nothing of the run is left, the checkpoint keeps the trained model, and --resume writes the run
    without training again, the same as a fit never interrupted."""
    from aedr import runs
    from aedr.cli.errors import Terminated
    from aedr.training.checkpoint import CheckpointError
    from aedr.training.trainer import Trainer

    def stopped(*args, **kwargs):
        raise Terminated() if stop == "SIGTERM" else KeyboardInterrupt()

    X = np.random.default_rng(0).normal(size=(200, 6))
    np.save(tmp_path / "rows.npy", X)
    fit = ["fit", tmp_path / "rows.npy", "--threads", "1", "--random-state", "0", "--quiet", "--max-iter"]
    with monkeypatch.context() as patched:
        patched.setattr(runs, "table_scores", stopped)  # the first step after training
        result = aedr(*fit, "3", "-o", tmp_path / "run", ok=False)
    assert result.exit_code == (143 if stop == "SIGTERM" else 130), result.output
    assert "after training, while the run was written: nothing of it was written" in result.stderr
    assert f"the trained model is kept in {tmp_path / 'run.checkpoint'}" in result.stderr
    assert "--resume writes the run without training again" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.npy", "run.checkpoint"]

    with pytest.raises(CheckpointError, match="training had ended"):  # nothing to go on training from
        Autoencoder(max_iter=3, random_state=0).fit(X, resume_from=tmp_path / "run.checkpoint")
    result = aedr(*fit, "4", "-o", tmp_path / "run", "--resume", ok=False)
    assert_one_line_error(result, "run.checkpoint", "other parameters", "--max-iter 3 (now 4)")
    with monkeypatch.context() as patched:
        patched.setattr(Trainer, "fit", lambda *args, **kwargs: pytest.fail("trained again"))
        result = aedr(*fit, "3", "-o", tmp_path / "run", "--resume")
    assert f"resuming from {tmp_path / 'run.checkpoint'}: training had ended, writing the run" in result.stderr
    aedr(*fit, "3", "-o", tmp_path / "fresh")
    resumed, fresh = (load(tmp_path / name / "model") for name in ("run", "fresh"))
    assert all(torch.equal(resumed.model_.state_dict()[k], v) for k, v in fresh.model_.state_dict().items())
    assert resumed.loss_curve_ == fresh.loss_curve_
    assert (tmp_path / "run" / "embedding.npy").read_bytes() == (tmp_path / "fresh" / "embedding.npy").read_bytes()
    metrics = [json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("run", "fresh")]
    assert [{k: v for k, v in m.items() if k != "fit_seconds"} for m in metrics] == [
        {k: v for k, v in metrics[1].items() if k != "fit_seconds"}
    ] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "rows.npy", "run"]  # the checkpoint is gone


def test_demo(tmp_path):
    import warnings

    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # the suite's configuration ignores ConvergenceWarning
        result = aedr("demo", "--out", out, "--max-iter", "2", "--quiet")
    assert "without converging" not in result.stderr  # its epochs are the demo's choice, named in its table
    text = result.stdout
    assert "autoencoder" in text and "pca" in text and "trust@10" in text
    expected = sorted([*RUN_FILES, "reconstructions.png"])
    assert sorted(p.name for p in out.iterdir()) == expected
    assert "pca" in json.loads((out / "metrics.json").read_text())
    assert_one_line_error(aedr("demo", "--out", out, ok=False), "already exists")


def test_a_run_folder_works_where_a_model_folder_is_expected(run, cells, tmp_path):
    from_run = aedr("transform", run, cells, "--label-col", "cell_type").stdout
    from_model = aedr("transform", run / "model", cells, "--label-col", "cell_type").stdout
    assert from_run == from_model and from_run.count("\n") == 81
    assert aedr("info", run).stdout == aedr("info", run / "model").stdout
    assert "trustworthiness" in aedr("evaluate", run, cells, "--label-col", "cell_type").stdout


def test_a_closed_pipe_ends_transform_quietly(run, cells, tmp_path):
    many = tmp_path / "many.csv"  # more output than a pipe holds: the writer is still writing when the reader goes
    pd.concat([pd.read_csv(cells)] * 2000).to_csv(many, index=False)
    command = [sys.executable, "-m", "aedr", "transform", str(run), str(many), "--label-col", "cell_type"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()  # what `| head -1` reads, then the reader goes away
    process.stdout.close()
    assert process.wait(timeout=120) == 141
    assert process.stderr.read() == b""


def test_a_closed_or_full_standard_output_or_input_is_named(run, cells):
    """Standard output closed (>&-) wrote nothing and exited 0; a full one gave '[Errno 28] No space left
    on device' naming nothing; a closed standard input was called a terminal."""
    command = [sys.executable, "-m", "aedr", "transform", str(run), str(cells), "--label-col", "cell_type"]
    closed = subprocess.run(command, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert closed.returncode == 1 and b"standard output is closed" in closed.stderr
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            done = subprocess.run(command, stdout=full, stderr=subprocess.PIPE)
        assert done.returncode == 1 and b"standard output: no space left on the device" in done.stderr
    piped = [sys.executable, "-m", "aedr", "transform", str(run), "-"]
    done = subprocess.run(piped, capture_output=True, preexec_fn=lambda: os.close(0))
    assert done.returncode == 1 and b"standard input is closed" in done.stderr


def test_rows_piped_to_standard_input(run, cells, tmp_path):
    """``-`` reads standard input (CSV, gzip or Parquet by its first bytes) as the file itself would be
    read; messages name it <stdin>, and its temporary copy is gone when the command ends."""
    import gzip

    def piped(args, data: bytes, code=0):
        command = [sys.executable, "-m", "aedr", *map(str, args)]
        result = subprocess.run(
            command, input=data, capture_output=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)}
        )
        assert result.returncode == code, result.stderr
        return result

    expected = aedr("transform", run, cells, "--label-col", "cell_type").stdout
    text = cells.read_bytes()
    assert piped(["transform", run, "-", "--label-col", "cell_type"], text).stdout.decode() == expected
    assert piped(["transform", run, "-", "--label-col", "cell_type"], gzip.compress(text)).stdout.decode() == expected
    pd.read_csv(cells).to_parquet(tmp_path / "cells.parquet")
    parquet = piped(["transform", run, "-", "--label-col", "cell_type"], (tmp_path / "cells.parquet").read_bytes())
    assert parquet.stdout.decode() == expected
    decoded = piped(["inverse-transform", run, "-"], (run / "embedding.csv").read_bytes())
    assert decoded.stdout.decode() == aedr("inverse-transform", run, run / "embedding.csv").stdout
    short = piped(["transform", run, "-"], b"g0,g1\n1,2\n", code=1)
    assert short.stderr.decode().startswith("error: <stdin>: lacks 4 of the columns the model was fitted on")
    assert "is empty" in piped(["evaluate", run, "-"], b"", code=1).stderr.decode()
    fifo = tmp_path / "rows"  # a named pipe, as <(zcat rows.csv.gz) gives one
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(text,))
    writer.start()
    assert piped(["transform", run, fifo, "--label-col", "cell_type"], b"").stdout.decode() == expected
    writer.join()
    assert not list(tmp_path.glob("aedr-stdin-*"))


def test_a_piped_copy_stops_before_it_fills_its_disk_and_a_killed_commands_copy_is_removed(
    run, cells, tmp_path, monkeypatch
):
    """/tmp is often memory: the copy of standard input stops before its disk is nearly full, and the copy
    a SIGKILL left behind (its command gone) is removed by the next command; a live command's is kept."""
    import collections
    import shutil
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale, live = tmp_path / f"aedr-stdin-{dead.stdout.strip()}-x1", tmp_path / f"aedr-stdin-{os.getpid()}-x2"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "stdin.csv").write_text("1,2\n")
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100 << 30, 99 << 30, 1 << 30))  # 1 GiB of 100 free
    result = CliRunner().invoke(app, ["transform", str(run), "-"], input=cells.read_bytes() * 50)
    assert result.exit_code == 1 and "<stdin>: the rows piped in would fill the disk of" in result.output
    assert "write them to a file and name it, or set TMPDIR to a larger disk" in result.output
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.glob("aedr-stdin-*")) == [live.name]  # its own copy removed too
    zeros = CliRunner().invoke(app, ["transform", str(run), "-"], input=b"\x00" * (3 << 20))  # as /dev/zero starts
    assert zeros.exit_code == 1 and "<stdin>: holds nothing but NUL bytes, not rows" in zeros.output


def test_a_name_too_long_with_stagings_prefix_is_still_written_and_a_5d_array_read_as_rows(run, tmp_path):
    """A legal output name of 236 to 255 bytes failed as "file name too long", naming aedr's staging
    file; a 5-D .npy was announced as images, then refused by scikit-learn's "dim <= 2"."""
    np.save(tmp_path / "rows.npy", np.random.default_rng(0).random((30, 1, 2, 3, 1)))
    name = tmp_path / ("a" * 245 + ".csv")
    result = CliRunner().invoke(app, ["fit", str(tmp_path / "rows.npy"), "-o", str(tmp_path / "r"), *FAST])
    assert result.exit_code == 0 and "a 5-D array: each row's 1x2x3x1 values read as one row" in result.stderr
    result = CliRunner().invoke(app, ["transform", str(tmp_path / "r"), str(tmp_path / "rows.npy"), "-o", str(name)])
    assert result.exit_code == 0 and len(pd.read_csv(name)) == 30, result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging left


@pytest.mark.parametrize(
    "name, write, args, fragments",
    [
        ("zero.npy", lambda p: np.save(p, np.array(3.0)), [], ["zero.npy", "a single number"]),
        ("empty.npy", lambda p: np.save(p, np.zeros((0, 4))), [], ["empty.npy", "no data", "(0, 4)"]),
        ("bad.npz", lambda p: p.write_bytes(b"PK\x03\x04" + b"garbage" * 20), [], ["bad.npz", "cannot read as npz"]),
        (
            "dup.csv",
            lambda p: p.write_text("a,b\n1,2\n3,4\n5,6\n"),
            ["--columns", "a,a,b"],
            ["'a'", "twice", "--columns"],
        ),
    ],
)
def test_odd_files_get_one_line_errors(tmp_path, name, write, args, fragments):
    write(tmp_path / name)
    result = aedr("fit", tmp_path / name, "-o", tmp_path / "r", *args, *FAST, ok=False)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "r").exists()


def test_a_two_row_file_fits_and_says_its_neighbourhoods_cannot_be_measured(tmp_path):
    (tmp_path / "two.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    result = aedr("fit", tmp_path / "two.csv", "-o", tmp_path / "r", *FAST)
    assert "too few rows (2) to measure neighbourhoods" in result.stdout
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["trustworthiness"] is None and metrics["continuity"] is None


def test_help_starts_without_torch_scikit_learn_or_pandas():
    """``--help`` of every command loads only the CLI: heavy libraries are imported where a command runs."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from aedr.cli import app\n"
        f"for args in [[], *{command_paths()!r}]:\n"
        "    result = CliRunner().invoke(app, [*args, '--help'])\n"
        "    assert result.exit_code == 0 and 'Usage' in result.output, (args, result.output)\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'pandas', 'scipy', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_verbose_shows_each_step_of_a_neighbour_fit_with_its_time(cells, tmp_path):
    """A long fit was silent before its bar and after it (the graph; scoring and writing the run):
    --verbose says each step."""
    args = [
        "--neighbor-loss",
        "tsne",
        "--perplexity",
        "10",
        "--max-iter",
        "4",
        "--hidden-layer-sizes",
        "8",
        "--threads",
        "1",
    ]
    loud = aedr("-v", "fit", cells, "--label-col", "cell_type", "-o", tmp_path / "v", *args)
    assert "debug: read cells.csv: comma-separated, decimal points, its first line as the column names" in loud.stderr
    steps = [line.split(":")[1].strip() for line in loud.stderr.splitlines() if line.startswith("debug: the ")]
    assert steps[:5] == [
        "the neighbour graph of 80 rows",
        "the layout map",
        "the shaping phase",
        "the refined map",
        "the fitting phase",
    ]
    assert "debug: writing the run" in loud.stderr
    quiet = aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "q", *args)
    assert "debug:" not in quiet.stderr


def test_library_warnings_show_only_with_verbose(cells, tmp_path, monkeypatch):
    import warnings

    from aedr.cli import fit as fit_command

    read = fit_command.read_input

    def read_and_warn(*args, **kwargs):
        warnings.warn("The given NumPy array is not writable", UserWarning, stacklevel=2)  # torch, of read-only data
        return read(*args, **kwargs)

    monkeypatch.setattr(fit_command, "read_input", read_and_warn)
    quiet = aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "a", *FAST)
    assert "not writable" not in quiet.stderr  # aedr's own warnings (two epochs learn little) are shown
    loud = aedr("-v", "fit", cells, "--label-col", "cell_type", "-o", tmp_path / "b", *FAST)
    assert "warning: The given NumPy array is not writable" in loud.stderr


def test_images_are_scaled_globally_by_default_and_say_so(digits, tmp_path):
    """The fit of image rows scales their pixels alike, in Python as on the command line (the CLI alone
    did, so a model fitted in Python on the same images gave other codes)."""
    X, _ = digits
    images = tmp_path / "digits-idx3-ubyte.gz"
    pixels = X[:60].reshape(60, 8, 8).astype(np.uint8)
    write_idx(images, pixels)
    result = aedr("fit", images, "-o", tmp_path / "run", *FAST)
    assert "8x8 images: scaling all pixels alike (--scale standard for per-pixel)" in result.stderr
    model = load(tmp_path / "run" / "model")
    assert model.scale == "auto" and model.scaling_ == "global"
    python = Autoencoder(hidden_layer_sizes=(8,), max_iter=2, random_state=0, n_jobs=1).fit(pixels)
    assert python.scaling_ == "global"
    np.testing.assert_allclose(python.transform(pixels), model.transform(pixels), rtol=1e-5, atol=1e-6)
    assert Autoencoder(max_iter=1).fit(X[:60]).scaling_ == "standard"  # flat rows: each column its own
    result = aedr("fit", images, "-o", tmp_path / "run2", "--scale", "standard", *FAST)
    assert "scaling all pixels" not in result.stderr and load(tmp_path / "run2" / "model").scaling_ == "standard"


# ---------------------------------------------------------------- checkpoints and --resume
RESUMABLE = ["--max-iter", "400", "--n-iter-no-change", "1000", "--hidden-layer-sizes", "32", "--random-state", "0"]


def _start_fit(tmp_path, *extra):
    data = tmp_path / "data.npy"
    if not data.exists():
        np.save(data, np.random.default_rng(0).normal(size=(4000, 20)))
    cmd = [sys.executable, "-m", "aedr", "fit", str(data), "-o", str(tmp_path / "run"), *RESUMABLE, "--quiet", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def _wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)


def test_a_killed_fit_resumes_from_its_checkpoint_to_the_same_model(tmp_path):
    """A fit killed outright (SIGKILL: out of memory, a node lost) goes on with --resume and ends
    with the weights of a fit never interrupted."""
    process = _start_fit(tmp_path, "--checkpoint-every", "0", "--threads", "1")
    checkpoint = tmp_path / "run.checkpoint"
    _wait_for(checkpoint, process)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert not (tmp_path / "run").exists() and checkpoint.exists()
    epoch = read_checkpoint(checkpoint).state["epoch"]
    assert 0 < epoch < 400

    result = aedr("fit", tmp_path / "data.npy", "-o", tmp_path / "run", *RESUMABLE, "--quiet", ok=False)
    assert_one_line_error(result, "run.checkpoint", "--resume")
    result = aedr(
        "fit", tmp_path / "data.npy", "-o", tmp_path / "run", *RESUMABLE, "--quiet", "--resume"
    )  # threads: the checkpoint's
    assert f"resuming from {checkpoint}: going on after epoch {epoch}\n" in result.stderr
    assert " s since the resume (400 epochs in all)" in result.stdout  # the seconds are the resumed part's alone
    aedr("fit", tmp_path / "data.npy", "-o", tmp_path / "fresh", *RESUMABLE, "--quiet", "--threads", "1")
    resumed, fresh = (load(tmp_path / name / "model").model_.state_dict() for name in ("run", "fresh"))
    assert all(torch.equal(resumed[k], fresh[k]) for k in fresh)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "fresh", "run"]  # checkpoint and leftovers gone


def test_a_resumed_neighbour_fit_names_its_phase_and_another_thread_count(tmp_path):
    """A neighbour fit's epochs count from 1 in each phase: the resume names the phase. Resumed on
    other threads than the checkpoint's, the fit goes on, with a note that it may not repeat bit for bit."""
    np.save(tmp_path / "data.npy", np.random.default_rng(0).normal(size=(300, 8)))
    options = ["--neighbor-loss", "tsne", "--max-iter", "400", "--hidden-layer-sizes", "16", "--quiet"]
    cmd = [sys.executable, "-m", "aedr", "fit", "data.npy", "-o", "run", *options, "--checkpoint-every", "0"]
    process = subprocess.Popen(
        [*cmd, "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    _wait_for(tmp_path / "run.checkpoint", process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    state = read_checkpoint(tmp_path / "run.checkpoint").state
    result = aedr("fit", tmp_path / "data.npy", "-o", tmp_path / "run", *options, "--resume", "--threads", "2")
    assert f"going on after epoch {state['epoch']} of the {state['phase']} phase\n" in result.stderr, result.stderr
    assert "note: the interrupted fit ran on 1 torch thread and this one on 2: training goes on" in result.stderr
    assert (tmp_path / "run" / "model").is_dir() and not (tmp_path / "run.checkpoint").exists()


def test_sigterm_stops_after_the_epoch_and_leaves_a_checkpoint(tmp_path):
    process = _start_fit(tmp_path, "--threads", "1", "--max-iter", "100000", "--checkpoint-every", "0")
    _wait_for(tmp_path / "run.checkpoint", process)  # into training, however slow the start on a busy machine
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 143
    err = process.stderr.read()
    assert "terminated (SIGTERM) at epoch" in err and "--resume" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "run.checkpoint"]
    header = read_checkpoint(tmp_path / "run.checkpoint").state
    assert header["threads"] == 1 and header["epoch"] > 0


def test_resume_without_a_checkpoint_or_with_other_options_is_refused(tmp_path):
    np.save(tmp_path / "data.npy", np.random.default_rng(0).normal(size=(300, 8)))
    result = aedr("fit", tmp_path / "data.npy", "-o", tmp_path / "run", "--resume", ok=False)
    assert_one_line_error(result, "no checkpoint at", "run.checkpoint")
    Autoencoder(max_iter=6, random_state=0, callbacks=[Checkpoint(tmp_path / "run.checkpoint", every_epochs=2)]).fit(
        np.load(tmp_path / "data.npy")
    )
    result = aedr("fit", tmp_path / "data.npy", "-o", tmp_path / "run", "--max-iter", "9", "--resume", ok=False)
    assert_one_line_error(result, "run.checkpoint", "other parameters", "--max-iter 6 (now 9)")
    fit = ["fit", tmp_path / "data.npy", "-o", tmp_path / "run", "--max-iter", "6", "--resume"]
    result = aedr(*fit, "--neighbor-loss", "tsne", ok=False)  # the option's own word, not Python's None
    assert_one_line_error(result, "other parameters: --neighbor-loss none (now 'tsne')")
    assert not (tmp_path / "run").exists()


def test_a_fit_given_no_seed_draws_one_says_it_and_resumes_with_it(tmp_path):
    """Without --random-state the fit draws a seed and records it in the model, so that a good run
    can be repeated; --resume takes the interrupted fit's seed (none from a checkpoint that has none)."""
    X = np.random.default_rng(0).normal(size=(300, 8))
    np.save(tmp_path / "data.npy", X)
    fit = ["fit", tmp_path / "data.npy", "--max-iter", "3", "--hidden-layer-sizes", "8", "--threads", "1"]
    result = aedr(*fit, "-o", tmp_path / "drawn", "--quiet")
    seed = int(re.search(r"seed (\d+): --random-state \1 repeats it", result.stdout)[1])
    assert load(tmp_path / "drawn" / "model").random_state == seed
    repeated = aedr(*fit, "-o", tmp_path / "again", "--quiet", "--random-state", seed)
    assert "repeats it" not in repeated.stdout  # a seed given is not news
    drawn, again = (load(tmp_path / name / "model").model_.state_dict() for name in ("drawn", "again"))
    assert all(torch.equal(drawn[k], again[k]) for k in drawn)
    for state in (seed, None):  # an interrupted fit's own seed, drawn or not (a checkpoint at epoch 2 of 3)
        checkpoint = Checkpoint(tmp_path / "run.checkpoint", every_epochs=2)
        Autoencoder(max_iter=3, hidden_layer_sizes=(8,), random_state=state, callbacks=[checkpoint]).fit(X)
        assert read_header(checkpoint.path)["epoch"] == 2
        result = aedr(*fit, "-o", tmp_path / "run", "--quiet", "--resume", "--force")
        assert ("repeats it" in result.stdout) == (state is not None)  # the seed the fit drew, said again
        assert load(tmp_path / "run" / "model").random_state == state


def test_force_starts_afresh_over_a_checkpoint(tmp_path):
    X = np.random.default_rng(0).normal(size=(300, 8))
    np.save(tmp_path / "data.npy", X)
    Autoencoder(max_iter=4, random_state=1, callbacks=[Checkpoint(tmp_path / "run.checkpoint", every_epochs=2)]).fit(X)
    aedr("fit", tmp_path / "data.npy", "-o", tmp_path / "run", "--max-iter", "3", "--quiet", "--force")
    assert not (tmp_path / "run.checkpoint").exists()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"] == 3
    assert sorted(os.listdir(tmp_path)) == ["data.npy", "run"]


@pytest.mark.parametrize("made", ["file", "safetensors", "folder"])
def test_what_is_no_checkpoint_at_the_checkpoints_name_is_named_and_never_replaced(tmp_path, made):
    """A user's file at OUT.checkpoint was called "the checkpoint of an interrupted fit", and --force
    deleted it without a word; a folder there was that checkpoint too, or "no checkpoint", or under
    --force "a folder; give the name of a file to write" (QA F9)."""
    from safetensors.numpy import save_file

    np.save(tmp_path / "data.npy", np.random.default_rng(0).normal(size=(300, 8)))
    taken = tmp_path / "run.checkpoint"
    if made == "folder":
        taken.mkdir()
        (taken / "notes.txt").write_text("mine")
        said = [f"{taken} is a folder, and aedr fit keeps this fit's checkpoint under that name"]
    elif made == "file":
        taken.write_text("hello\n")
        said = [f"{taken}: not a readable checkpoint", "aedr fit keeps this fit's checkpoint under that name"]
    else:  # a safetensors file of someone else's
        save_file({"w": np.zeros(3, dtype=np.float32)}, str(taken))
        said = [f"{taken}: not an aedr checkpoint, and aedr fit keeps this fit's checkpoint under that name"]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for given in ([], ["--force"], ["--resume"], ["--resume", "--force"]):
        result = aedr("fit", tmp_path / "data.npy", "-o", tmp_path / "run", *FAST, *given, ok=False)
        assert_one_line_error(result, *said, "move it away, or choose another --out")
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, given
    if made == "file":
        assert taken.read_text() == "hello\n"


def test_data_too_large_to_square_is_refused_not_written_as_infinity(tmp_path):
    """Refused before training now (beyond float32, as a streamed file is), where it once trained and
    then failed on its reconstruction error; never written as infinity."""
    X = np.random.default_rng(0).normal(size=(50, 3))
    X[0, 0] = 1.7e308
    np.save(tmp_path / "big.npy", X)
    result = aedr("fit", tmp_path / "big.npy", "-o", tmp_path / "r", *FAST, ok=False)
    assert_one_line_error(result, "1 row holds values beyond float32", "rescale them first")
    assert not (tmp_path / "r").exists() and not (tmp_path / "r.checkpoint").exists()


def test_a_one_dimensional_code_fits_without_a_map(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(60, 4)))
    result = aedr("fit", tmp_path / "x.npy", "-o", tmp_path / "r", "--n-components", "1", *FAST)
    assert "no map.html" in result.stderr and not (tmp_path / "r" / "map.html").exists()


def test_a_fit_whose_loss_grows_by_orders_of_magnitude_fails_in_one_line_and_writes_nothing(digits, tmp_path):
    np.save(tmp_path / "pixels.npy", digits[0][:500])
    result = aedr("fit", tmp_path / "pixels.npy", "-o", tmp_path / "r", "--scale", "none", "--learning-rate", "10",
                  "--hidden-layer-sizes", "32", "--max-iter", "30", "--random-state", "0", "--quiet", ok=False)  # fmt: skip
    assert_one_line_error(result, "training diverged at epoch", "times the lowest so far", "kept the best weights",
                          "--learning-rate 10", "unscaled data", "outliers")  # fmt: skip
    assert os.listdir(tmp_path) == ["pixels.npy"]


def test_force_never_replaces_the_input_or_a_folder_aedr_did_not_write(tmp_path):
    """--force replaces aedr's own outputs only: not the data it reads, a folder holding it, or a
    folder of the user's own files; an earlier run is still replaced."""
    data = tmp_path / "proj" / "data.npy"
    data.parent.mkdir()
    np.save(data, np.random.default_rng(0).normal(size=(120, 5)))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("mine")
    before = data.read_bytes()
    result = aedr("fit", data, "-o", tmp_path / "proj", *FAST, "--force", ok=False)
    assert_one_line_error(result, "would replace the input")
    result = aedr("fit", data, "-o", tmp_path / "notes", *FAST, "--force", ok=False)
    assert_one_line_error(result, "notes is a folder without model/config.json, not an earlier aedr output")
    aedr("fit", data, "-o", tmp_path / "run", *FAST, "--format", "csv")
    (tmp_path / "run" / "notes.txt").write_text("mine")  # the user's files beside the run's
    aedr("plot", tmp_path / "run", "-o", tmp_path / "run" / "mine.png")
    (tmp_path / "run" / "embedding.notes.txt").write_text("mine too")  # named like a run's file, but none
    aedr("fit", data, "-o", tmp_path / "run", *FAST, "--force")  # an earlier run: replaced, the user's files kept
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(
        ["embedding.notes.txt", "embedding.npy", "embedding.png", "loss.png", "map.html", "metrics.json", "mine.png"]
        + ["model", "notes.txt"]
    )  # not the earlier run's embedding.csv
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    copy = tmp_path / "copy.npy"
    copy.write_bytes(before)
    result = aedr("transform", tmp_path / "run", copy, "-o", copy, "--force", ok=False)
    assert_one_line_error(result, "would replace the input")
    for option in ("--reference", "--labels"):  # every file a command reads is an input, not only DATA
        result = aedr("transform", tmp_path / "run", data, option, copy, "-o", copy, "--force", ok=False)
        assert_one_line_error(result, "would replace the input")
    embedding = tmp_path / "run" / "embedding.npy"
    text = embedding.read_bytes()
    result = aedr("explore", tmp_path / "run", "-o", embedding, "--force", ok=False)
    assert_one_line_error(result, "the map is an HTML page", code=2)  # never an .npy, let alone its input
    assert data.read_bytes() == before and copy.read_bytes() == before and embedding.read_bytes() == text
    assert (tmp_path / "notes" / "notes.txt").read_text() == "mine"


def test_an_output_of_the_wrong_kind_is_refused_before_any_work(tmp_path, monkeypatch):
    """A run folder never replaces a file, a file never a folder: refused before training, with
    nothing left behind (before, 'fit -o notes.txt --force' trained, then failed on a raw errno and
    left a hidden staging folder); '-o .' writes into the current folder when it is empty."""
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).normal(size=(120, 5)))
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    result = aedr("fit", data, "-o", notes, *FAST, "--force", ok=False)
    assert_one_line_error(result, "notes.txt is a file; a folder is written there: choose another name")
    aedr("fit", data, "-o", tmp_path / "run", *FAST)
    (tmp_path / "codes.csv").mkdir()
    result = aedr("transform", tmp_path / "run", data, "-o", tmp_path / "codes.csv", "--force", ok=False)
    assert_one_line_error(result, "codes.csv is a folder; give the name of a file to write")
    assert sorted(os.listdir(tmp_path)) == ["codes.csv", "data.npy", "notes.txt", "run"]
    assert notes.read_text() == "mine"
    empty = tmp_path / "here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    inode = empty.stat().st_ino
    aedr("fit", data, "-o", ".", *FAST)
    assert empty.stat().st_ino == inode  # written into the folder, not a new one renamed over it (a shell there stays)
    for out in (".", ".."):  # the working folder again, or one that holds it: refused, nothing touched
        result = aedr("fit", data, "-o", out, *FAST, "--force", ok=False)
        assert_one_line_error(result, "the folder you are working in")
    assert (empty / "model" / "config.json").is_file() and sorted(os.listdir(tmp_path)) == [
        "codes.csv",
        "data.npy",
        "here",
        "notes.txt",
        "run",
    ]


def test_infinite_values_are_counted_and_placed(tmp_path):
    rows = np.random.default_rng(0).normal(size=(40, 3))
    rows[1, 2] = np.inf
    pd.DataFrame(rows, columns=["a", "b", "c"]).to_csv(tmp_path / "x.csv", index=False)
    result = aedr("fit", tmp_path / "x.csv", "-o", tmp_path / "r", *FAST, ok=False)
    assert_one_line_error(result, "x.csv: 1 row holds infinite values (first: data row 2, column 'c')")
    rows[5, 0] = -np.inf
    pd.DataFrame(rows, columns=["a", "b", "c"]).to_csv(tmp_path / "x.csv", index=False)
    result = aedr("fit", tmp_path / "x.csv", "-o", tmp_path / "r", *FAST, ok=False)
    assert_one_line_error(result, "x.csv: 2 rows hold infinite values (first: data row 2")
    # beyond float32: refused before training as a streamed file refuses it (in memory it trained for the
    # whole fit, then failed on its scores)
    np.save(tmp_path / "huge.npy", np.random.default_rng(0).normal(size=(40, 3)) * 1e300)
    result = aedr("fit", tmp_path / "huge.npy", "-o", tmp_path / "h", *FAST, ok=False)
    assert_one_line_error(result, "huge.npy: 40 rows hold values beyond float32 (above 3.4e38)", "rescale them first")
    assert not (tmp_path / "h.checkpoint").exists()
    # columns without names numbered from 0, as --exclude takes them and the NaN error names them
    holed = np.random.default_rng(0).normal(size=(40, 3))
    holed[3, 2] = np.inf
    np.save(tmp_path / "i.npy", holed)
    result = aedr("fit", tmp_path / "i.npy", "-o", tmp_path / "i", *FAST, ok=False)
    assert_one_line_error(result, "i.npy: 1 row holds infinite values (first: data row 4, column 2)")
    holed[3, 2] = np.nan
    np.save(tmp_path / "n.npy", holed)
    result = aedr("fit", tmp_path / "n.npy", "-o", tmp_path / "n", *FAST, ok=False)
    assert_one_line_error(result, "data row 4 (in column 2)")


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--device", "gpu"], "--device 'gpu' is not a device name"),
        (["--precision", "16-mixed", "--device", "cpu"], "--precision '16-mixed' needs a GPU"),
        (
            ["--hidden-layer-sizes", "0"],
            "--hidden-layer-sizes: cannot use '0' (0 is not a size; each must be 1 or more)",
        ),
        (["--scale", "foo"], "--scale must be one of auto, global, minmax, standard, none; got 'foo'"),
        (["--learning-rate", "abc"], "--learning-rate: cannot use 'abc'"),
    ],
)
def test_a_bad_parameter_value_found_at_fit_is_a_usage_error(cells, tmp_path, option, fragment):
    """A bad value exits 2, as the README says, named by the option the user typed and in its words, whether
    the option's conversion finds it or only the fit can (--precision on this machine)."""
    result = aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "run", *FAST, *option, ok=False)
    assert result.exit_code == 2 and fragment in result.stderr and not (tmp_path / "run").exists()


def test_every_command_that_writes_takes_output(cells, tmp_path):
    """fit (and demo, benchmark) spell their folder --out; --output, the other commands' name, works too."""
    aedr("fit", cells, "--label-col", "cell_type", "--output", tmp_path / "run", *FAST)
    assert (tmp_path / "run" / "model").is_dir()
    for command in (["demo"], ["benchmark"]):
        assert "--output" in aedr(*command, "--help").stdout


def test_row_ids_are_written_beside_the_codes_so_each_code_joins_back_to_its_row(tmp_path):
    """An ID column left out of the features stands before the codes in every output that keeps more
    than one array, rows dropped for gaps take their IDs with them, and the label stays the column
    that plot colours by and inverse-transform keeps."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    frame.insert(0, "cell_id", [f"c{i:02d}" for i in range(60)])
    frame["kind"] = np.where(frame["a"] > 0, "T", "B")
    frame.loc[5, "b"] = np.nan
    frame.to_csv(tmp_path / "cells.csv", index=False)
    aedr("fit", tmp_path / "cells.csv", "--label-col", "kind", "--missing", "drop", "-o", tmp_path / "run", *FAST)
    written = pd.read_csv(tmp_path / "run" / "embedding.csv")
    assert list(written.columns) == ["cell_id", "autoencoder0", "autoencoder1", "kind"]
    kept = frame.drop(index=5).reset_index(drop=True)
    assert written["cell_id"].tolist() == kept["cell_id"].tolist() and written["kind"].tolist() == kept["kind"].tolist()
    assert '"c59"' in (tmp_path / "run" / "map.html").read_text()  # in the map's hover box
    model = load(tmp_path / "run" / "model")
    joined = kept.merge(written, on="cell_id")
    np.testing.assert_allclose(
        joined[["autoencoder0", "autoencoder1"]], model.transform(joined[list("abcd")]), rtol=1e-6, atol=1e-6
    )

    new = frame.drop(columns="kind").iloc[[7, 3, 9]]  # three rows: an ID by its name, however few
    new.to_csv(tmp_path / "new.csv", index=False)
    for name in ("codes.csv", "codes.parquet", "codes.npz", "codes.h5ad"):
        aedr("transform", tmp_path / "run", tmp_path / "new.csv", "-o", tmp_path / name)
    assert pd.read_csv(tmp_path / "codes.csv")["cell_id"].tolist() == ["c07", "c03", "c09"]
    assert pd.read_parquet(tmp_path / "codes.parquet").columns[0] == "cell_id"
    with np.load(tmp_path / "codes.npz") as archive:
        assert archive["cell_id"].tolist() == ["c07", "c03", "c09"] and archive["X"].shape == (3, 2)
    import anndata

    assert anndata.read_h5ad(tmp_path / "codes.h5ad").obs_names.tolist() == ["c07", "c03", "c09"]
    npy = aedr("transform", tmp_path / "run", tmp_path / "new.csv", "-o", tmp_path / "codes.npy")
    assert "(3 rows x 2 columns)" in npy.stderr  # the codes alone
    assert (
        "codes.npy holds the codes alone; .csv, .tsv, .parquet, .npz or .h5ad keep the rows' IDs beside them"
        in npy.stderr
    )

    decoded = aedr("inverse-transform", tmp_path / "run", tmp_path / "run" / "embedding.csv")
    assert "keeping 'kind' beside the decoded rows" in decoded.stderr
    rows = pd.read_csv(io.StringIO(decoded.stdout))
    assert list(rows.columns) == ["cell_id", *"abcd", "kind"] and rows["cell_id"].tolist() == kept["cell_id"].tolist()
    plotted = aedr("plot", tmp_path / "run" / "embedding.csv", "-o", tmp_path / "map.png")
    assert "colouring by 'kind'" in plotted.stderr
    arrays = {name: written[name].to_numpy().astype(str) for name in ("cell_id", "kind")}
    np.savez(tmp_path / "e.npz", X=written.iloc[:, 1:3].to_numpy(), **arrays)
    assert "colouring by 'kind'" in aedr("plot", tmp_path / "e.npz", "-o", tmp_path / "npz.png").stderr
    # three rows, three labels: as unique as the IDs, the label is told by its place after X
    three = frame.iloc[[0, 1, 2]].assign(kind=["T", "B", "N"])
    three.to_csv(tmp_path / "three.csv", index=False)
    aedr("transform", tmp_path / "run", tmp_path / "three.csv", "-o", tmp_path / "three.npz")
    assert "colouring by 'kind'" in aedr("plot", tmp_path / "three.npz", "-o", tmp_path / "three.png").stderr


def test_readers_take_the_codes_by_name_and_never_draw_an_id(tmp_path):
    """plot, explore and inverse-transform find the code run by its names (autoencoder0.., UMAP1..), so
    the rows' IDs before it are never an axis and the label after it is found; an ID named like a code
    column, the label or .npz's X is renamed NAME_id, never written over them."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(20, 3)), columns=list("abc")).assign(kind=list("xy") * 10)
    frame.insert(0, "X", [f"c{i}" for i in range(20)])
    frame.to_csv(tmp_path / "cells.csv", index=False)
    aedr("fit", tmp_path / "cells.csv", "--label-col", "kind", "-o", tmp_path / "run", "--format", "npz", *FAST)
    with np.load(tmp_path / "run" / "embedding.npz") as archive:
        assert archive.files == ["X_id", "X", "kind"] and archive["X"].dtype.kind == "f"
    two = frame.drop(columns=["X", "kind"]).iloc[:2].assign(cell_id=[101, 205])
    two.to_csv(tmp_path / "two.csv", index=False)
    aedr("transform", tmp_path / "run", tmp_path / "two.csv", "-o", tmp_path / "codes.csv")
    assert pd.read_csv(tmp_path / "codes.csv").columns.tolist() == ["cell_id", "autoencoder0", "autoencoder1"]
    drawn = aedr("plot", tmp_path / "codes.csv", "-o", tmp_path / "two.png")
    assert "left out" not in drawn.stderr and "drawing the first" not in drawn.stderr
    pd.DataFrame({"UMAP1": [0.1, 0.5, 0.9], "UMAP2": [1.0, 0.0, 0.5], "cluster": list("aab")}).to_csv(
        tmp_path / "umap.csv", index=False
    )
    assert "colouring by 'cluster'" in aedr("plot", tmp_path / "umap.csv", "-o", tmp_path / "u.png").stderr

    headerless = frame.drop(columns="X").assign(n=range(20))[["n", "a", "b", "c", "kind"]]
    headerless.insert(0, "name", [f"s{i}" for i in range(20)])
    headerless.to_csv(tmp_path / "rows.csv", index=False, header=False)
    aedr("fit", tmp_path / "rows.csv", "--label-col", "5", "-o", tmp_path / "nh", *FAST)
    written = pd.read_csv(tmp_path / "nh" / "embedding.csv")
    assert written.columns.tolist() == ["id", "id_b", "autoencoder0", "autoencoder1", "5"]
    assert "colouring by '5'" in aedr("plot", tmp_path / "nh", "-o", tmp_path / "nh.png").stderr
    from aedr.cli.explore import read_codes

    codes, names, labels, ids = read_codes(tmp_path / "nh" / "embedding.csv")
    assert names == ["autoencoder0", "autoencoder1"] and labels.columns.tolist() == ["5"]
    assert ids.columns.tolist() == ["id", "id_b"]


def test_a_scipy_sparse_npz_file_is_read_as_its_matrix(tmp_path):
    """scipy.sparse.save_npz's arrays (data, indices, indptr, format, shape) are one sparse matrix, kept
    sparse: the codes are those of the same rows dense, never a fit of the stored values as one column."""
    import scipy.sparse as sp

    X = np.random.default_rng(0).normal(size=(60, 5)) * (np.random.default_rng(1).random((60, 5)) > 0.5)
    sp.save_npz(tmp_path / "rows.npz", sp.csr_matrix(X))
    sp.save_npz(tmp_path / "cols.npz", sp.csc_matrix(X), compressed=False)
    sp.save_npz(tmp_path / "coo.npz", sp.coo_matrix(X))
    np.save(tmp_path / "rows.npy", X)
    aedr("fit", tmp_path / "rows.npz", "-o", tmp_path / "sparse", *FAST)
    aedr("fit", tmp_path / "rows.npy", "-o", tmp_path / "dense", *FAST)
    with np.load(tmp_path / "sparse" / "embedding.npz") as archive:
        np.testing.assert_allclose(archive["X"], np.load(tmp_path / "dense" / "embedding.npy"), rtol=1e-5, atol=1e-6)
    for name in ("cols.npz", "coo.npz"):
        codes = pd.read_csv(io.StringIO(aedr("transform", tmp_path / "sparse", tmp_path / name).stdout))
        np.testing.assert_allclose(codes.to_numpy(), load(tmp_path / "dense").transform(X), rtol=1e-5, atol=1e-6)
    np.savez(tmp_path / "dense.npz", data=X, format=np.array("csr"), shape=np.array(X.shape))  # not scipy's layout
    codes = pd.read_csv(io.StringIO(aedr("transform", tmp_path / "sparse", tmp_path / "dense.npz").stdout))
    np.testing.assert_allclose(codes.to_numpy(), load(tmp_path / "dense").transform(X), rtol=1e-5, atol=1e-6)
    refused = aedr("fit", tmp_path / "rows.npz", "--label-col", "y", "-o", tmp_path / "r", ok=False)
    assert_one_line_error(refused, "rows.npz: a scipy.sparse matrix (save_npz) holds one array", "--labels FILE")
    X[3, 2] = np.nan
    sp.save_npz(tmp_path / "nan.npz", sp.csr_matrix(X))
    assert_one_line_error(aedr("fit", tmp_path / "nan.npz", "-o", tmp_path / "r", ok=False), "NaN or infinite")


@pytest.mark.parametrize("index", [70, 2_000_000_000, -1])
def test_a_damaged_sparse_matrix_is_refused_before_any_kernel_reads_it(tmp_path, index):
    """A column index beyond the matrix made scipy's and scikit-learn's kernels read memory out of
    bounds: a crash (SIGSEGV, no message) for a large one, wrong statistics and an exit 0 for a small one."""
    import scipy.sparse as sp

    from aedr import Autoencoder

    X = sp.random(60, 5, density=0.4, format="csr", random_state=0)
    sp.save_npz(tmp_path / "ok.npz", X)
    arrays = dict(np.load(tmp_path / "ok.npz"))
    arrays["indices"] = arrays["indices"].astype(np.int64)
    arrays["indices"][0] = index
    np.savez(tmp_path / "bad.npz", **arrays)
    message = f"a column index out of range: {index} (columns 0 to 4)"
    assert_one_line_error(aedr("fit", tmp_path / "bad.npz", "-o", tmp_path / "r", ok=False), message)
    aedr("fit", tmp_path / "ok.npz", "-o", tmp_path / "run", *FAST)
    assert_one_line_error(aedr("transform", tmp_path / "run", tmp_path / "bad.npz", ok=False), message)
    bad, by_column = X.copy(), X.tocsc()
    for matrix in (bad, by_column):
        matrix.indices = matrix.indices.astype(np.int64)
        matrix.indices[0] = index
    for matrix in (bad, by_column):
        with pytest.raises(ValueError, match=f"X is a malformed sparse matrix: a (column|row) index .*{index}"):
            Autoencoder(2, max_iter=1).fit(matrix)
        with pytest.raises(ValueError, match="malformed sparse matrix"):
            load(tmp_path / "run").transform(matrix)
    mixed = X.copy()  # index arrays of two integer types, which scikit-learn's kernels refuse: read as they are
    mixed.indices = mixed.indices.astype(np.int64)
    np.testing.assert_allclose(load(tmp_path / "run").transform(mixed), load(tmp_path / "run").transform(X), atol=1e-6)
    assert mixed.indices.dtype == np.int64 and mixed.indptr.dtype == np.int32  # the caller's matrix as it was


def test_a_usage_error_is_printed_when_rank_is_set_without_torchrun(tmp_path):
    """Only torchrun's other ranks (WORLD_SIZE > 1) stay silent: RANK left in a shell is no reason to."""
    result = runner.invoke(app, ["fit", str(tmp_path / "x.csv"), "--bogus"], env={"RANK": "1"})
    assert result.exit_code == 2 and "No such option: --bogus" in result.output


def test_an_error_quoting_a_huge_name_stays_a_readable_line(tmp_path):
    """A wide file read with the wrong delimiter has one column named by its whole header: the error
    quoted it all (14 MB in the QA's case). The line keeps its start and end."""
    from aedr.cli.errors import MESSAGE_CHARS

    header = ",".join(f"gene{i}" for i in range(3000))
    (tmp_path / "wide.csv").write_text(header + "\n" + ",".join("1" for _ in range(3000)) + "\n" + "x,y\n")
    result = aedr("fit", tmp_path / "wide.csv", "--delimiter", "semicolon", "-o", tmp_path / "r", *FAST, ok=False)
    assert_one_line_error(result, "wide.csv", "characters cut", "gene2999")
    assert len(result.stderr.strip()) <= MESSAGE_CHARS + 40


def test_the_aedr_command_catches_a_ctrl_c_before_any_command_starts(monkeypatch, capsys):
    """The console script runs ``aedr.cli.main``, which says a Ctrl-C while Python imports in one line
    (the command group's own handler is not in place yet); it ran the typer app, whose traceback showed."""
    import importlib
    from importlib.metadata import entry_points

    entry = importlib.import_module("aedr.cli.app")  # the module; aedr.cli.app is also the typer app's name
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert '\naedr = "aedr.cli:main"\n' in pyproject  # what a fresh install generates
    assert entry_points(group="console_scripts")["aedr"].value == "aedr.cli:main"  # this install

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(entry, "app", interrupted)
    with pytest.raises(SystemExit) as stop:
        entry.main()
    assert stop.value.code == 130 and capsys.readouterr().err == "\nerror: interrupted; nothing was written\n"


def test_scores_say_when_they_measure_another_geometry_than_the_model_reads(tmp_path):
    """Breast cancer's columns spread from 0.003 to 569: trustworthiness in the data's units (0.82) and
    the standardised geometry the model reads (0.95) differ, and the fit and evaluate say so; with one
    scale for all columns (global) there is nothing to say."""
    from sklearn.datasets import load_breast_cancer

    load_breast_cancer(as_frame=True).frame.to_csv(tmp_path / "bc.csv", index=False)
    fitted = aedr("fit", tmp_path / "bc.csv", "--label-col", "target", "-o", tmp_path / "r", *FAST)
    assert (
        "measure neighbours in the data's own units, where the training rows' columns spread from 0.00264 to 569"
        in fitted.stderr
    )
    assert "5-NN accuracy 0." in fitted.stdout  # the labels' score, printed as it is written
    scored = aedr("evaluate", tmp_path / "r", tmp_path / "bc.csv", "--label-col", "target")
    assert "the model reads each column scaled alike (standard)" in scored.stderr
    alike = aedr("fit", tmp_path / "bc.csv", "--label-col", "target", "--scale", "global", "-o", tmp_path / "g", *FAST)
    assert "own units" not in alike.stderr


def test_the_librarys_warnings_read_as_the_cli_s_own_lines(tmp_path):
    """A warning of the library (a few extreme rows setting the scaling) reads 'warning: ...', as the
    CLI's own 'note:' and 'error:' lines, not logging's 'WARNING:'."""
    off = 1e6 + np.random.default_rng(0).normal(size=(300, 5))
    np.save(tmp_path / "off.npy", np.vstack([off, [0, 1e6, 1e6, 1e6, 1e6]]))
    result = aedr("fit", tmp_path / "off.npy", "--scale", "global", "-o", tmp_path / "r", *FAST)
    assert "warning: a few extreme rows set the input scaling (the farthest: data row 301 of the file)" in result.stderr


def test_a_warning_names_a_row_by_its_row_in_the_file_after_missing_drop(tmp_path):
    """The extreme-rows warning named the row by its position among the fitted rows, which is another row
    of the file once --missing drop has left rows out (s55 QA): it names the file's data row."""
    rows = 1e6 + np.random.default_rng(0).normal(size=(301, 5))
    rows[-1] = [0, 1e6, 1e6, 1e6, 1e6]  # the extreme row: data row 301, the 300th row fitted
    frame = pd.DataFrame(rows, columns=list("abcde"))
    frame.loc[10, "b"] = np.nan  # data row 11, left out
    frame.to_csv(tmp_path / "off.csv", index=False)
    result = aedr("fit", tmp_path / "off.csv", "--missing", "drop", "--scale", "global", "-o", tmp_path / "r", *FAST)
    assert "(the farthest: data row 301 of the file)" in result.stderr, result.stderr


def test_a_network_whose_codes_carry_nothing_is_told_without_verbose(tmp_path):
    """aedr's own warnings are Python warnings (aedr.AedrWarning), which the CLI shows without --verbose, where
    the libraries' are for --verbose only: a fit whose every row got one code exited 0 without a word."""
    from sklearn.datasets import load_digits

    np.save(tmp_path / "d.npy", load_digits().data[:400])
    dead = ["--learning-rate", "1.0", "--max-iter", "30", "--random-state", "0", "--threads", "1", "--quiet"]
    result = aedr("fit", tmp_path / "d.npy", "-o", tmp_path / "r", *dead)
    assert "warning: Autoencoder reconstructs its rows hardly better than their column means" in result.stderr
    assert "(--learning-rate 1)" in result.stderr and result.stderr.count("warning:") == 1


def test_a_fit_that_ran_out_of_epochs_is_told_in_the_options_words(tmp_path):
    """The ConvergenceWarning of a fit given too few epochs reached CLI users only with --verbose, and in
    Python's words, max_iter=30 (CLI QA 4). It is an AedrWarning too; scikit-learn's filters still apply."""
    import warnings

    from sklearn.datasets import load_wine

    np.save(tmp_path / "w.npy", load_wine().data)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # the suite's configuration ignores ConvergenceWarning
        result = aedr("fit", tmp_path / "w.npy", "-o", tmp_path / "r", "--max-iter", "3", "--threads", "1", "-q")
    assert (
        "warning: Autoencoder ran all 3 epochs without converging: give it more epochs than --max-iter 3, or leave "
        "--max-iter 'auto'" in result.stderr
    )


def test_the_checkpoint_of_a_run_in_the_working_folder_lies_beside_it(tmp_path, monkeypatch):
    """Under torchrun the ranks above 0 name the checkpoint of '-o .' themselves: 'PosixPath('.') has an
    empty name' stopped them."""
    from aedr.cli.fit import _checkpoint_file

    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert _checkpoint_file(Path(".")) == tmp_path / "here.checkpoint"
    assert _checkpoint_file(Path("run1")) == Path("run1.checkpoint")


def test_python_and_the_command_line_score_a_model_alike(tmp_path):
    """Autoencoder.evaluate and aedr evaluate had two scorers: Python added silhouette and refused rows
    without a label, the command line left them out; both now score as metrics.evaluate_embedding does."""
    X, y = load_digits(return_X_y=True)
    frame = pd.DataFrame(X[:400], columns=[f"p{i}" for i in range(64)]).assign(digit=y[:400].astype(object))
    frame.loc[[3, 50, 77], "digit"] = None  # unannotated rows
    frame.to_csv(tmp_path / "d.csv", index=False)
    aedr("fit", tmp_path / "d.csv", "--label-col", "digit", "-o", tmp_path / "run", *FAST)
    printed = json.loads(aedr("evaluate", tmp_path / "run", tmp_path / "d.csv", "--json").stdout)
    python = load(tmp_path / "run" / "model").evaluate(frame.drop(columns="digit"), frame["digit"])
    assert python["knn_labelled_rows"] == printed["knn_labelled_rows"] == 397
    for name in ("trustworthiness", "continuity", "knn_accuracy", "silhouette", "reconstruction_mse"):
        assert python[name] == pytest.approx(printed[name], rel=1e-6), name
    one = load(tmp_path / "run" / "model").evaluate(frame.drop(columns="digit"), np.zeros(400))
    assert one["knn_accuracy"] is None and one["silhouette"] is None  # one class: nothing to score, no error


def test_a_column_or_value_named_as_a_parameter_is_quoted_as_the_user_wrote_it(tmp_path):
    """Errors turned every quoted word that is a parameter name into an option: a column 'noise' became
    --noise, a cell value 'beta' --beta, a label column 'loss' --loss (first-user QA 1)."""
    (tmp_path / "cells.csv").write_text("a,b,noise\n1,2,beta\n3,4,x\n5,6,beta\n")
    refused = aedr("fit", tmp_path / "cells.csv", "-o", tmp_path / "r", ok=False)
    assert_one_line_error(refused, "1 column is not numeric: 'noise' (e.g. 'beta' in row 1)", "--exclude noise")
    refused = aedr("fit", tmp_path / "cells.csv", "--label-col", "loss", "-o", tmp_path / "r", ok=False)
    assert_one_line_error(refused, "no label column 'loss'")
    refused = aedr("fit", tmp_path / "cells.csv", "--hidden-layer-sizes", "8,0", "-o", tmp_path / "r", ok=False)
    assert "--hidden-layer-sizes" in refused.stderr and "'hidden_layer_sizes'" not in refused.stderr
    refused = aedr("fit", tmp_path / "cells.csv", "--hidden-layer-sizes", "", "-o", tmp_path / "r", ok=False)
    assert (
        "--hidden-layer-sizes" in refused.stderr and "give 'linear' (or 'none') for no hidden layer" in refused.stderr
    )


def test_a_transform_to_npy_does_not_promise_the_label_it_leaves_out(run, cells, tmp_path):
    """To .npy it said both "keeping 'cell_type' beside the codes" and "holds the codes alone" (first-user QA 7)."""
    result = aedr("transform", run, cells, "-o", tmp_path / "codes.npy")
    assert "holds the codes alone" in result.stderr and "keeping 'cell_type'" not in result.stderr
    result = aedr("transform", run, cells, "-o", tmp_path / "codes.csv")
    assert "keeping 'cell_type' beside the codes" in result.stderr
    result = aedr("inverse-transform", run, tmp_path / "codes.csv", "-o", tmp_path / "rows.npy")
    assert "rows.npy holds the decoded rows alone" in result.stderr and "codes alone" not in result.stderr


def test_the_progress_bar_writes_a_few_lines_into_a_log_not_every_redraw(cells, tmp_path):
    """stderr redirected (a log, CI, subprocess): every redraw was a \\r line, about 70 for a 5 s fit;
    now plain lines, the first epoch's and the last (and one every 30 s between)."""
    args = ["--max-iter", "60", "--hidden-layer-sizes", "8", "--random-state", "0", "--threads", "1"]
    result = aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "r", *args)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Autoencoder: ")]
    assert 2 <= len(lines) <= 3 and "\r" not in result.stderr, result.stderr
    assert lines[0].startswith("Autoencoder: 1/60 epochs, ") and lines[-1].startswith("Autoencoder: 60/60 epochs, ")


def test_an_integer_coded_label_read_as_a_feature_is_noted(tmp_path):
    """scikit-learn's frame with its target column (iris.frame.to_csv): the class went into the network
    without a word, where a text label is refused and an ID column noted (first-user QA 2)."""
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.to_csv(tmp_path / "iris.csv", index=False)
    result = aedr("fit", tmp_path / "iris.csv", "-o", tmp_path / "r", *FAST)
    assert "column 'target' looks like a label (3 distinct whole numbers)" in result.stderr
    assert "--label-col target sets it apart" in result.stderr
    result = aedr("fit", tmp_path / "iris.csv", "--label-col", "target", "-o", tmp_path / "l", *FAST)
    assert "looks like a label" not in result.stderr


def test_a_network_far_larger_than_its_rows_says_its_scores_are_the_fitted_rows(tmp_path):
    """140 rows and 73,487 weights: the fit reported an error a quarter of PCA's, which held-out rows
    quadrupled, without a word that the figures were the fitted rows' (first-user QA 3)."""
    from sklearn.datasets import load_wine

    load_wine(as_frame=True).frame.iloc[:140].to_csv(tmp_path / "wine.csv", index=False)
    small = ["--max-iter", "2", "--random-state", "0", "--threads", "1", "--quiet", "--label-col", "target"]
    result = aedr("fit", tmp_path / "wine.csv", "-o", tmp_path / "r", *small)
    assert result.stdout.splitlines()[1].startswith("fitted rows: reconstruction MSE")
    assert "the network holds 73,487 weights for 140 rows" in result.stderr and "aedr evaluate" in result.stderr
    result = aedr("fit", tmp_path / "wine.csv", "-o", tmp_path / "s", *small, "--hidden-layer-sizes", "16")
    assert "weights for" not in result.stderr  # 16 hidden units: 500 weights


def test_the_image_shape_is_spelled_alike_and_a_table_model_is_told_what_the_figure_needs(run, cells):
    """Three commands spelled the image shape three ways, and latent-grid of a table's model said "give the
    image shape (e.g. 28x28)" without naming the option (first-user QA 4)."""
    from aedr.cli.options import IMAGE_SHAPE

    for command in (["plot", "latent-grid"], ["plot", "reconstructions"], ["explore"]):
        text = " ".join(runner.invoke(app, [*command, "--help"], env={"COLUMNS": "300"}).output.split())
        assert " ".join(IMAGE_SHAPE.split()) in text.replace("│", "").replace("  ", " "), command
    for command in (["plot", "latent-grid", run], ["plot", "reconstructions", run, cells]):
        result = aedr(*command, "-o", run.parent / "f.png", ok=False)
        assert_one_line_error(result, "draws the model's rows as images: rows of 6 values", "--image-shape")


def test_a_file_of_another_width_is_named_as_such_before_its_text_columns(tmp_path):
    """A model fitted without column names, given a table of another width that also holds text, says
    the width is wrong (dropping or encoding the text would not make it fit); at the model's width the
    text column is the problem named."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "rows.npy", rng.normal(size=(60, 6)))
    aedr("fit", tmp_path / "rows.npy", "-o", tmp_path / "run", *FAST)
    for width, fragment in (
        (3, "has 4 feature columns ('kind' not numeric) but the model expects 6"),
        (6, "not numeric"),
    ):
        frame = pd.DataFrame(rng.normal(size=(10, width)), columns=[f"f{i}" for i in range(width)]).assign(kind="a")
        frame.to_csv(tmp_path / "new.csv", index=False)
        for command in ("transform", "evaluate"):
            result = aedr(command, tmp_path / "run", tmp_path / "new.csv", ok=False)
            assert_one_line_error(result, fragment)
            assert ("--exclude kind" in result.stderr) == (width == 6)


def test_the_figures_of_a_model_read_a_table_with_the_delimiter_given(tmp_path):
    """plot reconstructions and latent-grid had no --delimiter, which transform and evaluate take."""
    frame = pd.DataFrame(np.random.default_rng(0).random((60, 4)), columns=list("abcd"))
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    aedr("fit", tmp_path / "semi.csv", "-o", tmp_path / "run", *FAST)
    for figure in ("reconstructions", "latent-grid"):
        out = tmp_path / f"{figure}.png"
        args = ["plot", figure, tmp_path / "run", tmp_path / "semi.csv", "--delimiter", "semicolon"]
        aedr(*args, "--image-shape", "2x2", "-o", out)
        assert out.stat().st_size > 0


def test_the_conv_network_on_a_table_says_it_reads_rows_as_images(tmp_path):
    """--architecture conv took a table of 4 columns for 2x2 images without a word, and named only
    --input-shape for a table of 5: both now name --architecture mlp."""
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd")).to_csv(tmp_path / "four.csv", index=False)
    result = aedr("fit", tmp_path / "four.csv", "--architecture", "conv", "-o", tmp_path / "run", *FAST)
    assert "reads each row of 4 values as a 2x2 image" in result.stderr and "--architecture mlp" in result.stderr
    pd.DataFrame(rng.normal(size=(60, 5)), columns=list("abcde")).to_csv(tmp_path / "five.csv", index=False)
    refused = aedr("fit", tmp_path / "five.csv", "--architecture", "conv", "-o", tmp_path / "r5", *FAST, ok=False)
    assert_one_line_error(refused, "not a square", "--input-shape", "--architecture 'mlp'", code=1)


def test_a_second_signal_says_which_epoch_the_checkpoint_holds(tmp_path):
    """After a second Ctrl-C the line said the checkpoint stays, not from which epoch --resume goes on
    (the first signal's line names it)."""
    from aedr.cli.fit import _what_stays

    X = np.random.default_rng(0).normal(size=(60, 4))
    Autoencoder(
        hidden_layer_sizes=(4,), max_iter=3, callbacks=[Checkpoint(tmp_path / "run.checkpoint", every_epochs=2)]
    ).fit(X)
    assert _what_stays(KeyboardInterrupt(), tmp_path / "run.checkpoint").endswith("--resume goes on after epoch 2)")
    (tmp_path / "run.checkpoint").write_bytes(b"not a checkpoint")  # unreadable: said without an epoch
    assert _what_stays(KeyboardInterrupt(), tmp_path / "run.checkpoint").endswith("--resume goes on)")


def test_latent_grid_of_a_plain_autoencoder_spans_its_runs_codes_or_says_it_does_not(tmp_path):
    """Without DATA the grid of a plain autoencoder spanned [-3, 3] without a word, however far its
    codes lie from there: its run's codes set the range now, and a model folder alone is told why not."""
    images = tmp_path / "digits.npy"
    np.save(images, load_digits().images[:300])
    aedr("fit", images, "-o", tmp_path / "run", "--max-iter", "2", "--hidden-layer-sizes", "8", "--quiet")
    spanned = aedr("plot", "latent-grid", tmp_path / "run", "-o", tmp_path / "g.png")
    assert "note: the grid spans the codes its run wrote" in spanned.stderr and (tmp_path / "g.png").is_file()
    typed = aedr("plot", "latent-grid", tmp_path / "run", "--extent", "7", "-o", tmp_path / "e.png")
    assert "note: the grid spans [-7, 7]" in typed.stderr  # --extent typed: the run's codes no longer win
    both = aedr("plot", "latent-grid", tmp_path / "run", images, "--extent", "7", "-o", tmp_path / "f.png", ok=False)
    assert_one_line_error(both, "DATA spans the grid over its codes and --extent over [-extent, extent]", code=2)
    shutil.copytree(tmp_path / "run" / "model", tmp_path / "alone")
    alone = aedr("plot", "latent-grid", tmp_path / "alone", "-o", tmp_path / "h.png")
    assert "note: the grid spans the fitted rows' codes (--extent for [-extent, extent])" in alone.stderr
    config = json.loads((tmp_path / "alone" / "config.json").read_text())
    del config["fitted"]["code_range_"]  # a model saved before aedr kept where its codes lie
    (tmp_path / "alone" / "config.json").write_text(json.dumps(config))
    older = aedr("plot", "latent-grid", tmp_path / "alone", "-o", tmp_path / "o.png")
    assert "note: the grid spans [-3, 3]; give DATA to span where this autoencoder's codes lie" in older.stderr
    for given, words in [  # reading options without DATA changed nothing, without a word (fix_gc's pass)
        (["--columns", "a,b"], "--columns reads DATA, which was not given: give DATA or leave it out"),
        (["--delimiter", ";", "--no-header"], "--header, --delimiter read DATA, which was not given"),
    ]:
        refused = aedr("plot", "latent-grid", tmp_path / "alone", *given, "-o", tmp_path / "i.png", ok=False)
        assert_one_line_error(refused, "DATA", words, code=2)
        assert not (tmp_path / "i.png").exists()


def test_latent_grid_of_a_3d_code_says_where_it_holds_the_third_axis(tmp_path):
    """The axes beyond the first two were held at 0 without a word: at the codes' median when the grid
    spans codes, else at 0, and the note says which."""
    images = tmp_path / "digits.npy"
    np.save(images, load_digits().images[:300])
    aedr("fit", images, "-o", tmp_path / "run", "-k", "3", *FAST)
    spanned = aedr("plot", "latent-grid", tmp_path / "run", "-o", tmp_path / "g.png")
    assert "note: the grid spans the codes its run wrote; autoencoder2 held at the codes' median" in spanned.stderr
    shutil.copytree(tmp_path / "run" / "model", tmp_path / "alone")
    alone = aedr("plot", "latent-grid", tmp_path / "alone", "-o", tmp_path / "h.png")
    assert (
        "note: the grid spans the fitted rows' codes (--extent for [-extent, extent]); autoencoder2 held at the "
        "middle of the fitted rows' codes" in alone.stderr
    )
    given = aedr("plot", "latent-grid", tmp_path / "alone", "--extent", "3", "-o", tmp_path / "i.png")
    assert "note: the grid spans [-3, 3]; autoencoder2 held at 0" in given.stderr and "give DATA" not in given.stderr


@pytest.mark.parametrize(
    "extent, words",
    [
        ("inf", "a finite number, got inf"),
        ("nan", "a finite number, got nan"),
        ("1e308", "from 0.1 to 3.4e38 (codes are float32 numbers), got 1e+308"),
    ],
)
def test_latent_grid_refuses_an_extent_that_is_not_a_finite_float32(run, tmp_path, extent, words):
    """--extent inf, nan or 1e308 drew a grid of NaN codes and failed with "X contains NaN ...; remove or
    impute them (e.g. sklearn.impute.SimpleImputer) first", about no input the user gave."""
    result = aedr("plot", "latent-grid", run / "model", "--extent", extent, "-o", tmp_path / "g.png", ok=False)
    assert_one_line_error(result, "--extent", words, code=2)
    assert not (tmp_path / "g.png").exists()


def test_a_command_but_fit_under_torchrun_runs_as_one_process(monkeypatch):
    """Rank 1 of a torchrun launch ends; rank 0 runs as one process, so that a fit inside it (demo,
    benchmark) does not wait for a rank that ended. Variables left from another job (no torchrun) end
    no process."""
    import os

    import typer

    from aedr.cli.app import _one_process_under_torchrun

    for key, value in {"WORLD_SIZE": "2", "RANK": "1", "TORCHELASTIC_RUN_ID": "x"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(typer.Exit):
        _one_process_under_torchrun("demo")
    monkeypatch.setenv("RANK", "0")
    _one_process_under_torchrun("demo")
    assert os.environ["WORLD_SIZE"] == "1" and os.environ["RANK"] == "0"
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    _one_process_under_torchrun("transform")  # another job's variables: this process runs, alone
    assert os.environ["WORLD_SIZE"] == "1"
    monkeypatch.setenv("WORLD_SIZE", "2")
    _one_process_under_torchrun("fit")  # fit joins its group itself
    assert os.environ["WORLD_SIZE"] == "2"


def test_a_file_the_user_may_not_read_is_a_file_error_not_a_usage_error(cells, tmp_path, monkeypatch):
    """click checks that a path given exists and is readable; unreadable was its usage error (exit 2, "Invalid
    value for 'DATA'"), where a missing file is aedr's file error (exit 1). (Tests run as root, whom chmod does
    not stop: os.access says what a user without the permission would meet.)"""
    locked = tmp_path / "locked.csv"
    locked.write_bytes(cells.read_bytes())
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, *a, **kw: Path(path) != locked and real(path, mode, *a, **kw))
    for command in (["fit", locked, "-o", tmp_path / "r"], ["convert", locked, tmp_path / "x.parquet"]):
        assert_one_line_error(aedr(*command, ok=False), f"{locked}: permission denied")


def test_fit_of_standard_input_and_convert_of_a_folder_say_what_they_are(cells, tmp_path):
    assert_one_line_error(aedr("fit", "-", "-o", tmp_path / "r", ok=False), "aedr fit reads a file, not standard input")
    (tmp_path / "d.csv").mkdir()
    assert_one_line_error(aedr("convert", tmp_path / "d.csv", tmp_path / "x.parquet", ok=False), "d.csv: not a file")


def test_an_output_folder_that_holds_the_input_is_named_a_folder(cells, tmp_path):
    """ "would replace the input" was said of a folder given as the output of a file, where nothing is replaced."""
    aedr("fit", cells, "--label-col", "cell_type", "-o", tmp_path / "run", *FAST)
    (tmp_path / "o").mkdir()
    shutil.copy(cells, tmp_path / "o" / "in.csv")
    result = aedr("transform", tmp_path / "run", tmp_path / "o" / "in.csv", "-o", tmp_path / "o", ok=False)
    assert_one_line_error(result, "o is a folder; give the name of a file to write")


def test_messages_name_what_the_user_gave(run, cells, tmp_path):
    """Four messages of the s56 QA pass that named the wrong thing: a folder without a suffix was an "unknown
    file type"; a text cell among codes was told to be one-hot encoded; --memory-budget nan was "negative"; a
    bad value in config.json was named as an option (--activation) the user never gave."""
    (tmp_path / "adir").mkdir()
    assert_one_line_error(aedr("transform", run, tmp_path / "adir", ok=False), "adir: is a folder, not a file of rows")
    codes = pd.read_csv(run / "embedding.csv").iloc[:3, :2].astype(object)
    codes.iloc[1, 0] = "x"
    codes.to_csv(tmp_path / "codes.csv", index=False)
    result = aedr("inverse-transform", run, tmp_path / "codes.csv", ok=False)
    assert_one_line_error(result, "1 code column is not numeric: 'autoencoder0'", "write the codes as numbers")
    assert "--one-hot" not in result.stderr
    result = aedr("fit", cells, "--memory-budget", "nan", "-o", tmp_path / "r", ok=False)
    assert_one_line_error(result, "'nan' is not a size: write bytes or a number", code=2)
    shutil.copytree(run / "model", tmp_path / "model")
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    config["params"]["activation"] = "bogus"
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    result = aedr("info", tmp_path / "model", ok=False)
    assert_one_line_error(result, "config.json: invalid 'params' for Autoencoder: 'params.activation' must be one of")
    assert "--activation" not in result.stderr


def test_a_sigterm_under_torchrun_does_not_say_another_process_failed(monkeypatch):
    """torchrun forwards a scheduler's SIGTERM to every rank as it does when a rank fails: 'as torchrun stops
    its group when another process fails: its error is above' was said where nothing had failed (s56 QA)."""
    from aedr.cli.errors import Terminated, stop_words

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    monkeypatch.setenv("WORLD_SIZE", "2")
    how, code = stop_words(Terminated())
    assert code == 143 and how.startswith("terminated (SIGTERM from torchrun, which stops its group on a signal")
    assert "its summary says which" in how and "its error is above" not in how


def test_another_processs_failure_is_not_written_as_torchruns_root_cause(monkeypatch, tmp_path, capsys):
    """Each rank's error goes into the file torchrun reads for its summary's root cause, the earliest one: a
    survivor's 'another process ... failed or left' could come first and name the survivor, pointing back to the
    summary, instead of the rank that was killed (s56 QA). That consequence is printed, not written there."""
    from aedr.cli.errors import LEFT_GROUP, _report

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / "error.json"))
    _report(f"error: {LEFT_GROUP}")
    assert not (tmp_path / "error.json").exists() and LEFT_GROUP in capsys.readouterr().err
    _report("error: x.npy: no such file")
    assert "x.npy: no such file" in json.loads((tmp_path / "error.json").read_text())["message"]["message"]


def test_info_of_a_linear_autoencoder_lists_no_activation_it_does_not_apply(tmp_path):
    """The classic linear autoencoder (no hidden layer) was described with activation=relu, which no layer of
    it applies."""
    Autoencoder(hidden_layer_sizes=(), max_iter=2, random_state=0).fit(
        np.random.default_rng(0).normal(size=(40, 5))
    ).save(tmp_path / "linear")
    line = aedr("info", tmp_path / "linear").stdout.splitlines()[1]
    assert line.startswith("architecture   mlp:") and "hidden_layer_sizes=()" in line and "activation=relu" not in line
