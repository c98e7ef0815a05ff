"""Multi-head scaled dot-product attention fused per head, forward and backward (csrc/attention/).

The projections come with the heads side by side, as MultiHeadAttention makes them: q (B*T, H*dk),
k (B*S, H*dk), v (B*S, H*dv). Each (batch, head) pair runs on one thread from its scores to its output,
so that its (T x S) scores stay in cache; results do not depend on the thread count.

Example:
    >>> probs, out = attention(q, k, v, batch=B, heads=H)                  # probs (B, H, T, S), out (B*T, H*dv)
    >>> dq, dk, dv = attention_backward(q, k, v, probs, d_out, batch=B, heads=H, alpha=scale)
"""
import numpy as np

from pynn import _C

__all__ = ["attention", "attention_backward"]


def attention(q, k, v, batch, heads, keep=None):
    """(probs, out): probs = softmax(Q K^T) per head over the keys (where `keep`, booleans broadcastable to
    (B, H, T, S), is False: probability 0), out = probs V with the heads side by side."""
    b, n = int(batch), int(heads)
    t, s = q.shape[0] // b, k.shape[0] // b
    probs = np.empty((b, n, t, s), q.dtype)
    out = np.empty((q.shape[0], v.shape[1]), q.dtype)
    if keep is not None:
        keep = np.broadcast_to(np.asarray(keep, dtype=np.bool_), probs.shape)
    _C.attention_forward(q, k, v, keep, probs, out, b, n)
    return probs, out


def attention_backward(q, k, v, probs, d_out, batch, heads, alpha=1.0):
    """(dq, dk, dv), the gradients of attention's out (given d_out) with respect to q, k and v; dq is scaled
    by alpha (MultiHeadAttention's query scale, applied after its projection)."""
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    _C.attention_backward(q, k, v, probs, np.ascontiguousarray(d_out, dtype=q.dtype), dq, dk, dv, int(batch),
                          int(heads), float(alpha))
    return dq, dk, dv
