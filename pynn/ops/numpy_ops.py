"""Keras's NumPy-like ops (keras.ops.add, matmul, sum, reshape, ...): NumPy's semantics and Keras's dtype
rules (integers meet floats as the float; float-valued functions of integers give float32), each with its
vector-Jacobian product (see pynn.ops.tensor for when results record one)."""
import builtins
import math
import string

import numpy as np

from pynn import _C, kernels
from pynn.ops.registry import op
from pynn.ops.tensor import (Tensor, needs_gradient, operand, result, sum_rows_into_variable, unbroadcast,
                              value_of, variable_gradient)
from pynn.variable import Variable

FLOATX = np.float32


# ---------------------------------------------------------------- dtype helpers
def _float(a):
    """A float array for a float-valued function: integers and Python numbers become float32."""
    if isinstance(a, np.ndarray):
        return a if a.dtype.kind == "f" else a.astype(FLOATX)
    if isinstance(a, np.generic) and a.dtype.kind == "f":
        return np.asarray(a)
    return np.asarray(a, FLOATX)


def _promote(a, b):
    """Keras's rule for an integer array meeting a float array: the integers become the float's type."""
    if type(a) is np.ndarray and type(b) is np.ndarray and (a.dtype is b.dtype or a.dtype == b.dtype):
        return a, b
    ka = a.dtype.kind if isinstance(a, (np.ndarray, np.generic)) else None
    kb = b.dtype.kind if isinstance(b, (np.ndarray, np.generic)) else None
    if ka == "f" and kb in ("i", "u", "b"):
        b = np.asarray(b, a.dtype)
    elif kb == "f" and ka in ("i", "u", "b"):
        a = np.asarray(a, b.dtype)
    elif ka in ("i", "u", "b") and isinstance(b, float):
        a = np.asarray(a, FLOATX)
    elif kb in ("i", "u", "b") and isinstance(a, float):
        b = np.asarray(b, FLOATX)
    return a, b


def _shape(a):
    return a.shape if type(a) is np.ndarray else np.shape(a)


def _norm_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % ndim if ndim else 0 for a in axes))


def _expand_reduced(g, shape, axis, keepdims):
    """A reduction's gradient broadcast back to the input's shape."""
    if not keepdims and len(shape):
        for a in _norm_axis(axis, len(shape)):
            g = np.expand_dims(g, a)
    return np.broadcast_to(g, shape)


# ---------------------------------------------------------------- conversion
@op("none")
def convert_to_tensor(x, dtype=None, sparse=None):
    """A Tensor holding x (a copy only when the dtype changes); a Tensor is returned as it is."""
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    if isinstance(x, Variable):
        return Tensor(x.value) if dtype is None else Tensor(x.value.astype(dtype))
    value = np.asarray(value_of(x) if isinstance(x, (list, tuple)) else x)
    if dtype is not None:
        value = value.astype(dtype, copy=False)
    elif value.dtype == np.float64 and not isinstance(x, np.ndarray):
        value = value.astype(FLOATX)          # Python floats: floatx, as Keras
    elif value.dtype == np.int64 and not isinstance(x, np.ndarray):
        value = value.astype(np.int32)
    return Tensor(value)


@op("vjp")
def cast(x, dtype):
    a, t = operand(x)
    dtype = np.dtype(dtype)
    y = np.asarray(a).astype(dtype)
    if dtype.kind != "f":
        return result(y, (x,), (None,), None, "cast")
    return result(y, (x,), (t if np.asarray(a).dtype.kind == "f" else None,), lambda g: (g,), "cast")


# ---------------------------------------------------------------- elementwise: one input
def _unary(name, f, df=None, kind="vjp", keep_dtype=False):
    """An elementwise op y = f(x) with dy/dx = df(x, y) (df None: zero gradient)."""
    def fn(x):
        a, t = operand(x)
        a = np.asarray(a) if keep_dtype else _float(a)
        y = f(a)
        if df is None or t is None:
            return result(y, (x,), (None,), None, name)
        return result(y, (x,), (t,), lambda g: (g * df(a, y),), name)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name}, as numpy.{name} / keras.ops.{name}."
    return op(kind, name)(fn)


def _erf(a):
    return np.frompyfunc(math.erf, 1, 1)(a).astype(a.dtype)


_SQRT_PI = math.sqrt(math.pi)

