"""Reverse-mode differentiation over recorded Tensors, and GradientTape, the user's way to ask for gradients.

`backprop(outputs, grads)` walks the graph that the ops recorded back from `outputs` in reverse topological
order, calling each op's vector-Jacobian product once with the sum of the gradients that reached it. A
Variable's leaf adds its gradient into `variable.grad` (when `requires_grad`); built-in layers called on
Tensors record one node whose product is the layer's own fused `backward`, which does the same. Gradients of
other leaves (inputs given to `tape.watch`, or a custom layer's inputs) are returned. A graph that is a chain
(a call() Dense's x @ w + b -> relu) is walked without sorting it or tabling the pending gradients: the
same products in the same order (tests/test_backprop_chain.py).
"""
import numpy as np

from pynn import variable as variable_module
from pynn.ops import tensor as tensor_module
from pynn.ops.tensor import Tensor
from pynn.variable import Variable


def _topological(outputs):
    """The traced tensors that `outputs` depend on, each after all its inputs: in the order they were made."""
    found = {}
    stack = [t for t in outputs if t is not None and t._traced]
    pop, push = stack.pop, stack.append
    while stack:
        t = pop()
        made = t._made
        if made in found:
            continue
        found[made] = t
        inputs = t._inputs
        if inputs is not None:
            for i in inputs:
                if i is not None and i._made not in found:
                    push(i)
    return [found[k] for k in sorted(found)]


# The engine keys tensors by `_made`, the number each got when it was made (unique, and cheaper than id()).
def backprop(outputs, grads, leaves=()):
    """Propagate `grads` (one per output) back through the recorded graph. Returns the gradients of the
    tensors in `leaves` (None for one nothing reached); Variables' gradients go into their `.grad`."""
    wanted = {t._made for t in leaves} if leaves else _NOTHING
    found = {}
    chain = _chain(outputs[0]) if len(outputs) == 1 and grads[0] is not None else None
    if chain is not None:                      # a layer's x @ w + b -> activation, and the like
        nodes, order = chain
        g = _conform(grads[0], nodes[0].value)
        run, args = _run_chain, (nodes, g)
    else:
        order = _topological(outputs)
        pending = {}
        for t, g in zip(outputs, grads):
            if t is not None and t._traced and g is not None:
                _accumulate(pending, t, g)
        run, args = _run, (order, pending)
    needed = _needed(order, wanted)
    state = tensor_module._state
    saved, state.needed = state.needed, needed
    try:
        run(*args, needed, wanted, found)
    finally:
        state.needed = saved
    return [found.get(t._made) for t in leaves]


def _chain(out):
    """When the graph behind `out` is a chain, each op having at most one input made by another op (its
    other inputs are leaves: a layer's input, Variables, watched tensors), as x @ w + b -> relu:
    (its ops from `out` down, the graph in _topological's order as far as _needed reads it: leaves first,
    then the ops, inputs before users). None otherwise."""
    if out is None or not out._traced or out._vjp is None:
        return None
    nodes, leaves = [], []
    t = out
    while True:
        nodes.append(t)
        below = None
        for i in t._inputs:
            if i is not None:
                if i._vjp is None:
                    leaves.append(i)
                elif below is None:
                    below = i
                else:
                    return None                  # two inputs made by ops (or one op's output twice)
        if below is None:
            return nodes, leaves + nodes[::-1]
        t = below


_NOTHING = frozenset()


def _needed(order, wanted):
    """The tensors (their `_made`) through which a wanted gradient flows: wanted leaves, Variables' leaves
    that take a gradient, layer nodes (their weights), and everything that leads to one. `order` lists
    inputs before the tensors that use them."""
    needed = set()
    add = needed.add
    for t in order:
        vjp = t._vjp
        if vjp is None:                         # a leaf
            var = t._variable
            if (var is not None and var.requires_grad) or t._made in wanted:
                add(t._made)
            continue
        for i in t._inputs:
            if i is not None and i._made in needed:
                add(t._made)
                break
        else:
            if getattr(vjp, "layer", None) is not None:
                add(t._made)
    return needed


