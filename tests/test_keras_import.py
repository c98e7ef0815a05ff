"""Keras 3 files into pynn: the weights of a `.keras` / `.weights.h5` file load into the same model built with pynn
and reproduce Keras's predictions (fixtures written by real Keras: tests/data/keras/make_fixtures.py). With
Keras importable (KERAS_BACKEND=torch), also a live round trip both ways through `.weights.h5`.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn import layers

h5py = pytest.importorskip("h5py")
DATA = Path(__file__).parent / "data" / "keras"


def dense_bn():
    return pynn.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"), layers.BatchNormalization(),
                            layers.Dropout(0.5), layers.Dense(3, activation="softmax")])


def conv():
    return pynn.Sequential([layers.Input(shape=(8, 8, 2)), layers.Conv2D(3, 3, padding="same", activation="relu"),
                            layers.MaxPooling2D(), layers.DepthwiseConv2D(3, depth_multiplier=2),
                            layers.SeparableConv2D(2, 1), layers.Conv2DTranspose(2, 2, strides=2),
                            layers.BatchNormalization(), layers.Flatten(), layers.Dense(2)])


def rnn():
    return pynn.Sequential([layers.Input(shape=(5,)), layers.Embedding(12, 4),
                            layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
                            layers.GRU(3, return_sequences=True), layers.GRU(3, reset_after=False,
                                                                            return_sequences=True),
                            layers.SimpleRNN(2), layers.Dense(1)])


MODELS = {"dense_bn": dense_bn, "conv": conv, "rnn": rnn}


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_fixture_weights_reproduce_keras_predictions(name, suffix):
    model = MODELS[name]()
    expected = np.load(DATA / f"{name}.expected.npz")
    before = model.predict(expected["x"].astype(np.float32), verbose=0)
    model.load_weights(DATA / f"{name}{suffix}")
    got = model.predict(expected["x"].astype(np.float32), verbose=0)
    assert not np.allclose(before, expected["y"], atol=1e-3)  # the loaded weights are what makes it match
    np.testing.assert_allclose(got, expected["y"], rtol=1e-4, atol=1e-5)


def test_keras_file_with_another_structure_is_a_clear_error():
    model = pynn.Sequential([layers.Input(shape=(6,)), layers.Dense(8), layers.Dense(3)])  # no BatchNormalization
    with pytest.raises(ValueError, match="dense_bn.weights.h5.*same layers in the same order"):
        model.load_weights(DATA / "dense_bn.weights.h5")
    model = pynn.Sequential([layers.Input(shape=(5,)), layers.Dense(8), layers.BatchNormalization(), layers.Dense(3)])
    with pytest.raises(ValueError, match="shape"):
        model.load_weights(DATA / "dense_bn.keras")


def test_load_model_on_a_keras_file_points_to_load_weights():
    with pytest.raises(ValueError, match="Keras 3.*load_weights"):
        pynn.models.load_model(DATA / "dense_bn.keras")


# ---------------------------------------------------------------------------------------------- live Keras
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def test_live_keras_reads_pynn_weights_h5(keras, tmp_path, rng):
    model = rnn()
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    x = rng.integers(0, 12, (3, 5)).astype(np.float32)
    model.save_weights(tmp_path / "ours.weights.h5")
    K = keras.layers
    theirs = keras.Sequential([keras.Input((5,), dtype="int32"), K.Embedding(12, 4),
                               K.Bidirectional(K.LSTM(3, return_sequences=True)), K.GRU(3, return_sequences=True),
                               K.GRU(3, reset_after=False, return_sequences=True), K.SimpleRNN(2), K.Dense(1)])
    theirs.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_allclose(np.asarray(theirs.predict(x.astype("int32"), verbose=0)), model.predict(x),
                               rtol=1e-4, atol=1e-5)


def test_live_pynn_reads_keras_conv_model(keras, tmp_path, rng):
    K = keras.layers
    theirs = keras.Sequential([keras.Input((6, 6, 3)), K.Conv2D(4, 3, strides=2, padding="same"), K.PReLU(),
                               K.BatchNormalization(), K.GlobalAveragePooling2D(), K.Dense(2)])
    theirs.set_weights([np.abs(rng.standard_normal(w.shape)).astype(np.float32) + 0.1 for w in theirs.get_weights()])
    theirs.save(tmp_path / "theirs.keras")
    model = pynn.Sequential([layers.Input(shape=(6, 6, 3)), layers.Conv2D(4, 3, strides=2, padding="same"),
                             layers.PReLU(), layers.BatchNormalization(), layers.GlobalAveragePooling2D(),
                             layers.Dense(2)])
    model.load_weights(tmp_path / "theirs.keras")
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-4, atol=1e-5)


def _attention_model(lib, embedding):
    """Input (or Embedding with padding) -> MultiHeadAttention -> LayerNormalization -> Dense, in pynn or Keras."""
    L = lib.layers
    if embedding:
        x = lib.Input((6,), dtype="int32")
        h = L.Embedding(12, 8, mask_zero=True)(x)
    else:
        x = h = lib.Input((6, 8))
    h = L.MultiHeadAttention(2, 3, value_dim=4)(h, h)
    return lib.Model(x, L.Dense(3)(L.LayerNormalization()(h)))


def _attention_data(rng, embedding):
    """The input and the steps to compare: with padding, Keras's fused attention kernel gives a query step that
    may attend to nothing (a padded one) the mean of the values, pynn zeros; the valid steps are compared."""
    if not embedding:
        return rng.standard_normal((3, 6, 8)).astype(np.float32), np.ones((3, 6), bool)
    x = rng.integers(1, 12, (3, 6)).astype(np.int32)
    x[1, 4:] = x[2, :2] = 0
    return x, x != 0


@pytest.mark.parametrize("embedding", [False, True])
def test_live_pynn_reads_keras_multi_head_attention(keras, tmp_path, rng, embedding):
    """Keras stores MultiHeadAttention's weights in one group per projection (query_dense/vars/0, ...)."""
    theirs = _attention_model(keras, embedding)
    theirs.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in theirs.get_weights()])
    x, valid = _attention_data(rng, embedding)
    want = np.asarray(theirs.predict(x, verbose=0))
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    theirs.save(tmp_path / "theirs.keras")
    theirs.save(tmp_path / "theirs.h5")                       # legacy HDF5: one flat list per layer
    for name in ("theirs.weights.h5", "theirs.keras", "theirs.h5"):
        model = _attention_model(pynn, embedding)
        assert not np.allclose(model.predict(x, verbose=0)[valid], want[valid], atol=1e-3)
        model.load_weights(tmp_path / name)
        np.testing.assert_allclose(model.predict(x, verbose=0)[valid], want[valid], rtol=1e-4, atol=1e-5,
                                   err_msg=name)


@pytest.mark.parametrize("embedding", [False, True])
def test_live_keras_reads_pynn_multi_head_attention(keras, tmp_path, rng, embedding):
    model = _attention_model(pynn, embedding)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    x, valid = _attention_data(rng, embedding)
    model.save_weights(tmp_path / "ours.weights.h5")
    theirs = _attention_model(keras, embedding)
    theirs.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0))[valid], model.predict(x, verbose=0)[valid],
                               rtol=1e-4, atol=1e-5)
