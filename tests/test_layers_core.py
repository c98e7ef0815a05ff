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


@pytest.mark.parametrize("make", [
    lambda: layers.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2, dtype="float64"),
    lambda: layers.LeakyReLU(dtype="float64"),
    lambda: layers.ELU(alpha=0.7, dtype="float64"),
    lambda: layers.Softmax(dtype="float64"),
    lambda: layers.PReLU(alpha_initializer="random_normal", dtype="float64"),
    lambda: layers.PReLU(alpha_initializer="random_normal", shared_axes=[1], dtype="float64"),
    lambda: layers.Reshape((3, -1), dtype="float64"),
    lambda: layers.Permute((2, 1), dtype="float64"),
])
def test_more_layer_gradients(make, rng):
    check_layer_gradients(make(), rng.standard_normal((2, 3, 4)))


def test_repeat_vector_and_reshape_shapes(rng):
    x = rng.standard_normal((2, 5))
    y = layers.RepeatVector(3, dtype="float64")(x)
    assert y.shape == (2, 3, 5) and np.array_equal(y[:, 1], x)
    check_layer_gradients(layers.RepeatVector(3, dtype="float64"), x)
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((4, 4))(rng.standard_normal((2, 6)))


def test_relu_layer_matches_keras_formula(rng):
    x = rng.standard_normal((4, 9)).astype(np.float32) * 3
    y = layers.ReLU(max_value=2.0, negative_slope=0.1, threshold=0.5)(x)
    want = np.where(x >= 2.0, 2.0, np.where(x > 0.5, x, 0.1 * (x - 0.5)))
    np.testing.assert_allclose(y, want, rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU()(x), np.where(x > 0, x, 0.3 * x), rtol=1e-6)


def test_activity_regularization_adds_its_penalty(rng):
    from pynn.models import Sequential
    x = rng.standard_normal((8, 4)).astype(np.float32)
    model = Sequential([layers.Dense(3, input_dim=4), layers.ActivityRegularization(l1=0.01, l2=0.02)])
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((8, 3), np.float32)
    out = model.predict(x)
    penalty = 0.01 * np.abs(out).sum() + 0.02 * (out ** 2).sum()
    np.testing.assert_allclose(model.test_on_batch(x, y), (out ** 2).mean() + penalty, rtol=1e-5)


def test_dense_config_round_trip(rng):
    from pynn import regularizers
    layer = layers.Dense(4, activation="tanh", kernel_regularizer=regularizers.L2(0.1),
                         activity_regularizer="l1", kernel_initializer="he_normal", name="d")
    clone = layers.Dense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = rng.standard_normal((3, 5)).astype(np.float32)
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))
    assert clone.kernel.regularizer.get_config() == layer.kernel.regularizer.get_config()
