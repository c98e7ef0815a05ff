"""A random-argument sweep over every public function of pynn._C (the bindings' argument checks).

Each function is called many times with arguments derived from a valid call by random mutations (wrong
dtypes, ranks and shapes, zero sizes, negative and huge integers, non-contiguous, read-only and aliased
arrays, None, objects of the wrong type), or, for a function without a valid call below, with random
arguments for its signature. Every call must return or raise TypeError, ValueError, IndexError or
OverflowError: anything else (or a crash) is a bug in a binding's checks. Every array the sweep passes lies
between guard bytes, checked after each call, so a kernel writing outside an array fails the test.

The functions are found with dir(pynn._C): a new binding is swept without being named here (with random
arguments until it gets a valid call in VALID_CALLS); one that cannot be swept must be listed in NOT_SWEPT
with the reason. Deterministic (seeded by name); PYNN_FUZZ_LONG=1 runs 10x the cases.
"""
import inspect
import math
import os
import types
import zlib

import numpy as np
import pytest

from pynn import _C

CASES = 800 * (10 if os.environ.get("PYNN_FUZZ_LONG") == "1" else 1)
ALLOWED = (TypeError, ValueError, IndexError, OverflowError)
GUARD = 64          # guard bytes before and after every array
CANARY = 0xA5

NOT_SWEPT = {
    "Activation": "an enum of activation names (a value, not a kernel)",
    "FillMode": "an enum of fill modes (a value, not a kernel)",
    "Interpolation": "an enum of interpolations (a value, not a kernel)",
    "Isa": "an enum of instruction sets (a value, not a kernel)",
    "RandomDistribution": "an enum of distributions (a value, not a kernel)",
    "RnnCell": "an enum of recurrent cells (a value, not a kernel)",
    "np": "the numpy module, imported by training.pxi",
}

DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.int8, np.bool_, np.complex64,
          np.object_, np.dtype("V8"), np.dtype("S3")]
HUGE = [2 ** 31, 2 ** 32 + 1, 2 ** 62, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -2 ** 63, -2 ** 31, -1, 0]


class Arena:
    """Arrays between guard bytes; check() fails when a call wrote outside one of them."""

    def __init__(self, rng):
        self.rng = rng
        self.guarded = []

    def array(self, shape, dtype=np.float32, values=None):
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        if dtype.hasobject:
            a = np.empty(shape, dtype)
            a.fill(None if values is None else 1.5)
            return a
        nbytes = math.prod(shape) * dtype.itemsize
        buf = np.full(GUARD + nbytes + GUARD, CANARY, np.uint8)
        a = buf[GUARD:GUARD + nbytes].view(dtype).reshape(shape)
        self.guarded.append((buf, nbytes))
        if values is not None:
            a[...] = values
        elif dtype.kind == "f":
            a[...] = self.rng.standard_normal(shape)
        elif dtype.kind in "iu":
            a[...] = self.rng.integers(0, 4, shape)
        elif dtype.kind == "b":
            a[...] = self.rng.integers(0, 2, shape).astype(bool)
        elif dtype.kind == "c":
            a[...] = self.rng.standard_normal(shape)
        return a

    def noncontiguous(self, shape, dtype):
        """An array of `shape` whose elements are not adjacent (a strided view, or a transposed one)."""
        shape = tuple(shape)
        if len(shape) >= 2 and self.rng.random() < 0.5:
            return self.array(shape[::-1], dtype).T
        if not shape:
            return self.array((), dtype)
        big = self.array(shape[:-1] + (2 * shape[-1] + 1,), dtype)
        return big[..., ::2][..., :shape[-1]] if self.rng.random() < 0.5 else big[..., 1::2][..., :shape[-1]]

    def check(self):
        for buf, nbytes in self.guarded:
            head, tail = buf[:GUARD], buf[GUARD + nbytes:]
            if not ((head == CANARY).all() and (tail == CANARY).all()):
                return False
        return True


