"""Callbacks driven by a scripted sequence of logs on a fake model, against Keras 3's behaviour."""
import csv
import math

import numpy as np
import pytest

import pynn
from pynn import callbacks, optimizers


class FakeModel:
    """What callbacks may use of a model: stop_training, optimizer, get/set_weights, save/save_weights."""

    def __init__(self, learning_rate=0.1):
        self.stop_training = False
        self.optimizer = optimizers.SGD(learning_rate)
        self.weights = [np.zeros(2)]
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path):
        self.saved.append(("model", path))

    def save_weights(self, path):
        self.saved.append(("weights", path))


def fit(callback_objects, epoch_logs, model=None, batches=0, batch_logs=None):
    """A fake fit(): epoch e sets the weights to [e, e]; stops when model.stop_training. Returns (model, list,
    epochs run)."""
    model = model or FakeModel()
    callback_list = callbacks.CallbackList(callback_objects, model=model, add_history=True,
                                           epochs=len(epoch_logs), steps=batches, verbose=0)
    callback_list.on_train_begin()
    epochs_run = 0
    for epoch, logs in enumerate(epoch_logs):
        callback_list.on_epoch_begin(epoch)
        for batch in range(batches):
            callback_list.on_train_batch_begin(batch)
            callback_list.on_train_batch_end(batch, dict(batch_logs[epoch][batch]) if batch_logs else {})
            if model.stop_training:
                break
        model.weights = [np.full(2, float(epoch))]
        callback_list.on_epoch_end(epoch, dict(logs))
        epochs_run += 1
        if model.stop_training:
            break
    callback_list.on_train_end()
    return model, callback_list, epochs_run


def losses(*values, key="val_loss"):
    return [{key: v} for v in values]


# ---------------------------------------------------------------- History / CallbackList
def test_history_and_callback_list():
    model, callback_list, _ = fit([], [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}])
    history = model.history
    assert isinstance(history, callbacks.History)
    assert history.history == {"loss": [1.0, 0.5], "val_loss": [2.0, 1.5]}
    assert history.epoch == [0, 1]
    assert history.params == {"epochs": 2, "steps": 0, "verbose": 0}
    assert len(callback_list) == 1