negative = _unary("negative", np.negative, lambda x, y: -1, keep_dtype=True)
absolute = _unary("absolute", np.abs, lambda x, y: np.sign(x), keep_dtype=True)
abs = _unary("abs", np.abs, lambda x, y: np.sign(x), keep_dtype=True)
square = _unary("square", np.square, lambda x, y: 2 * x, keep_dtype=True)
sqrt = _unary("sqrt", np.sqrt, lambda x, y: 0.5 / y)
rsqrt = _unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda x, y: -0.5 * y / x)
reciprocal = _unary("reciprocal", lambda x: 1 / x, lambda x, y: -y * y)
exp = _unary("exp", np.exp, lambda x, y: y)
exp2 = _unary("exp2", np.exp2, lambda x, y: y * math.log(2))
expm1 = _unary("expm1", np.expm1, lambda x, y: y + 1)
log = _unary("log", np.log, lambda x, y: 1 / x)
log1p = _unary("log1p", np.log1p, lambda x, y: 1 / (1 + x))
log2 = _unary("log2", np.log2, lambda x, y: 1 / (x * math.log(2)))
log10 = _unary("log10", np.log10, lambda x, y: 1 / (x * math.log(10)))
sin = _unary("sin", np.sin, lambda x, y: np.cos(x))
cos = _unary("cos", np.cos, lambda x, y: -np.sin(x))
tan = _unary("tan", np.tan, lambda x, y: 1 + y * y)
arcsin = _unary("arcsin", np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x))
arccos = _unary("arccos", np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x))
arctan = _unary("arctan", np.arctan, lambda x, y: 1 / (1 + x * x))
sinh = _unary("sinh", np.sinh, lambda x, y: np.cosh(x))
cosh = _unary("cosh", np.cosh, lambda x, y: np.sinh(x))
tanh = _unary("tanh", np.tanh, lambda x, y: 1 - y * y)
arcsinh = _unary("arcsinh", np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1))
arccosh = _unary("arccosh", np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1))
arctanh = _unary("arctanh", np.arctanh, lambda x, y: 1 / (1 - x * x))
erf = _unary("erf", _erf, lambda x, y: (2 / _SQRT_PI) * np.exp(-x * x))
sign = _unary("sign", np.sign, kind="zero", keep_dtype=True)
floor = _unary("floor", np.floor, kind="zero")
ceil = _unary("ceil", np.ceil, kind="zero")
trunc = _unary("trunc", np.trunc, kind="zero")
isnan = _unary("isnan", np.isnan, kind="none", keep_dtype=True)
isinf = _unary("isinf", np.isinf, kind="none", keep_dtype=True)
isfinite = _unary("isfinite", np.isfinite, kind="none", keep_dtype=True)
logical_not = _unary("logical_not", np.logical_not, kind="none", keep_dtype=True)


@op("zero")
def round(x, decimals=0):
    a, _ = operand(x)
    return result(np.round(a, decimals), (x,), (None,), None, "round")


@op("vjp")
def clip(x, x_min, x_max):
    a, t = operand(x)
    y = np.clip(a, value_of(x_min), value_of(x_max))
    if t is None:
        return result(y, (x,), (None,), None, "clip")
    return result(y, (x,), (t,), lambda g: (g * ((a >= value_of(x_min)) & (a <= value_of(x_max))),), "clip")


@op("vjp")
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    a, t = operand(x)
    y = np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)
    return result(y, (x,), (t,), lambda g: (g * np.isfinite(a),), "nan_to_num")


# ---------------------------------------------------------------- elementwise: two inputs
def _binary(name, f, da=None, db=None, kind="vjp"):
    """An elementwise broadcasting op y = f(a, b) with partial derivatives da(a, b, y, g), db(a, b, y, g)."""
    def fn(x1, x2):
        a, ta = operand(x1)
        b, tb = operand(x2)
        a, b = _promote(a, b)
        y = f(a, b)
        if kind != "vjp" or (ta is None and tb is None):
            return result(y, (x1, x2), (None, None), None, name)

        def vjp(g):
            ga = gb = None
            if needs_gradient(ta):
                ga = unbroadcast(g if da is _passes else np.asarray(da(a, b, y, g)), _shape(a))
            if needs_gradient(tb):
                if db is _passes and tb._variable is not None and sum_rows_into_variable(tb, g, _shape(b)):
                    return ga, None              # x @ w + bias: the bias's gradient is in its .grad
                gb = unbroadcast(g if db is _passes else np.asarray(db(a, b, y, g)), _shape(b))
            return ga, gb
        return result(y, (x1, x2), (ta, tb), vjp, name)
    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} with broadcasting, as keras.ops.{name}."
    return op(kind, name)(fn)


def _passes(a, b, y, g):
    """The partial derivative of a + b (and of a - b, a % b in a): the gradient passes unchanged."""
    return g


def _safe_log(a):
    a = np.asarray(a)
    return np.log(np.where(a > 0, a, 1))


add = _binary("add", np.add, _passes, _passes)
subtract = _binary("subtract", np.subtract, _passes, lambda a, b, y, g: -g)
multiply = _binary("multiply", np.multiply, lambda a, b, y, g: g * b, lambda a, b, y, g: g * a)
divide = _binary("divide", lambda a, b: np.true_divide(_float(a), b) if not isinstance(a, float) else a / _float(b),
                 lambda a, b, y, g: g / b, lambda a, b, y, g: -g * y / b)
true_divide = _binary("true_divide", lambda a, b: np.true_divide(_float(a), b),
                      lambda a, b, y, g: g / b, lambda a, b, y, g: -g * y / b)
power = _binary("power", np.power, lambda a, b, y, g: g * b * np.power(a, np.asarray(b) - 1),
                lambda a, b, y, g: g * y * _safe_log(a))
maximum = _binary("maximum", np.maximum, lambda a, b, y, g: g * (np.asarray(a) >= b),
                  lambda a, b, y, g: g * (np.asarray(a) < b))
minimum = _binary("minimum", np.minimum, lambda a, b, y, g: g * (np.asarray(a) <= b),
                  lambda a, b, y, g: g * (np.asarray(a) > b))
mod = _binary("mod", np.mod, _passes, lambda a, b, y, g: -g * np.floor_divide(a, b))
arctan2 = _binary("arctan2", np.arctan2, lambda a, b, y, g: g * b / (np.square(a) + np.square(b)),
                  lambda a, b, y, g: -g * a / (np.square(a) + np.square(b)))
