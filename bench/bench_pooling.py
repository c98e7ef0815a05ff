"""Pooling and batch normalization on W2's shapes (bench/README.md, Workloads): pynn's kernels against a NumPy
baseline and PyTorch eager's ATen ops (NCHW, its default layout) in the same run.

MaxPooling2D 2x2 after W2's two convolutions (batch 64: 26x26x32 and 11x11x64), forward in training (argmax kept)
and backward; BatchNormalization on (64, 26, 26, 32), training forward (statistics + moving averages) and
backward (dx, dgamma, dbeta). Results are checked against NumPy outside the timed calls.

    pytest bench/bench_pooling.py --benchmark-only --benchmark-json=bench/results/pooling.json
    python bench/report.py bench/results/pooling.json
"""
import numpy as np
import pytest

from pynn import kernels

try:
    import torch
except ImportError:
    torch = None

PEERS = ["pynn", "numpy"] + (["torch"] if torch is not None else [])
POOL_SHAPES = [(64, 26, 26, 32), (64, 11, 11, 64)]
BN_SHAPE = (64, 26, 26, 32)


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


# ------------------------------------------------------------------ NumPy baselines
def numpy_max_pool(x):
    """2x2 / stride 2 'valid' max pool by reshaping into windows; also the window mask for backward."""
    n, h, w, c = x.shape
    win = x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c)
    y = win.max(axis=(2, 4))
    return y, win == y[:, :, None, :, None]


