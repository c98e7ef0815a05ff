"""2-D convolution in NHWC with HWIO weights on the C++ kernels (csrc/conv/), and Keras's geometry.

    y[n, oh, ow, o] = act(bias[o] + sum_{kh, kw, c} x[n, oh*sh - top + kh*dh, ow*sw - left + kw*dw, g*cin_g + c]
                                                    * w[kh, kw, c, o])          (g = o // cout_g; 0 outside x)

Padding is "valid", "same" (Keras / TensorFlow: pad_total = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0),
pad_before = pad_total // 2, the extra row / column at the bottom / right), "causal" (1-D: everything before) or
explicit ((top, bottom), (left, right)). A transposed convolution is the backward-data of a convolution.

Example:
    >>> y = conv2d(x, w, b, strides=2, padding="same", activation="relu")    # x (N, H, W, C), w (3, 3, C, O)
    >>> dx = conv2d_backward_data(dy, w, x.shape, strides=2, padding="same")
    >>> dw, db = conv2d_backward_weights(x, dy, w.shape, strides=2, padding="same")
"""
import functools

import numpy as np

from pynn import _C

__all__ = ["conv_output_length", "conv_padding", "conv_transpose_output_length", "conv2d_geometry", "conv2d",
           "conv2d_backward_data", "conv2d_backward_weights", "conv2d_transpose"]


