"""Variable: a layer's weight, its gradient buffer, and how it is regularized and constrained."""
import numpy as np


# The model whose compiled choice of trained variables the `requires_grad` flags currently hold (None after
# a layer's `trainable` changed): a model re-applies its choice only when another one set the flags.
# gradient_flags_version changes whenever flags may have changed (models cache what their backward computes).
gradient_flags_owner = None
gradient_flags_version = 0


def release_gradient_flags():
    global gradient_flags_owner, gradient_flags_version
    gradient_flags_owner = None
    gradient_flags_version += 1


def claim_gradient_flags(owner, all_variables, trained_ids):
    """Set requires_grad on every variable of `owner` (a model): True for those it trains."""
    global gradient_flags_owner, gradient_flags_version
    for v in all_variables:
        v.requires_grad = id(v) in trained_ids
    gradient_flags_owner = owner
    gradient_flags_version += 1


def aligned_empty(shape, dtype, alignment=64):
    """An uninitialized C-contiguous array whose data starts on an `alignment`-byte boundary (a cache line),
    so that the kernels' vector loads never straddle two lines. NumPy aligns large arrays to 16 bytes only:
    a one-sample forward through a 784 x 128 weight took 4.5 us with it and 3.2 us aligned."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def aligned_full(shape, fill_value, dtype):
    out = aligned_empty(shape, dtype)
    out.fill(fill_value)
    return out


class Variable:
    """A trainable (or not) weight of a layer.

    `value` is the weight itself, a C-contiguous NumPy array that optimizers update in place; `grad` has the
    same shape and dtype, and a layer's backward pass *adds* its gradient into it (the model zeroes it
    before each step, so a weight used twice gets the sum).

    Zeroing is lazy: `zero_grad()` only marks the gradient stale, and the next read of `grad` fills it with
    zeros. A kernel that can write the first contribution instead of adding it asks `grad_for_update()`
    for the array and the factor to keep of its contents (0.0 when stale, else 1.0), so a step does not
    sweep every gradient with zeros before overwriting it.

    `requires_grad` says whether backward passes compute this weight's gradient. It follows `trainable`
    and the owning layer's `trainable`, and a model sets it, at the start of a training step, to what it
    compiled with: which variables a model trains is fixed at its compile, as in Keras, so a discriminator
    frozen inside a GAN's combined model still trains in its own steps (see `Model._claim_gradients`).

    Args:
        value: initial value (copied into a C-contiguous array aligned on a cache line).
        name: a name unique within the layer ("kernel", "bias", ...).
        trainable: whether optimizers update it.
        regularizer: None or a callable penalty(value) -> float with a `.gradient(value)` method.
        constraint: None or a callable value -> projected value, applied after each optimizer update.
    """

    version = 0

    def __init__(self, value, name="variable", trainable=True, regularizer=None, constraint=None):
        value = np.asarray(value)
        self.value = aligned_empty(value.shape, value.dtype)
        self.value[...] = value
        self._grad = aligned_full(value.shape, 0, value.dtype)
        self._grad_stale = False
        self.name = name
        self.trainable = trainable
        self.requires_grad = bool(trainable)
        self.regularizer = regularizer
        self.constraint = constraint
        self.version = 0        # counts assign() calls: caches built from the value check it

    @property
    def grad(self):
        if self._grad_stale:
            self._grad.fill(0)
            self._grad_stale = False
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value
        self._grad_stale = False

    def zero_grad(self):
        """Make the gradient zero (lazily: see the class docstring)."""
        self._grad_stale = True

    def grad_for_update(self):
        """(gradient array, beta): write `beta * array + contribution` into the array; beta is 0.0 when the
        gradient was zeroed since (the array's contents are then garbage), else 1.0."""
        beta = 0.0 if self._grad_stale else 1.0
        self._grad_stale = False
        return self._grad, beta

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def numpy(self):
        """A copy of the current value."""
        return self.value.copy()

    def assign(self, value):
        """Overwrite the value in place (shape must match)."""
        value = np.asarray(value)
        if value.shape != self.value.shape:
            raise ValueError(f"Variable '{self.name}': expected a value of shape {self.value.shape}, "
                             f"got {value.shape}")
        self.release()
        self.value[...] = value
        self.version += 1

    def release(self):
        """Before writing the value in place: a cache built from it (Dense's sparse copy) holds it read-only;
        make it writeable and count a new version, so that the cache is rebuilt before it is used again."""
        if not self.value.flags.writeable:
            self.value.flags.writeable = True
            self.version += 1

    def __repr__(self):
        return f"<Variable '{self.name}' shape={self.shape} dtype={self.dtype} trainable={self.trainable}>"
