"""Tensor: an array that remembers how it was computed, so that gradients can flow back through it.

pynn.ops functions take NumPy arrays, Python numbers, Variables and Tensors. With NumPy arrays and numbers
only, they return NumPy arrays (Keras's NumPy backend behaves so). When an input is a Tensor they return a
Tensor, and while gradients are being recorded (inside a `GradientTape`, or a custom layer's `call()` during
training) the result also records the op that made it: its inputs and a vector-Jacobian product, `vjp(g)`,
which maps the gradient of the result to the gradients of the inputs. `pynn.ops.backprop` replays those
products from a loss back to the weights.

A Variable read by an op while recording becomes a leaf of the graph (when it is trainable, as a TensorFlow
tape watches the variables it sees); its gradient is added into `variable.grad`, the buffer built-in layers
add theirs into, so a custom `call()` and a built-in layer train the same way.
"""
import itertools
import threading

import numpy as np

from pynn import _C
from pynn.variable import Variable


class _State(threading.local):
    def __init__(self):
        self.recording = 0          # > 0: ops record their graph
        self.watch_variables = True
        self.needed = None          # during backprop: the tensors (their `_made`) whose gradient is wanted


def needs_gradient(t):
    """Whether a vector-Jacobian product should compute the gradient of input `t` (a traced input or
    None): the backward pass marks the tensors that lead to a wanted gradient, so an expensive product
    (a GEMM, a convolution) skips the others, e.g. a first layer's input gradient."""
    if t is None:
        return False
    needed = _state.needed
    return needed is None or t._made in needed


_state = _State()
_made = itertools.count()


def variable_gradient(t, dtype):
    """For `t` the leaf of a Variable whose gradient the running backward pass computes (and whose `.grad`
    is a C-contiguous array of the variable's shape and of `dtype`, the contribution's): (that array, beta),
    so that a vector-Jacobian product writes `beta * grad + its contribution` there itself (as built-in
    layers do, a GEMM with beta) and returns None for `t`. None otherwise: the product returns the
    contribution, which the engine adds."""
    if t is None or t._variable is None:
        return None
    var, needed = t._variable, _state.needed
    if needed is None or t._made not in needed or not var.requires_grad:
        return None
    grad = var._grad
    if grad.dtype != dtype or grad.shape != var.value.shape or not grad.flags.c_contiguous:
        return None
    return var.grad_for_update()


def sum_rows_into_variable(t, g, shape):
    """For `t` the leaf of a Variable of `shape` (n,) or (1, n) whose gradient the running backward pass
    computes, and g a C-contiguous (rows, n) float gradient: the column sums of g written or added into the
    variable's `.grad` on the sum_rows kernel (a bias's gradient, as a built-in Dense computes it); True.
    False, touching nothing, otherwise (the vector-Jacobian product then returns the sums)."""
    if type(g) is not np.ndarray or g.ndim != 2 or g.dtype.char not in "fd" or not g.flags.c_contiguous \
            or shape not in ((g.shape[1],), (1, g.shape[1])):
        return False
    into = variable_gradient(t, g.dtype)
    if into is None:
        return False
    grad, beta = into
    if beta:
        grad += unbroadcast(g, shape)
    else:
        _C.sum_rows(g, grad.reshape(-1))
    return True


def recording():
    return _state.recording > 0


class record:
    """Context manager: ops on traced inputs record their graph inside it."""

    def __init__(self, enabled=True):
        self.enabled = enabled

    def __enter__(self):
        self._saved = _state.recording
        _state.recording = self._saved + 1 if self.enabled else 0
        return self

    def __exit__(self, *exc):
        _state.recording = self._saved
        return False