def numpy_max_pool_backward(dy, mask, x_shape):
    n, h, w, c = x_shape
    dx = np.zeros(x_shape, dy.dtype)
    dx[:, :h // 2 * 2, :w // 2 * 2] = (mask * dy[:, :, None, :, None]).reshape(n, h // 2 * 2, w // 2 * 2, c)
    return dx


def numpy_batch_norm(x, gamma, beta, eps=1e-3):
    mean = x.mean(axis=(0, 1, 2))
    var = x.var(axis=(0, 1, 2))
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return xhat * gamma + beta, xhat, inv_std


def numpy_batch_norm_backward(dy, xhat, inv_std, gamma):
    m = dy.size // dy.shape[-1]
    dbeta = dy.sum(axis=(0, 1, 2))
    dgamma = (dy * xhat).sum(axis=(0, 1, 2))
    dx = gamma * inv_std / m * (m * dy - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


# ------------------------------------------------------------------ max pooling
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("peer", PEERS)
def test_max_pool_forward(benchmark, peer, shape):
    benchmark.group = f"MaxPool2D 2x2 forward (training) {shape}"
    x = _data(shape)
    y_ref = numpy_max_pool(x)[0]
    if peer == "pynn":
        run = lambda: kernels.max_pool2d(x, 2)  # noqa: E731
        y = run()[0]
    elif peer == "numpy":
        run = lambda: numpy_max_pool(x)  # noqa: E731
        y = run()[0]
    else:
        xt = _nchw(x)
        run = lambda: torch.ops.aten.max_pool2d_with_indices(xt, [2, 2], [2, 2])  # noqa: E731
        y = run()[0].numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(y, y_ref)
    benchmark.pedantic(run, rounds=200, iterations=1, warmup_rounds=10)


@pytest.mark.parametrize("shape", POOL_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("peer", PEERS)
def test_max_pool_backward(benchmark, peer, shape):
    benchmark.group = f"MaxPool2D 2x2 backward {shape}"
    x = _data(shape)
    y, mask = numpy_max_pool(x)
    dy = _data(y.shape, 1)
    dx_ref = numpy_max_pool_backward(dy, mask, x.shape)
    if peer == "pynn":
        _, argmax = kernels.max_pool2d(x, 2)
        run = lambda: kernels.max_pool2d_backward(dy, argmax, x.shape, 2)  # noqa: E731
        dx = run()
    elif peer == "numpy":
        run = lambda: numpy_max_pool_backward(dy, mask, x.shape)  # noqa: E731
        dx = run()
    else:
        xt, dyt = _nchw(x), _nchw(dy)
        _, indices = torch.ops.aten.max_pool2d_with_indices(xt, [2, 2], [2, 2])
        run = lambda: torch.ops.aten.max_pool2d_with_indices_backward(  # noqa: E731
            dyt, xt, [2, 2], [2, 2], [0, 0], [1, 1], False, indices)
        dx = run().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(dx, dx_ref)
    benchmark.pedantic(run, rounds=200, iterations=1, warmup_rounds=10)


# ------------------------------------------------------------------ batch normalization
def _bn_inputs():
    x = _data(BN_SHAPE) * 2 + 1
    rng = np.random.default_rng(2)
    gamma = rng.standard_normal(BN_SHAPE[-1]).astype(np.float32)
    beta = rng.standard_normal(BN_SHAPE[-1]).astype(np.float32)
    return x, gamma, beta


@pytest.mark.parametrize("peer", PEERS)
def test_batch_norm_forward(benchmark, peer):
    benchmark.group = f"BatchNormalization forward (training) {BN_SHAPE}"
    x, gamma, beta = _bn_inputs()
    y_ref = numpy_batch_norm(x, gamma, beta)[0]
    c = BN_SHAPE[-1]
    if peer == "pynn":
        mm, mv = np.zeros(c, np.float32), np.ones(c, np.float32)
        run = lambda: kernels.batch_norm_training(x, -1, gamma, beta, mm, mv, 1e-3, 0.99)  # noqa: E731
        y = run()[0]
    elif peer == "numpy":
        run = lambda: numpy_batch_norm(x, gamma, beta)  # noqa: E731
        y = run()[0]
    else:
        xt, gt, bt = _nchw(x), torch.from_numpy(gamma), torch.from_numpy(beta)
        rm, rv = torch.zeros(c), torch.ones(c)
        run = lambda: torch.ops.aten.native_batch_norm(xt, gt, bt, rm, rv, True, 0.01, 1e-3)  # noqa: E731
        y = run()[0].numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-4)
    benchmark.pedantic(run, rounds=100, iterations=1, warmup_rounds=5)


@pytest.mark.parametrize("peer", PEERS)
def test_batch_norm_backward(benchmark, peer):
    benchmark.group = f"BatchNormalization backward {BN_SHAPE}"
    x, gamma, beta = _bn_inputs()
    dy = _data(BN_SHAPE, 3)
    _, xhat, inv_std = numpy_batch_norm(x, gamma, beta)
    dx_ref = numpy_batch_norm_backward(dy, xhat, inv_std, gamma)[0]
    c = BN_SHAPE[-1]
    if peer == "pynn":
        _, mean, inv = kernels.batch_norm_training(x, -1, gamma, beta)
        dgamma, dbeta = np.zeros(c, np.float32), np.zeros(c, np.float32)
        run = lambda: kernels.batch_norm_backward(x, dy, mean, inv, -1, gamma, dgamma=dgamma, dbeta=dbeta)  # noqa: E731
        dx = run()[0]
    elif peer == "numpy":
        run = lambda: numpy_batch_norm_backward(dy, xhat, inv_std, gamma)  # noqa: E731
        dx = run()[0]
    else:
        xt, dyt, gt, bt = _nchw(x), _nchw(dy), torch.from_numpy(gamma), torch.from_numpy(beta)
        rm, rv = torch.zeros(c), torch.ones(c)
        _, save_mean, save_invstd = torch.ops.aten.native_batch_norm(xt, gt, bt, rm, rv, True, 0.01, 1e-3)
        run = lambda: torch.ops.aten.native_batch_norm_backward(  # noqa: E731
            dyt, xt, gt, rm, rv, save_mean, save_invstd, True, 1e-3, [True, True, True])
        dx = run()[0].numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-3, atol=1e-4)
    benchmark.pedantic(run, rounds=100, iterations=1, warmup_rounds=5)
