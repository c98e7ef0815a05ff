"""UpSampling1D, ZeroPadding1D and Cropping1D: finite-difference gradients (float64), values, PyTorch parity
(nn.Upsample, F.pad), Keras 3 parity (values, output shapes, defaults, get_config), masks dropped as Keras drops
them, any number of steps, config and .keras round trips, errors naming the layer."""
import os
import warnings

import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import check_layer_gradients

CASES = [  # class, arguments, input shape
    (layers.UpSampling1D, {}, (2, 4, 3)),
    (layers.UpSampling1D, {"size": 3}, (1, 5, 2)),
    (layers.ZeroPadding1D, {}, (2, 4, 3)),
    (layers.ZeroPadding1D, {"padding": (2, 0)}, (2, 4, 3)),
    (layers.ZeroPadding1D, {"padding": (1, 3), "data_format": "channels_first"}, (2, 3, 4)),
    (layers.Cropping1D, {}, (2, 4, 3)),
    (layers.Cropping1D, {"cropping": (0, 2)}, (2, 5, 3)),
    (layers.Cropping1D, {"cropping": 2}, (1, 6, 2)),
]


@pytest.mark.parametrize("cls,kwargs,shape", CASES)
def test_gradients_shapes_and_config(cls, kwargs, shape, rng):
    layer = cls(dtype="float64", **kwargs)
    x = rng.standard_normal(shape)
    check_layer_gradients(layer, x)
    y = layer(x)
    assert (None,) + y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])
    assert layer.weights == []
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone(x), y)


def test_values(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(layers.UpSampling1D(2)(x), x[:, [0, 0, 1, 1, 2, 2]])
    np.testing.assert_array_equal(layers.ZeroPadding1D((1, 2))(x), np.pad(x, ((0, 0), (1, 2), (0, 0))))
    np.testing.assert_array_equal(layers.ZeroPadding1D(2, data_format="channels_first")(x),
                                  np.pad(x, ((0, 0), (0, 0), (2, 2))))
    np.testing.assert_array_equal(layers.Cropping1D((1, 0))(x), x[:, 1:])
    np.testing.assert_array_equal(layers.Cropping1D((0, 1))(x), x[:, :2])
    assert layers.ZeroPadding1D(3).padding == (3, 3) and layers.ZeroPadding1D().padding == (1, 1)
    assert layers.Cropping1D().cropping == (1, 1) and layers.UpSampling1D().size == 2
    assert layers.ZeroPadding1D().data_format == "channels_last"


def test_any_number_of_steps(rng):
    for layer in (layers.UpSampling1D(), layers.ZeroPadding1D(), layers.Cropping1D()):
        for steps in (4, 7, 3):
            x = rng.standard_normal((2, steps, 3)).astype(np.float32)
            assert layer(x).shape[1] == layer.compute_output_shape(x.shape)[1]
        assert layer.compute_output_shape((None, None, 3)) == (None, None, 3)
    model = pynn.Sequential([layers.Input(shape=(None, 3)), layers.ZeroPadding1D(2), layers.Cropping1D(1),
                             layers.UpSampling1D(3)])
    assert model.predict(np.zeros((2, 5, 3), np.float32), verbose=0).shape == (2, 21, 3)
    assert model.predict(np.zeros((2, 2, 3), np.float32), verbose=0).shape == (2, 12, 3)


@pytest.mark.parametrize("layer_fn", [lambda: layers.ZeroPadding1D(1), lambda: layers.UpSampling1D(2),
                                      lambda: layers.Cropping1D(1)])
def test_masks_are_dropped_as_in_keras(layer_fn, rng):
    """Keras 3 gives these layers no mask support: a mask ends at them (the LSTM after sees every step)."""
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)
    x[:, 4:] = 0.0
    layer = layer_fn()
    assert layer.compute_mask(x, np.ones((3, 6), bool)) is None
    masked = pynn.Sequential([layers.Input(shape=(6, 2)), layers.Masking(), layer_fn(), layers.LSTM(3)])
    plain = pynn.Sequential([layers.Input(shape=(6, 2)), layer_fn(), layers.LSTM(3)])
    plain.set_weights(masked.get_weights())
    np.testing.assert_allclose(masked.predict(x, verbose=0), plain.predict(x, verbose=0), rtol=1e-6)


