"""Preprocessing layers (Rescaling, Resizing, CenterCrop, Normalization) and the random crop / colour augmentations
(RandomCrop, RandomContrast, RandomBrightness): finite-difference gradients (float64), Keras 3 forward parity
(KERAS_BACKEND=torch) and configs, seeded thread-independent draws with Keras's distributions, saving, errors."""

import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.layers.preprocessing.resampling import resample, resample_backward
from gradcheck import check_layer_gradients, replay


# ---------------------------------------------------------------------------------------------- gradients
DETERMINISTIC = [
    (layers.Rescaling, {"scale": 0.5, "offset": -1.0}, (2, 3, 4)),
    (layers.Rescaling, {"scale": [0.5, 2.0, -1.0], "offset": [1.0, 0.0, 2.0]}, (2, 4, 3)),
    (layers.Resizing, {"height": 5, "width": 7}, (2, 3, 4, 2)),
    (layers.Resizing, {"height": 2, "width": 3}, (2, 5, 7, 2)),
    (layers.Resizing, {"height": 4, "width": 4, "interpolation": "nearest"}, (2, 7, 3, 2)),
    (layers.Resizing, {"height": 3, "width": 5, "crop_to_aspect_ratio": True}, (2, 6, 6, 1)),
    (layers.Resizing, {"height": 3, "width": 5, "pad_to_aspect_ratio": True, "fill_value": 2.0}, (2, 6, 6, 1)),
    (layers.Resizing, {"height": 4, "width": 6, "data_format": "channels_first"}, (2, 3, 5, 4)),
    (layers.CenterCrop, {"height": 3, "width": 2}, (2, 6, 5, 2)),
    (layers.CenterCrop, {"height": 6, "width": 4}, (2, 4, 5, 2)),              # smaller: crop and resize
    (layers.CenterCrop, {"height": 2, "width": 3, "data_format": "channels_first"}, (1, 2, 5, 6)),
    (layers.Normalization, {"mean": [1.0, -2.0, 0.5], "variance": [4.0, 0.25, 1.0]}, (3, 3)),
    (layers.Normalization, {"mean": 2.0, "variance": 9.0, "invert": True, "axis": None}, (3, 2, 4)),
    (layers.Normalization, {"axis": (1, 2), "mean": [[1.0, 2.0]], "variance": [[4.0, 0.5]]}, (2, 3, 2)),
]


@pytest.mark.parametrize("cls,kwargs,shape", DETERMINISTIC)
def test_deterministic_layer_gradients_shapes_and_config(cls, kwargs, shape, rng):
    layer = cls(dtype="float64", **kwargs)
    x = rng.standard_normal(shape)
    check_layer_gradients(layer, x)
    check_layer_gradients(layer, x, training=True)
    y = layer(x)
    assert y.dtype == np.float64
    assert (None,) + y.shape[1:] == layer.compute_output_shape((None,) + shape[1:])
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone(x), y)


def test_resample_backward_is_the_adjoint(rng):
    """<resample(x), g> == <x, resample_backward(g)> for every kind of crop, pad and resize."""
    x = rng.standard_normal((2, 7, 5, 3))
    for kwargs in ({}, {"interpolation": "nearest"}, {"box": (1, 2, 4, 3)}, {"padding": (2, 0), "fill_value": 0.0}):
        for size in ((3, 11), (13, 2), (7, 5)):
            y, ctx = resample(x, size, **kwargs)
            g = rng.standard_normal(y.shape)
            np.testing.assert_allclose(np.sum(y * g), np.sum(x * resample_backward(ctx, g)), rtol=1e-12)


def test_normalization_adapted_gradients(rng):
    layer = layers.Normalization(dtype="float64")
    layer.adapt(rng.standard_normal((50, 4)) * 3 + 1)
    check_layer_gradients(layer, rng.standard_normal((3, 4)))
    inverse = layers.Normalization(invert=True, dtype="float64")
    inverse.adapt(rng.standard_normal((50, 4)) * 3 + 1)
    check_layer_gradients(inverse, rng.standard_normal((3, 4)))


