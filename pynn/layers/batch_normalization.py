"""BatchNormalization: normalize each feature with the batch's statistics in training, moving ones otherwise."""
from pynn import kernels
from pynn.layers.layer import Layer, serialize_argument as _serialize


class BatchNormalization(Layer):
    """Batch normalization (Keras 3): `y = (x - mean) / sqrt(var + epsilon) * gamma + beta` per feature.

    In training (`training=True` and the layer trainable) mean and var are the batch's, over every axis but
    `axis` (biased variance), and the moving statistics move towards them:
    `moving = moving * momentum + batch * (1 - momentum)`. Otherwise the moving statistics are used. As in
    Keras, a layer with `trainable = False` always runs in inference mode. One fused kernel per direction.

    Args:
        axis: the feature axis (default -1, the channels of NHWC images).
        momentum: of the moving averages (0.99). epsilon: added to the variance (1e-3).
        center / scale: learn beta / gamma (default True).
        beta_initializer ("zeros"), gamma_initializer ("ones"), moving_mean_initializer ("zeros"),
        moving_variance_initializer ("ones"), beta_regularizer, gamma_regularizer, beta_constraint,
        gamma_constraint.
        synchronized: False: each process normalizes with its own batch's statistics. True: in training over
            several ranks (pynn.distributed), with those of all the ranks' batches together
            (sync_batch_normalization); alone, as False.

    Input shape: any, with a known size along `axis`. Output shape: the same.
    Weights, in Keras's order: gamma, beta (trainable, when scale / center), moving_mean, moving_variance
    (non-trainable), each of shape (features,).

    Example:
        layer = pynn.layers.BatchNormalization()
        y = layer(np.random.rand(64, 26, 26, 32).astype("float32"))   # moving statistics: inference mode
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Layer '{self.name}': axis must be an integer, got {axis!r}")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"Layer '{self.name}': momentum must be in [0, 1], got {momentum!r}")
        if not self.epsilon > 0.0:
            raise ValueError(f"Layer '{self.name}': epsilon must be > 0, got {epsilon!r}")
        self.center = bool(center)
        self.scale = bool(scale)
        self.synchronized = bool(synchronized)
        self.beta_initializer = beta_initializer
        self.gamma_initializer = gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer = beta_regularizer
        self.gamma_regularizer = gamma_regularizer
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 2 or not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"Layer '{self.name}': axis {self.axis} is not a feature axis of an input of shape "
                             f"{tuple(input_shape)}")
        features = input_shape[self.axis]
        if features is None:
            raise ValueError(f"Layer '{self.name}': the size of axis {self.axis} must be known, got input shape "
                             f"{tuple(input_shape)}")
        shape = (features,)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, self.gamma_regularizer,
                                         self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer, self.beta_regularizer,
                                        self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape, self.moving_variance_initializer,
                                               trainable=False)

    def _values(self):
        return (self.gamma.value if self.scale else None), (self.beta.value if self.center else None)

    def forward(self, x, training=False):
        gamma, beta = self._values()
        if training and self.trainable:
            if self.synchronized:
                from pynn.layers import sync_batch_normalization as sync
                group = sync.replicas()
                if group is not None:       # several ranks: the statistics of all their batches together
                    return sync.forward(self, x, group)
            y, mean, inv_std = kernels.batch_norm_training(
                x, self.axis, gamma, beta, self.moving_mean.value, self.moving_variance.value, self.epsilon,
                self.momentum)
            return y, (x, mean, inv_std, True)
        y = kernels.batch_norm_inference(x, self.moving_mean.value, self.moving_variance.value, self.axis, gamma, beta,
                                     self.epsilon)
        return y, (x, None, None, False)

    def _backward(self, ctx, dy, input_gradient):
        if len(ctx) == 5:       # synchronized over several ranks (sync_batch_normalization.forward's ctx)
            from pynn.layers.sync_batch_normalization import backward
            return backward(self, ctx, dy, input_gradient)
        x, mean, inv_std, batch_statistics = ctx
        if not batch_statistics:
            mean = self.moving_mean.value.copy()
            inv_std = (1.0 / (self.moving_variance.value.astype("float64") + self.epsilon) ** 0.5).astype(x.dtype)
        dx, _, _ = kernels.batch_norm_backward(
            x, dy, mean, inv_std, self.axis, self._values()[0], batch_statistics,
            dgamma=self.gamma.grad if self.scale and self.gamma.requires_grad else None,
            dbeta=self.beta.grad if self.center and self.beta.requires_grad else None, input_gradient=input_gradient)
        return dx

    def backward(self, ctx, dy):
        return self._backward(ctx, dy, True)

    def backward_weights(self, ctx, dy):
        """gamma.grad and beta.grad only: what a model's first layer needs."""
        self._backward(ctx, dy, False)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": _serialize(self.beta_initializer),
                "gamma_initializer": _serialize(self.gamma_initializer),
                "moving_mean_initializer": _serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _serialize(self.moving_variance_initializer),
                "beta_regularizer": _serialize(self.beta_regularizer),
                "gamma_regularizer": _serialize(self.gamma_regularizer),
                "beta_constraint": _serialize(self.beta_constraint),
                "gamma_constraint": _serialize(self.gamma_constraint), "synchronized": self.synchronized}
