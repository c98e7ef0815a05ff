"""AdamW: Adam with decoupled weight decay on by default."""
from pynn.optimizers.adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay, w -= w * weight_decay * lr before each update (Keras 3's AdamW).

    Args:
        learning_rate: float or schedule (default 0.001).
        weight_decay: float (default 0.004); None is not allowed.
        beta_1, beta_2, epsilon, amsgrad: as in Adam.
        **kwargs: clipnorm, clipvalue, global_clipnorm, name (see Optimizer).

    Example:
        >>> opt = AdamW(learning_rate=1e-3, weight_decay=0.01)
        >>> opt.exclude_from_weight_decay(var_names=["bias"])
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, **kwargs)