RANDOM = [
    (layers.RandomCrop, {"height": 3, "width": 4}, (2, 6, 7, 2)),
    (layers.RandomCrop, {"height": 5, "width": 4, "data_format": "channels_first"}, (2, 2, 5, 7)),  # not larger
    (layers.RandomContrast, {"factor": 0.5, "value_range": (-1.0, 1.0)}, (3, 4, 5, 2)),
    (layers.RandomContrast, {"factor": (0.2, 0.6), "data_format": "channels_first"}, (2, 3, 4, 5)),
    (layers.RandomBrightness, {"factor": 0.3, "value_range": (-1.0, 1.0)}, (3, 4, 5, 2)),
    (layers.RandomBrightness, {"factor": (-0.5, 0.1), "value_range": (-2, 2)}, (2, 3, 4, 1)),
]


@pytest.mark.parametrize("cls,kwargs,shape", RANDOM)
def test_random_layer_gradients_through_a_fixed_draw(cls, kwargs, shape, rng):
    layer = replay(cls(seed=3, dtype="float64", **kwargs))
    check_layer_gradients(layer, rng.standard_normal(shape), training=True)
    check_layer_gradients(layer, rng.standard_normal(shape), training=False)


def test_clipped_values_get_no_gradient(rng):
    x = rng.standard_normal((2, 4, 4, 1)) * 3
    layer = layers.RandomBrightness(0.2, value_range=(-1, 1), seed=0, dtype="float64")
    y, ctx = layer.forward(x, training=True)
    dx = layer.backward(ctx, np.ones_like(y))
    assert np.all(dx[np.abs(y) == 1] == 0) and np.all(dx[np.abs(y) < 1] == 1) and np.any(np.abs(y) == 1)


# ---------------------------------------------------------------------------------------------- Keras parity
RESIZES = [(7, 9, 4, 5), (5, 6, 11, 13), (8, 8, 8, 3), (6, 10, 5, 5), (9, 4, 9, 7), (3, 3, 1, 1)]
RESIZE_OPTIONS = [{}, {"interpolation": "nearest"}, {"crop_to_aspect_ratio": True},
                  {"crop_to_aspect_ratio": True, "interpolation": "nearest"},
                  {"pad_to_aspect_ratio": True, "fill_value": 0.5}, {"data_format": "channels_first"}]


@pytest.mark.parametrize("sizes", RESIZES)
@pytest.mark.parametrize("options", RESIZE_OPTIONS)
def test_resizing_and_center_crop_match_keras(keras, sizes, options, rng):
    in_h, in_w, h, w = sizes
    x = (rng.random((2, in_h, in_w, 3)) * 255).astype(np.float32)
    if options.get("data_format") == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    ours = layers.Resizing(h, w, **options)
    theirs = keras.layers.Resizing(h, w, **options)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-4)
    assert ours.get_config().keys() == theirs.get_config().keys()
    data_format = options.get("data_format")
    np.testing.assert_allclose(layers.CenterCrop(h, w, data_format=data_format)(x),
                               np.asarray(keras.layers.CenterCrop(h, w, data_format=data_format)(x)),
                               rtol=1e-5, atol=1e-4)


