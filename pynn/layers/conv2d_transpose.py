"""Conv2DTranspose: the transposed convolution (the gradient of a Conv2D with respect to its input)."""
import numpy as np

from pynn import kernels
from pynn.layers.base_conv import BaseConv, _tuple
from pynn.layers.layer import serialize_argument as _serialize


class Conv2DTranspose(BaseConv):
    """y = act(conv2d_transpose(x, kernel) + bias): upsamples by the strides (decoders, GAN generators).

    The output is the input gradient of the Conv2D that maps a (new_h, new_w, filters) image to x with this
    kernel, strides, padding and dilation; its size is Keras's: 'valid' in * s + max(k - s, 0), 'same' in * s,
    or with output_padding (in - 1) * s + k - 2 * (k // 2 if 'same' else 0) + output_padding (k dilated).

    Args:
        filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
        dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
        bias_initializer="zeros", kernel_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, bias_constraint.

    Weights: kernel (kh, kw, filters, in_channels) (Keras's layout), bias (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 **kwargs):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, bias_regularizer, activity_regularizer, bias_constraint, **kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
            raise ValueError(f"{self._who}: filters must be a positive integer, got {filters!r}")
        self.filters = int(filters)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = _tuple(output_padding, 2, "output_padding", self._who, allow_zero=True)
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(f"{self._who}: output_padding {self.output_padding} must be smaller than the "
                                 f"strides {self.strides}")
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = kernel_regularizer
        self.kernel_constraint = kernel_constraint
        self.kernel = None

    def build(self, input_shape):
        self._check_input_rank(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, input_shape[-1]),
                                      self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint)
        self._add_bias((self.filters,))

    def _out_hw(self, in_hw):
        op = self.output_padding or (None, None)
        return tuple(None if n is None else kernels.conv_transpose_output_length(n, k, s, self.padding, p, d)
                     for n, k, s, p, d in zip(in_hw, self.kernel_size, self.strides, op, self.dilation_rate))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._out_hw(input_shape[1:3]) + (self.filters,)

    def forward(self, x, training=False):
        out_hw = self._out_hw(x.shape[1:3])
        w = self.kernel.value

        def run(act):
            y = kernels.conv2d_transpose(x, w, out_hw, self.strides, self.padding, self.dilation_rate)
            if self.use_bias:
                y += self.bias.value
            return self.activation.forward(y, out=y) if act else y

        y, z, fused = self._activate(run)
        return y, (x, y, z, fused)

    def backward_weights(self, ctx, dy):
        x, y, z, fused = ctx
        dz = self._activation_backward(dy, y, z, fused)
        if self.kernel.requires_grad:
            # The transposed conv is conv^T: its weight gradient is the conv's, with dz as the conv's input
            # and x as the gradient of the conv's output.
            kernels.conv2d_backward_weights(dz, x, self.kernel.shape, self.strides, self.padding, self.dilation_rate,
                                        bias=False, dw=self.kernel.grad, accumulate=True)
            if self.use_bias:
                self.bias.grad += kernels.sum_rows(dz.reshape(-1, self.filters))
        return dz

    def backward(self, ctx, dy):
        x = ctx[0]
        dz = self.backward_weights(ctx, dy)
        # ... and its input gradient is the conv itself (the output size is x's, whatever output_padding was).
        return kernels.conv2d(dz, self.kernel.value, None, self.strides, self.padding, self.dilation_rate,
                          out=np.empty_like(x))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "output_padding": self.output_padding,
                "kernel_initializer": _serialize(self.kernel_initializer),
                "kernel_regularizer": _serialize(self.kernel_regularizer),
                "kernel_constraint": _serialize(self.kernel_constraint)}
