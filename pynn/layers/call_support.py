"""Layers written as Keras 3 writes them: `call()` with pynn.ops, differentiated automatically.

A layer class that defines `call` (and not a `forward` of its own below it) is *call-style*: the engine's
forward runs `call()` while recording, on leaf Tensors standing for the inputs, and keeps the recorded graph
as the context; backward replays the graph's vector-Jacobian products (pynn.ops.backprop), adding weight
gradients into each Variable's `.grad` like built-in layers do. So a custom layer, a subclassed Model and a
built-in layer train through one engine, and a built-in layer called inside `call()` is one node of the
graph whose product is its own fused backward.
"""
import inspect
import threading

import numpy as np

from pynn import kernels
from pynn.ops import backprop
from pynn.ops import tensor as tensor_module
from pynn.ops.tensor import Tensor
from pynn.variable import Variable


class _Collector(threading.local):
    def __init__(self):
        self.stack = []         # lists that add_loss appends to, innermost last


_losses = _Collector()


class _Fusing(threading.local):
    def __init__(self):
        self.depth = 0          # > 0 while a training forward whose loss fuses the output softmax runs call()


_fusing = _Fusing()


# ---------------------------------------------------------------- structures of arrays
def flatten(structure):
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    return [structure]


def pack_like(structure, flat):
    """`flat`'s items in the shape of `structure` (the inverse of flatten)."""
    it = iter(flat)

    def build(s):
        if isinstance(s, (list, tuple)):
            return type(s)(build(i) for i in s)
        if isinstance(s, dict):
            return {k: build(v) for k, v in s.items()}
        return next(it)
    return build(structure)


def map_structure(fn, structure):
    return pack_like(structure, [fn(v) for v in flatten(structure)])


# ---------------------------------------------------------------- calling call()
def call_arguments(cls):
    """Which of training / mask the class's call() accepts (cached on the class)."""
    cached = cls.__dict__.get("_call_arguments")
    if cached is None:
        params = inspect.signature(cls.call).parameters
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        cached = frozenset(n for n in ("training", "mask") if n in params or var_kw)
        cls._call_arguments = cached
    return cached


def run_call(layer, inputs, training, kwargs):
    """layer.call(inputs, ...) with Keras's optional arguments, errors naming the layer."""
    accepted = call_arguments(type(layer))
    keys = layer._input_keys
    if keys is not None and type(inputs) is list and len(inputs) == len(keys):    # the engine's list of a dict
        inputs = dict(zip(keys, inputs))
    if accepted or kwargs:
        kwargs = dict(kwargs)
        if "training" in accepted:
            kwargs["training"] = training
        if "mask" not in accepted:
            kwargs.pop("mask", None)
    try:
        out = layer.call(inputs, **kwargs)
    except (ValueError, TypeError, NotImplementedError, IndexError) as e:
        message = str(e)
        if message.startswith("Layer '"):
            raise
        raise type(e)(f"Layer '{layer.name}' ({type(layer).__name__}), in call(): {message}") from e
    if type(out) is Tensor:
        return out
    for leaf in flatten(out):
        if not isinstance(leaf, (Tensor, np.ndarray, Variable, float, int, np.generic)):
            raise TypeError(f"Layer '{layer.name}' ({type(layer).__name__}): call() must return arrays or "
                            f"tensors (or lists / tuples / dicts of them), got {type(leaf).__name__}")
    return out


def call_forward(layer, x, training=False, logits=(), mask=None, **kwargs):
    """The engine's forward for a call-style layer: (outputs as arrays, context)."""
    if type(x) is np.ndarray:
        leaves = Tensor(x, None, None, None, None, x.dtype.kind == "f")
    else:
        leaves = map_structure(lambda v: Tensor(np.asarray(v), traced=v.dtype.kind == "f"), x)
    if mask is not None:
        kwargs["mask"] = mask
    added = []
    layer._added_losses = []
    _losses.stack.append(added)
    state = tensor_module._state
    recording = state.recording
    state.recording = recording + 1           # tensor_module.record(), without its object
    fusing = bool(logits)
    _fusing.depth += fusing
    try:
        out = run_call(layer, leaves, training, kwargs)
    finally:
        state.recording = recording
        _fusing.depth -= fusing
        _losses.stack.pop()
    if logits:                   # compile fused the output's softmax into the loss (FusedSoftmax)
        z = softmax_logits(out) if layer.activity_regularizer is None else None
        layer._logits_returned = z is not None
        if z is not None:
            out = z
    if type(out) is Tensor:
        values = out.value
    else:
        values = map_structure(lambda t: np.asarray(tensor_module.value_of(t)), out)
    activity = float(sum(float(np.sum(tensor_module.value_of(a))) for a in added)) if added else 0.0
    return values, {"leaves": leaves, "out": out, "added": added, "activity_loss": activity}