def test_resizing_values_by_hand():
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)          # one row: 0 1 2 3
    # halving: output pixel o samples (o + 0.5) * 2 - 0.5 = 0.5, 2.5
    np.testing.assert_allclose(layers.Resizing(1, 2)(x)[0, 0, :, 0], [0.5, 2.5])
    # doubling: (o + 0.5) / 2 - 0.5, clamped at 0 and at the last pixel
    np.testing.assert_allclose(layers.Resizing(1, 8)(x)[0, 0, :, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
    np.testing.assert_array_equal(layers.Resizing(1, 2, interpolation="nearest")(x)[0, 0, :, 0], [1, 3])
    np.testing.assert_array_equal(layers.Resizing(1, 4)(x), x)       # same size: unchanged
    y = layers.CenterCrop(1, 2)(np.arange(15, dtype=np.float32).reshape(1, 3, 5, 1))
    np.testing.assert_array_equal(y[0, :, :, 0], [[6, 7]])           # starts at ((3 - 1) // 2, (5 - 2) // 2)


def test_rescaling_matches_keras(keras, rng):
    x = (rng.random((2, 3, 4, 3)) * 255).astype(np.float32)
    for kwargs in ({"scale": 1 / 255}, {"scale": 1 / 127.5, "offset": -1}, {"scale": np.array([0.5, 1.0, 2.0]),
                                                                              "offset": np.array([1.0, 2.0, 3.0])}):
        ours, theirs = layers.Rescaling(**kwargs), keras.layers.Rescaling(**kwargs)
        np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-6)
        config = ours.get_config()
        assert config.keys() == theirs.get_config().keys()
        clone = layers.Rescaling.from_config(config)
        np.testing.assert_array_equal(clone(x), ours(x))


def test_normalization_matches_keras(keras, rng):
    x = (rng.standard_normal((60, 5, 3)) * [1.0, 4.0, 0.5] + [2.0, -1.0, 0.0]).astype(np.float32)
    for kwargs in ({}, {"axis": None}, {"axis": (1, 2)}, {"invert": True}, {"axis": 1}):
        ours, theirs = layers.Normalization(**kwargs), keras.layers.Normalization(**kwargs)
        ours.adapt(x)
        theirs.adapt(x)
        np.testing.assert_allclose(ours(x[:4]), np.asarray(theirs(x[:4])), rtol=1e-5, atol=1e-5)
        assert [w.name for w in ours.weights] == [w.name for w in theirs.weights] == ["mean", "variance", "count"]
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
        assert ours.get_config().keys() == theirs.get_config().keys()
    # batches merged (Keras's adapt on batches needs TensorFlow installed: compared with the whole array), and
    # given statistics
    ours, theirs = layers.Normalization(), keras.layers.Normalization()
    ours.adapt([x[:7], x[7:30], x[30:]])
    theirs.adapt(x)
    np.testing.assert_allclose(ours(x[:4]), np.asarray(theirs(x[:4])), rtol=1e-5, atol=1e-5)
    kwargs = {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 1e-20], "axis": -1}
    ours, theirs = layers.Normalization(**kwargs), keras.layers.Normalization(**kwargs)
    np.testing.assert_allclose(ours(x[:4]), np.asarray(theirs(x[:4])), rtol=1e-6)   # std floored at 1e-7
    assert ours.get_config() == {**ours.get_config(), **{k: theirs.get_config()[k] for k in ("mean", "variance")}}


def _keras_transform(keras_layer, x, transformation):
    return np.asarray(keras_layer.transform_images(keras_layer.backend.convert_to_tensor(x), transformation,
                                                   training=True))


def test_random_layers_transform_like_keras(keras, rng):
    """With the same random draw, the same images; and the same configs."""
    x = (rng.random((4, 6, 7, 3)) * 255).astype(np.float32)
    contrast = np.array([0.7, 1.0, 1.3, 1.6], np.float32)
    ours = layers.RandomContrast((0.3, 0.6))
    ours.uniform = lambda rows, batch, low, high: contrast[None, :batch].astype(np.float64)
    theirs = keras.layers.RandomContrast((0.3, 0.6))
    expected = _keras_transform(theirs, x, {"contrast_factor": contrast.reshape(4, 1, 1, 1)})
    np.testing.assert_allclose(ours(x, training=True), expected, rtol=1e-5, atol=1e-3)
    assert np.any(expected == 255) and np.any(expected == 0)       # the clipping was exercised

    delta = np.array([-0.4, 0.0, 0.2, 0.9])
    ours = layers.RandomBrightness((-0.5, 1.0))
    ours.uniform = lambda rows, batch, low, high: delta[None, :batch]
    theirs = keras.layers.RandomBrightness((-0.5, 1.0))
    expected = _keras_transform(theirs, x, {"rgb_delta": (delta * 255).astype(np.float32).reshape(4, 1, 1, 1)})
    np.testing.assert_allclose(ours(x, training=True), expected, rtol=1e-5, atol=1e-3)

    ours = layers.RandomCrop(3, 4)
    starts = iter([2.7, 1.2])                                      # top 2, left 1
    ours.uniform = lambda rows, batch, low, high: np.array([[next(starts)]])
    theirs = keras.layers.RandomCrop(3, 4)
    np.testing.assert_array_equal(ours(x, training=True), _keras_transform(theirs, x, (2, 1)))
    # an image not larger than the target: cropped to its aspect ratio and resized, in training too
    small = x[:, :3]
    np.testing.assert_allclose(layers.RandomCrop(3, 4)(small, training=True),
                               np.asarray(theirs(small, training=True)), rtol=1e-5, atol=1e-3)

    for ours, theirs in ((layers.RandomContrast(0.2), keras.layers.RandomContrast(0.2)),
                         (layers.RandomContrast((0.1, 0.5)), keras.layers.RandomContrast((0.1, 0.5))),
                         (layers.RandomBrightness(0.2, value_range=(1, 0)),
                          keras.layers.RandomBrightness(0.2, value_range=(1, 0))),
                         (layers.RandomBrightness((-0.3, 0.1)), keras.layers.RandomBrightness((-0.3, 0.1))),
                         (layers.RandomCrop(3, 4, seed=1), keras.layers.RandomCrop(3, 4, seed=1))):
        ours_config, their_config = ours.get_config(), theirs.get_config()
        assert ours_config.keys() == their_config.keys()
        for key in ("factor", "value_range", "height", "width", "seed", "data_format"):
            if key in their_config:
                ours_value, their_value = ours_config[key], their_config[key]
                if key in ("factor", "value_range"):
                    ours_value, their_value = tuple(ours_value), tuple(their_value)
                assert ours_value == their_value, (type(ours).__name__, key)


