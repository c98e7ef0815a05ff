"""Keras 3's other losses (LogCosh, MeanAbsolutePercentageError, SquaredHinge, CategoricalHinge, the focal
cross-entropies, Dice, Tversky), the lowercase loss functions and their string names: values against NumPy
transcriptions of keras/src/losses/losses.py, gradients against central differences in float64, Keras itself
when importable, and a model trained with each name."""
import os

import numpy as np
import pytest

import pynn
from pynn import layers, losses

EPS = 1e-7


# ---- NumPy transcriptions of Keras 3.15's loss functions -------------------------------------------------------
def np_hinge_labels(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def np_bce(y, p):
    c = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(c) + (1 - y) * np.log(1 - c))


def np_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def np_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def np_binary_focal(y, p, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                    label_smoothing=0.0, axis=-1):
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        p = np_sigmoid(p)
    bce = np_bce(y, p)
    p_t = y * p + (1 - y) * (1 - p)
    focal = (1 - p_t) ** gamma * bce
    if apply_class_balancing:
        focal = (y * alpha + (1 - y) * (1 - alpha)) * focal
    return np.mean(focal, axis=axis)


def np_categorical_focal(y, p, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1):
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / y.shape[-1]
    if from_logits:
        p = np_softmax(p, axis)
    o = np.clip(p / p.sum(axis, keepdims=True), EPS, 1 - EPS)
    return np.sum(alpha * (1 - o) ** gamma * (-y * np.log(o)), axis=axis)


def np_dice(y, p, axis=None):
    return 1 - 2 * np.sum(y * p, axis=axis) / (np.sum(y, axis=axis) + np.sum(p, axis=axis) + EPS)


def np_tversky(y, p, alpha=0.5, beta=0.5, axis=None):
    i = np.sum(y * p, axis=axis)
    fp = np.sum((1 - p) * y, axis=axis)
    fn = np.sum(p * (1 - y), axis=axis)
    return 1 - i / (i + fp * alpha + fn * beta + EPS)


NUMPY = {
    "mape": lambda y, p: 100 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), EPS)), -1),
    "log_cosh": lambda y, p: np.mean(np.log(np.cosh(p - y)), -1),
    "squared_hinge": lambda y, p: np.mean(np.maximum(1 - np_hinge_labels(y) * p, 0) ** 2, -1),
    "categorical_hinge": lambda y, p: np.maximum(np.max((1 - y) * p, -1) - np.sum(y * p, -1) + 1, 0),
    "binary_focal_crossentropy": np_binary_focal,
    "categorical_focal_crossentropy": np_categorical_focal,
    "dice": np_dice,
    "tversky": np_tversky,
}

# name: (class, keyword arguments, y_true kind, y_pred kind)
CONFIGS = [
    ("mape", losses.MeanAbsolutePercentageError, {}, "real", "real"),
    ("log_cosh", losses.LogCosh, {}, "real", "real"),
    ("squared_hinge", losses.SquaredHinge, {}, "binary", "real"),
    ("squared_hinge", losses.SquaredHinge, {}, "real", "real"),
    ("categorical_hinge", losses.CategoricalHinge, {}, "onehot", "real"),
    ("binary_focal_crossentropy", losses.BinaryFocalCrossentropy, {}, "binary", "prob"),
    ("binary_focal_crossentropy", losses.BinaryFocalCrossentropy,
     {"apply_class_balancing": True, "alpha": 0.4, "gamma": 3.0, "label_smoothing": 0.1}, "binary", "prob"),
    ("binary_focal_crossentropy", losses.BinaryFocalCrossentropy, {"from_logits": True, "gamma": 1.5},
     "binary", "real"),
    ("binary_focal_crossentropy", losses.BinaryFocalCrossentropy, {"gamma": 0.0, "axis": 1}, "binary", "prob"),
    ("categorical_focal_crossentropy", losses.CategoricalFocalCrossentropy, {}, "onehot", "prob"),
    ("categorical_focal_crossentropy", losses.CategoricalFocalCrossentropy,
     {"alpha": [0.1, 0.2, 0.3, 0.4], "gamma": 1.5, "label_smoothing": 0.2}, "onehot", "prob"),
    ("categorical_focal_crossentropy", losses.CategoricalFocalCrossentropy, {"from_logits": True, "gamma": 0.0},
     "onehot", "real"),
    ("dice", losses.Dice, {}, "binary", "prob"),
    ("dice", losses.Dice, {"axis": -1}, "binary", "prob"),
    ("tversky", losses.Tversky, {"alpha": 0.3, "beta": 0.7}, "binary", "prob"),
    ("tversky", losses.Tversky, {"alpha": 0.7, "beta": 0.2, "axis": 1}, "binary", "prob"),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CONFIGS)]