def test_callback_list_dispatches_every_hook_in_order():
    calls = []

    class Recorder(callbacks.Callback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def on_batch_end(self, batch, logs=None):  # the old alias is reached through on_train_batch_end
            calls.append((self.tag, "batch_end", batch))

        def on_epoch_end(self, epoch, logs=None):
            calls.append((self.tag, "epoch_end", epoch))

        def on_test_begin(self, logs=None):
            calls.append((self.tag, "test_begin"))

    model = FakeModel()
    first, second = Recorder("a"), Recorder("b")
    callback_list = callbacks.CallbackList([first, second], model=model, epochs=1)
    assert first.model is model and second.params == {"epochs": 1}
    callback_list.on_train_batch_end(0, {})
    callback_list.on_epoch_end(0, {})
    callback_list.on_test_begin()
    for hook in ("on_predict_begin", "on_predict_end", "on_test_end", "on_train_end"):
        getattr(callback_list, hook)()
    callback_list.on_predict_batch_begin(0)
    assert calls == [("a", "batch_end", 0), ("b", "batch_end", 0), ("a", "epoch_end", 0), ("b", "epoch_end", 0),
                     ("a", "test_begin"), ("b", "test_begin")]


def test_callback_list_reuses_a_given_history():
    history = callbacks.History()
    callback_list = callbacks.CallbackList([history], model=FakeModel(), add_history=True, add_progbar=True)
    assert callback_list.callbacks[0] is history and len(callback_list) == 2
    assert isinstance(callback_list.callbacks[1], callbacks.ProgbarLogger)


# ---------------------------------------------------------------- EarlyStopping
def test_early_stopping_patience():
    stopper = callbacks.EarlyStopping(patience=2)
    _, _, epochs = fit([stopper], losses(1.0, 0.9, 0.95, 0.91, 0.8, 0.7))
    assert epochs == 4 and stopper.stopped_epoch == 3 and stopper.best == 0.9 and stopper.best_epoch == 1


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    stopper = callbacks.EarlyStopping()
    _, _, epochs = fit([stopper], losses(1.0, 0.9, 0.9, 0.8))
    assert epochs == 3


def test_early_stopping_min_delta():
    stopper = callbacks.EarlyStopping(patience=1, min_delta=0.1)
    _, _, epochs = fit([stopper], losses(1.0, 0.95, 0.92, 0.5))  # 0.95 and 0.92 improve by less than 0.1
    assert epochs == 2
    assert stopper.min_delta == 0.1
    assert callbacks.EarlyStopping(min_delta=-0.1).min_delta == 0.1


def test_early_stopping_mode_max_and_auto_accuracy():
    for stopper in (callbacks.EarlyStopping(monitor="val_accuracy", patience=1),
                    callbacks.EarlyStopping(monitor="score", mode="max", patience=1)):
        logs = losses(0.5, 0.6, 0.55, 0.58, 0.9, key=stopper.monitor)
        _, _, epochs = fit([stopper], logs)
        assert epochs == 3 and stopper.best == 0.6


def test_early_stopping_auto_mode_unknown_metric_raises():
    with pytest.raises(ValueError, match="mode="):
        fit([callbacks.EarlyStopping(monitor="mystery")], losses(1.0, key="mystery"))


def test_early_stopping_baseline():
    stopper = callbacks.EarlyStopping(patience=2, baseline=0.5)
    logs = losses(1.0, 0.9, 0.95, 0.96, 0.4)  # 0.9 improves but does not beat the baseline: no reset
    _, _, epochs = fit([stopper], logs)
    assert epochs == 3 and stopper.stopped_epoch == 2
    _, _, epochs = fit([callbacks.EarlyStopping(patience=2)], logs)
    assert epochs == 4
    stopper = callbacks.EarlyStopping(patience=1, baseline=0.5)
    _, _, epochs = fit([stopper], losses(0.4, 0.3, 0.2))
    assert epochs == 3 and not stopper.stopped_epoch


def test_early_stopping_restore_best_weights():
    stopper = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    model, _, epochs = fit([stopper], losses(1.0, 0.5, 0.7, 0.8, 0.1))
    assert epochs == 4
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])  # the weights at the end of epoch 1
    model, _, _ = fit([callbacks.EarlyStopping(patience=5, restore_best_weights=True)], losses(1.0, 0.5, 0.7))
    np.testing.assert_array_equal(model.weights[0], [1.0, 1.0])  # restored even without an early stop
    model, _, _ = fit([callbacks.EarlyStopping(patience=1)], losses(1.0, 0.5, 0.7))
    np.testing.assert_array_equal(model.weights[0], [2.0, 2.0])


def test_early_stopping_start_from_epoch():
    stopper = callbacks.EarlyStopping(patience=1, start_from_epoch=3)
    _, _, epochs = fit([stopper], losses(0.1, 0.5, 0.9, 1.0, 1.1, 1.2, 1.3))
    assert epochs == 5 and stopper.best == 1.0


def test_early_stopping_missing_metric_warns():
    with pytest.warns(UserWarning, match="not available"):
        _, _, epochs = fit([callbacks.EarlyStopping()], losses(1.0, 2.0, key="loss"))
    assert epochs == 2


# ---------------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_on_plateau_factor_and_patience():
    reducer = callbacks.ReduceLROnPlateau(factor=0.5, patience=2)
    logs = losses(1.0, 1.0, 1.0, 1.0, 1.0)
    model, _, _ = fit([reducer], logs)
    assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.5 * 0.5)  # reduced at epochs 2 and 4
    # each epoch logs the rate it trained with, before any reduction
    assert model.history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05])


