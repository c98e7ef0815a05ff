"""Conv1DTranspose: float64 finite-difference gradients, Keras's output lengths and weight layout, parity with
Keras 3 (same weights) and PyTorch's conv_transpose1d, config and .keras round trips, and bad arguments."""
import json
import os

import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import check_layer_gradients

CASES = [
    # (constructor kwargs, input shape)
    (dict(filters=3, kernel_size=3, activation="tanh"), (2, 5, 2)),
    (dict(filters=2, kernel_size=4, strides=2, padding="same"), (1, 4, 3)),
    (dict(filters=2, kernel_size=3, strides=3, output_padding=1), (2, 3, 2)),
    (dict(filters=2, kernel_size=3, dilation_rate=2, padding="same", activation="relu"), (1, 6, 2)),
    (dict(filters=3, kernel_size=2, strides=2, padding="same", output_padding=1, use_bias=False), (2, 4, 2)),
    (dict(filters=2, kernel_size=5, strides=2, activation="elu"), (1, 3, 3)),
]


@pytest.mark.parametrize("kwargs,shape", CASES)
def test_gradients_float64(kwargs, shape, rng):
    layer = layers.Conv1DTranspose(**kwargs, dtype="float64", bias_initializer="random_normal")
    check_layer_gradients(layer, rng.standard_normal(shape) + 0.1, rtol=1e-5, atol=1e-7)


def test_shapes_and_weight_layout_follow_keras():
    x = np.zeros((2, 10, 3), np.float32)
    layer = layers.Conv1DTranspose(4, 3, strides=2)
    assert layer(x).shape == (2, 21, 4) and layer.kernel.shape == (3, 4, 3) and layer.bias.shape == (4,)
    assert layer.compute_output_shape((None, 10, 3)) == (None, 21, 4)
    assert layer.compute_output_shape((None, None, 3)) == (None, None, 4)
    assert layers.Conv1DTranspose(4, 3, strides=2, padding="same")(x).shape == (2, 20, 4)
    assert layers.Conv1DTranspose(4, 3, strides=2, output_padding=1)(x).shape == (2, 22, 4)   # 9 * 2 + 3 + 1
    assert layers.Conv1DTranspose(2, 1).kernel_size == (1,)


@pytest.mark.parametrize("kwargs,shape", CASES)
def test_matches_keras(kwargs, shape, rng):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("needs Keras with KERAS_BACKEND=torch")
    x = rng.standard_normal((shape[0], shape[1] + 3, shape[2])).astype(np.float32)
    layer = layers.Conv1DTranspose(**kwargs, bias_initializer="random_normal")
    y = layer(x)
    ref = keras.layers.Conv1DTranspose(**kwargs)
    ref(x)
    ref.set_weights(layer.get_weights())
    want = ref(x).detach().numpy()
    assert y.shape == want.shape == tuple(ref.compute_output_shape(x.shape))
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 7, 3)).astype(np.float32)
    layer = layers.Conv1DTranspose(4, 3, strides=2, output_padding=1, bias_initializer="random_normal")
    y = layer(x)
    k, b = layer.get_weights()    # (k, filters, in) -> torch's conv_transpose1d weight (in, filters, k)
    want = torch.nn.functional.conv_transpose1d(torch.from_numpy(x.transpose(0, 2, 1).copy()),
                                                torch.from_numpy(k.transpose(2, 1, 0).copy()), torch.from_numpy(b),
                                                stride=2, output_padding=1)
    np.testing.assert_allclose(y, want.numpy().transpose(0, 2, 1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs,shape", CASES)
def test_config_round_trip(kwargs, shape, rng):
    layer = layers.Conv1DTranspose(**kwargs, kernel_regularizer=pynn.regularizers.L2(0.1))
    x = rng.standard_normal(shape).astype(np.float32)
    layer(x)
    config = json.loads(json.dumps(layer.get_config()))
    clone = layers.Conv1DTranspose.from_config(config)
    assert json.loads(json.dumps(clone.get_config())) == config
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))
    again = pynn.saving.deserialize_keras_object(json.loads(json.dumps(pynn.saving.serialize_keras_object(layer))))
    assert type(again) is layers.Conv1DTranspose


def test_trains_in_a_model_and_saves(rng, tmp_path):
    model = pynn.Sequential([layers.Input((6, 2)), layers.Conv1DTranspose(3, 3, strides=2, padding="same",
                                                                         activation="relu"),
                             layers.Conv1D(1, 3, padding="same")])
    x = rng.standard_normal((32, 6, 2)).astype(np.float32)
    y = np.repeat(x[..., :1], 2, axis=1)
    model.compile(optimizer=pynn.optimizers.Adam(0.02), loss="mse")
    history = model.fit(x, y, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(pynn.models.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)


def test_bad_arguments_and_inputs_name_the_layer():
    with pytest.raises(ValueError, match=r"Conv1DTranspose 'up'.*output_padding \(2,\) must be smaller"):
        layers.Conv1DTranspose(2, 3, strides=2, output_padding=2, name="up")
    with pytest.raises(ValueError, match="kernel_size"):
        layers.Conv1DTranspose(2, (3, 3))
    with pytest.raises(ValueError, match="filters"):
        layers.Conv1DTranspose(0, 3)
    layer = layers.Conv1DTranspose(2, 3, name="up1")
    with pytest.raises(ValueError, match=r"Conv1DTranspose 'up1'.*\(batch, steps, channels\)"):
        layer(np.zeros((2, 4, 4, 3), np.float32))
    assert not layer.built
    layer(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match="'up1'"):
        layer(np.zeros((2, 4, 5), np.float32))
