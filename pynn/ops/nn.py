"""Keras's neural-network ops (keras.ops.relu, softmax, conv, max_pool, moments, one_hot, the cross-entropies,
dot_product_attention, ...). Convolution and pooling run on pynn's C++ kernels (channels last); activations
compute in NumPy with their exact derivatives; composite ops (moments, the cross-entropies, attention) are
written with other ops and differentiate through them."""
import math

import numpy as np

from pynn import kernels
from pynn.ops import numpy_ops as n
from pynn.ops.registry import op
from pynn.ops.tensor import needs_gradient, operand, result, value_of


def _activation(name, f, df):
    """An elementwise activation y = f(x) with dy/dx = df(x, y)."""
    def fn(x):
        a, t = operand(x)
        a = n._float(a)
        y = f(a)
        return result(y, (x,), (t,), (lambda g: (g * df(a, y),)) if t is not None else None, name)
    fn.__name__ = name
    fn.__doc__ = f"The {name} activation, elementwise (keras.ops.{name})."
    return op("vjp", name)(fn)


def _sigmoid(a):
    out = np.empty_like(a)
    pos = a >= 0
    out[pos] = 1 / (1 + np.exp(-a[pos]))
    e = np.exp(a[~pos])
    out[~pos] = e / (1 + e)
    return out


_SQRT_2_PI = math.sqrt(2 / math.pi)
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

relu = _activation("relu", lambda a: np.maximum(a, 0), lambda a, y: a > 0)
relu6 = _activation("relu6", lambda a: np.clip(a, 0, 6), lambda a, y: (a > 0) & (a < 6))
sigmoid = _activation("sigmoid", _sigmoid, lambda a, y: y * (1 - y))
softplus = _activation("softplus", lambda a: np.logaddexp(a, 0).astype(a.dtype), lambda a, y: _sigmoid(a))
softsign = _activation("softsign", lambda a: a / (1 + np.abs(a)), lambda a, y: 1 / np.square(1 + np.abs(a)))
silu = _activation("silu", lambda a: a * _sigmoid(a), lambda a, y: _sigmoid(a) * (1 + a * (1 - _sigmoid(a))))
swish = _activation("swish", lambda a: a * _sigmoid(a), lambda a, y: _sigmoid(a) * (1 + a * (1 - _sigmoid(a))))
log_sigmoid = _activation("log_sigmoid", lambda a: -np.logaddexp(0, -a).astype(a.dtype), lambda a, y: _sigmoid(-a))
hard_sigmoid = _activation("hard_sigmoid", lambda a: np.clip(a / 6 + 0.5, 0, 1), lambda a, y: ((a > -3) & (a < 3)) / 6)
hard_silu = _activation("hard_silu", lambda a: a * np.clip(a / 6 + 0.5, 0, 1),
                        lambda a, y: np.where(a <= -3, 0, np.where(a >= 3, 1, a / 3 + 0.5)))
hard_swish = _activation("hard_swish", lambda a: a * np.clip(a / 6 + 0.5, 0, 1),
                         lambda a, y: np.where(a <= -3, 0, np.where(a >= 3, 1, a / 3 + 0.5)))
selu = _activation("selu", lambda a: _SELU_SCALE * np.where(a > 0, a, _SELU_ALPHA * np.expm1(np.minimum(a, 0))),
                   lambda a, y: _SELU_SCALE * np.where(a > 0, 1, _SELU_ALPHA * np.exp(np.minimum(a, 0))))
mish = _activation("mish", lambda a: a * np.tanh(np.logaddexp(a, 0)),
                   lambda a, y: np.tanh(np.logaddexp(a, 0)) + a * _sigmoid(a) * (1 - np.tanh(np.logaddexp(a, 0)) ** 2))


@op("vjp")
def leaky_relu(x, negative_slope=0.2):
    a, t = operand(x)
    a = n._float(a)
    return result(np.where(a > 0, a, negative_slope * a).astype(a.dtype), (x,), (t,),
                  lambda g: (g * np.where(a > 0, 1, negative_slope),), "leaky_relu")


@op("vjp")
def elu(x, alpha=1.0):
    a, t = operand(x)
    a = n._float(a)
    e = np.expm1(np.minimum(a, 0))
    return result(np.where(a > 0, a, alpha * e).astype(a.dtype), (x,), (t,),
                  lambda g: (g * np.where(a > 0, 1, alpha * (e + 1)),), "elu")


@op("vjp")
def celu(x, alpha=1.0):
    a, t = operand(x)
    a = n._float(a)
    e = np.expm1(np.minimum(a, 0) / alpha)
    return result(np.where(a > 0, a, alpha * e).astype(a.dtype), (x,), (t,),
                  lambda g: (g * np.where(a > 0, 1, e + 1),), "celu")


