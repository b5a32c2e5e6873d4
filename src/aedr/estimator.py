"""The scikit-learn estimator :class:`Autoencoder`: validate, build, delegate to the trainer.

Setting up one fit (checks against X, the "auto" values, the choice of trainer) is in
:mod:`aedr._fit_setup`; the training loops are in :mod:`aedr.training` and :mod:`aedr.neighbors`.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_array, check_is_fitted

from aedr import _fit_setup
from aedr._inference import FarCodes, apply_in_batches, decode, place_by_reference, reconstruct
from aedr._validation import (
    as_rows,
    check_code_columns,
    check_custom_modules,
    check_finite,
    check_prepared_alike,
    flatten_images,
    one_dimensional_words,
    refuse_complex,
    refuse_text,
    validate_rows,
    validate_source,
)
from aedr._words import plural
from aedr.data.memory import needs_streaming
from aedr.data.rows import mean_variance, scaled_range, scaled_rows, squared_error, training_rows
from aedr.data.sources import RowSource, as_source
from aedr.data.stream import check_finite_rows, neighbor_sample
from aedr.data.summary import column_summary
from aedr.models import CustomModule, build_model
from aedr.models.activations import make_activation
from aedr.params import PARAMS, constraints
from aedr.training import distributed
from aedr.training.checkpoint import identity_params
from aedr.training.device import resolve_device
from aedr.training.losses import AutoencoderObjective
from aedr.training.threads import estimator_threads, torch_threads
from aedr.training.trainer import TrainerConfig, TrainingDivergedError

DECODED_BLOCK_BYTES = 64 << 20  # inverse_transform of codes on disk: decoded rows (float64) per block read


def _is_fitted_state(name: str) -> bool:
    """Whether attribute ``name`` is set by ``fit`` (scikit-learn's trailing underscore, and the width
    that ``get_feature_names_out`` reads)."""
    return (name.endswith("_") and not name.startswith("__")) or name in ("_n_features_out", "_fitted_params")


def _in_memory(source: RowSource, rows=None):
    """The rows of ``source`` read into memory (all, or those of ``rows``), as a DataFrame when the file
    names its columns (``validate_data`` then checks them against the fitted names)."""
    dtype = source.values_dtype  # a float64 file's values kept, as in memory
    X = source.read_all(dtype) if rows is None else source.take(rows, dtype)
    return X if source.feature_names is None else pd.DataFrame(X, columns=source.feature_names, copy=False)


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Dimensionality reduction with an autoencoder.

    The encoder maps each row to a code of ``n_components`` numbers, the decoder maps the code back,
    and training minimises the reconstruction error. ``transform`` encodes, ``inverse_transform``
    decodes. With ``neighbor_loss`` the codes also keep the rows' t-SNE or UMAP neighbourhoods.

    Parameters
    ----------
    n_components : int, default=2
        Width of the code (the reduced dimension).
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Encoder layer widths, at most 256 of them; the decoder mirrors them. ``()`` is the linear
        autoencoder, which learns PCA's subspace (with ``neighbor_loss``, whose code layer is anchored:
        ``code_anchors_``, not linear).
    activation : {"relu", "tanh", "sigmoid", "gelu", "identity"}, default="relu"
        After every hidden layer, never on the code.
    output_activation : {"identity", "sigmoid"}, default="identity"
        On the decoder output; "sigmoid" suits data in [0, 1].
    loss : {"mse", "bce"}, default="mse"
        Mean squared error, or binary cross-entropy (needs ``output_activation="sigmoid"`` and data
        in [0, 1] after scaling).
    scale : {"auto", "standard", "minmax", "global"} or None, default="auto"
        Input scaling fitted on the training data, undone by ``inverse_transform``. "global" uses
        one mean and standard deviation for all features (suits images); "auto" is "global" for
        image rows (X of shape (n, H, W) or (n, C, H, W)), ``architecture="conv"`` or ``neighbor_loss``,
        else "standard" (the fitted ``scaling_`` says which). A neighbour fit builds its
        graph on the rows as given, or with "standard" or "minmax" on the rows so scaled.
    architecture : {"mlp", "conv"}, default="mlp"
        Network from :data:`aedr.models.ARCHITECTURES`; "conv" reads each row as an image of
        ``input_shape``.
    input_shape : tuple of int or None, default=None
        (channels, height, width) for ``architecture="conv"``; inferred for square one-channel
        images, or from X of shape (n, C, H, W).
    noise : {"gaussian", "masking"} or None, default=None
        Denoising: corrupt the inputs in training (targets stay clean).
    noise_level : float, default=0.2
        Standard deviation of Gaussian noise (scaled units), or the probability of zeroing a value.
    sparsity : float, default=0.0
        Weight of an L1 penalty on the code.
    contractive : float, default=0.0
        Weight of the squared Frobenius norm of the encoder's Jacobian.
    encoder, decoder : torch.nn.Module or None, default=None
        Custom modules, (B, n_features) -> (B, n_components) and back, used as initialised in place
        of ``architecture``.
    neighbor_loss : str or None, default=None
        Also pull each code to its row's place in a neighbour map of the training rows: a key of
        :data:`aedr.neighbors.NEIGHBOR_METHODS` ("tsne", "umap" built in; :mod:`aedr.neighbors.training`).
        "tsne" keeps more local structure and places new rows better.
    n_neighbors : int, default=15
        Graph neighbours per row for "umap", the row itself included.
    neighbor_weight : float, default=1.0
        Weight of a code's distance from its place in the map, in mean spacings between codes,
        against the reconstruction loss.
    min_dist : float, default=0.1
        UMAP's minimum distance between codes, 0 to 1 (its spread, as umap-learn requires).
    perplexity : float, default=30.0
        t-SNE's perplexity; the graph has ``3 * perplexity`` neighbours per row.
    exaggeration : float, default=1.0
        Factor on t-SNE's attraction in the final map; larger values draw tighter classes.
    early_exaggeration : float, default=12.0
        Factor on t-SNE's attraction in the map's early phase; 1 skips it.
    negative_sample_rate : int, default=5
        UMAP's negative samples per edge (the weight of the repulsion).
    optimizer : str or torch.optim.Optimizer subclass, default="adam"
        "adam", "adamw", "sgd", "rmsprop", or a class called as
        ``cls(params, lr=learning_rate_init)``. A class is code, which a model file never holds:
        :meth:`save` and a :class:`~aedr.Checkpoint` callback refuse such a model (name one of the
        choices to keep it); ``aedr.tl`` records the class's name.
    learning_rate_init : float or "auto", default="auto"
        Divided by 10 at each loss plateau. "auto" is ``1e-3 * sqrt(batch_size / 64)`` between
        1e-3 and 3e-3, 2e-3 with ``neighbor_loss``, ``min(1e-2, 0.08 / sqrt(n_features))`` for the
        linear autoencoder. Without ``neighbor_loss``, a network with hidden layers has its rate
        fall linearly to zero over the last half of ``max_iter``.
    batch_size : int or "auto", default="auto"
        Rows per optimizer step. "auto" is ``max(8, n_samples // 50)`` up to 256 for the linear
        autoencoder and up to 512 for a network with hidden layers, which from 10,000 rows takes
        ``n_samples // 20`` (at most 512); with
        ``neighbor_loss`` the power of two from ``n_samples // 32`` to ``n_samples // 16``, between
        64 and 512.
    max_iter : int or "auto", default="auto"
        Maximum epochs. "auto" is ``7500 / sqrt(n_samples)`` between 10 and 200 for a network with
        hidden layers (31 on 60,000 rows, 75 on 10,000), 200 for the linear autoencoder and with
        ``neighbor_loss``. With ``neighbor_loss`` each autoencoder phase runs
        ``ceil(0.175 * max_iter)`` (the first, shaping phase ``sqrt(10000 / n_samples)`` as many
        above 10,000 rows), or more where an epoch has few steps, up to four times as many, to make
        ``10 * max_iter`` steps (the shaping phase's shrunk alike); a mini-batch map ``ceil(max_iter / 2)``.
    tol : float, default=1e-4
        Relative improvement of the monitored loss that counts as progress.
    n_iter_no_change : int, default=20
        Epochs without progress that make a plateau; the third plateau ends training.
    early_stopping : bool, default=False
        Monitor the loss of ``validation_fraction`` held-out rows and keep the weights that did best
        on them.
    validation_fraction : float, default=0.1
        Share of the rows held out with ``early_stopping``.
    shuffle : bool, default=True
        Reshuffle the rows every epoch.
    warm_start : bool, default=False
        ``fit`` continues the fitted network and keeps its input scaling; the architecture
        parameters must not change.
    device : str, default="auto"
        "auto" (CUDA when present, else CPU), "cpu", "cuda", "cuda:1", "mps".
    memory_budget : float or "auto", default="auto"
        Bytes a fit may hold in memory. Rows on disk (a ``np.memmap``, or :func:`aedr.open_rows` of a
        ``.npy``, Parquet or ``.h5ad`` file) that would need more (40 bytes a value) are streamed: read
        in shuffled blocks each epoch, never whole. "auto" is half the memory available when ``fit``
        starts; 0 always streams them. With ``neighbor_loss`` such rows are fitted on a seeded sample
        of 50,000 of them (the graph and map are built in memory); ``transform`` encodes them all.
    precision : {"32", "bf16", "16-mixed"}, default="32"
        The arithmetic of training's forward passes and losses. "32" is float32 throughout.
        "bf16" and "16-mixed" run them under ``torch.autocast`` in bfloat16 or float16 (the
        weights, the optimizer and the summed losses stay float32), "16-mixed" with a gradient
        scaler; faster on GPUs with bf16/fp16 tensor cores, and bf16 on CPUs with native bf16
        (AVX512-BF16, AMX). "16-mixed" needs a GPU: float16 on the CPU is many times slower than
        float32, use "bf16" there. With ``neighbor_loss`` it applies to the autoencoder's
        phases; the t-SNE or UMAP map is optimised in float32. ``transform`` and
        ``inverse_transform`` always run in float32 on the trained float32 weights: the codes
        lose no digits to bfloat16 and stay deterministic.
    n_jobs : int or None, default=None
        CPU threads torch uses while this estimator fits or runs its network (torch's global
        setting is restored afterwards). None: one thread for a small fully connected network
        (under 200,000 multiply-adds per row, e.g. 64 features -> (256, 128) -> 2), whose
        operations are too short to share out and which extra threads slow many times over when
        another process keeps a core busy; torch's setting otherwise, whatever the load (pass 1
        when other jobs share the cores). -1 uses every available core, -2 all but one.
        ``transform(X, reference=...)``'s neighbour search keeps torch's setting unless
        ``n_jobs`` is given. The count can change a larger network's fit (sums taken in another
        order); a small network's fit was bit-identical on one and two threads. With
        ``neighbor_loss`` a small network's graph and maps run on one thread too, 1.5 times slower
        than on two idle cores at 20,000 rows: pass -1 there. It describes this process, not the
        model: ``save`` leaves it out, and a loaded model has None.
    random_state : int, RandomState instance or None, default=None
        Seeds a local ``torch.Generator`` (torch's global state is never touched); on the CPU a
        fixed value gives bit-identical results.
    verbose : bool, default=False
        Show a progress bar (tqdm, on stderr).
    callbacks : list of (Callback or callable), default=None
        Called after every epoch with a :class:`aedr.TrainingState`; returning True stops
        training. An :class:`aedr.Checkpoint` among them writes checkpoints to resume from.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network (``model_.encode``, ``model_.decode``).
    scaler_ : AffineScaler
        The fitted input scaling.
    scaling_ : str or None
        The kind of that scaling, ``scale="auto"`` resolved: "global" (one mean and standard
        deviation for all features) for image rows, a conv network or a neighbour fit, else "standard".
    random_state_ : int or None
        The ``random_state`` that repeats this fit: the one given, or the one drawn when
        ``random_state`` is None or a RandomState instance; None for a fit resumed from a
        checkpoint of one not given a number. A ``warm_start`` fit goes on from the fitted network: its
        seed repeats its own epochs from that same network.
    feature_mean_, feature_median_ : ndarray of shape (n_features_in_,)
        Each feature's mean and median over the rows ``fit`` was given (the median of a seeded sample
        of 20,000 rows at most, fewer for wide data; :mod:`aedr.data.summary`), in the data's own units. What
        ``aedr transform --missing mean|median`` fills the empty cells of new rows with.
    code_range_ : ndarray of shape (2, n_components)
        The lowest and highest code on each axis of up to 4,096 training rows spread over them, encoded
        once the fit ended: where the fitted rows' codes lie. ``inverse_transform`` warns of codes
        farther outside it than its width (absent from models saved before aedr kept it).
    loss_curve_ : list of float
        Mean training loss per epoch (scaled units); a ``warm_start`` fit's added to the model's.
    loss_terms_ : dict of str to list of float
        Each term of the loss per epoch; NaN in epochs without it (a neighbour fit on large data
        starts the reconstruction term with its fitting phase).
    validation_scores_ : list of float or None
        Validation loss per epoch with ``early_stopping``, else None (a ``warm_start`` fit's added to
        the model's where that held rows out too, else of the last epochs alone).
    best_loss_ : float
        Best monitored loss.
    n_iter_ : int
        Epochs run (with ``warm_start``, over every fit of the model, as ``loss_curve_``); a neighbour
        fit's two training phases counted together, so it may exceed ``max_iter_``.
    n_steps_ : int
        Optimizer steps taken (likewise).
    stop_reason_ : str
        Why training ended: "max_iter" (every epoch run), "converged" (no improvement larger
        than ``tol`` in ``n_iter_no_change`` epochs), "callback" (a callback or Ctrl-C with
        ``--save-best``) or "diverged".
    batch_size_ : int
        Rows per optimizer step, "auto" resolved.
    learning_rate_ : float
        The initial learning rate, "auto" resolved.
    max_iter_ : int
        The epoch budget, "auto" resolved.
    device_ : torch.device
        Where the model lives.
    world_size_ : int
        Processes that trained the model together (under ``torchrun``; 1 otherwise).
    code_anchors_ : int
        Anchors of the encoder's code layer: ``aedr.models.anchored.ANCHORS`` for a neighbour model
        with the MLP network (:class:`aedr.models.anchored.AnchoredCode`), 0 for a linear code layer.
    input_shape_ : tuple of int or None
        ``(C, H, W)`` of the images the fit read: what a conv network reads (its flat rows too), or
        the images another network was given as such; None for flat rows. ``transform`` refuses images
        of another shape.
    n_features_in_ : int
        Number of features seen in ``fit``.
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

    _variational = False  # True: the encoder gives a distribution over codes (VariationalAutoencoder)
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
        self.memory_budget = memory_budget
        self.precision = precision
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, resume_from=None):
        """Train the autoencoder on the rows of ``X``; ``y`` is ignored.

        ``resume_from``: a file an :class:`aedr.Checkpoint` wrote while fitting the same data with
        the same parameters; training goes on from it and ends as the uninterrupted fit would have.

        Raises
        ------
        ValueError
            For invalid input (non-numeric, NaN/inf, too few rows, ...), or a checkpoint of another
            fit (:class:`aedr.CheckpointError`, naming what differs).
        aedr.TrainingDivergedError
            If the loss becomes NaN/inf, or (without ``neighbor_loss``) grows a hundredfold above
            its lowest and above the loss of predicting the mean; the estimator then holds the best
            weights seen before that and can still be used.

        Any other error, or Ctrl-C, leaves the estimator as it was before the call: fitted as before,
        or not fitted.
        """
        kept = {name: value for name, value in vars(self).items() if _is_fitted_state(name)}
        try:
            return self._fit(X, resume_from)
        except TrainingDivergedError:
            raise  # the estimator holds the best weights before the divergence, as documented
        except BaseException:
            for name in [name for name in vars(self) if _is_fitted_state(name)]:
                delattr(self, name)
            vars(self).update(kept)
            raise

    def _fit(self, X, resume_from):
        _fit_setup.check_depth(self)  # before the rows are read
        warm = self.warm_start and hasattr(self, "model_")
        device = resolve_device(self.device)
        _fit_setup.check_precision(self, device)
        device = distributed.setup(device)  # joins torchrun's process group, if any
        if distributed.world_size() > 1:  # under torchrun, before the ranks part ways
            distributed.check_same_params(identity_params(self))
        X, image_shape, streamed = self._fit_rows(X, reset=not warm)  # rows in memory, or streamed from disk
        self._check_fit_params(X)
        with torch_threads(estimator_threads(self, X.shape[1])):
            return self._train(X, image_shape, streamed, warm, device, resume_from)

    def _train(self, X, image_shape, streamed: bool, warm: bool, device: torch.device, resume_from):
        """``fit`` once the rows are read and checked: the network built (or copied, for a warm start)
        and trained."""
        distributed.check_same_rows(X)  # under torchrun, before any rank trains on rows the others lack
        if warm:
            _fit_setup.check_warm_start(self, X.shape[1], image_shape)
        self._fitted_params = self.get_params(deep=False)  # what save writes, whatever set_params does later
        seed, self.random_state_, resume = _fit_setup.seed_and_checkpoint(self, X, resume_from, warm, streamed=streamed)
        if not warm:
            self.code_anchors_ = _fit_setup.code_anchors(self)
        shape = _fit_setup.fitted_image_shape(self, X.shape[1], image_shape)
        if not (warm and shape is None):  # a warm start on flat rows keeps the images' shape the fit knew
            self.input_shape_ = shape
        generator = torch.Generator().manual_seed(seed)
        if not warm:  # a warm start keeps the fitted scaling (fitted_scaling: of an older model file too)
            self.scaling_ = _fit_setup.scaling(self, image_rows=image_shape is not None)
        scaler = _fit_setup.input_scaler(self, X, resume, warm)
        _fit_setup.check_loss_range(self, *scaled_range(X, scaler))
        train_rows, val_rows = _fit_setup.validation_split(self, X.shape[0], generator)
        held_out = val_rows if val_rows is not None else np.empty(0, dtype=np.int64)
        # sparse X: densified a batch at a time; rows on disk: streamed in shuffled blocks
        X_train = training_rows(X, scaler, train_rows, device, held_out=held_out)
        X_val = training_rows(X, scaler, val_rows, device) if val_rows is not None else None

        # a warm start trains a copy: an interrupted fit leaves the fitted network as it was
        if not warm:
            _fit_setup.check_network_memory(self, X.shape[1], device)
        model = (copy.deepcopy(self.model_) if warm else self._build_model(X.shape[1], generator)).to(device)
        noise_generator = torch.Generator(device=device).manual_seed(  # each rank its own noise
            int(torch.randint(2**31 - 1, (1,), generator=generator)) + distributed.rank()
        )
        objective = self._objective(noise_generator)
        baseline = mean_variance(X_train)  # the loss of predicting every row's mean
        trainer = _fit_setup.make_trainer(
            self, X, train_rows, model, objective, device, generator, noise_generator, baseline, scaler
        )
        self.scaler_, self.device_, self._n_features_out = scaler, device, self.n_components
        self.feature_mean_, self.feature_median_ = column_summary(X)
        self.batch_size_, self.learning_rate_ = trainer.config.batch_size, trainer.config.learning_rate_init
        self.max_iter_ = trainer.config.max_iter
        self.world_size_ = distributed.world_size()
        earlier = self._history() if warm else None  # a warm start's curves go on from the fitted model's
        try:
            history = trainer.fit(X_train, X_val, resume)
        except TrainingDivergedError:
            self._set_fitted(model, trainer.history, earlier)
            self.__dict__.pop("code_range_", None)  # a warm start's, of the network before
            raise
        finally:  # Python's Ctrl-C handler back, which a checkpoint keeps between a neighbour fit's phases
            _fit_setup.fit_ended(self)
        self._set_fitted(model, history, earlier)
        self.code_range_ = _fit_setup.code_range(self, X, train_rows)
        _fit_setup.check_divergence(history, self.loss, baseline, self.learning_rate_)
        _fit_setup.warn_collapsed(self, history, self.loss, baseline, self.learning_rate_)
        _fit_setup.warn_unconverged(self, history, len(train_rows))
        return self

    def _fit_rows(self, X, *, reset: bool):
        """``(rows, image shape or None, streamed)``: ``X`` validated in memory, or, for rows on disk that
        would need more than ``memory_budget``, the :class:`~aedr.data.sources.RowSource` that training
        streams (a neighbour fit: a seeded sample of it, in memory); ``streamed`` says which."""
        source = as_source(X)
        # under torchrun every rank streams when one must: ranks that decided alone would train apart
        streams = distributed.any_rank(source is not None and needs_streaming(source, self.memory_budget))
        if streams and source is None:
            raise ValueError(
                "under torchrun every rank must be given the same rows: another rank's are streamed from disk"
            )
        if streams and self.neighbor_loss is None:
            validate_source(self, source, reset=reset)
            return source, source.image_shape, True
        if streams or (source is not None and not isinstance(X, np.ndarray)):
            # a neighbour fit builds its graph and map in memory: a seeded sample of the rows; a file that
            # fits: read whole
            X = _in_memory(source, neighbor_sample(len(source)) if streams else None)
            image_shape = source.image_shape
        else:
            X, image_shape = flatten_images(X)
        return validate_rows(self, X, reset=reset), image_shape, streams

    def _check_fit_params(self, X: np.ndarray) -> None:
        _fit_setup.check_fit_params(self, X)  # a subclass adds its own checks

    def _as_fitted(self):
        """This estimator with the parameters its network was fitted with: ``set_params`` after ``fit``
        changes what the next ``fit`` builds, never what ``save`` writes for the fitted network."""
        fitted = copy.copy(self)
        vars(fitted).update(getattr(self, "_fitted_params", {}))
        fitted.n_jobs = getattr(self, "n_jobs", None)  # how to run the network, not what it is: as set now
        return fitted

    def model_config(self, n_features: int) -> dict:
        """Registry name and keyword arguments that rebuild this estimator's network."""
        config = {
            "n_features": n_features,
            "n_components": self.n_components,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "hidden_layer_sizes": tuple(int(h) for h in self.hidden_layer_sizes),
        }
        if _fit_setup.is_conv(self):
            config["input_shape"] = tuple(self.input_shape_)
        if getattr(self, "code_anchors_", 0):  # models saved before anchored code layers have none
            config["code_anchors"] = int(self.code_anchors_)
        arch = _fit_setup.architecture_entry(self)
        if arch is not None:  # the keys its config declares (Architecture)
            declared = {f.name for f in dataclasses.fields(arch.config)}
            config = {key: value for key, value in config.items() if key in declared}
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
        return _fit_setup.trainer_config(self, n_train)

    def _history(self) -> dict:
        """The fitted model's training curves and counts, which a warm start's fit goes on from."""
        names = ("loss_curve_", "loss_terms_", "validation_scores_", "n_iter_", "n_steps_")
        return {name: getattr(self, name, None) for name in names}

    def _set_fitted(self, model, history, earlier: dict | None = None) -> None:
        """The fitted attributes from the trainer's ``history``; a warm start's (``earlier``: the
        model's :meth:`_history` before it) added on, as scikit-learn's MLPs count a warm start's epochs."""
        model.eval()
        self.model_ = model
        self.loss_curve_ = history.loss_curve
        names = dict.fromkeys(name for epoch in history.terms for name in epoch)  # every term, in first-seen order
        self.loss_terms_ = {name: [epoch.get(name, math.nan) for epoch in history.terms] for name in names}
        self.validation_scores_ = history.validation_scores if self.early_stopping else None
        self.best_loss_ = history.best_loss
        self.n_iter_ = history.n_iter
        self.n_steps_ = history.n_steps
        self.stop_reason_ = history.stop_reason
        if earlier and earlier["loss_curve_"] is not None:
            before = len(earlier["loss_curve_"])
            terms = {**dict.fromkeys(earlier["loss_terms_"] or {}), **dict.fromkeys(self.loss_terms_)}
            self.loss_terms_ = {
                name: list((earlier["loss_terms_"] or {}).get(name, [math.nan] * before))
                + self.loss_terms_.get(name, [math.nan] * len(self.loss_curve_))
                for name in terms
            }
            self.loss_curve_ = list(earlier["loss_curve_"]) + list(self.loss_curve_)
            if self.validation_scores_ is not None and earlier["validation_scores_"] is not None:
                # added on where the model held rows out too; else this fit's alone, of its last epochs
                self.validation_scores_ = list(earlier["validation_scores_"]) + list(self.validation_scores_)
            self.n_iter_ += int(earlier["n_iter_"] or 0)
            self.n_steps_ += int(earlier["n_steps_"] or 0)

    # ------------------------------------------------------------ inference
    def transform(self, X, *, reference=None, reference_neighbors=5):
        """Encode rows of ``X`` to codes of width ``n_components`` (float32 for float32 rows, else
        float64); rows on disk (a ``np.memmap`` or :func:`aedr.open_rows`) are read a batch at a time.

        ``reference``: rows in memory (best: the rows the model was fitted on) to place ``X`` by. Each
        row of ``X`` then goes to the coordinate-wise median of the codes of its
        ``reference_neighbors`` nearest reference rows, nearest in the input space as the model
        scales it, instead of its own code: a neighbour model's new rows land where their input's
        neighbours are, as t-SNE's own ``transform`` places them, at the cost of a nearest-neighbour
        search. Suits ``neighbor_loss`` models; a plain autoencoder's codes should come from the
        encoder alone.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> X, _ = load_digits(return_X_y=True)
        >>> ae = Autoencoder(max_iter=5, random_state=0).fit(X[:1500])
        >>> ae.transform(X[1500:], reference=X[:1500]).shape
        (297, 2)
        """
        check_is_fitted(self)
        rows = as_source(X)
        if rows is not None:  # rows on disk: read and encoded a batch at a time
            validate_source(self, rows, reset=False)
        else:
            rows = validate_rows(self, self._flat_rows(X), reset=False)
            check_prepared_alike(self, rows)
        dtype = np.float32 if getattr(rows, "dtype", None) == np.float32 else np.float64  # float32 in, float32 out
        if reference is None:
            with self._threads():
                codes = apply_in_batches(self.model_.encode, scaled_rows(rows, self.scaler_), self.device_)
            return codes.astype(dtype, copy=False)
        if isinstance(reference, RowSource):
            raise ValueError(
                "reference must be rows in memory (an array, DataFrame or np.memmap), not a file opened with "
                "open_rows; load its rows first, e.g. np.load(path)"
            )
        R = validate_rows(self, self._flat_rows(reference, "reference"), reset=False, name="reference")
        with self._threads(network=False):  # mostly a nearest-neighbour search, not the network's work
            return place_by_reference(self, rows, R, reference_neighbors).astype(dtype, copy=False)

    def _flat_rows(self, X, name: str = "X"):
        """``X``'s images (n, C, H, W) or (n, H, W) as rows, refused unless the model was fitted on images
        of that shape (or, a conv model, on flat rows it read as such images); rows as given."""
        rows, shape = flatten_images(X, name)
        fitted = getattr(self, "input_shape_", None)
        if shape is not None and fitted is not None and tuple(shape) != tuple(fitted):
            raise ValueError(
                f"{name} holds images of shape {tuple(X.shape[1:])}; this model was fitted on images of shape "
                f"{tuple(fitted)} (channels, height, width): pass them in that layout, or as flat rows"
            )
        return rows

    def _threads(self, *, network: bool = True):
        """The fitted estimator's torch threads (``n_jobs``) around a block that runs its network."""
        # the fitted network's sizes, whatever set_params changed since
        return torch_threads(estimator_threads(self._as_fitted(), self.n_features_in_ if network else None))

    def inverse_transform(self, X):
        """Decode codes back to rows in the original units of the training data.

        An ndarray (float32 for float32 codes, else float64); with ``set_output(transform="pandas")``
        (or ``"polars"``) a DataFrame whose columns are the fitted feature names (``x0``, ``x1``, ...
        when the training data had none), a pandas one indexed like ``X`` when that is a pandas
        DataFrame."""
        from sklearn.utils._set_output import _get_container_adapter

        far = FarCodes(self)
        rows = self._decoded(X, far)
        far.warn()
        adapter = _get_container_adapter("transform", self)
        if adapter is None:
            return rows
        names = getattr(self, "feature_names_in_", None)
        columns = [str(c) for c in names] if names is not None else [f"x{i}" for i in range(rows.shape[1])]
        # scikit-learn's own container: pandas keeps a pandas X's index; ``rows`` is ours, wrapped uncopied
        return adapter.create_container(rows, X, columns, inplace=True)

    def _decoded(self, X, far: FarCodes | None = None) -> np.ndarray:
        """``inverse_transform``'s rows as an ndarray whatever ``set_output`` says (what the library's
        own scores and figures use, on codes of rows); codes far outside the fitted rows' are counted
        into ``far`` when given."""
        check_is_fitted(self)
        source = as_source(X)
        given = (source.feature_names if source is not None else None) or getattr(X, "columns", ())
        given, names = [str(c) for c in given], [str(c) for c in self.get_feature_names_out()]
        if given != names and sorted(given) == sorted(names):  # the codes' own names, out of order
            what, fix = ("X", f"pass X[{names}]") if source is None else (source.name, f"write them as {names}")
            raise ValueError(
                f"{what}'s code columns come in another order than this model's: {fix} (columns in the order "
                "transform wrote them)"
            )
        if source is not None:  # codes on disk: decoded a block at a time (the rows come back in memory)
            if source.shape[1] != self._n_features_out:
                raise ValueError(
                    f"{source.name} has {plural(source.shape[1], 'column')} but this autoencoder's codes have "
                    f"{plural(self._n_features_out, 'column')}"
                )
            n, block = source.shape[0], max(1, DECODED_BLOCK_BYTES // (8 * self.n_features_in_))
            return np.concatenate(
                [self._decoded_block(source, a, min(a + block, n), far) for a in range(0, max(n, 1), block)]
            )
        X = as_rows(X)
        refuse_complex(X)
        refuse_text(X)
        check_code_columns(X, names)
        if np.ndim(X) == 1:  # scikit-learn's message prints the whole array
            raise ValueError(one_dimensional_words(X, one="code column"))
        Z = check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=False, input_name="X")
        check_finite(Z)
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {plural(Z.shape[1], 'column')} but this autoencoder's codes have "
                f"{plural(self._n_features_out, 'column')}"
            )
        if far is not None:
            far.add(Z)
        # float32 codes give float32 rows, as PCA keeps the input's type
        return decode(self, Z).astype(Z.dtype, copy=False)

    def _decoded_block(self, source: RowSource, start: int, stop: int, far: FarCodes | None) -> np.ndarray:
        """Rows ``start:stop`` of the codes on disk ``source``, decoded; a code that is not a finite
        number is named by its row in the file."""
        Z = source.read(start, stop)  # float32, the network's own type
        check_finite_rows(Z, source.name, start, source)
        if getattr(source, "dtype", None) != np.float32:  # float64 rows, undone from the scaling as in memory
            Z = Z.astype(np.float64)
        return self._decoded(Z, far)

    def save(self, path, *, overwrite=False):
        """Write the fitted model to folder ``path``: ``config.json`` + ``weights.safetensors``.

        Data only, never pickled code; read it back with :func:`aedr.load`.
        See :func:`aedr.persistence.save`.
        """
        from aedr.persistence import save

        return save(self, path, overwrite=overwrite)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error, in the original units (rows on disk are read a
        batch at a time).

        Columns in large units weigh the most: a ``GridSearchCV`` or ``cross_val_score`` on columns of
        unlike units chooses by them (breast cancer's two area columns hold 98% of the error). Put a
        ``StandardScaler`` before the autoencoder in a ``Pipeline`` to score every column alike. The
        string scorers of a predictor (``"neg_mean_squared_error"``, ``"r2"``) do not apply to a
        transformer: leave ``scoring`` out, or pass a callable ``scoring(estimator, X, y)``. The score is the
        reconstruction alone: a search over a neighbour model's settings (``perplexity``,
        ``neighbor_weight``) that should weigh its neighbourhoods passes one, e.g.
        ``scoring=lambda est, X, y=None: aedr.metrics.trustworthiness(X, est.transform(X))``.
        """
        check_is_fitted(self)
        source = as_source(X)
        if source is not None:
            validate_source(self, source, reset=False)
            error = squared_error(source, lambda rows: reconstruct(self, rows), name=source.name)
            return -error / (source.shape[0] * source.shape[1])
        X_checked = validate_rows(self, self._flat_rows(X), reset=False)  # its warnings given once
        check_prepared_alike(self, X_checked)
        if sp.issparse(X_checked):  # a batch at a time, never the whole matrix dense
            error = squared_error(X_checked, lambda rows: reconstruct(self, rows))
            return -error / (X_checked.shape[0] * X_checked.shape[1])
        return -float(np.mean((X_checked.astype(np.float64) - reconstruct(self, X_checked)) ** 2))

    def evaluate(self, X, y=None, *, n_neighbors=10):
        """Reconstruction error and neighbourhood scores of the codes of ``X`` (with labels ``y``, also
        5-NN accuracy and silhouette over the labelled rows) in one dict, on every row; see
        :func:`aedr.metrics.evaluate_embedding`, which ``aedr evaluate`` applies to a sample of at most
        5,000 rows.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = Autoencoder(max_iter=5, random_state=0).fit(X)
        >>> sorted(ae.evaluate(X, y))
        ['continuity', 'knn_accuracy', 'reconstruction_mse', 'silhouette', 'trustworthiness']
        """
        from aedr.metrics import evaluate_embedding

        source = as_source(X)
        if source is not None and not isinstance(X, np.ndarray):  # a file: the scores need every row in memory
            X = _in_memory(source)
        Z = self.transform(X)  # validates X
        X_rows = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64).reshape(len(Z), -1)
        return evaluate_embedding(X_rows, Z, y, self._decoded(Z), n_neighbors=n_neighbors)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]  # the network computes in float32
        return tags
