"""pynn.losses against NumPy transcriptions of Keras 3's formulas, finite differences and (if installed) torch."""
import numpy as np
import pytest

from pynn import losses

EPS = 1e-7


# ---- NumPy transcriptions of keras/src/losses/losses.py and the numpy backend ----------------------------------
def keras_per_sample(name, y, p, **kw):
    if name == "mse":
        return np.mean((y - p) ** 2, -1)
    if name == "mae":
        return np.mean(np.abs(y - p), -1)
    if name == "msle":
        return np.mean((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2, -1)
    if name == "huber":
        e, d = p - y, kw.get("delta", 1.0)
        return np.mean(np.where(np.abs(e) <= d, 0.5 * e ** 2, d * np.abs(e) - 0.5 * d ** 2), -1)
    if name == "hinge":
        y = 2 * y - 1 if np.all((y == 0) | (y == 1)) else y
        return np.mean(np.maximum(1 - y * p, 0), -1)
    if name == "cosine":
        def norm(x):
            return x / np.maximum(np.sqrt(np.sum(x * x, -1, keepdims=True)), EPS)
        return -np.sum(norm(y) * norm(p), -1)
    if name == "kld":
        t, c = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
        return np.sum(t * np.log(t / c), -1)
    if name == "poisson":
        return np.mean(p - y * np.log(p + EPS), -1)
    if name == "bce":
        ls = kw.get("label_smoothing", 0.0)
        y = y * (1 - ls) + 0.5 * ls
        if kw.get("from_logits"):
            ls_pos, ls_neg = -np.logaddexp(0, -p), -np.logaddexp(0, p)
            return np.mean(-y * ls_pos - (1 - y) * ls_neg, -1)
        c = np.clip(p, EPS, 1 - EPS)
        return np.mean(-(y * np.log(c) + (1 - y) * np.log(1 - c)), -1)
    if name == "cce":
        ls = kw.get("label_smoothing", 0.0)
        y = y * (1 - ls) + ls / y.shape[-1]
        if kw.get("from_logits"):
            logp = p - p.max(-1, keepdims=True)
            logp = logp - np.log(np.sum(np.exp(logp), -1, keepdims=True))
        else:
            logp = np.log(np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS))
        return -np.sum(y * logp, -1)
    raise KeyError(name)


def keras_reduce(values, sample_weight, reduction):
    if sample_weight is not None:
        values = values * np.asarray(sample_weight)
    if reduction == "none":
        return values
    total = values.sum()
    return total if reduction == "sum" else total / values.size


CASES = {  # name: (loss factory, y_true maker, y_pred maker)
    "mse": (losses.MeanSquaredError, "real", "real"),
    "mae": (losses.MeanAbsoluteError, "real", "real"),
    "msle": (losses.MeanSquaredLogarithmicError, "positive", "positive"),
    "huber": (lambda **kw: losses.Huber(delta=0.7, **kw), "real", "real"),
    "hinge": (losses.Hinge, "binary", "real"),
    "cosine": (losses.CosineSimilarity, "real", "real"),
    "kld": (losses.KLDivergence, "prob", "prob"),
    "poisson": (losses.Poisson, "positive", "positive"),
    "bce": (losses.BinaryCrossentropy, "prob", "prob"),
    "cce": (losses.CategoricalCrossentropy, "onehot", "prob"),
}


def make(kind, rng, shape, dtype=np.float64):
    if kind == "real":
        x = rng.normal(size=shape)
    elif kind == "positive":
        x = rng.uniform(0.1, 2.0, size=shape)
    elif kind == "prob":
        x = rng.uniform(0.05, 0.95, size=shape)
    elif kind == "binary":
        x = (rng.random(shape) > 0.5).astype(float)
    elif kind == "onehot":
        x = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    return x.astype(dtype)


def keras_kwargs(name):
    return {"delta": 0.7} if name == "huber" else {}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_value_matches_keras_formula(name, reduction, weighted, rng):
    factory, ykind, pkind = CASES[name]
    y, p = make(ykind, rng, (6, 4)), make(pkind, rng, (6, 4))
    sw = rng.uniform(0, 2, size=6) if weighted else None
    got = factory(reduction=reduction)(y, p, sample_weight=sw)
    want = keras_reduce(keras_per_sample(name, y, p, **keras_kwargs(name)), sw, reduction)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def numeric_gradient(f, p, h=1e-6):
    grad = np.zeros_like(p)
    for index in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


