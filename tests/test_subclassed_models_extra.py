"""Subclassed models (class M(pynn.Model) with call()) whose call() takes several inputs, as a list [a, b] or a
dict {"a": ..., "b": ...}, as Keras 3 allows: calling the model, predict, fit, evaluate, train_on_batch,
validation data and saving work whichever comes first; checked against Keras with the same weights and, in
float64, against finite differences."""
import numpy as np
import pytest

import pynn
from pynn import layers
from gradcheck import numeric_gradient

N, FA, FB = 24, 3, 5


def _classes(lib):
    register = lib.saving.register_keras_serializable(package="test_subclassed_extra")

    @register
    class ListModel(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.da = lib.layers.Dense(4, activation="tanh")
            self.db = lib.layers.Dense(4, activation="tanh")
            self.out = lib.layers.Dense(2)

        def call(self, inputs):
            a, b = inputs
            return self.out(self.da(a) * self.db(b))

    @register
    class DictModel(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.da = lib.layers.Dense(4, activation="tanh")
            self.db = lib.layers.Dense(4, activation="tanh")
            self.out = lib.layers.Dense(2)

        def call(self, inputs):
            return self.out(self.da(inputs["a"]) * self.db(inputs["b"]))

    return ListModel, DictModel


ListModel, DictModel = _classes(pynn)


def _data(rng, dtype="float32"):
    a = rng.standard_normal((N, FA)).astype(dtype)
    b = rng.standard_normal((N, FB)).astype(dtype)
    return a, b, rng.standard_normal((N, 2)).astype(dtype)


def _inputs(cls, a, b):
    return [a, b] if cls is ListModel else {"a": a, "b": b}


@pytest.mark.parametrize("cls", [ListModel, DictModel])
@pytest.mark.parametrize("first", ["call", "predict", "fit", "evaluate", "train_on_batch"])
def test_every_path_works_whichever_comes_first(rng, cls, first):
    a, b, y = _data(rng)
    x = _inputs(cls, a, b)
    model = cls()
    model.compile(optimizer=pynn.optimizers.Adam(0.02), loss="mse")
    {"call": lambda: model(x), "predict": lambda: model.predict(x, verbose=0),
     "fit": lambda: model.fit(x, y, epochs=1, verbose=0), "evaluate": lambda: model.evaluate(x, y, verbose=0),
     "train_on_batch": lambda: model.train_on_batch(x, y)}[first]()
    direct = model(x)
    assert direct.shape == (N, 2)
    np.testing.assert_allclose(model.predict(x, verbose=0, batch_size=7), direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean((direct - y) ** 2), rtol=1e-5)
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0, validation_data=(x, y))
    assert history.history["loss"][-1] < before
    assert "val_loss" in history.history
    model.train_on_batch(x, y)
    if cls is ListModel:                 # a tuple of arrays is a list of inputs too
        np.testing.assert_allclose(model.predict((a, b), verbose=0), model([a, b]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [ListModel, DictModel])
def test_save_and_load(rng, cls, tmp_path):
    a, b, y = _data(rng)
    x = _inputs(cls, a, b)
    model = cls()
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = pynn.models.load_model(tmp_path / "m.keras")
    assert type(loaded) is cls
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(loaded(x), want, rtol=1e-6, atol=1e-7)
    loaded.fit(x, y, epochs=1, verbose=0)                      # the compile state came back too
    model.save_weights(tmp_path / "m.weights.h5")
    again = cls()
    again(x)
    again.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("which", [0, 1])
def test_matches_keras_with_the_same_weights(keras, rng, which):
    a, b, _ = _data(rng)
    ours, theirs = _classes(pynn)[which](), _classes(keras)[which]()
    x = [a, b] if which == 0 else {"a": a, "b": b}
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), np.asarray(theirs.predict(x, verbose=0)), rtol=1e-5,
                               atol=1e-6)


class ListModel64(pynn.Model):
    def __init__(self, **kwargs):
        super().__init__(dtype="float64", **kwargs)
        self.da = layers.Dense(4, activation="tanh", dtype="float64")
        self.db = layers.Dense(4, activation="tanh", dtype="float64")
        self.out = layers.Dense(2, dtype="float64", bias_initializer="random_normal")

    def call(self, inputs):
        a, b = inputs
        return self.out(self.da(a) * self.db(b))


def test_gradients_with_respect_to_both_inputs_float64(rng):
    a, b, _ = _data(rng, "float64")
    a, b = a[:4], b[:4]
    model = ListModel64()
    model([a, b])
    y, ctx = model.forward([a, b], training=False)
    g = rng.standard_normal(y.shape)
    for w in model.weights:
        w.grad.fill(0)
    da, db = model.backward(ctx, g.copy())

    def f():
        return float(np.sum(g * model.forward([a, b], training=False)[0]))
    np.testing.assert_allclose(da, numeric_gradient(f, a), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(db, numeric_gradient(f, b), rtol=1e-6, atol=1e-9)
    for w in model.trainable_weights:
        np.testing.assert_allclose(w.grad, numeric_gradient(f, w.value), rtol=1e-6, atol=1e-9, err_msg=w.name)


def test_wrong_inputs_are_reported_naming_the_model(rng):
    a, b, y = _data(rng)
    model = ListModel(name="pair")
    model.compile(optimizer="sgd", loss="mse")
    model([a, b])
    with pytest.raises(ValueError, match=r"'pair'.*2 input"):
        model.predict([a, b, b], verbose=0)
    with pytest.raises(ValueError, match=r"'pair'.*2 input"):
        model.fit(a, y, verbose=0)
    keyed = DictModel(name="keyed")
    keyed.compile(optimizer="sgd", loss="mse")
    keyed({"a": a, "b": b})
    with pytest.raises(ValueError, match=r"'keyed'.*missing \['b'\]"):
        keyed.fit({"a": a}, y, verbose=0)


@pynn.saving.register_keras_serializable(package="test_subclassed_extra")
class OneInput(pynn.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="relu")
        self.out = layers.Dense(2)

    def call(self, x):
        return self.out(self.hidden(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_one_input_subclassed_model_saves_and_loads_with_its_optimizer_state(rng, tmp_path):
    a, _, y = _data(rng)
    model = OneInput(units=5)
    model.compile(optimizer="adam", loss="mse")
    model.fit(a, y, epochs=2, verbose=0)
    model.save(tmp_path / "one.keras")
    OneInput()                                    # the loaded copy's layers get other automatic names
    loaded = pynn.models.load_model(tmp_path / "one.keras")
    assert type(loaded) is OneInput and loaded.units == 5
    np.testing.assert_allclose(loaded.predict(a, verbose=0), model.predict(a, verbose=0), rtol=1e-6, atol=1e-7)
    assert loaded.optimizer.iterations == model.optimizer.iterations
    twins = {id(w): t for w, t in zip(model.trainable_weights, loaded.trainable_weights)}
    assert len(model.optimizer._slots) == len(loaded.optimizer._slots) == 4 * 2
    for (key, name), slot in model.optimizer._slots.items():    # Adam's slots, with the weights they belong to
        np.testing.assert_array_equal(loaded.optimizer._slots[(id(twins[key]), name)], slot)
    model.fit(a, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(a, y, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(loaded.predict(a, verbose=0), model.predict(a, verbose=0), rtol=1e-5, atol=1e-6)
