"""SGD with optional (Nesterov) momentum."""
from pynn import kernels
from pynn.optimizers.base import Optimizer


class SGD(Optimizer):
    """Gradient descent with momentum (Keras 3's rule, one fused kernel call per variable).

    velocity = momentum * velocity - lr * g;  w += velocity  (nesterov: w += momentum * velocity - lr * g);
    without momentum, w -= lr * g.

    Args:
        learning_rate: float or schedule (default 0.01).
        momentum: float in [0, 1] (default 0).
        nesterov: whether to use Nesterov momentum.
        **kwargs: weight_decay, clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = SGD(learning_rate=0.1, momentum=0.9)
        >>> opt.apply_gradients([(grad, variable)])
    """

    fuses_weight_decay = True

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum}")
        self.momentum = momentum
        self.nesterov = nesterov

    def update_step(self, gradient, variable, learning_rate):
        velocity = self.add_slot(variable, "momentum") if self.momentum != 0.0 else None
        kernels.sgd_update(variable.value, gradient, velocity, lr=learning_rate, momentum=self.momentum,
                       nesterov=self.nesterov, weight_decay=self.weight_decay_for(variable))

    def update_steps(self, grads, variables, learning_rate):
        kernels.sgd_update_many([v.value for v in variables], grads,
                            self.slot_list(variables, "momentum") if self.momentum != 0.0 else None,
                            lr=learning_rate, momentum=self.momentum, nesterov=self.nesterov,
                            weight_decays=self.weight_decays_for(variables))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
