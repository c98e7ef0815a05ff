"""LayerNormalization, GroupNormalization, UnitNormalization and Identity: finite-difference gradients (float64),
PyTorch parity (nn.LayerNorm, nn.GroupNorm, F.normalize; forward and gradients), Keras 3 parity (forward values
with the same weights, defaults, get_config keys), config and .keras round trips, errors naming the layer."""
import os
import warnings

import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import check_layer_gradients

AFFINE = {"gamma_initializer": "random_normal", "beta_initializer": "random_normal"}

CASES = [  # class, arguments, input shape
    (layers.LayerNormalization, {}, (3, 4, 5)),
    (layers.LayerNormalization, {"axis": [1, 2]}, (3, 4, 5)),
    (layers.LayerNormalization, {"axis": 1}, (3, 4, 5)),                 # not the last axis: transposed
    (layers.LayerNormalization, {"axis": (-1, 1)}, (3, 4, 2, 5)),        # mixed signs, not adjacent
    (layers.LayerNormalization, {"center": False}, (6, 5)),
    (layers.LayerNormalization, {"scale": False, "epsilon": 1e-5}, (6, 5)),
    (layers.LayerNormalization, {"rms_scaling": True}, (6, 5)),
    (layers.GroupNormalization, {"groups": 2}, (2, 3, 4, 6)),
    (layers.GroupNormalization, {"groups": 3, "axis": 1}, (2, 6, 4, 2)),
    (layers.GroupNormalization, {"groups": -1}, (2, 3, 4)),              # instance normalization
    (layers.GroupNormalization, {"groups": 1, "center": False}, (4, 5)),
    (layers.GroupNormalization, {"groups": 2, "axis": -2, "scale": False}, (2, 4, 3)),
    (layers.UnitNormalization, {}, (3, 4, 5)),
    (layers.UnitNormalization, {"axis": [1, 2]}, (3, 4, 5)),
    (layers.Identity, {}, (3, 4)),
]


def make(cls, kwargs, **extra):
    """cls(**kwargs, **extra), with random gamma / beta initializers unless given."""
    if cls in (layers.LayerNormalization, layers.GroupNormalization):
        extra = {**AFFINE, **extra}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # rms_scaling's deprecation warning
        return cls(**{**extra, **kwargs})


