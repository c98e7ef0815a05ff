"""Keras's core and math ops that are not NumPy functions: shape, cast, stop_gradient, convert_to_numpy,
top_k, segment sums, control flow (cond, fori_loop, while_loop, scan, map) and custom_gradient."""
import numpy as np

from pynn.ops import numpy_ops as n
from pynn.ops.registry import op
from pynn.ops.tensor import Tensor, operand, result, value_of
from pynn.variable import Variable

cast = n.cast
convert_to_tensor = n.convert_to_tensor


@op("none")
def shape(x):
    """The static shape, a tuple of ints."""
    return tuple(np.shape(value_of(x)))


@op("none")
def dtype(x):
    return np.asarray(value_of(x)).dtype.name


@op("none")
def convert_to_numpy(x):
    """The value as a NumPy array (no gradient flows through it)."""
    return np.array(value_of(x))


@op("none")
def is_tensor(x):
    return isinstance(x, (Tensor, np.ndarray))


@op("none")
def stop_gradient(variable):
    """The same value, through which no gradient flows."""
    value = value_of(variable)
    return Tensor(value) if isinstance(variable, (Tensor, Variable)) else value


@op("vjp")
def saturate_cast(x, dtype):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    return n.cast(n.clip(x, info.min, info.max), dtype)


@op("vjp")
def top_k(x, k, sorted=True):
    """(values, indices) of the k largest entries along the last axis."""
    a = value_of(x)
    idx = np.argsort(-np.asarray(a), axis=-1, kind="stable")[..., :k].astype(np.int32)
    return n.take_along_axis(x, idx, axis=-1), idx


@op("none")
def in_top_k(targets, predictions, k):
    p = np.asarray(value_of(predictions))
    t = np.asarray(value_of(targets)).astype(np.int64)
    target_scores = np.take_along_axis(p, t[:, None], axis=-1)
    return (p > target_scores).sum(axis=-1) < k


def _segment(name, reduce_at, fill):
    def fn(data, segment_ids, num_segments=None, sorted=False):
        a, t = operand(data)
        a = np.asarray(a)
        ids = np.asarray(value_of(segment_ids)).astype(np.int64)
        count = int(num_segments if num_segments is not None else (ids.max() + 1 if ids.size else 0))
        out = np.full((count,) + a.shape[1:], fill, a.dtype)
        valid = (ids >= 0) & (ids < count)
        reduce_at(out, ids[valid], a[valid])
        if name == "segment_max":
            out[np.isneginf(out)] = 0 if a.dtype.kind == "f" else out[np.isneginf(out)]
            chosen = (a == out[np.clip(ids, 0, max(count - 1, 0))]) & valid.reshape((-1,) + (1,) * (a.ndim - 1))

            def vjp(g):
                share = np.zeros_like(out)
                np.add.at(share, ids[valid], chosen[valid].astype(a.dtype))
                return (np.where(chosen, g[np.clip(ids, 0, max(count - 1, 0))] / np.maximum(
                    share[np.clip(ids, 0, max(count - 1, 0))], 1), 0),)
        else:
            def vjp(g):
                return (np.where(valid.reshape((-1,) + (1,) * (a.ndim - 1)),
                                 g[np.clip(ids, 0, max(count - 1, 0))], 0),)
        return result(out, (data,), (t,), vjp, name)
    fn.__name__ = name
    return op("vjp", name)(fn)


segment_sum = _segment("segment_sum", np.add.at, 0)
segment_max = _segment("segment_max", np.maximum.at, -np.inf)


@op("none")
def cond(pred, true_fn, false_fn):
    return true_fn() if bool(value_of(pred)) else false_fn()


@op("none")
def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


@op("none")
def while_loop(cond, body, loop_vars, maximum_iterations=None):
    single = not isinstance(loop_vars, (list, tuple))
    vars_ = (loop_vars,) if single else tuple(loop_vars)
    i = 0
    while bool(value_of(cond(*vars_))) and (maximum_iterations is None or i < maximum_iterations):
        out = body(*vars_)
        vars_ = (out,) if single else tuple(out)
        i += 1
    return vars_[0] if single else type(loop_vars)(vars_)


@op("none")
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    steps = length if xs is None else len(value_of(xs) if not isinstance(xs, (list, tuple)) else value_of(xs[0]))
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    carry, ys = init, []
    for i in order:
        x = None if xs is None else (n.getitem(xs, i) if not isinstance(xs, (list, tuple)) else
                                     [n.getitem(v, i) for v in xs])
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (n.stack(ys) if ys and ys[0] is not None else None)


@op("none")
def map(f, xs):
    return n.stack([f(n.getitem(xs, i)) for i in range(len(value_of(xs)))])


@op("none")
def vectorized_map(function, elements):
    return map(function, elements)


def custom_gradient(f):
    """Decorator: `f(*args)` returns (output, grad_fn) where grad_fn(upstream) gives the gradients of the
    args; the output differentiates with grad_fn instead of through f's ops (Keras's ops.custom_gradient)."""
    def wrapped(*args):
        pairs = [operand(a) for a in args]
        values = [Tensor(np.asarray(v)) if isinstance(a, (Tensor, Variable)) else a for a, (v, _) in zip(args, pairs)]
        out, grad_fn = f(*values)

        def vjp(g):
            grads = grad_fn(Tensor(g))
            grads = grads if isinstance(grads, (list, tuple)) else (grads,)
            return tuple(None if gi is None else np.asarray(value_of(gi)) for gi in grads)
        return result(np.asarray(value_of(out)), args, [t for _, t in pairs], vjp, "custom_gradient")
    return wrapped
