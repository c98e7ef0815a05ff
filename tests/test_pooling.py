"""Pooling: kernels against NumPy on every ISA path and thread count, layers against finite differences,
Keras semantics ('same' padding, average over valid positions), PyTorch parity, errors."""
import numpy as np
import pytest

import pynn
from pynn import layers, kernels
from gradcheck import check_layer_gradients


# ------------------------------------------------------------------ NumPy references
def _windows(size, pool, stride, padding):
    """[(start, stop)] of each output position, clipped to [0, size), with Keras's 'valid' / 'same' rule."""
    if padding == "same":
        out = -(-size // stride)
        pad = max((out - 1) * stride + pool - size, 0) // 2
    else:
        out, pad = (size - pool) // stride + 1, 0
    return [(max(o * stride - pad, 0), min(o * stride - pad + pool, size)) for o in range(out)]


def reference_pool(x, pool, strides, padding, mode):
    """y, and for max the argmax (ih * width + iw of the first maximum in row-major window order)."""
    n, h, w, c = x.shape
    rows, cols = _windows(h, pool[0], strides[0], padding), _windows(w, pool[1], strides[1], padding)
    y = np.zeros((n, len(rows), len(cols), c), x.dtype)
    arg = np.zeros(y.shape, np.int32)
    for i, (h0, h1) in enumerate(rows):
        for j, (w0, w1) in enumerate(cols):
            win = x[:, h0:h1, w0:w1, :].reshape(n, -1, c)
            if mode == "max":
                k = win.argmax(axis=1)
                y[:, i, j] = win.max(axis=1)
                arg[:, i, j] = (h0 + k // (w1 - w0)) * w + w0 + k % (w1 - w0)
            else:
                y[:, i, j] = win.mean(axis=1)
    return y, arg


def reference_pool_backward(dy, x_shape, pool, strides, padding, mode, argmax=None):
    n, h, w, c = x_shape
    rows, cols = _windows(h, pool[0], strides[0], padding), _windows(w, pool[1], strides[1], padding)
    dx = np.zeros(x_shape, dy.dtype)
    flat = dx.reshape(n, h * w, c)
    for i, (h0, h1) in enumerate(rows):
        for j, (w0, w1) in enumerate(cols):
            if mode == "max":
                for b in range(n):
                    flat[b, argmax[b, i, j], np.arange(c)] += dy[b, i, j]
            else:
                dx[:, h0:h1, w0:w1, :] += dy[:, i:i + 1, j:j + 1, :] / ((h1 - h0) * (w1 - w0))
    return dx


SHAPES = [  # (x shape, pool, strides, padding)
    ((2, 6, 6, 3), (2, 2), (2, 2), "valid"),
    ((1, 7, 5, 17), (2, 2), (2, 2), "valid"),        # odd sizes, batch 1, channels not a multiple of 16
    ((3, 7, 9, 5), (3, 3), (2, 2), "valid"),         # overlapping windows
    ((2, 7, 9, 5), (3, 2), (1, 2), "same"),
    ((2, 8, 8, 33), (2, 2), (3, 3), "valid"),        # stride larger than the pool
    ((2, 8, 7, 4), (2, 3), (3, 4), "same"),
    ((2, 5, 5, 16), (5, 5), (5, 5), "valid"),        # global
    ((4, 1, 11, 6), (1, 3), (1, 2), "same"),         # 1-D
    ((2, 4, 4, 2), (4, 4), (1, 1), "same"),          # window larger than the stride, lots of padding
    ((1, 3, 3, 1), (1, 1), (1, 1), "valid"),
]


@pytest.mark.parametrize("shape,pool,strides,padding", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_matches_numpy(shape, pool, strides, padding, dtype, isa, rng):
    x = rng.standard_normal(shape).astype(dtype)
    y, argmax = kernels.max_pool2d(x, pool, strides, padding)
    y_ref, arg_ref = reference_pool(x, pool, strides, padding, "max")
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, arg_ref)
    y_inference, none = kernels.max_pool2d(x, pool, strides, padding, keep_argmax=False)
    assert none is None
    np.testing.assert_array_equal(y_inference, y_ref)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = kernels.max_pool2d_backward(dy, argmax, x.shape, pool, strides, padding)
    np.testing.assert_allclose(dx, reference_pool_backward(dy, x.shape, pool, strides, padding, "max", arg_ref),
                               rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-7)
    # the C++ reference loops: the same maxima and the same sums in the same order
    y_c, arg_c = kernels.max_pool2d(x, pool, strides, padding, reference=True)
    np.testing.assert_array_equal(y_c, y_ref)
    np.testing.assert_array_equal(arg_c, arg_ref)
    np.testing.assert_array_equal(kernels.max_pool2d_backward(dy, argmax, x.shape, pool, strides, padding,
                                                          reference=True), dx)


@pytest.mark.parametrize("shape,pool,strides,padding", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_average_pool_matches_numpy(shape, pool, strides, padding, dtype, isa, rng):
    x = rng.standard_normal(shape).astype(dtype)
    y = kernels.avg_pool2d(x, pool, strides, padding)
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(y, reference_pool(x, pool, strides, padding, "average")[0], **tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = kernels.avg_pool2d_backward(dy, x.shape, pool, strides, padding)
    np.testing.assert_allclose(dx, reference_pool_backward(dy, x.shape, pool, strides, padding, "average"), **tol)
    np.testing.assert_array_equal(kernels.avg_pool2d(x, pool, strides, padding, reference=True), y)
    np.testing.assert_allclose(kernels.avg_pool2d_backward(dy, x.shape, pool, strides, padding, reference=True), dx,
                               **tol)


def test_max_pool_ties_take_the_first_and_nan_propagates():
    x = np.zeros((1, 2, 2, 2), np.float32)
    x[0, 1, 0, 1] = np.nan
    y, argmax = kernels.max_pool2d(x, 2)
    assert y[0, 0, 0, 0] == 0 and argmax[0, 0, 0, 0] == 0
    assert np.isnan(y[0, 0, 0, 1]) and argmax[0, 0, 0, 1] == 2


@pytest.mark.parametrize("mode", ["max", "average"])
def test_pooling_is_bit_identical_for_1_and_2_threads(mode, threads, rng):
    x = rng.standard_normal((64, 26, 26, 32)).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        if mode == "max":
            y, argmax = kernels.max_pool2d(x, 3, 2, "same")
            dx = kernels.max_pool2d_backward(y, argmax, x.shape, 3, 2, "same")
        else:
            y = kernels.avg_pool2d(x, 3, 2, "same")
            dx = kernels.avg_pool2d_backward(y, x.shape, 3, 2, "same")
        results.append((y, dx))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_kernel_argument_errors():
    x = np.zeros((2, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="larger than the input"):
        kernels.max_pool2d(x, 5)
    with pytest.raises(ValueError, match="positive"):
        kernels.avg_pool2d(x, 2, 0)
    with pytest.raises(ValueError, match="4-D"):
        kernels.max_pool2d(x[0], 2)
    with pytest.raises(ValueError, match="dtype"):
        kernels.max_pool2d(x.astype(np.int32), 2)
    y, argmax = kernels.max_pool2d(x, 2)
    with pytest.raises(ValueError, match="argmax: expected dtype int32"):
        kernels.max_pool2d_backward(y, argmax.astype(np.int64), x.shape, 2)
    with pytest.raises(ValueError, match=r"dy: expected shape \(2, 2, 2, 3\)"):
        kernels.max_pool2d_backward(y[:, :1].copy(), argmax, x.shape, 2)
    with pytest.raises(ValueError, match="y: must not share memory"):
        pynn._C.avg_pool2d_forward(x, x.reshape(-1)[:24].reshape(2, 2, 2, 3), (2, 2), (2, 2), "valid")


# ------------------------------------------------------------------ layers
POOL_LAYERS = [
    (layers.MaxPooling2D, {}, (2, 6, 7, 3)),
    (layers.MaxPooling2D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 7, 6, 3)),
    (layers.AveragePooling2D, {"pool_size": (2, 3), "strides": 1, "padding": "same"}, (2, 5, 6, 2)),
    (layers.AveragePooling2D, {"pool_size": 2}, (1, 5, 5, 3)),
    (layers.MaxPooling1D, {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 9, 4)),
    (layers.AveragePooling1D, {"pool_size": 2}, (2, 7, 3)),
    (layers.GlobalMaxPooling2D, {}, (2, 4, 3, 5)),
    (layers.GlobalAveragePooling2D, {"keepdims": True}, (2, 4, 3, 5)),
    (layers.GlobalMaxPooling1D, {"keepdims": True}, (2, 6, 3)),
    (layers.GlobalAveragePooling1D, {}, (3, 6, 2)),
    (layers.MaxPooling2D, {"data_format": "channels_first"}, (2, 3, 6, 5)),
    (layers.GlobalAveragePooling2D, {"data_format": "channels_first", "keepdims": True}, (2, 3, 4, 5)),
]


@pytest.mark.parametrize("cls,kwargs,shape", POOL_LAYERS)
def test_pooling_layer_gradients(cls, kwargs, shape, rng):
    layer = cls(dtype="float64", **kwargs)
    x = rng.standard_normal(shape)
    check_layer_gradients(layer, x, training=True)
    y = layer(x)
    assert (None,) + y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])


@pytest.mark.parametrize("cls,kwargs,shape", POOL_LAYERS)
def test_pooling_layer_config_round_trip(cls, kwargs, shape, rng):
    layer = cls(**kwargs)
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(clone(x), layer(x))


def test_keras_defaults_and_values():
    layer = layers.MaxPooling2D()
    assert (layer.pool_size, layer.strides, layer.padding, layer.data_format) == ((2, 2), (2, 2), "valid",
                                                                                   "channels_last")
    assert layers.MaxPooling1D().pool_size == (2,)
    assert layers.AveragePooling2D(3, strides=1).strides == (1, 1)
    with pytest.raises(TypeError):
        layers.AveragePooling2D()  # pool_size is required in Keras 3
    # Keras's docstring example: 3x3 input, 2x2 average, stride 1, 'same' (the border windows divide by 2 and 1)
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    y = layers.AveragePooling2D((2, 2), strides=(1, 1), padding="same")(x)[0, :, :, 0]
    np.testing.assert_allclose(y, [[3, 4, 4.5], [6, 7, 7.5], [7.5, 8.5, 9]])
    y = layers.MaxPooling2D((2, 2), strides=(1, 1), padding="same")(x)[0, :, :, 0]
    np.testing.assert_array_equal(y, [[5, 6, 6], [8, 9, 9], [8, 9, 9]])


def test_layer_errors_name_the_layer():
    with pytest.raises(ValueError, match="max_pool.*rank 4"):
        layers.MaxPooling2D(name="max_pool")(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="'p1'.*pool_size \\(5, 5\\) is larger"):
        layers.MaxPooling2D(5, name="p1")(np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="'p2'.*strides must be an integer.*positive"):
        layers.AveragePooling2D(2, strides=0, name="p2")
    with pytest.raises(ValueError, match="'p3'.*strides must be an integer.*positive"):
        layers.MaxPooling1D(2, strides=-1, name="p3")
    with pytest.raises(ValueError, match="'p4'.*padding must be"):
        layers.MaxPooling2D(padding="full", name="p4")
    layer = layers.MaxPooling2D(name="p5")
    layer(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="'p5'.*expected input of shape"):
        layer(np.zeros((2, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match="'g1'.*rank 3"):
        layers.GlobalMaxPooling1D(name="g1")(np.zeros((2, 4, 4, 3), np.float32))
    layer = layers.MaxPooling2D(name="p6")        # a forward in inference mode can still be taken backward
    x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    y, ctx = layer.forward(x, training=False)
    dx = layer.backward(ctx, np.ones_like(y))
    np.testing.assert_array_equal(dx, (x == np.repeat(np.repeat(y, 2, 1), 2, 2)).astype(np.float32))


# ------------------------------------------------------------------ PyTorch parity
def test_pooling_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((3, 9, 9, 5)).astype(np.float32)
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    # MaxPool2d(3, 2, padding=1) on 9x9 is Keras's 'same' (pads 1 on each side): out 5x5.
    layer = layers.MaxPooling2D(3, strides=2, padding="same")
    y, ctx = layer.forward(x, training=True)
    yt = F.max_pool2d(xt, 3, 2, padding=1)
    np.testing.assert_array_equal(y, yt.detach().numpy().transpose(0, 2, 3, 1))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    yt.backward(torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-6)
    # AvgPool2d with count_include_pad=False is Keras's average with 'same' padding.
    xt.grad = None
    layer = layers.AveragePooling2D(3, strides=2, padding="same")
    y, ctx = layer.forward(x, training=True)
    yt = F.avg_pool2d(xt, 3, 2, padding=1, count_include_pad=False)
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-7)
    yt.backward(torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-6,
                               atol=1e-7)
    # 'valid' 2x2 on an odd size drops the last row and column, as torch does with no padding.
    y = layers.MaxPooling2D()(x)
    np.testing.assert_array_equal(y, F.max_pool2d(xt, 2).detach().numpy().transpose(0, 2, 3, 1))


def test_same_padding_with_stride_2_pads_bottom_right_like_keras(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    # 8x8, pool 3, stride 2, 'same': out 4x4, total padding 1, all of it after (Keras's asymmetric rule)
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    ref = F.max_pool2d(F.pad(xt, (0, 1, 0, 1), value=-np.inf), 3, 2).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(layers.MaxPooling2D(3, 2, padding="same")(x), ref)
    # average: the padded position is not counted, so the border windows divide by 6 and 4
    ones = F.pad(torch.ones(1, 1, 8, 8), (0, 1, 0, 1))
    counts = F.avg_pool2d(ones, 3, 2, divisor_override=1).numpy().transpose(0, 2, 3, 1)
    sums = F.avg_pool2d(F.pad(xt, (0, 1, 0, 1)), 3, 2, divisor_override=1).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(layers.AveragePooling2D(3, 2, padding="same")(x), sums / counts, rtol=1e-6,
                               atol=1e-7)
