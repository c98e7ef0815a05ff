"""BatchNormalization: the kernel against NumPy on every ISA path and thread count, the layer against finite
differences (float64) and PyTorch, Keras semantics (moving averages, biased variance, trainable=False)."""
import numpy as np
import pytest

import pynn
from pynn import layers, kernels
from gradcheck import check_layer_gradients


def reference_batch_norm(x, axis, gamma, beta, eps):
    axes = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
    shape = [1] * x.ndim
    shape[axis] = -1
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axes), x64.var(axes)
    g = np.ones_like(mean) if gamma is None else gamma.astype(np.float64)
    b = np.zeros_like(mean) if beta is None else beta.astype(np.float64)
    xhat = (x64 - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return xhat * g.reshape(shape) + b.reshape(shape), mean, var, xhat, axes, shape


def reference_backward(x, dy, axis, gamma, eps):
    _, mean, var, xhat, axes, shape = reference_batch_norm(x, axis, gamma, None, eps)
    g = np.ones_like(mean) if gamma is None else gamma.astype(np.float64)
    dy64 = dy.astype(np.float64)
    m = x.size // x.shape[axis]
    dbeta, dgamma = dy64.sum(axes), (dy64 * xhat).sum(axes)
    dx = (g / np.sqrt(var + eps)).reshape(shape) * (dy64 - dbeta.reshape(shape) / m - xhat * dgamma.reshape(shape) / m)
    return dx, dgamma, dbeta


CASES = [  # shape, axis
    ((64, 6, 6, 32), -1),
    ((1, 7, 5, 17), -1),       # batch 1, odd sizes, channels not a multiple of 16
    ((300, 3), -1),            # several chunks of rows
    ((2, 5, 7, 9), 1),         # features first (inner > 1)
    ((3, 4, 33), 1),
    ((5, 600), 0),             # outer = 1
]


@pytest.mark.parametrize("shape,axis", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_match_numpy(shape, axis, dtype, affine, isa, rng):
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    c = shape[axis]
    gamma = rng.standard_normal(c).astype(dtype) if affine else None
    beta = rng.standard_normal(c).astype(dtype) if affine else None
    moving_mean, moving_var = rng.standard_normal(c).astype(dtype), rng.random(c).astype(dtype) + 0.5
    mm0, mv0 = moving_mean.copy(), moving_var.copy()
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)

    y, mean, inv_std = kernels.batch_norm_training(x, axis, gamma, beta, moving_mean, moving_var, 1e-3, 0.9)
    y_ref, mean_ref, var_ref, *_ = reference_batch_norm(x, axis, gamma, beta, 1e-3)
    np.testing.assert_allclose(y, y_ref, **tol)
    np.testing.assert_allclose(mean, mean_ref, **tol)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(var_ref + 1e-3), **tol)
    np.testing.assert_allclose(moving_mean, mm0 * 0.9 + mean_ref * 0.1, **tol)
    np.testing.assert_allclose(moving_var, mv0 * 0.9 + var_ref * 0.1, **tol)  # the biased variance, as Keras

    dy = rng.standard_normal(shape).astype(dtype)
    dx, dgamma, dbeta = kernels.batch_norm_backward(x, dy, mean, inv_std, axis, gamma)
    dx_ref, dgamma_ref, dbeta_ref = reference_backward(x, dy, axis, gamma, 1e-3)
    scale = np.abs(dx_ref).max()
    np.testing.assert_allclose(dx, dx_ref, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10 * scale)
    np.testing.assert_allclose(dgamma, dgamma_ref, rtol=tol["rtol"], atol=tol["atol"] * np.sqrt(x.size))
    np.testing.assert_allclose(dbeta, dbeta_ref, rtol=tol["rtol"], atol=tol["atol"] * np.sqrt(x.size))

    # the C++ reference (two passes in double) agrees to rounding
    mm_r, mv_r = mm0.copy(), mv0.copy()
    y_r, mean_r, inv_r = kernels.batch_norm_training(x, axis, gamma, beta, mm_r, mv_r, 1e-3, 0.9, reference=True)
    for fast, ref in ((y, y_r), (mean, mean_r), (inv_std, inv_r), (moving_mean, mm_r), (moving_var, mv_r)):
        np.testing.assert_allclose(fast, ref, **tol)
    dx_r, dgamma_r, dbeta_r = kernels.batch_norm_backward(x, dy, mean, inv_std, axis, gamma, reference=True)
    np.testing.assert_allclose(dx, dx_r, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10 * scale)
    np.testing.assert_allclose(dgamma, dgamma_r, rtol=tol["rtol"], atol=tol["atol"] * np.sqrt(x.size))
    np.testing.assert_allclose(dbeta, dbeta_r, rtol=tol["rtol"], atol=tol["atol"] * np.sqrt(x.size))

    # inference: the moving statistics; its gradient is the affine map's
    y = kernels.batch_norm_inference(x, moving_mean, moving_var, axis, gamma, beta, 1e-3)
    bshape = [1] * x.ndim
    bshape[axis] = -1
    g = (np.ones(c) if gamma is None else gamma.astype(np.float64)).reshape(bshape)
    b = (np.zeros(c) if beta is None else beta.astype(np.float64)).reshape(bshape)
    inv = 1 / np.sqrt(moving_var.astype(np.float64) + 1e-3)
    y_ref = (x - moving_mean.reshape(bshape)) * inv.reshape(bshape) * g + b
    np.testing.assert_allclose(y, y_ref, **tol)
    dx, _, _ = kernels.batch_norm_backward(x, dy, moving_mean, inv.astype(dtype), axis, gamma, batch_statistics=False)
    np.testing.assert_allclose(dx, dy * inv.reshape(bshape) * g, **tol)


