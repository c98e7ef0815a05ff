"""BackupAndRestore: back up the whole training state during fit, and resume an interrupted fit where it stopped."""
import contextlib
import json
import os
import re
import warnings

import numpy as np

from pynn.callbacks.callback import Callback
from pynn.callbacks.save_frequency import SavesEveryNBatches
from pynn.saving.state_restore import restore_model_state

METADATA_NAME = "training_metadata.json"
_CHECKPOINT = re.compile(r"checkpoint-(\d{1,18})\.keras")


class BackupAndRestore(SavesEveryNBatches, Callback):
    """Backs up the training state during fit, so that a fit interrupted (an exception, Ctrl-C, a killed
    process) and run again with the same callback continues from the last backup instead of starting over.

    The backup is the model saved with model.save (weights, optimizer slots and step count, the random streams
    of Dropout and the augmentation layers, pynn's global random stream) as `checkpoint-<n>.keras` in
    `backup_dir`, and `training_metadata.json`: {"epoch", "batch", "checkpoint", "shuffle_rng", ...}, where
    "epoch" is the epoch to resume at, "batch" the last batch seen in it (Keras's fields) and "shuffle_rng"
    the state of fit's shuffling generator at the start of that epoch. The metadata is written last, atomically
    (temporary file, fsync, rename) and names its checkpoint, so a crash at any point leaves the previous
    backup whole; checkpoints it no longer names are then removed.

    At the start of fit, when `backup_dir` holds a backup, its state is loaded into the model (which must have
    the same layers in the same order; names may differ) and fit skips the epochs already done. With
    save_freq="epoch" the resumed fit ends with the same weights, bit for bit, as a fit that was never
    interrupted (same seeds, same arguments). With an integer save_freq, as in Keras, the backup made after
    batch k of epoch e restarts epoch e from its first batch, from the weights of that moment (so those k
    batches are seen twice). At the end of a fit that completes (including one stopped by EarlyStopping), the
    backup is deleted when delete_checkpoint.

    Args:
        backup_dir: the directory of the backup. Give each training run its own, and keep other files
            (ModelCheckpoint's, another run's backup) out of it.
        save_freq: "epoch" (back up after every epoch), or an integer: back up every that many batches.
        double_checkpoint: keep the previous backup too; when the latest can't be read (a damaged file), the
            previous one is restored instead, with a warning.
        delete_checkpoint: delete the backup when fit completes (the files this callback wrote; backup_dir
            itself when nothing else is left in it).

    Example:
        >>> backup = pynn.callbacks.BackupAndRestore("/tmp/backup")
        >>> model.fit(x, y, epochs=10, callbacks=[backup])   # interrupted at epoch 4 ...
        >>> model.fit(x, y, epochs=10, callbacks=[backup])   # ... runs epochs 4 to 9 only
    """

    # Under pynn.distributed only rank 0 writes and reads the backup; fit's synchronization at its start then
    # gives every rank rank 0's restored state, so no rank reads a file rank 0 may be writing.
    rank_0_only = True

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. "
                             f"Received: save_freq={save_freq}. Expected either 'epoch' or an integer value >= 1.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._metadata_path = os.path.join(self.backup_dir, METADATA_NAME)
        self._reset()
        if save_freq != "epoch":
            # a batch hook only when backing up by batch: fit skips building per-batch logs for a callback
            # list without one (CallbackList.has_train_batch_hooks)
            self.on_train_batch_end = self._on_train_batch_end

    def _reset(self):
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._epoch_rng_state = None
        self._metadata = None          # what training_metadata.json holds now (None: no backup)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "save_freq": self.save_freq,
                "double_checkpoint": self.double_checkpoint, "delete_checkpoint": self.delete_checkpoint}

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._reset()
        metadata = read_metadata(self._metadata_path)
        if metadata is None:
            return
        if not all(layer.built for layer in self.model.layers):
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model {self.model.name} is unbuilt. You can build it beforehand by "
                             "calling it on a batch of data.")
        entries = [metadata] + ([metadata["previous"]] if metadata.get("previous") else [])
        for i, entry in enumerate(entries):
            path = os.path.join(self.backup_dir, entry["checkpoint"])
            try:
                restore_model_state(self.model, path)
            except (ValueError, OSError) as error:
                if i + 1 == len(entries):
                    raise
                warnings.warn(f"BackupAndRestore: the latest backup cannot be restored ({error}); restoring the "
                              f"previous one, of epoch {entries[i + 1]['epoch']}", stacklevel=2)
                continue
            break
        rng = getattr(self.model, "_shuffle_rng", None)
        if rng is not None and entry.get("shuffle_rng") is not None:
            rng.bit_generator.state = entry["shuffle_rng"]
        self.model._initial_epoch = entry["epoch"]
        self._current_epoch = entry["epoch"]
        self._metadata = metadata if entry is metadata else entry   # after a fallback, the damaged one goes

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._epoch_rng_state = self._rng_state()

    def _on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save(self._current_epoch, self._last_batch_seen, self._epoch_rng_state)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0, self._rng_state())

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            self._delete_backup()

    # ------------------------------------------------------------------ saving
    def _rng_state(self):
        """The state of fit's shuffling generator (which draws each epoch's order at the epoch's first batch)."""
        rng = getattr(self.model, "_shuffle_rng", None)
        return None if rng is None else rng.bit_generator.state

    def _save(self, epoch, batch, rng_state):
        from pynn.saving import file_utils
        os.makedirs(self.backup_dir, exist_ok=True)
        previous = self._metadata
        number = 1 + max((_checkpoint_number(e["checkpoint"]) for e in _entries(previous)), default=0)
        name = f"checkpoint-{number}.keras"
        self.model.save(os.path.join(self.backup_dir, name))
        metadata = {"epoch": int(epoch), "batch": int(batch), "checkpoint": name, "shuffle_rng": rng_state}
        if self.double_checkpoint and previous is not None:
            metadata["previous"] = {key: value for key, value in previous.items() if key != "previous"}
        with file_utils.atomic_write(self._metadata_path) as file:   # the commit point
            file.write(json.dumps(metadata, indent=1).encode("utf-8"))
        self._metadata = metadata
        self._remove_unnamed_checkpoints({e["checkpoint"] for e in _entries(metadata)})

    def _remove_unnamed_checkpoints(self, keep):
        with contextlib.suppress(OSError):
            for entry in os.listdir(self.backup_dir):
                if _CHECKPOINT.fullmatch(entry) and entry not in keep:
                    with contextlib.suppress(OSError):
                        os.remove(os.path.join(self.backup_dir, entry))

    def _delete_backup(self):
        if not os.path.isdir(self.backup_dir):
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._metadata_path)      # first: without it, what is left is no backup
        self._remove_unnamed_checkpoints(set())
        self._metadata = None
        with contextlib.suppress(OSError):      # only when nothing else is in it
            os.rmdir(self.backup_dir)


