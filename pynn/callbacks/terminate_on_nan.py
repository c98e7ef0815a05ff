"""TerminateOnNaN: stop training when the loss becomes NaN or infinite."""
import math

from pynn.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Sets model.stop_training = True after a training batch whose logged "loss" is NaN or infinite.

    Example:
        >>> model.fit(x, y, callbacks=[TerminateOnNaN()])
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
