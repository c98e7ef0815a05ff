"""compile(metrics=..., weighted_metrics=...) with Keras 3's semantics: sample_weight and class_weight weight the
loss and the weighted_metrics, never the metrics; names as Keras 3's compile logs them ("mse" for "mse", a
weighted metric whose name is taken becomes "weighted_<name>", a repeated name gets "_1", several outputs put
the output's name first). Logged values against NumPy formulas, and against Keras 3 itself (torch backend) on
the same weights, data and sample weights when it is installed; saving keeps weighted_metrics.

Training runs with SGD(learning_rate=0) where a fit's logs are compared: the weights do not move, so an epoch's
metrics are those of the fixed model over the training data, as evaluate computes them.
"""
import os

import numpy as np
import pytest

import pynn
from pynn import layers, metrics


@pytest.fixture
def keras():
    if "KERAS_BACKEND" not in os.environ:
        pytest.importorskip("torch")
        os.environ["KERAS_BACKEND"] = "torch"
    return pytest.importorskip("keras")


@pytest.fixture
def data(rng):
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.normal(size=(40, 1)).astype(np.float32)
    labels = rng.integers(0, 3, 40)
    weights = rng.uniform(0, 2, 40).astype(np.float32)
    return x, y, labels, weights


def regression_model(seed=0, **compile_args):
    pynn.utils.set_random_seed(seed)
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(1)])
    model.compile(optimizer=pynn.optimizers.SGD(learning_rate=0.0), loss="mse", **compile_args)
    return model


def classifier(seed=0, **compile_args):
    pynn.utils.set_random_seed(seed)
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=pynn.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy",
                  **compile_args)
    return model


def two_outputs(seed=0, **compile_args):
    pynn.utils.set_random_seed(seed)
    inputs = pynn.Input(shape=(4,))
    reg = layers.Dense(1, name="reg")(inputs)
    cls = layers.Dense(3, activation="softmax", name="cls")(inputs)
    model = pynn.Model(inputs, [reg, cls])
    model.compile(optimizer=pynn.optimizers.SGD(learning_rate=0.0),
                  loss=["mse", "sparse_categorical_crossentropy"], **compile_args)
    return model


def weighted_mean(values, w=None):
    w = np.ones(len(values)) if w is None else np.asarray(w, np.float64)
    return float(np.sum(values * w) / np.sum(w))


