"""Adagrad."""
from pynn import kernels
from pynn.optimizers.base import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Keras 3's rule, one fused kernel call per variable).

    accumulator += g^2;  w -= lr * g / sqrt(accumulator + epsilon), the accumulator starting at
    initial_accumulator_value.

    Args:
        learning_rate: float or schedule (default 0.001).
        initial_accumulator_value: starting value of the accumulator (default 0.1).
        epsilon: added inside the square root (default 1e-7).
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = Adagrad(learning_rate=0.01)
    """

    fuses_weight_decay = True

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def update_step(self, gradient, variable, learning_rate):
        accumulator = self.add_slot(variable, "accumulator", self.initial_accumulator_value)
        kernels.adagrad_update(variable.value, gradient, accumulator, lr=learning_rate, epsilon=self.epsilon,
                           weight_decay=self.weight_decay_for(variable))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
