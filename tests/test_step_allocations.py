"""Issue 20: a training step in steady state allocates no new arrays in the layers (bench/bench_memory.py measures
the workloads); Dense reuses its per-call arrays only when nothing outside the layer holds them."""
import tracemalloc
import weakref

import numpy as np
import pytest

import pynn
from pynn import layers


@pytest.fixture
def rng():
    return np.random.default_rng(20)


@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
def test_dense_reuses_its_arrays_only_when_nothing_else_holds_them(rng, activation):
    layer = layers.Dense(6, activation=activation)
    layer.build_for((4, 5))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    dy = rng.standard_normal((4, 6)).astype(np.float32)
    y1, ctx1 = layer.forward(x, training=True)
    kept = y1.copy()
    y2, ctx2 = layer.forward(2 * x, training=True)
    assert not np.shares_memory(y1, y2)
    np.testing.assert_array_equal(y1, kept)                    # the held output was not overwritten
    dx1 = layer.backward(ctx1, dy)
    kept_dx = dx1.copy()
    dx2 = layer.backward(ctx2, dy)
    assert not np.shares_memory(dx1, dx2)
    np.testing.assert_array_equal(dx1, kept_dx)
    expect = layer.backward(ctx1, dy)                        # the same context again: the same gradient
    np.testing.assert_array_equal(expect, kept_dx)
    del y1, y2, ctx1, ctx2, dx1, dx2, expect
    y, ctx = layer.forward(x, training=True)
    address, dx_address = y.ctypes.data, layer.backward(ctx, dy).ctypes.data
    del y, ctx                                               # dropped: the next step writes the same arrays
    y, ctx = layer.forward(x, training=True)
    dx = layer.backward(ctx, dy)
    assert y.ctypes.data == address and dx.ctypes.data == dx_address
    np.testing.assert_array_equal(y, kept)
    np.testing.assert_array_equal(dx, kept_dx)
    inference = layer.forward(x, training=False)[0]          # inference: fresh arrays for the caller
    assert not np.shares_memory(inference, layer.forward(x, training=False)[0])


def _steady_step_peaks(model, x, y):
    """The most each of 3 training steps allocates on top of what it starts with, after warm-up steps."""
    for _ in range(3):
        model.train_on_batch(x, y)
    tracemalloc.start()
    try:
        model.train_on_batch(x, y)
        peaks = []
        for _ in range(3):
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            model.train_on_batch(x, y)
            peaks.append(tracemalloc.get_traced_memory()[1] - start)
    finally:
        tracemalloc.stop()
    return peaks


def _cnn():
    model = pynn.Sequential([
        layers.Input(shape=(12, 12, 1)),
        layers.Conv2D(16, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_cnn_step_in_steady_state_allocates_no_feature_maps(rng):
    """The most a W2-like step allocates on top of its start (tracemalloc counts numpy's arrays) stays far
    below its smallest per-step array: Dense's input gradient is 64 x 400 floats (102 KB), its outputs and
    their gradients 64 x 128 (32 KB each), the convolution's output 64 x 10 x 10 x 16 (410 KB)."""
    pynn.utils.set_random_seed(0)
    model = _cnn()
    x = rng.random((64, 12, 12, 1), np.float32)
    y = rng.integers(0, 10, 64)
    peaks = _steady_step_peaks(model, x, y)
    assert max(peaks) < 24_000, f"a training step allocated up to {max(peaks)} bytes on top of its start"


def _outputs(out):
    return list(out) if isinstance(out, list) else [out]


@pytest.mark.parametrize("cell", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("kwargs", [dict(), dict(return_sequences=True), dict(return_state=True)], ids=str)
def test_recurrent_layers_reuse_their_arrays_only_when_nothing_else_holds_them(rng, cell, kwargs):
    """The sequence output, the returned states and the input gradient of a training call are the previous
    call's arrays once nothing holds those; a held one is never written over; inference gives fresh arrays."""
    layer = getattr(layers, cell)(6, **kwargs)
    layer.build_for((4, 5, 3))
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    dy = [rng.standard_normal(s.shape).astype(np.float32) for s in _outputs(layer.forward(x, False)[0])]
    dy = dy if len(dy) > 1 else dy[0]
    out1, ctx1 = layer.forward(x, training=True)
    kept = [a.copy() for a in _outputs(out1)]
    out2, ctx2 = layer.forward(2 * x, training=True)
    for a, b, k in zip(_outputs(out1), _outputs(out2), kept):
        assert not np.shares_memory(a, b)
        np.testing.assert_array_equal(a, k)                   # the held output was not overwritten
    dx1 = layer.backward(ctx1, dy)
    kept_dx = dx1.copy()
    dx2 = layer.backward(ctx2, dy)
    assert not np.shares_memory(dx1, dx2)
    np.testing.assert_array_equal(dx1, kept_dx)
    del out1, out2, ctx1, ctx2, dx1, dx2
    out, ctx = layer.forward(x, training=True)
    arrays = [weakref.ref(a) for a in _outputs(out) + [layer.backward(ctx, dy)]]
    del out, ctx                                              # dropped: the next step writes the same arrays
    out, ctx = layer.forward(x, training=True)
    dx = layer.backward(ctx, dy)
    assert all(ref() is a for ref, a in zip(arrays, _outputs(out) + [dx]))    # the same arrays, not new ones
    for a, k in zip(_outputs(out), kept):
        np.testing.assert_array_equal(a, k)
    np.testing.assert_array_equal(dx, kept_dx)
    first = _outputs(layer.forward(x, training=False)[0])    # inference: fresh arrays for the caller
    for a, b in zip(first, _outputs(layer.forward(x, training=False)[0])):
        assert not np.shares_memory(a, b)


def test_an_lstm_step_in_steady_state_allocates_no_sequence_arrays(rng):
    """Two stacked LSTMs: their outputs (32 x 10 x 64 floats, 80 KB, and 32 x 64, 8 KB), the first one's final
    states (8 KB each, not read) and the second one's input gradient (80 KB) are not allocated again once a
    step has run; the most a step allocates on top of its start stays below the smallest of them."""
    pynn.utils.set_random_seed(0)
    model = pynn.Sequential([layers.Input(shape=(10, 8)), layers.LSTM(64, return_sequences=True), layers.LSTM(64),
                             layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = rng.standard_normal((32, 10, 8)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    peaks = _steady_step_peaks(model, x, y)
    assert max(peaks) < 8_000, f"a training step allocated up to {max(peaks)} bytes on top of its start"
