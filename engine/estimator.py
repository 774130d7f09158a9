"""`SONNClassifier`: the SONN as a scikit-learn estimator (fit / partial_fit / predict).

The same engine as `snnpipe train`, another face: the hyperparameters are the Config fields
(except `columns` and `receptors`, which come from the data), plus `max_samples` (the
training budget), `random_state`, and `levels`/`sampling` as in Config. No I/O here: saving
and loading go through `snnpipe.stores.checkpoint` (`save_estimator` / `load_estimator`).

Input: X is (n, d) or (n, h, w); integers are intensities 0..255, floats are taken as
intensities in [0, 1] and scaled to 0..255 (bool: 0 or 255). So an image-like array works
as is, and anything else belongs behind a `MinMaxScaler`. Floats outside [0, 1] (pixels
0..255 as floats, standardised data) are clipped to it with a `DataConversionWarning`
saying so, never silently: divide 0..255 floats by 255 (or cast them to uint8).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .config import Config
from .encoding import planes_from_pixels
from .network import Network
from .trainer import Trainer, decided_correct

# Config fields that are hyperparameters here (columns and receptors come from the data).
HYPERPARAMETERS = tuple(f for f in Config.field_names() if f not in ("columns", "receptors"))
DEFAULT_EPOCHS = 10        # max_samples=None: ten passes over the training data


def _flat(X):
    """(n, h, w) -> (n, h * w); anything else is left for scikit-learn's validation."""
    return X.reshape(X.shape[0], -1) if getattr(X, "ndim", 2) > 2 else X


def to_intensities(X: np.ndarray) -> np.ndarray:
    """(n, ...) numbers -> (n, d) uint8 intensities (see the module docstring)."""
    X = np.asarray(X)
    X = X.reshape(X.shape[0], -1)
    if X.dtype == np.bool_:
        return np.where(X, 255, 0).astype(np.uint8)
    if np.issubdtype(X.dtype, np.integer):
        if X.size and (X.min() < 0 or X.max() > 255):
            raise ValueError(f"integer intensities must lie in 0..255, got {X.min()}..{X.max()}"
                             "; pass floats in [0, 1] or rescale")
        return X.astype(np.uint8)
    X = X.astype(np.float64)
    if X.size and (X.min() < 0.0 or X.max() > 1.0):
        import warnings

        from sklearn.exceptions import DataConversionWarning
        warnings.warn(f"float intensities must lie in [0, 1], got {X.min():g}..{X.max():g}: "
                      "clipped to [0, 1]. Divide 0..255 pixels by 255 (or cast them to "
                      "uint8); put other data behind a MinMaxScaler", DataConversionWarning,
                      stacklevel=3)
    return np.rint(np.clip(X, 0.0, 1.0) * 255).astype(np.uint8)


_D = Config()    # every hyperparameter's default is the engine's: written once, in Config


