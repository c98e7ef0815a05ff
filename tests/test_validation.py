"""fit / evaluate / predict / train_on_batch check every argument and all of the data before anything
changes, with errors that name the argument, the sample and what was expected."""
import numpy as np
import pytest

import pynn
from pynn import callbacks, layers


def classifier(seed=0):
    pynn.utils.set_random_seed(seed)
    model = pynn.Sequential([layers.Input((4,)), layers.Dense(5, activation="relu"),
                             layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture
def xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 3, 40)


def unchanged(model, before):
    assert model.optimizer.iterations == 0
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_size": 0}, "fit: batch_size must be a positive integer, got 0"),
    ({"batch_size": -3}, "batch_size must be a positive integer, got -3"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
    ({"batch_size": True}, "batch_size must be a positive integer, got True"),
    ({"validation_batch_size": -1, "validation_split": 0.25}, "validation_batch_size must be a positive integer"),
    ({"steps_per_epoch": -1}, "steps_per_epoch must be a positive integer, got -1"),
    ({"steps_per_epoch": 0}, "steps_per_epoch must be a positive integer, got 0"),
    ({"validation_freq": 0, "validation_split": 0.25}, "validation_freq must be a positive integer, got 0"),
    ({"epochs": -1}, "epochs must be an integer >= 0, got -1"),
    ({"initial_epoch": -2}, "initial_epoch must be an integer >= 0"),
    ({"validation_split": 1.0}, r"validation_split must be a number in \[0, 1\), got 1.0"),
    ({"validation_split": 1e-17}, "validation_split=1e-17 of 40 samples leaves 40 for training and 0"),
    ({"verbose": 3}, "fit: verbose must be 'auto', 0, 1 or 2, got 3"),
    ({"shuffle": "yes"}, "shuffle must be True or False"),
    ({"class_weight": {0: float("nan")}}, r"class_weight\[0\] must be a finite number"),
    ({"class_weight": [1, 2]}, "class_weight must be a dict"),
    ({"validation_data": (np.zeros((5, 3)), np.zeros(5))}, r"fit \(validation_data\): .*expected shape \(None, 4\)"),
    ({"validation_data": (np.zeros((5, 4)), np.array([0, 1, 2, 3, 0]))},
     r"fit \(validation_data\): y .*label 3 \(sample 3\) is out of range"),
    ({"validation_data": (np.zeros((5, 4)),)}, r"validation_data must be \(x, y\) or \(x, y, sample_weight\)"),
])
def test_bad_fit_arguments_raise_before_any_step(xy, kwargs, message):
    x, y = xy
    model = classifier()
    model.build((None, 4))
    before = model.get_weights()
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, **{"verbose": 0, **kwargs})
    unchanged(model, before)


