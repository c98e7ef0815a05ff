"""Adadelta."""
from pynn import kernels
from pynn.optimizers.base import Optimizer


class Adadelta(Optimizer):
    """Adadelta (Keras 3's rule, one fused kernel call per variable).

    accumulated_grad = rho * accumulated_grad + (1 - rho) * g^2
    delta = -sqrt(accumulated_delta + epsilon) * g / sqrt(accumulated_grad + epsilon)
    accumulated_delta = rho * accumulated_delta + (1 - rho) * delta^2;  w += lr * delta

    Args:
        learning_rate: float or schedule (default 0.001).
        rho: decay rate of the averages (default 0.95).
        epsilon: added inside the square roots (default 1e-7).
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = Adadelta(learning_rate=1.0)
    """

    fuses_weight_decay = True

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def update_step(self, gradient, variable, learning_rate):
        accumulated_grad = self.add_slot(variable, "accumulated_grad")
        accumulated_delta = self.add_slot(variable, "accumulated_delta_var")
        kernels.adadelta_update(variable.value, gradient, accumulated_grad, accumulated_delta, lr=learning_rate,
                            rho=self.rho, epsilon=self.epsilon, weight_decay=self.weight_decay_for(variable))

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
