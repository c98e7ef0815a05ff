"""fit / evaluate / predict on generators and PyDataset: the same weights, bit for bit, as the same batches from
arrays; batches checked one by one; arguments that would be ignored refused."""
import math
import warnings

import numpy as np
import pytest

import pynn
from pynn import layers

N, BATCH = 40, 8


def model_and_data(seed=0):
    pynn.utils.set_random_seed(seed)
    model = pynn.Sequential([layers.Input((5,)), layers.Dense(6, activation="relu"), layers.Dropout(0.2),
                             layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    return model, rng.standard_normal((N, 5)).astype(np.float32), rng.integers(0, 3, N)


class Batches(pynn.utils.PyDataset):
    """The rows of (x, y) in batches, in order; counts its epochs."""

    def __init__(self, x, y, batch_size=BATCH, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.epochs_ended += 1


def batches_forever(x, y, batch_size=BATCH):
    while True:
        for start in range(0, len(x), batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]


def trained_on_arrays(epochs=3):
    model, x, y = model_and_data()
    history = model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)
    return model, history


def assert_same_model(a, b):
    assert a.optimizer.iterations == b.optimizer.iterations
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("source", ["generator", "dataset", "dataset_threads", "dataset_processes"])
def test_streams_train_like_the_same_batches_from_arrays(source):
    expected, expected_history = trained_on_arrays()
    model, x, y = model_and_data()
    if source == "generator":
        data, kwargs = batches_forever(x, y), {"steps_per_epoch": N // BATCH}
    else:
        workers = {"dataset": 1, "dataset_threads": 3, "dataset_processes": 2}[source]
        data = Batches(x, y, workers=workers, use_multiprocessing=source == "dataset_processes")
        kwargs = {"shuffle": False}
    history = model.fit(data, epochs=3, verbose=0, **kwargs)
    assert_same_model(model, expected)
    assert history.history == expected_history.history
    if source.startswith("dataset") and source != "dataset_processes":
        assert data.epochs_ended == 3


def test_dataset_shuffles_its_batches_with_the_seed():
    model, x, y = model_and_data()
    seen = []

    class Recording(Batches):
        def __getitem__(self, index):
            seen.append(index)
            return super().__getitem__(index)

    model.fit(Recording(x, y), epochs=2, verbose=0)
    first = list(seen)
    assert sorted(first[:5]) == list(range(5)) and sorted(first[5:]) == list(range(5))
    assert first[:5] != list(range(5)) or first[5:] != list(range(5))
    seen.clear()
    again, _, _ = model_and_data()
    again.fit(Recording(x, y), epochs=2, verbose=0)
    assert seen == first
    assert_same_model(again, model)


def test_a_finite_generator_ends_training_with_a_warning():
    model, x, y = model_and_data()
    one_pass = ((x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, N, BATCH))
    with pytest.warns(UserWarning, match="the training data ran out at epoch 2"):
        history = model.fit(one_pass, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1
    assert model.optimizer.iterations == N // BATCH


def test_each_generated_batch_is_checked_before_its_step():
    model, x, y = model_and_data()
    y_bad = y.copy()
    y_bad[3 * BATCH + 2] = 7
    with pytest.raises(ValueError, match=r"fit \(batch 3\): y does not fit the loss .*label 7 \(sample 2\)"):
        model.fit(batches_forever(x, y_bad), steps_per_epoch=5, verbose=0)
    assert model.optimizer.iterations == 3
    with pytest.raises(ValueError, match=r"fit \(batch 0\): .*expected shape \(None, 5\), got \(8, 4\)"):
        model.fit(batches_forever(x[:, :4], y), steps_per_epoch=5, verbose=0)
    with pytest.raises(ValueError, match=r"fit: batch 0 has no targets"):
        model.fit(iter([x]), verbose=0)
    with pytest.raises(ValueError, match=r"batch 0 is a tuple of 4 items"):
        model.fit(iter([(x, y, None, None)]), verbose=0)


def test_an_error_in_the_generator_reaches_the_caller():
    model, x, y = model_and_data()

    def failing():
        yield x[:BATCH], y[:BATCH]
        raise RuntimeError("disk unplugged")

    with pytest.raises(RuntimeError, match="disk unplugged"):
        model.fit(failing(), epochs=1, verbose=0)
    assert model.optimizer.iterations == 1


@pytest.mark.parametrize("kwargs, name", [
    ({"y": np.zeros(N)}, "y"), ({"batch_size": 8}, "batch_size"), ({"sample_weight": np.ones(N)}, "sample_weight"),
    ({"validation_split": 0.2}, "validation_split")])
def test_arguments_a_stream_would_ignore_are_refused(kwargs, name):
    model, x, y = model_and_data()
    with pytest.raises(ValueError, match=f"fit: {name} is not taken with a generator or PyDataset"):
        model.fit(Batches(x, y), verbose=0, **kwargs)
    assert model.optimizer.iterations == 0


def test_evaluate_predict_and_validation_on_streams():
    model, x, y = model_and_data()
    model.fit(x, y, epochs=1, verbose=0)
    expected = model.evaluate(x, y, batch_size=BATCH, verbose=0)
    assert model.evaluate(Batches(x, y), verbose=0) == expected
    assert model.evaluate(batches_forever(x, y), steps=N // BATCH, verbose=0) == expected
    np.testing.assert_array_equal(model.predict(Batches(x, y), verbose=0), model.predict(x, verbose=0))
    only_x = (x[i:i + BATCH] for i in range(0, N, BATCH))
    np.testing.assert_array_equal(model.predict(only_x, verbose=0), model.predict(x, verbose=0))
    history = model.fit(x, y, epochs=2, verbose=0, validation_data=batches_forever(x, y),
                        validation_steps=N // BATCH)
    assert len(history.history["val_loss"]) == 2
    model_b, _, _ = model_and_data()
    model_b.set_weights(model.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"fit \(validation_data\): the data gave no batch"):
            model_b.fit(x, y, epochs=2, verbose=0, validation_data=iter([(x, y)]))


def test_class_weight_applies_to_generated_batches():
    expected, x, y = model_and_data()
    weights = {0: 1.0, 1: 2.0, 2: 0.5}
    expected.fit(x, y, batch_size=BATCH, shuffle=False, class_weight=weights, verbose=0)
    model, _, _ = model_and_data()
    model.fit(Batches(x, y), shuffle=False, class_weight=weights, verbose=0)
    assert_same_model(model, expected)