def test_variance_of_inputs_with_a_large_mean_is_accurate(rng):
    x = (1000.0 + rng.standard_normal((4096, 8)) * 1e-2).astype(np.float32)
    _, mean, inv_std = kernels.batch_norm_training(x, epsilon=1e-6)
    var = x.astype(np.float64).var(0)
    np.testing.assert_allclose(1 / inv_std.astype(np.float64) ** 2 - 1e-6, var, rtol=1e-4)


@pytest.mark.parametrize("shape,axis", [((64, 26, 26, 32), -1), ((16, 24, 40, 40), 1)])
def test_batch_norm_is_bit_identical_for_1_and_2_threads(shape, axis, threads, rng):
    x = rng.standard_normal(shape).astype(np.float32) + 0.5
    dy = rng.standard_normal(shape).astype(np.float32)
    c = shape[axis]
    gamma, beta = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    results = []
    for n in (1, 2):
        threads(n)
        mm, mv = np.zeros(c, np.float32), np.ones(c, np.float32)
        y, mean, inv_std = kernels.batch_norm_training(x, axis, gamma, beta, mm, mv)
        dx, dgamma, dbeta = kernels.batch_norm_backward(x, dy, mean, inv_std, axis, gamma)
        results.append((y, mean, inv_std, mm, mv, dx, dgamma, dbeta))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_kernel_argument_errors():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="axis"):
        kernels.batch_norm_training(x, axis=2)
    with pytest.raises(ValueError, match=r"gamma: expected shape \(3,\)"):
        kernels.batch_norm_training(x, gamma=np.ones(4, np.float32))
    with pytest.raises(ValueError, match="beta: expected dtype float32"):
        kernels.batch_norm_training(x, beta=np.ones(3))
    with pytest.raises(ValueError, match="moving_mean: expected a writeable"):
        mm = np.zeros(3, np.float32)
        mm.flags.writeable = False
        kernels.batch_norm_training(x, moving_mean=mm)
    with pytest.raises(ValueError, match="non-empty"):
        kernels.batch_norm_training(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="epsilon"):
        kernels.batch_norm_training(x, epsilon=0.0)
    mean = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="dgamma: must not share memory with mean"):
        kernels.batch_norm_backward(x, x, mean, mean.copy(), dgamma=mean)


# ------------------------------------------------------------------ layer
@pytest.mark.parametrize("kwargs,shape", [
    ({}, (6, 3, 4, 5)),
    ({"axis": 1}, (4, 3, 5)),
    ({"center": False}, (7, 4)),
    ({"scale": False, "axis": -2}, (3, 4, 2)),
])
@pytest.mark.parametrize("training", [True, False])
def test_batch_normalization_gradients(kwargs, shape, training, rng):
    layer = layers.BatchNormalization(dtype="float64", gamma_initializer="random_normal",
                                      beta_initializer="random_normal", **kwargs)
    layer.build_for(shape)
    layer.moving_mean.assign(rng.standard_normal(layer.moving_mean.shape))
    layer.moving_variance.assign(rng.random(layer.moving_variance.shape) + 0.5)
    check_layer_gradients(layer, rng.standard_normal(shape) * 2 + 1, training=training, rtol=1e-5, atol=1e-7)


