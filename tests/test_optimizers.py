"""Optimizer update kernels and gradient clipping against NumPy transcriptions of Keras 3's rules.

Each reference below follows keras/src/optimizers/<name>.py operation for operation, in the array's dtype,
with Keras's weight decay (base_optimizer._apply_weight_decay: w = w - w * wd * lr) applied first.
"""
import numpy as np
import pytest

import pynn
from pynn import kernels

SHAPE = (37, 19)
STEPS = 5
LR = 0.05
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
DTYPES = [np.float32, np.float64]


def weight_decay(w, lr, wd):
    return w - w * wd * lr if wd else w


# ---------------------------------------------------------------- NumPy references (Keras 3)
def ref_sgd(w, g, s, t, lr, momentum, nesterov, wd):
    w = weight_decay(w, lr, wd)
    if momentum == 0:
        return w - g * lr
    s["velocity"] = s["velocity"] * momentum - g * lr
    return w + (s["velocity"] * momentum - g * lr if nesterov else s["velocity"])


def ref_rmsprop(w, g, s, t, lr, rho, momentum, epsilon, centered, wd):
    w = weight_decay(w, lr, wd)
    s["velocity"] = rho * s["velocity"] + (1 - rho) * np.square(g)
    if centered:
        s["average_grad"] = rho * s["average_grad"] + (1 - rho) * g
        denominator = s["velocity"] - np.square(s["average_grad"]) + epsilon
    else:
        denominator = s["velocity"] + epsilon
    increment = lr * g / np.sqrt(denominator)
    if momentum > 0:
        s["momentums"] = momentum * s["momentums"] + increment
        return w - s["momentums"]
    return w - increment


def ref_adagrad(w, g, s, t, lr, epsilon, wd):
    w = weight_decay(w, lr, wd)
    s["accumulator"] = s["accumulator"] + np.square(g)
    return w - lr * g / np.sqrt(s["accumulator"] + epsilon)


def ref_adadelta(w, g, s, t, lr, rho, epsilon, wd):
    w = weight_decay(w, lr, wd)
    s["accumulated_grad"] = rho * s["accumulated_grad"] + (1 - rho) * np.square(g)
    delta = -(np.sqrt(s["accumulated_delta"] + epsilon) * g) / np.sqrt(s["accumulated_grad"] + epsilon)
    s["accumulated_delta"] = rho * s["accumulated_delta"] + (1 - rho) * np.square(delta)
    return w + lr * delta


def ref_adam(w, g, s, t, lr, beta_1, beta_2, epsilon, amsgrad, wd):
    dt = w.dtype.type
    w = weight_decay(w, lr, wd)
    alpha = dt(lr) * np.sqrt(1 - dt(beta_2) ** dt(t)) / (1 - dt(beta_1) ** dt(t))
    s["m"] = s["m"] + (g - s["m"]) * (1 - beta_1)
    s["v"] = s["v"] + (np.square(g) - s["v"]) * (1 - beta_2)
    v = s["v"]
    if amsgrad:
        s["v_hat"] = np.maximum(s["v_hat"], s["v"])
        v = s["v_hat"]
    return w - (s["m"] * alpha) / (np.sqrt(v) + epsilon)


def ref_adamax(w, g, s, t, lr, beta_1, beta_2, epsilon, wd):
    dt = w.dtype.type
    w = weight_decay(w, lr, wd)
    beta_1_power = dt(beta_1) ** dt(t)
    s["m"] = s["m"] + (g - s["m"]) * (1 - beta_1)
    s["u"] = np.maximum(beta_2 * s["u"], np.abs(g))
    return w - (lr * s["m"]) / ((1 - beta_1_power) * (s["u"] + epsilon))