@op("vjp")
def gelu(x, approximate=True):
    """GELU; Keras's ops.gelu defaults to the tanh approximation (the layer activation "gelu" does not)."""
    a, t = operand(x)
    a = n._float(a)
    if approximate:
        inner = _SQRT_2_PI * (a + 0.044715 * a ** 3)
        th = np.tanh(inner)
        y = 0.5 * a * (1 + th)

        def vjp(g):
            return (g * (0.5 * (1 + th) + 0.5 * a * (1 - th * th) * _SQRT_2_PI * (1 + 3 * 0.044715 * a * a)),)
    else:
        cdf = 0.5 * (1 + n._erf(a / math.sqrt(2)))
        y = a * cdf

        def vjp(g):
            return (g * (cdf + a * np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)),)
    return result(y.astype(a.dtype), (x,), (t,), vjp, "gelu")


@op("vjp")
def softmax(x, axis=-1):
    a, t = operand(x)
    a = n._float(a)
    if axis in (-1, a.ndim - 1) and a.ndim >= 1 and a.dtype in (np.float32, np.float64) and a.size:
        y = kernels.softmax(np.ascontiguousarray(a))      # the last axis: forward and vjp on the C++ kernel

        def vjp(g):
            return (kernels.softmax_backward(y, np.ascontiguousarray(g, y.dtype)),)
        vjp.last_axis_softmax = True     # a loss may start from the logits instead (call_support.softmax_logits)
    else:
        e = np.exp(a - np.max(a, axis=axis, keepdims=True))
        y = e / np.sum(e, axis=axis, keepdims=True)

        def vjp(g):
            return (y * (g - np.sum(g * y, axis=axis, keepdims=True)),)
    return result(y, (x,), (t,), vjp if t is not None else None, "softmax")


@op("vjp")
def log_softmax(x, axis=-1):
    a, t = operand(x)
    a = n._float(a)
    m = np.max(a, axis=axis, keepdims=True)
    y = a - m - np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))
    return result(y, (x,), (t,), lambda g: (g - np.exp(y) * np.sum(g, axis=axis, keepdims=True),), "log_softmax")


@op("none")
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    idx = np.asarray(value_of(x)).astype(np.int64)
    out = (idx[..., None] == np.arange(num_classes)).astype(n._dtype(dtype))
    return np.moveaxis(out, -1, axis) if axis != -1 else out


@op("none")
def multi_hot(inputs, num_classes, axis=-1, dtype=None, sparse=False):
    idx = np.asarray(value_of(inputs)).astype(np.int64)
    hot = (idx[..., None] == np.arange(num_classes)).any(axis=-2).astype(n._dtype(dtype))
    return np.moveaxis(hot, -1, axis) if axis != -1 else hot


# ---------------------------------------------------------------- losses
_EPSILON = 1e-7


@op("vjp")
def binary_crossentropy(target, output, from_logits=False):
    if from_logits:
        # max(x, 0) - x z + log(1 + exp(-|x|)): stable for any logit
        return n.add(n.subtract(relu(output), n.multiply(output, target)), n.log1p(n.exp(n.negative(n.abs(output)))))
    output = n.clip(output, _EPSILON, 1 - _EPSILON)
    return n.negative(n.add(n.multiply(target, n.log(output)),
                            n.multiply(n.subtract(1, target), n.log(n.subtract(1, output)))))


@op("vjp")
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    if from_logits:
        return n.negative(n.sum(n.multiply(target, log_softmax(output, axis=axis)), axis=axis))
    output = n.divide(output, n.sum(output, axis=axis, keepdims=True))
    output = n.clip(output, _EPSILON, 1 - _EPSILON)
    return n.negative(n.sum(n.multiply(target, n.log(output)), axis=axis))


@op("vjp")
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    labels = np.asarray(value_of(target)).astype(np.int64)
    if labels.ndim == np.ndim(value_of(output)) and labels.shape[-1] == 1:
        labels = labels[..., 0]
    hot = one_hot(labels, np.shape(value_of(output))[axis], axis=axis, dtype=n._float(value_of(output)).dtype)
    return categorical_crossentropy(hot, output, from_logits=from_logits, axis=axis)