# ------------------------------------------------------------------------------------------ values (NumPy)
def test_metrics_are_not_weighted_and_weighted_metrics_are(data):
    x, y, _, w = data
    model = regression_model(metrics=["mse", "mae"], weighted_metrics=["mse"])
    p = model.predict(x, verbose=0).astype(np.float64)
    squared, absolute = ((p - y) ** 2)[:, 0], np.abs(p - y)[:, 0]
    logs = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mse", "mae", "weighted_mse"]
    assert logs["mse"] == pytest.approx(weighted_mean(squared), rel=1e-6)
    assert logs["mae"] == pytest.approx(weighted_mean(absolute), rel=1e-6)
    assert logs["weighted_mse"] == pytest.approx(weighted_mean(squared, w), rel=1e-6)
    assert logs["weighted_mse"] != pytest.approx(logs["mse"], rel=1e-3)   # the weights make a difference here
    history = model.fit(x, y, sample_weight=w, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    for name in ("mse", "mae", "weighted_mse"):
        assert history[name][0] == pytest.approx(logs[name], rel=1e-6)
    # without sample weights, weighted and unweighted agree
    plain = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert plain["weighted_mse"] == pytest.approx(plain["mse"], rel=1e-12)


def test_weighted_metrics_alone_keep_their_names(data):
    x, y, _, w = data
    model = regression_model(weighted_metrics=["mse"])
    p = model.predict(x, verbose=0).astype(np.float64)
    logs = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mse"]
    assert logs["mse"] == pytest.approx(weighted_mean(((p - y) ** 2)[:, 0], w), rel=1e-6)


def test_class_weight_reaches_weighted_metrics_only(data):
    x, _, labels, _ = data
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    model = classifier(metrics=["accuracy"], weighted_metrics=["accuracy"])
    hits = (model.predict(x, verbose=0).argmax(axis=1) == labels).astype(np.float64)
    assert 0 < hits.mean() < 1
    history = model.fit(x, labels, class_weight=class_weight, batch_size=8, epochs=1, verbose=0).history
    per_sample = np.array([class_weight[c] for c in labels])
    assert history["accuracy"][0] == pytest.approx(hits.mean(), rel=1e-6)
    assert history["weighted_accuracy"][0] == pytest.approx(weighted_mean(hits, per_sample), rel=1e-6)
    assert history["weighted_accuracy"][0] != pytest.approx(history["accuracy"][0], rel=1e-3)


def test_train_and_test_on_batch(data):
    x, y, _, w = data
    model = regression_model(metrics=["mse"], weighted_metrics=["mse"])
    p = model.predict(x, verbose=0).astype(np.float64)
    squared = ((p - y) ** 2)[:, 0]
    for logs in (model.test_on_batch(x, y, sample_weight=w, return_dict=True),
                 model.train_on_batch(x, y, sample_weight=w, return_dict=True)):
        assert logs["mse"] == pytest.approx(weighted_mean(squared), rel=1e-6)
        assert logs["weighted_mse"] == pytest.approx(weighted_mean(squared, w), rel=1e-6)


def test_generator_batches_weight_the_same_way(data):
    x, y, _, w = data
    model = regression_model(metrics=["mse"], weighted_metrics=["mse"])
    arrays = model.evaluate(x, y, sample_weight=w, batch_size=8, verbose=0, return_dict=True)
    batches = ((x[i:i + 8], y[i:i + 8], w[i:i + 8]) for i in range(0, 40, 8))
    streamed = model.evaluate(batches, verbose=0, return_dict=True)
    assert streamed == pytest.approx(arrays, rel=1e-12)


def test_two_outputs_per_output_weights(data):
    x, y, labels, w = data
    model = two_outputs(metrics=[["mse"], ["accuracy"]], weighted_metrics={"reg": ["mse"], "cls": ["accuracy"]})
    reg, cls = model.predict(x, verbose=0)
    squared = ((reg.astype(np.float64) - y) ** 2)[:, 0]
    hits = (cls.argmax(axis=1) == labels).astype(np.float64)
    logs = model.evaluate(x, [y, labels], sample_weight=w, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "reg_loss", "cls_loss", "reg_mse", "cls_accuracy", "reg_weighted_mse",
                         "cls_weighted_accuracy"}
    assert logs["reg_mse"] == pytest.approx(weighted_mean(squared), rel=1e-6)
    assert logs["reg_weighted_mse"] == pytest.approx(weighted_mean(squared, w), rel=1e-6)
    assert logs["cls_accuracy"] == pytest.approx(hits.mean(), rel=1e-6)
    assert logs["cls_weighted_accuracy"] == pytest.approx(weighted_mean(hits, w), rel=1e-6)
    # one weight array per output: each output's weighted metrics read their own
    ones = np.ones_like(w)
    logs = model.evaluate(x, [y, labels], sample_weight=[w, ones], verbose=0, return_dict=True)
    assert logs["reg_weighted_mse"] == pytest.approx(weighted_mean(squared, w), rel=1e-6)
    assert logs["cls_weighted_accuracy"] == pytest.approx(hits.mean(), rel=1e-6)


# ------------------------------------------------------------------------------------------------------ names
NAME_CASES = [
    (dict(metrics=["mse"]), ["mse"]),
    (dict(weighted_metrics=["mse"]), ["mse"]),
    (dict(metrics=["mse"], weighted_metrics=["mse"]), ["mse", "weighted_mse"]),
    (dict(metrics=["mae", "mse"], weighted_metrics=["mae"]), ["mae", "mse", "weighted_mae"]),
    (dict(metrics=["mse", "mse"], weighted_metrics=["mse", "mse"]), ["mse", "mse_1", "weighted_mse",
                                                                     "weighted_mse_1"]),
    (dict(metrics=["mean_squared_error", "MeanSquaredError"]), ["mean_squared_error", "MeanSquaredError"]),
    (dict(metrics=[metrics.MeanSquaredError()], weighted_metrics=[metrics.MeanSquaredError()]),
     ["mean_squared_error", "weighted_mean_squared_error"]),
    (dict(metrics=["RootMeanSquaredError"], weighted_metrics=[metrics.RootMeanSquaredError(name="rmse")]),
     ["RootMeanSquaredError", "rmse"]),
]


@pytest.mark.parametrize("compile_args,names", NAME_CASES)
def test_logged_names(compile_args, names, data):
    x, y, _, w = data
    model = regression_model(**compile_args)
    logs = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert list(logs) == ["loss"] + names
    assert model.metrics_names == ["loss"] + names


def test_get_gives_the_class_name_and_compile_the_string():
    """As in Keras 3: metrics.get("mse").name is "mean_squared_error", compile(metrics=["mse"]) logs "mse"."""
    assert metrics.get("mse").name == "mean_squared_error"
    assert metrics.get("acc").name == "accuracy"
    model = classifier(metrics=["acc", "mse"])
    assert model.metrics_names == ["loss", "acc", "mse"]


def test_metrics_must_be_a_list_or_dict():
    with pytest.raises(ValueError, match=r"weighted_metrics must be a list, tuple or dict.*\['accuracy'\]"):
        classifier(weighted_metrics="accuracy")
    with pytest.raises(ValueError, match="metrics must be a list"):
        classifier(metrics=metrics.Accuracy())
    model = classifier(metrics=["accuracy"])
    with pytest.raises(ValueError, match="unknown output"):       # a bad compile leaves the model as it was
        model.compile(optimizer="sgd", loss="mse", weighted_metrics={"nope": ["mse"]})
    assert model.metrics_names == ["loss", "accuracy"]


# --------------------------------------------------------------------------------------------------- saving
def test_saving_keeps_weighted_metrics(data, tmp_path):
    x, y, _, w = data
    model = regression_model(metrics=["mae"], weighted_metrics=["mse", metrics.MeanAbsoluteError(name="wmae")])
    model.save(tmp_path / "m.keras")
    loaded = pynn.models.load_model(tmp_path / "m.keras")
    assert [(m.name, m.weighted) for m in loaded.compiled_metrics] == [("mae", False), ("mse", True),
                                                                      ("wmae", True)]
    expected = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert loaded.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True) == expected