def ref_nadam(w, g, s, t, lr, beta_1, beta_2, epsilon, wd):
    dt = w.dtype.type
    w = weight_decay(w, lr, wd)
    # Nadam._backend_update_step advances the shared product before the variables are updated.
    s["u_product"] = s["u_product"] * dt(beta_1) * (dt(1) - dt(0.5) * dt(0.96) ** dt(t))
    u_t = dt(beta_1) * (dt(1) - dt(0.5) * dt(0.96) ** dt(t))
    u_t_1 = dt(beta_1) * (dt(1) - dt(0.5) * dt(0.96) ** dt(t + 1))
    u_product_t = s["u_product"]
    u_product_t_1 = u_product_t * u_t_1
    beta_2_power = dt(beta_2) ** dt(t)
    s["m"] = s["m"] + (g - s["m"]) * (1 - beta_1)
    s["v"] = s["v"] + (np.square(g) - s["v"]) * (1 - beta_2)
    m_hat = u_t_1 * s["m"] / (1 - u_product_t_1) + (1 - u_t) * g / (1 - u_product_t)
    v_hat = s["v"] / (1 - beta_2_power)
    return w - (m_hat * lr) / (np.sqrt(v_hat) + epsilon)


@pytest.fixture(autouse=True)
def every_isa(isa):
    """Every test here runs on each ISA's build of the update loops (csrc/optimizers/update_rules_*.cpp)."""
    return isa


