"""Loss kernels (csrc/losses/) against NumPy transcriptions of Keras 3's losses (keras/src/losses/losses.py,
from_logits=True for the cross-entropies), per-sample values and gradients."""
import numpy as np
import pytest

import pynn
from pynn import _C, kernels


def np_log_softmax(z):
    s = z - z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def np_sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def ref_categorical(z, y):  # Keras: -sum(y * log_softmax(z), -1)
    return -(y * np_log_softmax(z)).sum(-1)


def ref_bce(z, y):  # the stable form of -(y log s + (1 - y) log(1 - s)), mean over the last axis
    return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean(-1)


def ref_huber(p, y, delta):
    e = p - y
    a = np.abs(e)
    return np.where(a <= delta, 0.5 * e * e, delta * a - 0.5 * delta * delta).mean(-1)


REGRESSION = {
    "mse": (kernels.mean_squared_error, lambda p, y: ((p - y) ** 2).mean(-1), lambda p, y: 2 * (p - y) / p.shape[-1]),
    "mae": (kernels.mean_absolute_error, lambda p, y: np.abs(p - y).mean(-1), lambda p, y: np.sign(p - y) / p.shape[-1]),
    "huber": (lambda p, y, **k: kernels.huber(p, y, delta=0.7, **k), lambda p, y: ref_huber(p, y, 0.7),
              lambda p, y: np.clip(p - y, -0.7, 0.7) / p.shape[-1]),
}
SHAPES = [(0, 4), (1, 1), (5, 3), (3, 4, 7), (257, 10), (9,)]


def tol(dtype):
    return dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)


def logits_and_labels(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, shape).astype(dtype)
    labels = rng.integers(0, shape[-1], shape[:-1]) if shape[-1] else np.zeros(shape[:-1], np.int64)
    return z, labels


def numeric_grad(loss_fn, z, h=1e-6):
    """d sum(loss) / dz by central differences (each row's loss depends on its row only)."""
    g = np.empty_like(z)
    for idx in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[idx] = h
        g[idx] = (loss_fn(z + e).sum() - loss_fn(z - e).sum()) / (2 * h)
    return g


