"""UnitNormalization: scale each sample to an L2 norm of 1 over the given axes (Keras 3)."""
import numpy as np

from pynn.layers.layer import Layer
from pynn.layers.layer_normalization import check_axis_argument, normalize_axes

_MAX_INV_NORM = 1e12   # Keras's ops.normalize: x * min(1 / ||x||, 1 / epsilon), epsilon = 1e-12


class UnitNormalization(Layer):
    """y = x / ||x||, the L2 norm taken over `axis` (Keras's `ops.normalize(x, axis, order=2, epsilon=1e-12)`:
    `x * min(1 / ||x||, 1e12)`, so an all-zero slice stays zero).

    Args:
        axis: int or list of ints, the axes of the norm (default -1).

    Input shape: any. Output shape: the same. No weights. The mask, if any, passes through.

    Example:
        y = pynn.layers.UnitNormalization()(np.arange(6.0).reshape(2, 3))   # each row of norm 1
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = check_axis_argument(axis, self.name)

    def compute_output_shape(self, input_shape):
        normalize_axes(self.axis, len(input_shape), self, batch_axis_allowed=True)
        return tuple(input_shape)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def forward(self, x, training=False):
        axes = normalize_axes(self.axis, x.ndim, self, batch_axis_allowed=True)
        inv = np.sum(np.square(x), axis=axes, keepdims=True)
        with np.errstate(divide="ignore"):
            np.sqrt(inv, out=inv)
            np.reciprocal(inv, out=inv)
        clipped = inv > _MAX_INV_NORM
        np.minimum(inv, _MAX_INV_NORM, out=inv)
        y = x * inv
        return y, (y, inv, clipped, axes)

    def backward(self, ctx, dy):
        y, inv, clipped, axes = ctx
        # inv * (dy - y * sum(dy * y)); where the norm is clipped, inv is a constant and dx = inv * dy
        projection = np.sum(dy * y, axis=axes, keepdims=True)
        projection[clipped] = 0
        dx = dy - y * projection
        dx *= inv
        return dx

    def backward_weights(self, ctx, dy):
        """No weights."""

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
