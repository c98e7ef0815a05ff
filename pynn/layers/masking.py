"""Masking: marks the timesteps whose features all equal mask_value as padding."""
import numpy as np

from pynn.layers.layer import Layer


class Masking(Layer):
    """y = x * keep[..., None] with keep = any(x != mask_value, axis=-1); emits keep as the mask.

    A Sequential model hands the mask (batch, timesteps) to the next mask-consuming layer (LSTM, GRU, ...),
    which then skips those steps.

    Args:
        mask_value: the padding value (0.0).

    Input shape: (batch, timesteps, features). Output shape: the same.

    Example:
        x[:, 5:, :] = 0.0                          # padded sequences
        model = Sequential([Input((None, 3)), Masking(0.0), LSTM(8)])
    """

    supports_masking = True
    variable_axes = (1,)  # any number of timesteps
    produces_mask = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def compute_mask(self, x, mask):
        return np.any(x != self.mask_value, axis=-1)

    def forward(self, x, training=False):
        keep = np.any(x != self.mask_value, axis=-1, keepdims=True)
        return x * keep, keep

    def backward(self, keep, dy):
        return dy * keep

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