ALL_CONFIGS = [(name, {}) for name in sorted(CASES)] + [
    ("bce", {"from_logits": True}), ("bce", {"label_smoothing": 0.2}),
    ("cce", {"from_logits": True}), ("cce", {"label_smoothing": 0.1}),
]


@pytest.mark.parametrize("name,kw", ALL_CONFIGS, ids=lambda v: str(v))
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
def test_gradient_matches_finite_differences(name, kw, reduction, rng):
    factory, ykind, pkind = CASES[name]
    loss = factory(reduction=reduction, **kw)
    y = make(ykind, rng, (5, 3))
    p = make("real" if kw.get("from_logits") else pkind, rng, (5, 3))
    sw = rng.uniform(0.2, 2, size=5)
    value, grad = loss.value_and_gradient(y, p, sample_weight=sw)
    assert value == pytest.approx(loss(y, p, sample_weight=sw), rel=1e-14)
    assert grad.shape == p.shape and grad.dtype == p.dtype
    np.testing.assert_allclose(grad, numeric_gradient(lambda q: loss(y, q, sample_weight=sw), p), atol=1e-8)


@pytest.mark.parametrize("kw", [{}, {"from_logits": True}, {"ignore_class": 1}])
def test_sparse_categorical_crossentropy(kw, rng):
    logits = rng.normal(size=(6, 4))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = np.array([0, 1, 3, 2, 1, 0])
    loss = losses.SparseCategoricalCrossentropy(**kw)
    p = logits if kw.get("from_logits") else probs
    per_sample = -np.log(probs[np.arange(6), labels])
    if "ignore_class" in kw:
        valid = labels != 1
        want = np.sum(per_sample * valid) / valid.sum()
    else:
        want = per_sample.mean()
    assert loss(labels, p) == pytest.approx(want, rel=1e-12)
    assert loss(labels[:, None], p) == pytest.approx(want, rel=1e-12)
    _, grad = loss.value_and_gradient(labels, p)
    np.testing.assert_allclose(grad, numeric_gradient(lambda q: loss(labels, q), p), atol=1e-8)


@pytest.mark.parametrize("loss,activation", [
    (losses.CategoricalCrossentropy(), "softmax"), (losses.CategoricalCrossentropy(label_smoothing=0.1), "softmax"),
    (losses.SparseCategoricalCrossentropy(), "softmax"), (losses.BinaryCrossentropy(), "sigmoid"),
    (losses.BinaryCrossentropy(label_smoothing=0.2), "sigmoid"),
])
def test_fused_path_equals_probability_path(loss, activation, rng):
    logits = rng.normal(size=(7, 5))
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        y = rng.integers(0, 5, size=7)
    elif activation == "softmax":
        y = np.eye(5)[rng.integers(0, 5, size=7)]
    else:
        y = (rng.random((7, 5)) > 0.5).astype(float)
    sw = rng.uniform(0.5, 1.5, size=7)
    assert loss.supports_fused(activation) and not loss.supports_fused("relu")
    if activation == "softmax":
        p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        def backward(g):
            return p * (g - np.sum(g * p, -1, keepdims=True))
    else:
        p = 1 / (1 + np.exp(-logits))
        def backward(g):
            return g * p * (1 - p)
    for weights in (sw, None):  # without sample weights the kernel scales the gradient itself
        value, grad_p = loss.value_and_gradient(y, p, sample_weight=weights)
        fused_value, grad_logits = loss.value_and_gradient_from_logits(y, logits, activation, sample_weight=weights)
        assert fused_value == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(grad_logits, backward(grad_p), atol=1e-12)


