"""int8 quantization of Conv1D / Conv2D, DepthwiseConv2D, SeparableConv2D, Embedding and SimpleRNN / LSTM / GRU
(pynn.layers.quantization), and Model.quantize's static mode (calibration_data).

Each layer's int8 output is checked against a NumPy transcription of the same integer arithmetic (windows cut
by explicit slicing, abs-max scales, exact integer sums, float(sum) / (x_scale * w_scale) + bias) and against the
float layer within the rounding bound derived in `error_bound`; Embedding against Keras 3 itself. Then saving,
file size, refusing to train, dequantize, nested models and wrappers, calibration, and a CNN on real MNIST.
"""
import math
import warnings

import numpy as np
import pytest

import pynn
from pynn import layers
from rnn_reference import rnn_reference

EPS = np.float32(1e-7)


# ---------------------------------------------------------------------------------------------- references
def scales(a, axis):
    """Keras's abs-max scale 127 / (max |a| + 1e-7) along axis, float32."""
    return np.float32(127) / (np.abs(np.asarray(a, np.float32)).max(axis=axis) + EPS)


def quantize(a, scale):
    return np.clip(np.round(a * scale), -127, 127).astype(np.int64)


def int8_rows_product(rows, w, bias=None, static=None):
    """The int8 product of float rows (m, k) and the float kernel w (k, n), quantized per row (or with the static
    scale) and per column: (float32 result, x_scale)."""
    ws = scales(w, 0)
    xs = scales(rows, 1)[:, None] if static is None else np.float32(static)
    acc = quantize(rows, xs) @ quantize(w, ws)
    y = acc.astype(np.float32) / (xs * ws)
    return (y if bias is None else y + bias).astype(np.float32), xs


def error_bound(rows, w, static_absmax=None):
    """The largest |int8 product - float product| for rows (m, k) @ w (k, n), per output.

    x = q / s + e with |e| <= (max|x| + 1e-7) / 254 = dx (rounding to the nearest integer, no clipping when the
    scale covers the row), and likewise w with dw per column; then x w - (x - ex)(w - ew) = ex w + x ew - ex ew,
    so |error| <= dx sum|w| + dw sum|x| + k dx dw. Float32 rounding of the sums adds ~1e-6 relative (the slack)."""
    amax = np.abs(rows).max(axis=1, keepdims=True) if static_absmax is None else static_absmax
    dx, dw = (amax + 1e-7) / 254, (np.abs(w).max(axis=0) + 1e-7) / 254
    bound = dx * np.abs(w).sum(axis=0) + np.abs(rows).sum(axis=1, keepdims=True) * dw + w.shape[0] * dx * dw
    return bound * 1.001 + 1e-5 * (np.abs(rows) @ np.abs(w))


