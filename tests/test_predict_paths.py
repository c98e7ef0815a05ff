"""predict's two loops give the same outputs: the quiet one (verbose 0 or 2, no callbacks: the batches alone)
and EpochLoop.predict (callbacks, progress bar), which calls per-batch hooks only when a callback has them."""
import numpy as np
import pytest

import pynn
from pynn import callbacks, layers


def two_output_model():
    inp = pynn.Input((6,))
    h = layers.Dense(5, activation="relu")(inp)
    return pynn.Model(inp, [layers.Dense(3, activation="softmax")(h), layers.Dense(1)(h)])


def mlp():
    return pynn.Sequential([layers.Input((6,)), layers.Dense(5, activation="relu"),
                            layers.Dense(3, activation="softmax")])


class BeginEnd(callbacks.Callback):
    """Has predict's begin and end hooks only (no per-batch hook)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_predict_begin(self, logs=None):
        self.calls.append("begin")

    def on_predict_end(self, logs=None):
        self.calls.append("end")


@pytest.mark.parametrize("make", [mlp, two_output_model])
@pytest.mark.parametrize("batch_size, steps", [(4, None), (32, None), (3, 2), (1, None)])
def test_quiet_predict_matches_the_loop_with_callbacks(make, batch_size, steps):
    pynn.utils.set_random_seed(0)
    model = make()
    x = np.random.default_rng(0).standard_normal((10, 6)).astype(np.float32)
    seen = []
    hook = callbacks.LambdaCallback(on_predict_batch_end=lambda batch, logs: seen.append(logs["outputs"]))
    quiet = model.predict(x, batch_size=batch_size, steps=steps, verbose=0)
    silent2 = model.predict(x, batch_size=batch_size, steps=steps, verbose=2, callbacks=[])
    hooked = model.predict(x, batch_size=batch_size, steps=steps, verbose=0, callbacks=[hook])
    rows = min(10, batch_size * steps) if steps else 10
    want = -(-rows // batch_size)
    assert len(seen) == want
    if isinstance(quiet, list):
        for q, s, h, parts in zip(quiet, silent2, hooked, zip(*seen)):
            assert q.shape[0] == rows
            np.testing.assert_array_equal(q, h)
            np.testing.assert_array_equal(q, s)
            np.testing.assert_array_equal(q, np.concatenate(parts))
    else:
        assert quiet.shape == (rows, 3)
        np.testing.assert_array_equal(quiet, hooked)
        np.testing.assert_array_equal(quiet, silent2)
        np.testing.assert_array_equal(quiet, np.concatenate(seen))
        np.testing.assert_array_equal(quiet, model(x[:rows]))


def test_a_callback_without_batch_hooks_still_gets_begin_and_end():
    model = mlp()
    x = np.ones((7, 6), np.float32)
    cb = BeginEnd()
    out = model.predict(x, batch_size=2, verbose=0, callbacks=[cb])
    assert cb.calls == ["begin", "end"]
    np.testing.assert_array_equal(out, model.predict(x, batch_size=2, verbose=0))


def test_quiet_predict_returns_a_new_array():
    model = pynn.Sequential([layers.Input((4,)), layers.Dropout(0.5)])    # the identity at inference
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    out = model.predict(x, verbose=0)
    np.testing.assert_array_equal(out, x)
    assert not np.shares_memory(out, x)


def test_quiet_predict_of_an_exhausted_generator_raises():
    model = mlp()
    model.predict(np.ones((2, 6), np.float32), verbose=0)
    empty = (b for b in [])
    with pytest.raises(ValueError, match="predict: the data gave no batch"):
        model.predict(empty, verbose=0)
