"""Adam."""
from pynn import kernels
from pynn.optimizers.base import Optimizer


class Adam(Optimizer):
    """Adam (Keras 3's rule, one fused kernel call per variable).

    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)  (amsgrad: v_hat = max(v_hat, v), used for v)
    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t);  w -= alpha * m / (sqrt(v) + epsilon), t = iterations + 1.

    Args:
        learning_rate: float or schedule (default 0.001).
        beta_1, beta_2: decay rates of the first and second moments (0.9, 0.999).
        epsilon: added to sqrt(v) (default 1e-7; PyTorch uses 1e-8 on the bias-corrected v).
        amsgrad: use the running maximum of v.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = Adam(learning_rate=3e-4)
    """

    fuses_weight_decay = True

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def update_step(self, gradient, variable, learning_rate):
        m = self.add_slot(variable, "momentum")
        v = self.add_slot(variable, "velocity")
        v_hat = self.add_slot(variable, "velocity_hat") if self.amsgrad else None
        kernels.adam_update(variable.value, gradient, m, v, self.iterations + 1, lr=learning_rate,
                        beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad,
                        v_hat=v_hat, weight_decay=self.weight_decay_for(variable))

    def update_steps(self, grads, variables, learning_rate):
        kernels.adam_update_many([v.value for v in variables], grads, self.slot_list(variables, "momentum"),
                             self.slot_list(variables, "velocity"), self.iterations + 1, lr=learning_rate,
                             beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, amsgrad=self.amsgrad,
                             v_hat=self.slot_list(variables, "velocity_hat") if self.amsgrad else None,
                             weight_decays=self.weight_decays_for(variables))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
