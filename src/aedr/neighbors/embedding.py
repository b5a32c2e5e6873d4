"""The mini-batch neighbour map: one free code per row, optimised on a neighbour loss by Adam.

The map of a neighbour-preserving fit for ``"umap"``, and for ``"tsne"`` above two dimensions
(in one or two, t-SNE's own full-gradient optimisation runs instead,
:mod:`aedr.neighbors.interpolation`), the way t-SNE and UMAP themselves work: every training
row's code is a free parameter, moved by the method's loss against a bank that is the table
itself (:mod:`aedr.neighbors.losses`).

Optimiser: Adam on the table, each code moving about ``LEARNING_RATE`` per step, from the rows'
first principal components scaled to a standard deviation of ``INIT_STD``; the rate falls
linearly to zero over the last ``DECAY_FRACTION`` of the epochs, which settles the fine
structure. For t-SNE an early phase comes first, ``EARLY_FRACTION`` as many epochs at
``early_exaggeration`` times the attraction, at a constant rate. Measurements behind these
settings: ``docs/design.md``.
"""

from __future__ import annotations

import torch

from aedr.neighbors.losses import CodeBank, GraphEdges
from aedr.training.callbacks import ProgressBar
from aedr.training.trainer import Trainer, TrainerConfig

LEARNING_RATE = 0.3
INIT_STD = 5.0
DECAY_FRACTION = 0.3
EARLY_FRACTION = 0.25  # t-SNE's early exaggeration phase, against the main phase's epochs (openTSNE: 250 / 500)
EXACT_PCA_FEATURES = 4096
_POWER_ITERATIONS = 6


def pca_codes(
    X: torch.Tensor, n_components: int, std: float = INIT_STD, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The rows' first ``n_components`` principal component scores, scaled so the first has standard deviation ``std``.

    Exact (an eigendecomposition of the covariance) up to ``EXACT_PCA_FEATURES`` columns; for wider
    data, randomized subspace iteration (Halko et al. 2011) with ``generator``'s draws: a start needs
    the leading directions, not all digits of them, and the covariance of 20,000 genes would take 1.6 GB.
    """
    Xc = X - X.mean(0)
    if X.shape[1] <= EXACT_PCA_FEATURES:
        _, vectors = torch.linalg.eigh(Xc.T @ Xc)  # ascending eigenvalues
        vectors = vectors[:, -n_components:].flip(1)
    else:
        device = generator.device if generator is not None else Xc.device
        basis = torch.randn(X.shape[1], n_components + 10, generator=generator, device=device).to(Xc)
        for _ in range(_POWER_ITERATIONS):
            basis = torch.linalg.qr(Xc.T @ (Xc @ basis)).Q
        _, _, vt = torch.linalg.svd(Xc @ basis, full_matrices=False)
        vectors = basis @ vt[:n_components].T
    scores = Xc @ vectors
    largest = scores.gather(0, scores.abs().argmax(0, keepdim=True))
    scores = scores * torch.where(largest < 0, -1.0, 1.0)  # signs as scikit-learn's svd_flip: not up to the solver
    return scores * (std / scores[:, 0].std().clamp_min(1e-12))


def embedding_batch(n_rows: int) -> int:
    """Rows per step of the mini-batch embedding: ``n_rows // 20`` between 64 and 256 (at most
    ``n_rows``), enough to estimate t-SNE's normalisation and UMAP's repulsion well."""
    return min(256, max(64, n_rows // 20), n_rows)


class CodeTable(torch.nn.Module):
    """One free code per row: the "model" the trainer optimises for a mini-batch map."""

    def __init__(self, init: torch.Tensor):
        super().__init__()
        self.codes = torch.nn.Parameter(init.detach().clone())


class EmbeddingObjective:
    """``loss`` on a batch of the table's codes, against a bank that is the whole table."""

    def __init__(self, graph: GraphEdges, loss, generator: torch.Generator):
        self.graph, self.loss = graph, loss
        self.bank = CodeBank(graph.n_rows, generator, loss.repulsion_rows)

    def __call__(self, table: CodeTable, x, index: torch.Tensor):
        self.bank.codes = table.codes.detach()
        return self.loss(table.codes[index], index, self.graph, self.bank), {}


def embed(
    graph: GraphEdges,
    loss,
    init: torch.Tensor,
    *,
    n_epochs: int,
    batch_size: int,
    generator: torch.Generator,
    learning_rate: float = LEARNING_RATE,
    decay_fraction: float = DECAY_FRACTION,
    progress: bool = False,
    desc: str = "neighbour embedding",
) -> torch.Tensor:
    """Minimise ``loss`` over a free code per row, starting from ``init`` (n, K); returns the codes.

    The project's :class:`~aedr.training.trainer.Trainer` runs it: each epoch
    visits the rows once in random batches of ``batch_size`` (order drawn
    from ``generator``), Adam at ``learning_rate`` falling to zero over the
    last ``decay_fraction`` of ``n_epochs``, no plateau stop, the last epoch's codes kept; a batch's codes
    are attracted along their graph edges and repelled from the table's
    other codes, as ``loss(z, index, graph, bank)`` defines.
    """
    table = CodeTable(init)
    config = TrainerConfig(
        optimizer="adam",
        learning_rate_init=learning_rate,
        batch_size=batch_size,
        max_iter=n_epochs,
        n_iter_no_change=n_epochs + 1,  # the falling rate ends it, not a plateau
        decay_fraction=decay_fraction,
        restore_best=False,  # an epoch's mean loss is taken while the map still moves: keep where it settled
    )
    callbacks = [ProgressBar(desc=desc)] if progress else []
    rows = torch.arange(len(init), device=init.device)  # the objective reads the table, not these
    trainer = Trainer(table, EmbeddingObjective(graph, loss, generator), config, init.device, generator, callbacks)
    trainer.distributed = False  # the map is built on rank 0 alone and sent to the others
    trainer.fit(rows)
    return table.codes.detach()