class SONNClassifier(ClassifierMixin, BaseEstimator):
    """D𝜋's Self-Organised Neural Network; defaults are his 98.65 % MNIST configuration."""

    def __init__(self, neurons=_D.neurons, slots=_D.slots, levels=_D.levels,
                 spike_threshold=_D.spike_threshold, learn_low=_D.learn_low,
                 learn_high=_D.learn_high, prune_below=_D.prune_below,
                 new_weight_divisor=_D.new_weight_divisor,
                 reinforce_positive=_D.reinforce_positive,
                 reinforce_negative=_D.reinforce_negative, grow_count=_D.grow_count,
                 decay_amount=_D.decay_amount, decay_every=_D.decay_every,
                 batch_size=_D.batch_size, positive_up=_D.positive_up,
                 positive_down=_D.positive_down, positive_denominator=_D.positive_denominator,
                 negative_up=_D.negative_up, negative_down=_D.negative_down,
                 negative_denominator=_D.negative_denominator,
                 prime_forced_positive=_D.prime_forced_positive,
                 prime_negative_cap=_D.prime_negative_cap, quantilizer=_D.quantilizer,
                 generator=_D.generator, growth=_D.growth, sampling=_D.sampling,
                 anneal_steps=_D.anneal_steps, anneal_start=_D.anneal_start,
                 max_samples=None, random_state=None):
        self.neurons = neurons
        self.slots = slots
        self.levels = levels
        self.spike_threshold = spike_threshold
        self.learn_low = learn_low
        self.learn_high = learn_high
        self.prune_below = prune_below
        self.new_weight_divisor = new_weight_divisor
        self.reinforce_positive = reinforce_positive
        self.reinforce_negative = reinforce_negative
        self.grow_count = grow_count
        self.decay_amount = decay_amount
        self.decay_every = decay_every
        self.batch_size = batch_size
        self.positive_up = positive_up
        self.positive_down = positive_down
        self.positive_denominator = positive_denominator
        self.negative_up = negative_up
        self.negative_down = negative_down
        self.negative_denominator = negative_denominator
        self.prime_forced_positive = prime_forced_positive
        self.prime_negative_cap = prime_negative_cap
        self.quantilizer = quantilizer
        self.generator = generator
        self.growth = growth
        self.sampling = sampling
        self.anneal_steps = anneal_steps
        self.anneal_start = anneal_start
        self.max_samples = max_samples
        self.random_state = random_state

    # ------------------------------------------------------------------ the engine
    def make_config(self, n_classes: int, n_features: int) -> Config:
        """The engine's Config for these hyperparameters and this data's shape."""
        values = {name: getattr(self, name) for name in HYPERPARAMETERS}
        # numpy values as Python ones (GridSearchCV hands out np.int64); 192.5 stays 192.5,
        # so Config refuses it instead of truncating it
        values = {k: v.item() if isinstance(v, np.generic) else v for k, v in values.items()}
        values["levels"] = tuple(v.item() if isinstance(v, np.generic) else v
                                 for v in np.atleast_1d(np.asarray(values["levels"],
                                                                   dtype=object)))
        return Config(columns=max(n_classes, 2), receptors=n_features, **values)

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(np.random.default_rng().integers(2**63))
        if isinstance(rs, np.random.RandomState | np.random.Generator):
            return int(rs.integers(2**63) if isinstance(rs, np.random.Generator)
                       else rs.randint(2**31))
        return int(rs)

    def _encode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pixels = np.ascontiguousarray(to_intensities(X))
        return pixels, planes_from_pixels(pixels, self.trainer_.cfg.levels)

    def _columns(self, y: np.ndarray) -> np.ndarray:
        cols = np.searchsorted(self.classes_, y)
        cols = np.clip(cols, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[cols], y):
            unknown = sorted(set(np.asarray(y).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"labels {unknown[:5]} are not among classes_; pass every class "
                             "to the first partial_fit(classes=...)")
        return cols.astype(np.int64)

    def _start(self, classes: np.ndarray, n_features: int) -> None:
        self.classes_ = np.asarray(classes)
        self.n_features_in_ = n_features
        cfg = self.make_config(len(self.classes_), n_features)
        self.trainer_ = Trainer(cfg, seed=self._seed())

    def _train(self, X, y, budget: int) -> None:
        pixels, planes = self._encode(X)
        labels = self._columns(y)
        tr = self.trainer_
        target = tr.state.samples_seen + budget
        while tr.state.samples_seen < target:
            tr.train_epoch(planes, pixels, labels,
                           lambda n: tr.state.samples_seen < target)

    # ------------------------------------------------------------- scikit-learn API
    def fit(self, X, y):
        """Train a fresh network on (X, y) for `max_samples` samples (default: 10 passes)."""
        X, y = validate_data(self, _flat(X), y, dtype=None)
        check_classification_targets(y)
        classes = np.unique(y)
        self._start(classes, X.shape[1])
        budget = self.max_samples if self.max_samples is not None else DEFAULT_EPOCHS * len(y)
        if budget < 1:
            raise ValueError(f"max_samples must be >= 1, got {self.max_samples}")
        self._train(X, y, budget)
        return self

    def partial_fit(self, X, y, classes=None):
        """One pass over (X, y), continuing the same network (online learning)."""
        first = not hasattr(self, "trainer_")
        X, y = validate_data(self, _flat(X), y, dtype=None, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("the first partial_fit needs classes=[...] (every label)")
            self._start(np.unique(classes), X.shape[1])
        self.trainer_.state.cursor = 0       # each call is its own pass over its own data
        self._train(X, y, len(y))
        return self

    def decision_function(self, X) -> np.ndarray:
        """The spike counts, (n, n_classes); for two classes count[1] - count[0]."""
        counts = self.spike_counts(X)
        if len(self.classes_) == 2:
            return (counts[:, 1] - counts[:, 0]).astype(np.float64)
        return counts.astype(np.float64)

    def spike_counts(self, X) -> np.ndarray:
        """(n, columns) int64 spike counts of every class column."""
        check_is_fitted(self)
        X = validate_data(self, _flat(X), dtype=None, reset=False)
        _, planes = self._encode(X)
        counts = self.trainer_.net.spike_counts(planes)
        return counts[:, :len(self.classes_)]

    def predict(self, X) -> np.ndarray:
        """The class with the most spikes (on a tie, the first of the tied classes)."""
        counts = self.spike_counts(X)
        return self.classes_[np.argmax(counts, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy, with a tie at the top counted as a miss (as everywhere in snnpipe)."""
        counts = self.spike_counts(X)
        y = np.asarray(y)
        known = np.isin(y, self.classes_)
        cols = np.where(known, np.searchsorted(self.classes_, y).clip(0, len(self.classes_) - 1),
                        0)
        correct, _ = decided_correct(counts, cols)
        correct &= known
        return float(np.average(correct, weights=sample_weight))

    # ------------------------------------------------------------ state for stores/
    @property
    def network_(self) -> Network:
        check_is_fitted(self)
        return self.trainer_.net

    @classmethod
    def from_trainer(cls, trainer: Trainer, classes) -> SONNClassifier:
        """A fitted estimator around an existing trainer (e.g. loaded from a checkpoint)."""
        cfg = trainer.cfg
        est = cls(**{name: getattr(cfg, name) for name in HYPERPARAMETERS})
        est.classes_ = np.asarray(classes)
        est.n_features_in_ = cfg.receptors
        est.trainer_ = trainer
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        # The SONN reads intensities: scikit-learn's check data (make_blobs: 2 features, mostly
        # negative floats, clipped to 0 here, with a warning) leaves it a receptor or two of
        # signal, so it cannot promise the checks' 83 % accuracy. Every other assertion runs.
        tags.classifier_tags.poor_score = True
        return tags