def test_reduce_lr_on_plateau_min_delta():
    model, _, _ = fit([callbacks.ReduceLROnPlateau(patience=1, min_delta=0.1)], losses(1.0, 0.95))
    assert model.optimizer.learning_rate == pytest.approx(0.01)
    model, _, _ = fit([callbacks.ReduceLROnPlateau(patience=1, min_delta=0.01)], losses(1.0, 0.95))
    assert model.optimizer.learning_rate == pytest.approx(0.1)


def test_reduce_lr_on_plateau_cooldown_and_min_lr():
    reducer = callbacks.ReduceLROnPlateau(factor=0.1, patience=1, cooldown=2, min_lr=0.0005)
    lrs = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: lrs.append(logs["learning_rate"]))
    model, _, _ = fit([reducer, record], losses(*[1.0] * 9))
    # reduce at 1; the cooldown ends at 3, which counts again -> reduce; 5 -> min_lr; 7: already at min_lr
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.0005, 0.0005, 0.0005])
    assert model.optimizer.learning_rate == pytest.approx(0.0005)
    with pytest.raises(ValueError):
        callbacks.ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_on_plateau_mode_max():
    model, _, _ = fit([callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=1)],
                      losses(0.5, 0.6, 0.7, key="val_accuracy"))
    assert model.optimizer.learning_rate == pytest.approx(0.1)
    model, _, _ = fit([callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=1)],
                      losses(0.5, 0.4, key="val_accuracy"))
    assert model.optimizer.learning_rate == pytest.approx(0.01)


# ---------------------------------------------------------------- ModelCheckpoint
def test_model_checkpoint_every_epoch_file_names(tmp_path):
    template = str(tmp_path / "ckpt" / "e{epoch:02d}-{val_loss:.2f}.weights")
    model, _, _ = fit([callbacks.ModelCheckpoint(template, save_weights_only=True)], losses(1.234, 0.5))
    assert model.saved == [("weights", str(tmp_path / "ckpt" / "e01-1.23.weights")),
                           ("weights", str(tmp_path / "ckpt" / "e02-0.50.weights"))]
    assert (tmp_path / "ckpt").is_dir()  # the folder is made


def test_model_checkpoint_save_best_only(tmp_path):
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "m{epoch}.pynn"), save_best_only=True)
    model, _, _ = fit([checkpoint], losses(1.0, 1.2, 0.8, 0.8, 0.3))
    assert model.saved == [("model", str(tmp_path / f"m{e}.pynn")) for e in (1, 3, 5)]
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "a{epoch}"), monitor="val_accuracy", save_best_only=True)
    model, _, _ = fit([checkpoint], losses(0.5, 0.4, 0.7, key="val_accuracy"))
    assert [path for _, path in model.saved] == [str(tmp_path / "a1"), str(tmp_path / "a3")]


def test_model_checkpoint_by_batch_and_errors(tmp_path):
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}b{batch}"), save_freq=3)
    model, _, _ = fit([checkpoint], losses(1.0, 1.0), batches=4)
    assert [path for _, path in model.saved] == [str(tmp_path / name) for name in ("e1b3", "e2b2")]
    with pytest.raises(ValueError):
        callbacks.ModelCheckpoint("x", save_freq="batch")
    with pytest.raises(KeyError, match="filepath"):
        fit([callbacks.ModelCheckpoint(str(tmp_path / "{val_acc}"))], losses(1.0))


# ---------------------------------------------------------------- LearningRateScheduler
def test_learning_rate_scheduler():
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return lr if epoch < 2 else lr * 0.5

    model, _, _ = fit([callbacks.LearningRateScheduler(schedule)], losses(1.0, 1.0, 1.0, 1.0))
    assert seen == pytest.approx([0.1, 0.1, 0.1, 0.05])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert model.history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    model, _, _ = fit([callbacks.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))], losses(1.0, 1.0))
    assert model.optimizer.learning_rate == pytest.approx(0.02)  # the old one-argument form
    with pytest.raises(ValueError, match="float"):
        fit([callbacks.LearningRateScheduler(lambda epoch, lr: "fast")], losses(1.0))