def test_bad_data_is_found_before_the_first_step(xy):
    x, y = xy
    model = classifier()
    model.build((None, 4))
    before = model.get_weights()
    y_bad = y.copy()
    y_bad[37] = 3                                  # in the last batch: found before the first one runs
    with pytest.raises(ValueError, match=r"fit: y does not fit the loss .*label 3 \(sample 37\) is out of range"):
        model.fit(x, y_bad, batch_size=8, shuffle=False, verbose=0)
    y_bad[37] = -1
    with pytest.raises(ValueError, match=r"label -1 \(sample 37\)"):
        model.fit(x, y_bad, verbose=0)
    with pytest.raises(ValueError, match="integer class labels"):
        model.fit(x, y + 0.5, verbose=0)
    with pytest.raises(ValueError, match=r"x and y must have the same number of samples, got 40 and 39"):
        model.fit(x, y[:-1], verbose=0)
    sample_weight = np.ones(40)
    sample_weight[11] = np.nan
    with pytest.raises(ValueError, match="sample_weight must be finite; sample 11 has weight nan"):
        model.fit(x, y, sample_weight=sample_weight, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(40,\)"):
        model.fit(x, y, sample_weight=np.ones(39), verbose=0)
    x_bad = x.copy()
    x_bad[21, 2] = np.inf
    with pytest.raises(ValueError, match=r"x contains NaN or infinite values \(first at index \(21, 2\)"):
        model.fit(x_bad, y, verbose=0)
    with pytest.raises(ValueError, match="x must be numeric"):
        model.fit(x.astype(object), y, verbose=0)
    unchanged(model, before)


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_empty_data_is_refused(xy, call):
    x, y = xy
    model = classifier()
    model.build((None, 4))
    before = model.get_weights()
    kwargs = {"verbose": 0} if call in ("fit", "evaluate") else {}
    with pytest.raises(ValueError, match=f"{call}: x is empty \\(0 samples\\)"):
        getattr(model, call)(x[:0], y[:0], **kwargs)
    unchanged(model, before)


@pytest.mark.parametrize("batch_size", [0, -3, 1.5])
def test_predict_and_evaluate_batch_size(xy, batch_size):
    x, y = xy
    model = classifier()
    with pytest.raises(ValueError, match=f"predict: batch_size must be a positive integer, got {batch_size}"):
        model.predict(x, batch_size=batch_size, verbose=0)
    with pytest.raises(ValueError, match=f"evaluate: batch_size must be a positive integer, got {batch_size}"):
        model.evaluate(x, y, batch_size=batch_size, verbose=0)


def test_predict_on_empty_input_gives_empty_output(xy):
    x, _ = xy
    assert classifier().predict(x[:0], verbose=0).shape == (0, 3)


def test_a_step_with_a_non_finite_loss_is_not_applied():
    """A finite but huge input overflows the forward pass: the step raises instead of writing NaN weights."""
    pynn.utils.set_random_seed(0)
    model = pynn.Sequential([layers.Input((2,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 2), np.float32)
    y = np.zeros(8, np.float32)
    model.fit(x, y, batch_size=4, verbose=0)
    before, iterations = model.get_weights(), model.optimizer.iterations
    x[5, 0] = 3e38
    with pytest.raises(FloatingPointError, match=r"fit: epoch 1, batch 1: the training loss is inf"):
        model.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    assert model.optimizer.iterations == iterations + 1          # batch 0 was applied, batch 1 was not
    assert all(np.isfinite(w).all() for w in model.get_weights())
    with pytest.raises(FloatingPointError, match="the training loss is inf"):
        model.train_on_batch(x[4:], y[4:])
    assert model.optimizer.iterations == iterations + 1
    assert not np.array_equal(model.get_weights()[0], before[0])


def test_merge_layers_refuse_different_batch_sizes():
    a, b = pynn.Input((2,)), pynn.Input((2,))
    model = pynn.Model([a, b], layers.Add(name="sum")([a, b]))
    one, four = np.ones((1, 2), np.float32), np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match="predict: every input must have the same number of samples, got 1 and 4"):
        model.predict([one, four], verbose=0)
    with pytest.raises(ValueError, match=r"Add 'sum': inputs have different batch sizes \[1, 4\]"):
        model([one, four])
    with pytest.raises(ValueError, match=r"inputs have different batch sizes"):
        layers.Multiply()([one, four])


def test_a_single_input_layer_refuses_a_list():
    with pytest.raises(ValueError, match=r"Layer 'd' \(Dense\) takes one input array, got a list of 2"):
        layers.Dense(4, name="d")([np.ones((2, 3)), np.ones((2, 3))])
    model = classifier()
    with pytest.raises(ValueError, match="takes one input array, got a list of 2"):
        model([np.ones((2, 4)), np.ones((2, 4))])


def embedding_model(input_dtype=None):
    rows = 2 ** 24 + 8
    if input_dtype is None:
        model = pynn.Sequential([layers.Embedding(rows, 1)])
        model.build((None, 1))
    else:
        inputs = pynn.Input((1,), dtype=input_dtype)
        model = pynn.Model(inputs, layers.Embedding(rows, 1)(inputs))
    table = (np.arange(rows) % 7).astype(np.float32)[:, None]    # row r holds r mod 7
    model.set_weights([table])
    return model


@pytest.mark.parametrize("input_dtype", [None, "int32", "int64"])
def test_integer_inputs_reach_embedding_exactly(input_dtype):
    model = embedding_model(input_dtype)
    index = np.array([[2 ** 24 + 1], [2 ** 24 + 3]])          # float32 would round both to 2**24 (2 mod 7)
    expected = (index % 7).astype(np.float32)[..., None]
    np.testing.assert_array_equal(model.predict(index, verbose=0), expected)
    np.testing.assert_array_equal(model(index), expected)
    np.testing.assert_array_equal(model.predict_on_batch(index), expected)
    model.compile(optimizer="sgd", loss="mse")
    assert model.evaluate(index, expected, verbose=0) == 0.0


def test_input_dtype_is_checked():
    with pytest.raises(ValueError, match="Input 'bad': dtype must be float32, float64 or an integer type"):
        pynn.Input((3,), dtype="complex64", name="bad")


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_test") or name.startswith("on_predict"):
            return lambda *args: self.calls.append(name)
        return super().__getattribute__(name)


def test_evaluate_predict_and_validation_call_their_hooks(xy):
    x, y = xy
    model = classifier()
    rec = Recorder()
    model.evaluate(x, y, batch_size=16, verbose=0, callbacks=[rec])
    assert rec.calls == ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 3 + ["on_test_end"]
    rec.calls.clear()
    model.predict(x, batch_size=32, verbose=0, callbacks=[rec])
    assert rec.calls == ["on_predict_begin"] + ["on_predict_batch_begin", "on_predict_batch_end"] * 2 + \
        ["on_predict_end"]
    rec.calls.clear()
    model.fit(x, y, epochs=2, validation_split=0.5, validation_batch_size=20, verbose=0, callbacks=[rec])
    assert rec.calls == (["on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end"]) * 2


def test_evaluate_and_predict_show_progress(xy, capsys):
    x, y = xy
    model = classifier()
    model.evaluate(x, y, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "3/3 [" in out and "loss: " in out and "accuracy: " in out
    model.predict(x, batch_size=16, verbose=1)
    assert "3/3 [" in capsys.readouterr().out
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
