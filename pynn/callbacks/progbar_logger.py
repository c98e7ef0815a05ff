"""ProgbarLogger: prints each epoch's metrics."""
from pynn.callbacks.callback import Callback


class ProgbarLogger(Callback):
    """Prints "Epoch i/N" and, at each epoch's end, its metrics (verbose=1 or 2 in params; 0 prints nothing).

    Example:
        Epoch 1/3
        32/32 - loss: 0.6931 - accuracy: 0.5000 - val_loss: 0.6900
    """

    rank_0_only = True     # with several ranks (pynn.distributed), only rank 0 prints

    def _verbose(self):
        return (self.params or {}).get("verbose", 1)

    def on_epoch_begin(self, epoch, logs=None):
        epochs = (self.params or {}).get("epochs")
        if self._verbose():
            print(f"Epoch {epoch + 1}/{epochs}" if epochs else f"Epoch {epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        if self._verbose():
            steps = (self.params or {}).get("steps")
            metrics = " - ".join(f"{key}: {value:.4f}" for key, value in (logs or {}).items()
                                 if isinstance(value, (int, float)))
            print(f"{steps}/{steps} - {metrics}" if steps else metrics, flush=True)
