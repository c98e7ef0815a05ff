"""The Layer base class: the contract every layer follows."""
import itertools
import re
import sys
import weakref

import numpy as np

from pynn import variable
from pynn.layers import call_support
from pynn.layers.node import is_symbolic, symbolic_call
from pynn.variable import Variable

_name_counters = {}


def _auto_name(cls_name):
    # Keras's snake case: LSTM -> lstm, SimpleRNN -> simple_rnn, TimeDistributed -> time_distributed.
    base = re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", cls_name)).lower()
    count = _name_counters.setdefault(base, itertools.count())
    n = next(count)
    return base if n == 0 else f"{base}_{n}"


# Per-layer arrays kept for reuse by Layer._reused_array, outside the layers themselves (nothing to pickle or copy).
_REUSED = weakref.WeakKeyDictionary()


def _cached_refcount():
    cache = {0: np.empty(0)}
    return sys.getrefcount(cache[0])


_ONLY_CACHED = _cached_refcount()   # the reference count of an array that only its cache entry holds


class Layer:
    """Base class of all layers: explicit forward and backward, weights owned by the layer.

    A layer is built once, from the shape of its first input (`build(input_shape)`, batch dimension
    included as None), where it creates its weights with `add_weight`. Then:

    - `forward(x, training) -> (y, ctx)`: the output, and a context holding what backward needs. The
      context belongs to the call, not to the layer, so one layer can be called twice in a graph.
    - `backward(ctx, dy) -> dx`: the gradient with respect to the input. Weight gradients are *added*
      to each weight's `.grad` (the model zeroes them before a step).
    - `compute_output_shape(input_shape)`: the output shape for an input shape (batch dim included).

    `layer(x)` on a NumPy array builds the layer if needed and returns `forward(x, training=False)[0]`.

    Every layer takes `name`, `dtype` (float32 by default), `trainable` and `activity_regularizer`; the
    first layer of a Sequential also takes `input_shape=` / `input_dim=`. An unknown keyword raises
    ValueError naming it.

    Example, a complete custom layer (y = x * scale, one weight per feature):

        class Scale(pynn.layers.Layer):
            def build(self, input_shape):
                self.scale = self.add_weight("scale", (input_shape[-1],), initializer="ones")

            def forward(self, x, training=False):
                return x * self.scale.value, x          # ctx: what backward needs

            def backward(self, x, dy):
                self.scale.grad += (dy * x).reshape(-1, x.shape[-1]).sum(axis=0)
                return dy * self.scale.value

            def get_config(self):
                return super().get_config()             # add constructor arguments here
    """

    # ------------------------------------------------------------------ call-style layers (Keras 3's way)
    # A class that defines call() below its last forward() is call-style (pynn.layers.call_support): the
    # engine runs call() while recording ops and differentiates the recorded graph. `_native_forward` is the
    # forward of the built-in layer it extends (Layer.call runs it as one graph node: super().call(x)).
    _call_style = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__

        def depth(attr):
            return next(i for i, c in enumerate(mro) if attr in c.__dict__)
        if depth("call") < depth("forward"):
            if not cls.__dict__.get("_call_style"):
                native = mro[depth("forward")]
                cls._native_base = native
                cls._native_forward = native.forward if native is not Layer else None
            cls._call_style = True
            cls.forward = Layer._call_forward
            cls.backward = Layer._call_backward
            cls.backward_weights = Layer._call_backward_weights
            cls.inference = Layer._call_inference
            if depth("compute_output_shape") > depth("call"):
                cls.compute_output_shape = Layer._call_output_shape

    def __init__(self, name=None, dtype=None, trainable=True, activity_regularizer=None, input_shape=None,
                 input_dim=None, batch_size=None, batch_input_shape=None, **kwargs):
        if kwargs:
            raise ValueError(f"{type(self).__name__}: unknown keyword argument(s) {sorted(kwargs)}")
        self.name = name or _auto_name(type(self).__name__)
        self.dtype = np.dtype(dtype or "float32")
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"{self.name}: expected dtype float32 or float64, got {self.dtype}")
        self._trainable = bool(trainable)
        from pynn import regularizers
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        elif input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        self._declared_input_shape = None if input_shape is None else tuple(input_shape)
        self.built = False
        self.input_shape = None      # the batch input shape it was built for, e.g. (None, 784)
        self._weights = []
        self._inbound_nodes = []     # the calls on symbolic tensors (functional API): pynn.layers.node
        self._added_losses = []      # add_loss() values of the last call

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        """Create the weights for inputs of this shape (batch dimension included, as None)."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # ------------------------------------------------------------------ masks
    # A mask (batch, timesteps) of booleans marks the valid steps of padded sequences. Layers that make one
    # (Embedding(mask_zero=True), Masking) set produces_mask and return it from compute_mask; layers that
    # pass it on unchanged set supports_masking; layers that use it (LSTM, GRU, ...) set uses_mask and
    # take forward(x, training, mask=...). A Sequential model threads the mask from layer to layer.
    supports_masking = False
    uses_mask = False
    produces_mask = False

    def compute_mask(self, x, mask):
        """The mask of this layer's output, given its input x and the input's mask (None: no mask)."""
        return mask if self.supports_masking else None

    def add_weight(self, *args, shape=None, initializer=None, regularizer=None, constraint=None, trainable=True,
                   dtype=None, name=None, autocast=True, aggregation=None):
        """Create, register and return a Variable initialised by `initializer`.

        Keras 3's keywords (`add_weight(shape=(n,), initializer="zeros", trainable=True, name="w")`, shape
        first when positional, name optional) and pynn's positional (name, shape[, initializer]) both work.
        The initializer defaults to glorot_uniform for float weights and zeros otherwise, as in Keras.
        """
        from pynn import constraints, initializers, regularizers
        args = list(args)
        if args and isinstance(args[0], str):
            name = args.pop(0)
        given = dict(zip(("shape", "initializer", "regularizer", "constraint", "trainable", "dtype"), args))
        if len(args) > 6:
            raise TypeError(f"Layer '{self.name}': add_weight got {len(args)} positional arguments")
        shape = given.get("shape", shape)
        initializer = given.get("initializer", initializer)
        regularizer = given.get("regularizer", regularizer)
        constraint = given.get("constraint", constraint)
        trainable = given.get("trainable", trainable)
        dtype = given.get("dtype", dtype)
        if shape is None:
            shape = ()
        dtype = np.dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        if name is None:
            name = f"variable_{len(self._weights)}" if self._weights else "variable"
        try:
            shape = tuple(int(d) for d in shape) if not isinstance(shape, (int, np.integer)) else (int(shape),)
        except TypeError:
            raise ValueError(f"Layer '{self.name}': add_weight shape must be a tuple of ints, got {shape!r}") from None
        value = initializers.get(initializer)(shape, dtype=dtype)
        var = Variable(np.asarray(value, dtype=dtype), name=name, trainable=trainable,
                       regularizer=regularizers.get(regularizer), constraint=constraints.get(constraint))
        var.requires_grad = var.trainable and self._trainable
        self._weights.append(var)
        return var

    # Input axes (after the batch axis, counted from 1) whose size may change from call to call: the
    # timesteps axis of sequence layers. build_for records them as None.
    variable_axes = ()

    # Layers whose forward takes a list of arrays (the merge layers) set this; build and compute_output_shape
    # then get a list of shapes.
    takes_list = False
    # A call-style layer or subclassed model first called on a dict: its keys, in order. The engine hands it
    # a list of arrays in that order, which call() gets back as a dict (call_support.run_call).
    _input_keys = None

    def build_for(self, input_shape):
        """Build once; afterwards check that new inputs match the built shape."""
        if self.takes_list:
            input_shape = [tuple(s) for s in input_shape]
        else:
            input_shape = tuple(input_shape)
        if not self.built:
            def free(shape):
                return tuple(None if i == 0 or i in self.variable_axes else d for i, d in enumerate(shape))
            self.input_shape = [free(s) for s in input_shape] if self.takes_list else free(input_shape)
            self.build(self.input_shape)
            self.built = True
        elif not self._call_style:
            self.check_input_shape(input_shape)

    def check_input_shape(self, input_shape):
        want = self.input_shape
        if self.takes_list:
            if len(input_shape) != len(want):
                raise ValueError(f"Layer '{self.name}': expected {len(want)} inputs, got {len(input_shape)}")
            pairs = list(zip(want, input_shape))
        else:
            pairs = [(want, input_shape)]
        for i, (w, g) in enumerate(pairs):
            if len(g) != len(w) or any(a is not None and b is not None and a != b for a, b in zip(w[1:], g[1:])):
                which = f" input {i}" if self.takes_list else ""
                raise ValueError(f"Layer '{self.name}':{which} expected input of shape {w}, got {tuple(g)}")

    def check_initial_state_shapes(self, shapes):
        raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) does not take initial_state")

    # ------------------------------------------------------------------ computing
    def forward(self, x, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x, training) -> (y, ctx)")

    def backward(self, ctx, dy):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(ctx, dy) -> dx")

    def backward_weights(self, ctx, dy):
        """Accumulate the weight gradients only: what a model's first layer needs (no one uses its dx).

        Layers whose input gradient is expensive (Dense: a GEMM with the kernel transposed) override this.
        """
        self.backward(ctx, dy)

    # ------------------------------------------------------------------ call-style machinery
    def call(self, inputs, training=None, **kwargs):
        """Keras's call(): a subclass that overrides it is differentiated automatically (call_support).
        On a built-in layer, this runs its fused forward as one node of the recorded graph, so that a
        subclass's call() may use super().call(inputs)."""
        if self._call_style:
            if getattr(type(self), "_native_forward", None) is None:
                raise NotImplementedError(f"Layer '{self.name}' ({type(self).__name__}) must define call()")
            return _NativeView(self)(inputs, training, **kwargs)
        return call_support.record_builtin(self, inputs, training, **kwargs)

    def _call_forward(self, x, training=False, **kwargs):
        return call_support.call_forward(self, x, training, **kwargs)

    def _call_output_shape(self, input_shape):
        return call_support.infer_output_shape(self, input_shape)

    def _call_backward(self, ctx, dy):
        return call_support.call_backward(self, ctx, dy)

    def _call_backward_weights(self, ctx, dy):
        call_support.call_backward(self, ctx, dy, input_gradients=False)

    def _call_inference(self):
        from pynn.ops.tensor import value_of

        def run(x):
            out = call_support.run_call(self, x, False, {})
            return call_support.map_structure(lambda v: np.asarray(value_of(v)), out)
        return run

    def add_loss(self, loss):
        """Add a loss term (a scalar tensor computed in call(), e.g. a KL divergence) to the model's loss."""
        call_support.add_loss(self, loss)

    @property
    def losses(self):
        """The add_loss() terms of the last call (this layer's and its sublayers') and the weight penalties."""
        from pynn.ops.tensor import value_of
        out = [np.asarray(value_of(v)) for layer in self._self_and_sublayers() for v in layer._added_losses]
        out += [np.asarray(w.regularizer(w.value)) for w in self.weights if w.regularizer is not None]
        return out

    def _self_and_sublayers(self):
        seen, order, stack = set(), [], [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            order.append(layer)
            stack.extend(reversed(layer._sublayers()))
        return order

    def _sublayers(self):
        """The layers held in this layer's attributes (alone or in lists / tuples), in assignment order: a
        call-style layer's weights include theirs, as in Keras. Derived on each call, so reassigning an
        attribute drops the layer it held."""
        found, seen = [], {id(self)}
        for name, value in self.__dict__.items():
            if name == "_native_twin":
                continue
            items = value if isinstance(value, (list, tuple)) else (value,)
            for v in items:
                if isinstance(v, Layer) and id(v) not in seen:
                    seen.add(id(v))
                    found.append(v)
        return found

    def _reused_array(self, key, shape, dtype):
        """An uninitialised array for one of this layer's per-call results (its output, an input gradient):
        the previous call's array under `key` when nothing outside the cache holds it or a view of it any more
        (its reference count says so), else a new one, which the cache keeps for the next call.

        A training step then writes its large feature maps into memory it has already touched instead of
        fresh pages (page faults were about a third of a W2 step). An array the caller still holds, through
        any view or buffer, is never handed out again. Training only: the check and the handing out are two
        steps, so two threads running one layer's inference at once could both pass the check.
        """
        cache = _REUSED.setdefault(self, {})
        if key in cache and sys.getrefcount(cache[key]) == _ONLY_CACHED:
            buf = cache[key]
            if buf.shape == tuple(shape) and buf.dtype == dtype:
                return buf
        buf = cache[key] = np.empty(shape, dtype)
        return buf

    def inference(self):
        """The function x -> y that predict() and model(x) run: forward(x, training=False) with no context
        kept. None means the identity (Dropout). Layers override it to skip per-call work."""
        def run(x):
            return self.forward(x, False)[0]
        return run

    def __call__(self, x, training=None, **kwargs):
        """On arrays: build if needed and return forward(x, training)[0]. On symbolic tensors (Input and
        other layers' outputs): record the call in a functional graph and return symbolic outputs (a given
        `training` then fixes the mode of this call whatever the model runs in)."""
        if is_symbolic(x):
            return symbolic_call(self, x, training=training, **kwargs)
        if self._call_style:
            return self._call_eager(x, training, kwargs)
        if _has_tensor(x) or _recording():
            return call_support.record_builtin(self, x, training, **kwargs)
        training = bool(training)
        if kwargs:
            raise ValueError(f"Layer '{self.name}': unknown keyword argument(s) {sorted(kwargs)}")
        if self.takes_list:
            x = [np.ascontiguousarray(v, dtype=self.dtype) for v in x]
            self.build_for([v.shape for v in x])
        else:
            if isinstance(x, (list, tuple)):
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) takes one input array, got a "
                                 f"{type(x).__name__} of {len(x)}")
            x = np.ascontiguousarray(x, dtype=self.dtype)
            self.build_for(x.shape)
        return self.forward(x, training)[0]

    def _call_eager(self, x, training, kwargs):
        """A call-style layer called directly: on Tensors (inside another call() or a GradientTape) its ops
        join the caller's graph; on arrays it returns arrays."""
        from pynn.ops.tensor import value_of
        arrays_in = not _has_tensor(x)
        if not self.built:
            self._take_input_structure(x)
            leaves = call_support.flatten(x)
            shapes = [tuple(np.shape(value_of(v))) for v in leaves]
            self.build_for(shapes if self.takes_list else shapes[0])
        self._added_losses = []
        out = call_support.run_call(self, x, training, kwargs)
        if arrays_in and not _recording():
            return call_support.map_structure(lambda v: np.asarray(value_of(v)), out)
        return out

    def _take_input_structure(self, x):
        """A call-style layer or subclassed model, not built yet, takes the structure of its first input: one
        array, a list / tuple of them (takes_list), or a dict of them (takes_list, and its keys)."""
        self.takes_list = isinstance(x, (list, tuple, dict))
        self._input_keys = list(x) if isinstance(x, dict) else None

    # ------------------------------------------------------------------ graph
    @property
    def input(self):
        """The symbolic tensor(s) this layer read in its first call on symbolic tensors (a list for several)."""
        node = self._first_node("input")
        inputs = node.main_inputs
        return list(inputs) if node.list_input or len(inputs) != 1 else inputs[0]

    @property
    def output(self):
        """The symbolic tensor(s) this layer made in its first call on symbolic tensors (a list for several):
        `pynn.Model(model.input, model.get_layer("conv").output)` extracts features."""
        node = self._first_node("output")
        return list(node.outputs) if node.list_output or len(node.outputs) != 1 else node.outputs[0]

    def _first_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic tensors and thus has no "
                                 f"defined {what}")
        return self._inbound_nodes[0]

    # ------------------------------------------------------------------ weights
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        # Takes effect for models at their next compile (they record which variables they train); a layer
        # used on its own stops computing weight gradients at once.
        self._trainable = bool(value)
        for w in self.weights:
            w.requires_grad = w.trainable and self._trainable
        variable.release_gradient_flags()

    @property
    def weights(self):
        if self._call_style:
            return _unique_variables(self._weights + [w for layer in self._sublayers() for w in layer.weights])
        return list(self._weights)

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        own = [w for w in self._weights if w.trainable]
        if self._call_style:
            return _unique_variables(own + [w for layer in self._sublayers() for w in layer.trainable_weights])
        return own

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def get_weights(self):
        return [w.numpy() for w in self._weights]

    def set_weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ValueError(f"Layer '{self.name}': expected {len(self._weights)} weight arrays, got {len(weights)}")
        for var, value in zip(self._weights, weights):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise ValueError(f"Layer '{self.name}': weight '{var.name}' expects shape {var.shape}, "
                                 f"got {value.shape}")
        for var, value in zip(self._weights, weights):
            var.assign(value)

    def count_params(self):
        return int(sum(w.value.size for w in self._weights))

    def regularization_loss(self):
        """The sum of the weight regularizers' penalties."""
        return float(sum(w.regularizer(w.value) for w in self._weights if w.regularizer is not None))

    def add_regularization_gradients(self):
        for w in self._weights:
            if w.regularizer is not None and w.requires_grad:
                w.grad += w.regularizer.gradient(w.value)

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype.name}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = serialize_argument(self.activity_regularizer)
        if self._declared_input_shape is not None:
            config["input_shape"] = self._declared_input_shape
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