logaddexp = _binary("logaddexp", np.logaddexp, lambda a, b, y, g: g * np.exp(a - y),
                    lambda a, b, y, g: g * np.exp(b - y))
floor_divide = _binary("floor_divide", np.floor_divide, kind="zero")
equal = _binary("equal", np.equal, kind="none")
not_equal = _binary("not_equal", np.not_equal, kind="none")
less = _binary("less", np.less, kind="none")
less_equal = _binary("less_equal", np.less_equal, kind="none")
greater = _binary("greater", np.greater, kind="none")
greater_equal = _binary("greater_equal", np.greater_equal, kind="none")
logical_and = _binary("logical_and", np.logical_and, kind="none")
logical_or = _binary("logical_or", np.logical_or, kind="none")
logical_xor = _binary("logical_xor", np.logical_xor, kind="none")


@op("vjp")
def where(condition, x1=None, x2=None):
    c = np.asarray(value_of(condition)).astype(bool)
    if x1 is None and x2 is None:
        return np.nonzero(c)
    a, ta = operand(x1)
    b, tb = operand(x2)
    a, b = _promote(a, b)
    y = np.where(c, a, b)

    def vjp(g):
        return (unbroadcast(np.where(c, g, 0).astype(g.dtype), _shape(a)) if ta is not None else None,
                unbroadcast(np.where(c, 0, g).astype(g.dtype), _shape(b)) if tb is not None else None)
    return result(y, (x1, x2), (ta, tb), vjp, "where")


# ---------------------------------------------------------------- linear algebra
def _matmul_values(a, b):
    if a.dtype == b.dtype and a.dtype in (np.float32, np.float64) and a.ndim >= 2 and b.ndim >= 2 \
            and a.size and b.size and a.shape[-1] == b.shape[-2]:
        if a.ndim == 2 and b.ndim == 2:
            return kernels.matmul(a, b)   # reads transposed views in place
        lead = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a_rows = a if a.strides[-1] == a.itemsize else np.ascontiguousarray(a)
        b_rows = b if b.strides[-1] == b.itemsize else np.ascontiguousarray(b)
        return kernels.gemm_batched(np.broadcast_to(a_rows, lead + a.shape[-2:]),
                                    np.broadcast_to(b_rows, lead + b.shape[-2:]))
    return np.matmul(a, b)


