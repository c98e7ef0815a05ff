"""Conv1DTranspose: the transposed 1-D convolution, run as Conv2DTranspose on images of height 1."""
from pynn import kernels
from pynn.layers.base_conv import _tuple
from pynn.layers.conv2d_transpose import Conv2DTranspose


class Conv1DTranspose(Conv2DTranspose):
    """y = act(conv1d_transpose(x, kernel) + bias): upsamples sequences (batch, steps, channels) by `strides`.

    The output length is Keras's: 'valid' steps * s + max(k - s, 0), 'same' steps * s, or with output_padding
    (steps - 1) * s + k - 2 * (k // 2 if 'same' else 0) + output_padding (k dilated).

    Args (Keras's): filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None
        (channels_last only), dilation_rate=1, activation=None, use_bias=True, kernel_initializer,
        bias_initializer, kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
        bias_constraint.

    Weights: kernel (kernel_size, filters, in_channels) (Keras's layout), bias (filters,).

    Example:
        layer = pynn.layers.Conv1DTranspose(8, 3, strides=2, padding="same")
        y = layer(np.zeros((4, 10, 3), np.float32))          # (4, 20, 8)
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, None, data_format, dilation_rate, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        if output_padding is not None:
            self.output_padding = _tuple(output_padding, 1, "output_padding", self._who, allow_zero=True)
            if self.output_padding[0] >= self.strides[0]:
                raise ValueError(f"{self._who}: output_padding {self.output_padding} must be smaller than the "
                                 f"strides {self.strides}")

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._out_hw(input_shape[1:2]) + (self.filters,)

    def _args_2d(self):
        """(kernel as (1, k, filters, in), strides, dilation) for the 2-D kernels."""
        w = self.kernel.value.reshape((1,) + self.kernel.shape)
        return w, self._as_2d(self.strides), self._as_2d(self.dilation_rate)

    def forward(self, x, training=False):
        x4 = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
        out_hw = (1,) + self._out_hw(x.shape[1:2])
        w, s, d = self._args_2d()

        def run(act):
            y = kernels.conv2d_transpose(x4, w, out_hw, s, self.padding, d)
            if self.use_bias:
                y += self.bias.value
            return self.activation.forward(y, out=y) if act else y

        y, z, fused = self._activate(run)
        return y.reshape(y.shape[0], y.shape[2], y.shape[3]), (x4, y, z, fused, x.shape)

    def backward_weights(self, ctx, dy):
        x4, y, z, fused, _ = ctx
        dz = self._activation_backward(dy.reshape(y.shape), y, z, fused)
        if self.kernel.requires_grad:
            w, s, d = self._args_2d()
            kernels.conv2d_backward_weights(dz, x4, w.shape, s, self.padding, d, bias=False,
                                            dw=self.kernel.grad.reshape(w.shape), accumulate=True)
            if self.use_bias:
                self.bias.grad += kernels.sum_rows(dz.reshape(-1, self.filters))
        return dz

    def backward(self, ctx, dy):
        x_shape = ctx[4]
        dz = self.backward_weights(ctx, dy)
        w, s, d = self._args_2d()
        return kernels.conv2d(dz, w, None, s, self.padding, d).reshape(x_shape)
