"""The recurrent kernels (pynn.kernels.rnn_forward / rnn_backward) against a step-by-step NumPy reference and
finite differences, on every ISA path; 1 vs 2 threads bit-identical; argument checks."""
import itertools

import numpy as np
import pytest

from pynn import _C
from pynn.kernels import rnn_backward, rnn_forward
from gradcheck import numeric_gradient
from rnn_reference import gates, rnn_reference

# (kernel cell, reset_after): GRU both ways.
CELLS = [("simple", True), ("lstm", True), ("gru", True), ("gru", False)]
CELL_IDS = ["simple", "lstm", "gru", "gru_before"]


def make_problem(rng, cell, reset_after, batch, steps, features, units, dtype=np.float64, h0=False, mask=False,
                 recurrent_dropout=False, use_bias=True):
    g = gates(cell)
    p = dict(
        x=rng.standard_normal((batch, steps, features)).astype(dtype),
        kernel=(rng.standard_normal((features, g * units)) * 0.5).astype(dtype),
        recurrent_kernel=(rng.standard_normal((units, g * units)) * 0.5).astype(dtype),
        bias=None, h0=None, c0=None, mask=None, recurrent_mask=None)
    if use_bias:
        p["bias"] = (rng.standard_normal((2, g * units) if cell == "gru" and reset_after else (g * units,)) * 0.3
                     ).astype(dtype)
    if h0:
        p["h0"] = rng.standard_normal((batch, units)).astype(dtype)
        if cell == "lstm":
            p["c0"] = rng.standard_normal((batch, units)).astype(dtype)
    if mask:
        p["mask"] = rng.random((batch, steps)) > 0.3
        p["mask"][0, :] = False  # one fully masked sample
    if recurrent_dropout:
        p["recurrent_mask"] = ((rng.random((batch, units)) > 0.3) / 0.7).astype(dtype)
    return p


def run(cell, p, **options):
    return rnn_forward(cell, p["x"], p["kernel"], p["recurrent_kernel"], p["bias"], p["h0"], p["c0"], p["mask"],
                       p["recurrent_mask"], **options)


OPTION_SETS = [dict(go_backwards=gb, return_sequences=rs, zero_output_for_mask=zo)
               for gb, rs, zo in itertools.product([False, True], [False, True], [False, True])]


