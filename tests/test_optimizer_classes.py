"""Optimizer classes (pynn.optimizers) against NumPy transcriptions of Keras 3's rules, over several steps and
several Variables: clipping, weight decay, constraints, schedules, get() and configs.

The per-variable references are those of test_optimizers.py (keras/src/optimizers/<name>.py, op for op).
"""
import math

import numpy as np
import pytest

import pynn
from pynn import optimizers
from pynn.optimizers import schedules
from pynn.variable import Variable
from test_optimizers import (TOL, ref_adadelta, ref_adagrad, ref_adam, ref_adamax, ref_nadam, ref_rmsprop,
                             ref_sgd)

SHAPES = [(7, 5), (5,), (3, 2, 2)]
STEPS = 6
LR = 0.05

# (class, constructor kwargs, reference, reference hyper-parameters, slots {name: initial value})
CASES = {
    "sgd": (optimizers.SGD, {}, ref_sgd, dict(momentum=0.0, nesterov=False), {}),
    "sgd_momentum": (optimizers.SGD, dict(momentum=0.9), ref_sgd, dict(momentum=0.9, nesterov=False),
                     {"velocity": 0.0}),
    "sgd_nesterov": (optimizers.SGD, dict(momentum=0.8, nesterov=True), ref_sgd,
                     dict(momentum=0.8, nesterov=True), {"velocity": 0.0}),
    "rmsprop": (optimizers.RMSprop, {}, ref_rmsprop, dict(rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
                {"velocity": 0.0}),
    "rmsprop_centered_momentum": (optimizers.RMSprop, dict(momentum=0.5, centered=True), ref_rmsprop,
                                  dict(rho=0.9, momentum=0.5, epsilon=1e-7, centered=True),
                                  {"velocity": 0.0, "momentums": 0.0, "average_grad": 0.0}),
    "adagrad": (optimizers.Adagrad, {}, ref_adagrad, dict(epsilon=1e-7), {"accumulator": 0.1}),
    "adadelta": (optimizers.Adadelta, {}, ref_adadelta, dict(rho=0.95, epsilon=1e-7),
                 {"accumulated_grad": 0.0, "accumulated_delta": 0.0}),
    "adam": (optimizers.Adam, {}, ref_adam, dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
             {"m": 0.0, "v": 0.0}),
    "adam_amsgrad": (optimizers.Adam, dict(amsgrad=True), ref_adam,
                     dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=True), {"m": 0.0, "v": 0.0, "v_hat": 0.0}),
    "adamax": (optimizers.Adamax, {}, ref_adamax, dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7),
               {"m": 0.0, "u": 0.0}),
    "nadam": (optimizers.Nadam, {}, ref_nadam, dict(beta_1=0.9, beta_2=0.999, epsilon=1e-7),
              {"m": 0.0, "v": 0.0, "u_product": 1.0}),
}


def make_problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    grads = [[3 * rng.standard_normal(shape).astype(dtype) for shape in SHAPES] for _ in range(STEPS)]
    return values, grads


def reference_run(values, grads, ref, hp, slots, lr=LR, wd=0.0, clip=None, constraint=None, lr_at=None):
    """The optimizer's steps by the NumPy references: clip, then (inside ref) weight decay and update."""
    ws = [v.copy() for v in values]
    states = [{name: (w.dtype.type(init) if name == "u_product" else np.full(w.shape, init, w.dtype))
               for name, init in slots.items()} for w in ws]
    for t, step_grads in enumerate(grads, start=1):
        step_grads = [g.copy() for g in step_grads]
        if clip is not None:
            step_grads = clip(step_grads)
        step_lr = lr_at(t - 1) if lr_at else lr
        for i, g in enumerate(step_grads):
            ws[i] = ref(ws[i], g, states[i], t, step_lr, **hp, wd=wd)
            if constraint is not None:
                ws[i] = constraint(ws[i])
    return ws


def pynn_run(optimizer, values, grads, constraint=None, use_apply=False):
    variables = [Variable(v, name=f"w{i}", constraint=constraint) for i, v in enumerate(values)]
    for step_grads in grads:
        if use_apply:
            for variable, g in zip(variables, step_grads):
                variable.grad[...] = g
            optimizer.apply(variables)
        else:
            optimizer.apply_gradients(list(zip(step_grads, variables)))
    return variables


