"""Training objectives: reconstruction plus the optional regularisers.

An objective is a callable ``objective(model, x, index) -> (loss, terms)``:
``x`` is a batch of scaled rows (B, D), ``index`` their row numbers in the
training set (for objectives that look up per-row data), ``loss`` the scalar
to minimise and ``terms`` a dict of named parts for the loss curves.
Corruption (denoising) and posterior sampling happen only while
``model.training``; validation sees clean inputs and the posterior mean.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aedr.models.variational import gaussian_kl

LOSSES = ("mse", "bce")
NOISES = ("gaussian", "masking")


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise of standard deviation ``level`` (in scaled units), or
    masking noise that zeroes each value with probability ``level``."""
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= level
    return x * keep


def jacobian_norm(encode, x: torch.Tensor) -> torch.Tensor:
    """Mean over rows of the squared Frobenius norm of d encode(x) / dx.

    Exact: one backward pass per code unit (K is small), kept in the graph so
    the penalty itself is differentiable. Rows must not interact in ``encode``.
    """
    x = x.detach().requires_grad_(True)
    z = encode(x)  # (B, K)
    total = x.new_zeros(len(x))
    for k in range(z.shape[1]):
        (grad,) = torch.autograd.grad(z[:, k].sum(), x, create_graph=True)
        total = total + grad.pow(2).sum(dim=1)
    return total.mean()


class AutoencoderObjective:
    """Reconstruction loss with the optional regularisers of the autoencoder family.

    Parameters
    ----------
    loss : {"mse", "bce"}
        Mean squared error, or binary cross-entropy from the decoder's logits
        (``binary_cross_entropy_with_logits``: finite where a sigmoid saturates).
    noise, noise_level : denoising corruption of the *inputs* (targets stay clean).
    sparsity : weight of the mean absolute code value (L1 activity penalty).
    contractive : weight of the encoder's squared Jacobian norm.
    beta : weight of the KL term for variational models (None: not variational).
        Reconstruction and KL are both per input value (KL / n_features), so
        ``beta=1`` is the ELBO of a Bernoulli (BCE) or variance-1/2 Gaussian (MSE) decoder.
    generator : torch.Generator on the training device, for noise and sampling.
    """

    def __init__(
        self, loss="mse", *, noise=None, noise_level=0.0, sparsity=0.0, contractive=0.0, beta=None, generator=None
    ):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        self.loss, self.noise, self.noise_level = loss, noise, noise_level
        self.sparsity, self.contractive, self.beta = sparsity, contractive, beta
        self.generator = generator

    def reconstruction(self, logits: torch.Tensor, target: torch.Tensor, model: nn.Module) -> torch.Tensor:
        if self.loss == "bce":
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(model.output_activation(logits), target)

    def __call__(self, model: nn.Module, x: torch.Tensor, index: torch.Tensor | None = None):
        total, terms, _ = self.forward(model, x)
        return total, terms

    def forward(
        self,
        model: nn.Module,
        x: torch.Tensor,
        x_in: torch.Tensor | None = None,
        *,
        reconstruct=True,
        decoded: torch.Tensor | None = None,
    ):
        """``(loss, terms, z)``: the objective and the codes it was computed from; ``x_in``, when
        given, is what the encoder sees instead of ``x`` (the reconstruction target stays ``x``).
        With ``reconstruct=False`` the decoder is not run: the loss holds the code's terms alone.
        ``decoded`` (indices into the batch) runs the decoder on those rows alone: the
        reconstruction term is their mean, an unbiased estimate of the batch's."""
        x_in = x if x_in is None else x_in
        if self.noise and model.training:
            x_in = corrupt(x_in, self.noise, self.noise_level, self.generator)
        terms: dict[str, torch.Tensor] = {}
        if self.beta is not None:
            mean, logvar = model.encode_distribution(x_in)  # (B, K) each
            z = mean
            if model.training:
                eps = torch.randn(mean.shape, generator=self.generator, device=mean.device, dtype=mean.dtype)
                z = mean + (0.5 * logvar).exp() * eps
            terms["kl"] = gaussian_kl(mean, logvar).mean() / x.shape[1]
        else:
            z = model.encode(x_in)  # (B, K)
        total = self.beta * terms["kl"] if self.beta is not None else z.new_zeros(())
        if reconstruct:
            z_out, target = (z, x) if decoded is None else (z[decoded], x[decoded])
            terms[self.loss] = self.reconstruction(model.decode_logits(z_out), target, model)
            total = terms[self.loss] + total
        if self.sparsity:
            terms["sparsity"] = z.abs().mean()
            total = total + self.sparsity * terms["sparsity"]
        if self.contractive and model.training:
            terms["contractive"] = jacobian_norm(model.encode, x_in)
            total = total + self.contractive * terms["contractive"]
        return total, terms, z


