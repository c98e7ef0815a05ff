"""Fused optimizer updates (pynn) against their NumPy transcriptions, 1M float32 parameters.

Run: pytest bench/bench_optimizers.py --benchmark-only
The NumPy baselines use in-place ufuncs and one scratch buffer, no temporaries. pynn runs with 1 thread and
with the default thread count; NumPy's elementwise ufuncs are single-threaded. Correctness is checked once,
outside the timed calls.
"""
import math

import numpy as np
import pytest

import pynn
from pynn import kernels

N = 1 << 20
LR, BETA_1, BETA_2, EPSILON, STEP = 0.001, 0.9, 0.999, 1e-7, 10
MOMENTUM = 0.9


def numpy_adam(w, g, m, v, scratch):
    alpha = LR * math.sqrt(1 - BETA_2 ** STEP) / (1 - BETA_1 ** STEP)
    np.subtract(g, m, out=scratch)
    scratch *= 1 - BETA_1
    m += scratch
    np.multiply(g, g, out=scratch)
    scratch -= v
    scratch *= 1 - BETA_2
    v += scratch
    np.sqrt(v, out=scratch)
    scratch += EPSILON
    np.divide(m, scratch, out=scratch)
    scratch *= alpha
    w -= scratch


def pynn_adam(w, g, m, v, scratch):
    kernels.adam_update(w, g, m, v, STEP, LR, BETA_1, BETA_2, EPSILON)


def numpy_sgd_momentum(w, g, velocity, scratch):
    velocity *= MOMENTUM
    np.multiply(g, LR, out=scratch)
    velocity -= scratch
    w += velocity


def pynn_sgd_momentum(w, g, velocity, scratch):
    kernels.sgd_update(w, g, velocity, LR, MOMENTUM)


def make_arrays(slots):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(N).astype(np.float32)
    g = rng.standard_normal(N).astype(np.float32)
    state = [np.abs(rng.standard_normal(N)).astype(np.float32) * 0.1 for _ in range(slots)]
    return w, g, state, np.empty(N, np.float32)


IMPLEMENTATIONS = {
    "adam": (2, {"numpy": numpy_adam, "pynn": pynn_adam}),
    "sgd_momentum": (1, {"numpy": numpy_sgd_momentum, "pynn": pynn_sgd_momentum}),
}
CASES = [(opt, impl, threads) for opt in IMPLEMENTATIONS for impl, threads in
         [("numpy", None), ("pynn", 1), ("pynn", None)]]


@pytest.fixture
def threads():
    saved = pynn.get_num_threads()
    yield pynn.set_num_threads
    pynn.set_num_threads(saved)


def check_against_numpy(optimizer, update):
    slots, impls = IMPLEMENTATIONS[optimizer]
    w, g, state, scratch = make_arrays(slots)
    ref_w, ref_state = w.copy(), [s.copy() for s in state]
    update(w, g, *state, scratch)
    impls["numpy"](ref_w, g, *ref_state, scratch)
    np.testing.assert_allclose(w, ref_w, rtol=1e-5, atol=1e-6)
    for s, r in zip(state, ref_state):
        np.testing.assert_allclose(s, r, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("optimizer,impl,num_threads", CASES,
                         ids=[f"{o}-{i}-{t or 'default'}threads" if i == "pynn" else f"{o}-{i}"
                              for o, i, t in CASES])
def test_update_1m_float32(benchmark, threads, optimizer, impl, num_threads):
    if num_threads is not None:
        threads(num_threads)
    slots, impls = IMPLEMENTATIONS[optimizer]
    update = impls[impl]
    check_against_numpy(optimizer, update)
    benchmark.group = f"{optimizer} update, 1M float32"
    benchmark.extra_info["threads"] = pynn.get_num_threads() if impl == "pynn" else 1
    w, g, state, scratch = make_arrays(slots)
    benchmark(update, w, g, *state, scratch)
