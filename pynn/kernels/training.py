"""Training steps run as one kernel call (pynn.training.dense_chain builds them), and batch gathering."""
from pynn import _C

# The training step of a chain of Dense and Dropout layers ending in softmax cross-entropy: built once per
# compiled model, then step(x, y) per batch (see its docstring and csrc/training/dense_chain.h).
DenseChain = _C.DenseChain


def gather_rows(x, index, out):
    """out[i] = x[index[i]] (numpy.take(x, index, axis=0, out=out)), the rows fetched by pynn's threads.

    x: C-contiguous, of any dtype without Python objects: numbers, bool, fixed-width strings, datetimes and
    structured records of those (rows are copied as bytes; an object dtype raises TypeError). index: int64
    of shape (count,). out: C-contiguous, (count,) + x.shape[1:], x's very dtype. IndexError for an index
    outside [0, len(x)) (negative ones included), before any copy.
    """
    _C.gather_rows(x, index, out)
    return out
