"""int8 quantization: the int8 product (csrc/quantized/) against exact integer arithmetic in NumPy on every ISA
path and thread count; Dense.quantize / Model.quantize against a NumPy transcription of Keras 3's int8 Dense
and against Keras itself; accuracy on real MNIST; saving, refusing to train, dequantize; argument errors."""
import numpy as np
import pytest

import pynn
from pynn import _C, kernels, layers


def keras_int8_dense(x, w, bias):
    """Keras 3's int8 Dense in NumPy: abs-max scales 127 / (max + 1e-7) per input row and per kernel column,
    values rounded half to even into [-127, 127], the integer product divided by both scales."""
    xs = np.float32(127) / (np.abs(x).max(axis=1, keepdims=True) + np.float32(1e-7))
    xq = np.clip(np.round(x * xs), -127, 127).astype(np.int64)
    ws = np.float32(127) / (np.abs(w).max(axis=0) + np.float32(1e-7))
    wq = np.clip(np.round(w * ws), -127, 127).astype(np.int64)
    return (xq @ wq).astype(np.float32) / (xs * ws) + bias, wq, ws


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"], indirect=True)
@pytest.mark.parametrize("m, k, n", [(1, 784, 128), (7, 5, 3), (13, 129, 70), (32, 784, 128), (6, 2, 16), (100, 64, 33)])
def test_int8_product_is_exact(isa, m, k, n, rng, threads):
    x = rng.standard_normal((m, k)).astype(np.float32)
    x[0] = 0                                            # an all-zero row: scale 127 / 1e-7, values 0
    w = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    wq, ws = kernels.quantize_columns(w)
    packed = kernels.pack_weights(wq)
    q = np.empty((m, (k + 1) // 2 * 2), np.int16)
    xs = np.empty(m, np.float32)
    _C.quantize_rows(x, q, xs)
    want_xs = np.float32(127) / (np.abs(x).max(axis=1) + np.float32(1e-7))
    np.testing.assert_array_equal(xs, want_xs)
    np.testing.assert_array_equal(q[:, :k], np.clip(np.round(x * want_xs[:, None]), -127, 127))
    assert not q[:, k:].any()
    exact = (q[:, :k].astype(np.int64) @ wq.astype(np.int64)).astype(np.float32)
    want = exact / (xs[:, None] * ws) + bias
    outs = []
    for t in (1, 2, 3):
        threads(t)
        y = np.empty((m, n), np.float32)
        _C.qgemm(q, xs, packed, ws, y, k, bias=bias)
        outs.append(y)
    for y in outs[1:]:
        np.testing.assert_array_equal(y, outs[0])
    np.testing.assert_allclose(outs[0], want, rtol=1e-6, atol=1e-6, err_msg=isa)
    ref = np.empty((m, n), np.float32)
    _C.qgemm(q, xs, packed, ws, ref, k, bias=bias, reference=True)
    np.testing.assert_array_equal(outs[0], ref)          # the same rounding on every path
    y = np.empty((m, n), np.float32)
    _C.qgemm(q, xs, packed, ws, y, k, bias=bias, activation="relu")
    np.testing.assert_array_equal(y, np.maximum(outs[0], 0))


def test_dense_quantize_matches_keras_int8_dense_in_numpy(rng):
    layer = layers.Dense(33, activation="relu")
    x = rng.standard_normal((9, 70)).astype(np.float32)
    layer(x)
    w, b = layer.kernel.value.copy(), rng.standard_normal(33).astype(np.float32)
    layer.bias.value[...] = b
    layer.quantize("int8")
    want, wq, ws = keras_int8_dense(x, w, b)
    assert [v.name for v in layer.weights] == ["kernel", "bias", "kernel_scale"]
    np.testing.assert_array_equal(layer.kernel.value, wq)
    np.testing.assert_array_equal(layer.kernel_scale.value, ws)
    np.testing.assert_allclose(layer(x), np.maximum(want, 0), rtol=1e-6, atol=1e-6)
    assert [v.name for v in layer.trainable_weights] == ["bias"]      # as in Keras
    layer.dequantize()
    assert layer.quantization_mode is None and layer.kernel.dtype == np.float32
    np.testing.assert_allclose(layer.kernel.value, wq / ws, rtol=1e-6)


def test_quantized_mlp_on_real_mnist_keeps_its_accuracy_and_saves_small(real_mnist, tmp_path):
    x, y, xt, yt = real_mnist
    x = x.reshape(-1, 784).astype(np.float32) / 255
    xt = xt.reshape(-1, 784).astype(np.float32) / 255
    pynn.utils.set_random_seed(0)
    model = pynn.Sequential([layers.Input((784,)), layers.Dense(128, activation="relu"), layers.Dropout(0.2),
                             layers.Dense(64, activation="relu"), layers.Dropout(0.2),
                             layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "float.keras")
    float_acc = model.evaluate(xt, yt, verbose=0)[1]
    model.quantize("int8")
    int8_acc = model.evaluate(xt, yt, verbose=0)[1]
    assert float_acc > 0.95 and int8_acc >= float_acc - 0.003, (float_acc, int8_acc)
    predictions = model.predict(xt[:500], verbose=0)
    model.save(tmp_path / "int8.keras")
    assert (tmp_path / "int8.keras").stat().st_size < (tmp_path / "float.keras").stat().st_size / 2.5
    loaded = pynn.models.load_model(tmp_path / "int8.keras")
    assert loaded.layers[0].kernel.dtype == np.int8
    np.testing.assert_array_equal(loaded.predict(xt[:500], verbose=0), predictions)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="quantized .*inference only.*dequantize"):
        model.fit(x[:64], y[:64], verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.dequantize()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:3200], y[:3200], batch_size=32, verbose=0)
    assert model.evaluate(xt, yt, verbose=0)[1] > 0.95


def test_keras_quantized_dense_matches(keras, rng, tmp_path):
    x = rng.standard_normal((6, 20)).astype(np.float32)
    theirs = keras.Sequential([keras.Input((20,)), keras.layers.Dense(7, activation="relu"), keras.layers.Dense(3)])
    ours = pynn.Sequential([layers.Input((20,)), layers.Dense(7, activation="relu"), layers.Dense(3)])
    ours.set_weights([np.asarray(w) for w in theirs.get_weights()])
    theirs.quantize("int8")
    ours.quantize("int8")
    for k, p in zip(theirs.layers, ours.layers):
        np.testing.assert_array_equal(np.asarray(k._kernel.numpy()), p.kernel.value)
        np.testing.assert_array_equal(np.asarray(k.kernel_scale.numpy()).reshape(-1), p.kernel_scale.value)
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5,
                               atol=1e-5)
    theirs.save_weights(tmp_path / "q.weights.h5")          # Keras's file: kernel (int8), bias, kernel_scale
    again = pynn.Sequential([layers.Input((20,)), layers.Dense(7, activation="relu"), layers.Dense(3)])
    again.quantize("int8")
    again.load_weights(tmp_path / "q.weights.h5")
    np.testing.assert_array_equal(again.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_errors(rng):
    layer = layers.Dense(4)
    with pytest.raises(ValueError, match="build the layer"):
        layer.quantize("int8")
    layer(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="mode 'int4' is not supported"):
        layer.quantize("int4")
    layer.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        layer.quantize("int8")
    with pytest.raises(ValueError, match="no layer to quantize"):
        pynn.Sequential([layers.Input((3,)), layers.Flatten()]).quantize("int8")
    q = np.zeros((2, 4), np.int16)
    with pytest.raises(ValueError, match="q: expected dtype int16"):
        _C.quantize_rows(np.ones((2, 3), np.float32), q.astype(np.int32), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"packed_b: expected shape"):
        _C.qgemm(q, np.ones(2, np.float32), np.zeros(3, np.int16), np.ones(5, np.float32),
                 np.zeros((2, 5), np.float32), 3)


def test_quantized_dense_sees_new_weights_and_dequantize_keeps_its_rules(rng):
    layer = layers.Dense(6, kernel_regularizer="l2", kernel_constraint="non_neg")
    x = rng.standard_normal((4, 5)).astype(np.float32)
    layer(x)
    layer.quantize("int8")
    first = layer(x)
    q, scale = pynn.kernels.quantize_columns(rng.standard_normal((5, 6)).astype(np.float32))
    layer.set_weights([q, layer.bias.numpy(), scale])          # in place: the packed copy must follow
    expected = pynn.kernels.int8_matmul(x, pynn.kernels.pack_weights(q), scale, 5, bias=layer.bias.value)
    np.testing.assert_array_equal(layer(x), expected)
    assert not np.array_equal(layer(x), first)
    layer.dequantize()
    assert layer.kernel.regularizer is not None and layer.kernel.constraint is not None
