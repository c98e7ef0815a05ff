"""ModelCheckpoint: save the model (or its weights) during training."""
import os
import warnings

import numpy as np

from pynn.callbacks._monitor import check_mode
from pynn.callbacks.callback import Callback
from pynn.callbacks.save_frequency import SavesEveryNBatches


class ModelCheckpoint(SavesEveryNBatches, Callback):
    """Saves the model (model.save(path)) or its weights (model.save_weights(path)) every epoch or every
    `save_freq` batches.

    `filepath` is formatted with the 1-based epoch and the logs, e.g. "ckpt-{epoch:02d}-{val_loss:.2f}.weights"
    (and {batch} when saving by batch). With save_best_only, it saves only when `monitor` improves on the best
    seen (mode "auto": max when "acc" is in the monitor's name or it starts with "fmeasure", else min).

    Args:
        filepath: path template.
        monitor: the logged quantity for save_best_only (default "val_loss").
        verbose: 1 prints each save.
        save_best_only: save only when the monitored quantity improves.
        save_weights_only: call model.save_weights instead of model.save.
        mode: "min", "max" or "auto".
        save_freq: "epoch", or an integer number of batches.
        initial_value_threshold: the best value to beat at the start (save_best_only).

    Example:
        >>> ModelCheckpoint("ckpt/epoch{epoch:02d}-{val_loss:.2f}.weights.npz", save_weights_only=True,
        ...                 save_best_only=True)
    """

    rank_0_only = True     # with several ranks (pynn.distributed), only rank 0 writes

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or integer "
                             "values")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.best = self.initial_value_threshold = initial_value_threshold
        mode = self.mode = check_mode(mode, "ModelCheckpoint")
        if mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.startswith("fmeasure"))):
            self.monitor_op = np.greater
            if self.best is None:
                self.best = -np.inf
        else:
            self.monitor_op = np.less
            if self.best is None:
                self.best = np.inf
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as error:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {error}') \
                from error

    def _save(self, filepath):
        if self.save_weights_only:
            self.model.save_weights(filepath)
        else:
            self.model.save(filepath)

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        dirname = os.path.dirname(filepath)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            self._save(filepath)
            return
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
        elif np.ndim(current) > 0:
            warnings.warn("Can save best model only when `monitor` is a scalar value. Received: "
                          f"{current}. Falling back to `save_best_only=False`.", stacklevel=2)
            self._save(filepath)
        elif self.monitor_op(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {filepath}")
            self.best = current
            self._save(filepath)
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")

    def get_config(self):
        return {"filepath": self.filepath, "monitor": self.monitor, "verbose": self.verbose,
                "save_best_only": self.save_best_only, "save_weights_only": self.save_weights_only,
                "mode": self.mode, "save_freq": self.save_freq,
                "initial_value_threshold": self.initial_value_threshold}
