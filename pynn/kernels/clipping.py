"""Gradient clipping on the C++ kernels (csrc/optimizers/clipping.cpp), in place, with Keras 3's formulas.

Norms are summed in float64 in chunks fixed by the size alone, so they are the same for any thread count.
"""
from pynn import _C


def _check_positive(value, name):
    if not value > 0:
        raise ValueError(f"{name}: expected a number > 0, got {value!r}")


def clip_by_value(grad, clipvalue):
    """grad = clip(grad, -clipvalue, clipvalue), in place (Keras's clipvalue). Returns grad.

    Args:
        grad: a writeable, C-contiguous float32 or float64 array.
        clipvalue: a number >= 0.
    """
    if not clipvalue >= 0:
        raise ValueError(f"clipvalue: expected a number >= 0, got {clipvalue!r}")
    _C.clip_by_value(grad, clipvalue)
    return grad


def clip_by_norm(grad, clipnorm):
    """grad = grad * clipnorm / max(norm(grad), clipnorm), in place (Keras's per-tensor clipnorm).

    Returns the L2 norm of grad before clipping.
    """
    _check_positive(clipnorm, "clipnorm")
    return _C.clip_by_norm(grad, clipnorm)


def clip_by_global_norm(grads, clipnorm):
    """Scale every gradient of the list in place by clipnorm / max(global_norm, clipnorm) (Keras's
    global_clipnorm), where global_norm = sqrt(sum of squares of every element of every gradient).

    A non-finite global norm makes every gradient NaN, as in Keras. Returns the global norm before clipping.

    Args:
        grads: a list of writeable, C-contiguous arrays of one float dtype (any shapes), none sharing memory.
    """
    _check_positive(clipnorm, "clipnorm")
    return _C.clip_by_global_norm(grads, clipnorm)