def test_contrast_and_brightness_draw_keras_distributions(keras, rng):
    """The per-image factors drawn over many images: the same range and moments as Keras's."""
    x = rng.random((4000, 2, 2, 1)).astype(np.float32) * 0.5 + 0.25
    spread = x - x.mean(axis=(1, 2), keepdims=True)

    def contrast_factors(y):
        return (np.abs(y - y.mean(axis=(1, 2), keepdims=True)).sum(axis=(1, 2, 3))
                / np.abs(spread).sum(axis=(1, 2, 3)))
    for factor in (0.3, (0.2, 0.5)):
        ours = contrast_factors(layers.RandomContrast(factor, value_range=(-10, 10), seed=1)(x, training=True))
        theirs = contrast_factors(np.asarray(keras.layers.RandomContrast(factor, value_range=(-10, 10), seed=1)(
            x, training=True)))
        for stat in (np.min, np.max, np.mean, np.std):
            assert abs(stat(ours) - stat(theirs)) < 0.02, (factor, stat.__name__, stat(ours), stat(theirs))
    for factor in (0.3, (-0.1, 0.4)):
        ours = (layers.RandomBrightness(factor, value_range=(-10, 10), seed=1)(x, training=True) - x)[:, 0, 0, 0]
        theirs = (np.asarray(keras.layers.RandomBrightness(factor, value_range=(-10, 10), seed=1)(
            x, training=True)) - x)[:, 0, 0, 0]
        for stat in (np.min, np.max, np.mean, np.std):
            assert abs(stat(ours) - stat(theirs)) < 0.25, (factor, stat.__name__, stat(ours), stat(theirs))


# ---------------------------------------------------------------------------------------------- randomness
def test_contrast_and_brightness_statistics(rng):
    x = rng.random((20000, 2, 2, 1)) * 0.5 + 0.25
    y = layers.RandomContrast((0.2, 0.6), value_range=(-9, 9), seed=4, dtype="float64")(x, training=True)
    mean = x.mean(axis=(1, 2), keepdims=True)
    c = ((y - mean) / (x - mean))[:, 0, 0, 0]
    assert 0.8 <= c.min() < 0.81 and 1.59 < c.max() < 1.6
    assert abs(c.mean() - 1.2) < 0.01 and abs(c.var() - 0.8 ** 2 / 12) < 0.002
    np.testing.assert_allclose((y - mean) / (x - mean), c[:, None, None, None] * np.ones_like(x))  # one per image
    delta = (layers.RandomBrightness((-0.1, 0.3), value_range=(-100, 100), seed=4,
                                     dtype="float64")(x, training=True) - x)[:, :, :, 0]
    np.testing.assert_allclose(delta, delta[:, :1, :1] * np.ones_like(delta), atol=1e-12)
    d = delta[:, 0, 0] / 200
    assert -0.1 <= d.min() < -0.099 and 0.299 < d.max() < 0.3
    assert abs(d.mean() - 0.1) < 0.003 and abs(d.var() - 0.4 ** 2 / 12) < 0.0005