class NeighborObjective:
    """The autoencoder's objective plus ``weight`` times each batch row's distance from its place in the neighbour map.

    ``targets`` (n, K) are the training rows' codes in the neighbour map
    (:mod:`aedr.neighbors`), rescaled here to unit standard deviation. The distance is squared
    and counted in units of the map's mean spacing, ``n ** (-1 / K)``: n codes spread with unit
    standard deviation over K dimensions lie about that far apart, so at ``weight=1`` a code one
    neighbour off its place costs as much as the whole reconstruction loss. With ``robust_scale``
    the squared distance ``d^2`` becomes ``s^2 log(1 + d^2 / s^2)`` (``s`` in the map's standard
    deviations): the same near a code's place, but a row whose place lies far from where its
    input draws it pulls with a bounded force, so the encoder does not bend to it. With
    ``input_dropout`` each input value the encoder sees is zeroed with that probability while
    training (the rest scaled by ``1 / (1 - input_dropout)``; the reconstruction target stays
    clean), which keeps the encoder smooth between the training rows. ``decode_share`` is the share
    of each training batch's rows the decoder runs on, drawn with ``generator`` (the reconstruction
    term their mean, the decoder's work that much smaller); at 0 the decoder does not run on
    training batches and the encoder trains on the map alone. Validation batches
    (``index`` None) and evaluation mode see only the reconstruction objective: held-out rows
    have no place in the map. With ``code_layer`` (the model's
    :class:`~aedr.models.anchored.AnchoredCode`) the cross-entropy of its anchor logits against
    each row's anchor, ``anchor_of`` (n,) (default: the anchor nearest its place), is added with the
    same ``weight``: the row's code is drawn to one anchor of its part of the map, not between parts.
    With ``nearby_scale`` (n,) each training batch also brings ``nearby_draws`` rows drawn near each of
    its rows (of a ``nearby_share`` of them, drawn each step), with Gaussian noise of the row's scale per
    value (:mod:`aedr.neighbors.nearby`), pulled to the row's place (and tied to its anchor) alike, each
    weighted as a batch row: the encoder learns where the rows around a training row land, as new rows lie.
    """

    def __init__(
        self,
        base: AutoencoderObjective,
        targets: torch.Tensor,
        weight: float,
        *,
        robust_scale=None,
        input_dropout=0.0,
        generator=None,
        code_layer=None,
        anchor_of=None,
        decode_share=1.0,
        nearby_scale=None,
        nearby_share=1.0,
        nearby_draws=1,
    ):
        n, k = targets.shape
        self.base, self.weight = base, weight
        self.targets = targets / targets.std().clamp_min(1e-12)
        self.unit = float(n) ** (2.0 / k)  # 1 / squared mean spacing
        self.robust_scale, self.input_dropout, self.generator = robust_scale, input_dropout, generator
        self.code_layer, self.decode_share = code_layer, decode_share
        self.nearby_scale, self.nearby_share, self.nearby_draws = nearby_scale, nearby_share, nearby_draws
        if code_layer is not None and anchor_of is None:
            anchor_of = code_layer.nearest(self.targets)
        self.anchor_of = anchor_of

    def __call__(self, model: nn.Module, x: torch.Tensor, index: torch.Tensor | None = None):
        if index is None or not model.training:
            return self.base(model, x)
        x_in = self._dropped(x) if self.input_dropout else None
        decoded = self._some_rows(len(x), self.decode_share, x.device) if 0 < self.decode_share < 1 else None
        total, terms, z = self.base.forward(model, x, x_in, reconstruct=self.decode_share > 0, decoded=decoded)
        terms["neighbor"] = self._pull(z, self.targets[index])
        total = total + self.weight * terms["neighbor"]
        if self.code_layer is not None:
            terms["anchor"] = F.cross_entropy(self.code_layer.logits.float(), self.anchor_of[index])
            total = total + self.weight * terms["anchor"]
        if self.nearby_scale is not None:  # each drawn row weighs what a batch row does: share x draws x their mean
            total = total + self.weight * self.nearby_share * self.nearby_draws * self._nearby(model, x, index, terms)
        return total, terms

    def _dropped(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with a share ``input_dropout`` of its values dropped (inverted dropout: the rest scaled up)."""
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.input_dropout
        return x * keep / (1.0 - self.input_dropout)

    def _some_rows(self, n: int, share: float, device) -> torch.Tensor:
        """Indices of a ``share`` of a batch's ``n`` rows, two at least (batch norm), drawn at random."""
        count = min(n, max(2, math.ceil(share * n)))
        return torch.randperm(n, generator=self.generator, device=device)[:count]

    def _pull(self, z: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
        """The mean pull of codes ``z`` to ``places``, in units of the map's spacing (robust if so set)."""
        d2 = (z - places).pow(2).sum(1)  # (B,)
        if self.robust_scale:
            s2 = self.robust_scale**2
            d2 = s2 * torch.log1p(d2 / s2)
        return d2.mean() * self.unit

    def _nearby(self, model: nn.Module, x: torch.Tensor, index: torch.Tensor, terms: dict) -> torch.Tensor:
        """``nearby_draws`` rows drawn near each of the batch's rows ``x`` (:func:`aedr.neighbors.nearby.draw_nearby`),
        pulled to that row's place (and tied to its anchor): their mean terms, summed."""
        from aedr.neighbors.nearby import draw_nearby

        if self.nearby_share < 1:  # a share of the batch's rows, drawn anew each step
            keep = self._some_rows(len(x), self.nearby_share, x.device)
            x, index = x[keep], index[keep]
        if self.nearby_draws > 1:  # one encoder pass for them all
            x, index = x.repeat(self.nearby_draws, *(1,) * (x.dim() - 1)), index.repeat(self.nearby_draws)
        rows = draw_nearby(x, self.nearby_scale[index], self.generator)
        if self.input_dropout:
            rows = self._dropped(rows)
        terms["nearby"] = self._pull(model.encode(rows), self.targets[index])
        if self.code_layer is None:
            return terms["nearby"]
        terms["nearby_anchor"] = F.cross_entropy(self.code_layer.logits.float(), self.anchor_of[index])
        return terms["nearby"] + terms["nearby_anchor"]
