"""Every differentiable pynn.ops function's gradient against central differences in float64.

The cases come from one table (CASES); test_every_differentiable_op_has_a_case fails when an op registered as
differentiable (pynn.ops.registry) has none, so a new op cannot skip the check.
"""
import numpy as np
import pytest

import pynn
from pynn import ops

# Input domains: "any" stays away from 0 (the kinks of abs, relu, ...), "pos" is in [0.5, 2], "unit" in
# (-0.8, 0.8), "gt1" in [1.5, 3].
def _draw(rng, shape, domain):
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "unit":
        return rng.uniform(-0.8, 0.8, shape)
    if domain == "gt1":
        return rng.uniform(1.5, 3.0, shape)
    mag = rng.uniform(0.2, 2.0, shape)
    return np.where(rng.random(shape) < 0.5, -mag, mag)


def unary(name, domain="any", shape=(3, 4), **kw):
    return (lambda x: getattr(ops, name)(x, **kw)), [(shape, domain)]


def binary(name, da="any", db="any", sa=(3, 4), sb=(4,)):
    return (lambda a, b: getattr(ops, name)(a, b)), [(sa, da), (sb, db)]


IDX = np.array([[0, 2], [1, 1]])
CASES = {
    # elementwise, one input
    **{n: unary(n) for n in ["abs", "absolute", "negative", "square", "exp", "exp2", "expm1", "sin", "cos",
                             "arctan", "sinh", "cosh", "tanh", "arcsinh", "erf", "relu", "relu6", "sigmoid",
                             "softplus", "softsign", "silu", "swish", "log_sigmoid", "selu", "mish", "celu",
                             "elu", "copy", "ravel", "nan_to_num", "hard_silu", "hard_swish"]},
    "hard_sigmoid": unary("hard_sigmoid", "unit"),
    "leaky_relu": unary("leaky_relu", negative_slope=0.1),
    "gelu": unary("gelu", approximate=False),
    "tan": unary("tan", "unit"),
    **{n: unary(n, "pos") for n in ["sqrt", "rsqrt", "reciprocal", "log", "log1p", "log2", "log10"]},
    **{n: unary(n, "unit") for n in ["arcsin", "arccos", "arctanh"]},
    "arccosh": unary("arccosh", "gt1"),
    "cast": ((lambda x: ops.cast(x, "float64")), [((3, 4), "any")]),
    "saturate_cast": ((lambda x: ops.saturate_cast(x, "float64")), [((3, 4), "any")]),
    "clip": ((lambda x: ops.clip(x, -1.0, 1.0)), [((3, 4), "any")]),
    # two inputs, broadcasting
    **{n: binary(n) for n in ["add", "subtract", "multiply", "maximum", "minimum", "arctan2", "logaddexp"]},
    "divide": binary("divide", db="pos"),
    "true_divide": binary("true_divide", db="pos"),
    "power": binary("power", da="pos"),
    "mod": binary("mod", da="pos", db="gt1"),
    "where": ((lambda a, b: ops.where(np.arange(12).reshape(3, 4) % 3 == 0, a, b)), [((3, 4), "any"), ((4,), "any")]),
    # linear algebra
    "matmul": ((lambda a, b: ops.matmul(a, b)), [((2, 3, 4), "any"), ((4, 5), "any")]),
    "dot": ((lambda a, b: ops.dot(a, b)), [((3, 4), "any"), ((4, 2), "any")]),
    "tensordot": ((lambda a, b: ops.tensordot(a, b, axes=([1], [0]))), [((3, 4), "any"), ((4, 2), "any")]),
    "einsum": ((lambda a, b: ops.einsum("bij,jk->bik", a, b)), [((2, 3, 4), "any"), ((4, 5), "any")]),
    "outer": ((lambda a, b: ops.outer(a, b)), [((3,), "any"), ((4,), "any")]),
    "inner": ((lambda a, b: ops.inner(a, b)), [((3, 4), "any"), ((2, 4), "any")]),
    "vdot": ((lambda a, b: ops.vdot(a, b)), [((3, 4), "any"), ((3, 4), "any")]),
    "trace": unary("trace", shape=(4, 4)),
    "diagonal": unary("diagonal", shape=(3, 4)),
    "diag": unary("diag", shape=(4, 4)),
    "tril": unary("tril", shape=(4, 4)),
    "triu": unary("triu", shape=(4, 4), k=1),
    "norm": unary("norm", axis=-1),
    "normalize": unary("normalize"),
    # reductions
    **{n: unary(n, axis=1) for n in ["sum", "mean", "max", "min", "amax", "amin", "prod", "var", "std",
                                     "logsumexp", "cumsum", "cumprod"]},
    "average": ((lambda x, w: ops.average(x, axis=1, weights=w)), [((3, 4), "any"), ((4,), "pos")]),
    "sort": unary("sort"),
    "top_k": ((lambda x: ops.top_k(x, 2)[0]), [((3, 4), "any")]),
    "moments": ((lambda x: ops.add(*ops.moments(x, axes=[0]))), [((5, 3), "any")]),
    "segment_sum": ((lambda x: ops.segment_sum(x, np.array([0, 0, 2, 1]), 3)), [((4, 3), "any")]),
    "segment_max": ((lambda x: ops.segment_max(x, np.array([0, 0, 2, 1]), 3)), [((4, 3), "any")]),
    # shapes
    "reshape": ((lambda x: ops.reshape(x, (4, 3))), [((3, 4), "any")]),
    "transpose": ((lambda x: ops.transpose(x, (2, 0, 1))), [((2, 3, 4), "any")]),
    "swapaxes": ((lambda x: ops.swapaxes(x, 0, 2)), [((2, 3, 4), "any")]),
    "moveaxis": ((lambda x: ops.moveaxis(x, 0, -1)), [((2, 3, 4), "any")]),
    "expand_dims": ((lambda x: ops.expand_dims(x, 1)), [((3, 4), "any")]),
    "squeeze": ((lambda x: ops.squeeze(x, 1)), [((3, 1, 4), "any")]),
    "broadcast_to": ((lambda x: ops.broadcast_to(x, (2, 3, 4))), [((3, 1), "any")]),
    "concatenate": ((lambda a, b: ops.concatenate([a, b], axis=1)), [((3, 2), "any"), ((3, 4), "any")]),
    "append": ((lambda a, b: ops.append(a, b, axis=0)), [((2, 3), "any"), ((1, 3), "any")]),
    "stack": ((lambda a, b: ops.stack([a, b], axis=1)), [((3, 4), "any"), ((3, 4), "any")]),
    "hstack": ((lambda a, b: ops.hstack([a, b])), [((3, 2), "any"), ((3, 4), "any")]),
    "vstack": ((lambda a, b: ops.vstack([a, b])), [((2, 4), "any"), ((4,), "any")]),
    "split": ((lambda x: ops.multiply(ops.split(x, [1, 3], axis=1)[1], 2.0)), [((3, 4), "any")]),
    "unstack": ((lambda x: ops.unstack(x, axis=1)[2]), [((3, 4), "any")]),
    "tile": ((lambda x: ops.tile(x, (2, 3))), [((2, 3), "any")]),
    "repeat": ((lambda x: ops.repeat(x, 2, axis=1)), [((2, 3), "any")]),
    "pad": ((lambda x: ops.pad(x, ((1, 0), (2, 1)))), [((2, 3), "any")]),
    "flip": ((lambda x: ops.flip(x, axis=1)), [((2, 3), "any")]),
    "roll": ((lambda x: ops.roll(x, 2, axis=1)), [((2, 5), "any")]),
    "getitem": ((lambda x: ops.getitem(x, (slice(None), [0, 2, 2]))), [((3, 4), "any")]),
    "take": ((lambda x: ops.take(x, IDX, axis=1)), [((3, 4), "any")]),
    "take_along_axis": ((lambda x: ops.take_along_axis(x, np.array([[0, 0], [3, 1], [2, 2]]), axis=1)),
                        [((3, 4), "any")]),
    "slice": ((lambda x: ops.slice(x, (1, 1), (2, 2))), [((3, 4), "any")]),
    "slice_update": ((lambda x, u: ops.slice_update(x, (1, 1), u)), [((3, 4), "any"), ((2, 2), "any")]),
    "scatter_update": ((lambda x, u: ops.scatter_update(x, np.array([[0, 1], [2, 3]]), u)),
                       [((3, 4), "any"), ((2,), "any")]),
    "scatter": ((lambda v: ops.scatter(np.array([[0, 1], [2, 3], [0, 1]]), v, (3, 4))), [((3,), "any")]),
    # neural-network ops
    "softmax": unary("softmax", axis=-1),
    "log_softmax": unary("log_softmax", axis=0),
    "binary_crossentropy": ((lambda p: ops.binary_crossentropy(np.array([[0., 1.], [1., 0.]]), p)),
                            [((2, 2), "unit")]),
    "categorical_crossentropy": ((lambda p: ops.categorical_crossentropy(np.eye(3)[[0, 2]], p, from_logits=True)),
                                 [((2, 3), "any")]),
    "sparse_categorical_crossentropy": ((lambda p: ops.sparse_categorical_crossentropy(np.array([1, 2]), p)),
                                        [((2, 3), "pos")]),
    "batch_normalization": ((lambda x, m, v, b, s: ops.batch_normalization(x, m, v, -1, b, s)),
                            [((4, 3), "any"), ((3,), "any"), ((3,), "pos"), ((3,), "any"), ((3,), "any")]),
    "conv": ((lambda x, w: ops.conv(x, w, strides=1, padding="same")), [((2, 5, 5, 3), "any"), ((3, 3, 3, 2), "any")]),
    "depthwise_conv": ((lambda x, w: ops.depthwise_conv(x, w, padding="valid")),
                       [((2, 5, 5, 3), "any"), ((3, 3, 3, 1), "any")]),
    "max_pool": ((lambda x: ops.max_pool(x, 2)), [((2, 4, 4, 3), "any")]),
    "average_pool": ((lambda x: ops.average_pool(x, 2, padding="same")), [((2, 5, 5, 3), "any")]),
    "dot_product_attention": ((lambda q, k, v: ops.dot_product_attention(q, k, v, is_causal=True)),
                              [((2, 4, 2, 3), "any"), ((2, 4, 2, 3), "any"), ((2, 4, 2, 3), "any")]),
}


