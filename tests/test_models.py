"""Sequential models end to end: the Keras training API, errors, determinism, real MNIST."""

import numpy as np
import pytest

import pynn
from pynn import layers
from pynn.models import Sequential



def mlp(dropout=0.2, dtype=None):
    return Sequential([
        layers.Input(shape=(784,), dtype=dtype),
        layers.Dense(128, activation="relu", dtype=dtype),
        layers.Dropout(dropout, dtype=dtype),
        layers.Dense(64, activation="relu", dtype=dtype),
        layers.Dropout(dropout, dtype=dtype),
        layers.Dense(10, activation="softmax", dtype=dtype),
    ])


@pytest.fixture(scope="module")
def mnist(real_mnist):
    x_train, y_train, x_test, y_test = real_mnist
    return (x_train.reshape(-1, 784).astype(np.float32) / 255, y_train,
            x_test.reshape(-1, 784).astype(np.float32) / 255, y_test)


def small_data(rng, n=256, features=20, classes=3):
    x = rng.standard_normal((n, features)).astype(np.float32)
    w = rng.standard_normal((features, classes))
    return x, (x @ w).argmax(axis=1)


def test_two_epochs_on_real_mnist_reach_96_percent(mnist):
    x_train, y_train, x_test, y_test = mnist
    pynn.utils.set_random_seed(1)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.96, f"test accuracy {accuracy:.4f} after two epochs"
    assert history.history["loss"][1] < history.history["loss"][0] < 0.4
    assert 0.85 < history.history["accuracy"][0] < history.history["accuracy"][1] <= 1.0


def test_same_seed_same_weights_with_one_and_two_threads(threads, rng):
    x, y = small_data(rng, n=500, features=784, classes=10)
    results = []
    for t in (1, 2):
        threads(t)
        pynn.utils.set_random_seed(42)
        model = mlp(dropout=0.3)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_fit_history_validation_split_and_evaluate(rng):
    x, y = small_data(rng)
    model = Sequential([layers.Dense(16, activation="relu", input_shape=(20,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert model.history is history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 3 and history.epoch == [0, 1, 2]
    # validation_split holds out the LAST quarter: evaluating on it reproduces val_loss
    val = model.evaluate(x[192:], y[192:], verbose=0)
    np.testing.assert_allclose(val, [history.history["val_loss"][-1], history.history["val_accuracy"][-1]],
                               rtol=1e-5)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x, verbose=0).shape == (256, 3)
    np.testing.assert_allclose(model.predict(x[:5]).sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(model(x[:5]), model.predict(x[:5]), rtol=1e-6)


def test_evaluate_returns_a_scalar_without_metrics(rng):
    x, y = small_data(rng)
    model = Sequential([layers.Dense(3, input_dim=20)])
    model.compile(optimizer="sgd", loss="mse")
    onehot = pynn.utils.to_categorical(y, 3)
    assert isinstance(model.evaluate(x, onehot, verbose=0), float)
    loss = model.train_on_batch(x[:8], onehot[:8])
    assert isinstance(loss, float)


def test_logged_loss_is_the_running_mean_before_each_update(rng):
    """With lr = 0 nothing moves, so the epoch loss equals the evaluated loss (weighted by batch size)."""
    x, y = small_data(rng, n=100)
    model = Sequential([layers.Dense(3, activation="softmax", input_dim=20)])
    model.compile(optimizer=pynn.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], model.evaluate(x, y, verbose=0), rtol=1e-5)


def test_progress_bar_in_a_log_file(rng, capsys):
    x, y = small_data(rng, n=64)
    model = Sequential([layers.Dense(3, activation="softmax", input_dim=20)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=16, epochs=2, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2"
    assert out[1].startswith("4/4 [==============================] ")
    assert "/step - loss: " in out[1] and " - accuracy: " in out[1]
    assert out[2] == "Epoch 2/2" and len(out) == 4  # not a tty: one finished line per epoch


def test_errors_leave_the_model_unchanged(rng):
    x, y = small_data(rng)
    model = Sequential([layers.Dense(4, input_dim=20, name="first"), layers.Dense(3, activation="softmax")])
    with pytest.raises(RuntimeError, match="must be compiled first"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="adamx"):
        model.compile(optimizer="adamx", loss="mse")
    with pytest.raises(ValueError, match="not_a_loss"):
        model.compile(optimizer="adam", loss="not_a_loss")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    bad_cases = [
        ((x[:, :19], y), r"expected shape \(None, 20\), got \(256, 19\)"),
        ((x, y[:-1]), "same number of samples"),
        ((np.where(x > 2, np.nan, x), y), "NaN"),
        ((x, np.where(y == 0, 7, y)), "7"),
    ]
    for (bx, by), match in bad_cases:
        with pytest.raises(ValueError, match=match):
            model.fit(bx, by, verbose=0)
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inputs_are_checked_for_nan_and_infinity_exactly(dtype, rng):
    # the check sums the inputs in double first: values whose sum overflows are still finite
    x, y = small_data(rng, n=32)
    model = Sequential([layers.Input(shape=(20,), dtype=dtype), layers.Dense(3, activation="softmax", dtype=dtype)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    huge = np.full((32, 20), np.finfo(dtype).max / 2, dtype)
    huge[::2] *= -1
    huge[1::4] = np.finfo(dtype).max
    model.evaluate(huge, y, verbose=0)  # no error
    for bad in (np.inf, -np.inf, np.nan):
        for base in (x.astype(dtype), huge):
            xb = base.copy()
            xb[5, 7] = bad
            with pytest.raises(ValueError, match="x contains NaN or infinite values"):
                model.evaluate(xb, y, verbose=0)
    with pytest.raises(ValueError, match="y contains NaN or infinite values"):
        model.evaluate(x.astype(dtype), np.where(y == 0, np.inf, y).astype(dtype), verbose=0)


def test_summary_lists_layers_and_parameter_counts(capsys):
    mlp().summary()
    text = capsys.readouterr().out
    assert "dense" in text and "(None, 128)" in text and "Total params: 109,386" in text


def test_trainable_false_takes_effect_at_compile(rng):
    x, y = small_data(rng, n=64)
    model = Sequential([layers.Dense(3, activation="softmax", input_dim=20)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = model.get_weights()
    model.trainable = False
    model.train_on_batch(x, y)  # still compiled with trainable weights: they move
    moved = model.get_weights()
    assert not np.array_equal(moved[0], before[0])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), moved):
        np.testing.assert_array_equal(a, b)
