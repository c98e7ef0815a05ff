"""The Loss base class: Keras 3's reduction and sample weighting, plus the gradient the training loop needs."""
import numpy as np

from pynn import kernels

REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")
EPSILON = 1e-7  # Keras's backend.epsilon(): the clip of probabilities and logs


class Loss:
    """Base class of every loss: Keras 3's ``keras.losses.Loss`` with an exact gradient.

    A loss maps (y_true, y_pred) to per-sample values (``call``), weights them by ``sample_weight`` and
    reduces them to one number (``__call__``). The training loop calls ``value_and_gradient``, which also
    returns dL/dy_pred of the reduced value.

    Contract:
        call(y_true, y_pred) -> np.ndarray: the unreduced loss, one value per sample, of shape
            y_pred.shape[:-1] (the built-in losses reduce over the last axis: cross-entropy sums over the
            classes, the others average). This is what a custom loss overrides.
        call_and_gradient(y_true, y_pred) -> (values, grad): ``call``'s values and grad[..., j] =
            d values[...] / d y_pred[..., j] (shape of y_pred). The built-in losses implement it
            analytically; the default differentiates ``call`` automatically (pynn.ops; NumPy functions on
            the prediction dispatch to pynn.ops), valid when each sample's value depends on its own row.
        __call__(y_true, y_pred, sample_weight=None) -> scalar of y_pred's dtype (float32 / float64):
            values * sample_weight, then reduced by ``reduction``:
            "sum_over_batch_size" / "mean": sum / values.size; "sum": sum; "mean_with_sample_weight":
            sum / sum(sample_weight); "none" / None: the weighted per-sample array.
            sample_weight: a scalar, shape (batch,) or any shape that broadcasts to the per-sample values
            after trailing axes are added (Keras's (batch, 1) also works).
        value_and_gradient(y_true, y_pred, sample_weight=None) -> (value, dL/dy_pred): ``__call__``'s value
            and its gradient (for "none", the gradient of the sum of the returned array).
        value_and_gradient_from_logits(y_true, logits, activation, sample_weight=None): the same for
            y_pred = activation(logits), differentiated w.r.t. the logits, in one fused kernel.
            Only where ``supports_fused(activation)``; otherwise NotImplementedError (call the activation,
            then value_and_gradient, then the activation's backward).

    Inputs are NumPy arrays (or anything np.asarray accepts). y_pred of float32 or float64 keeps its dtype
    (other dtypes become float32, Keras's floatx); y_true is cast to it. A y_true / y_pred pair whose ranks
    differ by one trailing axis of size 1 is squeezed as Keras does; any other shape mismatch is a
    ValueError naming the loss and both shapes.

    Args:
        reduction: one of "sum_over_batch_size" (default), "sum", "none", None, "mean",
            "mean_with_sample_weight".
        name: the loss's name; defaults to the snake_case class name.

    Example (a custom loss; only ``call`` is needed, its gradient is exact, by automatic differentiation):

        >>> class MeanFourthPower(pynn.losses.Loss):
        ...     def call(self, y_true, y_pred):
        ...         return np.mean((y_pred - y_true) ** 4, axis=-1)
        >>> loss = MeanFourthPower()
        >>> value, grad = loss.value_and_gradient(np.zeros((2, 3)), np.ones((2, 3)))
        >>> float(value), grad[0, 0]        # grad = 4 e^3 / 3 / batch
        (1.0, 0.666...)

    Add ``call_and_gradient`` returning (values, 4 * (y_pred - y_true) ** 3 / d) for a faster gradient.
    """

    def __init__(self, reduction="sum_over_batch_size", name=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: invalid reduction {reduction!r}; expected one of "
                             f"{REDUCTIONS}")
        self.reduction = reduction
        self.name = name or _snake_case(type(self).__name__)

    # ---- what subclasses provide -------------------------------------------------------------------------
    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def call_and_gradient(self, y_true, y_pred):
        """Per-sample values and d values / d y_pred, by automatic differentiation of ``call`` (pynn.ops;
        NumPy functions on the prediction dispatch to pynn.ops, see pynn.ops.tensor). Exact, valid when each
        sample's value depends on its own row alone (override it otherwise)."""
        from pynn.ops.backprop import backprop
        from pynn.ops.tensor import Tensor, record, value_of
        leaf = Tensor(y_pred, traced=True)
        try:
            with record():
                out = self.call(y_true, leaf)
        except TypeError as e:
            raise TypeError(f"{self.name}: call() could not be differentiated: {e}") from e
        values = np.asarray(value_of(out))
        if values.shape != y_pred.shape[:-1]:
            raise NotImplementedError(
                f"{self.name}: call returned shape {values.shape}; the gradient of a custom loss needs one value "
                f"per sample, shape {y_pred.shape[:-1]}. Override call_and_gradient.")
        grad = None
        if isinstance(out, Tensor) and out._traced:
            grad = backprop([out], [np.ones(values.shape, y_pred.dtype)], [leaf])[0]
        grad = np.zeros_like(y_pred) if grad is None else np.asarray(grad, y_pred.dtype)
        return values.astype(y_pred.dtype, copy=False), grad

    def _prepare(self, y_true, y_pred, kernel_checks_labels=False):
        """Casts and checks the inputs; returns (y_true, y_pred). Sparse losses override it (their fused
        kernel checks the label range itself, which kernel_checks_labels says)."""
        y_pred = _as_float(y_pred)
        y_true = np.asarray(y_true)
        if y_true.dtype.kind not in "biuf":
            raise ValueError(f"{self.name}: y_true must hold numbers, got dtype {y_true.dtype}")
        y_true, y_pred = _squeeze_or_expand(y_true.astype(y_pred.dtype, copy=False), y_pred)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true and y_pred must have one shape; expected {y_pred.shape} "
                             f"(y_pred's), received y_true of shape {y_true.shape}")
        if y_pred.ndim < 1:
            raise ValueError(f"{self.name}: y_pred must have at least one axis, received shape {y_pred.shape}")
        return y_true, y_pred

    def _mask(self, y_true, y_pred):
        """Per-sample validity mask (bool, shape of the values) or None. SparseCategoricalCrossentropy's
        ignore_class uses it."""
        return None

    # ---- the public surface ------------------------------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None):
        from pynn.ops.tensor import Tensor, recording, value_of
        if isinstance(y_pred, Tensor) and y_pred._traced and recording():
            return differentiable_loss(self, y_true, y_pred, sample_weight)
        y_true, y_pred = value_of(y_true), value_of(y_pred)
        sample_weight = None if sample_weight is None else value_of(sample_weight)
        y_true, y_pred = self._prepare(y_true, y_pred)
        values = np.asarray(self.call(y_true, y_pred), dtype=y_pred.dtype)
        value, _ = self._reduce(values, None, sample_weight, self._mask(y_true, y_pred))
        return value

    def value_and_gradient(self, y_true, y_pred, sample_weight=None):
        """The reduced loss and dL/dy_pred (y_pred's shape and dtype)."""
        shape = np.shape(y_pred)
        y_true, y_pred = self._prepare(y_true, y_pred)
        values, grad = self.call_and_gradient(y_true, y_pred)
        value, grad = self._reduce(np.asarray(values, dtype=y_pred.dtype), grad, sample_weight,
                                   self._mask(y_true, y_pred))
        return value, grad.reshape(shape)

    def supports_fused(self, activation):
        """True when value_and_gradient_from_logits can fuse ``activation`` (a name) into this loss."""
        return False

    def value_and_gradient_from_logits(self, y_true, logits, activation, sample_weight=None):
        """The loss of activation(logits) and its gradient w.r.t. the logits, fused (see supports_fused).
        "linear" is the identity: value_and_gradient itself (a call() output that turned out not to end in
        the fused activation, pynn.layers.call_support.FusedSoftmax)."""
        if activation == "linear":
            return self.value_and_gradient(y_true, logits, sample_weight)
        if not self.supports_fused(activation):
            raise NotImplementedError(f"{self.name}: no fused path for activation {activation!r}")
        shape = np.shape(logits)
        y_true, logits = self._prepare(y_true, logits, kernel_checks_labels=True)
        mask = self._mask(y_true, logits)
        if sample_weight is None and mask is None and self.reduction in ("sum_over_batch_size", "mean") \
                and logits.ndim >= 1 and logits.size:
            # The training step's case: the kernel scales the gradient by 1 / count as it writes it.
            count = logits.size // logits.shape[-1]
            values, grad = self._call_and_gradient_from_logits(y_true, logits, 1.0 / count)
            return logits.dtype.type(float(kernels.sum(values)) / count), grad.reshape(shape)
        values, grad = self._call_and_gradient_from_logits(y_true, logits)
        value, grad = self._reduce(values, grad, sample_weight, mask)
        return value, grad.reshape(shape)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # ---- reduction (Keras's reduce_weighted_values), forward and backward together ------------------------
    def _reduce(self, values, grad, sample_weight, mask):
        dtype = values.dtype
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
        if values.ndim == 0 and weights is not None and weights.ndim > 0 and mask is None:
            return self._reduce_scalar(values, grad, weights)
        if mask is not None:
            mask = mask.astype(dtype)
            if self.reduction in ("mean", "sum_over_batch_size"):
                valid = mask.sum()
                mask = mask * (mask.size / valid if valid else 0.0)
            weights = mask if weights is None else _broadcast_weights(weights, mask.shape, self.name) * mask
        divisor_weights = weights
        weights = (np.ones(values.shape, dtype) if weights is None
                   else np.ascontiguousarray(_broadcast_weights(weights, values.shape, self.name)))
        if self.reduction in (None, "none") or values.ndim == 0:
            reduced, scale = values * weights, 1.0
            if values.ndim == 0:
                reduced = dtype.type(reduced)
        else:
            total = float(kernels.weighted_sum(np.ascontiguousarray(values), weights)) if values.size else 0.0
            if self.reduction == "sum":
                divisor = 1.0
            elif self.reduction == "mean_with_sample_weight" and divisor_weights is not None:
                divisor = float(np.sum(divisor_weights, dtype=np.float64))
            else:
                divisor = float(values.size)
            scale = 1.0 / divisor if divisor else 0.0
            reduced = dtype.type(total * scale)
        if grad is not None:
            axis = getattr(self, "axis", -1)
            row_scale = weights * dtype.type(scale)
            if values.ndim:  # one value per sample: its weight spreads over the reduced axis (or axes)
                row_scale = np.expand_dims(row_scale, tuple(axis) if isinstance(axis, list) else axis)
            grad = (np.asarray(grad) * row_scale).astype(dtype, copy=False)
        return reduced, grad

    def _reduce_scalar(self, value, grad, weights):
        """One loss value for the whole batch (Dice / Tversky with axis=None) and per-sample weights: as in
        Keras, value * weights is the array reduced ("none" returns it; its gradient is that of its sum)."""
        dtype = value.dtype
        weighted = value * weights
        total = float(np.sum(weights, dtype=np.float64))
        if self.reduction in (None, "none"):
            reduced, scale = weighted.astype(dtype, copy=False), total
        else:
            divisor = {"sum": 1.0, "mean_with_sample_weight": total}.get(self.reduction, float(weights.size))
            scale = total / divisor if divisor else 0.0
            reduced = dtype.type(float(value) * scale)
        if grad is not None:
            grad = (np.asarray(grad) * dtype.type(scale)).astype(dtype, copy=False)
        return reduced, grad