def assert_close(variables, expected, dtype):
    for variable, ref_w in zip(variables, expected):
        assert variable.value.dtype == dtype
        np.testing.assert_allclose(variable.value, ref_w, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_optimizer_matches_keras_rule(case, dtype):
    cls, kwargs, ref, hp, slots = CASES[case]
    values, grads = make_problem(dtype)
    optimizer = cls(learning_rate=LR, **kwargs)
    variables = pynn_run(optimizer, values, grads)
    assert_close(variables, reference_run(values, grads, ref, hp, slots), dtype)
    assert optimizer.iterations == STEPS
    assert all(slot.dtype == dtype for slot in optimizer.variables)
    assert len(optimizer.variables) == len(SHAPES) * len([s for s in slots if s != "u_product"])


@pytest.mark.parametrize("case", ["sgd_momentum", "rmsprop", "adam", "nadam", "adagrad"])
def test_weight_decay(case):
    cls, kwargs, ref, hp, slots = CASES[case]
    values, grads = make_problem(np.float64)
    variables = pynn_run(cls(learning_rate=LR, weight_decay=0.1, **kwargs), values, grads)
    assert_close(variables, reference_run(values, grads, ref, hp, slots, wd=0.1), np.float64)


def test_adamw_defaults_to_keras_weight_decay():
    values, grads = make_problem(np.float64)
    optimizer = optimizers.AdamW(learning_rate=LR)
    assert optimizer.weight_decay == 0.004
    variables = pynn_run(optimizer, values, grads)
    _, _, ref, hp, slots = CASES["adam"]
    assert_close(variables, reference_run(values, grads, ref, hp, slots, wd=0.004), np.float64)
    with pytest.raises(ValueError):
        optimizers.AdamW(weight_decay=None)


def test_exclude_from_weight_decay():
    values, grads = make_problem(np.float64)
    optimizer = optimizers.SGD(learning_rate=LR, weight_decay=0.5)
    optimizer.exclude_from_weight_decay(var_names=["w1"])
    variables = pynn_run(optimizer, values, grads)
    decayed = reference_run(values, grads, ref_sgd, dict(momentum=0.0, nesterov=False), {}, wd=0.5)
    plain = reference_run(values, grads, ref_sgd, dict(momentum=0.0, nesterov=False), {})
    np.testing.assert_allclose(variables[0].value, decayed[0])
    np.testing.assert_allclose(variables[1].value, plain[1])


class CustomDecayAdam(optimizers.Optimizer):
    """A custom optimizer implementing only update_step: weight decay is applied by the base class."""

    def update_step(self, gradient, variable, learning_rate):
        velocity = self.add_slot(variable, "velocity")
        velocity *= 0.5
        velocity -= learning_rate * gradient
        variable.value += velocity


def test_custom_optimizer_with_only_update_step():
    values, grads = make_problem(np.float64)
    variables = pynn_run(CustomDecayAdam(learning_rate=LR, weight_decay=0.2, clipvalue=1.0), values, grads)
    expected = [v.copy() for v in values]
    velocities = [np.zeros_like(v) for v in values]
    for step_grads in grads:
        for i, g in enumerate(step_grads):
            expected[i] = expected[i] - expected[i] * 0.2 * LR
            velocities[i] = 0.5 * velocities[i] - LR * np.clip(g, -1, 1)
            expected[i] = expected[i] + velocities[i]
    assert_close(variables, expected, np.float64)


def keras_clip_by_norm(grads, clipnorm):
    return [g * clipnorm / max(np.sqrt(np.sum(g * g)), clipnorm) for g in grads]


def keras_clip_by_global_norm(grads, clipnorm):
    norm = np.sqrt(sum(np.sum(g * g) for g in grads))
    return [g * clipnorm / max(norm, clipnorm) for g in grads]


@pytest.mark.parametrize("option,clip", [
    (dict(clipvalue=0.5), lambda grads: [np.clip(g, -0.5, 0.5) for g in grads]),
    (dict(clipnorm=1.0), lambda grads: keras_clip_by_norm(grads, 1.0)),
    (dict(global_clipnorm=2.0), lambda grads: keras_clip_by_global_norm(grads, 2.0)),
])
@pytest.mark.parametrize("case", ["sgd_momentum", "adam"])
def test_clipping(case, option, clip):
    cls, kwargs, ref, hp, slots = CASES[case]
    values, grads = make_problem(np.float64)
    grads_before = [[g.copy() for g in step] for step in grads]
    variables = pynn_run(cls(learning_rate=LR, **option, **kwargs), values, grads)
    assert_close(variables, reference_run(values, grads, ref, hp, slots, clip=clip), np.float64)
    for step, step_before in zip(grads, grads_before):
        for g, g_before in zip(step, step_before):
            np.testing.assert_array_equal(g, g_before)  # the caller's gradients are not clipped in place
    unclipped = reference_run(values, grads, ref, hp, slots)
    assert not np.allclose(variables[0].value, unclipped[0])


def test_at_most_one_clip_option():
    with pytest.raises(ValueError, match="Only one"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="Only one"):
        optimizers.SGD(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError):
        optimizers.SGD(clipnorm=-1.0)


def test_constraint_applied_after_update():
    values, grads = make_problem(np.float64)
    constraint = lambda w: np.clip(w, -0.1, 0.1)  # noqa: E731
    _, kwargs, ref, hp, slots = CASES["adam"]
    variables = pynn_run(optimizers.Adam(learning_rate=LR), values, grads, constraint=constraint)
    assert_close(variables, reference_run(values, grads, ref, hp, slots, constraint=constraint), np.float64)
    assert np.abs(variables[0].value).max() <= 0.1


def test_apply_uses_variable_grad_and_skips_non_trainable():
    values, grads = make_problem(np.float64)
    _, _, ref, hp, slots = CASES["rmsprop"]
    variables = pynn_run(optimizers.RMSprop(learning_rate=LR), values, grads, use_apply=True)
    assert_close(variables, reference_run(values, grads, ref, hp, slots), np.float64)
    frozen = Variable(np.ones(3), trainable=False)
    frozen.grad[...] = 1.0
    optimizers.SGD(0.1).apply([frozen])
    np.testing.assert_array_equal(frozen.value, 1.0)


def test_learning_rate_is_settable_and_float():
    optimizer = optimizers.SGD()
    assert optimizer.learning_rate == 0.01
    optimizer.learning_rate = 0.5
    assert optimizer.learning_rate == 0.5 and isinstance(optimizer.learning_rate, float)
    w = Variable(np.ones(2))
    optimizer.apply_gradients([(np.ones(2), w)])
    np.testing.assert_allclose(w.value, 0.5)


def test_schedule_evaluated_at_iterations_before_increment():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    values, grads = make_problem(np.float64)
    optimizer = optimizers.Adam(learning_rate=schedule)
    assert optimizer.learning_rate == pytest.approx(0.1)
    variables = pynn_run(optimizer, values, grads)
    _, _, ref, hp, slots = CASES["adam"]
    assert_close(variables, reference_run(values, grads, ref, hp, slots, lr_at=schedule), np.float64)
    assert optimizer.learning_rate == pytest.approx(schedule(STEPS))
    with pytest.raises(TypeError):
        optimizer.learning_rate = 0.1


# ---------------------------------------------------------------- schedules vs Keras 3's formulas
STEPS_TO_CHECK = [0, 1, 3, 7, 10, 15, 100]


def test_exponential_decay():
    for staircase in (False, True):
        schedule = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.9, staircase=staircase)
        for step in STEPS_TO_CHECK:
            p = math.floor(step / 4) if staircase else step / 4
            assert schedule(step) == pytest.approx(0.1 * 0.9 ** p)


