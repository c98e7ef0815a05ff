"""Convolution layers: float64 finite-difference gradients, Keras's shapes / weights / config, bad input errors,
and parity with PyTorch (NHWC <-> NCHW, HWIO <-> OIHW, Keras's asymmetric 'same' padding)."""
import numpy as np
import pytest

from pynn import layers
from gradcheck import check_layer_gradients

GRAD_LAYERS = [
    (lambda **kw: layers.Conv2D(3, 3, activation="tanh", **kw), (2, 5, 6, 2)),
    (lambda **kw: layers.Conv2D(4, (3, 2), strides=2, padding="same", activation="relu", **kw), (2, 7, 6, 3)),
    (lambda **kw: layers.Conv2D(4, 2, strides=3, use_bias=False, **kw), (1, 8, 7, 2)),
    (lambda **kw: layers.Conv2D(3, 3, padding="same", dilation_rate=2, activation="elu", **kw), (1, 6, 7, 2)),
    (lambda **kw: layers.Conv2D(4, 3, padding="same", groups=2, activation="sigmoid", **kw), (2, 5, 5, 4)),
    (lambda **kw: layers.Conv2D(5, 1, **kw), (2, 3, 4, 3)),
    (lambda **kw: layers.Conv1D(3, 3, activation="relu", **kw), (2, 9, 2)),
    (lambda **kw: layers.Conv1D(3, 3, padding="causal", dilation_rate=2, **kw), (2, 8, 2)),
    (lambda **kw: layers.Conv1D(2, 4, strides=2, padding="same", **kw), (1, 9, 3)),
    (lambda **kw: layers.DepthwiseConv2D(3, depth_multiplier=2, activation="tanh", **kw), (2, 5, 6, 3)),
    (lambda **kw: layers.DepthwiseConv2D(2, strides=2, padding="same", **kw), (1, 5, 5, 2)),
    (lambda **kw: layers.DepthwiseConv2D(3, padding="same", activation="relu", **kw), (2, 5, 6, 3)),
    (lambda **kw: layers.SeparableConv2D(4, 3, depth_multiplier=2, padding="same", activation="relu", **kw), (2, 5, 4, 3)),
    (lambda **kw: layers.Conv2DTranspose(3, 3, activation="tanh", **kw), (2, 3, 4, 2)),
    (lambda **kw: layers.Conv2DTranspose(2, 3, strides=2, padding="same", **kw), (1, 3, 3, 3)),
    (lambda **kw: layers.Conv2DTranspose(2, (3, 2), strides=(2, 3), padding="valid", output_padding=1, **kw), (1, 3, 2, 2)),
]


