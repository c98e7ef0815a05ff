"""Noise layers (GaussianNoise, GaussianDropout, SpatialDropout1D / 2D) and Dropout(noise_shape=): training only,
Keras 3's distributions (mean and variance within tolerance), reproducible per seed and for any thread count,
finite-difference gradients through a fixed draw (float64), configs as Keras's, saving, errors."""

import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.training import dense_chain
from gradcheck import check_layer_gradients, replay


LAYERS = [
    (layers.GaussianNoise, {"stddev": 0.3}, (3, 4, 5)),
    (layers.GaussianDropout, {"rate": 0.4}, (3, 4, 5)),
    (layers.SpatialDropout1D, {"rate": 0.5}, (4, 5, 6)),
    (layers.SpatialDropout2D, {"rate": 0.5}, (3, 4, 5, 6)),
    (layers.SpatialDropout2D, {"rate": 0.3, "data_format": "channels_first"}, (3, 6, 4, 5)),
    (layers.Dropout, {"rate": 0.5, "noise_shape": (None, 1, 6)}, (4, 5, 6)),
    (layers.Dropout, {"rate": 0.25, "noise_shape": (1, 5, 1)}, (4, 5, 6)),
]


@pytest.mark.parametrize("cls,kwargs,shape", LAYERS)
def test_gradients_through_a_fixed_draw(cls, kwargs, shape, rng):
    layer = replay(cls(seed=3, dtype="float64", **kwargs))
    x = rng.standard_normal(shape)
    check_layer_gradients(layer, x, training=True)
    check_layer_gradients(layer, x, training=False)


