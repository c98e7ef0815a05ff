"""The two convolution layers of W2 (bench/README.md, Workloads), forward and backward, batch 64:

    conv1  Conv2D(32, 3x3, relu) on 28x28x1     backward: kernel and bias gradients (a model's first layer
                                                needs no input gradient)
    conv2  Conv2D(64, 3x3, relu) on 13x13x32    backward: input, kernel and bias gradients

pynn (the C++ kernels, as the layer calls them) against a NumPy im2col + matmul baseline and PyTorch eager
(NCHW, its default layout), in the same run. Backward excludes the forward pass for every peer (PyTorch:
autograd.grad on a retained graph). Results are checked against each other outside the timed calls.

    pytest bench/bench_conv.py --benchmark-only --benchmark-json=bench/results/conv.json
"""
import numpy as np
import pytest

import pynn
from pynn import kernels

try:
    import torch
except ImportError:
    torch = None

PEERS = ["pynn", "numpy"] + (["torch"] if torch is not None else [])
LAYERS = {"conv1": (64, 28, 1, 32, False), "conv2": (64, 13, 32, 64, True)}  # batch, size, in, out, needs dx


def numpy_im2col(x, k=3):
    n, h, w, c = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # (n, oh, ow, c, k, k)
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * c)


def numpy_forward(x, w, b):
    col = numpy_im2col(x)
    y = np.maximum(col @ w.reshape(-1, w.shape[3]) + b, 0)
    return y.reshape(x.shape[0], x.shape[1] - 2, x.shape[2] - 2, w.shape[3])


def numpy_backward(x, w, dz, need_dx):
    k, cout = w.shape[0], w.shape[3]
    dz2 = dz.reshape(-1, cout)
    dw = (numpy_im2col(x).T @ dz2).reshape(w.shape)
    db = dz2.sum(axis=0)
    if not need_dx:
        return None, dw, db
    dcol = (dz2 @ w.reshape(-1, cout).T).reshape(dz.shape[:3] + (k, k, x.shape[3]))
    dx = np.zeros_like(x)
    oh, ow = dz.shape[1:3]
    for i in range(k):
        for j in range(k):
            dx[:, i:i + oh, j:j + ow] += dcol[:, :, :, i, j]
    return dx, dw, db


def _data(name):
    n, size, cin, cout, need_dx = LAYERS[name]
    rng = np.random.default_rng(0)
    x = rng.random((n, size, size, cin), dtype=np.float32)
    w = (rng.standard_normal((3, 3, cin, cout)) * 0.1).astype(np.float32)
    b = (rng.standard_normal(cout) * 0.1).astype(np.float32)
    dz = rng.standard_normal((n, size - 2, size - 2, cout)).astype(np.float32)
    return x, w, b, dz, need_dx


def _flop(name):
    n, size, cin, cout, _ = LAYERS[name]
    return 2 * n * (size - 2) ** 2 * 9 * cin * cout


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("name", list(LAYERS))
def test_conv_forward(benchmark, name, peer):
    x, w, b, _, _ = _data(name)
    benchmark.group = f"W2 {name} forward"
    benchmark.extra_info["flop"] = _flop(name)
    want = numpy_forward(x, w, b)
    if peer == "pynn":
        out = np.empty_like(want)
        run = lambda: kernels.conv2d(x, w, b, activation="relu", out=out)  # noqa: E731
    elif peer == "numpy":
        run = lambda: numpy_forward(x, w, b)  # noqa: E731
    else:
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        wt, bt = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()), torch.from_numpy(b)

        def run():
            with torch.no_grad():
                return torch.relu(torch.nn.functional.conv2d(xt, wt, bt))
    got = run()
    got = got.numpy().transpose(0, 2, 3, 1) if peer == "torch" else got
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    benchmark.pedantic(run, rounds=50, iterations=1, warmup_rounds=3)


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("name", list(LAYERS))
def test_conv_backward(benchmark, name, peer):
    x, w, b, dz, need_dx = _data(name)
    benchmark.group = f"W2 {name} backward ({'dx, ' if need_dx else ''}dW, db)"
    benchmark.extra_info["flop"] = _flop(name) * (2 if need_dx else 1)
    want = numpy_backward(x, w, dz, need_dx)
    if peer == "pynn":
        dw, db, dx = np.empty_like(w), np.empty_like(b), np.empty_like(x)

        def run():  # into reused arrays, as Conv2D does
            kernels.conv2d_backward_weights(x, dz, w.shape, dw=dw, dbias=db)
            return (kernels.conv2d_backward_data(dz, w, x.shape, out=dx) if need_dx else None), dw, db
    elif peer == "numpy":
        run = lambda: numpy_backward(x, w, dz, need_dx)  # noqa: E731
    else:
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(need_dx)
        wt = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_()
        bt = torch.from_numpy(b).requires_grad_()
        yt = torch.nn.functional.conv2d(xt, wt, bt)
        gt = torch.from_numpy(dz.transpose(0, 3, 1, 2).copy())
        inputs = [xt, wt, bt] if need_dx else [wt, bt]

        def run():
            grads = torch.autograd.grad(yt, inputs, gt, retain_graph=True)
            if not need_dx:
                grads = (None,) + tuple(grads)
            dx, dw_, db_ = grads
            return (None if dx is None else dx.numpy().transpose(0, 2, 3, 1),
                    dw_.numpy().transpose(2, 3, 1, 0), db_.numpy())
    for got, ref in zip(run(), want):
        if ref is not None:
            np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-2)
    benchmark.pedantic(run, rounds=50, iterations=1, warmup_rounds=3)



