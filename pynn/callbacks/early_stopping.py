"""EarlyStopping: stop training when a monitored metric has stopped improving."""
import warnings

from pynn.callbacks._monitor import check_mode, improves_upward
from pynn.callbacks.callback import Callback


class EarlyStopping(Callback):
    """Stops training (model.stop_training = True) once `monitor` has not improved for `patience` epochs.

    An epoch improves when current - min_delta < best (mode min) or current + min_delta > best (mode max);
    with a `baseline`, the wait is only reset by a value that also beats the baseline. Epochs before
    `start_from_epoch` are ignored. With restore_best_weights, the weights of the best epoch are put back at the
    end of training (model.get_weights() / set_weights()), whether or not training was stopped early.

    Args:
        monitor: the logged quantity to watch (default "val_loss").
        min_delta: smallest change that counts as an improvement (its absolute value is used).
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when stopping and restoring.
        mode: "min", "max" or "auto" (from the metric's name).
        baseline: a value the metric must beat to reset the wait.
        restore_best_weights: restore the best epoch's weights at the end of training.
        start_from_epoch: epochs to wait before watching.

    Example:
        >>> model.fit(x, y, epochs=100, validation_split=0.2,
        ...           callbacks=[EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)])
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.mode = check_mode(mode, "EarlyStopping")
        self._min_delta_argument = min_delta
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0
        self._upward = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self._upward is None:
            self._upward = improves_upward(self.monitor, self.mode, self.model)
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the current weights are the best seen.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs)}", stacklevel=2)
        return value

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        if self._upward:
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def get_config(self):
        return {"monitor": self.monitor, "min_delta": self._min_delta_argument, "patience": self.patience,
                "verbose": self.verbose, "mode": self.mode, "baseline": self.baseline,
                "restore_best_weights": self.restore_best_weights, "start_from_epoch": self.start_from_epoch}