# ---------------------------------------------------------------- a softmax output fused into the loss
def softmax_logits(out):
    """The traced logits when `out` is ops.softmax over the last axis of them (the op's last op), else None: a
    call() that ends in ops.softmax, or in a built-in layer with activation="softmax" (which record_builtin
    records as its logits followed by ops.softmax while the loss fuses the softmax: _split_softmax)."""
    if type(out) is Tensor and out._op == "softmax" and getattr(out._vjp, "last_axis_softmax", False):
        return out._inputs[0]
    return None


class FusedSoftmax:
    """The activation compile fuses into the loss for an output made by call() (a call-style output layer or
    subclassed model): as for a built-in Dense(activation="softmax"), the training step asks the forward pass
    for the logits and the loss computes softmax and cross-entropy and its gradient w.r.t. the logits in one
    kernel, so the softmax's own backward never runs. Whether call() ends in ops.softmax (over the last axis)
    is known only once it ran: a training forward that did not stop at the logits (call_forward sets
    `_logits_returned`) returned the output itself, and `name` is then "linear" (the loss's plain path, the
    same numbers as without fusion). predict / evaluate never ask for logits: the outputs stay probabilities.
    """

    def __init__(self, layer):
        self.layer = layer
        layer._logits_returned = None        # not known until a training forward ran

    @property
    def name(self):
        return "linear" if self.layer._logits_returned is False else "softmax"

    def forward(self, x):
        """The probabilities from the logits the forward pass returned (the kernel ops.softmax runs)."""
        if self.layer._logits_returned is False:
            return x
        return kernels.softmax(np.ascontiguousarray(x))


def fused_output_activation(model, k):
    """A FusedSoftmax for output k of `model` when a call-style layer (or the subclassed model itself) makes
    it alone, else None."""
    from pynn.models.functional import Functional
    layer = None
    if model._call_style:
        layer = model if k == 0 else None
    elif isinstance(model, Functional):
        if not model.built:                  # a Sequential without its input shape yet
            layers = getattr(model, "_layers", None)
            layer = layers[-1] if layers else None
        else:
            step = model._output_steps[k]
            if step is not None and not model._output_consumed[k] and not model._steps[step].list_output:
                layer = model._steps[step].layer
    if layer is None or not layer._call_style or layer.activity_regularizer is not None:
        return None
    return FusedSoftmax(layer)


def call_backward(layer, ctx, dy, input_gradients=True):
    """The engine's backward for a call-style layer: gradients for the inputs (same structure as x)."""
    out, added, leaves = ctx["out"], ctx["added"], ctx["leaves"]
    if type(out) is Tensor and not added and type(leaves) is Tensor:      # one array in, one out
        found = backprop.backprop([out], [dy], [leaves] if input_gradients else [])
        if not input_gradients:
            return None
        return found[0] if found[0] is not None else np.zeros_like(leaves.value)
    outs = flatten(out)
    grads = flatten(dy) if isinstance(out, (list, tuple, dict)) else [dy]
    targets = [o for o in outs] + [a for a in added if isinstance(a, Tensor)]
    seeds = list(grads) + [np.ones_like(a.value) for a in added if isinstance(a, Tensor)]
    flat_leaves = flatten(leaves)
    found = backprop.backprop([t if isinstance(t, Tensor) else None for t in targets], seeds,
                              flat_leaves if input_gradients else [])
    if not input_gradients:
        return None
    result = [g if g is not None else np.zeros_like(leaf.value) for g, leaf in zip(found, flat_leaves)]
    return pack_like(leaves, result)


def add_loss(layer, value):
    """Record a loss term from inside call(): it joins the model's loss (and its gradient) in training."""
    layer._added_losses.append(value)
    if _losses.stack:
        _losses.stack[-1].append(value)


def infer_output_shape(layer, input_shape):
    """compute_output_shape for a call-style layer that does not define it: call() on zeros, batch 1."""
    def zeros(shape):
        return np.zeros(tuple(1 if d is None else d for d in shape), layer.dtype)
    if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list)):
        x = [zeros(s) for s in input_shape]
    else:
        x = zeros(input_shape)
    out = run_call(layer, x, False, {})

    def shape_of(v):
        s = np.shape(tensor_module.value_of(v))
        return (None,) + tuple(s[1:])
    if isinstance(out, (list, tuple)):
        return [shape_of(v) for v in out]
    return shape_of(out)


