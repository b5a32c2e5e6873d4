"""``aedr info``: what a saved model is and how it was fitted."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aedr.cli.common import STOP_REASONS, load_model
from aedr.cli.model import ModelDir
from aedr.cli.options import Verbose


def info(
    model: ModelDir,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print config.json without the per-feature arrays (scaler, means, medians).")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Describe a saved model: architecture, parameters, data, training, versions.

    \b
    Example:
      aedr info run1/model
    """
    from aedr.persistence import CONFIG_FILE, WEIGHTS_FILE, model_folder

    model = model_folder(model)
    estimator = load_model(model)  # validates both files
    config = json.loads((model / CONFIG_FILE).read_text(encoding="utf-8"))
    config.pop("scaler")
    for key in ("feature_mean_", "feature_median_"):  # one number per feature, as the scaler's arrays
        config["fitted"].pop(key, None)
    if as_json:
        typer.echo(json.dumps(config, indent=2))
        return
    for line in _describe(estimator, config, (model / WEIGHTS_FILE).stat().st_size):
        typer.echo(line)


def _describe(estimator, config: dict, weights_bytes: int) -> list[str]:
    from aedr._fit_setup import fitted_scaling
    from aedr._words import plural

    fitted, arch = config["fitted"], config["architecture"]
    n_weights = sum(p.numel() for p in estimator.model_.parameters())
    names = fitted.get("feature_names_in_")
    # a name that holds a line break, a comma or a quote is quoted (repr), so the list stays one line and readable
    plain = [n if n.isprintable() and "," not in n and "'" not in n else repr(n) for n in (names or [])[:6]]
    shown = "unnamed" if names is None else ", ".join(plain) + (", ..." if len(names) > 6 else "")
    defaults = type(estimator)().get_params()
    changed = {k: v for k, v in estimator.get_params().items() if k in config["params"] and v != defaults.get(k)}
    curve = fitted.get("loss_curve_") or []
    lines = [
        f"{config['estimator']} (model format {config['format_version']})",
        f"architecture   {arch['name']}: "
        + ", ".join(f"{k}={_short(v)}" for k, v in _shown_architecture(arch).items()),
        f"weights        {n_weights:,} numbers, {weights_bytes / 1e6:.2f} MB",
        f"input          {fitted['n_features_in_']} features ({shown})",
        "parameters     " + (", ".join(f"{k}={_short(v)}" for k, v in changed.items()) or "all defaults"),
    ]
    columns = config.get("columns", {})  # what transform keeps beside the codes when a new file has them
    label, ids = columns.get("label"), columns.get("ids") or []
    beside = ([f"label {label!r}"] if label is not None else []) + (
        [f"row IDs {', '.join(map(repr, ids))}"] if ids else []
    )
    if beside:
        lines.append(f"beside codes   {'; '.join(beside)}")
    reading = config.get("reading") or {}  # how the fit read its rows, which the model's commands repeat
    read = [f"layer {reading['layer']!r}"] if reading.get("layer") else []
    read += ["raw counts normalised (10,000 per cell, then log1p)"] if reading.get("normalize") else []
    read += [f"empty cells filled with the training rows' {reading['missing']}"] if reading.get("missing") else []
    if read:
        lines.append(f"rows read      {'; '.join(read)} (transform and evaluate read new rows alike)")
    if curve:
        best = min(range(len(curve)), key=curve.__getitem__)
        ranks = fitted.get("world_size_") or 1
        how = "".join(
            [
                f" on {ranks} processes (torchrun)" if ranks > 1 else "",
                f", seed {fitted['random_state_']}" if fitted.get("random_state_") is not None else "",
            ]
        )
        phases = " in a neighbour fit's two phases" if config["params"].get("neighbor_loss") else ""
        lines.append(
            f"training       {plural(fitted.get('n_iter_') or 0, 'epoch')}{phases}{how}, loss {curve[0]:.4g} -> "
            f"{curve[-1]:.4g} (lowest {curve[best]:.4g} at epoch {best + 1})"
        )
    if fitted.get("stop_reason_") is not None:  # files from before aedr recorded it lack these
        rate = fitted.get("learning_rate_")
        lines.append(
            f"stopped        {STOP_REASONS.get(fitted['stop_reason_'], fitted['stop_reason_'])}; "
            f"batch size {fitted.get('batch_size_', 'not recorded')}, learning rate "
            + (f"{rate:g}" if isinstance(rate, (int, float)) else "not recorded")
        )
    lines.append(
        f"settings       scaling {fitted_scaling(estimator) or 'none'}, precision {estimator.precision}, "
        f"{estimator.optimizer} optimiser; loaded on {estimator.device_}"
    )
    if fitted.get("validation_scores_"):
        val = fitted["validation_scores_"]
        lines.append(f"validation     best {min(val):.4g}, last {val[-1]:.4g}")
    versions = config.get("versions")  # what wrote the file: nothing loading relies on
    if isinstance(versions, dict) and versions:
        lines.append("versions       " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    else:
        lines.append("versions       not recorded")
    return lines


def _short(value) -> str:
    """A parameter's value as Python writes it, tuples without spaces: ``(256,128)``, ``(16,)``, ``()``."""
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(str(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def _shown_architecture(arch: dict) -> dict:
    """The network's settings as its file keeps them, less the activation of a linear network (no hidden
    layer applies it), and a conv network's channels, which it derives from the image size when not given
    (the file holds none)."""
    settings = dict(arch["config"])
    if arch["name"] == "mlp" and not settings.get("hidden_layer_sizes"):
        settings.pop("activation", None)
    if arch["name"] == "conv" and settings.get("channels") is None and len(settings.get("input_shape") or ()) == 3:
        from aedr.models.conv import default_channels

        _, height, width = settings["input_shape"]
        settings["channels"] = default_channels(int(height), int(width))
    return settings
