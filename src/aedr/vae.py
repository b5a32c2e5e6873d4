"""The variational autoencoder estimator: aedr's trainer, scaling and API around a VAE."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from aedr._inference import check_decoded_fits
from aedr._validation import check_whole
from aedr.estimator import Autoencoder
from aedr.models import build_model
from aedr.params import BETA
from aedr.training.losses import AutoencoderObjective


class VariationalAutoencoder(Autoencoder):
    """Variational autoencoder (Kingma & Welling, 2014) with aedr's trainer, scaling and API.

    The encoder outputs the mean and log-variance of a diagonal Gaussian
    posterior q(z | x); training samples a code from it and minimises
    reconstruction + ``beta`` * KL(q(z | x) || N(0, I)), both per input value.
    ``transform`` returns the posterior mean, ``inverse_transform`` decodes
    codes, and :meth:`sample` decodes draws from the N(0, I) prior.
    ``loss_terms_`` holds the reconstruction and KL terms per epoch.

    Parameters
    ----------
    beta : float, default=1.0
        Weight of the KL term (beta-VAE, Higgins et al. 2017): larger values
        give a smoother, more prior-like code at the cost of reconstruction.

    All other parameters are those of :class:`Autoencoder`, except that
    custom ``encoder``/``decoder`` modules are not supported.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from aedr import VariationalAutoencoder
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VariationalAutoencoder(n_components=2, max_iter=3, random_state=0).fit(X)
    >>> vae.sample(5, random_state=0).shape
    (5, 64)
    """

    _variational = True
    _parameter_constraints: dict = {**Autoencoder._parameter_constraints, "beta": BETA.constraint}

    def __init__(
        self,
        n_components=2,
        *,
        beta=1.0,
        hidden_layer_sizes=(256, 128),
        activation="relu",
        output_activation="identity",
        loss="mse",
        scale="auto",
        architecture="mlp",
        input_shape=None,
        noise=None,
        noise_level=0.2,
        sparsity=0.0,
        contractive=0.0,
        encoder=None,
        decoder=None,
        neighbor_loss=None,
        n_neighbors=15,
        neighbor_weight=1.0,
        min_dist=0.1,
        perplexity=30.0,
        exaggeration=1.0,
        early_exaggeration=12.0,
        negative_sample_rate=5,
        optimizer="adam",
        learning_rate_init="auto",
        batch_size="auto",
        max_iter="auto",
        tol=1e-4,
        n_iter_no_change=20,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        warm_start=False,
        device="auto",
        memory_budget="auto",
        precision="32",
        n_jobs=None,
        random_state=None,
        verbose=False,
        callbacks=None,
    ):
        super().__init__(
            n_components=n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            output_activation=output_activation,
            loss=loss,
            scale=scale,
            architecture=architecture,
            input_shape=input_shape,
            noise=noise,
            noise_level=noise_level,
            sparsity=sparsity,
            contractive=contractive,
            encoder=encoder,
            decoder=decoder,
            neighbor_loss=neighbor_loss,
            n_neighbors=n_neighbors,
            neighbor_weight=neighbor_weight,
            min_dist=min_dist,
            perplexity=perplexity,
            exaggeration=exaggeration,
            early_exaggeration=early_exaggeration,
            negative_sample_rate=negative_sample_rate,
            optimizer=optimizer,
            learning_rate_init=learning_rate_init,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            shuffle=shuffle,
            warm_start=warm_start,
            device=device,
            memory_budget=memory_budget,
            precision=precision,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
        )
        self.beta = beta

    def _check_fit_params(self, X: np.ndarray) -> None:
        super()._check_fit_params(X)
        if self.encoder is not None:
            raise ValueError("VariationalAutoencoder does not take custom encoder/decoder modules")

    def _build_model(self, n_features: int, generator: torch.Generator, *, meta: bool = False) -> torch.nn.Module:
        return build_model(self.architecture, generator, variational=True, meta=meta, **self.model_config(n_features))

    def _objective(self, generator: torch.Generator) -> AutoencoderObjective:
        objective = super()._objective(generator)
        objective.beta = self.beta
        return objective

    def sample(self, n_samples: int = 1, random_state=None):
        """Decode ``n_samples`` codes drawn from the N(0, I) prior, in original units: an ndarray, or
        what ``set_output`` asks for, as :meth:`inverse_transform` gives it. ``random_state``: a seed,
        a ``RandomState`` or a numpy ``Generator`` (``np.random.default_rng(0)``), or None."""
        check_is_fitted(self)
        check_whole("n_samples", n_samples)
        rng = random_state if isinstance(random_state, np.random.Generator) else check_random_state(random_state)
        check_decoded_fits(int(n_samples), self.n_features_in_, "samples")  # before the codes are drawn
        Z = rng.standard_normal((int(n_samples), self._n_features_out))
        return self.inverse_transform(Z)