def make(kind, rng, shape, dtype=np.float64):
    if kind == "real":
        x = rng.normal(size=shape)
    elif kind == "prob":
        x = rng.uniform(0.05, 0.95, size=shape)
    elif kind == "binary":
        x = (rng.random(shape) > 0.5).astype(float)
    else:  # one-hot over the last axis
        x = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    return x.astype(dtype)


def keras_reduce(values, sample_weight, reduction):
    """Keras's reduce_weighted_values (no mask): values * weights (a scalar loss times per-sample weights is
    an array), then sum / size, sum, sum / sum(weights) or nothing."""
    values = np.asarray(values, dtype=np.float64)
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        weights = weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))
        values = values * weights
    if reduction in ("none", None) or values.ndim == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return total / np.sum(sample_weight)
    return total / values.size


def numeric_gradient(f, p, h=1e-6):
    grad = np.zeros_like(p)
    for index in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 4)])
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none", "mean_with_sample_weight"])
@pytest.mark.parametrize("weighted", [False, True])
def test_value_matches_keras_formula(config, shape, reduction, weighted, rng):
    name, cls, kw, ykind, pkind = config
    y, p = make(ykind, rng, shape), make(pkind, rng, shape)
    sw = rng.uniform(0.1, 2, size=shape[0]) if weighted else None
    got = cls(reduction=reduction, **kw)(y, p, sample_weight=sw)
    want = keras_reduce(NUMPY[name](y, p, **kw), sw, reduction)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none", "mean_with_sample_weight"])
def test_gradient_matches_finite_differences(config, reduction, rng):
    """value_and_gradient's gradient (of the sum, for "none") against central differences, in float64."""
    name, cls, kw, ykind, pkind = config
    loss = cls(reduction=reduction, **kw)
    y, p = make(ykind, rng, (3, 4)), make(pkind, rng, (3, 4))
    sw = rng.uniform(0.2, 2, size=3)
    value, grad = loss.value_and_gradient(y, p, sample_weight=sw)
    np.testing.assert_allclose(value, loss(y, p, sample_weight=sw), rtol=1e-14)
    assert grad.shape == p.shape and grad.dtype == np.float64
    numeric = numeric_gradient(lambda q: float(np.sum(loss(y, q, sample_weight=sw))), p)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls,kw", [(losses.Dice, {"axis": (1, 2)}), (losses.Tversky, {"axis": (1, 2), "beta": 0.8}),
                                    (losses.BinaryFocalCrossentropy, {"axis": 1, "from_logits": True})])
def test_gradient_over_several_axes(cls, kw, rng):
    loss = cls(**kw)
    y = make("binary", rng, (3, 2, 4))
    p = make("real" if kw.get("from_logits") else "prob", rng, (3, 2, 4))
    sw = rng.uniform(0.2, 2, size=3)
    _, grad = loss.value_and_gradient(y, p, sample_weight=sw)
    np.testing.assert_allclose(grad, numeric_gradient(lambda q: float(loss(y, q, sample_weight=sw)), p),
                               rtol=1e-6, atol=1e-7)


