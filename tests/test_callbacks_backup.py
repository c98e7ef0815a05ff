"""BackupAndRestore: a fit interrupted anywhere (an exception from a callback, Ctrl-C) and run again with the same
callback ends with the weights, optimizer state and random streams of the fit that was never interrupted, bit for
bit; the backup is written atomically and deleted when fit completes."""
import json
import os
import signal
import warnings

import numpy as np
import pytest

import pynn
from pynn import callbacks, layers

N, BATCH, EPOCHS = 40, 8, 6        # five steps per epoch


def make_model(optimizer="adam", seed=3):
    pynn.utils.set_random_seed(seed)
    model = pynn.Sequential([layers.Input((5,)), layers.Dense(8, activation="relu"), layers.Dropout(0.25),
                             layers.Dense(3, activation="softmax")])
    optimizers = {"adam": lambda: pynn.optimizers.Adam(0.01),
                  "nadam": lambda: pynn.optimizers.Nadam(0.01),
                  "sgd": lambda: pynn.optimizers.SGD(0.05, momentum=0.9, nesterov=True)}
    model.compile(optimizer=optimizers[optimizer](), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 5)).astype(np.float32)
    return x, rng.integers(0, 3, N), x[:16], rng.integers(0, 3, 16)


def fit(model, callback_list, epochs=EPOCHS, **kwargs):
    x, y, xv, yv = data()
    return model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=callback_list,
                     validation_data=(xv, yv), **kwargs)


def state(model):
    """Everything training changes: weights, optimizer step count and slots, the Dropout stream, the global one."""
    dropout = next(layer for layer in model.layers if isinstance(layer, layers.Dropout))
    stream = pynn.random_state._state
    index = {id(variable): i for i, variable in enumerate(v for layer in model.layers for v in layer.weights)}
    slots = sorted(((index[key[0]], key[1]), np.array(slot)) for key, slot in model.optimizer._slots.items())
    return (model.get_weights(), model.optimizer.iterations, slots, dropout.get_rng_state(),
            (stream["seed"], stream["counter"]))


def assert_same_state(a, b):
    assert len(a[0]) == len(b[0]) and a[2] and [key for key, _ in a[2]] == [key for key, _ in b[2]]
    for u, v in zip(a[0] + [slot for _, slot in a[2]], b[0] + [slot for _, slot in b[2]]):
        np.testing.assert_array_equal(u, v)
    assert a[1] == b[1] and a[3:] == b[3:]