def differentiable_loss(loss, y_true, y_pred, sample_weight=None):
    """loss(y_true, y_pred) for a recorded y_pred: one graph node whose product is the loss's own exact
    gradient (the fused kernels of the built-in losses)."""
    from pynn.ops.tensor import Tensor, value_of
    shape = y_pred.shape
    value, grad = loss.value_and_gradient(value_of(y_true), y_pred.value,
                                          None if sample_weight is None else value_of(sample_weight))
    value = np.asarray(value)

    def vjp(g):
        g = np.asarray(g)
        if g.ndim and g.ndim < len(shape):          # reduction "none": one upstream value per sample
            g = g.reshape(g.shape + (1,) * (len(shape) - g.ndim))
        return (np.asarray(grad).reshape(shape) * g,)
    return Tensor(value, (y_pred,), vjp, loss.name, traced=True)


def _snake_case(name):
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _as_float(x):
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32)
    return x


def _squeeze_or_expand(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: reconcile ranks that differ by one trailing axis of size 1."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        else:
            y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[:, None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def _broadcast_weights(weights, shape, name):
    """sample_weight to the values' shape: drop a trailing axis of 1 / add trailing axes, then broadcast."""
    while weights.ndim > len(shape) and weights.shape[-1] == 1:
        weights = weights[..., 0]
    weights = weights.reshape(weights.shape + (1,) * (len(shape) - weights.ndim))
    try:
        return np.broadcast_to(weights, shape)
    except ValueError:
        raise ValueError(f"{name}: sample_weight of shape {weights.shape} does not broadcast to the per-sample "
                         f"losses of shape {shape}") from None