# ----------------------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_sparse_softmax_cross_entropy(shape, dtype, label_dtype, isa):
    z, labels = logits_and_labels(shape, dtype)
    labels = labels.astype(label_dtype)
    loss, grad = kernels.sparse_softmax_cross_entropy(z, labels)
    assert loss.shape == shape[:-1] and grad.shape == shape and loss.dtype == grad.dtype == dtype
    z64 = z.astype(np.float64)
    onehot = np.eye(shape[-1])[labels]
    np.testing.assert_allclose(loss, ref_categorical(z64, onehot), **tol(dtype))
    np.testing.assert_allclose(grad, np.exp(np_log_softmax(z64)) - onehot, **tol(dtype))  # p - y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_cross_entropy_with_one_hot_and_probabilities(shape, dtype, isa):
    z, labels = logits_and_labels(shape, dtype, seed=1)
    z64 = z.astype(np.float64)
    p = np.exp(np_log_softmax(z64))
    onehot = np.eye(shape[-1])[labels].astype(dtype)
    soft = np.random.default_rng(2).uniform(0, 1, shape)
    soft = (soft / soft.sum(-1, keepdims=True)).astype(dtype)
    for y in (onehot, soft):
        loss, grad = kernels.softmax_cross_entropy(z, y)
        y64 = y.astype(np.float64)
        np.testing.assert_allclose(loss, ref_categorical(z64, y64), **tol(dtype))
        np.testing.assert_allclose(grad, p * y64.sum(-1, keepdims=True) - y64, **tol(dtype))
        np.testing.assert_allclose(grad, p - y64, rtol=1e-5, atol=2e-6)  # targets sum to 1
    sparse_loss, sparse_grad = kernels.sparse_softmax_cross_entropy(z, labels)
    dense_loss, dense_grad = kernels.softmax_cross_entropy(z, onehot)
    np.testing.assert_allclose(sparse_loss, dense_loss, **tol(dtype))
    np.testing.assert_allclose(sparse_grad, dense_grad, **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_binary_cross_entropy(shape, dtype, isa):
    rng = np.random.default_rng(3)
    z = rng.normal(0, 3, shape).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    loss, grad = kernels.sigmoid_binary_cross_entropy(z, y)
    z64, y64 = z.astype(np.float64), y.astype(np.float64)
    np.testing.assert_allclose(loss, ref_bce(z64, y64), **tol(dtype))
    np.testing.assert_allclose(grad * shape[-1], np_sigmoid(z64) - y64, **tol(dtype))
    # Keras's literal formula (sigmoid, then logs) agrees where it is accurate
    s = np_sigmoid(z64)
    literal = -(y64 * np.log(s) + (1 - y64) * np.log(1 - s)).mean(-1)
    np.testing.assert_allclose(loss, literal, rtol=1e-5, atol=1e-6)


def test_cross_entropy_gradients_match_finite_differences():
    z, labels = logits_and_labels((4, 5), np.float64, seed=4)
    y = np.random.default_rng(5).uniform(0, 1, (4, 5))
    y /= y.sum(-1, keepdims=True)
    checks = [
        (lambda t: kernels.sparse_softmax_cross_entropy(t, labels, grad=False)[0],
         kernels.sparse_softmax_cross_entropy(z, labels)[1]),
        (lambda t: kernels.softmax_cross_entropy(t, 2 * y, grad=False)[0], kernels.softmax_cross_entropy(z, 2 * y)[1]),
        (lambda t: kernels.sigmoid_binary_cross_entropy(t, y, grad=False)[0], kernels.sigmoid_binary_cross_entropy(z, y)[1]),
    ]
    for loss_fn, grad in checks:  # FD noise: about eps * |loss| / h
        np.testing.assert_allclose(grad, numeric_grad(loss_fn, z, h=1e-5), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_with_extreme_logits_is_finite(dtype):
    z = np.array([[1e4, 0, -1e4], [-1e4, -1e4, -1e4], [1e30, -1e30, 0], [88, 90, 700]], dtype=dtype)
    labels = np.array([1, 2, 1, 0])
    onehot = np.eye(3)[labels]
    loss, grad = kernels.sparse_softmax_cross_entropy(z, labels)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    z64 = z.astype(np.float64)
    np.testing.assert_allclose(loss, ref_categorical(z64, onehot), rtol=1e-6)
    np.testing.assert_allclose(grad, np.exp(np_log_softmax(z64)) - onehot, atol=1e-7)
    bloss, bgrad = kernels.sigmoid_binary_cross_entropy(z, onehot)
    assert np.all(np.isfinite(bloss)) and np.all(np.isfinite(bgrad))
    np.testing.assert_allclose(bloss, ref_bce(z64, onehot), rtol=1e-6)


# ----------------------------------------------------------------------------- regression


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_losses(name, shape, dtype, isa):
    fn, ref_loss, ref_grad = REGRESSION[name]
    rng = np.random.default_rng(6)
    p = rng.normal(0, 2, shape).astype(dtype)
    y = rng.normal(0, 2, shape).astype(dtype)
    loss, grad = fn(p, y)
    assert loss.shape == shape[:-1] and grad.shape == shape
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    np.testing.assert_allclose(loss, ref_loss(p64, y64), **tol(dtype))
    np.testing.assert_allclose(grad, ref_grad(p64, y64), **tol(dtype))


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_gradients_match_finite_differences(name):
    fn, _, _ = REGRESSION[name]
    rng = np.random.default_rng(7)
    p = rng.normal(0, 2, (4, 6))
    y = p + rng.choice([-1, 1], p.shape) * rng.uniform(0.05, 2, p.shape)
    y = np.where(np.abs(np.abs(p - y) - 0.7) < 1e-3, y + 0.01, y)  # away from huber's kink
    np.testing.assert_allclose(fn(p, y)[1], numeric_grad(lambda t: fn(t, y, grad=False)[0], p), rtol=1e-6,
                               atol=1e-9)


def test_mae_gradient_is_zero_where_prediction_equals_target():
    p = np.array([[1.0, 2.0, 3.0]])
    assert np.array_equal(kernels.mean_absolute_error(p, p.copy())[1], np.zeros_like(p))


# ----------------------------------------------------------------------------- scaling, threads, outputs


@pytest.mark.parametrize("kernel", ["sparse", "dense", "bce", "mse", "mae", "huber"])
def test_row_scale_and_scale_multiply_the_gradient_only(kernel):
    z, labels = logits_and_labels((6, 4), np.float64, seed=8)
    y = np.eye(4)[labels]
    fn = {"sparse": lambda **k: kernels.sparse_softmax_cross_entropy(z, labels, **k),
          "dense": lambda **k: kernels.softmax_cross_entropy(z, y, **k),
          "bce": lambda **k: kernels.sigmoid_binary_cross_entropy(z, y, **k),
          "mse": lambda **k: kernels.mean_squared_error(z, y, **k),
          "mae": lambda **k: kernels.mean_absolute_error(z, y, **k),
          "huber": lambda **k: kernels.huber(z, y, **k)}[kernel]
    loss, grad = fn()
    w = np.array([0.0, 1.0, 2.0, 0.5, 3.0, 1.5])
    sloss, sgrad = fn(row_scale=w, scale=1 / 6)
    assert np.array_equal(loss, sloss)
    np.testing.assert_allclose(sgrad, grad * w[:, None] / 6, rtol=1e-14, atol=1e-17)
    loss_only, none = fn(grad=False)
    assert none is None and np.array_equal(loss_only, loss)


def test_one_and_two_threads_bit_identical(threads):
    z, labels = logits_and_labels((5001, 13), np.float32, seed=9)
    y = np.eye(13, dtype=np.float32)[labels]
    runs = []
    for n in (1, 2):
        pynn.set_num_threads(n)
        runs.append([*kernels.sparse_softmax_cross_entropy(z, labels), *kernels.softmax_cross_entropy(z, y),
                     *kernels.sigmoid_binary_cross_entropy(z, y), *kernels.mean_squared_error(z, y),
                     *kernels.mean_absolute_error(z, y), *kernels.huber(z, y)])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_supplied_outputs_are_used():
    z, labels = logits_and_labels((3, 4), np.float32)
    loss_out = np.empty(3, np.float32)
    grad_out = np.empty((3, 4), np.float32)
    loss, grad = kernels.sparse_softmax_cross_entropy(z, labels, loss_out=loss_out, grad_out=grad_out)
    assert loss is loss_out and grad is grad_out
    np.testing.assert_allclose(grad_out, kernels.sparse_softmax_cross_entropy(z, labels)[1])


def test_labels_with_trailing_axis_of_one():
    z, labels = logits_and_labels((7, 5), np.float64)
    a = kernels.sparse_softmax_cross_entropy(z, labels)
    b = kernels.sparse_softmax_cross_entropy(z, labels[:, None])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# ----------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("bad, shown", [(5, "label 5"), (-1, "label -1"), (100, "label 100")])
def test_out_of_range_labels_raise_and_write_nothing(bad, shown):
    z, labels = logits_and_labels((4, 5), np.float32)
    labels[2] = bad
    loss_out = np.full(4, 7.0, np.float32)
    grad_out = np.full((4, 5), 7.0, np.float32)
    with pytest.raises(ValueError, match=rf"{shown} .*out of range for 5 classes"):
        kernels.sparse_softmax_cross_entropy(z, labels, loss_out=loss_out, grad_out=grad_out)
    assert np.all(loss_out == 7.0) and np.all(grad_out == 7.0)
    with pytest.raises(ValueError, match="out of range for 5 classes"):
        _C.sparse_softmax_cross_entropy(z, labels.astype(np.int32), loss_out, grad_out)


def test_huge_label_is_reported_with_its_value():
    """A label beyond int32's range is named in full (not truncated or wrapped)."""
    z = np.zeros((3, 4))
    labels = np.array([0, 1 << 40, 2], np.int64)
    with pytest.raises(ValueError, match=r"label 1099511627776 \(at flat index 1\)"):
        kernels.sparse_softmax_cross_entropy(z, labels)


Z = np.zeros((4, 3))
Y = np.zeros((4, 3))


@pytest.mark.parametrize("call, match", [
    (lambda: kernels.sparse_softmax_cross_entropy(Z, np.zeros(4, np.float32)), "integer dtype, got float32"),
    (lambda: kernels.sparse_softmax_cross_entropy(Z, np.zeros(3, np.int64)), r"expected shape \(4,\) or \(4, 1\)"),
    (lambda: _C.sparse_softmax_cross_entropy(Z, np.zeros(4, np.int16), np.empty(4)), "int32 or int64, got int16"),
    (lambda: kernels.sparse_softmax_cross_entropy(Z.astype(np.int32), np.zeros(4, int)), "float32 or float64"),
    (lambda: kernels.sparse_softmax_cross_entropy(np.zeros((4, 0)), np.zeros(4, int)), "at least 1 element"),
    (lambda: kernels.softmax_cross_entropy(Z, np.zeros((4, 2))), r"expected shape \(4, 3\)"),
    (lambda: kernels.softmax_cross_entropy(np.zeros((3, 4)).T, Y), "C-contiguous"),
    (lambda: kernels.softmax_cross_entropy(Z, Y, loss_out=np.empty(3)), r"loss: expected shape \(4,\)"),
    (lambda: kernels.softmax_cross_entropy(Z, Y, loss_out=np.empty(4, np.float32)), "loss: expected dtype float64"),
    (lambda: kernels.softmax_cross_entropy(Z, Y, grad_out=Z), "grad: must not share memory"),
    (lambda: kernels.softmax_cross_entropy(Z, Y, row_scale=np.ones(3)), r"row_scale: expected shape \(4,\)"),
    (lambda: kernels.mean_squared_error(Z, np.array(["a"] * 12).reshape(4, 3)), "expected numbers"),
    (lambda: kernels.huber(Z, Y, delta=-1.0), "delta: expected a number >= 0"),
    (lambda: kernels.mean_absolute_error([[1.0]], [[1.0]]), "numpy.ndarray"),
    (lambda: _C.mean_squared_error(Z, Y.astype(np.float32), np.empty(4)), "targets: expected dtype float64"),
    (lambda: _C.mean_squared_error(Z, Y, np.empty(4), Y), "must not share memory with targets"),
    (lambda: kernels.mean_squared_error(np.array(1.0), np.array(1.0)), "at least 1 dimension"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