@pytest.mark.parametrize("make,shape", GRAD_LAYERS)
def test_layer_gradients_float64(make, shape, rng):
    layer = make(dtype="float64", bias_initializer="random_normal")
    check_layer_gradients(layer, rng.standard_normal(shape) + 0.1, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make,shape", GRAD_LAYERS)
def test_config_round_trip(make, shape, rng):
    layer = make()
    layer(rng.standard_normal(shape).astype(np.float32))
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(rng.standard_normal(shape).astype(np.float32))
    assert [w.shape for w in clone.weights] == [w.shape for w in layer.weights]


def test_shapes_and_weight_layouts_follow_keras():
    x = np.zeros((2, 28, 28, 3), np.float32)
    conv = layers.Conv2D(8, 3, strides=2, padding="same", groups=1)
    assert conv(x).shape == (2, 14, 14, 8) and conv.kernel.shape == (3, 3, 3, 8) and conv.bias.shape == (8,)
    assert layers.Conv2D(6, (5, 3), groups=3)(x).shape == (2, 24, 26, 6)
    dw = layers.DepthwiseConv2D(3, depth_multiplier=2)
    assert dw(x).shape == (2, 26, 26, 6) and dw.kernel.shape == (3, 3, 3, 2)
    sep = layers.SeparableConv2D(5, 3, depth_multiplier=2)
    assert sep(x).shape == (2, 26, 26, 5)
    assert [w.name for w in sep.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert sep.pointwise_kernel.shape == (1, 1, 6, 5)
    tr = layers.Conv2DTranspose(4, 3, strides=2)
    assert tr(x).shape == (2, 57, 57, 4) and tr.kernel.shape == (3, 3, 4, 3)
    assert layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x).shape == (2, 56, 56, 4)
    c1 = layers.Conv1D(4, 5, padding="causal")
    assert c1(np.zeros((2, 10, 3), np.float32)).shape == (2, 10, 4) and c1.kernel.shape == (5, 3, 4)
    assert conv.compute_output_shape((None, 28, 28, 3)) == (None, 14, 14, 8)
    assert layers.Conv2D(2, 3).kernel_size == (3, 3)


def test_causal_conv1d_sees_only_the_past(rng):
    layer = layers.Conv1D(2, 3, padding="causal", dtype="float64")
    x = rng.standard_normal((1, 10, 2))
    y = layer(x)
    x2 = x.copy()
    x2[0, 6:] += 1.0
    np.testing.assert_array_equal(layer(x2)[0, :6], y[0, :6])


def test_default_initializers_are_glorot_uniform_and_zeros():
    layer = layers.Conv2D(64, 3)
    layer.build_for((None, 10, 10, 32))
    limit = np.sqrt(6 / (9 * 32 + 9 * 64))
    k = layer.kernel.value
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
    assert not layer.bias.value.any()


def test_bad_input_errors_name_the_layer():
    with pytest.raises(ValueError, match="Conv2D 'c1': strides must be positive"):
        layers.Conv2D(4, 3, strides=0, name="c1")
    with pytest.raises(ValueError, match="Conv2D 'c2': strides must be positive"):
        layers.Conv2D(4, 3, strides=(1, -1), name="c2")
    with pytest.raises(ValueError, match="'c3': filters must be a positive integer"):
        layers.Conv2D(0, 3, name="c3")
    with pytest.raises(ValueError, match="'c4': padding must be one of"):
        layers.Conv2D(4, 3, padding="full", name="c4")
    with pytest.raises(ValueError, match="'c5': only data_format='channels_last'"):
        layers.Conv2D(4, 3, data_format="channels_first", name="c5")
    with pytest.raises(ValueError, match="strides > 1 not supported in conjunction with dilation_rate > 1"):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="'c6': filters \\(5\\) must be divisible by groups"):
        layers.Conv2D(5, 3, groups=2, name="c6")
    layer = layers.Conv2D(4, 5, name="c7")
    with pytest.raises(ValueError, match="Conv2D 'c7': the kernel \\(5, 5\\).*larger than the input \\(3, 3\\)"):
        layer(np.zeros((1, 3, 3, 2), np.float32))
    with pytest.raises(ValueError, match="Conv2D 'c8': expected an input of shape \\(batch, height, width"):
        layers.Conv2D(4, 3, name="c8")(np.zeros((2, 9, 9), np.float32))
    layer = layers.Conv2D(4, 3, name="c9")
    layer(np.zeros((1, 8, 8, 2), np.float32))
    with pytest.raises(ValueError, match="'c9': expected input of shape \\(None, 8, 8, 2\\), got \\(1, 8, 8, 3\\)"):
        layer(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="'c9': expected input of shape"):
        layer(np.zeros((1, 9, 8, 2), np.float32))
    with pytest.raises(ValueError, match="'c10': the input channels \\(3\\) must be divisible by groups"):
        layers.Conv2D(4, 3, groups=2, name="c10")(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="'c11': output_padding"):
        layers.Conv2DTranspose(4, 3, strides=2, output_padding=2, name="c11")
    with pytest.raises(ValueError, match="'c12': padding must be one of"):
        layers.Conv2D(4, 3, padding="causal", name="c12")


# ---------------------------------------------------------------------------------------------- PyTorch parity

def _torch_same(torch, x_nchw, k, s, d):
    """Keras's 'same' as explicit (possibly asymmetric) zero padding for torch."""
    from pynn import kernels as ops
    (pt, pb), (pl, pr) = (ops.conv_padding(n, kk, ss, "same", dd)
                          for n, kk, ss, dd in zip(x_nchw.shape[2:], k, s, d))
    return torch.nn.functional.pad(x_nchw, (pl, pr, pt, pb))


