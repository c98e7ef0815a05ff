"""Keras 3's activation names everywhere pynn takes one: relu6, mish and hard_silu / hard_swish (new), and selu,
gelu, silu, softplus, softsign, exponential, hard_sigmoid. Each is a pynn.activations function, an `activation=`
name of Dense / Conv / Activation, serializes under Keras's name, and equals Keras 3.15 (values and gradients,
float64, torch backend) including the kernels' formulas (hard_sigmoid = relu6(x + 3) / 6, gelu exact by default)."""
import math
import os

import numpy as np
import pytest

import pynn
from pynn import activations, layers
from gradcheck import check_layer_gradients, numeric_gradient

# Keras 3 names (its activations.get table, aliases included) that pynn takes.
KERAS_NAMES = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "tanh", "softplus",
               "softsign", "silu", "swish", "exponential", "mish", "hard_silu", "hard_swish", "linear", "softmax",
               "log_softmax"]
ELEMENTWISE = [n for n in KERAS_NAMES if n not in ("softmax", "log_softmax")]
NEW = ["relu6", "mish", "hard_silu"]
KINKS = {"relu": [0], "relu6": [0, 6], "leaky_relu": [0], "elu": [0], "selu": [0], "hard_sigmoid": [-3, 3],
         "hard_silu": [-3, 3], "hard_swish": [-3, 3], "softsign": [0]}


def grid():
    """Points over [-8, 8], the kinks of every activation among them (0, +-3, 6) and their neighbours."""
    x = np.concatenate([np.linspace(-8, 8, 161), [-6, -3, 0, 3, 6], np.array([-3, 0, 3, 6]) + 1e-3,
                        np.array([-3, 0, 3, 6]) - 1e-3, [-30.0, 25.0]])
    return x.reshape(4, -1)   # 176 points: softmax runs over rows of 44


def away_from_kinks(name, x):
    kinks = np.array(KINKS.get(name, [])).reshape(-1, 1, 1)
    return x if not kinks.size else np.where(np.min(np.abs(x[None] - kinks), axis=0) < 1e-2, x + 0.05, x)


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_every_keras_name_is_a_function_a_name_and_a_layer(name, rng):
    fn = getattr(activations, name)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = fn(x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(activations.get(name)(x), y)
    np.testing.assert_array_equal(activations.get(fn)(x), y)
    np.testing.assert_array_equal(layers.Activation(name)(x), y)
    np.testing.assert_array_equal(layers.Activation(fn)(x), y)


def test_aliases_and_new_functions():
    assert activations.hard_swish is activations.hard_silu and activations.silu is activations.swish
    assert activations.get("hard_swish") == activations.get("hard_silu")
    assert activations.get("relu6") == activations.ActivationFn("relu", max_value=6.0)   # the capped relu kernel
    x = np.linspace(-10, 10, 81)
    np.testing.assert_array_equal(activations.relu6(x), np.clip(x, 0, 6))
    np.testing.assert_allclose(activations.mish(x), x * np.tanh(np.logaddexp(0, x)), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(activations.hard_silu(x), x * np.clip(x + 3, 0, 6) / 6, rtol=1e-15)
    np.testing.assert_allclose(activations.hard_sigmoid(x), np.clip(x + 3, 0, 6) / 6, rtol=1e-15)  # Keras 3's
    with pytest.raises(ValueError, match="'mish': takes no parameters"):
        activations.ActivationFn("mish", alpha=1.0)
    with pytest.raises(ValueError, match="'relu6': takes no parameters"):
        activations.get({"name": "relu6", "max_value": 3.0})
    with pytest.raises(ValueError, match="unknown name 'relu7'.*'hard_swish'.*'mish'.*'relu6'"):
        activations.get("relu7")
    with pytest.raises(ValueError, match="backward needs the forward input x"):
        activations.get("mish").backward(np.ones(3), y=np.ones(3))


@pytest.mark.parametrize("name", NEW)
def test_new_activations_gradients_match_finite_differences(name, rng):
    x = away_from_kinks(name, rng.uniform(-7, 8, (6, 7)))
    check_layer_gradients(layers.Activation(name, dtype="float64"), x, rtol=1e-6, atol=1e-8)
    # extreme inputs stay finite as in Keras
    act = activations.get(name)
    big = np.array([-1e4, -50.0, 50.0, 1e4])
    assert np.all(np.isfinite(act(big))) and np.all(np.isfinite(act.backward(np.ones(4), x=big)))
    for dtype in (np.float32, np.float64):
        assert act(big.astype(dtype)).dtype == dtype and act.backward(np.ones(4, dtype), x=big.astype(dtype)).dtype \
            == dtype


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_dense_and_conv_with_each_activation(name, rng):
    """Fused into the kernel or applied after it, the layer computes act(affine) and its gradients."""
    dense = layers.Dense(4, activation=name, dtype="float64", bias_initializer="random_normal")
    x = rng.standard_normal((5, 3))
    dense.build_for(x.shape)
    z = x @ dense.kernel.value + dense.bias.value
    np.testing.assert_allclose(dense(x), activations.get(name)(z), rtol=1e-12, atol=1e-14)
    check_layer_gradients(dense, x, rtol=1e-5, atol=1e-7)   # random pre-activations: no kink within 1e-6
    conv = layers.Conv1D(2, 3, activation=name, dtype="float64")
    x = rng.standard_normal((2, 6, 3))
    y = conv(x)
    plain = layers.Conv1D(2, 3, dtype="float64")
    plain(x)
    plain.set_weights(conv.get_weights())
    np.testing.assert_allclose(y, activations.get(name)(plain(x)), rtol=1e-12, atol=1e-14)
    check_layer_gradients(conv, x, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NEW)
def test_new_activations_in_conv2d_and_rnns(name, rng):
    x = rng.standard_normal((2, 5, 5, 2))
    check_layer_gradients(layers.Conv2D(3, 3, activation=name, dtype="float64"), x, rtol=1e-5, atol=1e-7)
    seq = rng.standard_normal((2, 4, 3)).astype(np.float32)
    if name == "relu6":          # the capped relu kernel also runs inside the recurrent kernels
        assert layers.SimpleRNN(3, activation=name)(seq).shape == (2, 3)
        assert layers.LSTM(3, recurrent_activation=name)(seq).shape == (2, 3)
    else:                        # NumPy activations cannot run inside the C++ recurrent kernels
        with pytest.raises(ValueError, match=f"'lstm.*'.*{name}"):
            layers.LSTM(3, activation=name)


@pytest.mark.parametrize("name,keras_name", [("relu6", "relu6"), ("mish", "mish"), ("hard_swish", "hard_silu"),
                                             ("hard_silu", "hard_silu"), ("silu", "swish"), ("gelu", "gelu")])
def test_config_save_and_load_keep_the_name(name, keras_name, tmp_path, rng):
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(8, activation=name),
                             layers.Activation(name), layers.Dense(2, activation="softmax")])
    assert model.layers[0].get_config()["activation"] == keras_name
    assert model.layers[1].get_config()["activation"] == keras_name
    assert layers.Dense(2, activation=getattr(activations, name)).get_config()["activation"] == keras_name
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=8, verbose=0)     # the Dense / softmax chain, or the general path
    assert model.evaluate(x, y, verbose=0) < before
    model.save(tmp_path / "m.keras")
    loaded = pynn.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].activation == model.layers[0].activation
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ------------------------------------------------------------------ Keras 3.15 itself
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras comparison runs on the torch backend")
    return keras