def same_padding(n, k, s, d):
    total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def windows(x4, kernel, strides, padding, dilation):
    """(N, OH, OW, KH, KW, C) windows by slicing (independent of pynn's strided view)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilation
    if padding == "valid":
        pads = ((0, 0), (0, 0))
    elif padding == "causal":
        pads = ((0, 0), ((kw - 1) * dw, 0))
    else:
        pads = (same_padding(x4.shape[1], kh, sh, dh), same_padding(x4.shape[2], kw, sw, dw))
    xp = np.pad(x4, ((0, 0), pads[0], pads[1], (0, 0)))
    oh = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    ow = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    out = np.empty((x4.shape[0], oh, ow, kh, kw, x4.shape[3]), x4.dtype)
    for a in range(kh):
        for b in range(kw):
            out[:, :, :, a, b] = xp[:, a * dh:a * dh + (oh - 1) * sh + 1:sh, b * dw:b * dw + (ow - 1) * sw + 1:sw]
    return out


def conv_reference(x4, w, bias, strides, padding, dilation, groups=1, static=None):
    """(int8 result, float result, bound) of a convolution (kernel (KH, KW, C / groups, F)), rows per group."""
    win = windows(x4, w.shape[:2], strides, padding, dilation)
    n, oh, ow = win.shape[:3]
    cg, fg = w.shape[2], w.shape[3] // groups
    outs, floats, bounds = [], [], []
    for g in range(groups):
        rows = win[..., g * cg:(g + 1) * cg].reshape(n * oh * ow, -1)
        wg = w[..., g * fg:(g + 1) * fg].reshape(-1, fg)
        bg = None if bias is None else bias[g * fg:(g + 1) * fg]
        outs.append(int8_rows_product(rows, wg, bg, None if static is None else scales(static, None))[0])
        floats.append(rows @ wg + (0 if bg is None else bg))
        bounds.append(error_bound(rows, wg, static))
    shape = (n, oh, ow, w.shape[3])
    return tuple(np.concatenate(v, axis=1).reshape(shape) for v in (outs, floats, bounds))


def depthwise_reference(x4, w, strides, padding, dilation, static=None):
    """(int8 result, float result, bound) of a depthwise convolution (kernel (KH, KW, C, M)), no bias: each
    channel of each image quantized with its own scale (or the static one), exact integer sums over the taps."""
    kh, kw, c, m = w.shape
    win = windows(x4, (kh, kw), strides, padding, dilation)
    n, oh, ow = win.shape[:3]
    rows = win.transpose(0, 5, 1, 2, 3, 4).reshape(n, c, oh * ow, kh * kw)         # (image, channel, pixel, tap)
    taps = w.reshape(kh * kw, c, m)
    ws = scales(taps, 0)                                                          # (c, m)
    amax = np.abs(x4).max(axis=(1, 2))[:, :, None, None] if static is None else np.float32(static)
    xs = scales(x4, (1, 2))[:, :, None, None] if static is None else scales(static, None)
    acc = np.einsum("ncpa,acm->ncpm", quantize(rows, xs), quantize(taps, ws))
    y = acc.astype(np.float32) / (xs * ws[None, :, None, :])
    exact = np.einsum("ncpa,acm->ncpm", rows, taps)
    dx, dw = (amax + 1e-7) / 254, (np.abs(taps).max(axis=0) + 1e-7)[None, :, None, :] / 254
    bound = dx * np.abs(taps).sum(axis=0)[None, :, None, :] + np.abs(rows).sum(axis=3)[..., None] * dw \
        + kh * kw * dx * dw
    bound = bound * 1.001 + 1e-5 * np.einsum("ncpa,acm->ncpm", np.abs(rows), np.abs(taps))

    def image(v):                                                  # (n, c, pixel, m) -> (n, oh, ow, c * m)
        return v.reshape(n, c, oh, ow, m).transpose(0, 2, 3, 1, 4).reshape(n, oh, ow, c * m)
    return image(y), image(exact), image(bound)


def relu(v):
    return np.maximum(v, 0)


# ---------------------------------------------------------------------------------------------- the layers
CONVS = [
    (lambda: layers.Conv2D(8, 3, activation="relu"), (3, 9, 9, 5), 1),
    (lambda: layers.Conv2D(6, (3, 2), strides=2, padding="same", groups=3), (2, 9, 8, 6), 3),
    (lambda: layers.Conv2D(4, 3, dilation_rate=2, padding="same", use_bias=False), (2, 8, 7, 3), 1),
    (lambda: layers.Conv1D(7, 3, padding="causal", dilation_rate=2, activation="relu"), (3, 11, 4), 1),
    (lambda: layers.Conv1D(5, 4, strides=3, padding="same"), (2, 13, 6), 1),
]


@pytest.mark.parametrize("make, shape, groups", CONVS)
@pytest.mark.parametrize("static", [False, True])
def test_conv_int8_matches_the_integer_reference_and_the_float_layer(make, shape, groups, static, rng):
    layer = make()
    x = rng.standard_normal(shape).astype(np.float32)
    layer(x)
    if layer.use_bias:
        layer.bias.assign(rng.standard_normal(layer.bias.shape) * 0.1)
    y_float = layer(x)
    w = layer.kernel.value.copy()
    bias = layer.bias.value if layer.use_bias else None
    absmax = float(np.abs(x).max()) if static else None
    layer.quantize("int8", input_absmax=absmax)
    names = ["kernel"] + (["bias"] if layer.use_bias else []) + ["kernel_scale"] + (["inputs_scale"] if static else [])
    assert [v.name for v in layer.weights] == names
    assert layer.kernel.dtype == np.int8 and layer.kernel.shape == w.shape
    np.testing.assert_array_equal(layer.kernel_scale.value, scales(w.reshape(-1, w.shape[-1]), 0))
    x4, w4 = (x, w) if layer.rank == 2 else (x[:, None], w[None])
    s = layer.strides if layer.rank == 2 else (1,) + layer.strides
    d = layer.dilation_rate if layer.rank == 2 else (1,) + layer.dilation_rate
    want, exact, bound = conv_reference(x4, w4, bias, s, layer.padding, d, groups, absmax)
    act = relu if layer.activation.name == "relu" else (lambda v: v)
    y = layer(x)
    np.testing.assert_array_equal(y, act(want).reshape(y.shape))
    assert np.all(np.abs(y - y_float) <= bound.reshape(y.shape)), np.max(np.abs(y - y_float) - bound.reshape(y.shape))
    assert np.abs(y - y_float).max() <= 0.02 * np.abs(y_float).max()      # what the bound comes to here


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("kwargs, shape", [
    ({"kernel_size": 3, "depth_multiplier": 2, "activation": "relu"}, (2, 9, 9, 5)),
    ({"kernel_size": (3, 2), "strides": 2, "padding": "same"}, (2, 9, 8, 6)),
    ({"kernel_size": 3, "dilation_rate": 2, "use_bias": False}, (1, 9, 10, 3)),
    ({"kernel_size": 33}, (2, 34, 35, 2))])                            # float64 sums: 33 * 33 * 127^2 > 2^24
def test_depthwise_int8_matches_the_integer_reference_and_the_float_layer(kwargs, shape, static, rng):
    layer = layers.DepthwiseConv2D(**kwargs)
    x = rng.standard_normal(shape).astype(np.float32)
    layer(x)
    if layer.use_bias:
        layer.bias.assign(rng.standard_normal(layer.bias.shape) * 0.1)
    y_float = layer(x)
    w = layer.kernel.value.copy()
    absmax = float(np.abs(x).max()) if static else None
    layer.quantize("int8", input_absmax=absmax)
    kh, kw, c, m = w.shape
    np.testing.assert_array_equal(layer.kernel_scale.value, scales(w.reshape(kh * kw, c * m), 0))
    want, exact, bound = depthwise_reference(x, w, layer.strides, layer.padding, layer.dilation_rate, absmax)
    want = want + (layer.bias.value if layer.use_bias else 0)
    y = layer(x)
    np.testing.assert_array_equal(y, relu(want) if layer.activation.name == "relu" else want)
    assert np.all(np.abs(y - y_float) <= bound)


def test_depthwise_sums_beyond_float32_integers_stay_exact():
    layer = layers.DepthwiseConv2D(33, use_bias=False)              # 33 * 33 * 127 * 127 = 17,564,481 > 2^24
    x = np.ones((1, 33, 33, 1), np.float32)
    layer(x)
    layer.kernel.assign(np.ones(layer.kernel.shape))
    layer.quantize("int8")
    scale = np.float32(127) / (np.float32(1) + EPS)
    want = np.float32(33 * 33 * 127 * 127) / (scale * scale)         # the int32 sum, then Keras's division
    np.testing.assert_array_equal(layer(x), np.full((1, 1, 1, 1), want, np.float32))


@pytest.mark.parametrize("static", [False, True])
def test_separable_int8_matches_the_integer_reference(static, rng):
    layer = layers.SeparableConv2D(6, 3, padding="same", depth_multiplier=2, activation="relu")
    x = rng.standard_normal((2, 8, 9, 4)).astype(np.float32)
    layer(x)
    layer.bias.assign(rng.standard_normal(6) * 0.1)
    y_float = layer(x)
    wd, wp, b = layer.depthwise_kernel.value.copy(), layer.pointwise_kernel.value.copy(), layer.bias.value.copy()
    t_float = depthwise_reference(x, wd, (1, 1), "same", (1, 1))[1]
    absmax = (float(np.abs(x).max()), float(np.abs(t_float).max())) if static else None
    layer.quantize("int8", input_absmax=absmax)
    assert [v.name for v in layer.weights] == (
        ["depthwise_kernel", "pointwise_kernel", "bias", "depthwise_kernel_scale", "pointwise_kernel_scale"]
        + (["inputs_scale", "pointwise_inputs_scale"] if static else []))
    t = depthwise_reference(x, wd, (1, 1), "same", (1, 1), None if not static else absmax[0])[0]
    rows = t.reshape(-1, t.shape[-1])
    want = int8_rows_product(rows, wp.reshape(-1, 6), b, None if not static else scales(absmax[1], None))[0]
    y = layer(x)
    np.testing.assert_array_equal(y, relu(want).reshape(y.shape))
    assert np.abs(y - y_float).max() <= 0.03 * np.abs(y_float).max()


def test_dense_static_mode(rng, tmp_path):
    model = pynn.Sequential([layers.Input((9,)), layers.Dense(6, activation="relu")])
    layer = model.layers[0]
    x = rng.standard_normal((5, 9)).astype(np.float32)
    layer.bias.assign(rng.standard_normal(6) * 0.1)
    w, b = layer.kernel.value.copy(), layer.bias.value.copy()
    amax = float(np.abs(x[:3]).max())                                 # the other rows may clip
    model.quantize("int8", calibration_data=x[:3])
    assert [v.name for v in layer.weights] == ["kernel", "bias", "kernel_scale", "inputs_scale"]
    assert layer.activation_quantization == "static" and layer.inputs_scale.value == scales(amax, None)
    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, relu(int8_rows_product(x, w, b, scales(amax, None))[0]), rtol=1e-6, atol=1e-6)
    model.save(tmp_path / "dense.keras")
    np.testing.assert_array_equal(pynn.models.load_model(tmp_path / "dense.keras").predict(x, verbose=0), y)
    model.dequantize()
    assert [v.name for v in layer.weights] == ["kernel", "bias"] and layer.activation_quantization is None


def test_embedding_int8_matches_keras(keras, rng, tmp_path):
    x = rng.integers(0, 40, (5, 7))
    theirs = keras.Sequential([keras.Input((7,), dtype="int32"), keras.layers.Embedding(40, 6)])
    ours = pynn.Sequential([layers.Input((7,)), layers.Embedding(40, 6)])
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    y_float = ours.predict(x, verbose=0)
    theirs.quantize("int8")
    ours.quantize("int8")
    k, p = theirs.layers[0], ours.layers[0]
    assert [v.name for v in p.weights] == ["embeddings", "embeddings_scale"] and not p.trainable_weights
    np.testing.assert_array_equal(np.asarray(keras.ops.convert_to_numpy(k._embeddings)), p.embeddings.value)
    np.testing.assert_array_equal(np.asarray(keras.ops.convert_to_numpy(k.embeddings_scale)), p.embeddings_scale.value)
    y = ours.predict(x, verbose=0)
    np.testing.assert_array_equal(y, np.asarray(theirs.predict(x, verbose=0)))
    assert np.abs(y - y_float).max() <= (np.abs(y_float).max() + 1e-7) / 254 * 1.001    # half a step of a row
    theirs.save_weights(tmp_path / "e.weights.h5")           # Keras's quantized file loads into a quantized model
    again = pynn.Sequential([layers.Input((7,)), layers.Embedding(40, 6)])
    again.quantize("int8")
    again.load_weights(tmp_path / "e.weights.h5")
    np.testing.assert_array_equal(again.predict(x, verbose=0), y)


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru"])
@pytest.mark.parametrize("static", [False, True])
def test_recurrent_int8_projects_the_input_with_one_int8_product(cell, static, rng):
    make = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[cell]
    layer = make(5, return_sequences=True, go_backwards=cell == "gru")
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    layer(x, mask=mask)
    w, rk = layer.kernel.value.copy(), layer.recurrent_kernel.value.copy()
    bias = layer.bias.value.copy()
    bias += rng.standard_normal(bias.shape).astype(np.float32) * 0.1
    layer.bias.assign(bias)
    y_float = layer(x, mask=mask)
    absmax = float(np.abs(x).max()) if static else None
    layer.quantize("int8", input_absmax=absmax)
    assert [v.name for v in layer.weights] == ["kernel", "recurrent_kernel", "bias", "kernel_scale"] + (
        ["inputs_scale"] if static else [])
    assert layer.recurrent_kernel.dtype == np.float32                 # the recurrent kernel stays float
    xw = int8_rows_product(x.reshape(-1, 4), w, None, None if not static else scales(absmax, None))[0]
    gu = w.shape[1]
    want = rnn_reference(cell, xw.reshape(3, 6, gu).astype(np.float64), np.eye(gu), rk.astype(np.float64),
                         bias.astype(np.float64), mask=mask, go_backwards=cell == "gru", return_sequences=True)[0]
    y = layer(x, mask=mask)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.inference()(x), layer(x))
    assert np.abs(y - y_float).max() <= 0.02 * np.abs(y_float).max()


# ---------------------------------------------------------------------------------------------- models
def zoo(rng):
    """A functional model with every quantizing layer, wrapped and nested, and some that do not quantize."""
    image = layers.Input((10, 10, 3), name="image")
    h = layers.Conv2D(8, 3, activation="relu")(image)
    h = layers.BatchNormalization()(h)
    h = layers.DepthwiseConv2D(3, padding="same")(h)
    h = layers.SeparableConv2D(6, 3, activation="relu")(h)
    h = layers.GlobalAveragePooling2D()(h)
    tokens = layers.Input((9,), name="tokens")
    t = layers.Embedding(50, 8)(tokens)
    t = layers.Conv1D(8, 3, padding="causal")(t)
    t = layers.Bidirectional(layers.LSTM(6, return_sequences=True))(t)
    t = layers.TimeDistributed(layers.Dense(4))(t)
    t = layers.GRU(5)(t)
    inner = pynn.Sequential([layers.Input((11,)), layers.Dense(7, activation="relu"), layers.LayerNormalization()])
    out = layers.Dense(3)(inner(layers.Concatenate()([h, t])))
    model = pynn.Model([image, tokens], out)
    data = [rng.standard_normal((16, 10, 10, 3)).astype(np.float32), rng.integers(0, 50, (16, 9))]
    model.predict(data, verbose=0)
    return model, data


QUANTIZING = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Embedding", "Conv1D", "LSTM", "Dense", "GRU")


def quantized_layers(model):
    return [layer for layer in model._self_and_sublayers() if getattr(layer, "quantization_mode", None)]


@pytest.mark.filterwarnings("ignore:.*no static mode")
@pytest.mark.parametrize("static", [False, True])
def test_model_quantize_walks_nested_models_and_wrappers_and_saves(static, rng, tmp_path):
    model, data = zoo(rng)
    y_float = model.predict(data, verbose=0)
    float_count = len(model.weights)
    model.quantize("int8", calibration_data=data if static else None)
    done = quantized_layers(model)
    kinds = {type(layer).__name__ for layer in done}
    assert kinds == set(QUANTIZING), kinds
    bidirectional = next(layer for layer in model.layers if isinstance(layer, layers.Bidirectional))
    assert bidirectional.forward_layer in done and bidirectional.backward_layer in done
    assert sum(w.dtype == np.int8 for w in bidirectional.weights) == 2     # its list follows its layers'
    kernels = sum(len(getattr(layer, "_int8_kernels", ("kernel",))) for layer in done)
    assert kernels == 12 and sum(w.dtype == np.int8 for w in model.weights) == kernels
    y = model.predict(data, verbose=0)
    assert np.abs(y - y_float).max() <= 0.05 * np.abs(y_float).max()
    calibrated = [layer for layer in done if getattr(layer, "_static_inputs", None)]   # Embedding has no input
    assert len(calibrated) >= 7                  # the convolutions and recurrent layers (and Dense when it has one)
    assert all(layer.activation_quantization == ("static" if static else None) for layer in calibrated)
    model.save(tmp_path / "zoo.keras")
    loaded = pynn.models.load_model(tmp_path / "zoo.keras")
    assert [(w.name, w.dtype, w.shape) for w in loaded.weights] == [(w.name, w.dtype, w.shape) for w in model.weights]
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), y)
    loaded.dequantize()
    assert not quantized_layers(loaded) and all(w.dtype == np.float32 for w in loaded.weights)
    assert len(loaded.weights) == float_count


def test_saved_weights_are_four_times_smaller(rng, tmp_path):
    def sizes(model):
        model.save(tmp_path / "float.keras")
        model.quantize("int8")
        model.save(tmp_path / "int8.keras")
        return (tmp_path / "float.keras").stat().st_size, (tmp_path / "int8.keras").stat().st_size

    convs = pynn.Sequential([layers.Input((12, 12, 32)), layers.Conv2D(64, 3), layers.DepthwiseConv2D(3),
                             layers.SeparableConv2D(64, 3), layers.Flatten(), layers.Dense(32)])
    table = pynn.Sequential([layers.Input((5,)), layers.Embedding(800, 128), layers.Conv1D(16, 3)])  # 4 d / (d + 4)
    for model in (convs, table):
        before, after = sizes(model)
        assert model.count_params() > 50000 and before / after > 3.5, (model.count_params(), before / after)
    lstm = pynn.Sequential([layers.Input((5, 64)), layers.LSTM(32)])      # the recurrent kernel stays float
    before, after = sizes(lstm)
    assert before - after > 0.95 * 3 * lstm.layers[0].kernel.value.size


@pytest.mark.parametrize("make, shape", [
    (lambda: layers.Conv2D(4, 3), (2, 6, 6, 3)), (lambda: layers.Conv1D(4, 3), (2, 6, 3)),
    (lambda: layers.DepthwiseConv2D(3), (2, 6, 6, 3)), (lambda: layers.SeparableConv2D(4, 3), (2, 6, 6, 3)),
    (lambda: layers.Embedding(10, 4), (2, 6)), (lambda: layers.LSTM(4), (2, 6, 3))])
def test_training_is_refused_and_dequantize_gives_trainable_float_weights(make, shape, rng):
    layer = make()
    x = rng.integers(0, 10, shape) if shape == (2, 6) else rng.standard_normal(shape).astype(np.float32)
    layer(x)
    float_weights = [w.copy() for w in layer.get_weights()]
    trainable = [w.name for w in layer.trainable_weights]
    layer.quantize("int8")
    before = [w.copy() for w in layer.get_weights()]
    with pytest.raises(ValueError, match=r"is quantized \(int8\) and runs inference only; call dequantize\(\)"):
        layer.forward(x, training=True)
    with pytest.raises(ValueError, match="runs inference only"):
        layer.backward(None, None)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    kernels = [attr for attr, _ in layer._int8_kernels]
    ints = {attr: getattr(layer, attr).value.copy() for attr in kernels}
    scale = {attr: getattr(layer, f"{attr}_scale").value.copy() for attr in kernels}
    layer.dequantize()
    assert layer.quantization_mode is None and [w.name for w in layer.trainable_weights] == trainable
    assert len(layer.get_weights()) == len(float_weights)
    for attr in kernels:
        value = getattr(layer, attr).value
        assert value.dtype == np.float32 and getattr(layer, attr).requires_grad
        q = ints[attr].T if attr == "embeddings" else ints[attr].reshape(-1, scale[attr].size)
        back = (q / scale[attr]).T if attr == "embeddings" else (q / scale[attr]).reshape(value.shape)
        np.testing.assert_allclose(value, back, rtol=1e-6)
    layer.forward(x, training=True)                                    # trains again


def test_static_mode_calibrates_each_layer_input_and_saves_it(rng, tmp_path):
    model = pynn.Sequential([layers.Input((8, 8, 2)), layers.Conv2D(6, 3, activation="relu", name="c1"),
                             layers.Conv2D(5, 3, name="c2"), layers.Flatten(), layers.Dense(4)])
    x = rng.standard_normal((40, 8, 8, 2)).astype(np.float32)
    c1, c2 = model.get_layer("c1"), model.get_layer("c2")
    want = [np.abs(x).max(), np.abs(c1(x)).max()]
    w1, b1 = c1.kernel.value.copy(), c1.bias.value.copy()
    generator = (x[i:i + 16] for i in range(0, 40, 16))              # batches work too (a generator here)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*no static mode")
        model.quantize("int8", calibration_data=generator)
    for layer, amax in zip((c1, c2), want):
        assert layer.activation_quantization == "static"
        assert layer.inputs_scale.value.shape == () and layer.inputs_scale.value == np.float32(127) / (
            np.float32(amax) + EPS)
    assert "forward" not in c1.__dict__ and "inference" not in c1.__dict__     # the recording wrappers are gone
    big = x[:3] * 4                                                   # beyond the calibrated range: clipped
    want = conv_reference(big, w1, b1, (1, 1), "valid", (1, 1), static=want[0])[0]
    np.testing.assert_array_equal(c1(big), relu(want))
    assert np.abs(big).max() * c1.inputs_scale.value > 127
    model.save(tmp_path / "static.keras")
    config = [layer["config"] for layer in model.get_config()["layers"] if layer["config"]["name"] == "c1"][0]
    assert config["quantization_mode"] == "int8" and config["activation_quantization"] == "static"
    loaded = pynn.models.load_model(tmp_path / "static.keras")
    np.testing.assert_array_equal(loaded.get_layer("c1").inputs_scale.value, c1.inputs_scale.value)
    np.testing.assert_array_equal(loaded.predict(big, verbose=0), model.predict(big, verbose=0))
    model.dequantize()
    assert c1.inputs_scale is None and [w.name for w in c1.weights] == ["kernel", "bias"]


def test_errors(rng):
    layer = layers.Conv2D(3, 2)
    with pytest.raises(ValueError, match="Conv2D 'conv2d.*': build the layer"):
        layer.quantize("int8")
    layer(np.ones((1, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match="mode 'int4' is not supported"):
        layer.quantize("int4")
    for bad in (-1.0, float("nan"), (1.0, 2.0), "3", True):
        with pytest.raises(ValueError, match="input_absmax must be a finite number >= 0"):
            layer.quantize("int8", input_absmax=bad)
    assert layer.quantization_mode is None and layer.kernel.dtype == np.float32     # nothing changed
    sep = layers.SeparableConv2D(3, 2)
    sep(np.ones((1, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match="2 finite numbers >= 0 \\(inputs_scale, pointwise_inputs_scale\\)"):
        sep.quantize("int8", input_absmax=1.0)
    emb = layers.Embedding(5, 2)
    emb(np.zeros((1, 3), int))
    with pytest.raises(ValueError, match="quantizes no input activations"):
        emb.quantize("int8", input_absmax=1.0)
    layer.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("int8")
    with pytest.raises(ValueError, match="quantization_mode must be 'int8'"):
        layers.Conv2D.from_config({**layer.get_config(), "quantization_mode": "int4"})
    with pytest.raises(ValueError, match="activation_quantization must be 'static'"):
        layers.Conv2D.from_config({**layer.get_config(), "activation_quantization": "dynamic"})
    wide = layers.Conv2D(3, 2, dtype="float64")
    wide(np.ones((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="takes a float32 layer"):
        wide.quantize("int8")
    mixed = pynn.Sequential([layers.Input((4, 4, 2)), layers.Conv2D(3, 2), layers.Conv2D(3, 2, dtype="float64")])
    with pytest.raises(ValueError, match="int8 quantization takes float32 layers, layer 'conv2d.*' is float64"):
        mixed.quantize("int8")
    assert not quantized_layers(mixed)                                   # checked before any layer changed
    with pytest.raises(ValueError, match="calibration_steps given without calibration_data"):
        pynn.Sequential([layers.Input((4, 4, 2)), layers.Conv2D(3, 2)]).quantize("int8", calibration_steps=2)


# ---------------------------------------------------------------------------------------------- MNIST
@pytest.mark.filterwarnings("ignore:.*no static mode")
def test_quantized_cnn_on_real_mnist_keeps_its_accuracy(real_mnist, tmp_path):
    x, y, xt, yt = real_mnist
    x = x[:12000, ..., None].astype(np.float32) / 255         # 1 epoch on 12,000 digits: ~95.5% (~25 s here)
    y = y[:12000]
    xt = xt[..., None].astype(np.float32) / 255
    pynn.utils.set_random_seed(0)
    model = pynn.Sequential([layers.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                             layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
                             layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "float.keras")
    float_acc = model.evaluate(xt, yt, batch_size=256, verbose=0)[1]
    model.quantize("int8")
    dynamic_acc = model.evaluate(xt, yt, batch_size=256, verbose=0)[1]
    static = pynn.models.load_model(tmp_path / "float.keras")
    static.quantize("int8", calibration_data=x[:1000])
    assert static.layers[0].activation_quantization == "static" == static.layers[2].activation_quantization
    static_acc = static.evaluate(xt, yt, batch_size=256, verbose=0)[1]
    assert float_acc > 0.94, float_acc
    assert dynamic_acc >= float_acc - 0.003 and static_acc >= float_acc - 0.003, (float_acc, dynamic_acc, static_acc)