class Tensor:
    """An array (`.value`, a NumPy array) with, when it was computed while recording, the op that made it.

    Supports Python's arithmetic operators, indexing, comparisons, `.shape`, `.dtype`, `.ndim`, `.T`,
    `len()`, `np.asarray(t)` (for a tensor not being differentiated) and `.numpy()`.
    """

    __slots__ = ("value", "_inputs", "_vjp", "_variable", "_traced", "_op", "_made", "__weakref__")
    __array_priority__ = 1000

    # NumPy's functions on Tensors run the pynn.ops function of the same name (np.exp(t) is ops.exp(t),
    # np.mean(t, axis=-1) is ops.mean(t, axis=-1), array + t is ops.add), so NumPy-written code
    # differentiates too. One with no pynn.ops counterpart computes on the values, and refuses while the
    # tensor's gradient is being recorded (it would silently cut the gradient).
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return numpy_dispatch(ufunc.__name__, ufunc if method == "__call__" else getattr(ufunc, method),
                              inputs, kwargs, method == "__call__" and "out" not in kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return numpy_dispatch(func.__name__, func, args, kwargs, True)

    def __init__(self, value, inputs=None, vjp=None, op=None, variable=None, traced=False):
        self.value = value if type(value) is np.ndarray else np.asarray(value)
        self._inputs = inputs       # the traced inputs (None where an input is not traced), or None
        self._vjp = vjp             # g -> tuple of gradients, one per entry of _inputs
        self._variable = variable   # for the leaf of a Variable: where its gradient goes
        self._traced = traced
        self._op = op
        self._made = next(_made)    # made after its inputs: the order of making is a topological order

    # ---------------------------------------------------------------- array protocol
    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def ndim(self):
        return self.value.ndim

    @property
    def size(self):
        return self.value.size

    def __len__(self):
        return len(self.value)

    def numpy(self):
        return np.array(self.value)

    def __array__(self, dtype=None, copy=None):
        if self._traced and recording():
            raise TypeError(
                "A NumPy function was called on a tensor whose gradient is being computed; NumPy functions "
                "have no gradient. Use the pynn.ops function of the same name, or take the value without a "
                "gradient with pynn.ops.stop_gradient(x) / pynn.ops.convert_to_numpy(x)")
        value = self.value if dtype is None else self.value.astype(dtype, copy=False)
        return np.array(value, copy=True) if copy else value

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        return int(self.value)

    def __bool__(self):
        return bool(self.value)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self):
        grad = f", op={self._op}" if self._vjp is not None else (", watched" if self._traced else "")
        return f"<pynn.Tensor shape={self.shape} dtype={self.dtype}{grad}>\n{self.value!r}"

    @property
    def T(self):
        from pynn.ops import numpy_ops
        return numpy_ops.transpose(self)

    def reshape(self, *shape):
        from pynn.ops import numpy_ops
        return numpy_ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def astype(self, dtype):
        from pynn.ops import core
        return core.cast(self, dtype)


def _install_operators(cls):
    """Python operators on Tensor and Variable, each the pynn.ops function of the same meaning."""
    from pynn.ops import numpy_ops as n

    for name, fn in [("add", n.add), ("sub", n.subtract), ("mul", n.multiply), ("truediv", n.divide),
                     ("floordiv", n.floor_divide), ("mod", n.mod), ("pow", n.power), ("matmul", n.matmul)]:
        setattr(cls, f"__{name}__", fn)              # x + y is ops.add(x, y): the function is the method
        setattr(cls, f"__r{name}__", lambda self, other, fn=fn: fn(other, self))
    for name, fn in [("lt", n.less), ("le", n.less_equal), ("gt", n.greater), ("ge", n.greater_equal),
                     ("and", n.logical_and), ("or", n.logical_or), ("xor", n.logical_xor)]:
        setattr(cls, f"__{name}__", lambda self, other, fn=fn: fn(self, other))
    cls.__neg__ = lambda self: n.negative(self)
    cls.__pos__ = lambda self: self
    cls.__abs__ = lambda self: n.absolute(self)
    cls.__invert__ = lambda self: n.logical_not(self)
    cls.__getitem__ = lambda self, key: n.getitem(self, key)


_NUMPY_NAMES = {"true_divide": "divide", "fabs": "absolute", "amax": "max", "amin": "min", "around": "round"}