def _run(order, pending, needed, wanted, found):
    """Each tensor's vector-Jacobian product, outputs first, on the sum of the gradients that reached it;
    gradients go only to inputs in `needed` (nothing wanted lies behind the others)."""
    pop, get = pending.pop, pending.get
    for t in reversed(order):
        g = pop(t._made, None)
        if g is None:
            continue
        vjp = t._vjp
        if vjp is None:                         # a leaf
            var = t._variable
            if var is not None:
                if var.requires_grad:
                    add_to_variable(var, g)
            elif t._made in wanted:
                found[t._made] = g
            continue
        try:
            in_grads = vjp(g)
        except Exception as e:
            raise type(e)(f"gradient of ops.{t._op}: {e}") from e
        for inp, gi in zip(t._inputs, in_grads):
            if gi is None or inp is None:
                continue
            made = inp._made
            if made not in needed:
                continue
            var = inp._variable
            if var is not None:                  # a Variable's leaf (needed: it takes a gradient)
                add_to_variable(var, gi)
                continue
            value = inp.value
            if type(gi) is not np.ndarray or gi.shape != value.shape or gi.dtype is not value.dtype:
                gi = _conform(gi, value)         # (dtypes are compared for equality there)
            prev = get(made)
            pending[made] = gi if prev is None else prev + gi


def _run_chain(nodes, g, needed, wanted, found):
    """_run for a chain (see _chain): the same products in the same order, the gradient handed from each op
    to the one below it directly."""
    for t in nodes:
        try:
            in_grads = t._vjp(g)
        except Exception as e:
            raise type(e)(f"gradient of ops.{t._op}: {e}") from e
        g = None
        for inp, gi in zip(t._inputs, in_grads):
            if gi is None or inp is None:
                continue
            made = inp._made
            if made not in needed:
                continue
            var = inp._variable
            if var is not None:                  # a Variable's leaf (needed: it takes a gradient)
                add_to_variable(var, gi)
                continue
            value = inp.value
            if type(gi) is not np.ndarray or gi.shape != value.shape or gi.dtype is not value.dtype:
                gi = _conform(gi, value)
            if inp._vjp is not None:             # the op below
                g = gi
            else:                                # a wanted leaf (one the chain may reach several times)
                prev = found.get(made)
                found[made] = gi if prev is None else prev + gi
        if g is None:
            return


def add_to_variable(var, g):
    """var.grad += g (g summed to the variable's shape), writing instead of adding when the gradient was
    zeroed since (Variable.grad_for_update), as built-in layers' backward passes do."""
    if type(g) is not np.ndarray:
        g = np.asarray(g)
    if g.shape != var.value.shape:
        g = tensor_module.unbroadcast(g, var.value.shape)
    grad, beta = var.grad_for_update()
    if beta:
        grad += g
    else:
        np.copyto(grad, g)


def _conform(g, value):
    """A gradient as an array of `value`'s shape (summed over broadcast axes, or broadcast) and, for a
    float value, dtype."""
    g = np.asarray(g)
    if g.shape != value.shape:
        g = tensor_module.unbroadcast(g, value.shape) if g.ndim >= value.ndim else np.broadcast_to(g, value.shape)
    if g.dtype != value.dtype and value.dtype.kind == "f":
        g = g.astype(value.dtype)
    return g


def _accumulate(pending, t, g):
    g = _conform(g, t.value)
    prev = pending.get(t._made)
    pending[t._made] = g if prev is None else prev + g