def test_weights_order_defaults_and_moving_averages(rng):
    layer = layers.BatchNormalization()
    x = (rng.standard_normal((32, 5, 5, 3)) * 3 + 2).astype(np.float32)
    layer.build_for(x.shape)
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert (layer.momentum, layer.epsilon, layer.axis) == (0.99, 1e-3, -1)
    np.testing.assert_allclose(layer(x), x / np.sqrt(1.001), rtol=1e-6)  # inference, fresh statistics
    y, _ = layer.forward(x, training=True)
    mean, var = x.astype(np.float64).mean((0, 1, 2)), x.astype(np.float64).var((0, 1, 2))
    np.testing.assert_allclose(layer.moving_mean.value, 0.01 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.value, 0.99 + 0.01 * var, rtol=1e-5)
    np.testing.assert_allclose(y.mean((0, 1, 2)), 0, atol=1e-5)
    # a frozen layer runs in inference mode and leaves its statistics alone (Keras 3)
    layer.trainable = False
    before = [w.copy() for w in layer.get_weights()]
    y, ctx = layer.forward(x, training=True)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(y, kernels.batch_norm_inference(x, before[2], before[3], -1, before[0], before[1]))
    for w in layer.weights:
        w.grad[...] = 0
    layer.backward(ctx, np.ones_like(y))
    assert not any(w.grad.any() for w in layer.weights)


def test_config_round_trip_and_errors(rng):
    layer = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                                      gamma_regularizer="l2", name="bn")
    clone = layers.BatchNormalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone.forward(x, True)[0], layer.forward(x, True)[0])
    with pytest.raises(ValueError, match="'bn'.*expected input of shape"):
        layer(np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ValueError, match="'bn2'.*axis 3 is not a feature axis"):
        layers.BatchNormalization(axis=3, name="bn2")(np.zeros((4, 3, 2), np.float32))
    with pytest.raises(ValueError, match="'bn3'.*momentum"):
        layers.BatchNormalization(momentum=1.5, name="bn3")
    with pytest.raises(ValueError, match="unknown keyword"):
        layers.BatchNormalization(renorm=True)


def test_batch_normalization_in_a_model_trains_and_predicts(rng):
    x = rng.standard_normal((64, 6, 6, 2)).astype(np.float32) * 4 + 1
    y = (x.mean((1, 2, 3)) > 1).astype(np.int64)
    model = pynn.Sequential([layers.Input(shape=(6, 6, 2)), layers.BatchNormalization(),
                             layers.MaxPooling2D(), layers.GlobalAveragePooling2D(), layers.Dense(2)])
    model.compile(optimizer="adam", loss=pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    bn = model.layers[0]
    assert bn.moving_mean.value.any() and np.all(bn.moving_variance.value != 1)
    assert model.predict(x, verbose=0).shape == (64, 2)


# ------------------------------------------------------------------ PyTorch parity
def test_batch_normalization_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((8, 5, 6, 4)) * 2 + 1).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gamma, beta = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    layer = layers.BatchNormalization()
    layer.build_for(x.shape)
    layer.set_weights([gamma, beta, np.zeros(4, np.float32), np.ones(4, np.float32)])
    # Keras's momentum 0.99 is torch's 0.01 (the weight of the new batch); same epsilon.
    bn = torch.nn.BatchNorm2d(4, eps=1e-3, momentum=0.01)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
    yt = bn.train()(xt)
    y, ctx = layer.forward(x, training=True)
    nchw = (0, 2, 3, 1)
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(nchw), rtol=1e-5, atol=1e-5)
    yt.backward(torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()))
    for w in layer.weights:
        w.grad[...] = 0
    dx = layer.backward(ctx, dy)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(nchw), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, bn.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.beta.grad, bn.bias.grad.numpy(), rtol=1e-5, atol=1e-5)
    # moving mean alike; torch's running_var moves towards the unbiased variance (times M / (M - 1)), Keras's
    # towards the biased one: convert torch's increment back.
    m = x.size // 4
    np.testing.assert_allclose(layer.moving_mean.value, bn.running_mean.numpy(), rtol=1e-5, atol=1e-7)
    torch_increment = bn.running_var.numpy() - 0.99
    np.testing.assert_allclose(layer.moving_variance.value - 0.99, torch_increment * (m - 1) / m, rtol=1e-4)
    # inference with the same running statistics
    with torch.no_grad():
        bn.running_var.copy_(torch.from_numpy(layer.moving_variance.value))
    y_eval = bn.eval()(xt).detach().numpy().transpose(nchw)
    np.testing.assert_allclose(layer(x), y_eval, rtol=1e-5, atol=1e-5)


def test_features_first_batch_normalization_matches_pytorch_on_nchw(rng):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((6, 3, 5, 4)) * 3 - 2).astype(np.float32)  # NCHW: axis=1 is torch's layout
    dy = rng.standard_normal(x.shape).astype(np.float32)
    layer = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5)
    layer.build_for(x.shape)
    y, ctx = layer.forward(x, training=True)
    bn = torch.nn.BatchNorm2d(3, eps=1e-5, momentum=0.1)
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = bn.train()(xt)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(layer.backward(ctx, dy), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.gamma.grad, bn.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.value, bn.running_mean.numpy(), rtol=1e-5, atol=1e-7)
