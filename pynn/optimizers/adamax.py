"""Adamax: Adam with the infinity norm."""
from pynn import kernels
from pynn.optimizers.base import Optimizer


class Adamax(Optimizer):
    """Adamax (Keras 3's rule, one fused kernel call per variable).

    m += (g - m) * (1 - beta_1);  u = max(beta_2 * u, |g|);  w -= lr * m / ((1 - beta_1^t) * (u + epsilon)),
    t = iterations + 1.

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1, beta_2: decay rates of the first moment and of the norm (0.9, 0.999).
        epsilon: added to u (default 1e-7).
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = Adamax(learning_rate=0.002)
    """

    fuses_weight_decay = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def update_step(self, gradient, variable, learning_rate):
        m = self.add_slot(variable, "m")
        u = self.add_slot(variable, "u")
        kernels.adamax_update(variable.value, gradient, m, u, self.iterations + 1, lr=learning_rate,
                          beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                          weight_decay=self.weight_decay_for(variable))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