class Obj:
    """An object with attributes (DenseChain's layer Variables and Dropout layers)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


# ---------------------------------------------------------------- valid calls (the mutation seeds)
# name -> f(A) returning (args, kwargs): one call that succeeds, with small arrays.

def _f32(A, *shape):
    return A.array(shape, np.float32)


def _conv(A, kind):
    x, w, y = _f32(A, 2, 5, 6, 4), _f32(A, 3, 2, 2, 6), _f32(A, 2, 3, 3, 6)   # stride (1, 2), groups 2
    geo = dict(strides=(1, 2), padding=((0, 0), (0, 1)), dilation=(1, 1), groups=2)
    if kind == "forward":
        return [x, w, _f32(A, 6), y], dict(geo, activation="relu", reference=bool(A.rng.integers(2)))
    if kind == "data":
        return [y, w, x], dict(geo, reference=False, mask=_f32(A, 2, 3, 3, 6))
    return [x, y, A.array(w.shape), _f32(A, 6)], dict(geo, accumulate=True, reference=False,
                                                      mask=_f32(A, 2, 3, 3, 6))


def _pool(A, kind):
    x, y = _f32(A, 2, 5, 5, 3), _f32(A, 2, 3, 3, 3)
    pads = dict(pool_size=(2, 2), strides=(2, 2), padding="same", reference=bool(A.rng.integers(2)))
    argmax = A.array(y.shape, np.int32, A.rng.integers(0, 25, y.shape))
    if kind == "max":
        return [x, y, argmax], pads
    if kind == "max_backward":
        return [y, argmax, x], pads
    if kind == "avg":
        return [x, y], pads
    return [y, x], pads


def _loss(A):
    z = _f32(A, 3, 4)
    return [z, A.array(z.shape), _f32(A, 3), _f32(A, 3, 4), _f32(A, 3)], dict(scale=0.5)


def _bn(A, kind):
    x = _f32(A, 2, 3, 4)
    vec = lambda: A.array((3,), np.float32, A.rng.random(3) + 0.5)  # noqa: E731
    if kind == "training":
        return [x, vec(), vec(), _f32(A, 2, 3, 4), vec(), vec(), vec(), vec(), 1e-3, 0.99], {}
    if kind == "inference":
        return [x, vec(), vec(), vec(), vec(), _f32(A, 2, 3, 4), 1e-3], {}
    return [x, _f32(A, 2, 3, 4), vec(), vec(), vec(), _f32(A, 2, 3, 4), vec(), vec(), True], {}


def _rnn_forward(A, cell="lstm"):
    B, T, F, U, G = 2, 3, 4, 5, {"simple": 1, "lstm": 4, "gru": 3}[cell]
    fwd, _ = _C.rnn_workspace_sizes(cell, (B, T, F), U, recurrent_dropout=True)
    return ([cell, _f32(A, B, T, F), _f32(A, F, G * U), _f32(A, U, G * U), _f32(A, G * U) if cell != "gru"
             else _f32(A, 2, G * U), _f32(A, B, U), _f32(A, B, U) if cell == "lstm" else None,
             A.array((B, T), np.bool_), _f32(A, B, U), _f32(A, B, T, U), _f32(A, B, U),
             _f32(A, B, U) if cell == "lstm" else None, _f32(A, fwd)],
            dict(return_sequences=True, go_backwards=bool(A.rng.integers(2))))


def _rnn_backward(A):
    cell = ["simple", "lstm", "gru"][int(A.rng.integers(3))]
    args, kw = _rnn_forward(A, cell)
    _C.rnn_forward(*args, **kw)
    B, T, F, U = 2, 3, 4, 5
    _, bwd = _C.rnn_workspace_sizes(cell, (B, T, F), U, recurrent_dropout=True)
    k, rk, b, mask, rmask, ws = args[2], args[3], args[4], args[7], args[8], args[12]
    lstm = cell == "lstm"
    return ([cell, (B, T, F), k, rk, True, mask, rmask, ws, _f32(A, B, T, U), _f32(A, B, U),
             _f32(A, B, U) if lstm else None, _f32(A, B, T, F), _f32(A, B, U), _f32(A, B, U) if lstm else None,
             A.array(k.shape), A.array(rk.shape), A.array(b.shape), _f32(A, bwd)], kw)


def _chain_specs(A):
    def var(*shape):
        return Obj(value=_f32(A, *shape), _grad=_f32(A, *shape), _grad_stale=True)

    def key(n):
        return 7, 0

    return [("dense", var(4, 3), var(3), "relu", True, 4, 3), ("dropout", Obj(rate=0.5, _key=key), 3),
            ("dense", var(3, 2), None, None, False, 3, 2)]


def _chain_step(A):
    chain = _C.DenseChain(_chain_specs(A), np.float32, True)
    return [chain, _f32(A, 5, 4), A.array((5,), np.int64, A.rng.integers(0, 2, 5))], {}


def _update(A, *slots, n=6):
    return [_f32(A, n), _f32(A, n)] + [A.array((n,), np.float32, np.abs(A.rng.standard_normal(n)))
                                         for _ in range(slots[0])]


VALID_CALLS = {
    "activation_forward": lambda A: ([_f32(A, 3, 4), _f32(A, 3, 4), ("relu", {"max_value": 2.0})], {}),
    "activation_backward": lambda A: ([_f32(A, 3, 4), _f32(A, 3, 4), _f32(A, 3, 4), _f32(A, 3, 4), "elu"], {}),
    "activation_backward_uses_output": lambda A: (["sigmoid"], {}),
    "softmax_forward": lambda A: ([_f32(A, 3, 4), _f32(A, 3, 4), True], {}),
    "softmax_backward": lambda A: ([_f32(A, 3, 4), _f32(A, 3, 4), _f32(A, 3, 4), False], {}),
    "gemm": lambda A: ([_f32(A, 3, 4), _f32(A, 5, 4), _f32(A, 3, 5)],
                       dict(alpha=1.0, beta=0.5, trans_b=True, bias=_f32(A, 5), activation="tanh")),
    "conv2d_forward": lambda A: _conv(A, "forward"),
    "conv2d_backward_data": lambda A: _conv(A, "data"),
    "conv2d_backward_weights": lambda A: _conv(A, "weights"),
    "max_pool2d_forward": lambda A: _pool(A, "max"),
    "max_pool2d_backward": lambda A: _pool(A, "max_backward"),
    "avg_pool2d_forward": lambda A: _pool(A, "avg"),
    "avg_pool2d_backward": lambda A: _pool(A, "avg_backward"),
    "pool2d_output_shape_of": lambda A: ([5, 7, (2, 3), (2, 1), "same"], {}),
    "batch_norm_forward_training": lambda A: _bn(A, "training"),
    "batch_norm_forward_inference": lambda A: _bn(A, "inference"),
    "batch_norm_backward": lambda A: _bn(A, "backward"),
    "attention_forward": lambda A: ([_f32(A, 6, 4), _f32(A, 8, 4), _f32(A, 8, 6), A.array((2, 2, 3, 4), np.bool_),
                                     _f32(A, 2, 2, 3, 4), _f32(A, 6, 6), 2, 2], {}),
    "attention_backward": lambda A: ([_f32(A, 6, 4), _f32(A, 8, 4), _f32(A, 8, 6), _f32(A, 2, 2, 3, 4), _f32(A, 6, 6),
                                      _f32(A, 6, 4), _f32(A, 8, 4), _f32(A, 8, 6), 2, 2], dict(alpha=0.5)),
    "quantize_rows": lambda A: ([_f32(A, 3, 5), A.array((3, 6), np.int16), _f32(A, 3)], {}),
    "qgemm_pack_b": lambda A: ([A.array((5, 3), np.int8), A.array((_C.qgemm_packed_size(5, 3),), np.int16)], {}),
    "qgemm_packed_size": lambda A: ([5, 3], {}),
    "qgemm": lambda A: ([A.array((3, 6), np.int16), _f32(A, 3), A.array((_C.qgemm_packed_size(5, 4),), np.int16),
                         _f32(A, 4), _f32(A, 3, 4), 5], dict(bias=_f32(A, 4), activation="relu")),
    "qlinear": lambda A: ([_f32(A, 3, 5), A.array((_C.qgemm_packed_size(5, 4),), np.int16), _f32(A, 4),
                           _f32(A, 3, 4), 5], dict(bias=_f32(A, 4), activation="relu", input_scale=2.0)),
    "sparse_count_nonzeros": lambda A: ([_f32(A, 4, 3)], {}),
    "SparseMatrix": lambda A: ([_f32(A, 4, 3)], {}),
    "SparseMatrix.matmul": lambda A: ([_C.SparseMatrix(_f32(A, 4, 3)), _f32(A, 9, 4), _f32(A, 9, 3)],
                                      dict(bias=_f32(A, 3), activation="tanh")),
    "SparseMatrix.to_dense": lambda A: ([_C.SparseMatrix(_f32(A, 4, 3))], {}),
    "layer_norm_forward": lambda A: ([_f32(A, 5, 3), _f32(A, 3), _f32(A, 3), _f32(A, 5, 3), _f32(A, 5), _f32(A, 5),
                                      1e-3, True], {}),
    "layer_norm_backward": lambda A: ([_f32(A, 5, 3), _f32(A, 5, 3), _f32(A, 5), _f32(A, 5), _f32(A, 3),
                                       _f32(A, 5, 3), _f32(A, 3), _f32(A, 3), False], {}),
    "affine_transform_forward": lambda A: ([_f32(A, 2, 4, 5, 3), A.array((2, 8), np.float64,
                                                                         [[1, 0.1, -1, 0, 1, 2, 0, 0]] * 2),
                                           _f32(A, 2, 4, 5, 3), "reflect", "bilinear", 0.0], {}),
    "affine_transform_backward": lambda A: ([_f32(A, 2, 4, 5, 3), A.array((2, 8), np.float64,
                                                                          [[1, 0, 3, 0.2, 1, -2, 0, 0]] * 2),
                                            _f32(A, 2, 4, 5, 3), "wrap", "nearest", 0.0], {}),
    "softmax_cross_entropy": _loss,
    "sigmoid_binary_cross_entropy": _loss,
    "mean_squared_error": _loss,
    "mean_absolute_error": _loss,
    "huber": lambda A: (_loss(A)[0], dict(scale=1.0, delta=0.5)),
    "sparse_softmax_cross_entropy": lambda A: ([_f32(A, 3, 4), A.array((3,), np.int64, [0, 3, 1]), _f32(A, 3),
                                                _f32(A, 3, 4), _f32(A, 3)], dict(scale=1.0)),
    "sum_rows": lambda A: ([_f32(A, 5, 3), _f32(A, 3)], {}),
    "reduce_sum": lambda A: ([_f32(A, 5, 3)], {}),
    "reduce_weighted_sum": lambda A: ([_f32(A, 5, 3), _f32(A, 5, 3)], {}),
    "random_fill": lambda A: ([_f32(A, 7), "truncated_normal", 3, 11, 0.0, 1.0], {}),
    "random_bernoulli": lambda A: ([A.array((7,), np.uint8), 0.3, 3, 0], {}),
    "random_integers": lambda A: ([A.array((7,), np.int64), -3, 9, 3, 5], {}),
    "dropout_forward": lambda A: ([_f32(A, 7), _f32(A, 7), A.array((7,), np.uint8), 0.25, 1, 2], {}),
    "dropout_backward": lambda A: ([_f32(A, 7), A.array((7,), np.uint8), _f32(A, 7), 0.25], {}),
    "philox4x32_10": lambda A: ([(1, 2, 3, 4), (5, 6)], {}),
    "sgd_update": lambda A: (_update(A, 1) + [0.1, 0.9, True, 0.0], {}),
    "rmsprop_update": lambda A: (_update(A, 3) + [0.1, 0.9, 0.5, 1e-7, True, 0.01], {}),
    "adagrad_update": lambda A: (_update(A, 1) + [0.1, 1e-7, 0.0], {}),
    "adadelta_update": lambda A: (_update(A, 2) + [0.1, 0.95, 1e-7, 0.0], {}),
    "adam_update": lambda A: (_update(A, 3) + [2, 0.1, 0.9, 0.999, 1e-7, True, 0.0], {}),
    "adamax_update": lambda A: (_update(A, 2) + [2, 0.1, 0.9, 0.999, 1e-7, 0.0], {}),
    "nadam_update": lambda A: (_update(A, 2) + [2, 0.9, 0.1, 0.9, 0.999, 1e-7, 0.0], {}),
    "nadam_next_u_product": lambda A: ([0.9, 3, 0.9], {}),
    "adam_update_many": lambda A: ([[_f32(A, 3), _f32(A, 2, 2)], [_f32(A, 3), _f32(A, 2, 2)],
                                    [_f32(A, 3), _f32(A, 2, 2)], [_f32(A, 3), _f32(A, 2, 2)],
                                    None, 1, 0.1, 0.9, 0.999, 1e-7, False, [0.0, 0.1]], {}),
    "sgd_update_many": lambda A: ([[_f32(A, 3), _f32(A, 2, 2)], [_f32(A, 3), _f32(A, 2, 2)],
                                   [_f32(A, 3), _f32(A, 2, 2)], 0.1, 0.9, False, [0.0, 0.0]], {}),
    "clip_by_value": lambda A: ([_f32(A, 5), 0.5], {}),
    "clip_by_norm": lambda A: ([_f32(A, 5), 0.5], {}),
    "clip_by_global_norm": lambda A: ([[_f32(A, 5), _f32(A, 2, 3)], 0.5], {}),
    "gather_rows": lambda A: ([_f32(A, 6, 3), A.array((4,), np.int64, [5, 0, 2, 2]), _f32(A, 4, 3)], {}),
    "rnn_workspace_sizes": lambda A: (["gru", (2, 3, 4), 5], dict(reset_after=False)),
    "rnn_forward": _rnn_forward,
    "rnn_backward": _rnn_backward,
    "set_num_threads": lambda A: ([1], {}),
    "set_isa": lambda A: (["generic"], {}),
    "DenseChain": lambda A: ([_chain_specs(A), np.float32, True], {}),
    "DenseChain.step": _chain_step,
}


# ---------------------------------------------------------------- random values and mutations

def random_array(A):
    rng = A.rng
    shape = tuple(int(s) for s in rng.integers(0, 5, int(rng.integers(0, 5))))
    dtype = DTYPES[int(rng.integers(len(DTYPES)))] if rng.random() < 0.5 else np.float32
    return A.noncontiguous(shape, dtype) if rng.random() < 0.2 and shape else A.array(shape, dtype)


def random_value(A):
    rng = A.rng
    r = int(rng.integers(14))
    if r <= 3:
        return random_array(A)
    if r == 4:
        return None
    if r == 5:
        return HUGE[int(rng.integers(len(HUGE)))]
    if r == 6:
        return int(rng.integers(-3, 8))
    if r == 7:
        return [float("nan"), float("inf"), -1.0, 0.0, 0.5, 1e300][int(rng.integers(6))]
    if r == 8:
        return bool(rng.integers(2))
    if r == 9:
        return ["", "relu", "same", "valid", "lstm", "bogus", "nearest", "uniform", "avx2"][int(rng.integers(9))]
    if r == 10:
        return tuple(random_scalar(A) for _ in range(int(rng.integers(0, 4))))
    if r == 11:
        return [random_array(A) for _ in range(int(rng.integers(0, 3)))]
    if r == 12:
        return {"max_value": random_scalar(A)}
    return object()


def random_scalar(A):
    rng = A.rng
    r = int(rng.integers(4))
    if r == 0:
        return HUGE[int(rng.integers(len(HUGE)))]
    if r == 1:
        return int(rng.integers(-2, 6))
    if r == 2:
        return 1.5
    return None


def mutate_array(a, A, others):
    rng = A.rng
    r = int(rng.integers(10))
    if r == 0:  # another dtype
        return A.array(a.shape, DTYPES[int(rng.integers(len(DTYPES)))])
    if r in (1, 2):  # one dimension off by one, or zero
        if a.ndim == 0:
            return A.array((1,), a.dtype)
        shape = list(a.shape)
        d = int(rng.integers(a.ndim))
        shape[d] = max(0, shape[d] + int(rng.choice([-1, 1, 2]))) if r == 1 else 0
        return A.array(shape, a.dtype)
    if r == 3:  # one rank more or less
        shape = (2,) + a.shape if rng.random() < 0.5 or a.ndim == 0 else a.shape[1:]
        return A.array(shape, a.dtype)
    if r == 4:  # not contiguous
        return A.noncontiguous(a.shape, a.dtype) if a.ndim else a
    if r == 5:  # read-only
        b = A.array(a.shape, a.dtype, a if not a.dtype.hasobject else None)
        b.flags.writeable = False
        return b
    if r == 6:  # sharing memory with another array argument
        arrays = [o for o in others if isinstance(o, np.ndarray) and o is not a and o.flags.c_contiguous
                  and o.dtype == a.dtype and o.size >= a.size and o.flags.writeable]
        if arrays:
            other = arrays[int(rng.integers(len(arrays)))]
            start = int(rng.integers(0, other.size - a.size + 1))
            return other.reshape(-1)[start:start + a.size].reshape(a.shape)
        return a
    if r == 7:
        return a.tolist()
    if r == 8:  # broadcast (stride 0)
        return np.broadcast_to(A.array((1,) * a.ndim, a.dtype), a.shape) if a.ndim else a
    return None


def mutate(value, A, others):
    rng = A.rng
    if isinstance(value, np.ndarray) and rng.random() < 0.85:
        return mutate_array(value, A, others)
    if isinstance(value, tuple) and value and rng.random() < 0.7:
        i = int(rng.integers(len(value)))
        return value[:i] + (mutate(value[i], A, others),) + value[i + 1:]
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = int(rng.integers(len(value)))
        out = list(value)
        r = rng.random()
        if r < 0.15:
            del out[i]
        elif r < 0.3:
            out[i] = None
        else:
            out[i] = mutate(value[i], A, others)
        return out
    if isinstance(value, (int, float)) and not isinstance(value, bool) and rng.random() < 0.6:
        return [0, -1, 1, value + 1, value - 1, -value, 2 ** 40, 2 ** 63, float("nan")][int(rng.integers(9))]
    return random_value(A)


# ---------------------------------------------------------------- discovery

def _swept_names():
    """Every public function of pynn._C, and Class.method for each public method of its classes."""
    names = []
    for name in dir(_C):
        if name.startswith("_") or name in NOT_SWEPT:
            continue
        obj = getattr(_C, name)
        if isinstance(obj, type):
            names.append(name)
            names += [f"{name}.{m}" for m in dir(obj) if not m.startswith("_") and callable(getattr(obj, m))]
        elif callable(obj):
            names.append(name)
    return names


def _callable_and_params(name):
    """(the callable, its parameter names) for a swept name; a method takes its instance first."""
    cls, _, method = name.partition(".")
    fn = getattr(getattr(_C, cls), method) if method else getattr(_C, cls)
    try:
        params = list(inspect.signature(fn.__init__ if isinstance(fn, type) else fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    params = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if isinstance(fn, type) and params and params[0].name == "self":
        params = params[1:]
    return fn, params


def test_every_public_binding_is_swept_or_listed():
    public = {n for n in dir(_C) if not n.startswith("_")}
    assert set(NOT_SWEPT) <= public, f"NOT_SWEPT names what pynn._C lacks: {set(NOT_SWEPT) - public}"
    for name, obj in ((n, getattr(_C, n)) for n in public - set(NOT_SWEPT)):
        assert callable(obj) and not isinstance(obj, types.ModuleType), \
            f"pynn._C.{name} is neither swept nor listed in NOT_SWEPT with a reason"
    assert set(VALID_CALLS) <= set(_swept_names()), set(VALID_CALLS) - set(_swept_names())


def _describe(v):
    if isinstance(v, np.ndarray):
        flags = "" if v.flags.c_contiguous else " non-contiguous"
        flags += "" if v.flags.writeable else " read-only"
        return f"array{v.shape} {v.dtype}{flags}"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_describe(x) for x in v[:4])
        return f"[{inner}{', ...' if len(v) > 4 else ''}]" if isinstance(v, list) else f"({inner})"
    return repr(v)[:60]


def _case(name, fn, params, A):
    """(args, kwargs) of one random call."""
    rng = A.rng
    seed = VALID_CALLS.get(name)
    if seed is None or rng.random() < 0.05:  # random arguments for the signature
        n = len(params) if params else int(rng.integers(0, 6))
        args = [random_value(A) for _ in range(n)]
        return args, {}
    args, kwargs = seed(A)
    args = list(args)
    kwargs = dict(kwargs)
    if name.count(".") == 0:  # fill in the keywords the seed leaves at their defaults, to mutate them too
        for p in params[len(args):]:
            if p.name not in kwargs and p.default is not inspect.Parameter.empty and rng.random() < 0.3:
                kwargs[p.name] = p.default
    keys = [("a", i) for i in range(len(args))] + [("k", k) for k in kwargs]
    if name.count(".") == 1:  # a method: keep its instance
        keys = keys[1:]
    others = args + list(kwargs.values())
    for _ in range(int(rng.choice([0, 1, 1, 1, 2, 2, 3]))):
        if not keys:
            break
        where, key = keys[int(rng.integers(len(keys)))]
        if where == "a":
            args[key] = mutate(args[key], A, others)
        else:
            kwargs[key] = mutate(kwargs[key], A, others)
    return args, kwargs


@pytest.fixture
def restore_global_state():
    threads, isa = _C.get_num_threads(), _C.get_isa()
    yield
    _C.set_num_threads(threads)
    _C.set_isa(isa)


@pytest.mark.parametrize("name", _swept_names())
def test_random_arguments_raise_only_argument_errors(name, restore_global_state):
    fn, params = _callable_and_params(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    calls = ok = 0
    for case in range(CASES):
        A = Arena(rng)
        try:
            args, kwargs = _case(name, fn, params, A)
        except ALLOWED:  # the valid call itself was built from a mutated piece (e.g. a DenseChain)
            continue
        calls += 1
        try:
            fn(*args, **kwargs)
            ok += 1
        except ALLOWED:
            pass
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{name} case {case}: {type(error).__name__}: {error}\n  args: "
                        f"{[_describe(a) for a in args]}\n  kwargs: { {k: _describe(v) for k, v in kwargs.items()} }")
        if not A.check():
            pytest.fail(f"{name} case {case} wrote outside an array\n  args: {[_describe(a) for a in args]}\n"
                        f"  kwargs: { {k: _describe(v) for k, v in kwargs.items()} }")
    assert calls > CASES // 2
    if name in VALID_CALLS:  # the valid call and the mutations that keep it valid reach the kernel
        assert ok > 0, f"{name}: no call succeeded; its VALID_CALLS entry is not a valid call"