@op("vjp")
def matmul(x1, x2):
    a, ta = operand(x1)
    b, tb = operand(x2)
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2 \
            and (a.dtype is b.dtype or a.dtype == b.dtype) and a.dtype.char in "fd" and a.size and b.size \
            and a.shape[1] == b.shape[0]:
        return _matmul_2d(x1, x2, a, b, ta, tb)
    a, b = _promote(np.asarray(a), np.asarray(b))
    y = _matmul_values(a, b)

    def vjp(g):
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if needs_gradient(ta):
            ga = _matmul_values(g2, np.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if needs_gradient(tb):
            gb = _matmul_values(np.swapaxes(a2, -1, -2), g2)
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb
    return result(y, (x1, x2), (ta, tb), vjp, "matmul")


def _matmul_2d(x1, x2, a, b, ta, tb):
    """matmul's common case, two 2-D float arrays of one dtype: the product and both gradients (g b^T and
    a^T g) are one GEMM each, the kernel reading transposed operands in place. A Variable's gradient (a
    Dense kernel's) is written into its `.grad` by the GEMM itself, as the built-in Dense does."""
    y = _gemm(a, False, b, False)
    if ta is None and tb is None:
        return result(y, (x1, x2), (None, None), None, "matmul")

    def vjp(g):
        ga = _gemm(g, False, b, True) if needs_gradient(ta) else None
        gb = None
        if needs_gradient(tb):
            into = variable_gradient(tb, y.dtype)
            if into is not None:
                _gemm(a, True, g, False, *into)
            else:
                gb = _gemm(a, True, g, False)
        return ga, gb
    return result(y, (x1, x2), (ta, tb), vjp, "matmul")


def _gemm(a, trans_a, b, trans_b, out=None, beta=0.0):
    """op(a) @ op(b) (+ beta * out, written into out when given) for 2-D float arrays of one dtype, op(x)
    being x.T where trans_x. Transposed views are read in place; layouts the kernel cannot read (broadcast
    rows, strided slices) are copied first."""
    if not a.flags.c_contiguous:               # (C-contiguous: the common case, read as it is)
        a, flip_a = _gemm_layout(a)
        trans_a = trans_a != flip_a
    if not b.flags.c_contiguous:
        b, flip_b = _gemm_layout(b)
        trans_b = trans_b != flip_b
    if out is None:
        out = np.empty((a.shape[1] if trans_a else a.shape[0], b.shape[0] if trans_b else b.shape[1]), a.dtype)
    _C.gemm(a, b, out, 1.0, beta, trans_a, trans_b)
    return out


def _gemm_layout(x):
    """(m, transposed): x is m (or m.T when transposed) where m has contiguous rows at least a row apart,
    the layouts the GEMM kernel reads in place; anything else is copied."""
    rows, cols = x.shape
    row_step, col_step = x.strides
    item = x.itemsize
    if (col_step == item or cols == 1) and (row_step >= cols * item or rows == 1):
        return x, False
    if (row_step == item or rows == 1) and (col_step >= rows * item or cols == 1):
        return x.T, True
    return np.ascontiguousarray(x), False


def _einsum_parse(subscripts, shapes):
    """Explicit 'ab,bc->ac' subscripts with '...' spelled out in unused letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
    else:
        ins, out = subscripts, None
    ins = ins.split(",")
    used = set(subscripts) - set(".,->")
    spare = [c for c in string.ascii_letters if c not in used]
    ell_n = builtins.max([len(s) - (len(i) - 3) for i, s in zip(ins, shapes) if "..." in i] or [0])
    ell = "".join(spare[:ell_n])
    ins = [i.replace("...", ell[ell_n - (len(s) - (len(i) - 3)):]) if "..." in i else i
           for i, s in zip(ins, shapes)]
    if out is None:
        letters = "".join(ins)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return ins, out


@op("vjp")
def einsum(subscripts, *operands):
    pairs = [operand(o) for o in operands]
    arrays = [np.asarray(a) for a, _ in pairs]
    if builtins.any(a.dtype.kind == "f" for a in arrays):
        ft = np.result_type(*[a.dtype for a in arrays if a.dtype.kind == "f"])
        arrays = [a.astype(ft) if a.dtype.kind != "f" else a for a in arrays]
    ins, out = _einsum_parse(subscripts, [a.shape for a in arrays])
    y = np.einsum(",".join(ins) + "->" + out, *arrays, optimize=len(arrays) > 2)
    traced = [t for _, t in pairs]

    def vjp(g):
        grads = []
        for k, t in enumerate(traced):
            if t is None:
                grads.append(None)
                continue
            sub = ins[k]
            if len(set(sub)) != len(sub):
                raise NotImplementedError(f"the gradient of einsum '{subscripts}' with an index repeated in one "
                                          "operand (a diagonal) is not supported")
            others = [ins[j] for j in range(len(ins)) if j != k]
            # letters of operand k absent from the output and the other operands are summed: broadcast back
            present = set(out).union(*others) if others else set(out)
            kept = "".join(c for c in sub if c in present)
            gk = np.einsum(",".join([out] + others) + "->" + kept, g, *[arrays[j] for j in range(len(ins)) if j != k],
                           optimize=len(ins) > 2)
            if kept != sub:
                shape = [arrays[k].shape[sub.index(c)] if c not in kept else gk.shape[kept.index(c)] for c in sub]
                gk = np.einsum(kept + "->" + "".join(c for c in sub if c in kept), gk)
                idx = [builtins.slice(None) if c in kept else None for c in sub]
                gk = np.broadcast_to(gk[tuple(idx)], shape)
            grads.append(gk)
        return tuple(grads)
    return result(y, operands, traced, vjp, "einsum")


@op("vjp")
def dot(x1, x2):
    a, b = value_of(x1), value_of(x2)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return multiply(x1, x2)
    if np.ndim(b) == 1 or np.ndim(a) <= 2 and np.ndim(b) == 2:
        return matmul(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-2]))


@op("vjp")
def tensordot(x1, x2, axes=2):
    a, b = value_of(x1), value_of(x2)
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_b = list(range(np.ndim(a) - axes, np.ndim(a))), list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    ax_a = [i % np.ndim(a) for i in ax_a]
    ax_b = [i % np.ndim(b) for i in ax_b]
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(np.ndim(a))]
    sb = [next(letters) for _ in range(np.ndim(b))]
    for i, j in zip(ax_a, ax_b):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in ax_a] + [c for j, c in enumerate(sb) if j not in ax_b]
    return einsum("".join(sa) + "," + "".join(sb) + "->" + "".join(out), x1, x2)


@op("vjp")
def outer(x1, x2):
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


@op("vjp")
def inner(x1, x2):
    if np.ndim(value_of(x1)) == 0 or np.ndim(value_of(x2)) == 0:
        return multiply(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-1]))


@op("vjp")
def vdot(x1, x2):
    return sum(multiply(reshape(x1, (-1,)), reshape(x2, (-1,))))


@op("vjp")
def trace(x, offset=0, axis1=0, axis2=1):
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


@op("vjp")
def diagonal(x, offset=0, axis1=0, axis2=1):
    a, t = operand(x)
    y = np.diagonal(a, offset, axis1, axis2).copy()

    def vjp(g):
        gx = np.zeros_like(a)
        view = np.diagonal(gx, offset, axis1, axis2)
        view.setflags(write=True)
        view[...] = g
        return (gx,)
    return result(y, (x,), (t,), vjp, "diagonal")


@op("vjp")
def diag(x, k=0):
    a, t = operand(x)
    y = np.diag(a, k)
    if np.ndim(a) == 1:
        return result(y, (x,), (t,), lambda g: (np.diag(g, k),), "diag")
    return result(y, (x,), (t,), lambda g: (_diag_back(g, a.shape, k),), "diag")


def _diag_back(g, shape, k):
    gx = np.zeros(shape, g.dtype)
    n = len(g)
    rows = np.arange(n) + builtins.max(-k, 0)
    cols = np.arange(n) + builtins.max(k, 0)
    gx[rows, cols] = g
    return gx


def _tri_mask(shape, k, lower):
    n, m = shape[-2], shape[-1]
    return np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)


@op("vjp")
def tril(x, k=0):
    a, t = operand(x)
    mask = _tri_mask(a.shape, k, True)
    return result(np.where(mask, a, 0).astype(a.dtype), (x,), (t,), lambda g: (np.where(mask, g, 0),), "tril")


@op("vjp")
def triu(x, k=0):
    a, t = operand(x)
    mask = _tri_mask(a.shape, k, False)
    return result(np.where(mask, a, 0).astype(a.dtype), (x,), (t,), lambda g: (np.where(mask, g, 0),), "triu")


@op("vjp")
def norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, "fro", 2) and not (ord == 1 and axis is not None and not isinstance(axis, tuple)):
        if ord == 1:
            return sum(absolute(x), axis=axis, keepdims=keepdims)
        raise NotImplementedError(f"ops.norm: ord={ord!r} is not supported (None, 'fro', 1, 2 are)")
    if ord == 1:
        return sum(absolute(x), axis=axis, keepdims=keepdims)
    return sqrt(sum(square(x), axis=axis, keepdims=keepdims))


# ---------------------------------------------------------------- reductions
def _reduction(name, f, df=None, kind="vjp"):
    def fn(x, axis=None, keepdims=False):
        a, t = operand(x)
        a = np.asarray(a)
        y = f(a, axis, keepdims)
        if df is None or t is None:
            return result(y, (x,), (None,), None, name)

        def vjp(g):
            return (df(a, y, g, axis, keepdims),)
        return result(y, (x,), (t,), vjp, name)
    fn.__name__ = name
    fn.__doc__ = f"{name} over `axis` (None: all), as keras.ops.{name}."
    return op(kind, name)(fn)


def _count(shape, axis):
    return int(np.prod([shape[i] for i in _norm_axis(axis, len(shape))])) if len(shape) else 1


def _sum_back(a, y, g, axis, keepdims):
    return _expand_reduced(g, a.shape, axis, keepdims).astype(a.dtype, copy=False)


def _mean_back(a, y, g, axis, keepdims):
    return _expand_reduced(g / _count(a.shape, axis), a.shape, axis, keepdims)


def _extreme_back(a, y, g, axis, keepdims):
    ye = _expand_reduced(y, a.shape, axis, keepdims)
    mask = (a == ye)
    n = mask.sum(axis=_norm_axis(axis, a.ndim), keepdims=True)
    return _expand_reduced(g, a.shape, axis, keepdims) * mask / n


def _var_values(a, axis, keepdims):
    return np.var(_float(a), axis=axis if axis is None else _norm_axis(axis, a.ndim), keepdims=keepdims)


def _var_back(a, y, g, axis, keepdims):
    ax = _norm_axis(axis, a.ndim)
    centered = a - a.mean(axis=ax, keepdims=True)
    return _expand_reduced(g, a.shape, axis, keepdims) * 2 * centered / _count(a.shape, axis)


def _std_back(a, y, g, axis, keepdims):
    return _var_back(a, y, g / (2 * np.where(y > 0, y, np.inf)), axis, keepdims)


def _prod_back(a, y, g, axis, keepdims):
    ye = _expand_reduced(y, a.shape, axis, keepdims)
    return _expand_reduced(g, a.shape, axis, keepdims) * np.where(a != 0, ye / np.where(a != 0, a, 1), 0)


def _logsumexp_values(a, axis, keepdims):
    a = _float(a)
    ax = _norm_axis(axis, a.ndim)
    m = np.max(a, axis=ax, keepdims=True) if a.size else np.zeros([1] * a.ndim, a.dtype)
    m = np.where(np.isfinite(m), m, 0)
    y = np.log(np.sum(np.exp(a - m), axis=ax, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis=ax)


def _logsumexp_back(a, y, g, axis, keepdims):
    ye = _expand_reduced(y, a.shape, axis, keepdims)
    return _expand_reduced(g, a.shape, axis, keepdims) * np.exp(a - ye)


def _ax(axis):
    return axis if axis is None or isinstance(axis, int) else tuple(axis)


sum = _reduction("sum", lambda a, axis, k: np.sum(a, axis=_ax(axis), keepdims=k), _sum_back)
mean = _reduction("mean", lambda a, axis, k: np.mean(_float(a), axis=_ax(axis), keepdims=k), _mean_back)
max = _reduction("max", lambda a, axis, k: np.max(a, axis=_ax(axis), keepdims=k), _extreme_back)
min = _reduction("min", lambda a, axis, k: np.min(a, axis=_ax(axis), keepdims=k), _extreme_back)
amax = _reduction("amax", lambda a, axis, k: np.max(a, axis=_ax(axis), keepdims=k), _extreme_back)
amin = _reduction("amin", lambda a, axis, k: np.min(a, axis=_ax(axis), keepdims=k), _extreme_back)
prod = _reduction("prod", lambda a, axis, k: np.prod(a, axis=_ax(axis), keepdims=k), _prod_back)
var = _reduction("var", _var_values, _var_back)
std = _reduction("std", lambda a, axis, k: np.sqrt(_var_values(a, axis, k)), _std_back)
logsumexp = _reduction("logsumexp", _logsumexp_values, _logsumexp_back)
all = _reduction("all", lambda a, axis, k: np.all(a, axis=_ax(axis), keepdims=k), kind="none")
any = _reduction("any", lambda a, axis, k: np.any(a, axis=_ax(axis), keepdims=k), kind="none")


@op("none")
def count_nonzero(x, axis=None):
    return result(np.count_nonzero(value_of(x), axis=_ax(axis)), (x,), (None,), None, "count_nonzero")


@op("none")
def argmax(x, axis=None, keepdims=False):
    return result(np.argmax(value_of(x), axis=axis, keepdims=keepdims).astype(np.int32), (x,), (None,), None,
                  "argmax")


@op("none")
def argmin(x, axis=None, keepdims=False):
    return result(np.argmin(value_of(x), axis=axis, keepdims=keepdims).astype(np.int32), (x,), (None,), None,
                  "argmin")


@op("none")
def argsort(x, axis=-1):
    return result(np.argsort(value_of(x), axis=axis, kind="stable").astype(np.int32), (x,), (None,), None,
                  "argsort")


@op("vjp")
def sort(x, axis=-1):
    a = value_of(x)
    idx = np.argsort(a, axis=axis, kind="stable")
    return take_along_axis(x, idx, axis=axis)


@op("vjp")
def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis=axis)
    w = weights
    if np.ndim(value_of(w)) == 1 and axis is not None and np.ndim(value_of(x)) > 1:
        shape = [1] * np.ndim(value_of(x))
        shape[axis] = -1
        w = reshape(w, shape)
    return divide(sum(multiply(x, w), axis=axis), sum(multiply(ones_like(x), w), axis=axis))


def _cum(name, f):
    def fn(x, axis=None, dtype=None):
        a, t = operand(x)
        a = np.asarray(a)
        flat = axis is None
        src = a.reshape(-1) if flat else a
        ax = 0 if flat else axis
        y = f(src, axis=ax)
        if dtype is not None:
            y = y.astype(dtype)

        def vjp(g):
            if name == "cumsum":
                gx = np.flip(np.cumsum(np.flip(g, ax), axis=ax), ax)
            else:
                gx = np.flip(np.cumsum(np.flip(g * y, ax), axis=ax), ax) / np.where(src != 0, src, 1)
            return (gx.reshape(a.shape),)
        return result(y, (x,), (t,), vjp, name)
    fn.__name__ = name
    return op("vjp", name)(fn)


cumsum = _cum("cumsum", np.cumsum)
cumprod = _cum("cumprod", np.cumprod)


# ---------------------------------------------------------------- shapes
@op("vjp")
def reshape(x, newshape):
    a, t = operand(x)
    a = np.asarray(a)
    newshape = tuple(-1 if d is None else int(d) for d in ((newshape,) if isinstance(newshape, int) else newshape))
    y = a.reshape(newshape)
    return result(y, (x,), (t,), lambda g: (np.reshape(g, a.shape),), "reshape")


@op("vjp")
def ravel(x):
    return reshape(x, (-1,))


@op("vjp")
def transpose(x, axes=None):
    a, t = operand(x)
    a = np.asarray(a)
    y = np.transpose(a, axes)
    inverse = None if axes is None else np.argsort([i % a.ndim for i in axes])
    return result(y, (x,), (t,), lambda g: (np.transpose(g, inverse),), "transpose")


@op("vjp")
def swapaxes(x, axis1, axis2):
    a = value_of(x)
    axes = list(range(np.ndim(a)))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


@op("vjp")
def moveaxis(x, source, destination):
    perm = [int(i) for i in np.moveaxis(np.arange(np.ndim(value_of(x))), source, destination)]
    return transpose(x, perm)


@op("vjp")
def expand_dims(x, axis):
    a, t = operand(x)
    y = np.expand_dims(a, axis)
    return result(y, (x,), (t,), lambda g: (np.reshape(g, np.shape(a)),), "expand_dims")


@op("vjp")
def squeeze(x, axis=None):
    a, t = operand(x)
    y = np.squeeze(a, axis=_ax(axis))
    return result(y, (x,), (t,), lambda g: (np.reshape(g, np.shape(a)),), "squeeze")


@op("vjp")
def broadcast_to(x, shape):
    a, t = operand(x)
    y = np.broadcast_to(a, tuple(shape))
    return result(y, (x,), (t,), lambda g: (unbroadcast(g, np.shape(a)),), "broadcast_to")


def _operands(xs):
    pairs = [operand(x) for x in xs]
    arrays = [np.asarray(a) for a, _ in pairs]
    if builtins.any(a.dtype.kind == "f" for a in arrays):
        ft = np.result_type(*[a.dtype for a in arrays if a.dtype.kind == "f"])
        arrays = [a.astype(ft) if a.dtype.kind != "f" else a for a in arrays]
    return arrays, [t for _, t in pairs]


@op("vjp")
def concatenate(xs, axis=0):
    arrays, traced = _operands(xs)
    y = np.concatenate(arrays, axis=axis)
    bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]

    def vjp(g):
        return tuple(np.split(g, bounds, axis=axis))
    return result(y, tuple(xs), traced, vjp, "concatenate")


@op("vjp")
def append(x1, x2, axis=None):
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([x1, x2], axis=axis)


@op("vjp")
def stack(xs, axis=0):
    arrays, traced = _operands(xs)
    y = np.stack(arrays, axis=axis)

    def vjp(g):
        return tuple(np.take(g, i, axis=axis) for i in range(len(arrays)))
    return result(y, tuple(xs), traced, vjp, "stack")


@op("vjp")
def hstack(xs):
    return concatenate(xs, axis=0 if np.ndim(value_of(xs[0])) == 1 else 1)


@op("vjp")
def vstack(xs):
    return concatenate([reshape(x, (1, -1)) if np.ndim(value_of(x)) == 1 else x for x in xs], axis=0)


@op("vjp")
def split(x, indices_or_sections, axis=0):
    a, t = operand(x)
    a = np.asarray(a)
    parts = np.split(a, indices_or_sections, axis=axis)
    starts = np.cumsum([0] + [p.shape[axis] for p in parts])
    outs = []
    for k, p in enumerate(parts):
        def vjp(g, k=k):
            gx = np.zeros_like(a)
            idx = [builtins.slice(None)] * a.ndim
            idx[axis] = builtins.slice(starts[k], starts[k + 1])
            gx[tuple(idx)] = g
            return (gx,)
        outs.append(result(p, (x,), (t,), vjp, "split"))
    return outs


@op("vjp")
def unstack(x, num=None, axis=0):
    a = value_of(x)
    return [take(x, i, axis=axis) for i in range(np.shape(a)[axis])]


@op("vjp")
def tile(x, repeats):
    a, t = operand(x)
    a = np.asarray(a)
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    y = np.tile(a, reps)

    def vjp(g):
        nd = builtins.max(a.ndim, len(reps))
        shape = (1,) * (nd - a.ndim) + a.shape
        full = (1,) * (nd - len(reps)) + reps
        g = g.reshape([v for pair in zip(full, shape) for v in pair])
        return (g.sum(axis=tuple(range(0, 2 * nd, 2))).reshape(a.shape),)
    return result(y, (x,), (t,), vjp, "tile")


@op("vjp")
def repeat(x, repeats, axis=None):
    a, t = operand(x)
    a = np.asarray(a)
    src = a.reshape(-1) if axis is None else a
    ax = 0 if axis is None else axis % a.ndim
    y = np.repeat(src, repeats, axis=ax)

    def vjp(g):
        counts = np.broadcast_to(np.asarray(repeats), (src.shape[ax],))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        gx = np.add.reduceat(g, starts, axis=ax) if g.shape[ax] else np.zeros_like(src)
        gx = np.where(np.expand_dims(counts, tuple(i for i in range(src.ndim) if i != ax)) > 0, gx, 0)
        return (gx.reshape(a.shape),)
    return result(y, (x,), (t,), vjp, "repeat")


@op("vjp")
def pad(x, pad_width, mode="constant", constant_values=None):
    a, t = operand(x)
    a = np.asarray(a)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (a.ndim, 2)) if np.ndim(pad_width) < 2 \
        else np.asarray(pad_width, dtype=np.int64)
    kwargs = {"constant_values": constant_values or 0} if mode == "constant" else {}
    y = np.pad(a, widths, mode=mode, **kwargs)
    if mode != "constant":
        def vjp_general(g):
            raise NotImplementedError(f"the gradient of pad with mode={mode!r} is not supported")
        return result(y, (x,), (t,), vjp_general, "pad")
    index = tuple(builtins.slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
    return result(y, (x,), (t,), lambda g: (g[index],), "pad")


@op("vjp")
def flip(x, axis=None):
    a, t = operand(x)
    return result(np.flip(a, axis=_ax(axis)), (x,), (t,), lambda g: (np.flip(g, axis=_ax(axis)),), "flip")


@op("vjp")
def roll(x, shift, axis=None):
    a, t = operand(x)
    neg = -np.asarray(shift) if not isinstance(shift, int) else -shift
    return result(np.roll(a, shift, axis=_ax(axis)), (x,), (t,),
                  lambda g: (np.roll(g, neg, axis=_ax(axis)),), "roll")


def _is_basic_index(key):
    keys = key if isinstance(key, tuple) else (key,)
    return builtins.all(k is None or k is Ellipsis or isinstance(k, (builtins.slice, int, np.integer)) for k in keys)


def _index_value(key):
    if isinstance(key, tuple):
        return tuple(_index_value(k) for k in key)
    if isinstance(key, (Tensor, Variable)):
        return key.value
    if isinstance(key, list):
        return np.asarray([_index_value(k) for k in key])
    return key


@op("vjp")
def getitem(x, key):
    """x[key] with NumPy's indexing (basic and advanced)."""
    a, t = operand(x)
    a = np.asarray(a)
    key = _index_value(key)
    y = a[key]

    def vjp(g):
        gx = np.zeros_like(a)
        if _is_basic_index(key):
            gx[key] = g
        else:
            np.add.at(gx, key, g)
        return (gx,)
    return result(np.array(y) if np.ndim(y) == 0 else y, (x,), (t,), vjp, "getitem")


@op("vjp")
def take(x, indices, axis=None):
    a, t = operand(x)
    a = np.asarray(a)
    idx = np.asarray(value_of(indices)).astype(np.int64)
    src = a.reshape(-1) if axis is None else a
    ax = 0 if axis is None else axis % a.ndim
    idx = np.where(idx < 0, idx + src.shape[ax], idx)
    y = np.take(src, idx, axis=ax)

    def vjp(g):
        gx = np.zeros_like(src)
        moved = np.moveaxis(gx, ax, 0)
        gm = g.reshape(g.shape[:ax] + (idx.size,) + g.shape[ax + idx.ndim:]) if idx.ndim != 1 else g
        np.add.at(moved, idx.reshape(-1), np.moveaxis(gm, ax, 0))
        return (gx.reshape(a.shape),)
    return result(y, (x,), (t,), vjp, "take")


@op("vjp")
def take_along_axis(x, indices, axis=None):
    a, t = operand(x)
    a = np.asarray(a)
    idx = np.asarray(value_of(indices)).astype(np.int64)
    src = a.reshape(-1) if axis is None else a
    ax = -1 if axis is None else axis
    idx = np.where(idx < 0, idx + src.shape[ax], idx)
    y = np.take_along_axis(src, idx, axis=ax)

    def vjp(g):
        gx = np.zeros_like(src)
        full = np.broadcast_to(idx, g.shape)
        grids = list(np.indices(g.shape, sparse=True))
        grids[ax % src.ndim] = full
        np.add.at(gx, tuple(grids), g)
        return (gx.reshape(a.shape),)
    return result(y, (x,), (t,), vjp, "take_along_axis")


@op("vjp")
def slice(x, start_indices, shape):
    """x[start : start + shape] along every axis, as keras.ops.slice."""
    key = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(value_of(start_indices), shape))
    return getitem(x, key)


