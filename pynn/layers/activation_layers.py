"""Activation layers with parameters: ReLU, LeakyReLU, ELU, Softmax (Keras's advanced activations)."""
import warnings

from pynn import activations
from pynn.layers.activation import Activation


class ReLU(Activation):
    """y = max_value-capped relu with a negative slope below `threshold` (Keras's ReLU layer).

    Args: max_value (None: no cap), negative_slope (0.0), threshold (0.0).
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU: max_value must be >= 0, got {max_value}")
        if negative_slope < 0:
            raise ValueError(f"ReLU: negative_slope must be >= 0, got {negative_slope}")
        self.max_value, self.negative_slope, self.threshold = max_value, float(negative_slope), float(threshold)
        params = {"negative_slope": self.negative_slope, "threshold": self.threshold}
        if max_value is not None:
            params["max_value"] = float(max_value)
        super().__init__(activations.ActivationFn("relu", **params), **kwargs)

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k != "activation"}
        return {**config, "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Activation):
    """y = x if x > 0 else negative_slope * x (Keras 3 default negative_slope = 0.3).

    The Keras 2 argument `alpha=` is accepted for negative_slope, with the UserWarning Keras 3 gives;
    get_config() saves negative_slope.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.", stacklevel=2)
        if negative_slope is None or negative_slope < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be a float >= 0, got {negative_slope}")
        self.negative_slope = float(negative_slope)
        super().__init__(activations.ActivationFn("leaky_relu", negative_slope=self.negative_slope), **kwargs)

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k != "activation"}
        return {**config, "negative_slope": self.negative_slope}


class ELU(Activation):
    """y = x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, **kwargs):
        self.alpha = float(alpha)
        super().__init__(activations.ActivationFn("elu", alpha=self.alpha), **kwargs)

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k != "activation"}
        return {**config, "alpha": self.alpha}


class Softmax(Activation):
    """Softmax over the last axis (the only axis supported so far)."""

    def __init__(self, axis=-1, **kwargs):
        if axis != -1:
            raise ValueError(f"Softmax: only axis=-1 is supported, got axis={axis}")
        self.axis = axis
        super().__init__("softmax", **kwargs)

    def get_config(self):
        config = {k: v for k, v in super().get_config().items() if k != "activation"}
        return {**config, "axis": self.axis}
