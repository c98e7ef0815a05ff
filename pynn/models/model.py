"""Model: compile / fit / evaluate / predict on top of a network's forward and backward passes."""
import numpy as np

from pynn.training.loop import EpochLoop, batches, validate_arrays


class Model:
    """The training API shared by every model (Sequential is one; the functional Model comes later).

    A subclass provides `layers`, `build(input_shape)`, `forward(x, training, logits=False) -> (y, ctx)`
    and `backward(ctx, dy)`; this class supplies compile, fit, evaluate, predict and the weight API.
    """

    def __init__(self, name=None):
        self.name = name or "model"
        self.optimizer = None
        self.loss = None
        self.compiled_metrics = []
        self.stop_training = False
        self.history = None
        self._fused_activation = None
        self._variables_to_train = None

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None):
        """Configure training. Strings and objects are both accepted for optimizer, loss and metrics."""
        from pynn import losses, metrics as metrics_module, optimizers
        self._compile_args = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics}  # for saving
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'")
        if loss_weights is not None and not isinstance(loss_weights, (int, float)):
            loss_weights = list(loss_weights.values() if isinstance(loss_weights, dict) else loss_weights)
            if len(loss_weights) != 1:
                raise ValueError(f"compile: this model has one output, got {len(loss_weights)} loss_weights")
            loss_weights = loss_weights[0]
        new_optimizer = optimizers.get(optimizer)
        new_loss = losses.get(loss)
        new_metrics = [metrics_module.get(m) for m in (metrics or [])]
        self.optimizer, self.loss, self.compiled_metrics = new_optimizer, new_loss, new_metrics
        self.loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        self._fused_activation = None
        # The variables trained are fixed at compile (at the first step if the model is not built yet): as in
        # Keras, changing `trainable` takes effect at the next compile.
        built = all(layer.built for layer in self.layers)
        self._variables_to_train = self._trainable_variables() if built else None
        last = self.layers[-1] if self.layers else None
        act = getattr(last, "activation", None) if getattr(last, "output_activation_fusable", True) else None
        if act is not None and hasattr(new_loss, "supports_fused") and new_loss.supports_fused(act.name):
            self._fused_activation = act
        self.compiled = True

    def _require_compiled(self, what):
        if self.optimizer is None or self.loss is None:
            raise RuntimeError(f"{what}: the model must be compiled first; call model.compile(optimizer, loss)")

    # ------------------------------------------------------------------ one batch
    def _trainable_variables(self):
        if not getattr(self, "trainable", True):
            return []
        seen, out = set(), []
        for layer in self.layers:
            for w in layer.trainable_weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    def _train_batch(self, x, y, sample_weight):
        """One optimizer step; returns (loss including regularization, predictions)."""
        if self._variables_to_train is None:
            self._variables_to_train = self._trainable_variables()
        variables = self._variables_to_train
        for v in variables:
            v.zero_grad()
        fused = self._fused_activation
        out, ctx = self.forward(x, training=True, logits=fused is not None)
        if fused is not None:
            value, dout = self.loss.value_and_gradient_from_logits(y, out, fused.name, sample_weight)
            y_pred = fused.forward(out)
        else:
            value, dout = self.loss.value_and_gradient(y, out, sample_weight)
            y_pred = out
        if self.loss_weight != 1.0:
            value, dout = value * self.loss_weight, dout * self.loss_weight
        self.backward(ctx, np.ascontiguousarray(dout, dtype=out.dtype))
        value = float(value) + self._regularization(add_gradients=True) + ctx_activity_loss(ctx)
        self.optimizer.apply(variables)
        return value, y_pred

    def _regularization(self, add_gradients=False):
        total = 0.0
        for layer in self.layers:
            total += layer.regularization_loss()
            if add_gradients and layer.trainable:
                layer.add_regularization_gradients()
        return total

    def _test_batch(self, x, y, sample_weight):
        y_pred, ctx = self.forward(x, training=False)
        value = float(self.loss(y, y_pred, sample_weight)) * self.loss_weight
        return value + self._regularization() + ctx_activity_loss(ctx), y_pred

    # ------------------------------------------------------------------ public API
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs; returns a History (also kept as model.history)."""
        self._require_compiled("fit")
        x, y, sample_weight = validate_arrays(self, x, y, sample_weight, "fit")
        if class_weight is not None:
            sample_weight = _class_weights(y, class_weight, sample_weight)
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"fit: validation_split must be in (0, 1), got {validation_split}")
            split = int(len(x) * (1 - validation_split))
            validation_data = (x[split:], y[split:], None if sample_weight is None else sample_weight[split:])
            x, y = x[:split], y[:split]
            sample_weight = None if sample_weight is None else sample_weight[:split]
        loop = EpochLoop(self, batch_size or 32, epochs, verbose, callbacks, steps_per_epoch)
        return loop.run(x, y, sample_weight, validation_data, shuffle, initial_epoch,
                        validation_batch_size or batch_size or 32, validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, callbacks=None,
                 return_dict=False):
        """Loss and metrics on (x, y): a scalar when there are no metrics, else [loss, *metrics]."""
        self._require_compiled("evaluate")
        x, y, sample_weight = validate_arrays(self, x, y, sample_weight, "evaluate")
        logs = EpochLoop(self, batch_size or 32, 1, verbose, callbacks).evaluate(x, y, sample_weight)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """The model's outputs for x, computed in batches (no training behaviour)."""
        x = self._as_input(x)
        outputs = [self._predict_batch(xb) for xb in batches(x, batch_size or 32)]
        return np.concatenate(outputs) if outputs else np.empty((0,) + self.output_shape[1:], self.dtype)

    def __call__(self, x, training=False):
        if training:
            return self.forward(self._as_input(x), training=True)[0]
        return self._predict_batch(self._as_input(x))

    def _predict_batch(self, x):
        """The outputs for one batch, training=False, no context kept (Sequential runs a leaner plan)."""
        return self.forward(x, training=False)[0]

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        self._require_compiled("train_on_batch")
        x, y, sample_weight = validate_arrays(self, x, y, sample_weight, "train_on_batch")
        if class_weight is not None:
            sample_weight = _class_weights(y, class_weight, sample_weight)
        for m in self.compiled_metrics:
            m.reset_state()
        value, y_pred = self._train_batch(x, y, sample_weight)
        return self._batch_logs(value, y, y_pred, sample_weight, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sample_weight = validate_arrays(self, x, y, sample_weight, "test_on_batch")
        for m in self.compiled_metrics:
            m.reset_state()
        value, y_pred = self._test_batch(x, y, sample_weight)
        return self._batch_logs(value, y, y_pred, sample_weight, return_dict)

    def predict_on_batch(self, x):
        return self._predict_batch(self._as_input(x))

    def _batch_logs(self, value, y, y_pred, sample_weight, return_dict):
        logs = {"loss": float(value)}
        for m in self.compiled_metrics:
            m.update_state(y, y_pred, sample_weight)
            logs[m.name] = float(m.result())
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def _as_input(self, x):
        if type(x) is np.ndarray and x.dtype == self.dtype and x.flags.c_contiguous:
            return x
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return np.ascontiguousarray(x)

    # ------------------------------------------------------------------ weights
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return self._trainable_variables()

    @property
    def non_trainable_weights(self):
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self.weights):
            raise ValueError(f"set_weights: model '{self.name}' has {len(self.weights)} weights, got {len(weights)}")
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[:n])
            weights = weights[n:]

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def save(self, filepath, overwrite=True):
        """Save architecture, weights, compile and optimizer state to a .keras file (see pynn.saving)."""
        from pynn.saving import save_model
        save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights to `.weights.h5` (Keras 3's layout; needs h5py) or `.weights.npz`."""
        from pynn.saving import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Load weights from `.weights.h5`, `.weights.npz`, or a `.keras` file (pynn's or Keras's)."""
        from pynn.saving import load_weights
        load_weights(self, filepath, skip_mismatch=skip_mismatch)


def ctx_activity_loss(ctx):
    """The activity-regularization penalties recorded by the forward pass (see Sequential.forward)."""
    return ctx.get("activity_loss", 0.0) if isinstance(ctx, dict) else 0.0


def _class_weights(y, class_weight, sample_weight):
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(axis=-1)
    labels = labels.reshape(len(labels), -1)[:, 0].astype(np.int64)
    table = np.ones(int(max(labels.max(initial=0), max(class_weight)) + 1))
    for k, v in class_weight.items():
        table[int(k)] = v
    weights = table[labels]
    return weights if sample_weight is None else weights * sample_weight