# ---------------------------------------------------------------- built-in layers as graph nodes
def record_builtin(layer, x, training, **kwargs):
    """A built-in (forward / backward) layer called on Tensors or while recording: one graph node whose
    vector-Jacobian product is the layer's own backward."""
    if _fusing.depth and "logits" not in kwargs and _split_softmax(layer):
        from pynn.ops import nn
        return nn.softmax(record_builtin(layer, x, training, logits=True, **kwargs))
    list_input = isinstance(x, (list, tuple))
    flat = list(x) if list_input else [x]
    traced = [v if isinstance(v, Tensor) and v._traced else None for v in flat]
    values = [np.ascontiguousarray(tensor_module.value_of(v)) for v in flat]
    keeps_indices = getattr(layer, "takes_indices", False)
    index_inputs = layer.index_inputs() if hasattr(layer, "index_inputs") else [keeps_indices] * len(values)
    values = [v if v.dtype.kind in "iub" and index_inputs[k] else v.astype(layer.dtype, copy=False)
              for k, v in enumerate(values)]
    state_values, traced_states = _initial_states(kwargs.get("initial_state"))
    kwargs = {k: _unwrapped(v) for k, v in kwargs.items()}
    if state_values is not None:
        kwargs["initial_state"] = state_values
    if layer.takes_list:
        layer.build_for([v.shape for v in values])
        xin = values
    else:
        if list_input:
            raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) takes one input, got a list of "
                             f"{len(flat)}")
        layer.build_for(values[0].shape)
        xin = values[0]
    watched = tensor_module.recording() and tensor_module._state.watch_variables and any(
        w.trainable for w in layer.trainable_weights)
    parents = traced + traced_states
    need_input = any(t is not None for t in parents)
    if not tensor_module.recording() or (not need_input and not watched):
        y = layer.forward(xin, bool(training), **kwargs)[0]
        return Tensor(y) if not isinstance(y, list) else [Tensor(v) for v in y]
    y, ctx = layer.forward(xin, bool(training), **kwargs)

    def vjp(g):
        if not need_input:
            layer.backward_weights(ctx, g)
            return tuple(None for _ in parents)
        dx = layer.backward(ctx, g)
        d_states = ()
        if state_values is not None:       # a recurrent layer given initial states: [dx, *state gradients]
            dx, d_states = (dx[0], tuple(dx[1:])) if isinstance(dx, list) else (dx, (None,) * len(traced_states))
        return (tuple(dx) if layer.takes_list else (dx,)) + d_states
    vjp.layer = layer
    if isinstance(y, list):
        return _multi_output(y, parents, vjp, layer)
    return Tensor(y, tuple(parents), vjp, f"{type(layer).__name__} '{layer.name}'", traced=True)


def _split_softmax(layer):
    """Whether a built-in layer called in a call() whose output softmax the loss fuses is recorded as two nodes,
    its logits (forward(..., logits=True)) and ops.softmax of them, so that softmax_logits finds the logits when
    its output is call()'s: a layer whose last activation is a softmax that its forward can stop before, as a
    functional model's output layer (Functional._output_activation). The numbers are the same either way."""
    from pynn.models.functional import _fusable_activation
    if layer.activity_regularizer is not None:
        return False
    act = _fusable_activation(layer)
    return act is not None and getattr(act, "name", None) == "softmax"


def _initial_states(states):
    """A recurrent layer's `initial_state` argument as (arrays, traced Tensors or None, one per state), so that
    its gradient reaches the tensors the states came from (an encoder's final states); (None, []) when not
    given. Trainable Variables given as states are their graph leaves."""
    if states is None:
        return None, []
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    pairs = [tensor_module.operand(s) if isinstance(s, (Tensor, Variable)) else (s, None) for s in states]
    return [np.asarray(v) for v, _ in pairs], [t for _, t in pairs]


def _unwrapped(value):
    """A keyword argument's Tensors (a mask, initial states) as arrays; anything else as it is."""
    if isinstance(value, (Tensor, Variable)):
        return tensor_module.value_of(value)
    if type(value) in (list, tuple) and any(isinstance(v, (Tensor, Variable)) for v in value):
        return type(value)(_unwrapped(v) for v in value)
    return value


def _multi_output(ys, traced, vjp, layer):
    """Several outputs of one layer call: a joint node holding them flattened end to end, so that the
    engine sums what reaches each output before the layer's backward runs once."""
    name = f"{type(layer).__name__} '{layer.name}'"
    sizes = [v.size for v in ys]
    bounds = np.cumsum([0] + sizes)
    dtype = np.result_type(*[v.dtype for v in ys])

    def joint_vjp(g):
        return vjp([g[bounds[k]:bounds[k + 1]].reshape(v.shape) for k, v in enumerate(ys)])
    joint_vjp.layer = layer
    joint = Tensor(np.zeros(int(bounds[-1]), dtype), tuple(traced), joint_vjp, name, traced=True)

    def part_vjp(k):
        def f(g):
            full = np.zeros(int(bounds[-1]), dtype)
            full[bounds[k]:bounds[k + 1]] = np.ravel(g)
            return (full,)
        return f
    return [Tensor(v, (joint,), part_vjp(k), name, traced=True) for k, v in enumerate(ys)]