# ---------------------------------------------------------------- statistics
@op("vjp")
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over `axes`."""
    m = n.mean(x, axis=axes, keepdims=True)
    v = n.mean(n.square(n.subtract(x, m)), axis=axes, keepdims=keepdims)
    if not keepdims:
        m = n.squeeze(m, axis=axes)
    return m, v


@op("vjp")
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    nd = np.ndim(value_of(x))
    shape = [1] * nd
    shape[axis] = -1

    def b(v):
        return n.reshape(v, shape) if np.ndim(value_of(v)) == 1 else v
    inv = n.rsqrt(n.add(b(variance), epsilon))
    if scale is not None:
        inv = n.multiply(inv, b(scale))
    y = n.multiply(n.subtract(x, b(mean)), inv)
    return n.add(y, b(offset)) if offset is not None else y


@op("vjp")
def normalize(x, axis=-1, order=2, epsilon=None):
    norm = n.norm(x, ord=order, axis=axis, keepdims=True)
    return n.divide(x, n.maximum(norm, 1e-12 if epsilon is None else epsilon))


# ---------------------------------------------------------------- convolution and pooling
def _two_d(x_value, what):
    nd = np.ndim(x_value)
    if nd == 3:
        return True
    if nd == 4:
        return False
    raise NotImplementedError(f"ops.{what}: inputs of rank {nd}; 1-D (rank 3) and 2-D (rank 4) channels-last "
                              "inputs are supported")


def _check_format(data_format, what):
    if data_format not in (None, "channels_last"):
        raise NotImplementedError(f"ops.{what}: data_format={data_format!r}; pynn computes channels_last")


@op("vjp")
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution, channels last: inputs (batch, *spatial, C), kernel (*window, C / groups, filters)."""
    _check_format(data_format, "conv")
    xv, tx = operand(inputs)
    wv, tw = operand(kernel)
    xv, wv = n._float(xv), np.asarray(wv, dtype=n._float(xv).dtype)
    one_d = _two_d(xv, "conv")
    x4 = np.ascontiguousarray(xv[:, None] if one_d else xv)
    w4 = np.ascontiguousarray(wv[None] if one_d else wv)
    s = (1, strides if isinstance(strides, int) else strides[0]) if one_d else strides
    d = (1, dilation_rate if isinstance(dilation_rate, int) else dilation_rate[0]) if one_d else dilation_rate
    groups = x4.shape[-1] // w4.shape[2]
    y = kernels.conv2d(x4, w4, None, s, padding, d, groups)

    def vjp(g):
        g4 = np.ascontiguousarray(g[:, None] if one_d else g)
        gx = gw = None
        if needs_gradient(tx):
            gx = kernels.conv2d_backward_data(g4, w4, x4.shape, s, padding, d, groups)
            gx = gx[:, 0] if one_d else gx
        if needs_gradient(tw):
            gw = kernels.conv2d_backward_weights(x4, g4, w4.shape, s, padding, d, groups, bias=False)
            gw = gw[0] if isinstance(gw, tuple) else gw
            gw = gw[0] if one_d else gw
        return gx, gw
    return result(y[:, 0] if one_d else y, (inputs, kernel), (tx, tw), vjp, "conv")


@op("vjp")
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution: kernel (*window, C, multiplier)."""
    wv = value_of(kernel)
    shape = np.shape(wv)
    return conv(inputs, n.reshape(kernel, shape[:-2] + (1, shape[-2] * shape[-1])), strides, padding,
                data_format, dilation_rate)


def _pool(kind, inputs, pool_size, strides, padding, data_format):
    _check_format(data_format, f"{kind}_pool")
    xv, t = operand(inputs)
    xv = n._float(xv)
    one_d = _two_d(xv, f"{kind}_pool")
    x4 = np.ascontiguousarray(xv[:, None] if one_d else xv)

    def pair(v):
        v = v if v is not None else pool_size
        if one_d:
            return (1, v if isinstance(v, int) else v[0])
        return (v, v) if isinstance(v, int) else tuple(v)
    pool, stride = pair(pool_size), pair(strides)
    if kind == "max":
        y, argmax = kernels.max_pool2d(x4, pool, stride, padding, keep_argmax=True)
    else:
        y, argmax = kernels.avg_pool2d(x4, pool, stride, padding), None

    def vjp(g):
        g4 = np.ascontiguousarray(g[:, None] if one_d else g)
        if kind == "max":
            gx = kernels.max_pool2d_backward(g4, argmax, x4.shape, pool, stride, padding)
        else:
            gx = kernels.avg_pool2d_backward(g4, x4.shape, pool, stride, padding)
        return (gx[:, 0] if one_d else gx,)
    return result(y[:, 0] if one_d else y, (inputs,), (t,), vjp, f"{kind}_pool")


@op("vjp")
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("max", inputs, pool_size, strides, padding, data_format)


@op("vjp")
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool("average", inputs, pool_size, strides, padding, data_format)


# ---------------------------------------------------------------- attention
@op("vjp")
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None):
    """softmax(q k^T * scale + bias, masked) v for (batch, seq, heads, dim) inputs, as keras.ops."""
    qv = value_of(query)
    if np.ndim(qv) != 4:
        raise ValueError(f"expected query, key and value of rank 4 (batch, seq, heads, dim), got rank {np.ndim(qv)}")
    scale = 1 / math.sqrt(np.shape(qv)[-1]) if scale is None else scale
    scores = n.multiply(n.einsum("bthd,bshd->bhts", query, key), scale)
    if bias is not None:
        scores = n.add(scores, bias)
    keep = None
    if mask is not None:
        keep = np.asarray(value_of(mask)).astype(bool)
    if is_causal:
        t, s = np.shape(value_of(scores))[-2:]
        causal = np.tril(np.ones((t, s), bool))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        scores = n.where(keep, scores, np.finfo(n._float(qv).dtype).min / 2)
    probs = softmax(scores, axis=-1)
    return n.einsum("bhts,bshd->bthd", probs, value)
