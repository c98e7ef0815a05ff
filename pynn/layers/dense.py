"""Dense: y = activation(x @ kernel + bias), on the last axis."""
import numpy as np

from pynn import _C, activations, kernels
from pynn.layers.layer import Layer, serialize_argument as _serialize


class Dense(Layer):
    """A fully connected layer: `y = activation(x @ kernel + bias)`.

    GEMM, bias and an elementwise activation run as one kernel call (the bias and activation are applied
    while the output is in cache). Inputs of rank > 2 are multiplied on their last axis, as in Keras.

    Args:
        units: output features.
        activation: name, pynn.activations function or None (linear).
        use_bias: add a bias vector.
        kernel_initializer, bias_initializer: "glorot_uniform" and "zeros" by default.
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint.

    Input shape: (batch, ..., input_dim). Output shape: (batch, ..., units).
    Weights: kernel (input_dim, units), bias (units,).

    Example:
        layer = pynn.layers.Dense(64, activation="relu")
        y = layer(np.ones((32, 784), np.float32))     # (32, 64)
    """

    supports_masking = True  # the mask of a sequence passes through unchanged

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense '{self.name}': units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = self.bias = None

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}': expected an input of shape (batch, ..., features) with a "
                             f"known last dimension, got {input_shape}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      self.kernel_regularizer, self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer,
                                        self.bias_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _affine(self, x2, fused_activation):
        y = np.empty((x2.shape[0], self.units), self.dtype)
        _C.gemm(x2, self.kernel.value, y, 1.0, 0.0, False, False,
                bias=self.bias.value if self.use_bias else None, activation=fused_activation)
        return y

    def forward(self, x, training=False, logits=False):
        """logits=True returns the pre-activation output (the model fuses the activation into the loss)."""
        x2 = x.reshape(-1, x.shape[-1])
        act = self.activation
        if logits or act.name == "linear":
            z = self._affine(x2, None)
            return z.reshape(x.shape[:-1] + (self.units,)), (x2, None, None, x.shape)
        if act.elementwise and act.uses_output:
            y = self._affine(x2, (act.name, act.params) if act.params else act.name)
            return y.reshape(x.shape[:-1] + (self.units,)), (x2, None, y, x.shape)
        z = self._affine(x2, None)
        y = act.forward(z)
        return y.reshape(x.shape[:-1] + (self.units,)), (x2, z, y, x.shape)

    def inference(self):
        act = self.activation
        fused = None if act.name == "linear" or not act.elementwise else (
            (act.name, act.params) if act.params else act.name)
        after = act.forward if act.name != "linear" and not act.elementwise else None
        gemm, units, dtype, forward = _C.gemm, self.units, self.dtype, self.forward
        kernel = self.kernel
        bias = self.bias if self.use_bias else None

        def run(x):
            if x.ndim != 2:
                return forward(x, False)[0]
            y = np.empty((x.shape[0], units), dtype)
            gemm(x, kernel.value, y, 1.0, 0.0, False, False, None if bias is None else bias.value, fused)
            return y if after is None else after(y)
        return run

    def backward_weights(self, ctx, dy):
        """kernel.grad += x^T dz, bias.grad += sum(dz); returns dz, the gradient before the activation."""
        x2, z, y, x_shape = ctx
        dz = dy.reshape(-1, self.units)
        if y is not None:
            dz = self.activation.backward(np.ascontiguousarray(dz), x=z, y=y)
        dz = np.ascontiguousarray(dz)
        if self.kernel.requires_grad:
            grad, beta = self.kernel.grad_for_update()
            _C.gemm(x2, dz, grad, 1.0, beta, True, False)
            if self.use_bias:
                grad, beta = self.bias.grad_for_update()
                if beta:
                    grad += kernels.sum_rows(dz)
                else:
                    _C.sum_rows(dz, grad)
        return dz

    def backward(self, ctx, dy):
        x2, _, _, x_shape = ctx
        dz = self.backward_weights(ctx, dy)
        dx = np.empty_like(x2)
        _C.gemm(dz, self.kernel.value, dx, 1.0, 0.0, False, True)
        return dx.reshape(x_shape)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.get_config(),
                "use_bias": self.use_bias,
                "kernel_initializer": _serialize(self.kernel_initializer),
                "bias_initializer": _serialize(self.bias_initializer),
                "kernel_regularizer": _serialize(self.kernel_regularizer),
                "bias_regularizer": _serialize(self.bias_regularizer),
                "kernel_constraint": _serialize(self.kernel_constraint),
                "bias_constraint": _serialize(self.bias_constraint),
                "activity_regularizer": _serialize(self.activity_regularizer)}