@pytest.mark.parametrize("kwargs,shape", [
    (dict(filters=8, kernel_size=3, activation="relu"), (4, 28, 28, 1)),
    (dict(filters=16, kernel_size=3, strides=2, padding="same"), (3, 28, 28, 5)),   # pads (0, 1)
    (dict(filters=6, kernel_size=(4, 3), strides=(2, 3), padding="same"), (2, 11, 13, 3)),
    (dict(filters=6, kernel_size=3, padding="same", dilation_rate=2, groups=3), (2, 9, 9, 6)),
])
def test_conv2d_matches_pytorch(kwargs, shape, rng):
    torch = pytest.importorskip("torch")
    layer = layers.Conv2D(bias_initializer="random_normal", **kwargs)
    x = rng.standard_normal(shape).astype(np.float32)
    layer.build_for(x.shape)
    y, ctx = layer.forward(x, True)
    kernel, bias = layer.get_weights()
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_()
    wt = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()).requires_grad_()   # HWIO -> OIHW
    bt = torch.from_numpy(bias).requires_grad_()
    xin = _torch_same(torch, xt, layer.kernel_size, layer.strides, layer.dilation_rate) \
        if layer.padding == "same" else xt
    yt = torch.nn.functional.conv2d(xin, wt, bt, stride=layer.strides, dilation=layer.dilation_rate,
                                    groups=layer.groups)
    if kwargs.get("activation") == "relu":
        yt = torch.relu(yt)
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (yt * torch.from_numpy(g.transpose(0, 3, 1, 2).copy())).sum().backward()
    for w in layer.weights:
        w.grad.fill(0)
    dx = layer.backward(ctx, g)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.kernel.grad, wt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(layer.bias.grad, bt.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_depthwise_separable_and_transpose_match_pytorch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((2, 9, 8, 3)).astype(np.float32)
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    dw = layers.DepthwiseConv2D(3, depth_multiplier=2, bias_initializer="random_normal")
    y = dw(x)
    k, b = dw.get_weights()   # (3, 3, C, M) -> torch (C * M, 1, 3, 3), output channel c * M + m
    wt = torch.from_numpy(k.reshape(3, 3, 6).transpose(2, 0, 1)[:, None].copy())
    want = F.conv2d(xt, wt, torch.from_numpy(b), groups=3)
    np.testing.assert_allclose(y, want.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)

    sep = layers.SeparableConv2D(5, 3, depth_multiplier=2)
    y = sep(x)
    kd, kp, b = sep.get_weights()
    t = F.conv2d(xt, torch.from_numpy(kd.reshape(3, 3, 6).transpose(2, 0, 1)[:, None].copy()), groups=3)
    want = F.conv2d(t, torch.from_numpy(kp[0, 0].T[:, :, None, None].copy()), torch.from_numpy(b))
    np.testing.assert_allclose(y, want.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)

    tr = layers.Conv2DTranspose(4, 3, strides=2, bias_initializer="random_normal")
    y = tr(x)
    k, b = tr.get_weights()   # (kh, kw, filters, in) -> torch conv_transpose weight (in, filters, kh, kw)
    want = F.conv_transpose2d(xt, torch.from_numpy(k.transpose(3, 2, 0, 1).copy()), torch.from_numpy(b), stride=2)
    assert y.shape == (2, 19, 17, 4)
    np.testing.assert_allclose(y, want.numpy().transpose(0, 2, 3, 1), rtol=1e-4, atol=1e-5)


def test_conv1d_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    layer = layers.Conv1D(5, 3, strides=2, bias_initializer="random_normal")
    x = rng.standard_normal((3, 12, 4)).astype(np.float32)
    k, b = (layer(x), layer.get_weights())[1]
    want = torch.nn.functional.conv1d(torch.from_numpy(x.transpose(0, 2, 1).copy()),
                                      torch.from_numpy(k.transpose(2, 1, 0).copy()), torch.from_numpy(b), stride=2)
    np.testing.assert_allclose(layer(x), want.numpy().transpose(0, 2, 1), rtol=1e-4, atol=1e-5)


def test_outputs_are_reused_only_when_nothing_else_holds_them(rng):
    """In training, Conv2D and MaxPooling2D write into the previous call's arrays only once nothing outside
    the layer holds them (or a view of them): a result the caller keeps is never overwritten."""
    from pynn import kernels as ops
    x = rng.standard_normal((2, 9, 9, 3)).astype(np.float32)
    for make in (lambda: layers.Conv2D(4, 3, activation="relu"), lambda: layers.MaxPooling2D(2)):
        layer = make()
        layer.build_for(x.shape)

        def call(v):
            return layer.forward(v, training=True)[0]
        y1 = call(x)
        kept = y1.copy()
        y2 = call(2 * x)
        assert not np.shares_memory(y1, y2)
        np.testing.assert_array_equal(y1, kept)
        view = y2[1:]
        del y2
        y3 = call(3 * x)
        assert not np.shares_memory(view, y3)
        np.testing.assert_array_equal(view, call(2 * x)[1:])
        del view, y3
        address = call(x).ctypes.data      # dropped at once: the next call writes the same array again
        y4 = call(x)
        assert y4.ctypes.data == address
        np.testing.assert_array_equal(y4, kept)
    conv = layers.Conv2D(4, 3, activation="relu")
    conv.build_for(x.shape)
    y, ctx = conv.forward(x, training=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx1 = conv.backward(ctx, dy)
    dx2 = conv.backward(ctx, dy)
    assert not np.shares_memory(dx1, dx2)
    w = conv.kernel.value
    np.testing.assert_allclose(dx1, ops.conv2d_backward_data(dy * (y > 0), w, x.shape), rtol=1e-5, atol=1e-5)