# DepthwiseConv2D(3x3, padding "same") on (32, 28, 28, 64): pynn's depthwise loops against the NumPy
# per-tap baseline and PyTorch's depthwise conv (groups = channels), forward and backward (dx, dW, db).
DW_SHAPE = (32, 28, 28, 64)


def _dw_data():
    rng = np.random.default_rng(0)
    x = rng.random(DW_SHAPE, dtype=np.float32)
    w = (rng.standard_normal((3, 3, 1, DW_SHAPE[3])) * 0.1).astype(np.float32)
    b = (rng.standard_normal(DW_SHAPE[3]) * 0.1).astype(np.float32)
    dy = rng.standard_normal(DW_SHAPE).astype(np.float32)
    return x, w, b, dy


def numpy_depthwise_forward(x, w, b):
    n, h, wd, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = np.broadcast_to(b, x.shape).copy()
    for i in range(3):
        for j in range(3):
            y += xp[:, i:i + h, j:j + wd] * w[i, j, 0]
    return y


def numpy_depthwise_backward(x, w, dy):
    n, h, wd, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    dxp = np.zeros_like(xp)
    dw = np.empty_like(w)
    for i in range(3):
        for j in range(3):
            dw[i, j, 0] = np.einsum("nhwc,nhwc->c", xp[:, i:i + h, j:j + wd], dy)
            dxp[:, i:i + h, j:j + wd] += dy * w[i, j, 0]
    return dxp[:, 1:-1, 1:-1], dw, dy.sum(axis=(0, 1, 2))


@pytest.mark.parametrize("peer", PEERS)
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_depthwise(benchmark, direction, peer):
    x, w, b, dy = _dw_data()
    c = DW_SHAPE[3]
    benchmark.group = f"DepthwiseConv2D 3x3 same {DW_SHAPE} {direction}" + (" (dx, dW, db)" if direction == "backward" else "")
    benchmark.extra_info["flop"] = 2 * x.size * 9 * (2 if direction == "backward" else 1)
    if direction == "forward":
        want = (numpy_depthwise_forward(x, w, b),)
    else:
        want = numpy_depthwise_backward(x, w, dy)
    if peer == "pynn":
        if direction == "forward":
            out = np.empty_like(x)
            run = lambda: (kernels.conv2d(x, w, b, padding="same", groups=c, out=out),)  # noqa: E731
        else:
            dx, dw, db = np.empty_like(x), np.empty_like(w), np.empty_like(b)

            def run():
                kernels.conv2d_backward_weights(x, dy, w.shape, padding="same", groups=c, dw=dw, dbias=db)
                return kernels.conv2d_backward_data(dy, w, x.shape, padding="same", groups=c, out=dx), dw, db
    elif peer == "numpy":
        run = ((lambda: (numpy_depthwise_forward(x, w, b),)) if direction == "forward"
               else (lambda: numpy_depthwise_backward(x, w, dy)))
    else:
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(direction == "backward")
        wt = torch.from_numpy(w.transpose(3, 2, 0, 1).copy()).requires_grad_(direction == "backward")
        bt = torch.from_numpy(b).requires_grad_(direction == "backward")
        if direction == "forward":
            def run():
                with torch.no_grad():
                    return (torch.nn.functional.conv2d(xt, wt, bt, padding=1, groups=c).numpy().transpose(0, 2, 3, 1),)
        else:
            yt = torch.nn.functional.conv2d(xt, wt, bt, padding=1, groups=c)
            gt = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy())

            def run():
                dx_, dw_, db_ = torch.autograd.grad(yt, [xt, wt, bt], gt, retain_graph=True)
                return dx_.numpy().transpose(0, 2, 3, 1), dw_.numpy().transpose(2, 3, 1, 0), db_.numpy()
    for got, ref in zip(run(), want):
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-2)
    benchmark.pedantic(run, rounds=50, iterations=1, warmup_rounds=3)
