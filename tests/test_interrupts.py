"""A training step is atomic with respect to Ctrl-C: wherever SIGINT lands during fit or train_on_batch, the
model afterwards is exactly the model after some whole number of steps (weights, optimizer slots and
counter, BatchNormalization's moving statistics, Dropout's random stream)."""
import os
import signal
import sys

import numpy as np
import pytest

import pynn
from pynn import layers

N, BATCH = 48, 8          # six steps per epoch


def make_model(kind):
    pynn.utils.set_random_seed(7)
    stack = [layers.Input((6,)), layers.Dense(8, activation="relu")]
    if kind == "batchnorm":          # trains layer by layer
        stack += [layers.BatchNormalization()]
    stack += [layers.Dropout(0.3), layers.Dense(3, activation="softmax")]   # without BN: the one-call chain
    model = pynn.Sequential(stack)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, 6)).astype(np.float32), rng.integers(0, 3, N)


def state(model):
    """Everything a step changes."""
    dropout = next(layer for layer in model.layers if isinstance(layer, layers.Dropout))
    slots = [np.array(v, copy=True) for v in model.optimizer.variables]
    return model.optimizer.iterations, model.get_weights(), slots, dropout.get_rng_state()


def assert_same_state(a, b):
    assert a[0] == b[0]
    for u, v in zip(a[1] + a[2], b[1] + b[2]):
        np.testing.assert_array_equal(u, v)
    assert a[1:] and len(a[1]) == len(b[1]) and len(a[2]) == len(b[2])
    assert a[3] == b[3]


def interrupted(run, at):
    """run() with SIGINT sent to this process at the `at`-th profiler event (calls and returns, Python and C);
    returns whether a KeyboardInterrupt came out."""
    count = [0]

    def profile(frame, event, arg):
        count[0] += 1
        if count[0] == at:
            os.kill(os.getpid(), signal.SIGINT)

    sys.setprofile(profile)
    try:
        run()
    except KeyboardInterrupt:
        return True
    finally:
        sys.setprofile(None)
    return False


def count_events(run):
    count = [0]

    def profile(frame, event, arg):
        count[0] += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return count[0]


def reference_state(kind, steps):
    """The model after exactly `steps` uninterrupted steps of the same fit."""
    model = make_model(kind)
    x, y = data()
    if steps:
        model.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=steps, verbose=0)
    else:
        model.build((None, 6))
    return state(model)


@pytest.mark.parametrize("kind", ["batchnorm", "chain"])
def test_sigint_anywhere_in_fit_leaves_whole_steps(kind):
    x, y = data()
    model = make_model(kind)
    total = count_events(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0))
    hits = 0
    for at in np.linspace(1, total - 1, 60).astype(int):
        model = make_model(kind)
        if not interrupted(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0), at):
            continue
        hits += 1
        got = state(model)
        assert 0 <= got[0] <= N // BATCH
        assert_same_state(got, reference_state(kind, got[0]))
    assert hits >= 40                      # the interrupts did land during the fit
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # fit put the handler back


def test_sigint_during_train_on_batch_is_raised_after_the_step():
    x, y = data()
    model = make_model("batchnorm")
    model.build((None, 6))
    total = count_events(lambda: model.train_on_batch(x[:BATCH], y[:BATCH]))
    reference = make_model("batchnorm")
    reference.train_on_batch(x[:BATCH], y[:BATCH])
    outcomes = set()
    for at in np.linspace(1, total - 1, 25).astype(int):
        model = make_model("batchnorm")
        model.build((None, 6))
        before = state(model)
        if not interrupted(lambda: model.train_on_batch(x[:BATCH], y[:BATCH]), at):
            continue
        got = state(model)
        outcomes.add(got[0])
        if got[0] == 0:              # interrupted before the step began (validation): nothing changed
            assert_same_state(got, before)
        else:
            assert_same_state(got, state(reference))
    assert 1 in outcomes             # some interrupts landed inside the step, which then completed


def test_sigint_between_steps_acts_at_once():
    """Outside a step (here in a callback) Ctrl-C is not held back: fit stops right there."""
    x, y = data()
    model = make_model("chain")

    class Interrupt(pynn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                os.kill(os.getpid(), signal.SIGINT)
                self.after = True     # not reached: the handler raises before this line

    callback = Interrupt()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[callback])
    assert not hasattr(callback, "after")
    assert model.optimizer.iterations == 3