def test_random_crop_positions_are_uniform():
    x = np.arange(6 * 5, dtype=np.float64).reshape(1, 6, 5, 1)
    layer = layers.RandomCrop(3, 3, seed=2, dtype="float64")
    corners = [layer(x, training=True)[0, 0, 0, 0] for _ in range(2000)]
    tops, lefts = np.divmod(np.array(corners, dtype=np.int64), 5)
    assert set(tops) == {0, 1, 2, 3} and set(lefts) == {0, 1, 2}
    assert np.all(np.abs(np.bincount(tops) / 2000 - 1 / 4) < 0.04)
    assert np.all(np.abs(np.bincount(lefts) / 2000 - 1 / 3) < 0.04)
    batch = layer(np.repeat(x, 8, axis=0), training=True)
    assert np.all(batch == batch[:1])                              # one position per batch, as Keras


@pytest.mark.parametrize("cls,kwargs,shape", RANDOM)
def test_random_layers_are_training_only_seeded_and_thread_independent(cls, kwargs, shape, threads, rng):
    x = (rng.random((6,) + shape[1:]) * 1.8 - 0.9).astype(np.float32)
    layer = cls(seed=5, **kwargs)
    y0 = layer(x)
    if cls is layers.RandomCrop:                                   # inference: the centre, deterministic
        np.testing.assert_array_equal(y0, layer(x))
    else:
        np.testing.assert_array_equal(y0, x)                       # inference: the identity
        assert layer.inference() is None
    first = layer(x, training=True)
    second = layer(x, training=True)
    if cls is not layers.RandomCrop or shape[2] > kwargs["height"]:
        assert not np.array_equal(first, second)                   # each call draws anew
    threads(1)
    one = cls(seed=5, **kwargs)(x, training=True)
    threads(2)
    two = cls(seed=5, **kwargs)(x, training=True)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, first)
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone(x, training=True), first)
    pynn.utils.set_random_seed(9)
    unseeded = cls(**kwargs)(x, training=True)
    pynn.utils.set_random_seed(9)
    np.testing.assert_array_equal(cls(**kwargs)(x, training=True), unseeded)


# ---------------------------------------------------------------------------------------------- models
def test_image_pipeline_in_a_model_trains_saves_and_loads(tmp_path, rng):
    x = (rng.random((32, 10, 12, 3)) * 255).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 127).astype(np.int64)
    norm = layers.Normalization(axis=-1)
    norm.adapt(x / 255)
    model = pynn.Sequential([
        layers.Input(shape=(10, 12, 3)), layers.Rescaling(1 / 255), layers.Resizing(8, 8, crop_to_aspect_ratio=True),
        layers.RandomCrop(6, 6, seed=1), layers.RandomContrast(0.2, value_range=(0, 1), seed=2),
        layers.RandomBrightness(0.1, value_range=(0, 1), seed=3), layers.CenterCrop(4, 4), norm,
        layers.Flatten(), layers.Dense(2)])
    assert model.output_shape == (None, 2)
    model.compile(optimizer="adam", loss=pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert [w.name for w in model.non_trainable_weights] == ["mean", "variance", "count"]
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "pipeline.keras")
    loaded = pynn.models.load_model(tmp_path / "pipeline.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)
    loaded_norm = loaded.layers[6]
    np.testing.assert_array_equal(loaded_norm.mean.numpy(), norm.mean.numpy())
    assert not np.allclose(norm.mean.numpy(), 0)


def test_normalization_adapt_sources_agree(rng):
    x = rng.standard_normal((100, 3, 2)) * [3.0, 0.5] + [1.0, -2.0]

    class Batches(pynn.utils.PyDataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return x[i * 15:(i + 1) * 15], np.zeros(len(x[i * 15:(i + 1) * 15]))

    expected = (x.mean(axis=(0, 1)), x.var(axis=(0, 1)))
    for data in (x, Batches(), [x[:1], x[1:50], x[50:]], (b for b in np.array_split(x, 9)),
                 [(x[:60], None), (x[60:], None)]):
        layer = layers.Normalization(dtype="float64")
        layer.adapt(data)
        np.testing.assert_allclose(layer.mean.numpy(), expected[0], rtol=1e-12)
        np.testing.assert_allclose(layer.variance.numpy(), expected[1], rtol=1e-12)
    y = layer(x)
    np.testing.assert_allclose(y.mean(axis=(0, 1)), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 1)), 1, rtol=1e-12)
    layer(np.zeros((4, 5, 2)))                                     # only the kept axis is fixed
    assert layer.trainable_weights == []


