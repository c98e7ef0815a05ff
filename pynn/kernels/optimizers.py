"""Optimizer updates on the fused C++ kernels (csrc/optimizers/): one in-place pass per parameter.

Each function applies one step of a Keras 3 optimizer to one parameter, in place: Keras's decoupled weight
decay first (w -= w * weight_decay * lr; skipped when weight_decay is 0), then the optimizer's rule. The
parameter, its gradient and its slots (the optimizer's per-parameter state, which the caller allocates,
usually as zeros of the parameter's shape) must be C-contiguous arrays of one float dtype and one shape,
none sharing memory with another; anything else raises ValueError before anything is written.
`step` is the 1-based number of the update being made (Keras's `optimizer.iterations + 1`).

Example:
    >>> w = np.ones(4, np.float32); g = np.full(4, 0.5, np.float32)
    >>> m, v = np.zeros_like(w), np.zeros_like(w)
    >>> ops.adam_update(w, g, m, v, step=1, lr=0.001)
    >>> w  # array([0.999, 0.999, 0.999, 0.999], dtype=float32)
"""
import numbers

from pynn import _C


def _check_step(step):
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"step: expected an integer >= 1 (the 1-based update number), got {step!r}")
    return int(step)


def _require(slot, name, why):
    if slot is None:
        raise ValueError(f"{name}: expected an array {why}, got None")