def test_piecewise_constant_decay():
    schedule = schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])
    assert [schedule(s) for s in (0, 5, 6, 10, 11, 100)] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError):
        schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5])


def test_inverse_time_decay():
    for staircase in (False, True):
        schedule = schedules.InverseTimeDecay(0.1, decay_steps=3, decay_rate=0.5, staircase=staircase)
        for step in STEPS_TO_CHECK:
            p = math.floor(step / 3) if staircase else step / 3
            assert schedule(step) == pytest.approx(0.1 / (1 + 0.5 * p))


def test_polynomial_decay():
    schedule = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=2.0)
    for step in STEPS_TO_CHECK:
        p = min(step, 10) / 10
        assert schedule(step) == pytest.approx((0.1 - 0.01) * (1 - p) ** 2 + 0.01)
    cyclic = schedules.PolynomialDecay(0.1, decay_steps=10, cycle=True)
    assert cyclic(0) == pytest.approx(0.1)
    assert cyclic(15) == pytest.approx((0.1 - 0.0001) * (1 - 15 / 20) + 0.0001)
    assert cyclic(20) == pytest.approx(0.0001)


def test_cosine_decay():
    schedule = schedules.CosineDecay(0.1, decay_steps=10, alpha=0.1)
    for step in STEPS_TO_CHECK:
        s = min(step, 10)
        assert schedule(step) == pytest.approx(0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * s / 10)) + 0.1))
    warm = schedules.CosineDecay(0.0, decay_steps=10, warmup_target=0.2, warmup_steps=4)
    assert warm(0) == 0.0
    assert warm(2) == pytest.approx(0.1)
    assert warm(4) == pytest.approx(0.2)
    assert warm(9) == pytest.approx(0.2 * 0.5 * (1 + math.cos(math.pi * 5 / 10)))
    assert warm(100) == pytest.approx(0.0)