# ---------------------------------------------------------------------------------------------- errors
def test_errors_name_the_layer_and_what_was_expected(rng):
    images = np.zeros((2, 4, 4, 3), np.float32)
    cases = [
        (lambda: layers.Resizing(0, 4, name="rs"), "'rs'.*height must be a positive integer"),
        (lambda: layers.Resizing(4, 4, interpolation="bicubic", name="rs"), "'rs'.*interpolation must be one of"),
        (lambda: layers.Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True, name="rs"),
         "'rs'.*only one of"),
        (lambda: layers.Resizing(4, 4, antialias=True, name="rs"), "'rs'.*antialias"),
        (lambda: layers.Resizing(4, 4, name="rs")(images[0]), r"'rs'.*rank 4.*got shape \(None, 4, 3\)"),
        (lambda: layers.CenterCrop(2, 2.5, name="cc"), "'cc'.*width must be a positive integer"),
        (lambda: layers.Rescaling("x", name="sc"), "'sc'.*scale must be a finite number"),
        (lambda: layers.Rescaling([1.0, 2.0], name="sc")(images), r"'sc'.*scale of shape \(2,\) does not broadcast"),
        (lambda: layers.Normalization(mean=1.0, name="nm"), "'nm'.*both mean and variance"),
        (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0], name="nm"), "'nm'.*same shape"),
        (lambda: layers.Normalization(mean=[[1.0]], variance=[[1.0]], name="nm"), "'nm'.*rank 2"),
        (lambda: layers.Normalization(axis=0, name="nm").adapt(images), "'nm'.*known sizes"),
        (lambda: layers.Normalization(axis=5, name="nm").adapt(images), "'nm'.*out of range"),
        (lambda: layers.Normalization(name="nm").adapt([]), "'nm'.*no data"),
        (lambda: layers.Normalization(name="nm").adapt(3.0), "'nm'.*adapt.. takes"),
        (lambda: layers.Normalization(name="nm").adapt(np.array(["a"])), "'nm'.*numeric"),
        (lambda: layers.Normalization(mean=1.0, variance=1.0, name="nm").adapt(images), "'nm'.*were given"),
        (lambda: layers.RandomCrop(3, 0, name="crop"), "'crop'.*width must be"),
        (lambda: layers.RandomCrop(3, 3, name="crop")(images[0], training=True), "'crop'.*rank 4"),
        (lambda: layers.RandomContrast(1.5, name="ct"), r"'ct'.*factor must be .* in \[0, 1\]"),
        (lambda: layers.RandomContrast(-0.1, name="ct"), r"'ct'.*factor must be"),
        (lambda: layers.RandomContrast(0.1, value_range=(1, 0), name="ct"), "'ct'.*low < high"),
        (lambda: layers.RandomContrast(0.1, seed=-2, name="ct"), "'ct'.*seed"),
        (lambda: layers.RandomBrightness(1.5, name="br"), "'br'.*factor must be within"),
        (lambda: layers.RandomBrightness(0.1, value_range=1, name="br"), "'br'.*value_range must be a pair"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    layer = layers.Normalization(name="nm2")
    layer.adapt(rng.standard_normal((5, 3)))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"'nm2'.*expected input of shape \(None, 3\).*got \(5, 4\)"):
        layer.adapt(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"'nm2'.*got \(2, 4\)"):
        layer.adapt([np.zeros((5, 3)), np.zeros((2, 4))])           # a bad later batch changes nothing
    for a, b in zip(layer.get_weights(), before):
        np.testing.assert_array_equal(a, b)
