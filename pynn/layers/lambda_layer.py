"""Lambda: a NumPy function as a layer, with its gradient when it is to be trained through."""
import numpy as np

from pynn.layers.layer import Layer


class Lambda(Layer):
    """Wraps `function(x, **arguments) -> y`, a NumPy function, as a layer without weights.

    Args:
        function: the forward computation on NumPy arrays (x is a list when the layer is called on a list).
        output_shape: the output shape without the batch axis, or a function of the input shape (batch axis
            included) returning it with the batch axis; by default found by running `function` on zeros.
        gradient: `gradient(x, y, dy) -> dx`, the gradient of the input(s) from the output's (x, y as in
            the forward pass; a list of gradients for a list input). Without it the layer works for
            inference and for training layers before it only if no gradient has to flow through it: a
            backward pass through it raises an error naming the layer.
        arguments: extra keyword arguments for `function`.

    Saving a model stores the function by its registered name (pynn.saving.register_keras_serializable);
    code is never stored or executed from a file.

    Example:
        scale = pynn.layers.Lambda(lambda x: 2.0 * x, gradient=lambda x, y, dy: 2.0 * dy)
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, gradient=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda '{self.name}': function must be callable, got {type(function).__name__}")
        if gradient is not None and not callable(gradient):
            raise ValueError(f"Lambda '{self.name}': gradient must be callable, got {type(gradient).__name__}")
        self.function = function
        self.gradient = gradient
        self.arguments = dict(arguments or {})
        self._output_shape = output_shape
        self.mask = mask

    def __call__(self, x, training=None, **kwargs):
        self.takes_list = isinstance(x, (list, tuple)) and len(x) > 1
        return super().__call__(x, training=training, **kwargs)

    def build(self, input_shape):
        pass

    def compute_output_shape(self, input_shape):
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        if self._output_shape is not None:
            return (None,) + tuple(self._output_shape)
        return self._probe_shape(input_shape)

    def _probe_shape(self, input_shape):
        """Run the function on zeros of two sizes for the unknown dimensions; those that change are None."""
        def run(fill):
            def dummy(shape):
                return np.zeros(tuple(fill if d is None else d for d in shape), self.dtype)
            x = [dummy(s) for s in input_shape] if self.takes_list else dummy(input_shape)
            return np.shape(self.function(x, **self.arguments))
        try:
            a, b = run(1), run(2)
        except Exception as err:
            raise ValueError(f"Lambda '{self.name}': could not infer the output shape by calling the function "
                             f"on zeros of shape {input_shape} ({type(err).__name__}: {err}); pass output_shape=")
        if len(a) != len(b):
            raise ValueError(f"Lambda '{self.name}': the output rank depends on the input size; pass output_shape=")
        return (None,) + tuple(None if p != q else p for p, q in zip(a[1:], b[1:]))

    def forward(self, x, training=False):
        y = np.asarray(self.function(x, **self.arguments))
        if y.dtype != self.dtype:
            y = y.astype(self.dtype)
        return np.ascontiguousarray(y), (x, y)

    def backward(self, ctx, dy):
        if self.gradient is None:
            raise ValueError(f"Lambda '{self.name}' has no gradient: give Lambda(..., gradient=fn) with "
                             "fn(x, y, dy) -> dx to train the layers before it")
        x, y = ctx
        dx = self.gradient(x, y, dy)
        if isinstance(x, (list, tuple)):
            return [np.ascontiguousarray(g, dtype=self.dtype) for g in dx]
        return np.ascontiguousarray(dx, dtype=self.dtype)

    def compute_mask(self, x, mask):
        if callable(self.mask):
            return self.mask(x, mask)
        return self.mask

    def get_config(self):
        from pynn import saving
        config = super().get_config()
        for key, fn in (("function", self.function), ("gradient", self.gradient), ("mask", self.mask)):
            if fn is None:
                config[key] = None
                continue
            try:
                config[key] = saving.serialize_keras_object(fn)
            except (ValueError, TypeError) as err:
                raise ValueError(f"Lambda '{self.name}': its {key} cannot be saved ({err}); register it with "
                                 "@pynn.saving.register_keras_serializable() and give it a name") from None
        config["output_shape"] = None if callable(self._output_shape) else self._output_shape
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pynn import saving
        config = dict(config)
        for key in ("function", "gradient", "mask"):
            if config.get(key) is not None:
                config[key] = saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)