@pytest.mark.parametrize("make, message", [
    (lambda: schedules.InverseTimeDecay(0.1, decay_steps=0, decay_rate=0.5),
     r"InverseTimeDecay: Argument `decay_steps` must be > 0. Received: decay_steps=0"),
    (lambda: schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=-1.0), r"InverseTimeDecay: .*`decay_rate`"),
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=-5, decay_rate=0.5), r"ExponentialDecay: .*`decay_steps`"),
    (lambda: schedules.ExponentialDecay(0.1, decay_steps=5, decay_rate=-0.5), r"ExponentialDecay: .*`decay_rate`"),
    (lambda: schedules.ExponentialDecay("0.1", decay_steps=5, decay_rate=0.5),
     r"ExponentialDecay: Argument `initial_learning_rate` must be a number"),
    (lambda: schedules.PolynomialDecay(0.1, decay_steps=0), r"PolynomialDecay: .*`decay_steps` must be > 0"),
    (lambda: schedules.PolynomialDecay(0.1, decay_steps=10, power=-1.0), r"PolynomialDecay: .*`power` must be >= 0"),
    (lambda: schedules.CosineDecay(0.1, decay_steps=0), r"CosineDecay: .*`decay_steps` must be > 0"),
    (lambda: schedules.CosineDecay(0.1, decay_steps=10, warmup_target=0.2, warmup_steps=-1),
     r"CosineDecay: .*`warmup_steps` must be >= 0"),
    (lambda: schedules.CosineDecay(0.1, decay_steps=float("nan")), r"CosineDecay: .*`decay_steps` must be a number"),
    (lambda: schedules.CosineDecay(0.1, decay_steps=True), r"CosineDecay: .*`decay_steps` must be a number"),
    (lambda: schedules.PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1]),
     r"PiecewiseConstantDecay: Argument `boundaries` must be sorted"),
    (lambda: schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5]), r"PiecewiseConstantDecay: The length of boundaries"),
    (lambda: schedules.PiecewiseConstantDecay([5, None], [1.0, 0.5, 0.1]),
     r"PiecewiseConstantDecay: Argument `boundaries\[1\]` must be a number"),
    (lambda: schedules.PiecewiseConstantDecay(5, [1.0]), r"PiecewiseConstantDecay: .*must be lists"),
])
def test_schedule_arguments_are_checked_when_made(make, message):
    """Each schedule's constructor rejects what would fail (ZeroDivisionError, complex powers) at a later step."""
    with pytest.raises(ValueError, match=message):
        make()


def test_schedule_configs_still_load():
    for schedule in (schedules.ExponentialDecay(0.1, 4, 0.9), schedules.PiecewiseConstantDecay([5, 5], [1, 2, 3]),
                     schedules.PolynomialDecay(0.1, 10, power=0.0), schedules.InverseTimeDecay(0.1, 3, 0.0),
                     schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=0)):
        clone = type(schedule).from_config(schedule.get_config())
        assert clone(10) == pytest.approx(schedule(10))


