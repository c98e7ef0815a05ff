"""LambdaCallback: a callback made of plain functions."""
from pynn.callbacks.callback import Callback


class LambdaCallback(Callback):
    """A callback whose hooks are the functions given (the others stay empty).

    on_epoch_begin / on_epoch_end take (epoch, logs); on_train_batch_begin / on_train_batch_end (and
    on_batch_begin / on_batch_end) take (batch, logs); on_train_begin / on_train_end take (logs). Any other
    on_* hook of Callback can be passed by keyword.

    Example:
        >>> LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, function in hooks.items():
            if not (name.startswith("on_") and callable(getattr(Callback, name, None))):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            if function is not None:
                setattr(self, name, function)
