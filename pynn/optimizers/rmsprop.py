"""RMSprop."""
from pynn import kernels
from pynn.optimizers.base import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Keras 3's rule, one fused kernel call per variable).

    velocity = rho * velocity + (1 - rho) * g^2;  increment = lr * g / sqrt(velocity + epsilon)
    (centered: average_grad = rho * average_grad + (1 - rho) * g; denominator sqrt(velocity - average_grad^2
    + epsilon)); momentum > 0: momentums = momentum * momentums + increment, w -= momentums; else w -= increment.

    Args:
        learning_rate: float or schedule (default 0.001).
        rho: discounting factor of the squared-gradient average (default 0.9).
        momentum: float (default 0).
        epsilon: added inside the square root (default 1e-7).
        centered: normalize by the estimated variance of the gradient instead of its second moment.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = RMSprop(learning_rate=0.001, centered=True)
    """

    fuses_weight_decay = True

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def update_step(self, gradient, variable, learning_rate):
        velocity = self.add_slot(variable, "velocity")
        momentums = self.add_slot(variable, "momentum") if self.momentum > 0 else None
        average_grad = self.add_slot(variable, "average_gradient") if self.centered else None
        kernels.rmsprop_update(variable.value, gradient, velocity, lr=learning_rate, rho=self.rho,
                           momentum=self.momentum, epsilon=self.epsilon, centered=self.centered,
                           momentums=momentums, average_grad=average_grad,
                           weight_decay=self.weight_decay_for(variable))

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