# ---------------------------------------------------------------- get() and configs
@pytest.mark.parametrize("name,cls", [("adam", optimizers.Adam), ("SGD", optimizers.SGD),
                                      ("RMSprop", optimizers.RMSprop), ("rmsprop", optimizers.RMSprop),
                                      ("adamw", optimizers.AdamW), ("Nadam", optimizers.Nadam),
                                      ("ADAGRAD", optimizers.Adagrad), ("adadelta", optimizers.Adadelta),
                                      ("adamax", optimizers.Adamax)])
def test_get_by_name(name, cls):
    optimizer = optimizers.get(name)
    assert type(optimizer) is cls
    assert optimizers.get(optimizer) is optimizer


def test_get_errors_list_valid_names():
    with pytest.raises(ValueError, match="Adam"):
        optimizers.get("adamm")
    with pytest.raises(ValueError):
        optimizers.get(42)


def test_keras_defaults():
    assert optimizers.SGD().learning_rate == 0.01
    for cls in (optimizers.RMSprop, optimizers.Adagrad, optimizers.Adadelta, optimizers.Adam, optimizers.Adamax,
                optimizers.Nadam, optimizers.AdamW):
        assert cls().learning_rate == 0.001
    assert optimizers.RMSprop().rho == 0.9 and optimizers.Adadelta().rho == 0.95
    assert optimizers.Adagrad().initial_accumulator_value == 0.1
    assert optimizers.Adam().epsilon == 1e-7


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_round_trip(case):
    cls, kwargs, *_ = CASES[case]
    optimizer = cls(learning_rate=0.02, clipnorm=1.5, **kwargs)
    config = optimizer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    assert optimizers.get({"class_name": cls.__name__, "config": config}).get_config() == config


def test_config_round_trip_with_schedule():
    optimizer = optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 100, warmup_target=0.2, warmup_steps=5))
    clone = optimizers.deserialize(optimizers.serialize(optimizer))
    assert isinstance(clone._learning_rate, schedules.CosineDecay)
    assert clone.get_config() == optimizer.get_config()


# ---------------------------------------------------------------- PyTorch parity (skipped without torch)
def torch_run(make_optimizer, values, grads):
    torch = pytest.importorskip("torch")
    params = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    optimizer = make_optimizer(params)
    for step_grads in grads:
        for param, g in zip(params, step_grads):
            param.grad = torch.tensor(g)
        optimizer.step()
    return [param.detach().numpy() for param in params]


def test_sgd_momentum_matches_torch():
    # torch: buf = mu * buf + g, p -= lr * buf; Keras: v = mu * v - lr * g, w += v. Equal while lr is constant.
    torch = pytest.importorskip("torch")
    values, grads = make_problem(np.float64)
    variables = pynn_run(optimizers.SGD(LR, momentum=0.9), values, grads)
    expected = torch_run(lambda params: torch.optim.SGD(params, lr=LR, momentum=0.9), values, grads)
    assert_close(variables, expected, np.float64)


def test_adam_matches_torch():
    # Keras adds epsilon to sqrt(v), torch to sqrt(v / (1 - beta_2^t)); with a negligible epsilon they agree.
    torch = pytest.importorskip("torch")
    values, grads = make_problem(np.float64)
    variables = pynn_run(optimizers.Adam(LR, epsilon=1e-12), values, grads)
    expected = torch_run(lambda params: torch.optim.Adam(params, lr=LR, eps=1e-12), values, grads)
    for variable, torch_w in zip(variables, expected):
        np.testing.assert_allclose(variable.value, torch_w, rtol=1e-9, atol=1e-10)


def test_weights_gradients_and_slots_start_on_cache_lines():
    """Variables, their gradients and optimizer slots are 64-byte aligned (vector loads never straddle two
    cache lines), also after set_weights and for shapes whose byte size is not a multiple of 64."""
    model = pynn.models.Sequential([pynn.layers.Input(shape=(13,)), pynn.layers.Dense(7), pynn.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.train_on_batch(np.ones((4, 13), np.float32), np.zeros((4, 3), np.float32))
    model.set_weights([w + 1 for w in model.get_weights()])
    arrays = [v.value for v in model.weights] + [v.grad for v in model.weights]
    arrays += [model.optimizer.add_slot(v, name) for v in model.weights for name in ("momentum", "velocity")]
    assert len(arrays) == 16
    for a in arrays:
        assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous and a.dtype == np.float32
