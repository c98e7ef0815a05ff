"""Core layers: finite-difference gradients in float64, Keras semantics, errors."""
import numpy as np
import pytest

from pynn import layers
from gradcheck import check_layer_gradients

ACTS = [None, "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign", "swish", "gelu",
        "log_softmax", "leaky_relu", "exponential"]


@pytest.mark.parametrize("activation", ACTS)
def test_dense_gradients(activation, rng):
    layer = layers.Dense(5, activation=activation, dtype="float64", bias_initializer="random_normal")
    check_layer_gradients(layer, rng.standard_normal((4, 7)) * 0.7 + 0.05)


def test_dense_on_rank3_input_and_no_bias(rng):
    check_layer_gradients(layers.Dense(3, use_bias=False, dtype="float64"), rng.standard_normal((2, 4, 6)))


def test_dense_matches_numpy(rng):
    layer = layers.Dense(6, activation="relu")
    x = rng.standard_normal((9, 4)).astype(np.float32)
    y = layer(x)
    w, b = layer.get_weights()
    assert w.shape == (4, 6) and b.shape == (6,)
    np.testing.assert_allclose(y, np.maximum(x @ w + b, 0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softmax", "tanh", "gelu"])
def test_activation_layer_gradients(activation, rng):
    check_layer_gradients(layers.Activation(activation, dtype="float64"), rng.standard_normal((3, 5)))


def test_flatten_order_and_gradient(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    y = layers.Flatten(dtype="float64")(x)
    np.testing.assert_array_equal(y, x.reshape(2, 60))
    check_layer_gradients(layers.Flatten(dtype="float64"), x)


def test_dropout_training_and_inference(rng):
    layer = layers.Dropout(0.25, seed=7, dtype="float64")
    x = rng.standard_normal((200, 50)) + 3.0
    np.testing.assert_array_equal(layer(x), x)  # inference: identity
    y, mask = layer.forward(x, training=True)
    kept = y != 0
    assert 0.70 < kept.mean() < 0.80
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    dx = layer.backward(mask, np.ones_like(x))
    np.testing.assert_allclose(dx, kept / 0.75)
    y2, _ = layer.forward(x, training=True)  # a seeded layer draws a new mask each call
    assert not np.array_equal(y, y2)


def test_unknown_keyword_and_bad_arguments():
    with pytest.raises(ValueError, match=r"unknown keyword argument\(s\) \['unit'\]"):
        layers.Dense(3, unit=4)
    with pytest.raises(ValueError, match="units must be a positive integer"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="rate must be in"):
        layers.Dropout(1.5)
    with pytest.raises(ValueError, match="unknown name 'nope'"):
        layers.Dense(3, activation="nope")


def test_wrong_feature_count_names_the_layer(rng):
    layer = layers.Dense(3, name="hidden")
    layer(rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match=r"Layer 'hidden': expected input of shape \(None, 4\), got \(2, 5\)"):
        layer(rng.standard_normal((2, 5)))


def test_set_weights_checks_shapes_before_changing_anything(rng):
    layer = layers.Dense(3)
    layer(np.ones((1, 2), np.float32))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"weight 'bias' expects shape \(3,\), got \(4,\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(4)])
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)
