"""Figures: embedding scatter and loss curves (matplotlib, Agg, imported lazily)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_embedding(Z, labels=None, *, title: str | None = None, ax=None, s: float | None = None):
    """Scatter the first two columns of ``Z``, coloured by ``labels``.

    Few distinct labels (<= 20) get a categorical palette and a legend; many
    numeric labels a colour bar. Returns the matplotlib Figure.
    """
    plt = _pyplot()
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] < 1:
        raise ValueError(f"embedding must be 2-D with at least one column, got shape {Z.shape}")
    if Z.shape[1] == 1:
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 6))
    ax = ax if ax is not None else fig.add_subplot()
    size = s if s is not None else max(1.0, min(20.0, 20000 / max(len(Z), 1)))
    if labels is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=size, lw=0, alpha=0.8)
    else:
        labels = np.asarray(labels)
        classes = np.unique(labels)
        if len(classes) <= 20 or labels.dtype.kind not in "iuf":
            cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
            for i, cls in enumerate(classes):
                mask = labels == cls
                ax.scatter(Z[mask, 0], Z[mask, 1], s=size, lw=0, alpha=0.8, color=cmap(i % cmap.N), label=str(cls))
            ax.legend(markerscale=max(1.0, 6 / size), fontsize="small", loc="best", frameon=False)
        else:
            points = ax.scatter(Z[:, 0], Z[:, 1], s=size, lw=0, alpha=0.8, c=labels, cmap="viridis")
            fig.colorbar(points, ax=ax)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def plot_loss_curves(loss_curve, validation_scores=None, *, title: str = "Training loss", ax=None):
    """Training (and validation) loss per epoch on a log scale. Returns the Figure."""
    plt = _pyplot()
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
    ax = ax if ax is not None else fig.add_subplot()
    epochs = np.arange(1, len(loss_curve) + 1)
    ax.plot(epochs, loss_curve, label="training")
    if validation_scores is not None and len(validation_scores):
        ax.plot(epochs, validation_scores, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def save_figure(fig, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` and close it."""
    plt = _pyplot()
    path = Path(path)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