def sgd_update(param, grad, velocity=None, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    """SGD with optional (Nesterov) momentum, in place.

    velocity = momentum * velocity - lr * g;  w += velocity  (nesterov: w += momentum * velocity - lr * g).
    Without momentum, w -= lr * g.

    Args:
        velocity: the momentum slot (Keras's "momentum" variable, starts at 0); required when momentum != 0,
            ignored (left as it is) when momentum == 0.
        momentum: float in [0, 1].
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum: expected a float in [0, 1], got {momentum!r}")
    if momentum != 0.0:
        _require(velocity, "velocity", "when momentum != 0")
    _C.sgd_update(param, grad, velocity if momentum != 0.0 else None, lr, momentum, nesterov, weight_decay)


def sgd_update_many(params, grads, velocities=None, lr=0.01, momentum=0.0, nesterov=False, weight_decays=None):
    """sgd_update over several parameters in one call: lists of params, grads and (when momentum != 0)
    velocities; weight_decays: one float per parameter (None: all 0)."""
    if momentum != 0.0:
        _require(velocities, "velocities", "when momentum != 0")
    decays = [0.0] * len(params) if weight_decays is None else list(weight_decays)
    _C.sgd_update_many(list(params), list(grads), None if momentum == 0.0 else list(velocities), lr, momentum,
                       nesterov, decays)


def rmsprop_update(param, grad, velocity, lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                   momentums=None, average_grad=None, weight_decay=0.0):
    """RMSprop, in place.

    velocity = rho * velocity + (1 - rho) * g^2;  increment = lr * g / sqrt(velocity + epsilon)
    centered: average_grad = rho * average_grad + (1 - rho) * g, and the denominator is
    sqrt(velocity - average_grad^2 + epsilon).
    momentum > 0: momentums = momentum * momentums + increment; w -= momentums. Otherwise w -= increment.

    Args:
        velocity: slot, starts at 0. momentums: slot, required when momentum > 0.
        average_grad: slot, required when centered.
    """
    _require(velocity, "velocity", "always")
    if momentum > 0.0:
        _require(momentums, "momentums", "when momentum > 0")
    if centered:
        _require(average_grad, "average_grad", "when centered=True")
    _C.rmsprop_update(param, grad, velocity, momentums if momentum > 0.0 else None,
                      average_grad if centered else None, lr, rho, momentum, epsilon, centered, weight_decay)


def adagrad_update(param, grad, accumulator, lr=0.001, epsilon=1e-7, weight_decay=0.0):
    """Adagrad, in place: accumulator += g^2;  w -= lr * g / sqrt(accumulator + epsilon).

    Args:
        accumulator: slot; Keras starts it at initial_accumulator_value (0.1), not 0.
    """
    _require(accumulator, "accumulator", "always")
    _C.adagrad_update(param, grad, accumulator, lr, epsilon, weight_decay)


def adadelta_update(param, grad, accumulated_grad, accumulated_delta, lr=0.001, rho=0.95, epsilon=1e-7,
                    weight_decay=0.0):
    """Adadelta, in place.

    accumulated_grad = rho * accumulated_grad + (1 - rho) * g^2
    delta = -sqrt(accumulated_delta + epsilon) * g / sqrt(accumulated_grad + epsilon)
    accumulated_delta = rho * accumulated_delta + (1 - rho) * delta^2;  w += lr * delta

    Args:
        accumulated_grad, accumulated_delta: slots, start at 0.
    """
    _require(accumulated_grad, "accumulated_grad", "always")
    _require(accumulated_delta, "accumulated_delta", "always")
    _C.adadelta_update(param, grad, accumulated_grad, accumulated_delta, lr, rho, epsilon, weight_decay)


def adam_update(param, grad, m, v, step, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                v_hat=None, weight_decay=0.0):
    """Adam (AdamW with weight_decay > 0), in place.

    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2);  amsgrad: v_hat = max(v_hat, v), used for v
    alpha = lr * sqrt(1 - beta_2^step) / (1 - beta_1^step);  w -= alpha * m / (sqrt(v) + epsilon)

    Args:
        m, v: slots (Keras's "momentum" and "velocity"), start at 0. v_hat: slot, required when amsgrad.
        step: the 1-based update number.
    """
    step = _check_step(step)
    if amsgrad:
        _require(v_hat, "v_hat", "when amsgrad=True")
    _C.adam_update(param, grad, m, v, v_hat if amsgrad else None, step, lr, beta_1, beta_2, epsilon, amsgrad,
                   weight_decay)


def adam_update_many(params, grads, m, v, step, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                     v_hat=None, weight_decays=None):
    """adam_update over several parameters in one call (an optimizer step over a model's variables).

    params, grads, m, v (and v_hat when amsgrad): lists with one array per parameter; weight_decays: one
    float per parameter (None: all 0). Every parameter is checked before any is updated.
    """
    step = _check_step(step)
    if amsgrad:
        _require(v_hat, "v_hat", "when amsgrad=True")
    decays = [0.0] * len(params) if weight_decays is None else list(weight_decays)
    _C.adam_update_many(list(params), list(grads), list(m), list(v), list(v_hat) if amsgrad else None, step, lr,
                        beta_1, beta_2, epsilon, amsgrad, decays)


def adamw_update(param, grad, m, v, step, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 v_hat=None, weight_decay=0.004):
    """AdamW, in place: adam_update with Keras AdamW's default weight_decay of 0.004."""
    adam_update(param, grad, m, v, step, lr, beta_1, beta_2, epsilon, amsgrad, v_hat, weight_decay)


def adamax_update(param, grad, m, u, step, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=0.0):
    """Adamax, in place.

    m += (g - m) * (1 - beta_1);  u = max(beta_2 * u, |g|);  w -= lr * m / ((1 - beta_1^step) * (u + epsilon))

    Args:
        m, u: slots (Keras's "momentum" and "norm"), start at 0. step: the 1-based update number.
    """
    step = _check_step(step)
    _C.adamax_update(param, grad, m, u, step, lr, beta_1, beta_2, epsilon, weight_decay)


def nadam_u_product(u_product, step, beta_1=0.9):
    """Advance Nadam's shared state: returns u_product * u_step, with u_s = beta_1 * (1 - 0.5 * 0.96^s).

    Keras keeps u_product = u_1 * ... * u_t (starting from 1.0) once per optimizer, and advances it once per
    step, before any parameter is updated. Pass the result to nadam_update for every parameter of that step.
    """
    return _C.nadam_next_u_product(float(u_product), _check_step(step), beta_1)


def nadam_update(param, grad, m, v, step, u_product, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=0.0):
    """Nadam, in place.

    With u_s = beta_1 * (1 - 0.5 * 0.96^s) and u_product = u_1 * ... * u_step (see nadam_u_product):
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    m_hat = u_{step+1} * m / (1 - u_product * u_{step+1}) + (1 - u_step) * g / (1 - u_product)
    w -= lr * m_hat / (sqrt(v / (1 - beta_2^step)) + epsilon)

    Args:
        m, v: slots, start at 0. step: the 1-based update number.
        u_product: the product through this step, from nadam_u_product (not the previous step's).

    Example (one optimizer step over several parameters):
        >>> u_product = ops.nadam_u_product(u_product, step)
        >>> for w, g, m, v in params: ops.nadam_update(w, g, m, v, step, u_product)
    """
    step = _check_step(step)
    _C.nadam_update(param, grad, m, v, step, float(u_product), lr, beta_1, beta_2, epsilon, weight_decay)
