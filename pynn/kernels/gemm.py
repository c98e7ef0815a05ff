"""Matrix multiplication on the C++ GEMM kernel (csrc/gemm/)."""
import numpy as np

from pynn import _C


def _as_rows(x, name):
    """x as a 2-D float array with contiguous rows, plus whether it is to be read transposed."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
    if x.strides[1] == x.itemsize or x.shape[1] <= 1:
        return x, False
    if x.strides[0] == x.itemsize:  # a Fortran-ordered array or a transposed view: read its transpose
        return x.T, True
    return np.ascontiguousarray(x), False


def matmul(a, b):
    """a @ b for 2-D float32 / float64 arrays, as numpy.matmul (same result shape and dtype)."""
    a2, ta = _as_rows(a, "a")
    b2, tb = _as_rows(b, "b")
    if a.dtype != b.dtype:
        raise ValueError(f"b: expected dtype {a.dtype} (the dtype of a), got {b.dtype}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: a is {a.shape} and b is {b.shape}; a.shape[1] must equal b.shape[0]")
    c = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    _C.gemm(a2, b2, c, 1.0, 0.0, ta, tb)
    return c


def gemm(a, b, c=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """C = alpha * op(a) @ op(b) + beta * c, with op(x) = x.T where trans_x. Returns C.

    With c given, the result is written into it (c must be writeable, of shape (m, n) and a's dtype);
    beta = 0 never reads c. Without c, a new array is returned (beta is then ignored).
    """
    if c is None:
        if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray) or a.ndim != 2 or b.ndim != 2:
            _C.gemm(a, b, a, alpha, 0.0, trans_a, trans_b)  # raises the precise error
        m = a.shape[1] if trans_a else a.shape[0]
        n = b.shape[0] if trans_b else b.shape[1]
        c = np.empty((m, n), dtype=a.dtype)
        beta = 0.0
    _C.gemm(a, b, c, float(alpha), float(beta), bool(trans_a), bool(trans_b))
    return c


def gemm_batched(a, b, c=None, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i] over the leading axes of a, b and c (the same for
    all three), one C++ call: the products run one per thread when there are enough of them. Matrices need
    contiguous rows; the batch axes may have any non-negative strides (views are read in place). Without c,
    a new C-contiguous array is returned."""
    if c is None:
        if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray) or a.ndim < 3 or b.ndim != a.ndim:
            _C.gemm_batched(a, b, a, alpha, 0.0, trans_a, trans_b)      # raises the precise error
        m = a.shape[-1] if trans_a else a.shape[-2]
        n = b.shape[-2] if trans_b else b.shape[-1]
        c = np.empty(a.shape[:-2] + (m, n), dtype=a.dtype)
        beta = 0.0
    _C.gemm_batched(a, b, c, float(alpha), float(beta), bool(trans_a), bool(trans_b))
    return c
