"""Model: compile / fit / evaluate / predict on top of a network's forward and backward passes."""
import warnings

import numpy as np

from pynn import variable
from pynn.layers import call_support
from pynn.layers.layer import Layer, _has_tensor, _recording
from pynn.layers.node import is_symbolic
from pynn.models import compile_utils
from pynn.training import data_adapters, dense_chain, validation
from pynn.training.interrupts import StepGuard
from pynn.training.data_adapters import ArrayBatches, StreamBatches, num_rows, take_rows
from pynn.training.loop import EpochLoop, predict_quietly
from pynn.training.progbar import log_value


class Model(Layer):
    """The training API shared by every model; a model is also a layer, usable inside another model.

    `pynn.Model(inputs, outputs)` makes a functional model (pynn.models.functional.Functional) from
    symbolic tensors:

        inputs = pynn.Input(shape=(784,))
        encoded = pynn.layers.Dense(32, activation="relu")(inputs)
        decoded = pynn.layers.Dense(784, activation="sigmoid")(encoded)
        autoencoder = pynn.Model(inputs, decoded)

    Sequential is the same engine with a straight graph. A subclass provides `layers`, `build_for`,
    `forward(x, training, logits=()) -> (y, ctx)`, `backward(ctx, dy)` and `backward_weights(ctx, dy)`
    (as any layer does), and `output_names`; this class supplies compile, fit, evaluate, predict and the
    weight API. Inputs and outputs are one array, or lists of arrays for several.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model:
            from pynn.models.functional import Functional
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.optimizer = None
        self.loss = None
        self.compiled_metrics = []
        self.stop_training = False
        self.history = None
        self._outputs = []           # per output: _OutputLoss (loss, weight, fused activation, tracker)
        self._variables_to_train = None
        self._regularized = None     # the variables with a regularizer, found at the first step
        self._chain_step = None      # the one-call training step when the model qualifies (dense_chain)
        self._replicas_synced = False  # see _sync_replicas
        if self._call_style:         # a subclassed model: layers in __init__, call() (see call_support)
            self.output_names = ["output_1"]

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None):
        """Configure training. Strings and objects are both accepted for optimizer, loss and metrics.

        With several outputs, `loss`, `loss_weights`, `metrics` and `weighted_metrics` may be lists (in output
        order) or dicts keyed by output name (the name of the layer that makes it); one loss or a flat list of
        metrics applies to every output. The loss minimised is the weighted sum of the outputs' losses.
        As in Keras 3, sample_weight and class_weight weight the loss and `weighted_metrics`, not `metrics`.
        """
        from pynn import losses, optimizers
        if loss is None and not self._custom_step("train"):
            raise ValueError("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy' (a model "
                             "whose train_step computes its own loss may leave it out)")
        names = self.output_names
        per_loss = compile_utils.per_output(loss, names, "loss", allow_missing=True)
        weights = [1.0] * len(names) if loss_weights is None else [
            1.0 if w is None else float(w)
            for w in compile_utils.per_output(loss_weights, names, "loss_weights", scalar=True)]
        per_metrics = compile_utils.metrics_per_output(metrics, names)
        per_weighted = compile_utils.metrics_per_output(weighted_metrics, names, "weighted_metrics")
        new_optimizer = optimizers.get(optimizer)
        from pynn.distributed.data_parallel import compile_optimizer
        new_optimizer = compile_optimizer(new_optimizer)    # wrapped while a DataParallel distribution is set
        new_losses = [losses.get(x) for x in per_loss]
        if all(x is None for x in new_losses) and loss is not None:
            raise ValueError("compile: every output's loss is None; give at least one")
        new_metrics = compile_utils.compiled_metrics(per_metrics, per_weighted, names)
        single = len(names) == 1
        outputs = []
        for k, (name, loss_k, weight) in enumerate(zip(names, new_losses, weights)):
            act = self._output_activation(k) or call_support.fused_output_activation(self, k)
            fused = act if (loss_k is not None and act is not None and hasattr(loss_k, "supports_fused")
                            and loss_k.supports_fused(act.name)) else None
            outputs.append(compile_utils.OutputLoss(k, name, loss_k, weight, fused,
                                                    None if single else f"{name}_loss"))
        compiled = [o.tracker for o in outputs if o.tracker is not None] + new_metrics
        self.optimizer, self.compiled_metrics, self._outputs = new_optimizer, compiled, outputs
        self.loss = new_losses[0] if single else new_losses
        self.loss_weight = weights[0]
        self._fused_logits = tuple(o.index for o in outputs if o.fused is not None)
        # The variables trained are fixed at compile (at the first step if the model is not built yet): as in
        # Keras, changing `trainable` takes effect at the next compile.
        self._variables_to_train = self._trainable_variables() if self.built else None
        self._regularized = None
        self._chain_step = None
        self._replicas_synced = False
        variable.release_gradient_flags()
        self._compile_args = {"loss": loss, "loss_weights": loss_weights, "metrics": metrics,  # for saving
                              "weighted_metrics": weighted_metrics}
        self.compiled = True

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A model from its get_config(); pynn.Model.from_config rebuilds a functional model, as Keras's, and
        a subclassed model's class is called on its config (its constructor's arguments)."""
        from pynn.models.functional import Functional
        if cls._call_style and not ("layers" in config and "input_layers" in config):
            return cls(**config)
        return Functional.from_config(config, custom_objects)

    def build_from_config(self, config):
        """Build for the input shape of a saved build_config ({"input_shape": ...}): a subclassed model's first
        input may have been a list of arrays (a list of shapes) or a dict of them (a dict of shapes)."""
        shape = config.get("input_shape")
        if shape is None:
            return
        if not self._call_style:
            self.build(tuple(shape))
            return
        several = isinstance(shape, dict) or (isinstance(shape, (list, tuple)) and bool(shape)
                                                and isinstance(shape[0], (list, tuple)))
        self._take_input_structure(shape if several else None)
        shapes = list(shape.values()) if isinstance(shape, dict) else shape
        self.build_for([tuple(s) for s in shapes] if several else tuple(shape))

    def _output_activation(self, k):
        """The activation of the layer making output k when it can be fused into the loss, else None."""
        return None

    def _require_compiled(self, what):
        if self.optimizer is None or not self._outputs:
            raise RuntimeError(f"{what}: the model must be compiled first; call model.compile(optimizer, loss)")
        step = "test" if what in ("evaluate", "test_on_batch") else "train"
        if self.loss is None and not self._custom_step(step):
            raise RuntimeError(f"{what}: the model was compiled without a loss and does not override "
                               f"{step}_step; give compile a loss")

    # ------------------------------------------------------------------ custom steps (Keras 3's Trainer API)
    def _custom_step(self, kind):
        """Whether this model's class overrides train_step / test_step."""
        return getattr(type(self), f"{kind}_step") is not getattr(Model, f"{kind}_step")

    def train_step(self, data):
        """One optimizer step on `data` ((x, y), (x, y, sample_weight), or x when fit has no y); returns the
        logs {name: value}. fit calls it for every batch when a subclass overrides it, e.g.:

            def train_step(self, data):
                x, y = data
                with pynn.GradientTape() as tape:
                    y_pred = self(x, training=True)
                    loss = self.compute_loss(y=y, y_pred=y_pred)
                grads = tape.gradient(loss, self.trainable_weights)
                self.optimizer.apply(grads, self.trainable_weights)
                for metric in self.metrics:
                    metric.update_state(loss) if metric.name == "loss" else metric.update_state(y, y_pred)
                return {m.name: m.result() for m in self.metrics}

        The default runs the fused step fit runs when it is not overridden."""
        x, y, sample_weight = _unpack(data)
        value, y_pred = self._train_batch(x, y, sample_weight)
        return self._step_logs(value, x, y, y_pred, sample_weight)

    def test_step(self, data):
        """One evaluation step on `data`, as train_step without the update; evaluate calls an override."""
        x, y, sample_weight = _unpack(data)
        value, y_pred = self._test_batch(x, y, sample_weight)
        return self._step_logs(value, x, y, y_pred, sample_weight)

    def _step_logs(self, value, x, y, y_pred, sample_weight):
        self._loss_tracker.update_state(value, sample_weight=num_rows(x))
        for m in self.compiled_metrics:
            m.update_state(y, y_pred, sample_weight)
        return {m.name: m.result() for m in self.metrics}

    @property
    def _loss_tracker(self):
        tracker = self.__dict__.get("_loss_tracker_metric")
        if tracker is None:
            from pynn.metrics import Mean
            tracker = self._loss_tracker_metric = Mean(name="loss")
        return tracker

    @property
    def metrics(self):
        """The loss tracker ("loss") and the compiled metrics; train_step overrides update these (or
        override this property to list their own trackers, which fit resets at each epoch)."""
        return [self._loss_tracker] + list(self.compiled_metrics)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of y_pred against y (each output's loss times its weight), plus the weight
        regularizers' penalties and the add_loss() terms of the last call: a Tensor to differentiate inside
        a GradientTape."""
        from pynn.ops import numpy_ops as ops
        from pynn.ops.tensor import Tensor
        terms = []
        single = len(self._outputs) == 1
        for o in self._outputs:
            if o.loss is None:
                continue
            yk = y if single else y[o.index]
            pk = y_pred if single else y_pred[o.index]
            swk = sample_weight if single else compile_utils.output_weight(sample_weight, o.index)
            term = o.loss(yk, pk, swk)
            terms.append(term if o.weight == 1.0 else ops.multiply(term, o.weight))
        for w in self.weights:
            if w.regularizer is not None:
                terms.append(_regularizer_term(w))
        terms += [v for layer in self._self_and_sublayers() for v in layer._added_losses]
        if not terms:
            return Tensor(np.zeros((), self.dtype))
        total = terms[0]
        for t in terms[1:]:
            total = ops.add(total, t)
        return total

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    def build_for(self, input_shape):
        """A subclassed model builds at its first data (Keras builds it at its first call): its build() if
        it has one, then a dry call() on zeros gives its output shape."""
        built = self.built
        Layer.build_for(self, input_shape)
        if self._call_style and not built:
            self.output_shape = self.compute_output_shape(self.input_shape)

    @property
    def layers(self):
        """A subclassed model's layers: those assigned to its attributes, in assignment order."""
        return self._sublayers()

    # ------------------------------------------------------------------ one batch
    def _trainable_variables(self):
        if not self.trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        return _unique(own + [w for layer in self.layers for w in layer.trainable_weights])

    def _claim_gradients(self):
        """Make backward passes compute gradients for exactly the variables this model trains."""
        variable.claim_gradient_flags(self, self.weights, {id(v) for v in self._variables_to_train})

    def _train_batch(self, x, y, sample_weight):
        """One optimizer step; returns (loss including regularization, predictions)."""
        if self._variables_to_train is None:
            self._variables_to_train = self._trainable_variables()
        if not self._replicas_synced:
            self._sync_replicas()
        if variable.gradient_flags_owner is not self:
            self._claim_gradients()
        variables = self._variables_to_train
        chain = self._chain_step
        if chain is None:
            chain = self._chain_step = dense_chain.chain_step(self) or False
        if chain and sample_weight is None:
            result = chain(x, y)
            if result is not None:
                _require_finite_loss(result[0])
                self.optimizer.apply(variables)
                return result
        for v in variables:
            v.zero_grad()
        out, ctx = self.forward(x, training=True, logits=self._fused_logits)
        if len(self._outputs) == 1:
            value, dout, y_pred = self._outputs[0].value_and_gradient(y, out, sample_weight)
        else:
            value, dout, y_pred = 0.0, [], []
            for o in self._outputs:
                v, d, p = o.value_and_gradient(y[o.index], out[o.index],
                                               compile_utils.output_weight(sample_weight, o.index))
                value += v
                dout.append(d)
                y_pred.append(p)
        self.backward_weights(ctx, dout)
        value = value + self._regularization(add_gradients=True) + ctx_activity_loss(ctx)
        _require_finite_loss(value)
        self.optimizer.apply(variables)
        return value, y_pred

    def _sync_replicas(self):
        """With a DistributedOptimizer (pynn.distributed), every rank takes rank 0's weights and optimizer state:
        at the start of each fit and at the first step after compile (train_on_batch loops)."""
        synchronize = getattr(self.optimizer, "synchronize_model", None)
        if synchronize is not None and self.built:
            synchronize(self)
        self._replicas_synced = self.built

    def _regularization(self, add_gradients=False):
        """The weight regularizers' penalty (each variable once, shared or nested ones included); with
        add_gradients, their gradients are added to the variables being trained."""
        regularized = self._regularized
        if regularized is None:
            regularized = self._regularized = [w for w in self.weights if w.regularizer is not None]
        total = 0.0
        for w in regularized:
            total += float(w.regularizer(w.value))
            if add_gradients and w.requires_grad:
                w.grad += w.regularizer.gradient(w.value)
        return total

    def regularization_loss(self):
        return self._regularization()

    def add_regularization_gradients(self):
        for w in self.weights:
            if w.regularizer is not None and w.requires_grad:
                w.grad += w.regularizer.gradient(w.value)

    def _test_batch(self, x, y, sample_weight):
        y_pred, ctx = self.forward(x, training=False)
        if len(self._outputs) == 1:
            value = self._outputs[0].value(y, y_pred, sample_weight)
        else:
            value = sum(o.value(y[o.index], y_pred[o.index], compile_utils.output_weight(sample_weight, o.index))
                        for o in self._outputs)
        return value + self._regularization() + ctx_activity_loss(ctx), y_pred

    # ------------------------------------------------------------------ public API
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        """Train for `epochs` epochs; returns a History (also kept as model.history).

        x and y are arrays (lists or dicts of arrays for several inputs or outputs), or x is a generator or a
        PyDataset of (x, y[, sample_weight]) batches, with y None; validation_data likewise. Every argument
        and the whole of x, y, sample_weight, class_weight and validation_data are checked before the first
        step (pynn.training.validation); a generator's batches are checked one by one. A step whose loss is
        NaN or infinite raises FloatingPointError before the optimizer applies it; Ctrl-C takes effect
        between steps."""
        self._require_compiled("fit")
        stream = data_adapters.is_stream(x)
        if stream:
            _stream_arguments("fit", y=y, sample_weight=sample_weight, batch_size=batch_size,
                              validation_split=validation_split)
        batch_size, val_batch_size = validation.fit_arguments(
            batch_size, epochs, initial_epoch, steps_per_epoch, validation_split, validation_batch_size,
            validation_freq, shuffle)
        if validation_steps is not None:
            validation.positive_int(validation_steps, "validation_steps", "fit")
        verbose = validation.verbose_level(verbose, "fit")
        if stream:
            data = StreamBatches(x, data_adapters.training_checker(self, "fit", class_weight), steps_per_epoch,
                                 shuffle)
        else:
            x, y, sample_weight = validation.validate_arrays(self, x, y, sample_weight, "fit", class_weight)
            if validation_data is None and validation_split:
                split = int(num_rows(x) * (1 - validation_split))
                if split == 0 or split == num_rows(x):
                    raise ValueError(f"fit: validation_split={validation_split} of {num_rows(x)} samples leaves "
                                     f"{split} for training and {num_rows(x) - split} for validation; both need one")
                head, tail = slice(None, split), slice(split, None)
                validation_data = (take_rows(x, tail), take_rows(y, tail), take_rows(sample_weight, tail))
                x, y, sample_weight = take_rows(x, head), take_rows(y, head), take_rows(sample_weight, head)
                validation_data = ArrayBatches(*validation_data, val_batch_size, steps=validation_steps)
            data = ArrayBatches(x, y, sample_weight, batch_size, shuffle, steps_per_epoch)
        if validation_data is not None and not isinstance(validation_data, ArrayBatches):
            validation_data = self._evaluation_data(validation_data, None, None, val_batch_size, validation_steps,
                                                    "fit (validation_data)")
        try:
            loop = EpochLoop(self, verbose, callbacks, epochs, add_history=True)
            return loop.run(data, validation_data, initial_epoch, validation_freq)
        finally:
            data.close()
            if validation_data is not None:
                validation_data.close()

    def _evaluation_data(self, x, y, sample_weight, batch_size, steps, what):
        """The batch source evaluate (or fit's validation) reads: arrays checked whole, or a stream."""
        if data_adapters.is_stream(x):
            _stream_arguments(what, y=y, sample_weight=sample_weight)
            return StreamBatches(x, data_adapters.training_checker(self, what), steps)
        if what.startswith("fit"):
            x, y, sample_weight = validation.validation_arrays(self, x)
        else:
            x, y, sample_weight = validation.validate_arrays(self, x, y, sample_weight, what)
        return ArrayBatches(x, y, sample_weight, batch_size, steps=steps)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss and metrics on (x, y) (or a generator / PyDataset x): a scalar when there are no metrics, else
        [loss, *metrics]."""
        self._require_compiled("evaluate")
        if data_adapters.is_stream(x) and batch_size is not None:
            _stream_arguments("evaluate", batch_size=batch_size)
        batch_size = validation.positive_int(batch_size, "batch_size", "evaluate", default=32)
        if steps is not None:
            validation.positive_int(steps, "steps", "evaluate")
        verbose = validation.verbose_level(verbose, "evaluate")
        data = self._evaluation_data(x, y, sample_weight, batch_size, steps, "evaluate")
        try:
            logs = EpochLoop(self, verbose, callbacks).evaluate(data)
        finally:
            data.close()
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs for x (or for the batches of a generator / PyDataset), computed in batches (no
        training behaviour)."""
        stream = data_adapters.is_stream(x)
        if stream and batch_size is not None:
            _stream_arguments("predict", batch_size=batch_size)
        batch_size = validation.positive_int(batch_size, "batch_size", "predict", default=32)
        if steps is not None:
            validation.positive_int(steps, "steps", "predict")
        verbose = validation.verbose_level(verbose, "predict")
        if stream:
            data = StreamBatches(x, data_adapters.predict_checker(self), steps)
        else:
            x = validation.model_inputs(self, x, "predict", training=False)
            if num_rows(x) == 0:
                shapes = self.output_shape if isinstance(self.output_shape, list) else [self.output_shape]
                empty = [np.empty((0,) + tuple(s[1:]), self.dtype) for s in shapes]
                return empty if isinstance(self.output_shape, list) else empty[0]
            data = ArrayBatches(x, None, None, batch_size, steps=steps)
        try:
            if verbose != 1 and not callbacks:      # nothing to show or call back: the batches alone
                return predict_quietly(self, data)
            return EpochLoop(self, verbose, callbacks).predict(data)
        finally:
            data.close()

    def __call__(self, x, training=None, **kwargs):
        if self._call_style and not is_symbolic(x):
            return self._call_eager(x, training, kwargs)
        if type(x) is np.ndarray and not training and not kwargs and not _recording():     # the inference path
            return self._predict_batch(self._as_input(x))
        if is_symbolic(x):
            return super().__call__(x, training=training, **kwargs)
        if kwargs:
            raise ValueError(f"Model '{self.name}': unknown keyword argument(s) {sorted(kwargs)}")
        if _recording() or _has_tensor(x):       # inside a GradientTape or another layer's call()
            from pynn.layers import call_support
            return call_support.record_builtin(self, x, training, **kwargs)
        if training:
            return self.forward(self._as_input(x), training=True)[0]
        return self._predict_batch(self._as_input(x))

    def _predict_batch(self, x):
        """The outputs for one batch, training=False, no context kept (subclasses run a leaner plan)."""
        if self._call_style:
            return self.inference()(x)
        return self.forward(x, training=False)[0]

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on (x, y), checked first like fit's data; atomic with respect to Ctrl-C."""
        self._require_compiled("train_on_batch")
        x, y, sample_weight = validation.validate_arrays(self, x, y, sample_weight, "train_on_batch",
                                                         class_weight)
        for m in self.compiled_metrics:
            m.reset_state()
        with StepGuard() as guard, guard.step:
            value, y_pred = self._train_batch(x, y, sample_weight)
        return self._batch_logs(value, y, y_pred, sample_weight, return_dict)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sample_weight = validation.validate_arrays(self, x, y, sample_weight, "test_on_batch")
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
            logs[m.name] = log_value(m.result())
        if return_dict:
            return logs
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def _as_input(self, x):
        """x as the forward pass takes it: a C-contiguous array of the model's dtype (integers kept for an
        index input, see index_inputs), or a list of them for a model with several inputs (a dict is ordered by
        input name)."""
        if type(x) is np.ndarray and x.dtype == self.dtype and x.flags.c_contiguous:
            return x
        if self._call_style:
            from pynn.layers import call_support
            return call_support.map_structure(
                lambda v: np.ascontiguousarray(v if np.asarray(v).dtype.kind in "iub" else
                                               np.asarray(v, self.dtype)), x)
        if isinstance(x, (list, tuple, dict)):
            if not self.takes_list:
                raise ValueError(f"Model '{self.name}' takes one input array, got a {type(x).__name__} of "
                                 f"{len(x)}")
            return [self._as_one_input(v, k) for k, v in enumerate(self._input_list(x, "predict"))]
        return self._as_one_input(x, 0)

    def _as_one_input(self, x, k):
        x = np.asarray(x)
        if x.dtype.kind in "iub" and self.index_inputs()[k]:
            return np.ascontiguousarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return np.ascontiguousarray(x)

    def index_inputs(self):
        """Per input, whether it holds indices that stay integers (a float32 cast would round those above
        2**24): inputs declared integer (Input(dtype="int32")) and those read only by index-taking layers
        (Embedding). Subclasses with a graph say which; a model without one has none."""
        if not getattr(self, "takes_list", False):
            return [False]
        return [False] * len(self.inputs if hasattr(self, "inputs") else self.input_shape)

    def _input_list(self, x, what):
        """The arrays of a multi-input model's x (a list in input order or a dict by input name): a subclassed
        model's, as its first input gave them (a list, or a dict whose keys it keeps)."""
        keys = self._input_keys
        count = len(keys) if keys is not None else (len(self.input_shape) if self.built else None)
        if isinstance(x, dict):
            if keys is None:
                raise ValueError(f"{what}: model '{self.name}' takes a list of {count} inputs, got a dict")
            missing = [k for k in keys if k not in x]
            if missing:
                raise ValueError(f"{what}: model '{self.name}' has inputs {keys}; missing {missing}")
            return [x[k] for k in keys]
        if not isinstance(x, (list, tuple)):
            raise ValueError(f"{what}: model '{self.name}' takes {count} inputs (a list or dict of arrays), got "
                             f"one {type(x).__name__}")
        if count is not None and len(x) != count:
            raise ValueError(f"{what}: model '{self.name}' takes {count} inputs, got a list of {len(x)}")
        return list(x)

    # ------------------------------------------------------------------ weights
    @property
    def weights(self):
        """Every layer's variables, each once (a shared layer's or nested model's too), in layer order."""
        return _unique(list(self._weights) + [w for layer in self.layers for w in layer.weights])

    @property
    def trainable_weights(self):
        return self._trainable_variables()

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        # As in Keras, a model's flag is every layer's: freezing a model freezes each of its layers.
        self._trainable = bool(value)
        for layer in getattr(self, "layers", []):
            layer.trainable = value
        variable.release_gradient_flags()

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights):
        weights = list(weights)
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"set_weights: model '{self.name}' has {len(own)} weights, got {len(weights)}")
        for var, value in zip(own, weights):
            if np.shape(value) != var.shape:
                raise ValueError(f"set_weights: model '{self.name}', weight '{var.name}' expects shape "
                                 f"{var.shape}, got {np.shape(value)}")
        for var, value in zip(own, weights):
            var.assign(value)

    def count_params(self):
        return int(sum(w.value.size for w in self.weights))

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

    def quantize(self, mode, calibration_data=None, calibration_steps=None, **kwargs):
        """Keras 3's Model.quantize: every layer of the model that quantizes (in nested models and wrappers too;
        the others are skipped, as in Keras) turns its kernels int8 (`mode` "int8"): Dense, Conv1D, Conv2D,
        DepthwiseConv2D, SeparableConv2D, Embedding, SimpleRNN, LSTM, GRU (see pynn.layers.quantization).

        The int8 products quantize their inputs per row at each call (dynamic, Keras's way), or, given
        `calibration_data` (pynn's static mode), with one fixed scale per layer input: the float model first
        predicts calibration_data (arrays as predict takes them, or a generator / PyDataset of batches, read for
        `calibration_steps` batches when given) and each layer keeps 127 / (max |input| + 1e-7) as its
        inputs_scale weight; later inputs beyond that max clip. The model then predicts, evaluates and saves; to
        train it again, `dequantize()` first.
        """
        from pynn.layers import quantization
        targets = [layer for layer in self._self_and_sublayers()
                   if layer is not self and callable(getattr(layer, "quantize", None))
                   and not isinstance(layer, Model) and layer.weights]
        if not targets:
            raise ValueError(f"Model '{self.name}': no layer to quantize (pynn quantizes Dense, Conv1D, Conv2D, "
                             "DepthwiseConv2D, SeparableConv2D, Embedding, SimpleRNN, LSTM and GRU layers)")
        if mode != quantization.MODE:
            raise ValueError(f"Model '{self.name}': quantization mode {mode!r} is not supported; pynn quantizes to "
                             "'int8'")
        pending = [layer for layer in targets if getattr(layer, "quantization_mode", None) is None]
        for layer in pending:           # the layers' own checks, before any of them changes
            if not layer.built:
                raise ValueError(f"Model '{self.name}': layer '{layer.name}' is not built; build the model (call it "
                                 "on data, or start it with an Input) before quantizing it")
            if layer.dtype != np.float32:
                raise ValueError(f"Model '{self.name}': int8 quantization takes float32 layers, layer "
                                 f"'{layer.name}' is {layer.dtype}")
        absmax = {}
        if calibration_data is not None:
            static = [layer for layer in pending if getattr(layer, "_static_inputs", None)]
            dynamic = [layer.name for layer in pending if getattr(layer, "_static_inputs", None) is None]
            if dynamic:
                warnings.warn(f"Model '{self.name}': layer(s) {dynamic} have no static mode; their inputs stay "
                              "quantized per row at each call", stacklevel=2)
            if static:
                absmax = quantization.calibrate(self, static, calibration_data, calibration_steps)
        elif calibration_steps is not None:
            raise ValueError(f"Model '{self.name}': calibration_steps given without calibration_data")
        for layer in pending:
            maxima = absmax.get(id(layer))
            static = {} if maxima is None else {"input_absmax": maxima[0] if len(maxima) == 1 else maxima}
            layer.quantize(mode, **static, **kwargs)
        self._after_weights_replaced()

    def dequantize(self):
        """The quantized layers' float32 kernels back (pynn's): to fine-tune a quantized model. The kernels are
        new variables: compile again before fit, so that the optimizer starts their state afresh."""
        for layer in self._self_and_sublayers():
            if layer is not self and getattr(layer, "quantization_mode", None) is not None:
                layer.dequantize()
        self._after_weights_replaced()

    def _after_weights_replaced(self):
        for layer in self._self_and_sublayers():
            if callable(getattr(layer, "_refresh_weights", None)):    # wrappers that list their layers' weights
                layer._refresh_weights()
        self._forget_compiled_steps()

    def _forget_compiled_steps(self):
        """After weights were replaced: the inference plans and the training step are rebuilt when next used."""
        for model in self._self_and_sublayers():
            if isinstance(model, Model):
                model._variables_to_train = None
                model._chain_step = None
                if hasattr(model, "_plan"):
                    model._plan = None

    def export(self, filepath, format="onnx", verbose=None, input_signature=None, opset_version=None):
        """Export the model for inference elsewhere (Keras 3's API); format "onnx" is the one pynn writes
        (needs `pip install "pynn[onnx]"`). See pynn.export.export_onnx for the graph and its inputs."""
        if format != "onnx":
            raise ValueError(f"Model.export: format {format!r} is not supported; pynn exports format='onnx'")
        from pynn.export import export_onnx
        return export_onnx(self, filepath, opset=opset_version, input_signature=input_signature,
                           verbose=bool(verbose))

    @property
    def metrics_names(self):
        """The names of what evaluate returns, in its order: "loss", then each compiled metric."""
        return ["loss"] + [m.name for m in self.compiled_metrics]

    def to_json(self, **kwargs):
        """The architecture as a JSON string (no weights): pynn.models.model_from_json makes the model again."""
        import json
        from pynn.saving import serialize_keras_object
        return json.dumps(serialize_keras_object(self), **kwargs)

    def get_layer(self, name=None, index=None):
        """The layer called `name` (or at position `index` of model.layers)."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"Model '{self.name}' has no layer named {name!r}; its layers: "
                         f"{[layer.name for layer in self.layers]}")


def _unique(variables):
    seen, out = set(), []
    for w in variables:
        if id(w) not in seen:
            seen.add(id(w))
            out.append(w)
    return out


def _unpack(data):
    """(x, y, sample_weight) from what a step gets."""
    if isinstance(data, tuple) and 1 <= len(data) <= 3:
        return tuple(data) + (None,) * (3 - len(data))
    return data, None, None


def _regularizer_term(w):
    """A weight's penalty as a graph node whose product is the regularizer's gradient."""
    from pynn.ops import tensor as tensor_module
    from pynn.ops.tensor import Tensor
    value = np.asarray(w.regularizer(w.value), w.dtype)
    leaf = tensor_module.variable_leaf(w)
    if not isinstance(leaf, Tensor):
        return Tensor(value)
    return Tensor(value, (leaf,), lambda g: (w.regularizer.gradient(w.value) * g,), "regularizer", traced=True)


def ctx_activity_loss(ctx):
    """The activity-regularization penalties recorded by the forward pass (see Functional.forward)."""
    return ctx.get("activity_loss", 0.0) if isinstance(ctx, dict) else 0.0


def _require_finite_loss(value):
    """A step whose loss is NaN or infinite is refused before the optimizer applies it."""
    if not np.isfinite(value):
        raise FloatingPointError(
            f"the training loss is {float(value)}; this step was not applied (the weights and the optimizer are "
            "as after the previous step). Check the inputs' scale and the learning rate.")


def _stream_arguments(what, **given):
    """A generator or PyDataset carries its own targets, weights and batching: refuse arguments that would be
    ignored."""
    for name, value in given.items():
        if value is not None and not (name == "validation_split" and not value):
            raise ValueError(f"{what}: {name} is not taken with a generator or PyDataset as x (its batches "
                             "carry their own); leave it out")
