"""Bidirectional with merge_mode=None (and return_state) in a functional model: both sequence outputs carry the
input's mask, as in Keras 3, so that a masked layer after either one (GlobalAveragePooling1D, an RNN) skips the
padding. Checked against Keras (same weights: predictions and weight gradients) and float64 finite differences.

Needs the functional model to hand each output of a list-output layer its own mask (compute_mask returning one
per output)."""
import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import numeric_gradient

V, T = 9, 6


def _tokens(rng):
    x = rng.integers(1, V, (4, T))
    x[0, 4:] = 0
    x[1, 2:] = 0
    x[3, :2] = 0                                      # padding first
    return x


def _build(lib, layers_, return_state, dtype="float32"):
    i = lib.Input((None,), dtype="int32")
    e = layers_.Embedding(V, 3, mask_zero=True, dtype=dtype)(i)
    outs = layers_.Bidirectional(layers_.LSTM(2, return_sequences=True, return_state=return_state, dtype=dtype),
                                 merge_mode=None, dtype=dtype)(e)
    forward, backward = outs[0], outs[1]
    return lib.Model(i, [layers_.GlobalAveragePooling1D(dtype=dtype)(forward),
                         layers_.GlobalAveragePooling1D(dtype=dtype)(backward),
                         layers_.SimpleRNN(2, dtype=dtype)(backward),
                         layers_.GRU(2, dtype=dtype)(forward)])


def _perturb(model, rng):
    model.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype(w.dtype) for w in model.get_weights()])


def test_compute_mask_gives_one_mask_per_output():
    mask = np.array([[True, False]])
    x = np.zeros((1, 2, 3), "float32")
    both = layers.Bidirectional(layers.GRU(2, return_sequences=True), merge_mode=None)
    assert [m is mask for m in both.compute_mask(x, mask)] == [True, True]
    states = layers.Bidirectional(layers.LSTM(2, return_sequences=True, return_state=True), merge_mode=None)
    assert [m is mask for m in states.compute_mask(x, mask)] == [True, True, False, False, False, False]
    assert states.compute_mask(x, mask)[2:] == [None] * 4
    concat = layers.Bidirectional(layers.LSTM(2, return_sequences=True, return_state=True))
    assert [m is mask for m in concat.compute_mask(x, mask)] == [True, False, False, False, False]
    assert layers.Bidirectional(layers.LSTM(2, return_sequences=True)).compute_mask(x, mask) is mask
    assert layers.Bidirectional(layers.LSTM(2), merge_mode=None).compute_mask(x, mask) == [None, None]


@pytest.mark.parametrize("return_state", [False, True])
def test_both_outputs_carry_the_mask_like_keras(keras, rng, return_state):
    import torch
    x = _tokens(rng)
    ours, theirs = _build(pynn, layers, return_state), _build(keras, keras.layers, return_state)
    _perturb(ours, rng)
    theirs.set_weights(ours.get_weights())
    want = [np.asarray(w) for w in theirs.predict(x, verbose=0)]
    for got, exp in zip(ours.predict(x, verbose=0), want):
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-6)
    outs, ctx = ours.forward(x, training=True)
    g = [rng.standard_normal(o.shape).astype("float32") for o in outs]
    for w in ours.weights:
        w.grad.fill(0)
    ours.backward_weights(ctx, [v.copy() for v in g])
    kouts = theirs(torch.as_tensor(x))
    sum((o * torch.as_tensor(d)).sum() for o, d in zip(kouts, g)).backward()
    for w, v in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(w.grad, v.value.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_padding_plays_no_part_in_either_output_and_gradients_float64(rng):
    model = _build(pynn, layers, True, dtype="float64")
    _perturb(model, rng)
    x = _tokens(rng)
    full = model.predict(x, verbose=0)
    for i in range(len(x)):                            # each row as if it had no padding at all
        cut = model.predict(x[i:i + 1][:, x[i] != 0], verbose=0)
        for k, (a, b) in enumerate(zip(cut, full)):
            np.testing.assert_allclose(a[0], b[i], rtol=1e-9, atol=1e-12, err_msg=f"row {i}, output {k}")
    outs, ctx = model.forward(x, training=False)
    g = [rng.standard_normal(o.shape) for o in outs]
    for w in model.weights:
        w.grad.fill(0)
    model.backward_weights(ctx, [v.copy() for v in g])

    def f():
        return float(sum(np.sum(d * o) for d, o in zip(g, model.forward(x, training=False)[0])))
    for w in model.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=1e-6, atol=1e-9, err_msg=w.name)


def test_merge_mode_none_round_trips_through_a_keras_file(rng, tmp_path):
    model = _build(pynn, layers, False)
    _perturb(model, rng)
    x = _tokens(rng)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "bidirectional.keras")
    loaded = pynn.models.load_model(tmp_path / "bidirectional.keras")
    for a, b in zip(loaded.predict(x, verbose=0), want):
        np.testing.assert_allclose(a, b, rtol=1e-6)
