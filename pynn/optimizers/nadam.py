"""Nadam: Adam with Nesterov momentum."""
from pynn import kernels
from pynn.optimizers.base import Optimizer


class Nadam(Optimizer):
    """Nadam (Keras 3's rule, one fused kernel call per variable).

    With u_s = beta_1 * (1 - 0.5 * 0.96^s) and u_product = u_1 * ... * u_t (advanced once per step):
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    m_hat = u_{t+1} * m / (1 - u_product * u_{t+1}) + (1 - u_t) * g / (1 - u_product)
    w -= lr * m_hat / (sqrt(v / (1 - beta_2^t)) + epsilon), t = iterations + 1.

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1, beta_2: decay rates of the moments (0.9, 0.999).
        epsilon: added to the root (default 1e-7).
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = Nadam(learning_rate=0.002)
    """

    fuses_weight_decay = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.u_product, self._u_step = 1.0, 0     # u_1 * ... * u_(_u_step)

    def _prepare_step(self, step):
        # u_product follows from the step count alone: when the count was set from outside (a loaded model, a
        # restored backup) the product is replayed from step 1, in the same order, so it has the same bits.
        if self._u_step != step - 1:
            self.u_product, self._u_step = 1.0, 0
            for s in range(1, step):
                self.u_product = kernels.nadam_u_product(self.u_product, s, self.beta_1)
        self.u_product = kernels.nadam_u_product(self.u_product, step, self.beta_1)
        self._u_step = step

    def update_step(self, gradient, variable, learning_rate):
        m = self.add_slot(variable, "momentum")
        v = self.add_slot(variable, "velocity")
        kernels.nadam_update(variable.value, gradient, m, v, self.iterations + 1, self.u_product, lr=learning_rate,
                         beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                         weight_decay=self.weight_decay_for(variable))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