def numpy_dispatch(name, func, args, kwargs, allow_op):
    from pynn.ops.registry import OPS
    fn = OPS.get(_NUMPY_NAMES.get(name, name)) if allow_op else None
    if fn is not None and "dtype" not in kwargs and "out" not in kwargs:
        return fn(*args, **kwargs)
    if _state.recording and any(isinstance(a, Tensor) and a._traced for a in _flatten(list(args))):
        raise TypeError(f"NumPy's {name} has no gradient in pynn: call it on a value without one "
                        f"(pynn.ops.stop_gradient / convert_to_numpy), or write it with pynn.ops")
    plain = [value_of(a) if isinstance(a, (Tensor, Variable)) else
             ([value_of(i) if isinstance(i, (Tensor, Variable)) else i for i in a] if isinstance(a, list) else a)
             for a in args]
    return func(*plain, **{k: value_of(v) if isinstance(v, (Tensor, Variable)) else v for k, v in kwargs.items()})


# ---------------------------------------------------------------- operands and results
def variable_leaf(var):
    """The graph leaf for a Variable read while recording, or its value when it is not trained."""
    state = _state
    if state.recording and var.trainable and state.watch_variables:
        return Tensor(var.value, None, None, None, var, True)
    return var.value


def operand(x):
    """(array or number, traced Tensor or None) for one op input. The common kinds are tested first, by
    exact type: this runs for every input of every op."""
    kind = type(x)
    if kind is Tensor:
        return x.value, (x if x._traced else None)
    if kind is np.ndarray:
        return x, None
    if kind is Variable or isinstance(x, Variable):
        state = _state                          # variable_leaf, inline
        value = x.value
        if state.recording and x.trainable and state.watch_variables:
            return value, Tensor(value, None, None, None, x, True)
        return value, None
    if isinstance(x, Tensor):
        return x.value, (x if x._traced else None)
    if isinstance(x, (int, float, bool, np.generic)):
        return x, None
    if isinstance(x, (list, tuple)):
        return _stack_operand(x)
    return np.asarray(x), None


def _stack_operand(items):
    """A list of numbers / arrays / tensors as one array; traced items keep their gradient (through stack)."""
    if any(isinstance(i, (Tensor, Variable)) for i in _flatten(items)):
        from pynn.ops import numpy_ops
        t = numpy_ops.stack([numpy_ops.convert_to_tensor(i) if isinstance(i, (list, tuple)) else i for i in items])
        return (t.value, t if t._traced else None) if isinstance(t, Tensor) else (t, None)
    return np.asarray(items), None


def _flatten(items):
    for i in items:
        if isinstance(i, (list, tuple)):
            yield from _flatten(i)
        else:
            yield i


def is_tensorish(x):
    return isinstance(x, (Tensor, Variable))


def result(value, sources, inputs, vjp, op):
    """The value an op returns: a recording Tensor when some input is traced (and we record), a plain Tensor
    when some input was a Tensor or Variable, else the NumPy value itself."""
    if _state.recording:
        for t in inputs:
            if t is not None:
                return Tensor(value, tuple(inputs), vjp, op, None, True)
    for s in sources:
        if isinstance(s, (Tensor, Variable)):
            return Tensor(value)
    return value


def value_of(x):
    """The NumPy value of anything ops accept (no gradient)."""
    if isinstance(x, Tensor):
        return x.value
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, (list, tuple)):
        return np.asarray([value_of(i) for i in x])
    return x if type(x) is np.ndarray else np.asarray(x)


def unbroadcast(g, shape):
    """Sum `g` down to `shape` (the reverse of NumPy broadcasting). A (rows, n) float gradient summed to a
    bias's (n,) or (1, n) takes the column sums on the sum_rows kernel (summed in double, rounded once)."""
    if type(shape) is not tuple:
        shape = tuple(shape)
    if g.shape == shape:
        return g
    if g.ndim == 2 and shape in (g.shape[1:], (1, g.shape[1])) and g.dtype.char in "fd" and g.flags.c_contiguous:
        out = np.empty(g.shape[1], g.dtype)
        _C.sum_rows(g, out)
        return out if len(shape) == 1 else out.reshape(shape)
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, d in enumerate(shape) if d == 1 and g.shape[i + extra] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)