# ---------------------------------------------------------------- harness
def run_both(dtype, slots, pynn_step, ref_step, shape=SHAPE, seed=0):
    """STEPS updates with different random gradients through pynn and the reference; compare everything."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(STEPS)]
    w, ref_w = w0.copy(), w0.copy()
    state = {name: np.full(shape, init, dtype) for name, init in slots.items()}
    ref_state = {name: a.copy() for name, a in state.items()}
    for t, g in enumerate(grads, start=1):
        g_before = g.copy()
        pynn_step(w, g, state, t)
        np.testing.assert_array_equal(g, g_before, err_msg="the gradient must not be modified")
        ref_w = ref_step(ref_w, g, ref_state, t)
    assert w.dtype == dtype
    assert not np.allclose(w, w0), "the parameter did not move"
    np.testing.assert_allclose(w, ref_w, **TOL[dtype], err_msg="param")
    for name in slots:
        np.testing.assert_allclose(state[name], ref_state[name], **TOL[dtype], err_msg=name)
    return w


# ---------------------------------------------------------------- per optimizer
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_sgd(dtype, momentum, nesterov, wd):
    hp = dict(lr=LR, momentum=momentum, nesterov=nesterov)
    slots = {"velocity": 0.0} if momentum else {}
    run_both(dtype, slots,
             lambda w, g, s, t: kernels.sgd_update(w, g, s.get("velocity"), **hp, weight_decay=wd),
             lambda w, g, s, t: ref_sgd(w, g, s, t, **hp, wd=wd))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_rmsprop(dtype, momentum, centered, wd):
    hp = dict(lr=LR, rho=0.9, momentum=momentum, epsilon=1e-7, centered=centered)
    slots = {"velocity": 0.0}
    if momentum:
        slots["momentums"] = 0.0
    if centered:
        slots["average_grad"] = 0.0
    run_both(dtype, slots,
             lambda w, g, s, t: kernels.rmsprop_update(w, g, s["velocity"], **hp, momentums=s.get("momentums"),
                                                   average_grad=s.get("average_grad"), weight_decay=wd),
             lambda w, g, s, t: ref_rmsprop(w, g, s, t, **hp, wd=wd))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adagrad(dtype, wd):
    hp = dict(lr=LR, epsilon=1e-7)
    run_both(dtype, {"accumulator": 0.1},
             lambda w, g, s, t: kernels.adagrad_update(w, g, s["accumulator"], **hp, weight_decay=wd),
             lambda w, g, s, t: ref_adagrad(w, g, s, t, **hp, wd=wd))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adadelta(dtype, wd):
    hp = dict(lr=1.0, rho=0.95, epsilon=1e-7)
    run_both(dtype, {"accumulated_grad": 0.0, "accumulated_delta": 0.0},
             lambda w, g, s, t: kernels.adadelta_update(w, g, s["accumulated_grad"], s["accumulated_delta"], **hp,
                                                    weight_decay=wd),
             lambda w, g, s, t: ref_adadelta(w, g, s, t, **hp, wd=wd))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam(dtype, amsgrad, wd):
    hp = dict(lr=LR, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=amsgrad)
    slots = {"m": 0.0, "v": 0.0, **({"v_hat": 0.0} if amsgrad else {})}
    run_both(dtype, slots,
             lambda w, g, s, t: kernels.adam_update(w, g, s["m"], s["v"], t, **hp, v_hat=s.get("v_hat"),
                                                weight_decay=wd),
             lambda w, g, s, t: ref_adam(w, g, s, t, **hp, wd=wd))


@pytest.mark.parametrize("dtype", DTYPES)
def test_adamw_is_adam_with_keras_default_decay(dtype):
    hp = dict(lr=LR, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)
    run_both(dtype, {"m": 0.0, "v": 0.0},
             lambda w, g, s, t: kernels.adamw_update(w, g, s["m"], s["v"], t, lr=LR),
             lambda w, g, s, t: ref_adam(w, g, s, t, **hp, wd=0.004))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adamax(dtype, wd):
    hp = dict(lr=LR, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    run_both(dtype, {"m": 0.0, "u": 0.0},
             lambda w, g, s, t: kernels.adamax_update(w, g, s["m"], s["u"], t, **hp, weight_decay=wd),
             lambda w, g, s, t: ref_adamax(w, g, s, t, **hp, wd=wd))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_nadam(dtype, wd):
    hp = dict(lr=LR, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    u_product = [1.0]
    ref_state = {}

    def pynn_step(w, g, s, t):
        u_product[0] = kernels.nadam_u_product(u_product[0], t, hp["beta_1"])
        kernels.nadam_update(w, g, s["m"], s["v"], t, u_product[0], **hp, weight_decay=wd)

    def ref_step(w, g, s, t):
        s.setdefault("u_product", dtype(1.0))  # Keras: a variable of the weights' dtype
        out = ref_nadam(w, g, s, t, **hp, wd=wd)
        ref_state["u_product"] = s["u_product"]
        return out

    run_both(dtype, {"m": 0.0, "v": 0.0}, pynn_step, ref_step)
    assert u_product[0] == pytest.approx(float(ref_state["u_product"]), rel=1e-6)


def test_nadam_u_product_schedule():
    beta_1, product = 0.9, 1.0
    for t in range(1, 6):
        product = kernels.nadam_u_product(product, t, beta_1)
    expected = np.prod([beta_1 * (1 - 0.5 * 0.96 ** t) for t in range(1, 6)])
    assert product == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------- clipping
@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_value(dtype):
    g = np.random.default_rng(1).standard_normal(SHAPE).astype(dtype) * 3
    g[0, 0] = np.nan
    expected = np.clip(g, -1.5, 1.5)
    assert kernels.clip_by_value(g, 1.5) is g
    np.testing.assert_array_equal(g, expected)


def keras_clip_by_norm(g, clipnorm):
    l2sum = np.sum(np.square(g.astype(np.float64)))
    l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum
    return (g * clipnorm) / g.dtype.type(max(l2norm, clipnorm)), l2norm


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clipnorm", [0.5, 1e6])
def test_clip_by_norm(dtype, clipnorm):
    g = np.random.default_rng(2).standard_normal(SHAPE).astype(dtype)
    expected, norm = keras_clip_by_norm(g, clipnorm)
    got_norm = kernels.clip_by_norm(g, clipnorm)
    assert got_norm == pytest.approx(norm, rel=1e-12)
    np.testing.assert_allclose(g, expected, **TOL[dtype])
    assert np.linalg.norm(g.astype(np.float64)) <= clipnorm * (1 + 1e-6)


def test_clip_by_norm_of_zero_gradient_is_zero():
    g = np.zeros(10, np.float32)
    assert kernels.clip_by_norm(g, 1.0) == 0.0
    np.testing.assert_array_equal(g, 0.0)


def keras_clip_by_global_norm(grads, clipnorm):
    norm = np.sqrt(sum(np.sum(np.square(g.astype(np.float64))) for g in grads))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = clipnorm * np.minimum(1.0 / norm, 1.0 / clipnorm) + (norm - norm)
    return [g * g.dtype.type(scale) for g in grads], norm


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clipnorm", [1.0, 1e6])
def test_clip_by_global_norm(dtype, clipnorm):
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(s).astype(dtype) for s in [(5, 7), (7,), (3, 4, 5), (1,)]]
    expected, norm = keras_clip_by_global_norm(grads, clipnorm)
    got_norm = kernels.clip_by_global_norm(grads, clipnorm)
    assert got_norm == pytest.approx(norm, rel=1e-12)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, **TOL[dtype])
    assert np.sqrt(sum(np.sum(np.square(g.astype(np.float64))) for g in grads)) <= clipnorm * (1 + 1e-6)


def test_clip_by_global_norm_with_inf_makes_every_gradient_nan():
    grads = [np.array([1.0, np.inf], np.float32), np.ones(3, np.float32)]
    kernels.clip_by_global_norm(grads, 1.0)
    assert all(np.isnan(g).all() for g in grads)


# ---------------------------------------------------------------- thread count independence
@pytest.fixture
def restore_threads():
    n = pynn.get_num_threads()
    yield
    pynn.set_num_threads(n)


UPDATES = {
    "sgd_nesterov": (["velocity"], lambda w, g, s: kernels.sgd_update(w, g, s[0], lr=LR, momentum=0.9, nesterov=True,
                                                                 weight_decay=0.01)),
    "rmsprop_centered_momentum": (["velocity", "momentums", "average_grad"],
                                  lambda w, g, s: kernels.rmsprop_update(w, g, s[0], lr=LR, momentum=0.5, centered=True,
                                                                     momentums=s[1], average_grad=s[2])),
    "adagrad": (["accumulator"], lambda w, g, s: kernels.adagrad_update(w, g, s[0], lr=LR)),
    "adadelta": (["accumulated_grad", "accumulated_delta"],
                 lambda w, g, s: kernels.adadelta_update(w, g, s[0], s[1], lr=1.0)),
    "adam_amsgrad": (["m", "v", "v_hat"],
                     lambda w, g, s: kernels.adam_update(w, g, s[0], s[1], 3, lr=LR, amsgrad=True, v_hat=s[2],
                                                     weight_decay=0.01)),
    "adamax": (["m", "u"], lambda w, g, s: kernels.adamax_update(w, g, s[0], s[1], 3, lr=LR)),
    "nadam": (["m", "v"], lambda w, g, s: kernels.nadam_update(w, g, s[0], s[1], 3, 0.5, lr=LR)),
}


def _run_update_with_threads(name, threads, n):
    slot_names, update = UPDATES[name]
    rng = np.random.default_rng(4)
    w = rng.standard_normal(n).astype(np.float32)
    slots = [np.abs(rng.standard_normal(n)).astype(np.float32) for _ in slot_names]
    pynn.set_num_threads(threads)
    for _ in range(2):
        update(w, rng.standard_normal(n).astype(np.float32), slots)
    return [w] + slots


@pytest.mark.parametrize("name", sorted(UPDATES))
def test_updates_bit_identical_for_1_and_2_threads(name, restore_threads):
    n = (1 << 20) + 13
    one = _run_update_with_threads(name, 1, n)
    two = _run_update_with_threads(name, 2, n)
    for a, b in zip(one, two):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_clipping_norms_bit_identical_for_1_and_2_threads(dtype, restore_threads):
    rng = np.random.default_rng(5)
    base = [rng.standard_normal(s).astype(dtype) for s in [(1 << 20) + 5, (1000, 37), (3,)]]
    results = []
    for threads in (1, 2):
        pynn.set_num_threads(threads)
        grads = [g.copy() for g in base]
        global_norm = kernels.clip_by_global_norm(grads, 1.0)
        single = base[0].copy()
        norm = kernels.clip_by_norm(single, 1.0)
        results.append((global_norm, norm, [g.tobytes() for g in grads], single.tobytes()))
    assert results[0] == results[1]


# ---------------------------------------------------------------- bad arguments
def _adam_arrays(dtype=np.float32, shape=SHAPE):
    rng = np.random.default_rng(6)
    return {k: rng.standard_normal(shape).astype(dtype) for k in ("param", "grad", "m", "v")}


def _adam(a, **kw):
    kernels.adam_update(a["param"], a["grad"], a["m"], a["v"], kw.pop("step", 1), **kw)


BAD_ADAM = {
    "grad dtype": (lambda a: a.update(grad=a["grad"].astype(np.float64)), {}, r"grad: expected dtype float32"),
    "m dtype": (lambda a: a.update(m=a["m"].astype(np.float64)), {}, r"m: expected dtype float32"),
    "grad shape": (lambda a: a.update(grad=a["grad"][:, :5].copy()), {}, r"grad: expected shape \(37, 19\)"),
    "v shape": (lambda a: a.update(v=a["v"].reshape(-1)), {}, r"v: expected shape \(37, 19\).*got \(703,\)"),
    "grad aliases param": (lambda a: a.update(grad=a["param"]), {}, r"grad: .*shares no memory with param"),
    "grad is a view of param": (lambda a: a.update(grad=a["param"].reshape(SHAPE)), {},
                                r"grad: .*shares no memory with param"),
    "m aliases v": (lambda a: a.update(m=a["v"]), {}, r"v: .*shares no memory with m"),
    "param not contiguous": (lambda a: a.update(param=np.asfortranarray(a["param"])), {},
                             r"param: expected a C-contiguous array"),
    "grad not contiguous": (lambda a: a.update(grad=np.repeat(a["grad"], 2, axis=1)[:, ::2]), {},
                            r"grad: expected a C-contiguous array"),
    "grad not an array": (lambda a: a.update(grad=a["grad"].tolist()), {}, r"grad: expected a numpy.ndarray"),
    "param int dtype": (lambda a: a.update(param=a["param"].astype(np.int32)), {},
                        r"param: expected dtype float32 or float64, got int32"),
    "step 0": (lambda a: None, {"step": 0}, r"step: expected an integer >= 1"),
    "step float": (lambda a: None, {"step": 1.5}, r"step: expected an integer >= 1"),
    "amsgrad without v_hat": (lambda a: None, {"amsgrad": True}, r"v_hat: expected an array when amsgrad"),
}


@pytest.mark.parametrize("case", sorted(BAD_ADAM))
def test_bad_arguments_raise_and_leave_param_untouched(case):
    change, kwargs, message = BAD_ADAM[case]
    a = _adam_arrays()
    change(a)
    before = {k: np.array(v, copy=True) for k, v in a.items() if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError, match=message):
        _adam(a, **kwargs)
    for k, v in before.items():
        np.testing.assert_array_equal(a[k], v, err_msg=f"{k} was modified")


def test_read_only_param_and_slot_are_rejected():
    a = _adam_arrays()
    a["param"].flags.writeable = False
    with pytest.raises(ValueError, match=r"param: expected a writeable array"):
        _adam(a)
    a = _adam_arrays()
    a["v"].flags.writeable = False
    with pytest.raises(ValueError, match=r"v: expected a writeable array"):
        _adam(a)


def test_read_only_grad_is_accepted_by_updates():
    a = _adam_arrays()
    a["grad"].flags.writeable = False
    _adam(a)


def test_missing_slots_raise():
    w, g = np.ones(4, np.float32), np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"velocity: expected an array when momentum != 0"):
        kernels.sgd_update(w, g, None, momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum: expected a float in \[0, 1\]"):
        kernels.sgd_update(w, g, np.zeros(4, np.float32), momentum=1.5)
    with pytest.raises(ValueError, match=r"momentums: expected an array when momentum > 0"):
        kernels.rmsprop_update(w, g, np.zeros(4, np.float32), momentum=0.5)
    with pytest.raises(ValueError, match=r"average_grad: expected an array when centered"):
        kernels.rmsprop_update(w, g, np.zeros(4, np.float32), centered=True)
    np.testing.assert_array_equal(w, 1.0)


def test_bad_clipping_arguments():
    g = np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"clipnorm: expected a number > 0"):
        kernels.clip_by_norm(g, 0.0)
    with pytest.raises(ValueError, match=r"clipvalue: expected a number >= 0"):
        kernels.clip_by_value(g, -1.0)
    ro = np.ones(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"grad: expected a writeable array"):
        kernels.clip_by_value(ro, 1.0)
    with pytest.raises(ValueError, match=r"grads\[1\]: expected dtype float32 \(the dtype of grads\[0\]\)"):
        kernels.clip_by_global_norm([g, np.ones(3)], 1.0)
    with pytest.raises(ValueError, match=r"grads\[1\]: .*shares no memory with grads\[0\]"):
        kernels.clip_by_global_norm([g, g[1:]], 1.0)
    with pytest.raises(ValueError, match=r"grads\[0\]: expected a C-contiguous array"):
        kernels.clip_by_global_norm([np.ones((4, 4), np.float32)[:, ::2]], 1.0)
    with pytest.raises(ValueError, match=r"grads: expected a list or tuple"):
        kernels.clip_by_global_norm(g, 1.0)
    np.testing.assert_array_equal(g, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_many_equals_one_call_per_variable(dtype, amsgrad):
    rng = np.random.default_rng(5)
    shapes = [(7, 3), (3,), (1,), (40, 50)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    one = [p.copy() for p in params]
    m1, v1, h1 = ([np.zeros_like(p) for p in params] for _ in range(3))
    m2, v2, h2 = ([np.zeros_like(p) for p in params] for _ in range(3))
    decays = [0.0, 0.01, 0.0, 0.004]
    for step in (1, 2, 3):
        kernels.adam_update_many(params, grads, m1, v1, step, lr=0.01, amsgrad=amsgrad, v_hat=h1, weight_decays=decays)
        for p, g, m, v, h, d in zip(one, grads, m2, v2, h2, decays):
            kernels.adam_update(p, g, m, v, step, lr=0.01, amsgrad=amsgrad, v_hat=h, weight_decay=d)
    for a, b in zip(params + m1 + v1, one + m2 + v2):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_many_equals_one_call_per_variable(momentum, nesterov):
    rng = np.random.default_rng(6)
    params = [rng.standard_normal(s).astype(np.float32) for s in [(5, 4), (4,)]]
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    one = [p.copy() for p in params]
    vel1 = [np.zeros_like(p) for p in params]
    vel2 = [np.zeros_like(p) for p in params]
    for _ in range(3):
        kernels.sgd_update_many(params, grads, vel1, lr=0.1, momentum=momentum, nesterov=nesterov)
        for p, g, v in zip(one, grads, vel2):
            kernels.sgd_update(p, g, v, lr=0.1, momentum=momentum, nesterov=nesterov)
    for a, b in zip(params, one):
        np.testing.assert_array_equal(a, b)


def test_many_checks_every_variable_before_updating_any():
    params = [np.ones(3, np.float32), np.ones(4, np.float32)]
    before = [p.copy() for p in params]
    m = [np.zeros(3, np.float32), np.zeros(4, np.float32)]
    cases = [
        ([np.ones(3, np.float32), np.ones(5, np.float32)], m, "variable 1: grad: expected shape"),
        ([np.ones(3, np.float32), np.ones(4, np.float64)], m, "variable 1: grad: expected dtype float32"),
        ([np.ones(3, np.float32)], m, "grads: expected 2 arrays"),
        ([np.ones(3, np.float32), np.ones(4, np.float32)], [m[0], params[1]], "variable 1: .*shares no memory"),
    ]
    for grads, slots, message in cases:
        with pytest.raises(ValueError, match=message):
            kernels.adam_update_many(params, grads, slots, [np.zeros(3, np.float32), np.zeros(4, np.float32)], 1)
        for p, b in zip(params, before):
            np.testing.assert_array_equal(p, b)
    with pytest.raises(ValueError, match="variable 0: param: expected a writeable"):
        ro = np.ones(3, np.float32)
        ro.flags.writeable = False
        kernels.sgd_update_many([ro], [np.ones(3, np.float32)], lr=0.1)


def test_lazy_gradient_zeroing():
    v = pynn.variable.Variable(np.ones((2, 2), np.float32))
    v.grad += 3
    v.zero_grad()
    grad, beta = v.grad_for_update()
    assert beta == 0.0 and grad is v._grad   # a kernel may overwrite the stale contents
    grad[...] = 5
    assert v.grad_for_update()[1] == 1.0     # written since: accumulate
    v.zero_grad()
    np.testing.assert_array_equal(v.grad, 0)  # a plain read sees zeros
    v.grad += 1
    assert v.grad_for_update()[1] == 1.0 and v.grad[0, 0] == 1
