"""ReduceLROnPlateau: lower the learning rate when a metric has stopped improving."""
import warnings

import numpy as np

from pynn.callbacks._monitor import check_mode
from pynn.callbacks.callback import Callback


class ReduceLROnPlateau(Callback):
    """Multiplies model.optimizer.learning_rate by `factor` after `patience` epochs without improvement.

    Improvement: current < best - min_delta (mode min) or current > best + min_delta (mode max); "auto" means
    max when "acc" is in the monitor's name, else min. After a reduction, `cooldown` epochs pass during which
    the wait is not counted. The rate never goes below `min_lr`. Adds "learning_rate" to each epoch's logs.

    Args:
        monitor: the logged quantity to watch (default "val_loss").
        factor: the multiplier, < 1 (default 0.1).
        patience: epochs without improvement before a reduction (default 10).
        verbose: 1 prints each reduction.
        mode: "min", "max" or "auto".
        min_delta: threshold for a significant change (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: lower bound on the learning rate.

    Example:
        >>> ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.monitor = monitor
        self.factor = factor
        self.min_lr = min_lr
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.mode = check_mode(mode, "Learning rate reduction")
        self._reset()

    def _reset(self):
        if self.mode == "min" or (self.mode == "auto" and "acc" not in self.monitor):
            self.monitor_op = lambda current, best: current < best - self.min_delta
            self.best = np.inf
        else:
            self.monitor_op = lambda current, best: current > best + self.min_delta
            self.best = -np.inf
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor_op(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(self.model.optimizer.learning_rate)
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def get_config(self):
        return {"monitor": self.monitor, "factor": self.factor, "patience": self.patience, "verbose": self.verbose,
                "mode": self.mode, "min_delta": self.min_delta, "cooldown": self.cooldown, "min_lr": self.min_lr}