@pytest.mark.parametrize("cls,kwargs,shape", LAYERS)
def test_training_only_seeded_and_thread_independent(cls, kwargs, shape, threads, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    layer = cls(seed=5, **kwargs)
    np.testing.assert_array_equal(layer(x), x)                 # inference: the identity
    assert layer.inference() is None
    first = layer(x, training=True)
    assert first.shape == x.shape and first.dtype == np.float32 and not np.array_equal(first, x)
    assert not np.array_equal(layer(x, training=True), first)  # each call draws anew
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


def test_gaussian_noise_and_dropout_statistics():
    x = np.full((400, 500), 2.0)
    noise = layers.GaussianNoise(0.3, seed=1, dtype="float64")(x, training=True) - x
    assert abs(noise.mean()) < 0.003 and abs(noise.std() - 0.3) < 0.002
    for rate in (0.1, 0.5):
        factor = layers.GaussianDropout(rate, seed=1, dtype="float64")(x, training=True) / x
        assert abs(factor.mean() - 1) < 0.005 and abs(factor.var() - rate / (1 - rate)) < 0.01 * rate / (1 - rate)
    assert np.array_equal(layers.GaussianNoise(0.0, seed=1)(x, training=True), x)
    assert np.array_equal(layers.GaussianDropout(0.0, seed=1)(x, training=True), x)


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((500, 6, 40))
    y = layers.SpatialDropout1D(0.3, seed=2, dtype="float64")(x, training=True)
    np.testing.assert_array_equal(y, y[:, :1, :] * np.ones_like(y))        # the same at every timestep
    assert set(np.unique(y)) == {0.0, 1 / 0.7}
    assert abs((y[:, 0] == 0).mean() - 0.3) < 0.01
    images = np.ones((300, 3, 4, 20))
    y = layers.SpatialDropout2D(0.6, seed=2, dtype="float64")(images, training=True)
    np.testing.assert_array_equal(y, y[:, :1, :1, :] * np.ones_like(y))   # the same at every pixel
    assert abs((y[:, 0, 0] == 0).mean() - 0.6) < 0.015
    y = layers.SpatialDropout2D(0.6, data_format="channels_first", seed=2, dtype="float64")(images, training=True)
    np.testing.assert_array_equal(y, y[:, :, :1, :1] * np.ones_like(y))


def test_dropout_noise_shape_broadcasts_and_matches_the_elementwise_mask(rng):
    x = rng.standard_normal((8, 5, 6)).astype(np.float32)
    full = layers.Dropout(0.4, noise_shape=(8, 5, 6), seed=7)(x, training=True)
    np.testing.assert_array_equal(full, layers.Dropout(0.4, seed=7)(x, training=True))
    y = layers.Dropout(0.4, noise_shape=(None, 1, None), seed=7)(x, training=True)
    kept = y != 0
    np.testing.assert_array_equal(kept, kept[:, :1] * np.ones_like(kept))
    np.testing.assert_allclose(y[kept], (x / 0.6)[kept], rtol=1e-6)
    x = np.ones((2000, 3), np.float32)
    y = layers.Dropout(0.3, noise_shape=(None, 1), seed=1)(x, training=True)
    assert np.all((y == y[:, :1])) and abs((y[:, 0] == 0).mean() - 0.3) < 0.03
    y = layers.Dropout(0.3, noise_shape=[1, 3], seed=1)(x, training=True)
    assert np.all(y == y[:1])


def test_dropout_with_noise_shape_leaves_the_fused_dense_chain(rng):
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    for noise_shape, fused in ((None, True), ((None, 1), False)):
        model = pynn.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                                 layers.Dropout(0.5, noise_shape=noise_shape, seed=1),
                                 layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        assert (dense_chain.chain_step(model) is not None) == fused


def test_matches_keras_configs_and_distributions(keras, rng):
    x = np.ones((200, 500), np.float32)
    pairs = [(layers.GaussianNoise(0.2, seed=1), keras.layers.GaussianNoise(0.2, seed=1)),
             (layers.GaussianDropout(0.3, seed=1), keras.layers.GaussianDropout(0.3, seed=1)),
             (layers.SpatialDropout1D(0.3, seed=1), keras.layers.SpatialDropout1D(0.3, seed=1)),
             (layers.SpatialDropout2D(0.3, seed=1), keras.layers.SpatialDropout2D(0.3, seed=1)),
             (layers.Dropout(0.3, noise_shape=(None, 1), seed=1), keras.layers.Dropout(0.3, noise_shape=(None, 1),
                                                                                         seed=1))]
    for ours, theirs in pairs:
        ours_config, their_config = ours.get_config(), theirs.get_config()
        assert set(their_config) <= set(ours_config) <= set(their_config) | {"trainable"}
        for key in set(their_config) - {"name", "dtype"}:
            assert ours_config[key] == their_config[key], (type(ours).__name__, key)
    for ours, theirs in pairs[:2]:
        a = ours(x, training=True)
        b = np.asarray(theirs(x, training=True))
        assert abs(a.mean() - b.mean()) < 0.005 and abs(a.std() - b.std()) < 0.005
    for ours, theirs in pairs[2:4]:
        shape = (300, 4, 50) if isinstance(ours, layers.SpatialDropout1D) else (300, 2, 2, 50)
        a = ours(np.ones(shape, np.float32), training=True)
        b = np.asarray(theirs(np.ones(shape, np.float32), training=True))
        assert set(np.unique(a)) == set(np.unique(b)) and abs((a == 0).mean() - (b == 0).mean()) < 0.02


def test_model_with_noise_layers_trains_saves_and_resumes(tmp_path, rng):
    x = rng.standard_normal((48, 5, 4)).astype(np.float32)
    y = rng.integers(0, 2, 48)

    def make():
        model = pynn.Sequential([layers.Input(shape=(5, 4)), layers.GaussianNoise(0.1, seed=1),
                                 layers.SpatialDropout1D(0.2, seed=2), layers.Flatten(),
                                 layers.Dense(8, activation="relu"), layers.GaussianDropout(0.2),
                                 layers.Dropout(0.2, noise_shape=(None, 1)), layers.Dense(2)])
        model.compile(optimizer="adam", loss=pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model
    pynn.utils.set_random_seed(4)
    reference = make()
    reference.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    pynn.utils.set_random_seed(4)
    model = make()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    model.save(tmp_path / "noise.keras")
    pynn.utils.set_random_seed(123)                             # the global stream moves on before loading
    loaded = pynn.models.load_model(tmp_path / "noise.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)                     # the random streams resumed where they were


def test_errors_name_the_layer():
    cases = [
        (lambda: layers.GaussianNoise(1.5, name="gn"), r"'gn'.*stddev must be a number in \[0, 1\]"),
        (lambda: layers.GaussianNoise("0.1", name="gn"), "'gn'.*stddev"),
        (lambda: layers.GaussianNoise(0.1, seed=-1, name="gn"), "'gn'.*seed"),
        (lambda: layers.GaussianDropout(1.0, name="gd"), r"'gd'.*rate must be a number in \[0, 1\)"),
        (lambda: layers.SpatialDropout1D(1.2, name="sd"), r"'sd'.*rate must be in \[0, 1\)"),
        (lambda: layers.SpatialDropout1D(0.2, seed=1.5, name="sd"), "'sd'.*seed"),
        (lambda: layers.SpatialDropout1D(0.2, name="sd")(np.zeros((2, 3)), training=True),
         r"'sd'.*rank 3 \(batch, timesteps, channels\).*\(None, 3\)"),
        (lambda: layers.SpatialDropout2D(0.2, name="sd2")(np.zeros((2, 3, 4))),
         r"'sd2'.*rank 4 \(batch, height, width, channels\)"),
        (lambda: layers.SpatialDropout2D(0.2, data_format="nchw", name="sd2"), "'sd2'.*data_format"),
        (lambda: layers.Dropout(0.2, noise_shape="batch", name="dr"), "'dr'.*noise_shape must be"),
        (lambda: layers.Dropout(0.2, noise_shape=(2, 0), name="dr"), "'dr'.*noise_shape must be"),
        (lambda: layers.Dropout(0.2, noise_shape=(None, 1.5), name="dr"), "'dr'.*noise_shape must be"),
        (lambda: layers.Dropout(0.2, noise_shape=(None, 1), name="dr")(np.zeros((2, 3, 4))),
         r"'dr'.*noise_shape \(None, 1\) does not broadcast to the input shape \(None, 3, 4\)"),
        (lambda: layers.Dropout(0.2, noise_shape=(None, 2), name="dr")(np.zeros((2, 3))),
         r"'dr'.*does not broadcast"),
        (lambda: layers.Dropout(0.2, noise_shape=(3, 1), name="dr")(np.zeros((2, 3)), training=True),
         r"'dr'.*does not broadcast to the input shape \(2, 3\)"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()
    layer = layers.Dropout(0.2, noise_shape=(3, 1), seed=1, name="dr2")
    layer(np.zeros((3, 4)), training=True)
    offset = layer.get_rng_state()["offset"]
    with pytest.raises(ValueError, match="'dr2'.*does not broadcast"):
        layer(np.zeros((2, 4)), training=True)
    assert layer.get_rng_state()["offset"] == offset            # nothing drawn
