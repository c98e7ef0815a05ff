"""Activation kernels (csrc/activations/) against NumPy transcriptions of Keras 3's formulas
(keras/src/activations/activations.py), forward and backward, on every instruction set."""
import math

import numpy as np
import pytest

import pynn
from pynn import kernels

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
erf = np.vectorize(math.erf, otypes=[np.float64])


def np_sigmoid(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3 ReLU.static_call, transcribed."""
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return np.where(x >= 0, x, negative_slope * x)
        negative_part = np.maximum(-x + threshold, 0)
    if threshold != 0:
        y = x * (x > threshold)
    else:
        y = np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * negative_part
    return y


def relu_grad(x, negative_slope=0.0, max_value=None, threshold=0.0):
    cap = max_value is not None
    passes = (x > threshold) & ((not cap) | ((x > 0) & (x < (max_value if cap else 0))))
    return np.where(passes, 1.0, np.where(x <= threshold, negative_slope, 0.0))


C_GELU = math.sqrt(2 / math.pi)


def gelu_tanh_grad(x):
    """d/dx 0.5 x (1 + tanh(u)), written with 0.5 (1 + tanh(u)) = s = sigmoid(2u), 1 - tanh(u)^2 = 4 s (1 - s)
    (the same function, without the cancellation of 1 - tanh^2 where tanh is near -1)."""
    u = C_GELU * (x + 0.044715 * x ** 3)
    s = np_sigmoid(2 * u)
    return s + 2 * x * s * (1 - s) * C_GELU * (1 + 3 * 0.044715 * x * x)

# name, params, forward(x), derivative(x), kinks (points to keep finite differences away from)
CASES = [
    ("linear", {}, lambda x: x, lambda x: np.ones_like(x), []),
    ("relu", {}, keras_relu, relu_grad, [0.0]),
    ("relu", {"negative_slope": 0.1, "max_value": 6.0, "threshold": 0.5},
     lambda x: keras_relu(x, 0.1, 6.0, 0.5), lambda x: relu_grad(x, 0.1, 6.0, 0.5), [0.5, 6.0]),
    ("relu", {"max_value": 2.0, "threshold": -1.0},
     lambda x: keras_relu(x, 0.0, 2.0, -1.0), lambda x: relu_grad(x, 0.0, 2.0, -1.0), [-1.0, 0.0, 2.0]),
    ("relu", {"negative_slope": 0.3}, lambda x: keras_relu(x, 0.3), lambda x: relu_grad(x, 0.3), [0.0]),
    ("leaky_relu", {}, lambda x: np.where(x > 0, x, 0.2 * x), lambda x: np.where(x > 0, 1.0, 0.2), [0.0]),
    ("elu", {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
     lambda x: np.where(x > 0, 1.0, 0.5 * np.exp(x)), [0.0]),
    ("selu", {}, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
     lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(x)), [0.0]),
    ("gelu", {}, lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))),
     lambda x: 0.5 * (1 + erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi), []),
    ("gelu_tanh", {}, lambda x: 0.5 * x * (1 + np.tanh(C_GELU * (x + 0.044715 * x ** 3))),
     gelu_tanh_grad,
     []),
    ("sigmoid", {}, np_sigmoid, lambda x: np_sigmoid(x) * (1 - np_sigmoid(x)), []),
    ("hard_sigmoid", {}, lambda x: np.clip(x + 3, 0, 6) / 6, lambda x: np.where((x > -3) & (x < 3), 1 / 6, 0.0),
     [-3.0, 3.0]),
    ("tanh", {}, np.tanh, lambda x: 1 - np.tanh(x) ** 2, []),
    ("softplus", {}, lambda x: np.logaddexp(x, 0), np_sigmoid, []),
    ("softsign", {}, lambda x: x / (np.abs(x) + 1), lambda x: 1 / (1 + np.abs(x)) ** 2, [0.0]),
    ("swish", {}, lambda x: x * np_sigmoid(x), lambda x: np_sigmoid(x) * (1 + x * (1 - np_sigmoid(x))), []),
    ("exponential", {}, np.exp, np.exp, []),
]
IDS = [f"{c[0]}{'-' + '-'.join(f'{k}={v}' for k, v in c[1].items()) if c[1] else ''}" for c in CASES]
TOL = {np.float32: dict(rtol=2e-6, atol=2e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


def sample(n, dtype, seed=0, lo=-6.0, hi=6.0):
    return np.random.default_rng(seed).uniform(lo, hi, n).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 33, 4099])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_and_backward_match_keras_formula(case, n, dtype, isa):
    name, params, f, df, _ = case
    x = sample(n, dtype, seed=n)
    dy = sample(n, dtype, seed=n + 1, lo=-1, hi=1)
    x64 = x.astype(np.float64)
    y = kernels.activation(x, name, **params)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y, f(x64), **TOL[dtype])
    dx = kernels.activation_backward(dy, name, x=x, y=y, **params)
    assert dx.dtype == dtype
    tol = TOL[dtype] if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, dy.astype(np.float64) * df(x64), **tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_matches_finite_differences(case):
    name, params, _, _, kinks = case
    x = sample(2001, np.float64, seed=3, lo=-5, hi=5)
    for k in kinks:
        x = x[np.abs(x - k) > 1e-3]
    dy = sample(x.size, np.float64, seed=4, lo=-1, hi=1)
    h = 1e-6
    fd = (kernels.activation(x + h, name, **params) - kernels.activation(x - h, name, **params)) / (2 * h)
    dx = kernels.activation_backward(dy, name, x=x, **params)
    np.testing.assert_allclose(dx, dy * fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "exponential"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_from_output_alone(name, dtype):
    assert kernels.activation_backward_uses_output(name)
    x = sample(1000, dtype, seed=5)
    dy = sample(1000, dtype, seed=6)
    y = kernels.activation(x, name)
    from_y = kernels.activation_backward(dy, name, y=y)
    from_x = kernels.activation_backward(dy, name, x=x)
    np.testing.assert_allclose(from_y, from_x, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_extreme_inputs_stay_finite_where_keras_is(case, dtype, isa):
    name, params, f, _, _ = case
    big = 80.0 if dtype == np.float32 else 700.0
    x = np.array([-1e30, -1e4, -big, -50, -20, -1e-30, 0, 1e-30, 20, 50, big, 1e4, 1e30], dtype=dtype)
    with np.errstate(all="ignore"):
        ref = f(x.astype(np.float64)).astype(dtype)
    y = kernels.activation(x, name, **params)
    finite = np.isfinite(ref)
    assert np.all(np.isfinite(y[finite])), (x[finite], y[finite])
    assert np.array_equal(np.isinf(y), np.isinf(ref))
    np.testing.assert_allclose(y[finite], ref[finite], rtol=2e-6, atol=1e-30)
    dx = kernels.activation_backward(np.ones_like(x), name, x=x, y=y, **params)
    assert not np.any(np.isnan(dx[np.abs(x) < 1e4])), dx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_propagates(dtype):
    x = np.array([np.nan, 1.0], dtype=dtype)
    for name in ["relu", "sigmoid", "tanh", "exponential", "swish", "softplus", "gelu_tanh", "elu"]:
        assert np.isnan(kernels.activation(x, name)[0]), name


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_and_two_threads_bit_identical(case, threads):
    name, params, _, _, _ = case
    x = sample(100_003, np.float32, seed=7)
    dy = sample(100_003, np.float32, seed=8)
    pynn.set_num_threads(1)
    y1 = kernels.activation(x, name, **params)
    dx1 = kernels.activation_backward(dy, name, x=x, y=y1, **params)
    pynn.set_num_threads(2)
    y2 = kernels.activation(x, name, **params)
    dx2 = kernels.activation_backward(dy, name, x=x, y=y2, **params)
    assert np.array_equal(y1, y2) and np.array_equal(dx1, dx2)


def test_in_place_forward_and_backward():
    x = sample(1001, np.float32, seed=9)
    expected = kernels.activation(x, "swish")
    dy = sample(1001, np.float32, seed=10)
    expected_dx = kernels.activation_backward(dy, "swish", x=x)
    dx = dy.copy()
    kernels.activation_backward(dx, "swish", x=x, out=dx)
    kernels.activation(x, "swish", out=x)
    assert np.array_equal(x, expected) and np.array_equal(dx, expected_dx)


def test_gelu_approximate_selects_the_tanh_form():
    x = sample(100, np.float64)
    assert np.array_equal(kernels.activation(x, "gelu", approximate=True), kernels.activation(x, "gelu_tanh"))
    assert not np.allclose(kernels.activation(x, "gelu"), kernels.activation(x, "gelu_tanh"), rtol=1e-6)


# ----------------------------------------------------------------------------- softmax / log_softmax


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (3, 7), (2, 3, 9), (2000, 37), (5, 1000), (11,)])
def test_softmax_and_log_softmax(shape, dtype, isa):
    x = np.random.default_rng(1).normal(0, 5, shape).astype(dtype)
    dy = np.random.default_rng(2).normal(0, 1, shape).astype(dtype)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    # dy - sum(dy * y) cancels: absolute tolerances on the scale of dy
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    y = kernels.softmax(x)
    np.testing.assert_allclose(y, np_softmax(x64), **tol)
    p = np_softmax(x64)
    np.testing.assert_allclose(kernels.softmax_backward(y, dy), p * (dy64 - (dy64 * p).sum(-1, keepdims=True)), **tol)
    ly = kernels.log_softmax(x)
    np.testing.assert_allclose(ly, np_log_softmax(x64), **tol)
    np.testing.assert_allclose(kernels.log_softmax_backward(ly, dy), dy64 - p * dy64.sum(-1, keepdims=True), **tol)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_backward_matches_finite_differences(log):
    rng = np.random.default_rng(3)
    x = rng.normal(0, 2, (4, 6))
    dy = rng.normal(0, 1, (4, 6))
    fwd = kernels.log_softmax if log else kernels.softmax
    bwd = kernels.log_softmax_backward if log else kernels.softmax_backward
    dx = bwd(fwd(x), dy)
    h = 1e-6
    fd = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        fd[idx] = np.sum(dy * (fwd(x + e) - fwd(x - e))) / (2 * h)
    np.testing.assert_allclose(dx, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_extreme_logits(dtype):
    x = np.array([[1e4, 0, -1e4], [-1e4, -1e4, -1e4], [1e30, 1e30, 0], [-1e30, 0, 3]], dtype=dtype)
    y = kernels.softmax(x)
    ly = kernels.log_softmax(x)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ly))
    np.testing.assert_allclose(y, np_softmax(x.astype(np.float64)), atol=1e-7)
    np.testing.assert_allclose(ly, np_log_softmax(x.astype(np.float64)), rtol=1e-6)


def test_softmax_threads_bit_identical(threads):
    x = np.random.default_rng(4).normal(0, 3, (3001, 29)).astype(np.float32)
    dy = np.random.default_rng(5).normal(0, 1, (3001, 29)).astype(np.float32)
    out = []
    for n in (1, 2):
        pynn.set_num_threads(n)
        y, ly = kernels.softmax(x), kernels.log_softmax(x)
        out.append((y, ly, kernels.softmax_backward(y, dy), kernels.log_softmax_backward(ly, dy)))
    assert all(np.array_equal(a, b) for a, b in zip(*out))


def test_softmax_in_place():
    x = np.random.default_rng(6).normal(0, 3, (7, 5))
    expected = kernels.softmax(x)
    kernels.softmax(x, out=x)
    assert np.array_equal(x, expected)


# ----------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("call, match", [
    (lambda: kernels.activation(np.ones(4, np.int32), "relu"), "float32 or float64, got int32"),
    (lambda: kernels.activation(np.ones(4, np.float32), "relu", out=np.ones(4)), "expected dtype float32"),
    (lambda: kernels.activation(np.ones((4, 4), np.float32)[:, ::2], "relu"), "C-contiguous"),
    (lambda: kernels.activation(np.ones(4), "relu", out=np.ones(5)), r"expected shape \(4,\)"),
    (lambda: kernels.activation(np.ones(4), "relu6"), "unknown name 'relu6'"),
    (lambda: kernels.activation(np.ones(4), "relu", alpha=2.0), r"unknown parameter\(s\) \['alpha'\]"),
    (lambda: kernels.activation(np.ones(4), "relu", max_value=-1.0), "max_value"),
    (lambda: kernels.activation([1.0, 2.0], "relu"), "numpy.ndarray"),
    (lambda: kernels.activation_backward(np.ones(4), "relu"), "needs x"),
    (lambda: kernels.activation_backward(np.ones(4), "sigmoid"), "needs x or y"),
    (lambda: kernels.activation_backward(np.ones(4), "relu", x=np.ones(5)), r"expected shape \(4,\)"),
    (lambda: kernels.activation_backward(np.ones(4), "relu", x=np.ones(4, np.float32)), "expected dtype float64"),
    (lambda: kernels.softmax(np.float64(3.0)), "numpy.ndarray"),
    (lambda: kernels.softmax(np.array(3.0)), "at least 1 dimension"),
    (lambda: kernels.softmax_backward(np.ones((2, 3)), np.ones((3, 2))), r"expected shape \(2, 3\)"),
])
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_outputs_must_be_writeable_and_not_partially_overlap():
    x = np.ones(8)
    ro = np.empty(8)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        kernels.activation(x, "relu", out=ro)
    buf = np.ones(9)
    with pytest.raises(ValueError, match="must be x itself or not share memory"):
        kernels.activation(buf[:8], "relu", out=buf[1:])
    with pytest.raises(ValueError, match="must be dy itself or not share memory"):
        kernels.activation_backward(buf[:8], "relu", x=x, out=buf[1:])
    with pytest.raises(ValueError, match="must be x itself or not share memory"):
        kernels.softmax(buf[:8], out=buf[1:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_of_infinities_is_keras(dtype, isa):
    x = np.array([-np.inf, -1.0, 2.0, np.inf], dtype=dtype)
    np.testing.assert_array_equal(kernels.activation(x, "relu"), [0, 0, 2, np.inf])
    np.testing.assert_array_equal(kernels.activation(x, "relu", max_value=6.0), [0, 0, 2, 6])
    np.testing.assert_array_equal(kernels.activation(x, "relu", negative_slope=0.5), [-np.inf, -0.5, 2, np.inf])