def test_clip_edges_of_binary_losses():
    """Probabilities at and beyond the clip [1e-7, 1 - 1e-7]: one clip of y_pred, as Keras (the gradient is
    kept at the boundary, 0 beyond it)."""
    y = np.array([[0.0, 1.0, 1.0, 0.0]])
    p = np.array([[1 - EPS, 1e-9, EPS, 1.0]])
    for loss in (losses.BinaryCrossentropy(), losses.BinaryFocalCrossentropy(gamma=0.0)):
        _, grad = loss.value_and_gradient(y, p)
        np.testing.assert_allclose(grad[0, :3], [1 / EPS / 4, 0.0, -1 / EPS / 4], rtol=1e-6)
        assert grad[0, 3] == 0.0


def test_float32_keeps_dtype(rng):
    for name, cls, kw, ykind, pkind in CONFIGS:
        y, p = make(ykind, rng, (4, 4), np.float32), make(pkind, rng, (4, 4), np.float32)
        value, grad = cls(**kw).value_and_gradient(y, p)
        assert value.dtype == np.float32 and grad.dtype == np.float32, name
        want = keras_reduce(NUMPY[name](y.astype(float), p.astype(float), **kw), None, "mean")
        np.testing.assert_allclose(value, want, rtol=2e-5)


# ---- the lowercase functions ---------------------------------------------------------------------------------
FUNCTIONS = {  # function: (NumPy transcription, y_true kind, y_pred kind)
    "mean_squared_error": (lambda y, p: np.mean((y - p) ** 2, -1), "real", "real"),
    "mean_absolute_error": (lambda y, p: np.mean(np.abs(y - p), -1), "real", "real"),
    "mean_absolute_percentage_error": (NUMPY["mape"], "real", "real"),
    "mean_squared_logarithmic_error": (
        lambda y, p: np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2, -1),
        "prob", "prob"),
    "huber": (lambda y, p: np.mean(np.where(np.abs(p - y) <= 1, 0.5 * (p - y) ** 2, np.abs(p - y) - 0.5), -1),
              "real", "real"),
    "log_cosh": (NUMPY["log_cosh"], "real", "real"),
    "hinge": (lambda y, p: np.mean(np.maximum(1 - np_hinge_labels(y) * p, 0), -1), "binary", "real"),
    "squared_hinge": (NUMPY["squared_hinge"], "binary", "real"),
    "categorical_hinge": (NUMPY["categorical_hinge"], "onehot", "real"),
    "cosine_similarity": (lambda y, p: -np.sum(y / np.linalg.norm(y, axis=-1, keepdims=True)
                                               * p / np.linalg.norm(p, axis=-1, keepdims=True), -1), "real", "real"),
    "kl_divergence": (lambda y, p: np.sum(np.clip(y, EPS, 1) * np.log(np.clip(y, EPS, 1) / np.clip(p, EPS, 1)), -1),
                      "prob", "prob"),
    "poisson": (lambda y, p: np.mean(p - y * np.log(p + EPS), -1), "prob", "prob"),
    "binary_crossentropy": (lambda y, p: np.mean(np_bce(y, p), -1), "binary", "prob"),
    "categorical_crossentropy": (lambda y, p: -np.sum(y * np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)),
                                                      -1), "onehot", "prob"),
    "binary_focal_crossentropy": (np_binary_focal, "binary", "prob"),
    "categorical_focal_crossentropy": (np_categorical_focal, "onehot", "prob"),
    "dice": (np_dice, "binary", "prob"),
    "tversky": (np_tversky, "binary", "prob"),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4)])