@pytest.mark.parametrize("cls,kwargs,shape", CASES)
def test_gradients_match_finite_differences(cls, kwargs, shape, rng):
    layer = make(cls, kwargs, dtype="float64")
    check_layer_gradients(layer, rng.standard_normal(shape) * 2 + 1, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls,kwargs,shape", CASES)
def test_config_round_trip_and_output_shape(cls, kwargs, shape, rng):
    layer = make(cls, kwargs, name="norm")
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer(x)
    assert y.shape == x.shape and y.dtype == np.float32
    assert layer.compute_output_shape((None,) + shape[1:]) == (None,) + shape[1:]
    config = layer.get_config()
    clone = make(cls, config)
    assert clone.get_config() == config
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


def test_layer_normalization_values_and_defaults(rng):
    layer = layers.LayerNormalization()
    assert (layer.axis, layer.epsilon, layer.center, layer.scale, layer.rms_scaling) == (-1, 1e-3, True, True, False)
    x = (rng.standard_normal((4, 3, 8)) * 3 + 2).astype(np.float32)
    y = layer(x)
    assert [w.name for w in layer.weights] == ["gamma", "beta"]
    x64 = x.astype(np.float64)
    expect = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    # several axes: one mean and variance per sample over all of them; gamma spans them
    layer = layers.LayerNormalization(axis=[1, 2], **AFFINE)
    y = layer(x)
    assert layer.gamma.shape == layer.beta.shape == (3, 8)
    expect = (x64 - x64.mean((1, 2), keepdims=True)) / np.sqrt(x64.var((1, 2), keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, expect * layer.gamma.value + layer.beta.value, rtol=1e-5, atol=1e-5)


def test_group_normalization_values_and_defaults(rng):
    layer = layers.GroupNormalization()
    assert (layer.groups, layer.axis, layer.epsilon) == (32, -1, 1e-3)
    x = (rng.standard_normal((2, 5, 64)) + 1).astype(np.float32)
    y = layer(x)
    groups = x.astype(np.float64).reshape(2, 5, 32, 2)
    expect = (groups - groups.mean((1, 3), keepdims=True)) / np.sqrt(groups.var((1, 3), keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, expect.reshape(x.shape), rtol=1e-5, atol=1e-5)


def test_unit_normalization_values_and_zero_vectors(rng):
    x = rng.standard_normal((3, 4, 5))
    x[1, 2] = 0.0
    layer = layers.UnitNormalization(dtype="float64")
    y = layer(x)
    norms = np.linalg.norm(y, axis=-1)
    np.testing.assert_allclose(np.delete(norms.ravel(), 6), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(y[1, 2], 0.0)            # stays 0, no nan
    # below a norm of 1e-12 the scale is capped at 1e12 (Keras's epsilon) and the gradient is dy * 1e12
    tiny = np.full((1, 3), 1e-14)
    y, ctx = layer.forward(tiny)
    np.testing.assert_allclose(y, tiny * 1e12)
    dy = rng.standard_normal(tiny.shape)
    np.testing.assert_allclose(layer.backward(ctx, dy), dy * 1e12)


def test_identity_passes_input_and_gradient_through(rng):
    layer = layers.Identity()
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y, ctx = layer.forward(x)
    assert y is x and layer.backward(ctx, x) is x and layer.weights == []
    model = pynn.Sequential([layers.Input(shape=(3,)), layers.Identity(), layers.Dense(2)])
    np.testing.assert_allclose(model.predict(x, verbose=0), model.layers[-1](x), rtol=1e-6)


def test_masks_pass_through(rng):
    mask = np.array([[True, False, True]])
    x = rng.standard_normal((1, 3, 4)).astype(np.float32)
    for layer in (layers.LayerNormalization(), layers.GroupNormalization(2), layers.UnitNormalization(),
                  layers.Identity()):
        assert layer.supports_masking and layer.compute_mask(x, mask) is mask
    tokens = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Embedding(10, 4, mask_zero=True),
                             layers.LayerNormalization(), layers.LSTM(3)])
    short = pynn.Sequential([layers.Input(shape=(2,)), layers.Embedding(10, 4), layers.LayerNormalization(),
                             layers.LSTM(3)])
    short.set_weights(model.get_weights())
    # the LSTM skips the masked steps: the same as running on the unpadded prefix
    np.testing.assert_allclose(model.predict(tokens, verbose=0)[0], short.predict(tokens[:1, :2], verbose=0)[0],
                               rtol=1e-5, atol=1e-6)


def test_errors_name_the_layer():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="'ln'.*axis 3 is out of bounds"):
        layers.LayerNormalization(axis=3, name="ln")(x)
    with pytest.raises(ValueError, match="'ln2'.*batch axis"):
        layers.LayerNormalization(axis=[0, 1], name="ln2")(x)
    with pytest.raises(ValueError, match="'ln3'.*axis must be"):
        layers.LayerNormalization(axis="last", name="ln3")
    with pytest.raises(ValueError, match="'ln4'.*twice"):
        layers.LayerNormalization(axis=[2, -1], name="ln4")(x)
    with pytest.raises(ValueError, match="'ln5'.*epsilon"):
        layers.LayerNormalization(epsilon=-1, name="ln5")
    with pytest.raises(ValueError, match="'gn'.*groups=3 must divide.*4 channels"):
        layers.GroupNormalization(3, name="gn")(x)
    with pytest.raises(ValueError, match="'gn2'.*groups must be"):
        layers.GroupNormalization(0, name="gn2")
    with pytest.raises(ValueError, match="'gn3'.*not a channels axis"):
        layers.GroupNormalization(1, axis=0, name="gn3")(x)
    with pytest.raises(ValueError, match="'un'.*out of bounds"):
        layers.UnitNormalization(axis=[1, 5], name="un")(x)
    with pytest.raises(ValueError, match="unknown keyword"):
        layers.Identity(foo=1)
    for layer in (layers.LayerNormalization(name="ln6"), layers.GroupNormalization(2, name="gn4")):
        layer(x)
        before = [w.copy() for w in layer.get_weights()]
        with pytest.raises(ValueError, match=f"'{layer.name}'.*expected input of shape \\(None, 3, 4\\), got "
                                             r"\(2, 3, 6\)"):
            layer(np.zeros((2, 3, 6), np.float32))
        for a, b in zip(before, layer.get_weights()):
            np.testing.assert_array_equal(a, b)
    # no input size along the normalized axis: a clear error at build
    with pytest.raises(ValueError, match="'ln7'.*must be known"):
        pynn.Sequential([layers.Input(shape=(3, None)), layers.LayerNormalization(name="ln7")])


def test_rms_scaling_warns_as_keras_does(rng):
    with pytest.warns(UserWarning, match="rms_scaling"):
        layer = layers.LayerNormalization(rms_scaling=True)
    x = (rng.standard_normal((3, 6)) + 2).astype(np.float32)
    y = layer(x)
    assert [w.name for w in layer.weights] == ["gamma"]
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(y, x64 / np.sqrt(x64.var(-1, keepdims=True) + 1e-3), rtol=1e-5)


def test_sequential_with_layer_normalization_trains_saves_and_loads(tmp_path, rng):
    pynn.utils.set_random_seed(0)
    x = rng.standard_normal((128, 6, 8)).astype(np.float32) * 3 + 1
    y = (x[:, :, 0].mean(1) > x[:, :, 1].mean(1)).astype(np.int64)
    model = pynn.Sequential([layers.Input(shape=(6, 8)), layers.Dense(16, activation="relu"),
                             layers.LayerNormalization(), layers.GroupNormalization(4), layers.UnitNormalization(),
                             layers.Identity(), layers.Flatten(), layers.Dense(2, activation="softmax")])
    model.compile(optimizer=pynn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < 0.8 * before
    ln = model.layers[1]
    assert np.any(ln.gamma.value != 1) and np.any(ln.beta.value != 0)
    path = tmp_path / "norm.keras"
    model.save(path)
    loaded = pynn.models.load_model(path)
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_first_layer_gets_weight_gradients_only(rng):
    """A model's first layer runs backward_weights (no input gradient): the weights still learn."""
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    model = pynn.Sequential([layers.Input(shape=(5,)), layers.LayerNormalization(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    gamma = model.layers[0].gamma.value.copy()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.any(model.layers[0].gamma.value != gamma)


# ------------------------------------------------------------------ PyTorch parity
def _torch_grads(torch, module, xt, dy):
    out = module(xt)
    out.backward(torch.from_numpy(dy))
    return out.detach().numpy()


@pytest.mark.parametrize("axis,shape", [(-1, (4, 5, 8)), ([1, 2], (4, 5, 8)), ([-2, -1], (3, 2, 4, 6))])
def test_layer_normalization_matches_torch(axis, shape, rng):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    layer = layers.LayerNormalization(axis=axis, **AFFINE)
    layer.build_for(x.shape)
    normalized = layer.gamma.shape
    ln = torch.nn.LayerNorm(normalized, eps=1e-3)           # Keras's epsilon (torch's default is 1e-5)
    with torch.no_grad():
        ln.weight.copy_(torch.from_numpy(layer.gamma.value))
        ln.bias.copy_(torch.from_numpy(layer.beta.value))
    xt = torch.from_numpy(x).requires_grad_(True)
    dy = rng.standard_normal(shape).astype(np.float32)
    expect = _torch_grads(torch, ln, xt, dy)
    y, ctx = layer.forward(x, training=True)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    for w in layer.weights:
        w.grad[...] = 0
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, ln.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.beta.grad, ln.bias.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_layer_normalization_on_a_middle_axis_matches_torch_transposed(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 7, 4)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    layer = layers.LayerNormalization(axis=1, **AFFINE)
    layer.build_for(x.shape)
    ln = torch.nn.LayerNorm(7, eps=1e-3)
    with torch.no_grad():
        ln.weight.copy_(torch.from_numpy(layer.gamma.value))
        ln.bias.copy_(torch.from_numpy(layer.beta.value))
    xt = torch.from_numpy(x.transpose(0, 2, 1).copy()).requires_grad_(True)
    expect = _torch_grads(torch, ln, xt, dy.transpose(0, 2, 1).copy()).transpose(0, 2, 1)
    y, ctx = layer.forward(x)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy().transpose(0, 2, 1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, ln.weight.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("groups,shape", [(4, (2, 5, 6, 8)), (1, (3, 7, 6)), (-1, (2, 4, 3, 5)), (2, (5, 6))])
def test_group_normalization_matches_torch_on_channels_first(groups, shape, rng):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal(shape) * 2 - 1).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    layer = layers.GroupNormalization(groups, **AFFINE)
    layer.build_for(x.shape)
    channels = shape[-1]
    gn = torch.nn.GroupNorm(channels if groups == -1 else groups, channels, eps=1e-3)
    with torch.no_grad():
        gn.weight.copy_(torch.from_numpy(layer.gamma.value))
        gn.bias.copy_(torch.from_numpy(layer.beta.value))
    to_first = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))      # channels last -> first, and back
    to_last = tuple(np.argsort(to_first))
    xt = torch.from_numpy(x.transpose(to_first).copy()).requires_grad_(True)
    expect = _torch_grads(torch, gn, xt, dy.transpose(to_first).copy()).transpose(to_last)
    y, ctx = layer.forward(x)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy().transpose(to_last), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, gn.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.beta.grad, gn.bias.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_group_normalization_channels_first_matches_torch_directly(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    layer = layers.GroupNormalization(3, axis=1)
    gn = torch.nn.GroupNorm(3, 6, eps=1e-3)
    xt = torch.from_numpy(x).requires_grad_(True)
    expect = _torch_grads(torch, gn, xt, dy)
    layer.build_for(x.shape)
    y, ctx = layer.forward(x)
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_unit_normalization_matches_torch_normalize(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_(True)
    out = torch.nn.functional.normalize(xt, dim=(1, 2), eps=1e-12)
    out.backward(torch.from_numpy(dy))
    layer = layers.UnitNormalization(axis=[1, 2])
    y, ctx = layer.forward(x)
    np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ Keras parity
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the Keras comparison runs on the torch backend")
    return keras


KERAS_CASES = [
    ("LayerNormalization", {}, (4, 5, 8)),
    ("LayerNormalization", {"axis": [1, 2], "epsilon": 1e-5}, (4, 5, 8)),
    ("LayerNormalization", {"axis": [1, 3], "center": False}, (2, 3, 4, 5)),   # Keras's moments path
    ("LayerNormalization", {"axis": [2, 3], "scale": False}, (2, 3, 4, 5)),
    ("LayerNormalization", {"rms_scaling": True}, (4, 6)),
    ("GroupNormalization", {"groups": 4}, (2, 5, 5, 8)),
    ("GroupNormalization", {"groups": 2, "axis": 1}, (2, 6, 5)),
    ("GroupNormalization", {"groups": -1, "epsilon": 1e-5}, (3, 7, 4)),
    ("UnitNormalization", {}, (4, 5, 8)),
    ("UnitNormalization", {"axis": [1, 2]}, (4, 5, 8)),
    ("Identity", {}, (3, 4)),
]


@pytest.mark.parametrize("name,kwargs,shape", KERAS_CASES)
def test_forward_and_config_match_keras(keras, name, kwargs, shape, rng):
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    ours = make(getattr(layers, name), kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(keras.layers, name)(**kwargs)
    y = ours(x)
    theirs.build(x.shape)
    assert [tuple(w.shape) for w in theirs.weights] == [w.shape for w in ours.weights]
    theirs.set_weights(ours.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expect = keras.ops.convert_to_numpy(theirs(x))
    np.testing.assert_allclose(y, expect, rtol=1e-5, atol=1e-5)
    assert set(ours.get_config()) == set(theirs.get_config())
    # Keras's defaults are ours
    default_ours, default_theirs = getattr(layers, name)().get_config(), getattr(keras.layers, name)().get_config()
    for key in set(default_ours) - {"name", "dtype", "trainable"}:
        value = default_theirs[key]
        if isinstance(value, dict) and "class_name" in value:    # a serialized initializer: Ones -> "ones"
            value = {"Ones": "ones", "Zeros": "zeros"}[value["class_name"]]
        assert default_ours[key] == value, key


def test_weights_files_interchange_with_keras(keras, tmp_path, rng):
    pytest.importorskip("h5py")
    K = keras.layers
    ours = pynn.Sequential([layers.Input(shape=(5, 8)), layers.LayerNormalization(**AFFINE),
                            layers.GroupNormalization(4, **AFFINE), layers.Dense(3)])
    theirs = keras.Sequential([keras.Input((5, 8)), K.LayerNormalization(), K.GroupNormalization(4), K.Dense(3)])
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(theirs(x)), ours.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    theirs.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in theirs.get_weights()])
    theirs.save(tmp_path / "theirs.keras")
    ours.load_weights(tmp_path / "theirs.keras")
    np.testing.assert_allclose(ours.predict(x, verbose=0), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-5,
                               atol=1e-5)