def test_errors_name_the_layer():
    x = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(ValueError, match=r"'up'.*rank 3 \(batch, steps, features\), got shape \(4, 3\)"):
        layers.UpSampling1D(name="up")(x[0])
    with pytest.raises(ValueError, match="'up2'.*size must be a positive integer, got 0"):
        layers.UpSampling1D(0, name="up2")
    with pytest.raises(ValueError, match="'up3'.*size must be"):
        layers.UpSampling1D(1.5, name="up3")
    with pytest.raises(ValueError, match="'pad'.*padding must be.*got -1"):
        layers.ZeroPadding1D(-1, name="pad")
    with pytest.raises(ValueError, match="'pad2'.*padding must be"):
        layers.ZeroPadding1D((1, 2, 3), name="pad2")
    with pytest.raises(ValueError, match=r"'pad3'.*rank 3 \(batch, features, steps\)"):
        layers.ZeroPadding1D(data_format="channels_first", name="pad3")(x[None])
    with pytest.raises(ValueError, match="'pad4'.*data_format"):
        layers.ZeroPadding1D(data_format="NCW", name="pad4")
    with pytest.raises(ValueError, match=r"'crop'.*cropping \(2, 2\) must leave at least one step.*\(2, 4, 3\)"):
        layers.Cropping1D(2, name="crop")(x)
    with pytest.raises(ValueError, match="'crop2'.*cropping must be"):
        layers.Cropping1D("1", name="crop2")
    # a built layer given too few steps for its cropping: the error comes before any output
    layer = layers.Cropping1D((1, 1), name="crop3")
    model = pynn.Sequential([layers.Input(shape=(None, 3)), layer])
    with pytest.raises(ValueError, match="'crop3'.*must leave at least one step"):
        model.predict(np.zeros((1, 2, 3), np.float32), verbose=0)
    built = layers.UpSampling1D(name="up4")
    built(x)
    with pytest.raises(ValueError, match=r"'up4'.*expected input of shape \(None, None, 3\), got \(2, 4, 5\)"):
        built(np.zeros((2, 4, 5), np.float32))


def test_model_trains_saves_and_loads(tmp_path, rng):
    model = pynn.Sequential([layers.Input(shape=(8, 2)), layers.ZeroPadding1D((1, 2)), layers.Conv1D(4, 3),
                             layers.UpSampling1D(2), layers.Cropping1D((2, 1)), layers.GlobalAveragePooling1D(),
                             layers.Dense(1)])
    x = rng.standard_normal((64, 8, 2)).astype(np.float32)
    y = x[:, :, 0].sum(1, keepdims=True)
    model.compile(optimizer=pynn.optimizers.Adam(0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    model.save(tmp_path / "m.keras")
    loaded = pynn.models.load_model(tmp_path / "m.keras")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# ------------------------------------------------------------------ PyTorch
def test_upsampling_and_padding_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)               # (batch, steps, features)
    for layer, module in ((layers.UpSampling1D(3), torch.nn.Upsample(scale_factor=3, mode="nearest")),
                          (layers.ZeroPadding1D((2, 1)), lambda t: torch.nn.functional.pad(t, (2, 1)))):
        xt = torch.from_numpy(x.transpose(0, 2, 1).copy()).requires_grad_(True)   # torch's (batch, C, L)
        out = module(xt)
        dy = rng.standard_normal(out.shape).astype(np.float32)
        out.backward(torch.from_numpy(dy))
        y, ctx = layer.forward(x)
        np.testing.assert_array_equal(y, out.detach().numpy().transpose(0, 2, 1))
        np.testing.assert_allclose(layer.backward(ctx, np.ascontiguousarray(dy.transpose(0, 2, 1))),
                                   xt.grad.numpy().transpose(0, 2, 1), rtol=1e-6)


# ------------------------------------------------------------------ Keras 3.15
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras comparison runs on the torch backend")
    return keras


@pytest.mark.parametrize("cls,kwargs,shape", CASES)
def test_values_shapes_and_configs_match_keras(keras, cls, kwargs, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    ours = cls(**kwargs)
    np.testing.assert_array_equal(ours(x), keras.ops.convert_to_numpy(theirs(x)))
    for batch_shape in ((None,) + shape[1:], (None, None, shape[2])):
        assert tuple(theirs.compute_output_shape(batch_shape)) == ours.compute_output_shape(batch_shape)
    mine, keras_config = ours.get_config(), theirs.get_config()
    assert set(mine) == set(keras_config)
    for key in set(mine) - {"name", "dtype"}:
        assert mine[key] == keras_config[key], key
    defaults = cls().get_config(), getattr(keras.layers, cls.__name__)().get_config()
    for key in set(defaults[0]) - {"name", "dtype"}:
        assert defaults[0][key] == defaults[1][key], key


def test_keras_drops_the_mask_too(keras):
    inputs = keras.Input((6, 2))
    masked = keras.layers.Masking()(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("UpSampling1D", "ZeroPadding1D", "Cropping1D"):
            out = getattr(keras.layers, name)()(masked)
            assert getattr(out, "_keras_mask", None) is None
            assert not getattr(layers, name).supports_masking
