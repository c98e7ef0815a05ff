"""History: the per-epoch record that fit() returns."""
from pynn.callbacks.callback import Callback


class History(Callback):
    """Records each epoch's logs; fit() returns it, and it is also `model.history`.

    Attributes:
        history: dict metric name -> list of per-epoch values.
        epoch: list of the epoch indices recorded.
        params: the loop's parameters ({"epochs", "steps", "verbose"}).

    Example:
        >>> history = model.fit(x, y, epochs=3)
        >>> history.history["loss"]  # three floats
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