# ---------------------------------------------------------------------------------------------- Keras itself
def keras_twin(keras, model, build):
    """The Keras 3 model made by build(), with the pynn model's weights."""
    keras.utils.set_random_seed(0)
    theirs = build()
    theirs.set_weights(model.get_weights())
    return theirs


def keras_sequential(keras, units, activation=None):
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation)])


KERAS_CASES = NAME_CASES[:6] + [
    (dict(metrics=["mae"], weighted_metrics=["mse", "mae"]), None),
    (dict(metrics=["MSE", "mse", "mean_squared_error", "root_mean_squared_error", "accuracy", "mse"],
          weighted_metrics=["mse", "MAE", "accuracy", "mse"]), None),
]


def test_get_names_as_keras(keras):
    """Every name metrics.get takes that Keras 3's get takes too gives a metric of the same default name (Keras
    numbers a second AUC, Precision, ... of a process "auc_1": that suffix is left out)."""
    import re
    compared = 0
    for name in sorted(metrics.NAMES):
        try:
            theirs = keras.metrics.get(name)
        except (TypeError, ValueError):
            continue
        if not hasattr(theirs, "name"):
            continue
        assert metrics.get(name).name == re.sub(r"_\d+$", "", theirs.name), name
        compared += 1
    assert compared > 60


@pytest.mark.parametrize("compile_args", [c[0] for c in KERAS_CASES])
def test_regression_logs_as_keras(compile_args, data, keras):
    x, y, _, w = data
    ours = regression_model(**compile_args)
    theirs = keras_twin(keras, ours, lambda: keras_sequential(keras, 1))
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse", **compile_args)
    for sample_weight in (w, None):
        expected = theirs.evaluate(x, y, sample_weight=sample_weight, batch_size=8, verbose=0, return_dict=True)
        got = ours.evaluate(x, y, sample_weight=sample_weight, batch_size=8, verbose=0, return_dict=True)
        assert set(got) == set(expected)
        for name in expected:
            assert got[name] == pytest.approx(expected[name], rel=2e-5), name
    expected = theirs.fit(x, y, sample_weight=w, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    got = ours.fit(x, y, sample_weight=w, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    assert set(got) == set(expected)
    for name in expected:
        assert got[name][0] == pytest.approx(expected[name][0], rel=2e-5), name


def test_sparse_accuracy_with_class_weight_as_keras(data, keras):
    x, _, labels, _ = data
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    ours = classifier(metrics=["accuracy"], weighted_metrics=["accuracy"])
    theirs = keras_twin(keras, ours, lambda: keras_sequential(keras, 3, "softmax"))
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"], weighted_metrics=["accuracy"])
    expected = theirs.fit(x, labels, class_weight=class_weight, batch_size=8, epochs=1, verbose=0,
                          shuffle=False).history
    got = ours.fit(x, labels, class_weight=class_weight, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    assert set(got) == set(expected) == {"loss", "accuracy", "weighted_accuracy"}
    for name in expected:
        assert got[name][0] == pytest.approx(expected[name][0], rel=2e-5), name


@pytest.mark.parametrize("compile_args", [
    dict(metrics=[["mse"], ["accuracy"]]),
    dict(metrics=[["mse"], ["accuracy"]], weighted_metrics=[["mse"], ["accuracy"]]),
    dict(metrics={"cls": "accuracy"}, weighted_metrics={"reg": ["mae", "mse"]}),
])
def test_two_outputs_log_as_keras(compile_args, data, keras):
    x, y, labels, w = data
    ours = two_outputs(**compile_args)

    def build():
        inputs = keras.Input((4,))
        reg = keras.layers.Dense(1, name="reg")(inputs)
        cls = keras.layers.Dense(3, activation="softmax", name="cls")(inputs)
        return keras.Model(inputs, [reg, cls])

    theirs = keras_twin(keras, ours, build)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                   loss=["mse", "sparse_categorical_crossentropy"], **compile_args)
    for sample_weight in (w, [w, np.ones_like(w)]):
        expected = theirs.evaluate(x, [y, labels], sample_weight=sample_weight, batch_size=8, verbose=0,
                                   return_dict=True)
        got = ours.evaluate(x, [y, labels], sample_weight=sample_weight, batch_size=8, verbose=0,
                            return_dict=True)
        assert set(got) == set(expected)
        for name in expected:
            assert got[name] == pytest.approx(expected[name], rel=2e-5), name