class GradientTape:
    """Records the ops run inside it so that `gradient(target, sources)` can differentiate `target`.

        with pynn.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = loss_fn(y, y_pred)
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)

    Trainable Variables read inside the tape are watched automatically; `tape.watch(x)` makes an input
    array or Tensor differentiable (and returns the Tensor to compute with). `sources` is a Variable or
    Tensor, or a list / tuple / dict of them; the result has the same structure, with None for a source that
    `target` does not depend on. `persistent=True` allows several `gradient` calls (otherwise one).
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._record = None
        self._used = False
        self._watched = {}

    def __enter__(self):
        self._record = tensor_module.record()
        self._record.__enter__()
        self._saved_watch = tensor_module._state.watch_variables
        tensor_module._state.watch_variables = self.watch_accessed_variables
        return self

    def __exit__(self, *exc):
        tensor_module._state.watch_variables = self._saved_watch
        self._record.__exit__(*exc)
        return False

    def watch(self, x):
        """Make `x` (an array or Tensor) a source; returns the Tensor to compute with. Variables need no watch
        (unless watch_accessed_variables=False, when watched ones are the only ones recorded)."""
        if isinstance(x, (list, tuple)):
            return type(x)(self.watch(i) for i in x)
        if isinstance(x, Variable):
            self._watched[id(x)] = x
            return x
        if isinstance(x, Tensor):
            x._traced = True
            return x
        value = np.asarray(x)
        if value.dtype.kind != "f":
            value = value.astype(np.float32)
        return Tensor(value, traced=True)

    def gradient(self, target, sources, output_gradients=None):
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a non-persistent tape; use "
                               "GradientTape(persistent=True) for several")
        self._used = True
        flat, rebuild = _flatten_sources(sources)
        if not isinstance(target, Tensor) or not target._traced:
            return rebuild([None] * len(flat))
        g = np.ones_like(target.value) if output_gradients is None else np.asarray(
            tensor_module.value_of(output_gradients), target.value.dtype)
        variables = [s for s in flat if isinstance(s, Variable)]
        # Built-in layers' backward adds into .grad of variables whose requires_grad is set: claim the flags
        # for exactly the variables asked for, and start their gradients from zero.
        saved = [(v, v._grad, v._grad_stale, v.requires_grad) for v in variables]
        in_graph = _graph_variables(target)
        try:
            for v in variables:
                v._grad = np.zeros_like(v.value)
                v._grad_stale = False
                v.requires_grad = True
            _mute_other_variables(in_graph, {id(v) for v in variables})
            variable_module.release_gradient_flags()     # models re-claim their flags at their next step
            leaf_grads = backprop([target], [g], [s for s in flat if isinstance(s, Tensor)])
            by_leaf = iter(leaf_grads)
            out = []
            for s in flat:
                if isinstance(s, Variable):
                    out.append(s._grad if id(s) in in_graph else None)
                elif isinstance(s, Tensor):
                    out.append(next(by_leaf))
                else:
                    raise TypeError(f"GradientTape.gradient: sources must be Variables or Tensors, got "
                                    f"{type(s).__name__}")
        finally:
            for v, grad, stale, flag in saved:
                v._grad, v._grad_stale, v.requires_grad = grad, stale, flag
            _restore_muted()
            variable_module.release_gradient_flags()
        return rebuild(out)


_muted = []


def _graph_variables(target):
    found = {}
    for t in _topological([target]):
        if t._variable is not None:
            found[id(t._variable)] = t._variable
        layer = getattr(t._vjp, "layer", None)
        if layer is not None:
            for v in layer.weights:
                found[id(v)] = v
    return found


def _mute_other_variables(in_graph, wanted):
    """Variables in the graph that were not asked for get requires_grad False during the backward pass, so
    their gradient buffers (a model's, mid-training perhaps) are left as they were."""
    for v in in_graph.values():
        if id(v) not in wanted and v.requires_grad:
            _muted.append(v)
            v.requires_grad = False


def _restore_muted():
    while _muted:
        _muted.pop().requires_grad = True


def _flatten_sources(sources):
    if isinstance(sources, dict):
        keys = list(sources)
        return [sources[k] for k in keys], lambda out: dict(zip(keys, out))
    if isinstance(sources, (list, tuple)):
        kind = type(sources)
        return list(sources), lambda out: kind(out) if kind is tuple else list(out)
    return [sources], lambda out: out[0]
