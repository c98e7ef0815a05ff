"""Property-based checks of the public training API (hypothesis): for any arguments and data shapes, fit /
evaluate / predict either do what they document or raise ValueError before anything changes.

The number of examples is small by default (CI); PYNN_FUZZ_LONG=1 runs ten times as many."""
import math
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import pynn  # noqa: E402
from pynn import layers  # noqa: E402

EXAMPLES = 400 if os.environ.get("PYNN_FUZZ_LONG") else 40
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

FEATURES, CLASSES = 4, 3


def classifier():
    pynn.utils.set_random_seed(0)
    model = pynn.Sequential([layers.Input((FEATURES,)), layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build((None, FEATURES))
    return model


def snapshot(model):
    return model.optimizer.iterations, [w.copy() for w in model.get_weights()]


def assert_unchanged(model, before):
    iterations, weights = before
    assert model.optimizer.iterations == iterations
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


any_value = st.one_of(st.none(), st.booleans(), st.integers(-3, 70), st.floats(allow_nan=True), st.text(max_size=3))


def is_positive_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


@SETTINGS
@given(batch_size=any_value, steps_per_epoch=any_value, validation_freq=any_value, epochs=any_value)
def test_fit_scalar_arguments(batch_size, steps_per_epoch, validation_freq, epochs):
    x = np.linspace(-1, 1, 20 * FEATURES, dtype=np.float32).reshape(20, FEATURES)
    y = np.arange(20) % CLASSES
    model = classifier()
    before = snapshot(model)
    valid = ((batch_size is None or is_positive_int(batch_size))
             and (steps_per_epoch is None or is_positive_int(steps_per_epoch))
             and is_positive_int(validation_freq)
             and isinstance(epochs, int) and not isinstance(epochs, bool) and epochs >= 0)
    try:
        history = model.fit(x, y, batch_size=batch_size, steps_per_epoch=steps_per_epoch, epochs=epochs,
                            validation_freq=validation_freq, verbose=0)
    except ValueError as e:
        assert not valid, f"a valid call raised: {e}"
        assert_unchanged(model, before)
        return
    assert valid, "an invalid argument was accepted"
    steps = math.ceil(20 / (batch_size or 32))
    if steps_per_epoch:
        steps = min(steps, steps_per_epoch)
    assert model.optimizer.iterations == steps * epochs
    assert len(history.history.get("loss", [])) == epochs
    assert all(np.isfinite(v) for v in history.history.get("loss", []))


@SETTINGS
@given(n=st.integers(0, 12), features=st.integers(1, 6), y_rows=st.integers(0, 12),
       labels=st.lists(st.integers(-2, CLASSES + 1), min_size=12, max_size=12),
       bad_x=st.sampled_from([None, np.nan, np.inf, -np.inf]), bad_at=st.integers(0, 11))
def test_fit_data(n, features, y_rows, labels, bad_x, bad_at):
    rng = np.random.default_rng(n * 31 + features)
    x = rng.standard_normal((n, features)).astype(np.float32)
    if bad_x is not None and bad_at < n:
        x[bad_at, 0] = bad_x
    y = np.array(labels[:y_rows])
    model = classifier()
    before = snapshot(model)
    valid = (n > 0 and features == FEATURES and y_rows == n and np.isfinite(x).all()
             and ((y >= 0) & (y < CLASSES)).all())
    try:
        model.fit(x, y, batch_size=4, verbose=0)
    except ValueError as e:
        assert not valid, f"valid data raised: {e}"
        assert str(e).startswith("fit:"), f"the error does not name the call: {e}"
        assert_unchanged(model, before)
        return
    assert valid, "invalid data was accepted"
    assert model.optimizer.iterations == math.ceil(n / 4)


@SETTINGS
@given(n=st.integers(0, 40), batch_size=st.one_of(st.none(), st.integers(-2, 50)),
       dtype=st.sampled_from(["float32", "float64", "int64", "uint8", "bool"]))
def test_predict_matches_one_batch(n, batch_size, dtype):
    """predict in batches gives the rows of one forward pass over everything, for any batch size."""
    model = classifier()
    x = (np.arange(n * FEATURES).reshape(n, FEATURES) % 5).astype(dtype)
    if batch_size is not None and batch_size < 1:
        with pytest.raises(ValueError, match="predict: batch_size must be a positive integer"):
            model.predict(x, batch_size=batch_size, verbose=0)
        return
    out = model.predict(x, batch_size=batch_size, verbose=0)
    assert out.shape == (n, CLASSES) and out.dtype == np.float32
    if n:
        np.testing.assert_allclose(out, model(x.astype(np.float32)), rtol=1e-6, atol=1e-7)