def _entries(metadata):
    if metadata is None:
        return []
    return [metadata] + ([metadata["previous"]] if metadata.get("previous") else [])


def _checkpoint_number(name):
    return int(_CHECKPOINT.fullmatch(name).group(1))


def read_metadata(path):
    """The backup's metadata, checked, or None when there is no backup. ValueError (naming the file) when it is
    damaged."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return None
    try:
        metadata = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a BackupAndRestore metadata file: {error}") from error
    for entry in [metadata] + ([metadata.get("previous")] if isinstance(metadata, dict) and
                               metadata.get("previous") else []):
        problem = _entry_problem(entry)
        if problem:
            raise ValueError(f"{path}: not a BackupAndRestore metadata file: {problem}")
    return metadata


def _entry_problem(entry):
    if not isinstance(entry, dict):
        return "expected a JSON object"
    for key in ("epoch", "batch"):
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{key!r} must be a non-negative integer, got {value!r:.40}"
    checkpoint = entry.get("checkpoint")
    if not isinstance(checkpoint, str) or not _CHECKPOINT.fullmatch(checkpoint):
        return f"'checkpoint' must name a checkpoint-<n>.keras file, got {checkpoint!r:.60}"
    rng = entry.get("shuffle_rng")
    if rng is not None and not isinstance(rng, dict):
        return "'shuffle_rng' must be null or a generator state"
    return None