def test_every_differentiable_op_has_a_case():
    differentiable = {name for name, fn in ops.OPS.items() if fn.gradient_kind == "vjp"}
    assert len(ops.OPS) >= 150
    assert differentiable - set(CASES) == set(), "differentiable ops without a finite-difference case"


def _numeric_gradient(f, arrays, k, g, eps=1e-6):
    x = arrays[k]
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = np.sum(np.asarray(pynn.ops.convert_to_numpy(f(*arrays))) * g)
        x[i] = old - eps
        minus = np.sum(np.asarray(pynn.ops.convert_to_numpy(f(*arrays))) * g)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    f, specs = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    arrays = [_draw(rng, shape, domain) for shape, domain in specs]
    out = np.asarray(ops.convert_to_numpy(f(*arrays)))
    g = rng.normal(size=out.shape)
    with pynn.GradientTape() as tape:
        xs = [tape.watch(a.copy()) for a in arrays]
        y = f(*xs)
    assert isinstance(y, pynn.Tensor)
    np.testing.assert_allclose(y.value, out, rtol=1e-12, atol=1e-12)
    grads = tape.gradient(y, xs, output_gradients=g)
    for k in range(len(arrays)):
        want = _numeric_gradient(f, [a.copy() for a in arrays], k, g)
        assert grads[k] is not None, f"{name}: no gradient for input {k}"
        np.testing.assert_allclose(grads[k], want, rtol=1e-5, atol=1e-7, err_msg=f"{name}, input {k}")


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "sign", "trunc"])
def test_piecewise_constant_ops_pass_no_gradient(name):
    with pynn.GradientTape() as tape:
        x = tape.watch(np.array([0.3, 1.7]))
        y = ops.add(getattr(ops, name)(x), ops.multiply(x, 2.0))
    np.testing.assert_array_equal(tape.gradient(y, x), [2.0, 2.0])