def _pair(v, name, minimum=1):
    """(a, b) from an integer or a pair of integers, each >= minimum."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = (v, v)
    try:
        a, b = v
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an integer or a pair of integers, got {v!r}") from None
    for e in (a, b):
        if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < minimum:
            raise ValueError(f"{name}: expected integers >= {minimum}, got {v!r}")
    return int(a), int(b)


def _padding(padding):
    """A padding name, or ((top, bottom), (left, right)) as ints >= 0."""
    if isinstance(padding, str):
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"padding: expected 'valid', 'same', 'causal' or ((top, bottom), (left, right)), "
                             f"got {padding!r}")
        return padding
    try:
        rows, cols = padding
    except (TypeError, ValueError):
        raise ValueError(f"padding: expected 'valid', 'same' or ((top, bottom), (left, right)), got {padding!r}") \
            from None
    return _pair(rows, "padding", 0), _pair(cols, "padding", 0)


def conv_output_length(length, kernel, stride, padding, dilation=1):
    """The output length of a convolution along one axis, as Keras computes it (may be <= 0)."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        return (length - effective + stride) // stride
    if padding in ("same", "causal"):
        return -(-length // stride)
    before, after = padding
    return (length + before + after - effective) // stride + 1


def conv_padding(length, kernel, stride, padding, dilation=1):
    """(before, after): the zeros a convolution adds on each side of one axis."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "same":
        total = max((-(-length // stride) - 1) * stride + effective - length, 0)
        return total // 2, total - total // 2
    if padding == "causal":
        return effective - 1, 0
    return tuple(int(p) for p in padding)


def conv_transpose_output_length(length, kernel, stride, padding, output_padding=None, dilation=1):
    """The output length of a transposed convolution (Keras's compute_conv_transpose_output_length)."""
    effective = (kernel - 1) * dilation + 1
    if output_padding is None:
        return length * stride + max(effective - stride, 0) if padding == "valid" else length * stride
    pad = effective // 2 if padding == "same" else 0
    return (length - 1) * stride + effective - 2 * pad + output_padding


def conv2d_geometry(in_hw, kernel, strides=1, padding="valid", dilation=1):
    """((out_h, out_w), (pad_top, pad_left)) for an image of size in_hw; padding a name or ((t, b), (l, r))."""
    kernel, strides, dilation = _pair(kernel, "kernel_size"), _pair(strides, "strides"), _pair(dilation, "dilation")
    pads = _padding(padding)
    out, before = [], []
    for axis in range(2):
        pad_axis = pads if isinstance(pads, str) else pads[axis]
        out.append(conv_output_length(in_hw[axis], kernel[axis], strides[axis], pad_axis, dilation[axis]))
        before.append(conv_padding(in_hw[axis], kernel[axis], strides[axis], pad_axis, dilation[axis])[0])
    return tuple(out), tuple(before)


def _explicit(in_hw, kernel, strides, padding, dilation):
    """((top, bottom), (left, right)): the zeros around an image of size in_hw (the kernels' padding argument)."""
    pads = _padding(padding)
    return tuple(conv_padding(in_hw[axis], kernel[axis], strides[axis], pads if isinstance(pads, str) else pads[axis],
                              dilation[axis]) for axis in range(2))


def _plan(func, x_shape, w_shape, strides, padding, dilation):
    """(y_shape, strides, padding, dilation) of the convolution of an image of x_shape (N, H, W, C) by a kernel
    of w_shape (KH, KW, C / groups, O), the padding made explicit; ValueError naming func when it does not fit.
    A layer asks with the same arguments at every batch: worked out once (arguments that are not hashable,
    a list of strides say, each time)."""
    try:
        return _cached_plan(func, tuple(x_shape), tuple(w_shape), strides, padding, dilation)
    except TypeError:
        return _make_plan(func, x_shape, w_shape, strides, padding, dilation)


def _make_plan(func, x_shape, w_shape, strides, padding, dilation):
    for name, shape in (("x", x_shape), ("w", w_shape)):
        if len(shape) != 4:
            raise ValueError(f"{func}: {name}: expected a 4-D shape, got {tuple(shape)}")
    strides, dilation = _pair(strides, "strides"), _pair(dilation, "dilation")
    pads = _explicit(x_shape[1:3], w_shape[:2], strides, padding, dilation)
    out = [conv_output_length(x_shape[1 + axis], w_shape[axis], strides[axis], pads[axis], dilation[axis])
           for axis in range(2)]
    if min(out) <= 0:
        raise ValueError(f"{func}: a {w_shape[0]}x{w_shape[1]} kernel (dilation {dilation}) does not fit the "
                         f"{x_shape[1]}x{x_shape[2]} input padded by {pads}")
    return (x_shape[0], out[0], out[1], w_shape[3]), strides, pads, dilation


_cached_plan = functools.lru_cache(maxsize=1024)(_make_plan)


def _expect(func, name, shape, want, why=""):
    if tuple(shape) != tuple(want):
        raise ValueError(f"{func}: {name}: expected shape {tuple(want)}{why}, got {tuple(shape)}")


def _activation_spec(activation):
    if activation is None:
        return None
    if isinstance(activation, str):
        return activation
    if getattr(activation, "params", None):
        return (activation.name, activation.params)
    return activation.name


def conv2d(x, w, bias=None, strides=1, padding="valid", dilation=1, groups=1, activation=None, out=None):
    """act(conv2d(x, w) + bias) for x (N, H, W, C), w (KH, KW, C / groups, O). Returns (N, OH, OW, O).

    activation: None, an elementwise activation name or (name, params), fused into the store.
    out: None, or the array to write, of the output's shape (N, OH, OW, O) exactly (ValueError otherwise).
    """
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    y_shape, strides, pads, dilation = _plan("conv2d", x.shape, w.shape, strides, padding, dilation)
    if out is None:
        out = np.empty(y_shape, dtype=x.dtype)
    else:
        _expect("conv2d", "out", np.shape(out), y_shape, f" (the convolution of x {x.shape} by w {w.shape})")
    _C.conv2d_forward(x, w, bias, out, strides, pads, dilation, groups, _activation_spec(activation))
    return out


def conv2d_backward_data(dy, w, x_shape, strides=1, padding="valid", dilation=1, groups=1, out=None, mask=None):
    """The gradient with respect to x (of shape x_shape) of sum(dz * conv2d(x, w)).

    dz = dy, or dy * (mask > 0) with mask the output of a relu fused into the forward (dy's shape): the
    relu's backward then happens inside the kernel's tiles. dy must have the shape of the convolution's output
    for an input of x_shape, and out (when given) x_shape.
    """
    x_shape, dy, w = tuple(x_shape), np.ascontiguousarray(dy), np.ascontiguousarray(w)
    y_shape, strides, pads, dilation = _plan("conv2d_backward_data", x_shape, w.shape, strides, padding, dilation)
    _expect("conv2d_backward_data", "dy", dy.shape, y_shape, f" (the convolution's output for x_shape {x_shape})")
    if out is None:
        out = np.empty(x_shape, dtype=dy.dtype)
    else:
        _expect("conv2d_backward_data", "out", np.shape(out), x_shape, " (x_shape)")
    _C.conv2d_backward_data(dy, w, out, strides, pads, dilation, groups, False, mask)
    return out


def conv2d_backward_weights(x, dy, w_shape, strides=1, padding="valid", dilation=1, groups=1, bias=True,
                            dw=None, dbias=None, accumulate=False, mask=None):
    """(dw, dbias): the gradients of sum(dz * conv2d(x, w) + bias) (dbias None when bias is False).

    With accumulate=True the gradients are added into the given dw / dbias. dz = dy, or dy * (mask > 0) (see
    conv2d_backward_data). dy must have the shape of the convolution's output for x; dw (when given) w_shape,
    dbias (when given) (w_shape[3],).
    """
    w_shape, x, dy = tuple(w_shape), np.ascontiguousarray(x), np.ascontiguousarray(dy)
    y_shape, strides, pads, dilation = _plan("conv2d_backward_weights", x.shape, w_shape, strides, padding, dilation)
    _expect("conv2d_backward_weights", "dy", dy.shape, y_shape, f" (the convolution's output for x {x.shape})")
    if dw is None:
        dw = np.empty(w_shape, dtype=x.dtype)
        accumulate = False
    else:
        _expect("conv2d_backward_weights", "dw", np.shape(dw), w_shape, " (w_shape)")
    if bias and dbias is None:
        dbias = np.empty(w_shape[3], dtype=x.dtype)
        accumulate = False
    elif bias:
        _expect("conv2d_backward_weights", "dbias", np.shape(dbias), w_shape[3:], " (the output channels)")
    _C.conv2d_backward_weights(x, dy, dw, dbias if bias else None, strides, pads, dilation, groups, accumulate,
                               False, mask)
    return dw, (dbias if bias else None)


def conv2d_transpose(x, w, out_hw, strides=1, padding="valid", dilation=1):
    """The transposed convolution of x (N, H, W, O) with w (KH, KW, C, O): (N, out_h, out_w, C).

    It is the backward-data of the convolution of a (N, out_h, out_w, C) image with w (Keras's Conv2DTranspose
    kernel layout); `padding` is that convolution's, computed on out_hw. out_hw must be a size whose
    convolution has x's size (ValueError otherwise).
    """
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d_transpose: x, w: expected 4-D arrays, got shapes {x.shape} and {w.shape}")
    x_shape = (x.shape[0],) + tuple(int(v) for v in out_hw) + (w.shape[2],)
    y_shape = _plan("conv2d_transpose", x_shape, w.shape, strides, padding, dilation)[0]
    if y_shape[1:3] != x.shape[1:3]:
        raise ValueError(f"conv2d_transpose: out_hw: the convolution (padding {padding!r}, strides {strides}, "
                         f"dilation {dilation}) of a {tuple(out_hw)} image by a {w.shape[0]}x{w.shape[1]} kernel is "
                         f"{y_shape[1:3]}, not x's size {x.shape[1:3]}")
    return conv2d_backward_data(x, w, x_shape, strides, padding, dilation)
