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
import numpy as np

from pynn import _C

__all__ = ["conv_output_length", "conv_padding", "conv_transpose_output_length", "conv2d_geometry", "conv2d",
           "conv2d_backward_data", "conv2d_backward_weights", "conv2d_transpose"]


def _pair(v, name):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    v = tuple(v)
    if len(v) != 2:
        raise ValueError(f"{name}: expected an integer or a pair of integers, got {v!r}")
    return int(v[0]), int(v[1])


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
    pads = padding if isinstance(padding, str) else tuple(padding)
    if not isinstance(pads, str) and len(pads) != 2:
        raise ValueError(f"padding: expected 'valid', 'same' or ((top, bottom), (left, right)), got {padding!r}")
    out, before = [], []
    for axis in range(2):
        pad_axis = pads if isinstance(pads, str) else pads[axis]
        out.append(conv_output_length(in_hw[axis], kernel[axis], strides[axis], pad_axis, dilation[axis]))
        before.append(conv_padding(in_hw[axis], kernel[axis], strides[axis], pad_axis, dilation[axis])[0])
    return tuple(out), tuple(before)


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
    """
    x = np.ascontiguousarray(x)
    strides, dilation = _pair(strides, "strides"), _pair(dilation, "dilation")
    (oh, ow), pads = conv2d_geometry(x.shape[1:3], w.shape[:2], strides, padding, dilation)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv2d: a {w.shape[0]}x{w.shape[1]} kernel (dilation {dilation}) does not fit the "
                         f"{'padded ' if padding != 'valid' else ''}{x.shape[1]}x{x.shape[2]} input")
    if out is None:
        out = np.empty((x.shape[0], oh, ow, w.shape[3]), dtype=x.dtype)
    _C.conv2d_forward(x, np.ascontiguousarray(w), bias, out, strides, pads, dilation, groups,
                      _activation_spec(activation))
    return out


def conv2d_backward_data(dy, w, x_shape, strides=1, padding="valid", dilation=1, groups=1, out=None, mask=None):
    """The gradient with respect to x (of shape x_shape) of sum(dz * conv2d(x, w)).

    dz = dy, or dy * (mask > 0) with mask the output of a relu fused into the forward (dy's shape): the
    relu's backward then happens inside the kernel's tiles.
    """
    strides, dilation = _pair(strides, "strides"), _pair(dilation, "dilation")
    _, pads = conv2d_geometry(x_shape[1:3], w.shape[:2], strides, padding, dilation)
    if out is None:
        out = np.empty(tuple(x_shape), dtype=dy.dtype)
    _C.conv2d_backward_data(np.ascontiguousarray(dy), np.ascontiguousarray(w), out, strides, pads, dilation, groups,
                            False, mask)
    return out


def conv2d_backward_weights(x, dy, w_shape, strides=1, padding="valid", dilation=1, groups=1, bias=True,
                            dw=None, dbias=None, accumulate=False, mask=None):
    """(dw, dbias): the gradients of sum(dz * conv2d(x, w) + bias) (dbias None when bias is False).

    With accumulate=True the gradients are added into the given dw / dbias. dz = dy, or dy * (mask > 0) (see
    conv2d_backward_data).
    """
    strides, dilation = _pair(strides, "strides"), _pair(dilation, "dilation")
    _, pads = conv2d_geometry(x.shape[1:3], w_shape[:2], strides, padding, dilation)
    if dw is None:
        dw = np.empty(tuple(w_shape), dtype=x.dtype)
        accumulate = False
    if bias and dbias is None:
        dbias = np.empty(w_shape[3], dtype=x.dtype)
        accumulate = False
    _C.conv2d_backward_weights(np.ascontiguousarray(x), np.ascontiguousarray(dy), dw, dbias if bias else None,
                               strides, pads, dilation, groups, accumulate, False, mask)
    return dw, (dbias if bias else None)


def conv2d_transpose(x, w, out_hw, strides=1, padding="valid", dilation=1):
    """The transposed convolution of x (N, H, W, O) with w (KH, KW, C, O): (N, out_h, out_w, C).

    It is the backward-data of the convolution of a (N, out_h, out_w, C) image with w (Keras's Conv2DTranspose
    kernel layout); `padding` is that convolution's, computed on out_hw.
    """
    x = np.ascontiguousarray(x)
    x_shape = (x.shape[0],) + tuple(out_hw) + (w.shape[2],)
    return conv2d_backward_data(x, w, x_shape, strides, padding, dilation)
