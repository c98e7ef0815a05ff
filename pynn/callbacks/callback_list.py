"""CallbackList: what the training loop talks to; it forwards each hook to every callback."""
from pynn.callbacks.callback import Callback
from pynn.callbacks.history import History
from pynn.callbacks.progbar_logger import ProgbarLogger


class CallbackList(Callback):
    """A list of callbacks seen as one: each hook is forwarded to every callback, in order.

    Args:
        callbacks: a list of Callback (or None).
        add_history: add a History (unless the list has one); it becomes `model.history`.
        add_progbar: add a ProgbarLogger (unless the list has one).
        model: the model, given to every callback with set_model.
        **params: the loop's parameters (epochs, steps, verbose), given to every callback with set_params.

    Example (the shape of fit()'s loop):
        callbacks = CallbackList(user_callbacks, model=model, add_history=True, epochs=epochs, steps=steps,
                                 verbose=verbose)
        callbacks.on_train_begin()
        for epoch in range(epochs):
            callbacks.on_epoch_begin(epoch)
            ...  # on_train_batch_begin / on_train_batch_end around each batch
            callbacks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        callbacks.on_train_end(logs)
        return model.history
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = list(callbacks) if callbacks else []
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    @property
    def has_train_batch_hooks(self):
        """Whether any callback does something per training batch (the loop skips building batch logs
        otherwise): it overrides on_train_batch_begin / _end or their old aliases on_batch_begin / _end."""
        return self.has_batch_hooks("train")

    def has_batch_hooks(self, mode):
        """Whether any callback overrides a per-batch hook of `mode` ("train", "test" or "predict"), in its
        class or as an attribute (LambdaCallback)."""
        from pynn.callbacks.callback import Callback
        hooks = (f"on_{mode}_batch_begin", f"on_{mode}_batch_end")
        if mode == "train":
            hooks += ("on_batch_begin", "on_batch_end")

        def overridden(callback, hook):
            found = getattr(callback, hook, None)
            return getattr(found, "__func__", found) is not getattr(Callback, hook)
        return any(overridden(cb, hook) for cb in self.callbacks for hook in hooks)

    def set_model(self, model):
        self.model = model
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)