# ---------------------------------------------------------------- CSVLogger
def read_rows(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    fit([callbacks.CSVLogger(path)], [{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}])
    assert read_rows(path) == [["epoch", "loss", "val_loss"], ["0", "1.0", "2.0"], ["1", "0.5", "1.5"]]
    fit([callbacks.CSVLogger(path, append=True)], [{"loss": 0.25, "val_loss": 1.0}])
    assert read_rows(path)[-1] == ["0", "0.25", "1.0"] and len(read_rows(path)) == 4
    fit([callbacks.CSVLogger(path, separator=";")], [{"b": 1.0, "a": 2.0}, {"b": 3.0, "a": 4.0, "val_a": 5.0}])
    assert (tmp_path / "log.csv").read_text().splitlines() == [
        "epoch;a;b;val_a;val_b", "0;2.0;1.0;NA;NA", "1;4.0;3.0;5.0;NA"]


# ---------------------------------------------------------------- TerminateOnNaN / LambdaCallback
def test_terminate_on_nan():
    batch_logs = [[{"loss": 1.0}, {"loss": math.nan}, {"loss": 1.0}], [{"loss": 1.0}] * 3]
    model, _, epochs = fit([callbacks.TerminateOnNaN()], losses(1.0, 1.0), batches=3, batch_logs=batch_logs)
    assert model.stop_training and epochs == 1
    batch_logs = [[{"loss": 1.0}, {"loss": math.inf}], [{"loss": 1.0}] * 2]
    model, _, _ = fit([callbacks.TerminateOnNaN()], losses(1.0, 1.0), batches=2, batch_logs=batch_logs)
    assert model.stop_training
    model, _, epochs = fit([callbacks.TerminateOnNaN()], losses(1.0, 1.0), batches=2,
                           batch_logs=[[{"loss": 1.0}] * 2] * 2)
    assert not model.stop_training and epochs == 2


def test_lambda_callback():
    events = []
    callback = callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(("epoch_begin", epoch)),
        on_epoch_end=lambda e, l: events.append(("epoch_end", e, l["val_loss"])),
        on_train_batch_end=lambda batch, logs: events.append(("batch_end", batch)),
        on_train_end=lambda logs: events.append("train_end"))
    fit([callback], losses(1.0), batches=2)
    assert events == ["train_begin", ("epoch_begin", 0), ("batch_end", 0), ("batch_end", 1),
                      ("epoch_end", 0, 1.0), "train_end"]
    with pytest.raises(ValueError):
        callbacks.LambdaCallback(on_nothing=print)


def test_batch_hooks_are_called_only_where_defined():
    from pynn.callbacks import Callback, CallbackList, History, LambdaCallback
    assert not CallbackList([History(), Callback()]).has_train_batch_hooks

    class OldStyle(Callback):
        def on_batch_end(self, batch, logs=None):
            pass
    assert CallbackList([OldStyle()]).has_train_batch_hooks
    assert CallbackList([LambdaCallback(on_batch_end=lambda batch, logs: None)]).has_train_batch_hooks
    assert not CallbackList([LambdaCallback(on_epoch_end=lambda epoch, logs: None)]).has_train_batch_hooks
    # and fit calls them with the running logs
    seen = []
    model = pynn.Sequential([pynn.layers.Input(shape=(3,)), pynn.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((10, 3), np.float32), np.zeros((10, 2), np.float32)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0,
              callbacks=[LambdaCallback(on_batch_end=lambda batch, logs: seen.append((batch, sorted(logs))))])
    assert seen == [(0, ["loss"]), (1, ["loss"]), (2, ["loss"])]