@op("vjp")
def slice_update(x, start_indices, updates):
    a, ta = operand(x)
    u, tu = operand(updates)
    u = np.asarray(u)
    key = tuple(builtins.slice(int(s), int(s) + n) for s, n in zip(value_of(start_indices), u.shape))
    y = np.array(a, copy=True)
    y[key] = u

    def vjp(g):
        gx = np.array(g, copy=True)
        gx[key] = 0
        return (gx if ta is not None else None, g[key] if tu is not None else None)
    return result(y, (x, updates), (ta, tu), vjp, "slice_update")


@op("vjp")
def scatter_update(inputs, indices, updates):
    a, ta = operand(inputs)
    u, tu = operand(updates)
    idx = tuple(np.asarray(value_of(indices)).T)
    y = np.array(a, copy=True)
    y[idx] = u

    def vjp(g):
        gx = np.array(g, copy=True)
        gx[idx] = 0
        return (gx if ta is not None else None, g[idx] if tu is not None else None)
    return result(y, (inputs, updates), (ta, tu), vjp, "scatter_update")


@op("vjp")
def scatter(indices, values, shape):
    v, tv = operand(values)
    idx = tuple(np.asarray(value_of(indices)).T)
    y = np.zeros(tuple(shape), np.asarray(v).dtype)
    np.add.at(y, idx, v)
    return result(y, (values,), (tv,), lambda g: (g[idx],), "scatter")


