"""to_categorical and normalize, with Keras's semantics."""
import numpy as np

__all__ = ["to_categorical", "normalize"]


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels.

    A trailing axis of size 1 is dropped first, so labels of shape (n,) or (n, 1) both give (n, num_classes).

    Args:
        y: array-like of integer labels in [0, num_classes).
        num_classes: number of classes; max(y) + 1 when None.
        dtype: dtype of the result.
    Output shape: y's shape (less a trailing 1) + (num_classes,).
    Example:
        >>> to_categorical([0, 2, 1], 3)
        array([[1., 0., 0.], [0., 0., 1.], [0., 1., 0.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError("to_categorical: labels must be integers")
    y = y.astype(np.int64)
    shape = y.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    y = y.reshape(-1)
    if not num_classes:
        num_classes = int(np.max(y)) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    categorical = np.zeros((y.size, num_classes), dtype=dtype)
    categorical[np.arange(y.size), y] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along axis (np.linalg.norm); zero-norm slices are left as they are.

    Keras 3's NumPy branch turns axis=0 into -1 (`axis = axis or -1`); here axis=0 means axis 0.

    Example:
        >>> normalize(np.array([[3.0, 4.0]]))
        array([[0.6, 0.8]])
    """
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