def test_functions_return_per_sample_values(name, shape, rng):
    transcription, ykind, pkind = FUNCTIONS[name]
    y, p = make(ykind, rng, shape), make(pkind, rng, shape)
    got = getattr(losses, name)(y, p)
    want = transcription(y, p)
    assert got.shape == np.shape(want) == (() if name in ("dice", "tversky") else shape[:-1])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_function_options_and_aliases(rng):
    y, z = make("binary", rng, (5, 3)), make("real", rng, (5, 3))
    np.testing.assert_allclose(losses.binary_crossentropy(y, z, from_logits=True, label_smoothing=0.2, axis=0),
                               np.mean(np_bce(y * 0.8 + 0.1, np_sigmoid(z)), 0), rtol=1e-6)
    labels = rng.integers(0, 3, size=5)
    probs = np_softmax(z)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, z, from_logits=True),
                               -np.log(probs[np.arange(5), labels]), rtol=1e-12)
    ignored = losses.sparse_categorical_crossentropy(labels, probs, ignore_class=1)
    np.testing.assert_allclose(ignored, np.where(labels == 1, 0, -np.log(probs[np.arange(5), labels])), rtol=1e-12)
    np.testing.assert_allclose(losses.huber(y, z, delta=0.5),
                               np.mean(np.where(np.abs(z - y) <= 0.5, 0.5 * (z - y) ** 2, 0.5 * np.abs(z - y) - 0.125),
                                       -1), rtol=1e-12)
    np.testing.assert_allclose(losses.tversky(y, probs, alpha=0.2, beta=0.9, axis=-1),
                               np_tversky(y, probs, 0.2, 0.9, -1), rtol=1e-12)
    assert losses.mse is losses.mean_squared_error and losses.mape is losses.mean_absolute_percentage_error
    assert losses.msle is losses.mean_squared_logarithmic_error and losses.kld is losses.kl_divergence


# ---- names, get, configs ---------------------------------------------------------------------------------------
KERAS_NAMES = {
    "mape": losses.MeanAbsolutePercentageError, "MAPE": losses.MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError, "log_cosh": losses.LogCosh,
    "squared_hinge": losses.SquaredHinge, "categorical_hinge": losses.CategoricalHinge,
    "binary_focal_crossentropy": losses.BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": losses.CategoricalFocalCrossentropy, "dice": losses.Dice,
    "tversky": losses.Tversky, "bce": losses.BinaryCrossentropy, "BCE": losses.BinaryCrossentropy,
    "MSE": losses.MeanSquaredError, "MAE": losses.MeanAbsoluteError, "MSLE": losses.MeanSquaredLogarithmicError,
    "KLD": losses.KLDivergence, "LogCosh": losses.LogCosh, "Dice": losses.Dice, "Tversky": losses.Tversky,
    "SquaredHinge": losses.SquaredHinge, "CategoricalHinge": losses.CategoricalHinge,
    "BinaryFocalCrossentropy": losses.BinaryFocalCrossentropy,
    "CategoricalFocalCrossentropy": losses.CategoricalFocalCrossentropy,
    "MeanAbsolutePercentageError": losses.MeanAbsolutePercentageError,
}


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_string_names(name):
    assert type(losses.get(name)) is KERAS_NAMES[name]


def test_defaults_and_config_round_trip():
    assert losses.LogCosh().name == "log_cosh" and losses.SquaredHinge().name == "squared_hinge"
    assert losses.MeanAbsolutePercentageError().name == "mean_absolute_percentage_error"
    focal = losses.BinaryFocalCrossentropy()
    assert (focal.apply_class_balancing, focal.alpha, focal.gamma, focal.from_logits, focal.label_smoothing,
            focal.axis) == (False, 0.25, 2.0, False, 0.0, -1)
    assert losses.CategoricalFocalCrossentropy().name == "categorical_focal_crossentropy"
    assert losses.Dice().axis is None and (losses.Tversky().alpha, losses.Tversky().beta) == (0.5, 0.5)
    for loss in (losses.BinaryFocalCrossentropy(True, 0.3, 1.0, True, 0.1, 1, reduction="sum"),
                 losses.CategoricalFocalCrossentropy(alpha=[0.2, 0.8], gamma=1.0), losses.Dice(axis=[1, 2]),
                 losses.Tversky(0.1, 0.9, axis=(1,)), losses.LogCosh(name="lc")):
        clone = losses.get(losses.serialize(loss))
        assert type(clone) is type(loss) and clone.get_config() == loss.get_config()