# ---------------------------------------------------------------- creation
def _creation(name, f):
    def fn(*args, **kwargs):
        return f(*args, **kwargs)
    fn.__name__ = name
    return op("none", name)(fn)


def _dtype(dtype, default=FLOATX):
    return np.dtype(default if dtype is None else dtype)


zeros = _creation("zeros", lambda shape, dtype=None: np.zeros(shape, _dtype(dtype)))
ones = _creation("ones", lambda shape, dtype=None: np.ones(shape, _dtype(dtype)))
empty = _creation("empty", lambda shape, dtype=None: np.empty(shape, _dtype(dtype)))
full = _creation("full", lambda shape, fill_value, dtype=None: np.full(
    shape, value_of(fill_value), _dtype(dtype, np.asarray(value_of(fill_value)).dtype
                                        if not isinstance(fill_value, float) else FLOATX)))
eye = _creation("eye", lambda N, M=None, k=0, dtype=None: np.eye(N, M, k, dtype=_dtype(dtype)))
identity = _creation("identity", lambda n, dtype=None: np.identity(n, _dtype(dtype)))
tri = _creation("tri", lambda N, M=None, k=0, dtype=None: np.tri(N, M, k, dtype=_dtype(dtype)))
linspace = _creation("linspace", lambda start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0:
                     np.linspace(start, stop, num, endpoint, retstep, _dtype(dtype), axis))


