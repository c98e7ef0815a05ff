"""Recurrent layers called inside call() with `initial_state=` tensors (an encoder-decoder whose decoder starts
from the encoder's final states): the gradient reaches the states, hence the encoder. Checked against float64
finite differences (a subclassed Model, a call() layer in a functional model with two inputs, Bidirectional,
learned initial states) and against Keras 3 (same weights, torch autograd)."""
import numpy as np
import pytest

import pynn
from pynn import layers, ops
from gradcheck import numeric_gradient

F64 = "float64"


class EncoderDecoder(pynn.Model):
    """Encodes x, then decodes x read backwards starting from the encoder's final states."""

    def __init__(self, cell="LSTM", units=3, bidirectional=False, dtype=F64, **kwargs):
        super().__init__(**kwargs)
        rnn = getattr(layers, cell)
        self.bidirectional = bidirectional
        if bidirectional:
            self.encoder = layers.Bidirectional(rnn(units, return_state=True, dtype=dtype), dtype=dtype)
            self.decoder = layers.Bidirectional(rnn(units, return_sequences=True, dtype=dtype), dtype=dtype)
        else:
            self.encoder = rnn(units, return_state=True, dtype=dtype)
            self.decoder = rnn(units, return_sequences=True, dtype=dtype)
        self.head = layers.Dense(2, dtype=dtype)

    def call(self, x):
        _, *states = self.encoder(x)
        return self.head(self.decoder(ops.flip(x, axis=1), initial_state=states))


class Decode(layers.Layer):
    """A call() layer on [encoder input, decoder input]: the decoder starts from the encoder's states."""

    def __init__(self, cell="GRU", units=3, **kwargs):
        super().__init__(**kwargs)
        rnn = getattr(layers, cell)
        self.encoder = rnn(units, return_state=True, dtype=self.dtype)
        self.decoder = rnn(units, return_sequences=True, dtype=self.dtype)

    def call(self, inputs):
        source, target = inputs
        _, *states = self.encoder(source)
        return self.decoder(target, initial_state=states)


