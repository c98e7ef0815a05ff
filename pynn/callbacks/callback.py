"""Callback: the base class of everything the training loop calls back into."""


class Callback:
    """Hooks the training, evaluation and prediction loops call; every hook is empty here.

    The loops call, through a CallbackList: `set_model(model)` and `set_params({"epochs", "steps", "verbose"})`
    first, then
        on_train_begin(logs) / on_train_end(logs)
        on_epoch_begin(epoch, logs) / on_epoch_end(epoch, logs)   (epoch counts from 0)
        on_train_batch_begin(batch, logs) / on_train_batch_end(batch, logs)
        on_test_begin / on_test_end, on_test_batch_begin / on_test_batch_end   (evaluate, validation)
        on_predict_begin / on_predict_end, on_predict_batch_begin / on_predict_batch_end
    `logs` is a dict of float metrics: at on_epoch_end, the epoch's means ("loss", "accuracy", ...) and the
    validation ones ("val_loss", ...); at on_train_batch_end, the running means so far. A callback may add keys to
    `logs` (later callbacks and History see them). on_batch_begin / on_batch_end are the older names of the
    train-batch hooks, which call them.

    What a callback may use of the model: `model.stop_training` (set True to stop after this epoch),
    `model.optimizer.learning_rate` (settable float), `model.get_weights()` / `model.set_weights(list)`,
    `model.save(path)` / `model.save_weights(path)`.

    Example (stop once the training loss is below a threshold):

        class StopBelow(Callback):
            def __init__(self, threshold):
                super().__init__()
                self.threshold = threshold

            def on_epoch_end(self, epoch, logs=None):
                if (logs or {}).get("loss", float("inf")) < self.threshold:
                    self.model.stop_training = True

        model.fit(x, y, epochs=100, callbacks=[StopBelow(0.05)])
    """

    # Run on rank 0 only when fit trains over several ranks (pynn.distributed): callbacks that print or write
    # files, so that one copy of each is written.
    rank_0_only = False

    def __init__(self):
        self.params = None
        self.model = None

    def get_config(self):
        """The constructor arguments, for from_config (and pynn.saving). A callback whose __init__ takes
        arguments overrides this; the base covers those that take none."""
        import inspect
        parameters = [name for name, p in inspect.signature(type(self).__init__).parameters.items()
                      if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if parameters:
            raise NotImplementedError(f"{type(self).__name__} takes arguments {parameters}: override get_config()")
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_batch_begin(self, batch, logs=None):
        """An alias of on_train_batch_begin, kept for old callbacks."""

    def on_batch_end(self, batch, logs=None):
        """An alias of on_train_batch_end, kept for old callbacks."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch of fit()."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch of fit(), with the epoch's training and validation metrics."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before a batch of evaluate() (or of fit()'s validation)."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after a batch of evaluate() (or of fit()'s validation)."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before a batch of predict()."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after a batch of predict()."""

    def on_train_begin(self, logs=None):
        """Called at the start of fit()."""

    def on_train_end(self, logs=None):
        """Called at the end of fit()."""

    def on_test_begin(self, logs=None):
        """Called at the start of evaluate() (or of fit()'s validation)."""

    def on_test_end(self, logs=None):
        """Called at the end of evaluate() (or of fit()'s validation)."""

    def on_predict_begin(self, logs=None):
        """Called at the start of predict()."""

    def on_predict_end(self, logs=None):
        """Called at the end of predict()."""
