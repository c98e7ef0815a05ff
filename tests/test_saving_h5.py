"""model.save("x.h5") / load_model("x.h5") in Keras's legacy HDF5 layout (pynn/saving/legacy_h5.py): round trips
of a Sequential MLP, a two-input functional model, a CNN and an LSTM (same predictions bit for bit, compiled
with the optimizer's state), the file's layout, Keras's layer order, atomic writes, clear errors for damaged or
edited files, and with Keras importable (KERAS_BACKEND=torch) files written by Keras loaded in pynn and the
other way round."""
import json
import os
import shutil
import sys

import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.saving import legacy_h5

h5py = pytest.importorskip("h5py")


# ---------------------------------------------------------------------------------------------- models
def mlp():
    model = pynn.Sequential([layers.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                             layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=pynn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def two_inputs():
    a, b = pynn.Input(shape=(6,), name="a"), pynn.Input(shape=(4,), name="b")
    h = layers.Concatenate()([layers.Dense(8, activation="relu")(a), layers.Dense(5, activation="tanh")(b)])
    model = pynn.Model([a, b], layers.Dense(1)(h))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    return model


def cnn():
    model = pynn.Sequential([layers.Input(shape=(8, 8, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                             layers.MaxPooling2D(), layers.BatchNormalization(), layers.Flatten(),
                             layers.Dense(3, activation="softmax")])
    model.compile(optimizer=pynn.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


def lstm():
    model = pynn.Sequential([layers.Input(shape=(7, 3)), layers.LSTM(5, return_sequences=True),
                             layers.Bidirectional(layers.GRU(3)), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def data(name, n=48):
    rng = np.random.default_rng(0)
    x = {"mlp": (n, 6), "cnn": (n, 8, 8, 2), "lstm": (n, 7, 3)}
    if name == "two_inputs":
        x = [rng.standard_normal((n, 6)).astype(np.float32), rng.standard_normal((n, 4)).astype(np.float32)]
        return x, (x[0][:, :1] - x[1][:, 1:2]).astype(np.float32)
    x = rng.standard_normal(x[name]).astype(np.float32)
    y = rng.integers(0, 3, n) if name in ("mlp", "cnn") else x[:, 0, :1].copy()
    return x, y


MODELS = {"mlp": mlp, "two_inputs": two_inputs, "cnn": cnn, "lstm": lstm}


def trained(name):
    model = MODELS[name]()
    x, y = data(name)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, x, y


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for p, q in zip(wa, wb):
        np.testing.assert_array_equal(p, q)


def assert_same_optimizer_state(a, b):
    assert type(a.optimizer) is type(b.optimizer) and a.optimizer.get_config() == b.optimizer.get_config()
    assert a.optimizer.iterations == b.optimizer.iterations > 0
    assert len(a.optimizer._slots) == len(b.optimizer._slots)
    for va, vb in zip(a.trainable_weights, b.trainable_weights):
        for (owner, slot), array in b.optimizer._slots.items():
            if owner == id(vb):
                np.testing.assert_array_equal(a.optimizer._slots[(id(va), slot)], array)


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_same_predictions_and_compiled_state(tmp_path, name):
    model, x, y = trained(name)
    path = tmp_path / f"{name}.h5"
    model.save(path)
    loaded = pynn.models.load_model(path)
    assert type(loaded) is type(model) and [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert_same_weights(loaded, model)
    for p, q in zip(np.atleast_1d(loaded.predict(x, verbose=0)), np.atleast_1d(model.predict(x, verbose=0))):
        np.testing.assert_array_equal(p, q)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)  # compiled: evaluates at once
    assert_same_optimizer_state(loaded, model)


def test_training_continued_after_loading_is_bit_identical(tmp_path):
    """Weights, compile arguments and the optimizer's slots and step count are all there is to it for a model
    without random streams (no Dropout, no shuffling)."""
    def make():
        model = pynn.Sequential([layers.Input(shape=(6,)), layers.Dense(16, activation="relu"),
                                 layers.BatchNormalization(), layers.Dense(3, activation="softmax")])
        model.compile(optimizer=pynn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
        return model
    x, y = data("mlp")
    pynn.utils.set_random_seed(4)
    reference = make()
    reference.fit(x, y, epochs=4, batch_size=16, shuffle=False, verbose=0)
    pynn.utils.set_random_seed(4)
    model = make()
    model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    model.save(tmp_path / "ckpt.h5")
    resumed = pynn.saving.load_model(tmp_path / "ckpt.h5")
    resumed.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert_same_weights(resumed, reference)


def test_uncompiled_model_and_compile_false(tmp_path):
    model = pynn.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    model.save(tmp_path / "plain.hdf5")
    with h5py.File(tmp_path / "plain.hdf5") as h5:
        assert "training_config" not in h5.attrs and "optimizer_weights" not in h5
    loaded = pynn.models.load_model(tmp_path / "plain.hdf5")
    assert loaded.optimizer is None
    assert_same_weights(loaded, model)
    compiled, _, _ = trained("mlp")
    compiled.save(tmp_path / "m.h5")
    assert pynn.models.load_model(tmp_path / "m.h5", compile=False).optimizer is None


def test_file_layout_is_keras_legacy_h5(tmp_path):
    model, _, _ = trained("mlp")
    model.save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5") as h5:
        assert {"keras_version", "backend", "model_config", "training_config"} <= set(h5.attrs)
        config = json.loads(h5.attrs["model_config"])
        assert config["class_name"] == "Sequential"
        assert [entry["class_name"] for entry in config["config"]["layers"]] == [
            "InputLayer", "Dense", "Dropout", "BatchNormalization", "Dense"]
        assert config["config"]["layers"][1]["module"] == "keras.layers"
        training = json.loads(h5.attrs["training_config"])
        assert training["loss"] == "sparse_categorical_crossentropy" and training["metrics"] == ["accuracy"]
        assert training["optimizer_config"]["class_name"] == "Adam"
        assert training["optimizer_config"]["config"]["learning_rate"] == 0.01
        weights = h5["model_weights"]
        names = [layer.name for layer in model.layers]
        assert [n.decode() for n in weights.attrs["layer_names"]] == names
        dense, bn = weights[names[0]], weights[names[2]]
        kernel_name, bias_name = [n.decode() for n in dense.attrs["weight_names"]]
        np.testing.assert_array_equal(dense[kernel_name][()], model.layers[0].kernel.value)
        np.testing.assert_array_equal(dense[bias_name][()], model.layers[0].bias.value)
        assert len(bn.attrs["weight_names"]) == 4 and len(weights[names[1]].attrs["weight_names"]) == 0
        assert len(weights["top_level_model_weights"].attrs["weight_names"]) == 0
        slots = [n.decode() for n in h5["optimizer_weights"].attrs["weight_names"]]
        assert slots[:2] == ["adam/iteration", "adam/learning_rate"] and len(slots) == 2 + 2 * 6
        assert slots[2].endswith("_momentum") and slots[3].endswith("_velocity")
        assert h5["optimizer_weights"][slots[0]][()] == model.optimizer.iterations


def branchy(lib, Input, Model):
    """A graph whose layer order differs between pynn and Keras: three inputs, a shared layer, two outputs."""
    L = lib.layers
    a, b, c = Input(shape=(4,), name="a"), Input(shape=(3,), name="b"), Input(shape=(2,), name="c")
    d1 = L.Dense(5, name="d1")(a)
    d2 = L.Dense(5, name="d2")(b)
    shared = L.Dense(5, name="shared")
    h = L.Concatenate(name="cat")([shared(d2), shared(L.Dense(5, name="d1b")(d1)), L.Dense(5, name="dc")(c)])
    return Model([a, b, c], [L.Dense(1, name="o1")(h), L.Dense(2, name="o2")(d1)])


KERAS_ORDER = ["a", "b", "d1", "d2", "d1b", "c", "shared", "dc", "cat", "o1", "o2"]  # keras.Model(...).layers


def test_functional_layers_are_stored_in_keras_order(tmp_path):
    model = branchy(pynn, pynn.Input, pynn.Model)
    assert [layer.name for layer in model.layers] != KERAS_ORDER
    assert [layer.name for layer in legacy_h5.keras_layers(model)] == KERAS_ORDER
    model.save(tmp_path / "branchy.h5")
    with h5py.File(tmp_path / "branchy.h5") as h5:
        assert [n.decode() for n in h5["model_weights"].attrs["layer_names"]] == KERAS_ORDER
    loaded = pynn.models.load_model(tmp_path / "branchy.h5")
    x = [np.ones((2, 4), np.float32), np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)]
    for p, q in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(p, q)


def test_load_weights_from_a_model_h5_file(tmp_path):
    model, x, _ = trained("cnn")
    model.save(tmp_path / "m.h5")
    other = cnn()                                  # the same layers, other automatic names: matched by position
    assert [l.name for l in other.layers] != [l.name for l in model.layers]
    other.load_weights(tmp_path / "m.h5")
    assert_same_weights(other, model)
    wrong = pynn.Sequential([layers.Input(shape=(8, 8, 2)), layers.Conv2D(4, 3, padding="same"),
                             layers.MaxPooling2D(), layers.BatchNormalization(), layers.Flatten(), layers.Dense(2)])
    before = wrong.get_weights()
    with pytest.raises(ValueError, match=r"m\.h5.*shape"):
        wrong.load_weights(tmp_path / "m.h5")
    for p, q in zip(wrong.get_weights(), before):  # all or nothing
        np.testing.assert_array_equal(p, q)


# ---------------------------------------------------------------------------------------------- safe writing
def test_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    model, x, y = trained("mlp")
    path = tmp_path / "m.h5"
    model.save(path)
    original = path.read_bytes()
    model.fit(x, y, epochs=1, verbose=0)
    real, calls = h5py.Group.create_dataset, []

    def failing(self, *args, **kwargs):  # fails half-way through the weights
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)
    monkeypatch.setattr(h5py.Group, "create_dataset", failing)
    with pytest.raises(OSError, match="No space left"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original and os.listdir(tmp_path) == ["m.h5"]  # no temporary left behind
    pynn.models.load_model(path)


def test_overwrite_false_mode_and_symlink(tmp_path):
    model = mlp()
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.h5"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link = tmp_path / "m.h5"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        model.save(link, overwrite=False)
    assert target.read_bytes() == b"old"
    model.save(link)
    assert link.is_symlink() and os.stat(target).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path / "real")) == ["m.h5"]
    assert_same_weights(pynn.models.load_model(target), model)


def test_a_model_that_cannot_be_saved_leaves_no_file(tmp_path):
    model = pynn.Sequential([layers.Input(shape=(3,)), layers.Lambda(lambda x: x * 2, name="doubler")])
    with pytest.raises(ValueError, match="doubler.*register_keras_serializable"):
        model.save(tmp_path / "lambda.h5")
    assert not os.listdir(tmp_path)


def test_missing_h5py_is_a_clear_error(tmp_path, monkeypatch):
    mlp().save(tmp_path / "m.h5")
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    with pytest.raises(ImportError, match=r"\.h5 model files.*pip install h5py"):
        mlp().save(tmp_path / "new.h5")
    with pytest.raises(ImportError, match="pip install h5py"):
        pynn.models.load_model(tmp_path / "m.h5")
    assert os.listdir(tmp_path) == ["m.h5"]


def test_other_suffixes_still_refused(tmp_path):
    with pytest.raises(ValueError, match=r"'\.keras' \(or '\.h5' for Keras's legacy HDF5 layout"):
        mlp().save(tmp_path / "m.bin")


# ---------------------------------------------------------------------------------------------- bad files
@pytest.fixture
def saved(tmp_path):
    model, _, _ = trained("mlp")
    path = tmp_path / "good.h5"
    model.save(path)
    return path


def edited(saved, tmp_path, edit):
    path = tmp_path / "edited.h5"
    shutil.copy(saved, path)
    with h5py.File(path, "r+") as h5:
        edit(h5)
    return path


def test_missing_truncated_or_not_hdf5(saved, tmp_path):
    with pytest.raises(FileNotFoundError):
        pynn.models.load_model(tmp_path / "nowhere.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match=r"text\.h5: not a readable HDF5 file"):
        pynn.models.load_model(tmp_path / "text.h5")
    content = saved.read_bytes()
    for cut in (len(content) // 2, len(content) - 100, 10):
        (tmp_path / "cut.h5").write_bytes(content[:cut])
        with pytest.raises(ValueError, match=r"cut\.h5"):
            pynn.models.load_model(tmp_path / "cut.h5")


def test_a_weights_file_is_not_a_model_file(tmp_path):
    mlp().save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match=r"w\.weights\.h5: no model_config.*load_weights"):
        pynn.models.load_model(tmp_path / "w.weights.h5")


def _set_config(h5, edit):
    config = json.loads(h5.attrs["model_config"])
    edit(config)
    h5.attrs["model_config"] = json.dumps(config).encode()


def _first_dense(h5):
    """The first layer's group (a Dense) and its weight names."""
    group = h5["model_weights"][h5["model_weights"].attrs["layer_names"][0].decode()]
    return group, [n.decode() for n in group.attrs["weight_names"]]


def _delete_bias(h5):
    group, names = _first_dense(h5)
    del group[names[1]]


def _reshape_kernel(h5):
    group, names = _first_dense(h5)
    del group[names[0]]
    group.create_dataset(names[0], data=np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("edit, message", [
    (lambda h5: h5.attrs.__setitem__("model_config", b"{not json"), "model_config is not valid JSON"),
    (lambda h5: h5.attrs.__setitem__("model_config", b"[]"), "model_config does not describe a model"),
    (lambda h5: _set_config(h5, lambda c: c["config"]["layers"][1].update(class_name="Dense2")),
     "Could not locate class 'Dense2'"),
    (lambda h5: _set_config(h5, lambda c: c["config"]["layers"].__setitem__(1, {
        "module": "os", "class_name": "system", "config": {"command": "touch PWNED"}})), "Could not locate"),
    (lambda h5: h5.attrs.__setitem__("training_config", b'{"loss": "mse"}'), "training_config"),
    (lambda h5: h5["model_weights"].attrs.__setitem__("layer_names", np.asarray([b"nowhere"])),
     "'nowhere', which has no group"),
    (_delete_bias, "missing from the file"),
    (_reshape_kernel, "shape"),
    (lambda h5: h5["model_weights/top_level_model_weights"].attrs.__setitem__("weight_names", np.asarray([b"x"])),
     "top_level_model_weights"),
    (lambda h5: _first_dense(h5)[0].attrs.__setitem__("weight_names", np.arange(2.0)), "not a list of strings"),
])
def test_edited_files_give_clear_errors(saved, tmp_path, edit, message):
    bad = edited(saved, tmp_path, edit)
    with pytest.raises(ValueError, match=r"edited\.h5.*" + message):
        pynn.models.load_model(bad)
    assert not (tmp_path / "PWNED").exists()


def test_optimizer_state_for_another_optimizer_starts_fresh_with_a_warning(saved, tmp_path):
    def edit(h5):
        config = json.loads(h5.attrs["training_config"])
        config["optimizer_config"] = {"class_name": "SGD", "config": {"learning_rate": 0.1, "momentum": 0.9}}
        h5.attrs["training_config"] = json.dumps(config).encode()
    with pytest.warns(UserWarning, match="optimizer's state was not restored"):
        loaded = pynn.models.load_model(edited(saved, tmp_path, edit))
    assert type(loaded.optimizer).__name__ == "SGD" and loaded.optimizer.iterations == 0


# ---------------------------------------------------------------------------------------------- live Keras
@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def keras_model(keras, name):
    K = keras.layers
    if name == "mlp":
        model = keras.Sequential([keras.Input((6,)), K.Dense(16, activation="relu"), K.Dropout(0.3),
                                  K.BatchNormalization(), K.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    elif name == "cnn":
        model = keras.Sequential([keras.Input((8, 8, 2)), K.Conv2D(4, 3, padding="same", activation="relu"),
                                  K.MaxPooling2D(), K.BatchNormalization(), K.Flatten(),
                                  K.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy")
    elif name == "two_inputs":
        a, b = keras.Input((6,), name="a"), keras.Input((4,), name="b")
        h = K.Concatenate()([K.Dense(8, activation="relu")(a), K.Dense(5, activation="tanh")(b)])
        model = keras.Model([a, b], K.Dense(1)(h))
        model.compile(optimizer="rmsprop", loss="mean_squared_error", metrics=["mae"])
    else:
        model = keras.Sequential([keras.Input((7, 3)), K.LSTM(5, return_sequences=True), K.Bidirectional(K.GRU(3)),
                                  K.Dense(1)])
        model.compile(optimizer="adam", loss="mean_squared_error")
    return model


def close(p, q):
    np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_h5_loads_in_pynn(keras, tmp_path, name):
    model = keras_model(keras, name)
    x, y = data(name)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "keras.h5")
    loaded = pynn.models.load_model(tmp_path / "keras.h5")
    assert [l.name for l in legacy_h5.keras_layers(loaded)] == [l.name for l in model.layers]
    close(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    assert loaded.optimizer.iterations == int(model.optimizer.iterations) == 3
    close(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_pynn_h5_loads_in_keras(keras, tmp_path, name):
    model, x, _ = trained(name)
    model.save(tmp_path / "pynn.h5")
    theirs = keras.models.load_model(tmp_path / "pynn.h5")
    assert [l.name for l in theirs.layers] == [l.name for l in legacy_h5.keras_layers(model)]
    close(theirs.predict(x, verbose=0), model.predict(x, verbose=0))
    assert type(theirs.optimizer).__name__ == type(model.optimizer).__name__
    assert int(theirs.optimizer.iterations) == model.optimizer.iterations  # (Keras 3 restores no slots from .h5)


def test_keras_optimizer_state_continues_in_pynn(keras, tmp_path):
    """Adam's slots and step count from a Keras file: one more step in pynn moves the weights as in Keras."""
    K = keras.layers
    model = keras.Sequential([keras.Input((6,)), K.Dense(8, activation="tanh"), K.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mean_squared_error")
    x, _ = data("mlp")
    y = x[:, :1] * 0.5
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "keras.h5")
    loaded = pynn.models.load_model(tmp_path / "keras.h5")
    model.train_on_batch(x[:16], y[:16])
    loaded.train_on_batch(x[:16], y[:16])
    assert loaded.optimizer.iterations == 7
    for p, q in zip(loaded.get_weights(), model.get_weights()):
        close(p, q)


def test_keras_and_pynn_agree_on_a_branchy_graph(keras, tmp_path):
    theirs = branchy(keras, keras.Input, keras.Model)
    assert [layer.name for layer in theirs.layers] == KERAS_ORDER
    model = branchy(pynn, pynn.Input, pynn.Model)
    model.save(tmp_path / "branchy.h5")
    x = [np.full((2, 4), 0.5, np.float32), np.ones((2, 3), np.float32), np.ones((2, 2), np.float32)]
    for p, q in zip(keras.models.load_model(tmp_path / "branchy.h5").predict(x, verbose=0),
                    model.predict(x, verbose=0)):
        close(p, q)