def test_functions_resolve_to_exact_losses(rng):
    """get(pynn.losses.fn) and LossFunctionWrapper(fn, **options) use the class's exact gradient."""
    assert type(losses.get(losses.dice)) is losses.Dice
    assert type(losses.get(losses.log_cosh)) is losses.LogCosh
    wrapper = losses.LossFunctionWrapper(losses.binary_focal_crossentropy, gamma=3.0, from_logits=True)
    y, z = make("binary", rng, (4, 3)), make("real", rng, (4, 3))
    value, grad = wrapper.value_and_gradient(y, z)
    exact_value, exact_grad = losses.BinaryFocalCrossentropy(gamma=3.0, from_logits=True).value_and_gradient(y, z)
    assert value == exact_value
    np.testing.assert_array_equal(grad, exact_grad)
    labels = rng.integers(0, 3, size=4)
    sparse = losses.LossFunctionWrapper(losses.sparse_categorical_crossentropy, from_logits=True)
    assert sparse(labels, z) == pytest.approx(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, z))


# ---- a model trained with each name ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,activation,units,target", [
    ("mape", None, 1, "positive"), ("log_cosh", None, 1, "binary"), ("squared_hinge", "tanh", 1, "binary"),
    ("categorical_hinge", None, 3, "onehot"), ("binary_focal_crossentropy", "sigmoid", 1, "binary"),
    ("categorical_focal_crossentropy", "softmax", 3, "onehot"), ("dice", "sigmoid", 1, "binary"),
    ("tversky", "sigmoid", 1, "binary"), ("MAPE", None, 1, "positive"), ("bce", "sigmoid", 1, "binary"),
])
def test_model_trains_with_each_loss_name(name, activation, units, target, rng):
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = {"binary": (rng.random((24, 1)) > 0.5).astype(np.float32),
         "positive": rng.uniform(1, 2, (24, 1)).astype(np.float32),
         "onehot": np.eye(3, dtype=np.float32)[rng.integers(0, 3, 24)]}[target]
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=name)
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.evaluate(x, y, verbose=0) < before
    assert type(model.loss) is losses.get(name).__class__


# ---- Keras itself, when installed ------------------------------------------------------------------------------
@pytest.fixture
def keras64():
    if "KERAS_BACKEND" not in os.environ:
        pytest.importorskip("torch")
        os.environ["KERAS_BACKEND"] = "torch"
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras comparison runs on the torch backend")
    before = keras.config.floatx()
    keras.config.set_floatx("float64")
    yield keras
    keras.config.set_floatx(before)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "none"])
def test_against_keras(config, reduction, keras64, rng):
    """Value and gradient (torch autograd through Keras's loss) on weighted data. Keras's torch backend
    averages in float32 even for float64 inputs, hence the 1e-5 tolerance."""
    import torch
    name, cls, kw, ykind, pkind = config
    y, p = make(ykind, rng, (5, 4)), make(pkind, rng, (5, 4))
    sw = rng.uniform(0.1, 2, size=5)
    keras_loss = getattr(keras64.losses, cls.__name__)(reduction=reduction, **kw)
    tp = torch.tensor(p, requires_grad=True)
    keras_value = keras_loss(torch.tensor(y), tp, sample_weight=torch.tensor(sw))
    keras_value.sum().backward()
    value, grad = cls(reduction=reduction, **kw).value_and_gradient(y, p, sample_weight=sw)
    np.testing.assert_allclose(value, keras_value.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-5, atol=1e-6)