def _like(fill):
    def fn(x, dtype=None):
        v = value_of(x)
        return np.full(np.shape(v), fill, _dtype(dtype, np.asarray(v).dtype))
    return fn


zeros_like = _creation("zeros_like", _like(0))
ones_like = _creation("ones_like", _like(1))
full_like = _creation("full_like", lambda x, fill_value, dtype=None: np.full(
    np.shape(value_of(x)), value_of(fill_value), _dtype(dtype, np.asarray(value_of(x)).dtype)))
empty_like = _creation("empty_like", lambda x, dtype=None: np.empty(
    np.shape(value_of(x)), _dtype(dtype, np.asarray(value_of(x)).dtype)))


@op("none")
def arange(start, stop=None, step=1, dtype=None):
    if dtype is None:
        dtype = FLOATX if builtins.any(isinstance(v, float) for v in (start, stop, step)) else np.int32
    return np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(start, step=step,
                                                                                       dtype=dtype)


@op("none")
def meshgrid(*xs, indexing="xy"):
    return np.meshgrid(*[value_of(x) for x in xs], indexing=indexing)


@op("none")
def bincount(x, weights=None, minlength=0, sparse=False):
    return np.bincount(value_of(x), None if weights is None else value_of(weights), minlength)


@op("none")
def digitize(x, bins):
    return np.digitize(value_of(x), value_of(bins)).astype(np.int32)


@op("vjp")
def copy(x):
    a, t = operand(x)
    return result(np.array(a, copy=True), (x,), (t,), lambda g: (g,), "copy")


@op("none")
def size(x):
    return int(np.size(value_of(x)))


@op("none")
def ndim(x):
    return int(np.ndim(value_of(x)))


@op("none")
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return np.isclose(value_of(x1), value_of(x2), rtol, atol, equal_nan)


@op("none")
def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return bool(np.allclose(value_of(x1), value_of(x2), rtol, atol, equal_nan))


@op("none")
def array_equal(x1, x2):
    return bool(np.array_equal(value_of(x1), value_of(x2)))
