"""GlobalAveragePooling1D: the mean over every step, per channel (over the valid steps of a masked sequence)."""
import numpy as np

from pynn.layers.layer import _has_tensor, _recording
from pynn.layers.node import is_symbolic
from pynn.layers.pooling.base_global_pooling import BaseGlobalPooling


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Global average pooling: the mean over every step, per channel.

    Args:
        data_format: 'channels_last' (default) or 'channels_first'.
        keepdims: keep the spatial axes with size 1.

    Input shape: (batch, steps, channels). Output shape: (batch, channels), or (batch, 1, channels) with keepdims.

    With a mask (batch, steps) from an earlier layer (Embedding(mask_zero=True), Masking, MultiHeadAttention
    on masked inputs), the mean is over the valid steps only, as in Keras; a sequence with no valid step gives
    zeros (Keras divides 0 by 0). The output carries no mask. Called on arrays, `layer(x, mask=mask)` takes the
    mask directly.

    Example:
        layer = pynn.layers.GlobalAveragePooling1D()
        y = layer(np.zeros((8, 10, 16), np.float32))         # (8, 16)
    """

    mode = "average"
    rank = 1
    uses_mask = True

    def __call__(self, x, training=None, mask=None, **kwargs):
        if mask is None or is_symbolic(x):
            if mask is not None:
                kwargs["mask"] = mask        # refused by name: in a model the mask comes from the graph
            return super().__call__(x, training, **kwargs)
        if kwargs:
            raise ValueError(f"Layer '{self.name}': unknown keyword argument(s) {sorted(kwargs)}")
        if _has_tensor(x) or _recording():
            from pynn.layers import call_support
            return call_support.record_builtin(self, x, training, mask=mask)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self.build_for(x.shape)
        return self.forward(x, bool(training), mask=mask)[0]

    def compute_mask(self, x, mask):
        return None

    def forward(self, x, training=False, mask=None):
        if mask is None:
            return super().forward(x, training)
        steps = 2 if self.data_format == "channels_first" else 1
        keep = np.asarray(mask)
        if keep.shape != (x.shape[0], x.shape[steps]):
            raise ValueError(f"Layer '{self.name}': expected a mask of shape {(x.shape[0], x.shape[steps])} "
                             f"for input of shape {x.shape}, got {keep.shape}")
        weights = (keep != 0).astype(x.dtype)
        weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1)     # 1 / (valid steps) at each valid step
        weights = weights[:, None, :] if steps == 2 else weights[:, :, None]
        y = np.sum(x * weights, axis=steps, keepdims=self.keepdims)
        return np.ascontiguousarray(y, dtype=x.dtype), ("masked", weights, steps)

    def backward(self, ctx, dy):
        if not isinstance(ctx[0], str):
            return super().backward(ctx, dy)
        _, weights, steps = ctx
        dy = dy if self.keepdims else np.expand_dims(dy, steps)
        return np.ascontiguousarray(dy * weights)
