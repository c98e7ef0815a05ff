"""int8 inference products (csrc/quantized/): Keras 3's int8 scheme, weights per output column and activations
per row (dynamic) or with one calibrated scale (static, pynn's), abs-max scaled to [-127, 127], the integer sums
exact in int32.

Example:
    >>> wq, scale = quantize_columns(w)                  # int8 (k, n), float32 (n,): 127 / (max |w[:, j]| + 1e-7)
    >>> packed = pack_weights(wq)
    >>> y = int8_matmul(x, packed, scale, k=w.shape[0], bias=b, activation="relu")
"""
import numpy as np

from pynn import _C

__all__ = ["quantize_columns", "pack_weights", "quantize_static", "int8_matmul", "EPSILON"]

EPSILON = 1e-7      # Keras's backend.epsilon(), added to the max before dividing


def quantize_columns(w):
    """(q, scale): w (k, n) float quantized per column as Keras's abs_max_quantize(axis=0) does:
    scale = 127 / (max |w[:, j]| + 1e-7), q = clip(round(w * scale), -127, 127) as int8."""
    w = np.asarray(w, dtype=np.float32)
    scale = (np.float32(127.0) / (np.abs(w).max(axis=0) + np.float32(EPSILON))).astype(np.float32)
    q = np.clip(np.round(w * scale), -127, 127).astype(np.int8)
    return q, scale


def pack_weights(q):
    """The int8 (k, n) weights in the kernel's panels (int16 pairs along k)."""
    q = np.ascontiguousarray(q, dtype=np.int8)
    packed = np.empty(_C.qgemm_packed_size(*q.shape), np.int16)
    _C.qgemm_pack_b(q, packed)
    return packed


def quantize_static(x, scale, out=None):
    """x (..., k) float quantized with one fixed scale (static activations): clip(round(x * scale), -127, 127)
    as int16, rounding half to even as quantize_rows does. out: None, or an int16 array of x's shape (a view
    into a wider buffer is fine)."""
    x = np.asarray(x, dtype=np.float32)
    v = np.multiply(x, np.float32(scale), dtype=np.float32)
    np.rint(v, out=v)
    np.clip(v, -127, 127, out=v)
    if out is None:
        return v.astype(np.int16)
    out[...] = v
    return out


def int8_matmul(x, packed, scale, k, bias=None, activation=None, input_scale=None):
    """act(x @ w + bias) for x (m, k) float32 with w's int8 form (packed by pack_weights, its per-column
    scale): x is quantized per row first, or with the fixed scale `input_scale` (a positive float: static
    activations, values beyond 127 / input_scale clipped). One C++ call (qlinear). Returns (m, n) float32."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.strides[1] != x.itemsize:
        x = np.ascontiguousarray(x)
    y = np.empty((x.shape[0], scale.shape[0]), np.float32)
    _C.qlinear(x, packed, scale, y, k, bias=bias, activation=activation,
               input_scale=None if input_scale is None else float(input_scale))
    return y
