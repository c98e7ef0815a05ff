"""int8 inference products (csrc/quantized/): Keras 3's int8 scheme, weights per output column and activations
per row (dynamic), abs-max scaled to [-127, 127], the integer sums exact in int32.

Example:
    >>> wq, scale = quantize_columns(w)                  # int8 (k, n), float32 (n,): 127 / (max |w[:, j]| + 1e-7)
    >>> packed = pack_weights(wq)
    >>> y = int8_matmul(x, packed, scale, k=w.shape[0], bias=b, activation="relu")
"""
import numpy as np

from pynn import _C

__all__ = ["quantize_columns", "pack_weights", "int8_matmul", "EPSILON"]

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


def int8_matmul(x, packed, scale, k, bias=None, activation=None):
    """act(x @ w + bias) for x (m, k) float32 with w's int8 form (packed by pack_weights, its per-column
    scale): x is quantized per row first. Returns (m, n) float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    q = np.empty((x.shape[0], (k + 1) // 2 * 2), np.int16)
    x_scale = np.empty(x.shape[0], np.float32)
    _C.quantize_rows(x, q, x_scale)
    y = np.empty((x.shape[0], scale.shape[0]), np.float32)
    _C.qgemm(q, x_scale, packed, scale, y, k, bias=bias, activation=activation)
    return y