class LearnedStart(layers.Layer):
    """A learned initial state (a weight, tiled over the batch) for a built-in LSTM."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lstm = layers.LSTM(3, return_sequences=True, dtype=self.dtype)

    def build(self, input_shape):
        self.h0 = self.add_weight(shape=(1, 3), initializer="random_normal")
        self.c0 = self.add_weight(shape=(1, 3), initializer="random_normal")

    def call(self, x):
        batch = ops.shape(x)[0]
        return self.lstm(x, initial_state=[ops.tile(self.h0, (batch, 1)), ops.tile(self.c0, (batch, 1))])


def _check_gradients(model, x, rng, inputs=()):
    """model.backward against central differences of sum(g * y): every trainable weight, and the inputs
    listed in `inputs` (indices into the list x, or 0 for a single array)."""
    y, ctx = model.forward(x, training=True)
    g = rng.standard_normal(np.shape(y))
    for w in model.weights:
        w.grad.fill(0)
    dx = model.backward(ctx, g.copy())

    def f():
        return float(np.sum(g * model.forward(x, training=True)[0]))
    for w in model.trainable_weights:
        want = numeric_gradient(f, w.value)
        assert np.abs(want).max() > 1e-6, w.name          # the weight matters: the check can fail
        np.testing.assert_allclose(w.grad, want, rtol=1e-6, atol=1e-9, err_msg=w.name)
    for k in inputs:
        got, arr = (dx[k], x[k]) if isinstance(x, list) else (dx, x)
        np.testing.assert_allclose(got, numeric_gradient(f, arr), rtol=1e-6, atol=1e-9, err_msg=f"input {k}")


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_subclassed_encoder_decoder_gradients_reach_the_encoder_float64(rng, cell):
    model = EncoderDecoder(cell)
    x = rng.standard_normal((3, 4, 2))
    model(x)
    _check_gradients(model, x, rng, inputs=[0])


def test_bidirectional_states_into_a_bidirectional_decoder_float64(rng):
    model = EncoderDecoder("LSTM", bidirectional=True)
    x = rng.standard_normal((2, 4, 2))
    model(x)
    _check_gradients(model, x, rng, inputs=[0])


def test_call_layer_in_a_functional_model_passes_gradients_through_states_float64(rng):
    source, target = pynn.Input((None, 2), dtype=F64), pynn.Input((None, 3), dtype=F64)
    y = Decode("GRU", dtype=F64)([source, target])
    model = pynn.Model([source, target], layers.GlobalAveragePooling1D(dtype=F64)(y))
    x = [rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 4, 3))]
    _check_gradients(model, x, rng, inputs=[0, 1])


def test_learned_initial_states_get_their_gradient_float64(rng):
    layer = LearnedStart(dtype=F64)
    x = rng.standard_normal((3, 4, 2))
    layer(x)
    assert len(layer.trainable_weights) == 5           # h0, c0 and the LSTM's three
    _check_gradients(layer, x, rng, inputs=[0])


def test_gradient_tape_sees_the_encoder_and_training_changes_it(rng):
    """Before the fix, tape.gradient gave None for every encoder weight (the states were cut from the graph)."""
    model = EncoderDecoder("LSTM", dtype="float32")
    x = rng.standard_normal((4, 5, 2)).astype("float32")
    y = rng.standard_normal((4, 5, 2)).astype("float32")
    model(x)
    with pynn.GradientTape() as tape:
        loss = ops.mean(ops.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.encoder.trainable_weights)
    assert all(g is not None and np.abs(g).max() > 0 for g in grads)
    before = [w.numpy().copy() for w in model.encoder.weights]
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=2, verbose=0)
    assert all(not np.allclose(a, w.numpy()) for a, w in zip(before, model.encoder.weights))


def test_states_given_but_not_traced_still_give_the_input_its_gradient(rng):
    """Constant initial states (arrays) with a traced input: the input's gradient is the array, not the layer's
    [dx, dh, dc] list."""
    class Constant(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(2, dtype=self.dtype)
            self.lstm = layers.LSTM(3, dtype=self.dtype)

        def call(self, x):
            h = np.full((x.shape[0], 3), 0.5)
            return self.lstm(self.dense(x), initial_state=[h, -h])
    layer = Constant(dtype=F64)
    x = rng.standard_normal((2, 3, 4))
    layer(x)
    _check_gradients(layer, x, rng, inputs=[0])


# ---------------------------------------------------------------------------------------------- Keras
@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_encoder_decoder_gradients_match_keras(keras, rng, cell):
    import torch

    class KerasEncoderDecoder(keras.Model):
        def __init__(self):
            super().__init__()
            rnn = getattr(keras.layers, cell)
            self.encoder = rnn(3, return_state=True)
            self.decoder = rnn(3, return_sequences=True)
            self.head = keras.layers.Dense(2)

        def call(self, x):
            _, *states = self.encoder(x)
            return self.head(self.decoder(keras.ops.flip(x, axis=1), initial_state=states))

    x = rng.standard_normal((3, 5, 2)).astype("float32")
    ours, theirs = EncoderDecoder(cell, dtype="float32"), KerasEncoderDecoder()
    ours(x)
    theirs(x)
    ours.set_weights([w + 0.2 * rng.standard_normal(w.shape).astype("float32") for w in ours.get_weights()])
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    theirs.set_weights(ours.get_weights())
    y, ctx = ours.forward(x, training=True)
    g = rng.standard_normal(y.shape).astype("float32")
    for w in ours.weights:
        w.grad.fill(0)
    ours.backward(ctx, g)
    ky = theirs(torch.as_tensor(x))
    (ky * torch.as_tensor(g)).sum().backward()
    np.testing.assert_allclose(y, ky.detach().numpy(), rtol=1e-5, atol=1e-6)
    for w, v in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(w.grad, v.value.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=v.path)
