"""Keras 3's loss functions (``keras.losses.mean_squared_error`` ...): fn(y_true, y_pred, **options) -> the
unreduced loss, one value per sample (shape y_pred.shape[:-1]; Dice / Tversky with axis=None: one number).

Each evaluates its loss class's ``call`` on the same inputs (y_pred of float32 / float64 keeps its dtype,
others become float32; y_true is cast to it; a trailing axis of size 1 is squeezed as Keras does). They are
also what MeanMetricWrapper averages for the metrics of the same names.

Example:
    >>> pynn.losses.mean_squared_error([[0., 1.], [0., 0.]], [[1., 1.], [1., 0.]])
    array([0.5, 0.5])
"""
import numpy as np

from pynn.losses.focal import BinaryFocalCrossentropy, CategoricalFocalCrossentropy
from pynn.losses.overlap import Dice, Tversky
from pynn.losses.probabilistic import (
    BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson, SparseCategoricalCrossentropy,
)
from pynn.losses.regression import (
    CategoricalHinge, CosineSimilarity, Hinge, Huber, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredError, MeanSquaredLogarithmicError, SquaredHinge,
)


def _per_sample(loss, y_true, y_pred):
    from pynn.ops.tensor import Tensor, recording, value_of
    traced = isinstance(y_pred, Tensor) and y_pred._traced and recording()
    prediction = y_pred
    y_true, y_pred = loss._prepare(value_of(y_true), value_of(y_pred))
    if not traced:
        return np.asarray(loss.call(y_true, y_pred), dtype=y_pred.dtype)
    values, grad = loss.call_and_gradient(y_true, y_pred)     # per sample, and d values / d y_pred
    shape = prediction.shape

    def vjp(g):
        g = np.asarray(g)
        return ((grad * g.reshape(g.shape + (1,) * (grad.ndim - g.ndim))).reshape(shape),)
    return Tensor(np.asarray(values, y_pred.dtype), (prediction,), vjp, loss.name, traced=True)


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2, axis=-1)."""
    return _per_sample(MeanSquaredError(), y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1)."""
    return _per_sample(MeanAbsoluteError(), y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7), axis=-1)."""
    return _per_sample(MeanAbsolutePercentageError(), y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1))^2, axis=-1)."""
    return _per_sample(MeanSquaredLogarithmicError(), y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1), e = y_pred - y_true."""
    return _per_sample(Huber(delta=delta), y_true, y_pred)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true)), axis=-1)."""
    return _per_sample(LogCosh(), y_true, y_pred)


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0), axis=-1); 0 / 1 labels become -1 / 1."""
    return _per_sample(Hinge(), y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)^2, axis=-1); 0 / 1 labels become -1 / 1."""
    return _per_sample(SquaredHinge(), y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred, -1) - sum(y_true * y_pred, -1) + 1, 0)."""
    return _per_sample(CategoricalHinge(), y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)."""
    return _per_sample(CosineSimilarity(axis=axis), y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """sum(t log(t / c), axis=-1), t = clip(y_true, 1e-7, 1), c = clip(y_pred, 1e-7, 1)."""
    return _per_sample(KLDivergence(), y_true, y_pred)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)."""
    return _per_sample(Poisson(), y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(-(y log c + (1 - y) log(1 - c)), axis), c = clip(y_pred, 1e-7, 1 - 1e-7) (see BinaryCrossentropy)."""
    return _per_sample(BinaryCrossentropy(from_logits, label_smoothing, axis), y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y log(clip(p / sum(p), 1e-7, 1 - 1e-7)), axis) (see CategoricalCrossentropy)."""
    return _per_sample(CategoricalCrossentropy(from_logits, label_smoothing, axis), y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """-log(clip(p[label] / sum(p), 1e-7, 1 - 1e-7)); 0 where the label is ignore_class."""
    if axis not in (-1, np.ndim(y_pred) - 1):
        y_pred = np.moveaxis(np.asarray(y_pred), axis, -1)
    return _per_sample(SparseCategoricalCrossentropy(from_logits, ignore_class), y_true, y_pred)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(w (1 - p_t)^gamma bce, axis) (see BinaryFocalCrossentropy)."""
    loss = BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits, label_smoothing, axis)
    return _per_sample(loss, y_true, y_pred)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """sum(alpha (1 - o)^gamma (-y log o), axis) (see CategoricalFocalCrossentropy)."""
    loss = CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing, axis)
    return _per_sample(loss, y_true, y_pred)


def dice(y_true, y_pred, axis=None):
    """1 - 2 sum(t p) / (sum(t) + sum(p) + 1e-7), sums over axis (None: all)."""
    return _per_sample(Dice(axis=axis), y_true, y_pred)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - I / (I + alpha FP + beta FN + 1e-7) (see Tversky)."""
    return _per_sample(Tversky(alpha=alpha, beta=beta, axis=axis), y_true, y_pred)


# tf.keras's short names (Keras 3 keeps them as legacy aliases).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

FUNCTIONS = {fn.__name__: fn for fn in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error, mean_squared_logarithmic_error, huber,
    log_cosh, hinge, squared_hinge, categorical_hinge, cosine_similarity, kl_divergence, poisson,
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy, binary_focal_crossentropy,
    categorical_focal_crossentropy, dice, tversky)}