def _unique_variables(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _has_tensor(x):
    from pynn.ops.tensor import Tensor
    if isinstance(x, (list, tuple)):
        return any(isinstance(v, Tensor) for v in x)
    return isinstance(x, Tensor)


def _recording():
    from pynn.ops import tensor
    return tensor._state.recording > 0


class _NativeView:
    """super().call(x) of a call-style subclass of a built-in layer: the built-in forward / backward as one
    graph node, run by a twin object of the built-in class that shares the layer's attributes (its __dict__),
    so the built-in methods see the built-in methods of self."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, inputs, training, **kwargs):
        layer = self.layer
        twin = layer.__dict__.get("_native_twin")
        if twin is None:
            cls = type(layer)
            native = cls.__dict__.get("_native_class")
            if native is None:
                native = type(cls._native_base.__name__, (cls._native_base,), {"__module__": cls.__module__})
                cls._native_class = native
            twin = object.__new__(native)
            twin.__dict__ = layer.__dict__
            layer._native_twin = twin
        return call_support.record_builtin(twin, inputs, training, **kwargs)


def serialize_argument(obj):
    """A JSON-friendly description of an initializer / regularizer / constraint argument, which the
    matching get() turns back into the object: None, a name, or {"class_name": ..., "config": ...}."""
    if obj is None or isinstance(obj, (str, dict)):
        return obj
    from pynn.saving import get_registered_name, serialize_keras_object
    if not hasattr(obj, "get_config"):  # a function: its registered name (unregistered ones raise ValueError)
        return serialize_keras_object(obj)["config"]
    return {"class_name": get_registered_name(type(obj)), "config": obj.get_config()}