def test_fused_sparse_path_rejects_bad_labels_naming_the_loss():
    loss = losses.SparseCategoricalCrossentropy()
    logits = np.zeros((4, 3), np.float32)
    for labels in (np.array([0, 1, 3, 2]), np.array([0, -1, 1, 2], np.int32)):
        with pytest.raises(ValueError, match="sparse_categorical_crossentropy: .*out of range"):
            loss.value_and_gradient_from_logits(labels, logits, "softmax")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sparse_fast_path_equals_general_path(dtype, rng):
    """The training step's case (1-D int labels, 2-D logits, no weights) skips the general path's checks and
    reshapes: same value and gradient bits as labels of shape (n, 1), which take the general path."""
    loss = losses.SparseCategoricalCrossentropy()
    logits = rng.normal(size=(33, 10)).astype(dtype)
    for labels in (rng.integers(0, 10, size=33), rng.integers(0, 10, size=33).astype(np.int32)):
        value, grad = loss.value_and_gradient_from_logits(labels, logits, "softmax")
        general_value, general_grad = loss.value_and_gradient_from_logits(labels[:, None], logits, "softmax")
        assert value == general_value and value.dtype == dtype
        np.testing.assert_array_equal(grad, general_grad)


def test_fused_path_unsupported():
    with pytest.raises(NotImplementedError):
        losses.MeanSquaredError().value_and_gradient_from_logits(np.zeros((2, 2)), np.zeros((2, 2)), "softmax")
    assert not losses.CategoricalCrossentropy(from_logits=True).supports_fused("softmax")


def test_float32_keeps_dtype(rng):
    y, p = make("onehot", rng, (4, 3), np.float32), make("prob", rng, (4, 3), np.float32)
    value, grad = losses.CategoricalCrossentropy().value_and_gradient(y, p)
    assert value.dtype == np.float32 and grad.dtype == np.float32
    assert float(value) == pytest.approx(keras_reduce(keras_per_sample("cce", y.astype(float), p.astype(float)),
                                                      None, "mean"), rel=1e-5)


def test_custom_loss_gradient_by_finite_differences(rng):
    class MeanFourthPower(losses.Loss):
        def call(self, y_true, y_pred):
            return np.mean((y_pred - y_true) ** 4, axis=-1)
    y, p = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    value, grad = MeanFourthPower().value_and_gradient(y, p)
    assert value == pytest.approx(np.mean((p - y) ** 4))
    np.testing.assert_allclose(grad, 4 * (p - y) ** 3 / 12, rtol=1e-7, atol=1e-9)


def test_get_and_config():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("kld"), losses.KLDivergence)
    assert isinstance(losses.get("CategoricalCrossentropy"), losses.CategoricalCrossentropy)
    loss = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    assert losses.get(loss) is loss
    clone = losses.get(losses.serialize(loss))
    assert clone.get_config() == loss.get_config()
    wrapped = losses.get(lambda y, p: np.mean(np.abs(y - p), -1))
    assert wrapped(np.zeros((2, 2)), np.ones((2, 2))) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mean_squared_error"):
        losses.get("mean_sqared_eror")


def test_bad_inputs_name_loss_and_shapes():
    with pytest.raises(ValueError, match=r"categorical_crossentropy.*\(4, 3\).*\(4, 2\)"):
        losses.CategoricalCrossentropy()(np.zeros((4, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"label 3 \(sample 1\) is out of range"):
        losses.SparseCategoricalCrossentropy()(np.array([0, 3]), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*\(2,\)"):
        losses.SparseCategoricalCrossentropy()(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    t_logits = torch.tensor(logits, requires_grad=True)
    functional.cross_entropy(t_logits, torch.tensor(labels)).backward()
    value, grad = losses.SparseCategoricalCrossentropy(from_logits=True).value_and_gradient(labels, logits)
    assert value == pytest.approx(functional.cross_entropy(t_logits, torch.tensor(labels)).item(), rel=1e-12)
    np.testing.assert_allclose(grad, t_logits.grad.numpy(), atol=1e-12)

    y = (rng.random((6, 4)) > 0.5).astype(float)
    t_logits = torch.tensor(logits, requires_grad=True)
    reference = functional.binary_cross_entropy_with_logits(t_logits, torch.tensor(y))
    reference.backward()
    value, grad = losses.BinaryCrossentropy(from_logits=True).value_and_gradient(y, logits)
    assert value == pytest.approx(reference.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t_logits.grad.numpy(), atol=1e-12)

    p = rng.normal(size=(6, 4))
    t_p = torch.tensor(p, requires_grad=True)
    reference = functional.mse_loss(t_p, torch.tensor(y))
    reference.backward()
    value, grad = losses.MeanSquaredError().value_and_gradient(y, p)
    assert value == pytest.approx(reference.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t_p.grad.numpy(), atol=1e-12)