class Interrupt(callbacks.Callback):
    """Raise `error` at on_epoch_begin(epoch) (batch None) or at on_train_batch_begin(batch) of that epoch; a
    KeyboardInterrupt comes from a real SIGINT, which lands between steps."""

    def __init__(self, epoch, batch=None, error=RuntimeError):
        super().__init__()
        self.epoch, self.batch, self.error, self.current = epoch, batch, error, None

    def _raise(self):
        if self.error is KeyboardInterrupt:
            os.kill(os.getpid(), signal.SIGINT)
        raise self.error("interrupted")

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        if epoch == self.epoch and self.batch is None:
            self._raise()

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            self._raise()


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs, self.weights = [], {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.weights[(self.epochs[-1], batch)] = self.model.get_weights()


@pytest.fixture
def uninterrupted():
    cache = {}

    def run(optimizer="adam", **kwargs):
        key = (optimizer, tuple(sorted(kwargs.items())))
        if key not in cache:
            model = make_model(optimizer)
            history = fit(model, [], **kwargs)
            cache[key] = state(model), history.history
        return cache[key]
    return run


@pytest.mark.parametrize("optimizer", ["adam", "nadam", "sgd"])
@pytest.mark.parametrize("epoch, batch, error", [(3, None, RuntimeError), (3, 2, KeyboardInterrupt),
                                                 (1, 0, KeyboardInterrupt), (5, 4, ValueError)])
def test_resumed_fit_is_bit_identical(tmp_path, uninterrupted, optimizer, epoch, batch, error):
    want, want_history = uninterrupted(optimizer)
    backup = callbacks.BackupAndRestore(tmp_path / "backup")
    with pytest.raises(error):
        fit(make_model(optimizer), [backup, Interrupt(epoch, batch, error)])
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == epoch and metadata["batch"] == 0
    assert sorted(os.listdir(tmp_path / "backup")) == [metadata["checkpoint"], "training_metadata.json"]

    model = make_model(optimizer, seed=99)     # another model (other layer names), another seed: all restored
    recorder = Recorder()
    history = fit(model, [backup, recorder])
    assert recorder.epochs == list(range(epoch, EPOCHS))
    assert_same_state(state(model), want)
    for key, values in history.history.items():   # the resumed epochs' logs are those of the uninterrupted run
        assert values == want_history[key][epoch:], key
    assert not (tmp_path / "backup").exists()    # deleted at the end of the completed fit


def test_resume_into_the_same_model_object_and_continue_after(tmp_path, uninterrupted):
    want, _ = uninterrupted()
    backup = callbacks.BackupAndRestore(str(tmp_path / "b"))
    model = make_model()
    with pytest.raises(RuntimeError):
        fit(model, [backup, Interrupt(2, 3)])
    fit(model, [backup])
    assert_same_state(state(model), want)
    # the resume point does not stick: a later fit without a backup runs all its epochs
    recorder = Recorder()
    fit(model, [recorder], epochs=2)
    assert recorder.epochs == [0, 1]


def test_shuffle_false_and_no_shuffle_rng(tmp_path, uninterrupted):
    want, _ = uninterrupted(shuffle=False)
    backup = callbacks.BackupAndRestore(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(make_model(), [backup, Interrupt(4)], shuffle=False)
    model = make_model()
    fit(model, [backup], shuffle=False)
    assert_same_state(state(model), want)


def test_interrupted_twice(tmp_path, uninterrupted):
    want, _ = uninterrupted()
    backup = callbacks.BackupAndRestore(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(make_model(), [backup, Interrupt(2)])
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), [backup, Interrupt(4, 1, KeyboardInterrupt)])
    model = make_model()
    fit(model, [backup])
    assert_same_state(state(model), want)


def test_no_backup_and_initial_epoch(tmp_path):
    """Without a backup, fit runs as it would without the callback (initial_epoch included)."""
    recorder = Recorder()
    fit(make_model(), [callbacks.BackupAndRestore(tmp_path / "b"), recorder], initial_epoch=2)
    assert recorder.epochs == [2, 3, 4, 5]
    assert not (tmp_path / "b").exists()


def test_backup_of_a_finished_run_runs_nothing(tmp_path):
    backup = callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    model = make_model()
    fit(model, [backup])
    kept = sorted(os.listdir(tmp_path / "b"))
    assert len(kept) == 2 and json.loads((tmp_path / "b" / "training_metadata.json").read_text())["epoch"] == EPOCHS
    before = model.get_weights()
    recorder = Recorder()
    history = fit(make_model(seed=5), [backup, recorder])
    assert recorder.epochs == [] and history.history == {}
    np.testing.assert_array_equal(recorder.model.get_weights()[0], before[0])
    assert sorted(os.listdir(tmp_path / "b")) == kept


def test_save_freq_batches(tmp_path):
    """An integer save_freq backs up every that many batches; as in Keras, the resumed fit starts over the epoch
    of the backup, from the weights of that moment."""
    backup = callbacks.BackupAndRestore(tmp_path / "b", save_freq=3)
    recorder = Recorder()
    with pytest.raises(RuntimeError):
        fit(make_model(), [backup, recorder, Interrupt(2, 4)])
    metadata = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    # batches 3, 6, 9, 12 (1-based, counted across epochs): the last is epoch 2, batch 1 (0-based)
    assert (metadata["epoch"], metadata["batch"]) == (2, 1)

    class Check(callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.restored = self.model.get_weights()

    check = Check()
    resumed = Recorder()
    model = make_model(seed=8)
    fit(model, [backup, check, resumed])
    assert resumed.epochs == [2, 3, 4, 5]
    for u, v in zip(check.restored, recorder.weights[(2, 1)]):
        np.testing.assert_array_equal(u, v)


def test_metadata_is_the_commit_point(tmp_path, uninterrupted, monkeypatch):
    """A failure after the new checkpoint is written but before the metadata names it (a crash there) leaves the
    previous backup in force; the orphan checkpoint is removed by the next backup."""
    from pynn.saving import file_utils
    want, _ = uninterrupted()
    backup = callbacks.BackupAndRestore(tmp_path / "b")
    real = file_utils.atomic_write
    calls = [0]

    def failing(path):
        if os.path.basename(path) == "training_metadata.json":
            calls[0] += 1
            if calls[0] == 3:    # the backup after epoch 2 (index): its checkpoint is written, then this fails
                raise OSError("disk full")
        return real(path)

    monkeypatch.setattr(file_utils, "atomic_write", failing)
    with pytest.raises(OSError, match="disk full"):
        fit(make_model(), [backup])
    monkeypatch.setattr(file_utils, "atomic_write", real)
    names = sorted(os.listdir(tmp_path / "b"))
    metadata = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2 and len(names) == 3      # the orphan checkpoint is still there
    model = make_model()
    with pytest.raises(RuntimeError):
        fit(model, [backup, Interrupt(3)])                  # resumes at 2, backs up after epoch 2 again
    assert sorted(os.listdir(tmp_path / "b")) == sorted([json.loads(
        (tmp_path / "b" / "training_metadata.json").read_text())["checkpoint"], "training_metadata.json"])
    model = make_model()
    fit(model, [backup])
    assert_same_state(state(model), want)


def damage(path):
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path, uninterrupted):
    want, _ = uninterrupted()
    backup = callbacks.BackupAndRestore(tmp_path / "b", double_checkpoint=True)
    with pytest.raises(RuntimeError):
        fit(make_model(), [backup, Interrupt(4)])
    metadata = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 4 and metadata["previous"]["epoch"] == 3
    assert "previous" not in metadata["previous"]
    assert len(os.listdir(tmp_path / "b")) == 3
    damage(tmp_path / "b" / metadata["checkpoint"])
    model = make_model()
    recorder = Recorder()
    with pytest.warns(UserWarning, match="previous one, of epoch 3"):
        fit(model, [backup, recorder])
    assert recorder.epochs == [3, 4, 5]
    assert_same_state(state(model), want)
    assert not (tmp_path / "b").exists()


def test_damaged_backup_raises_and_leaves_the_model_alone(tmp_path):
    backup = callbacks.BackupAndRestore(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(make_model(), [backup, Interrupt(3)])
    metadata = json.loads((tmp_path / "b" / "training_metadata.json").read_text())
    damage(tmp_path / "b" / metadata["checkpoint"])
    model = make_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=metadata["checkpoint"]):
        fit(model, [backup])
    for u, v in zip(model.get_weights(), before):
        np.testing.assert_array_equal(u, v)
    assert model.optimizer.iterations == 0 and not model.optimizer.variables
    (tmp_path / "b" / "training_metadata.json").write_text("{not json")
    with pytest.raises(ValueError, match="training_metadata.json"):
        fit(make_model(), [backup])


def test_other_architecture_is_refused_before_anything_changes(tmp_path):
    backup = callbacks.BackupAndRestore(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(make_model(), [backup, Interrupt(2)])
    pynn.utils.set_random_seed(1)
    other = pynn.Sequential([layers.Input((5,)), layers.Dense(4), layers.Dropout(0.1), layers.Dense(3)])
    other.compile("adam", "mse")
    before = other.get_weights()
    x, y, _, _ = data()
    with pytest.raises(ValueError, match="layer"):
        other.fit(x, np.eye(3)[y], epochs=3, verbose=0, callbacks=[backup])
    for u, v in zip(other.get_weights(), before):
        np.testing.assert_array_equal(u, v)
    sgd = make_model("sgd")
    with pytest.raises(ValueError, match="Adam"):
        fit(sgd, [backup])
    assert sgd.optimizer.iterations == 0


def test_learning_rate_is_restored(tmp_path):
    """The learning rate is part of the optimizer's state (Keras 3 saves it as a variable): a rate lowered by a
    callback (ReduceLROnPlateau, ...) before the interruption is the rate after it."""
    class Lower(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.optimizer.learning_rate = 0.01 / (epoch + 1)

    backup = callbacks.BackupAndRestore(tmp_path / "b")
    with pytest.raises(RuntimeError):
        fit(make_model(), [Lower(), backup, Interrupt(3)])

    class Seen(callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.rate = self.model.optimizer.learning_rate

    seen = Seen()
    fit(make_model(), [backup, seen])
    assert seen.rate == 0.01 / 3


def test_arguments_and_config(tmp_path):
    with pytest.raises(ValueError, match="backup_dir"):
        callbacks.BackupAndRestore("")
    for bad in ("batch", 0, -2, 1.5, True):
        with pytest.raises(ValueError, match="save_freq"):
            callbacks.BackupAndRestore(tmp_path, save_freq=bad)
    backup = callbacks.BackupAndRestore(tmp_path / "b", save_freq=7, double_checkpoint=True, delete_checkpoint=False)
    config = backup.get_config()
    assert config == {"backup_dir": str(tmp_path / "b"), "save_freq": 7, "double_checkpoint": True,
                      "delete_checkpoint": False}
    assert callbacks.BackupAndRestore.from_config(config).get_config() == config
    assert pynn.callbacks.BackupAndRestore is callbacks.BackupAndRestore
    # per-batch hooks (and so per-batch logs in fit) only when backing up by batch
    assert not callbacks.CallbackList([callbacks.BackupAndRestore(tmp_path)]).has_train_batch_hooks
    assert callbacks.CallbackList([callbacks.BackupAndRestore(tmp_path, save_freq=2)]).has_train_batch_hooks


def test_only_its_own_files_are_deleted(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("mine")
    fit(make_model(), [callbacks.BackupAndRestore(tmp_path / "b")], epochs=2)
    assert os.listdir(tmp_path / "b") == ["notes.txt"]


def test_restore_model_state_is_load_model_in_place(tmp_path):
    """The restore helper loads what load_model loads, into the existing model."""
    from pynn.callbacks.backup_and_restore import restore_model_state
    model = make_model()
    fit(model, [], epochs=2)
    path = tmp_path / "m.keras"
    model.save(path)
    want = state(model)
    other = make_model(seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restore_model_state(other, path)
    assert_same_state(state(other), want)