def keras_value_and_gradient(keras, fn, x, dy):
    import torch
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = fn(xt)
    y.backward(torch.tensor(dy, dtype=torch.float64))
    return y.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_values_and_gradients_equal_keras(keras, name, rng):
    """keras.activations.get(name) on float64 torch tensors, autograd for the gradient; kinks included (the
    derivative chosen at a kink is torch's, which Keras 3 uses)."""
    x = grid()
    dy = rng.uniform(-1, 1, x.shape)
    expect, expect_dx = keras_value_and_gradient(keras, keras.activations.get(name), x, dy)
    act = activations.get(name)
    y = act.forward(x)
    np.testing.assert_allclose(y, expect, rtol=1e-12, atol=1e-15)
    dx = act.backward(dy, x=x, y=y)
    np.testing.assert_allclose(dx, expect_dx, rtol=1e-7, atol=1e-15)   # torch's hardsigmoid: 1/6 in float32
    # the same through float32 (pynn's default)
    np.testing.assert_allclose(act(x.astype(np.float32)), expect, rtol=2e-6, atol=1e-6)


def test_gelu_defaults_to_the_exact_form_as_keras_3(keras):
    x = grid()
    for approximate in (False, True):
        expect, _ = keras_value_and_gradient(keras, lambda t: keras.activations.gelu(t, approximate=approximate),
                                             x, np.ones_like(x))
        np.testing.assert_allclose(activations.gelu(x, approximate=approximate), expect, rtol=1e-12, atol=1e-15)
    exact, _ = keras_value_and_gradient(keras, keras.activations.get("gelu"), x, np.ones_like(x))
    np.testing.assert_allclose(activations.gelu(x), exact, rtol=1e-12, atol=1e-15)
    assert not np.allclose(activations.gelu(x), activations.gelu(x, approximate=True), rtol=1e-6)


def test_hard_sigmoid_is_keras_3s_not_keras_2s(keras):
    """Keras 2's hard_sigmoid was clip(0.2 x + 0.5, 0, 1); Keras 3's (and the kernel's) is relu6(x + 3) / 6."""
    x = grid()
    expect, _ = keras_value_and_gradient(keras, keras.activations.hard_sigmoid, x, np.ones_like(x))
    np.testing.assert_allclose(expect, np.clip(x + 3, 0, 6) / 6, rtol=1e-15)
    np.testing.assert_allclose(pynn.kernels.activation(x, "hard_sigmoid"), expect, rtol=1e-15)
    assert not np.allclose(activations.hard_sigmoid(x), np.clip(0.2 * x + 0.5, 0, 1))


@pytest.mark.parametrize("name", ["relu6", "mish", "hard_silu", "selu", "gelu", "softplus"])
def test_dense_configs_equal_keras(keras, name):
    ours = layers.Dense(3, activation=name).get_config()["activation"]
    theirs = keras.layers.Dense(3, activation=name).get_config()["activation"]
    assert ours == theirs
    assert math.isfinite(float(activations.get(ours)(np.array([1.0]))[0]))


def test_numeric_gradient_helper_is_exercised():
    """Sanity: the finite-difference helper agrees with an analytic derivative (guards the tests above)."""
    x = np.array([0.3, -1.2])
    g = numeric_gradient(lambda: float(np.sum(activations.mish(x))), x)
    t = np.tanh(np.logaddexp(0, x))
    np.testing.assert_allclose(g, t + x * (1 - t * t) / (1 + np.exp(-x)), rtol=1e-7)