@pytest.mark.parametrize("cell,reset_after", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy_reference(isa, rng, cell, reset_after, dtype):
    # The last u % 16 units of a run of rows are computed side by side, at most 256 values at a time:
    # 31 units leave 15-unit tails; an LSTM of 143 units runs 32-row chunks, whose tails need two blocks.
    # 20 features: the inputs of every step projected at once (<= 16: step by step).
    shapes = [(1, 1, 1, 1), (3, 7, 5, 4), (37, 6, 3, 17), (20, 3, 9, 33), (41, 4, 3, 31), (40, 3, 2, 143),
              (19, 5, 20, 6)]
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    for (b, t, f, u), options, extras in itertools.product(
            shapes, OPTION_SETS[::3] + OPTION_SETS[1:2], [(False, False, False), (True, True, True)]):
        p = make_problem(rng, cell, reset_after, b, t, f, u, dtype, *extras)
        y, h, c, _ = run(cell, p, reset_after=reset_after, **options)
        # A forward alone (inference: one step of gates and states kept) gives the same bits.
        y1, h1, c1, saved1 = run(cell, p, reset_after=reset_after, save=False, **options)
        assert saved1 is None
        np.testing.assert_array_equal(y1, y)
        np.testing.assert_array_equal(h1, h)
        if cell == "lstm":
            np.testing.assert_array_equal(c1, c)
        yr, hr, cr = rnn_reference(cell, *(p[k] for k in ("x", "kernel", "recurrent_kernel", "bias", "h0", "c0",
                                                          "mask", "recurrent_mask")),
                                   reset_after=reset_after, **options)
        np.testing.assert_allclose(y, yr, **tol, err_msg=f"y {(b, t, f, u)} {options} {extras}")
        np.testing.assert_allclose(h, hr, **tol)
        if cell == "lstm":
            np.testing.assert_allclose(c, cr, **tol)


@pytest.mark.parametrize("activation,recurrent_activation", [("relu", "sigmoid"), ("tanh", "hard_sigmoid")])
def test_forward_other_activations(rng, activation, recurrent_activation):
    for cell, reset_after in CELLS:
        if cell == "simple" and recurrent_activation != "sigmoid":
            continue
        p = make_problem(rng, cell, reset_after, 4, 5, 3, 6, h0=True)
        opts = dict(activation=activation, recurrent_activation=recurrent_activation, reset_after=reset_after,
                    return_sequences=True)
        y, h, _, _ = run(cell, p, **opts)
        yr, hr, _ = rnn_reference(cell, *(p[k] for k in ("x", "kernel", "recurrent_kernel", "bias", "h0", "c0",
                                                          "mask", "recurrent_mask")), **opts)
        np.testing.assert_allclose(y, yr, rtol=1e-12, atol=1e-12)


def _check_backward(rng, cell, reset_after, options, extras, activation="tanh", shape=(3, 5, 2, 3)):
    p = make_problem(rng, cell, reset_after, *shape, np.float64, *extras)
    opts = dict(reset_after=reset_after, activation=activation, **options)
    y, h, c, saved = run(cell, p, **opts)
    gy, gh = rng.standard_normal(y.shape), rng.standard_normal(h.shape)
    gc = rng.standard_normal(h.shape) if cell == "lstm" else None

    def loss():
        y, h, c, _ = run(cell, p, **opts)
        return float(np.sum(gy * y) + np.sum(gh * h) + (np.sum(gc * c) if c is not None else 0.0))

    grads = {k: np.zeros_like(p[k]) for k in ("kernel", "recurrent_kernel", "bias") if p[k] is not None}
    dx, dh0, dc0 = rnn_backward(saved, gy, gh, gc, need_initial_state_grads=True, dkernel=grads["kernel"],
                                drecurrent_kernel=grads["recurrent_kernel"], dbias=grads.get("bias"))
    grads.update(x=dx, h0=dh0, c0=dc0)
    for k in ("x", "kernel", "recurrent_kernel", "bias", "h0", "c0"):
        if p[k] is not None:
            np.testing.assert_allclose(grads[k], numeric_gradient(loss, p[k]), rtol=1e-6, atol=1e-8,
                                       err_msg=f"d{k}, {cell} reset_after={reset_after} {options} {extras}")


@pytest.mark.parametrize("cell,reset_after", CELLS, ids=CELL_IDS)
def test_backward_matches_finite_differences(isa, rng, cell, reset_after):
    for options, extras in itertools.product(OPTION_SETS[::2] + OPTION_SETS[5:6],
                                             [(False, False, False), (True, True, True), (True, False, False)]):
        _check_backward(rng, cell, reset_after, options, extras)


@pytest.mark.parametrize("cell,reset_after", CELLS, ids=CELL_IDS)
def test_backward_over_all_steps_at_once(rng, cell, reset_after):
    """With more than 8 batch chunks of 16 the weight gradients come from products over all steps after the
    loop (not from per-chunk partials) and the bias gradient from the batch reduction: against finite
    differences too."""
    _check_backward(rng, cell, reset_after, dict(return_sequences=True), (True, True, False), shape=(130, 3, 2, 3))
    # relu: the rows' dG goes to a buffer of its own (with tanh / sigmoid it overwrites the saved gates)
    _check_backward(rng, cell, reset_after, dict(return_sequences=True), (False, False, False), activation="relu",
                    shape=(130, 3, 2, 3))


@pytest.mark.parametrize("cell,reset_after", CELLS, ids=CELL_IDS)
def test_backward_local_gradients_over_many_steps(rng, cell, reset_after):
    """A batch chunk of 16 rows gathers 16 steps before each product into its partial weight gradients: 37
    steps flush three times, the last one short; a ragged second chunk of 4 rows, masked steps and
    dx (copied out of the gathered rows) included."""
    _check_backward(rng, cell, reset_after, dict(return_sequences=True), (True, True, True), shape=(20, 37, 2, 3))


def test_backward_many_features_gathers_fewer_steps(rng):
    """20000 input features make each gathered row long, so a chunk gathers 4 steps at a time (not 16): nine
    steps flush 4 + 4 + 1. Checked along a random direction of each argument (a full finite-difference
    gradient would take 20000 evaluations per step)."""
    p = make_problem(rng, "simple", True, 3, 9, 20000, 2, np.float64, True, True, False)
    p["kernel"] *= 0.01  # pre-activations of order 1, not saturated
    y, h, c, saved = run("simple", p, return_sequences=True)
    gy = rng.standard_normal(y.shape)
    grads = {k: np.zeros_like(p[k]) for k in ("kernel", "recurrent_kernel", "bias")}
    dx, dh0, _ = rnn_backward(saved, gy, need_initial_state_grads=True, dkernel=grads["kernel"],
                              drecurrent_kernel=grads["recurrent_kernel"], dbias=grads["bias"])
    grads.update(x=dx, h0=dh0)
    for k, g in grads.items():
        v = rng.standard_normal(p[k].shape)
        e = 1e-6
        q = dict(p)
        q[k] = p[k] + e * v
        up = np.sum(gy * run("simple", q, return_sequences=True)[0])
        q[k] = p[k] - e * v
        down = np.sum(gy * run("simple", q, return_sequences=True)[0])
        np.testing.assert_allclose(np.sum(g * v), (up - down) / (2 * e), rtol=1e-6, err_msg=k)


@pytest.mark.parametrize("cell,reset_after", CELLS, ids=CELL_IDS)
def test_backward_relu_and_no_bias(rng, cell, reset_after):
    _check_backward(rng, cell, reset_after, dict(return_sequences=True), (True, False, False), activation="relu")
    p = make_problem(rng, cell, reset_after, 2, 4, 3, 3, use_bias=False)
    y, h, c, saved = run(cell, p, reset_after=reset_after)
    dk = np.zeros_like(p["kernel"])
    rnn_backward(saved, np.ones_like(y), dkernel=dk)

    def loss():
        return float(run(cell, p, reset_after=reset_after)[0].sum())

    np.testing.assert_allclose(dk, numeric_gradient(loss, p["kernel"]), rtol=1e-6, atol=1e-8)


# Every cell on a small shape; the large-units chunking once, by the LSTM.
THREAD_CASES = [(cell, reset_after, (40, 12, 7, 33)) for cell, reset_after in CELLS] + [("lstm", True, (70, 5, 6, 130))]


@pytest.mark.parametrize("cell,reset_after,shape", THREAD_CASES, ids=CELL_IDS + ["lstm_large_units"])
def test_one_and_two_threads_bit_identical(threads, rng, cell, reset_after, shape):
    """Batch chunks are fixed by the shape (several chunks and a ragged one here), so the thread count never
    changes a result: forward, dx and every weight gradient."""
    p = make_problem(rng, cell, reset_after, *shape, np.float32, True, True, True)
    results = []
    for n in (1, 2):
        threads(n)
        y, h, c, saved = run(cell, p, reset_after=reset_after, return_sequences=True)
        grads = [np.zeros_like(p[k]) for k in ("kernel", "recurrent_kernel", "bias")]
        dy = np.ascontiguousarray(np.cos(y))
        dx, dh0, dc0 = rnn_backward(saved, dy, need_initial_state_grads=True, dkernel=grads[0],
                                    drecurrent_kernel=grads[1], dbias=grads[2])
        results.append([y, h, dx, dh0] + grads + ([c, dc0] if cell == "lstm" else []))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_argument_errors(rng):
    p = make_problem(rng, "lstm", True, 2, 3, 4, 5, np.float32)
    x, k, rk, b = p["x"], p["kernel"], p["recurrent_kernel"], p["bias"]
    with pytest.raises(ValueError, match="x: expected a 3-D"):
        rnn_forward("lstm", x[0], k, rk, b)
    with pytest.raises(ValueError, match="cell"):
        rnn_forward("rnn", x, k, rk, b)
    with pytest.raises(ValueError, match=r"kernel: expected shape \(4, 20\)"):
        rnn_forward("lstm", x, k[:3], rk, b)
    with pytest.raises(ValueError, match="bias"):
        rnn_forward("lstm", x, k, rk, b[:-1])
    with pytest.raises(ValueError, match="mask: expected shape"):
        rnn_forward("lstm", x, k, rk, b, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="dtype"):
        rnn_forward("lstm", x, k.astype(np.float64), rk, b)
    with pytest.raises(ValueError, match="h0"):
        rnn_forward("lstm", x, k, rk, b, h0=np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="c0"):
        rnn_forward("gru", x, np.ascontiguousarray(k[:, :15]), np.ascontiguousarray(rk[:, :15]), None, c0=np.zeros((2, 5), np.float32))
    y = np.empty((2, 5), np.float32)
    with pytest.raises(ValueError, match="workspace"):
        _C.rnn_forward("lstm", x, k, rk, b, None, None, None, None, y, None, None, np.empty(3, np.float32))
    ws = np.empty(_C.rnn_workspace_sizes("lstm", x.shape, 5)[0], np.float32)
    with pytest.raises(ValueError, match="y: must not share memory"):
        _C.rnn_forward("lstm", x, k, rk, b, None, None, None, None, ws[:10].reshape(2, 5), None, None, ws)
    with pytest.raises(ValueError, match="y: expected shape"):
        _C.rnn_forward("lstm", x, k, rk, b, None, None, None, None, np.empty((2, 3, 5), np.float32), None, None, ws)
    _, _, _, saved = rnn_forward("lstm", x, k, rk, b)
    with pytest.raises(ValueError, match="dy: expected shape"):
        rnn_backward(saved, np.ones((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="dkernel"):
        rnn_backward(saved, np.ones((2, 5), np.float32), dkernel=np.zeros((4, 20)))
    rnn_backward(saved, np.ones((2, 5), np.float32))
    with pytest.raises(ValueError, match="one backward call per forward call"):  # its saved gates are gone
        rnn_backward(saved, np.ones((2, 5), np.float32))
