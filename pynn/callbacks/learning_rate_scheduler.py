"""LearningRateScheduler: set the learning rate at the start of each epoch from a function."""
import numbers

from pynn.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """At each epoch's start, sets model.optimizer.learning_rate = schedule(epoch, current_lr).

    A schedule taking only the epoch, schedule(epoch), is accepted too. Adds "learning_rate" to each epoch's
    logs.

    Args:
        schedule: a function (epoch index from 0, current learning rate as a float) -> new learning rate.
        verbose: 1 prints each change.

    Example:
        >>> def scheduler(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(scheduler)])
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the old one-argument form
            learning_rate = self.schedule(epoch)
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate}")
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)

    def get_config(self):
        """The schedule is a function: saved by its registered name (pynn.saving.register_keras_serializable)."""
        return {"schedule": self.schedule, "verbose": self.verbose}

    @classmethod
    def from_config(cls, config):
        from pynn.saving import deserialize_keras_object
        config = dict(config)
        return cls(deserialize_keras_object(config.pop("schedule")), **config)
