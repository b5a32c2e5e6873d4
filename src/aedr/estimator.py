"""The scikit-learn estimator: validate, build, delegate to the trainer.

Data flow in ``fit``: validate X -> fit the input scaler -> split off a
validation set (``early_stopping``) -> build the model from the registry ->
train with :class:`aedr.training.trainer.Trainer` -> set fitted attributes.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from aedr._validation import check_custom_modules, check_finite, flatten_images, validate_rows
from aedr.data.scaling import AffineScaler
from aedr.models import CustomModule, build_model
from aedr.models.activations import make_activation
from aedr.models.conv import infer_input_shape
from aedr.neighbors import LEARNING_RATE as NEIGHBOR_LEARNING_RATE
from aedr.neighbors import NeighborSettings, NeighborTrainer, autoencoder_batch, make_method
from aedr.params import PARAMS, constraints
from aedr.training.callbacks import ProgressBar, as_callback
from aedr.training.device import resolve_device
from aedr.training.losses import AutoencoderObjective
from aedr.training.trainer import Trainer, TrainerConfig, TrainingDivergedError

INFERENCE_BATCH = 8192  # rows per forward pass in transform / inverse_transform


DIVERGED_FACTOR = 1e3  # a final reconstruction loss this many times that of predicting the mean: diverged


def _check_finite_divergence(history, loss: str, baseline: float, learning_rate: float) -> None:
    """Raise :class:`TrainingDivergedError` when training ended with a finite but absurd reconstruction
    loss (``DIVERGED_FACTOR`` times ``baseline``, the loss of predicting every row's mean)."""
    final = (history.terms or [{}])[-1].get(loss)
    if loss != "mse" or final is None or not baseline > 0 or final <= DIVERGED_FACTOR * baseline:
        return
    raise TrainingDivergedError(
        f"training diverged: the reconstruction error ended at {final:.3g} (scaled units), "
        f"{final / baseline:.3g} times that of predicting the mean; the usual causes are a learning rate too "
        f"high for this data (learning_rate_init={learning_rate:g}) or extreme values in the input"
    )


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Dimensionality reduction with a fully connected autoencoder.

    Each row ``x`` is encoded to a code ``z`` of ``n_components`` numbers and
    decoded back to ``x'``; the network is trained by backpropagation to
    minimise ``||x - x'||^2`` (``loss="mse"``). The bottleneck is linear and
    there is no dropout: the classic design. ``transform`` is the encoder,
    ``inverse_transform`` the decoder.

    Parameters
    ----------
    n_components : int, default=2
        Width of the code (the reduced dimension).
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Encoder layer widths; the decoder mirrors them. With
        ``architecture="conv"`` these are dense layers between the
        convolutions and the code. ``()`` gives the
        classic single-layer linear autoencoder, which learns PCA's subspace.
    activation : {"relu", "tanh", "sigmoid", "gelu", "identity"}, default="relu"
        Applied after every hidden layer, never to the code.
    output_activation : {"identity", "sigmoid"}, default="identity"
        Applied to the decoder output; ``"sigmoid"`` suits data in [0, 1]
        and is required by ``loss="bce"``.
    loss : {"mse", "bce"}, default="mse"
        Mean squared error, or binary cross-entropy for data in [0, 1]
        (after scaling: use ``scale="minmax"`` or ``None``).
    scale : {"auto", "standard", "minmax", "global"} or None, default="auto"
        Input scaling fitted on the training data; ``inverse_transform``
        undoes it. "standard" standardises each feature; "global" uses one
        mean and standard deviation for all features, which suits images
        (per-pixel standardisation blows up near-constant border pixels,
        and added noise with it). "auto" is "global" for
        ``architecture="conv"`` and with ``neighbor_loss`` (whose graph
        sees the rows in their own units), "standard" otherwise; pass
        ``scale="global"`` for image rows with the MLP too.
    architecture : {"mlp", "conv"}, default="mlp"
        Network family from the registry ``aedr.models.ARCHITECTURES``.
        "conv" reads each row as an image of ``input_shape`` (strided
        convolutions down, transposed convolutions up, linear code).
    input_shape : tuple of int or None, default=None
        (channels, height, width) of image rows for ``architecture="conv"``;
        inferred for square single-channel images, or from X of shape
        (n, C, H, W).
    noise : {"gaussian", "masking"} or None, default=None
        Denoising: corrupt the inputs during training (targets stay clean)
        with Gaussian noise of standard deviation ``noise_level`` in scaled
        units, or by zeroing each value with probability ``noise_level``.
    noise_level : float, default=0.2
    sparsity : float, default=0.0
        Weight of an L1 activity penalty on the code (mean absolute value).
    contractive : float, default=0.0
        Weight of the squared Frobenius norm of the encoder's Jacobian.
    encoder, decoder : torch.nn.Module or None, default=None
        Custom modules mapping (B, n_features) -> (B, n_components) and
        back; they replace ``architecture`` and are used as initialised
        (``random_state`` then only seeds batch order and noise).
    neighbor_loss : {"tsne", "umap"} or None, default=None
        Also preserve the input's neighbourhoods in the code, with a neighbour
        method from the registry :data:`aedr.neighbors.NEIGHBOR_METHODS`
        (see :mod:`aedr.neighbors.training`): a t-SNE or UMAP map of the
        training rows (built on the rows as given, as t-SNE and UMAP see
        them); the autoencoder trained with its codes pulled to their rows'
        places in that map, first with input dropout, then, after the map is
        refined from the encoder's codes, on clean inputs. "tsne" is t-SNE's
        KL divergence (perplexity-calibrated graph, t-SNE's own optimiser
        in one or two dimensions), "umap" UMAP's fuzzy cross-entropy. "tsne"
        is the recommended one: it keeps more local structure and places new
        rows better (BENCHMARKS.md). None trains the plain autoencoder.
    n_neighbors : int, default=15
        Neighbours per row in the graph for ``neighbor_loss="umap"``,
        counting the row itself, as in umap-learn.
    neighbor_weight : float, default=1.0
        Weight, against the reconstruction loss (in scaled units), of each
        code's distance from its place in the neighbour map, counted in the
        map's mean spacings between codes: at 1 a code one neighbour off its
        place costs as much as the whole reconstruction loss.
    min_dist : float, default=0.1
        UMAP's minimum distance between codes (``neighbor_loss="umap"``).
    perplexity : float, default=30.0
        t-SNE's perplexity (``neighbor_loss="tsne"``); the graph has
        ``3 * perplexity`` neighbours per row, as in openTSNE.
    exaggeration : float, default=1.0
        openTSNE's ``exaggeration`` (``neighbor_loss="tsne"``): the factor on
        t-SNE's attraction in the map the autoencoder finally fits. 1 is
        t-SNE's own loss; larger values draw tighter classes. The layout map
        the encoder is first shaped on uses at least 2.
    early_exaggeration : float, default=12.0
        openTSNE's ``early_exaggeration`` (``neighbor_loss="tsne"``): the
        factor on the attraction in the map's early phase (75 iterations
        before the main 175 in one or two dimensions; above two, a quarter
        as many epochs as the main phase), which draws the classes together
        before the fine structure settles. 1 skips the phase.
    negative_sample_rate : int, default=5
        UMAP's negative samples per edge (``neighbor_loss="umap"``): the
        weight of the repulsion.
    optimizer : str or torch.optim.Optimizer subclass, default="adam"
        One of "adam", "adamw", "sgd", "rmsprop", or a class called as
        ``cls(params, lr=learning_rate_init)``.
    learning_rate_init : float or "auto", default="auto"
        Initial learning rate, divided by 10 at each loss plateau. "auto" is
        1e-3 (2e-3 with ``neighbor_loss``, for its larger batches), except for the linear autoencoder
        (``hidden_layer_sizes=()``):
        ``min(1e-2, 0.08 / sqrt(n_features))``.
    batch_size : int or "auto", default="auto"
        Rows per optimizer step. "auto" is ``min(256, max(8, n_samples // 50))``:
        convergence is decided by optimizer steps, not epochs, so small data
        sets get smaller batches and about 50 steps per epoch. With
        ``neighbor_loss`` it sets the autoencoder's batches (a mini-batch map
        has its own), and "auto" is the power of two from ``n_samples // 32``
        to ``n_samples // 16``, at least 64 and at most 512.
    max_iter : int, default=200
        Maximum number of epochs. With ``neighbor_loss`` the autoencoder
        runs ``ceil(0.175 * max_iter)`` epochs with input dropout at a
        constant rate, then as many on clean inputs, the rate falling to zero
        over their last 30%; a mini-batch map ("umap"; "tsne" above two
        dimensions) runs ``ceil(max_iter / 2)`` epochs before them.
    tol : float, default=1e-4
        Relative improvement of the monitored loss that counts as progress.
    n_iter_no_change : int, default=20
        Epochs without progress that make a plateau. The first two plateaus
        cut the learning rate tenfold; the third ends training.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, monitor their loss
        instead of the training loss, and keep the weights that did best.
    validation_fraction : float, default=0.1
    shuffle : bool, default=True
        Reshuffle the rows every epoch.
    warm_start : bool, default=False
        When fitted already, ``fit`` continues training the fitted network
        (and keeps its input scaling) instead of starting afresh, as in
        scikit-learn; the architecture parameters must not have changed.
    device : str, default="auto"
        "auto" (CUDA when present, else CPU), "cpu", "cuda", "cuda:1", "mps".
    random_state : int, RandomState instance or None, default=None
        Seeds a local ``torch.Generator`` for weights and batch order; torch's
        global random state is never touched. On the CPU a fixed value gives
        bit-identical results run to run.
    verbose : bool, default=False
        Show a progress bar (tqdm, on stderr).
    callbacks : list of Callback or callable, default=None
        Called after every epoch with a :class:`aedr.training.TrainingState`;
        returning True stops training.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network (``model_.encode``, ``model_.decode``).
    scaler_ : AffineScaler
        The fitted input scaling.
    loss_curve_ : list of float
        Mean training loss per epoch (in scaled units).
    validation_scores_ : list of float or None
        Validation loss per epoch with ``early_stopping``, else None.
    best_loss_ : float
        Best monitored loss (validation loss with ``early_stopping``).
    n_iter_ : int
        Epochs run.
    n_steps_ : int
        Optimizer steps taken.
    device_ : torch.device
        Where the model lives.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from aedr import Autoencoder
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = Autoencoder(n_components=2, max_iter=5, random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape
    (1797, 2)
    >>> ae.inverse_transform(Z).shape
    (1797, 64)
    """

    _parameter_constraints: dict = constraints(PARAMS)  # aedr.params declares every parameter once

    def __init__(
        self,
        n_components=2,
        *,
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
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=20,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        warm_start=False,
        device="auto",
        random_state=None,
        verbose=False,
        callbacks=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.scale = scale
        self.architecture = architecture
        self.input_shape = input_shape
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.contractive = contractive
        self.encoder = encoder
        self.decoder = decoder
        self.neighbor_loss = neighbor_loss
        self.n_neighbors = n_neighbors
        self.neighbor_weight = neighbor_weight
        self.min_dist = min_dist
        self.perplexity = perplexity
        self.exaggeration = exaggeration
        self.early_exaggeration = early_exaggeration
        self.negative_sample_rate = negative_sample_rate
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on the rows of ``X``; ``y`` is ignored.

        Raises
        ------
        ValueError
            For invalid input (non-numeric, NaN/inf, too few rows, ...).
        aedr.TrainingDivergedError
            If the loss becomes NaN/inf; the estimator then holds the best
            weights seen before that and can still be used.
        """
        X, image_shape = flatten_images(X)
        warm = self.warm_start and hasattr(self, "model_")
        X = validate_rows(self, X, reset=not warm)
        self._check_fit_params(X)
        if warm and not self._same_architecture(X.shape[1]):
            raise ValueError("warm_start continues the fitted network: its architecture parameters must not change")
        self.input_shape_ = infer_input_shape(X.shape[1], self.input_shape or image_shape) if self._is_conv() else None
        generator = torch.Generator().manual_seed(int(check_random_state(self.random_state).randint(2**31 - 1)))
        device = resolve_device(self.device)

        scaler = self.scaler_ if warm else AffineScaler.fit(X, self._scaling())
        X_scaled = scaler.transform(X.astype(np.float64))
        self._check_loss_range(X_scaled)
        train_rows, val_rows = self._split(len(X), generator)
        X_train = torch.as_tensor(X_scaled[train_rows], dtype=torch.float32, device=device)
        X_val = (
            torch.as_tensor(X_scaled[val_rows], dtype=torch.float32, device=device) if val_rows is not None else None
        )

        model = (self.model_ if warm else self._build_model(X.shape[1], generator)).to(device)
        noise_generator = torch.Generator(device=device).manual_seed(
            int(torch.randint(2**31 - 1, (1,), generator=generator))
        )
        objective = self._objective(noise_generator)
        config = self._trainer_config(len(X_train))
        if self.neighbor_loss is not None:
            # the graph is built on the rows as given: neighbours in the data's own units, as UMAP and t-SNE see them
            trainer = NeighborTrainer(
                self._neighbor_method(),
                X[train_rows],
                model,
                objective,
                config,
                device,
                noise_generator,
                self._callbacks(),
                weight=self.neighbor_weight,
            )
        else:
            trainer = Trainer(model, objective, config, device, generator, self._callbacks())
        self.scaler_, self.device_, self._n_features_out = scaler, device, self.n_components
        try:
            history = trainer.fit(X_train, X_val)
        except TrainingDivergedError:
            self._set_fitted(model, trainer.history)
            raise
        self._set_fitted(model, history)
        _check_finite_divergence(history, self.loss, float(X_train.var(0).mean()), self._learning_rate())
        return self

    def _check_fit_params(self, X: np.ndarray) -> None:
        n_samples, n_features = X.shape
        if self.n_components > n_features:
            raise ValueError(f"n_components={self.n_components} must be <= n_features={n_features}")
        if any(int(h) < 1 for h in self.hidden_layer_sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {tuple(self.hidden_layer_sizes)}")
        if self.loss == "bce" and self.output_activation != "sigmoid":
            raise ValueError("loss='bce' needs output_activation='sigmoid'")
        if (self.encoder is None) != (self.decoder is None):
            raise ValueError("pass both encoder and decoder modules, or neither")
        if self.noise == "masking" and self.noise_level >= 1:
            raise ValueError(f"noise='masking' needs noise_level < 1 (a drop probability), got {self.noise_level}")
        if self.neighbor_loss is not None:
            n_train, method = n_samples - self._n_validation(n_samples), self._neighbor_method()
            needed = method.graph_neighbors() + 1
            if n_train < needed:
                raise ValueError(
                    f"neighbor_loss={self.neighbor_loss!r} with {method.describe_graph()} needs at least {needed} training rows, got {n_train}"
                )
        if self.early_stopping and self._n_validation(n_samples) < 1:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} needs at least "
                f"{math.ceil(1 / self.validation_fraction)} rows, got n_samples={n_samples}"
            )

    def _n_validation(self, n_samples: int) -> int:
        """Rows ``early_stopping`` holds out (0 without it)."""
        return math.floor(self.validation_fraction * n_samples) if self.early_stopping else 0

    def _check_loss_range(self, X_scaled: np.ndarray) -> None:
        if self.loss == "bce" and (X_scaled.min() < 0 or X_scaled.max() > 1):
            raise ValueError(
                f"loss='bce' needs data in [0, 1] after scaling (got values from {X_scaled.min():.3g} "
                f"to {X_scaled.max():.3g} with scale={self.scale!r}); use scale='minmax' or loss='mse'"
            )

    def _split(self, n_samples: int, generator: torch.Generator):
        if not self.early_stopping:
            return np.arange(n_samples), None
        order = torch.randperm(n_samples, generator=generator).numpy()
        n_val = self._n_validation(n_samples)
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _is_conv(self) -> bool:
        return self.encoder is None and self.architecture == "conv"

    def _scaling(self):
        if self.scale != "auto":
            return self.scale
        # a neighbour model's graph is built on the rows as given: one scale for all features keeps the
        # encoder's view of the input in that geometry
        return "global" if self._is_conv() or self.neighbor_loss is not None else "standard"

    def model_config(self, n_features: int) -> dict:
        """Registry name and keyword arguments that rebuild this estimator's network."""
        config = {
            "n_features": n_features,
            "n_components": self.n_components,
            "activation": self.activation,
            "output_activation": self.output_activation,
        }
        config["hidden_layer_sizes"] = tuple(int(h) for h in self.hidden_layer_sizes)
        if self._is_conv():
            config["input_shape"] = tuple(self.input_shape_)
        return config

    def _build_model(self, n_features: int, generator: torch.Generator, *, meta: bool = False) -> torch.nn.Module:
        if self.encoder is not None:
            model = CustomModule(
                copy.deepcopy(self.encoder), copy.deepcopy(self.decoder), make_activation(self.output_activation)
            )
            check_custom_modules(model, n_features, self.n_components)
            return model
        return build_model(self.architecture, generator, meta=meta, **self.model_config(n_features))

    def _objective(self, generator: torch.Generator) -> AutoencoderObjective:
        return AutoencoderObjective(
            self.loss,
            noise=self.noise,
            noise_level=self.noise_level,
            sparsity=self.sparsity,
            contractive=self.contractive,
            generator=generator,
        )

    def _trainer_config(self, n_train: int) -> TrainerConfig:
        if self.batch_size != "auto":
            batch = self.batch_size
        elif self.neighbor_loss is not None:
            batch = autoencoder_batch(n_train)
        else:
            batch = min(256, max(8, n_train // 50))
        config = TrainerConfig(
            optimizer=self.optimizer,
            learning_rate_init=self._learning_rate(),
            batch_size=min(batch, n_train),
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
        )
        return config

    def _neighbor_method(self):
        """The registered neighbour method ``neighbor_loss`` names, with this estimator's settings."""
        names = [f.name for f in dataclasses.fields(NeighborSettings) if f.name != "progress"]
        settings = NeighborSettings(**{name: getattr(self, name) for name in names}, progress=bool(self.verbose))
        return make_method(self.neighbor_loss, settings)

    def _learning_rate(self) -> float:
        if self.learning_rate_init != "auto":
            return self.learning_rate_init
        if len(self.hidden_layer_sizes) == 0 and self.encoder is None and not self._is_conv():
            # Adam moves every weight by about lr per step, so a code unit summing
            # n_features inputs moves by about lr * sqrt(n_features): keep that fixed.
            return min(1e-2, 0.08 / math.sqrt(self.n_features_in_))
        return 1e-3 if self.neighbor_loss is None else NEIGHBOR_LEARNING_RATE

    def _callbacks(self) -> list:
        callbacks = [ProgressBar(desc=type(self).__name__)] if self.verbose else []
        return callbacks + [as_callback(cb) for cb in (self.callbacks or [])]

    def _same_architecture(self, n_features: int) -> bool:
        """Whether the parameters still build the fitted network's shapes (built on the meta device)."""
        fresh = self._build_model(n_features, torch.Generator().manual_seed(0), meta=True).state_dict()
        fitted = self.model_.state_dict()
        return fresh.keys() == fitted.keys() and all(fresh[k].shape == fitted[k].shape for k in fresh)

    def _set_fitted(self, model, history) -> None:
        model.eval()
        self.model_ = model
        self.loss_curve_ = history.loss_curve
        self.loss_terms_ = {name: [epoch[name] for epoch in history.terms] for name in (history.terms or [{}])[0]}
        self.validation_scores_ = history.validation_scores if self.early_stopping else None
        self.best_loss_ = history.best_loss
        self.n_iter_ = history.n_iter
        self.n_steps_ = history.n_steps

    # ------------------------------------------------------------ inference
    def transform(self, X):
        """Encode rows of ``X`` to codes of width ``n_components``."""
        check_is_fitted(self)
        X = validate_rows(self, flatten_images(X)[0], reset=False)
        return self._run(self.model_.encode, self.scaler_.transform(X.astype(np.float64)))

    def inverse_transform(self, X):
        """Decode codes back to rows in the original units of the training data."""
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False, input_name="X")
        check_finite(Z)
        if Z.shape[1] != self.n_components:
            raise ValueError(f"X has {Z.shape[1]} columns but this autoencoder has n_components={self.n_components}")
        return self.scaler_.inverse_transform(self._run(self.model_.decode, Z))

    def save(self, path, *, overwrite=False):
        """Write the fitted model to folder ``path``: ``config.json`` + ``weights.safetensors``.

        Data only, never pickled code; read it back with :func:`aedr.load`.
        See :func:`aedr.persistence.save`.
        """
        from aedr.persistence import save

        return save(self, path, overwrite=overwrite)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error, in the original units."""
        X = flatten_images(X)[0]
        X_checked = validate_rows(self, X, reset=False).astype(np.float64)
        return -float(np.mean((X_checked - self.inverse_transform(self.transform(X))) ** 2))

    def evaluate(self, X, y=None, *, n_neighbors=10):
        """Quality of the model on ``X`` in one dict (see :func:`aedr.metrics.evaluate_embedding`).

        ``reconstruction_error`` (mean squared, original units) and
        ``trustworthiness`` / ``continuity`` of the codes at ``n_neighbors``
        (exact, computed in chunks); with labels ``y`` also ``knn_accuracy``
        (5-NN, 5-fold) and ``silhouette`` of the codes.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = Autoencoder(max_iter=5, random_state=0).fit(X)
        >>> sorted(ae.evaluate(X, y))
        ['continuity', 'knn_accuracy', 'reconstruction_error', 'silhouette', 'trustworthiness']
        """
        from aedr.metrics import evaluate_embedding

        Z = self.transform(X)  # validates X
        X_rows = np.asarray(X, dtype=np.float64).reshape(len(Z), -1)
        return evaluate_embedding(X_rows, Z, y, self.inverse_transform(Z), n_neighbors=n_neighbors)

    @torch.no_grad()
    def _run(self, fn, A: np.ndarray) -> np.ndarray:
        """Apply ``fn`` to ``A`` in batches on ``device_``; float64 result. Rows the network cannot
        represent (beyond float32 once scaled) are an error naming them, never NaN in the output."""
        out = []
        for start in range(0, len(A), INFERENCE_BATCH):
            batch = torch.as_tensor(A[start : start + INFERENCE_BATCH], dtype=torch.float32, device=self.device_)
            out.append(fn(batch).double().cpu().numpy())
        result = np.concatenate(out)
        bad = np.flatnonzero(~np.isfinite(result).all(axis=1))
        if len(bad):
            raise ValueError(
                f"{len(bad)} {'rows give' if len(bad) > 1 else 'row gives'} non-finite outputs (first: row "
                f"{bad[0] + 1}, values up to {np.abs(A[bad[0]]).max():.3g} after scaling): too far outside the "
                "training data's range for the network's float32 arithmetic"
            )
        return result

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
