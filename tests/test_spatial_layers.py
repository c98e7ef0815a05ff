"""Image layers that move pixels: ZeroPadding2D, Cropping2D, UpSampling2D (and the Random* augmentation layers):
finite-difference gradients (float64), Keras semantics, PyTorch parity, errors naming the layer."""
import numpy as np
import pytest

from pynn import layers
from gradcheck import check_layer_gradients

SPATIAL = [
    (layers.ZeroPadding2D, {}, (2, 3, 4, 2)),
    (layers.ZeroPadding2D, {"padding": ((1, 0), (2, 3))}, (1, 3, 3, 3)),
    (layers.ZeroPadding2D, {"padding": (2, 0), "data_format": "channels_first"}, (2, 3, 4, 2)),
    (layers.Cropping2D, {"cropping": ((1, 0), (2, 1))}, (2, 4, 6, 3)),
    (layers.Cropping2D, {"cropping": 1, "data_format": "channels_first"}, (2, 2, 4, 5)),
    (layers.UpSampling2D, {}, (2, 3, 4, 2)),
    (layers.UpSampling2D, {"size": (3, 2), "data_format": "channels_first"}, (1, 2, 3, 2)),
    (layers.UpSampling2D, {"size": (2, 3), "interpolation": "bilinear"}, (2, 3, 4, 2)),
    (layers.UpSampling2D, {"interpolation": "bilinear", "data_format": "channels_first"}, (1, 2, 3, 3)),
]


@pytest.mark.parametrize("cls,kwargs,shape", SPATIAL)
def test_spatial_layer_gradients_shapes_and_config(cls, kwargs, shape, rng):
    layer = cls(dtype="float64", **kwargs)
    x = rng.standard_normal(shape)
    check_layer_gradients(layer, x)
    assert (None,) + layer(x).shape[1:] == layer.compute_output_shape((None,) + shape[1:])
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone(x), layer(x))


def test_padding_cropping_and_nearest_values(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = layers.ZeroPadding2D(((1, 2), (3, 0)))(x)
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (1, 2), (3, 0), (0, 0))))
    assert layers.ZeroPadding2D(2).padding == ((2, 2), (2, 2))
    assert layers.ZeroPadding2D((1, 3)).padding == ((1, 1), (3, 3))
    np.testing.assert_array_equal(layers.Cropping2D(((1, 1), (0, 2)))(x), x[:, 1:2, 0:2])
    assert layers.Cropping2D().cropping == ((0, 0), (0, 0))
    y = layers.UpSampling2D((2, 3))(x)
    np.testing.assert_array_equal(y, x.repeat(2, axis=1).repeat(3, axis=2))


def test_errors_name_the_layer():
    x = np.zeros((2, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="'pad'.*rank 4"):
        layers.ZeroPadding2D(name="pad")(x[0])
    with pytest.raises(ValueError, match="'pad2'.*padding must be"):
        layers.ZeroPadding2D(-1, name="pad2")
    with pytest.raises(ValueError, match="'crop'.*leaves nothing"):
        layers.Cropping2D(2, name="crop")(x)
    with pytest.raises(ValueError, match="'up'.*size must be"):
        layers.UpSampling2D(0, name="up")
    with pytest.raises(ValueError, match="'up2'.*interpolation"):
        layers.UpSampling2D(interpolation="bicubic", name="up2")
    layer = layers.UpSampling2D(name="up3")
    layer(x)
    with pytest.raises(ValueError, match="'up3'.*expected input of shape"):
        layer(np.zeros((2, 5, 4, 3), np.float32))


def test_spatial_layers_match_pytorch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    to_nhwc = (0, 2, 3, 1)
    # torch's pad order is (left, right, top, bottom)
    np.testing.assert_array_equal(layers.ZeroPadding2D(((1, 2), (3, 4)))(x),
                                  F.pad(xt, (3, 4, 1, 2)).numpy().transpose(to_nhwc))
    np.testing.assert_array_equal(layers.UpSampling2D((2, 3))(x),
                                  F.interpolate(xt, scale_factor=(2, 3), mode="nearest").numpy().transpose(to_nhwc))
    layer = layers.UpSampling2D((2, 3), interpolation="bilinear")
    y, ctx = layer.forward(x)
    xg = xt.clone().requires_grad_(True)
    yt = F.interpolate(xg, scale_factor=(2, 3), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(y, yt.detach().numpy().transpose(to_nhwc), rtol=1e-5, atol=1e-6)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    yt.backward(torch.from_numpy(dy.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(layer.backward(ctx, dy), xg.grad.numpy().transpose(to_nhwc), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ affine resampling and augmentation
from pynn import kernels  # noqa: E402
import pynn  # noqa: E402


def _fix(index, size, mode):
    if mode in ("nearest", "constant"):
        return np.clip(index, 0, size - 1)
    if mode == "wrap":
        return index % size
    j = index % (2 * size)  # reflect: (d c b a | a b c d | d c b a)
    return np.where(j < size, j, 2 * size - 1 - j)


def reference_affine(x, t, interpolation, fill_mode, fill_value):
    """Keras's map_coordinates (torch / jax backends) in NumPy: integer taps fixed by the fill mode."""
    n, h, w, c = x.shape
    oy, ox = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    y = np.zeros(x.shape)
    for b in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = t[b]
        k = c0 * ox + c1 * oy + 1
        xs, ys = (a0 * ox + a1 * oy + a2) / k, (b0 * ox + b1 * oy + b2) / k
        if interpolation == "nearest":
            taps_y, taps_x = [(np.round(ys).astype(int), 1.0)], [(np.round(xs).astype(int), 1.0)]
        else:
            fy, fx = np.floor(ys), np.floor(xs)
            taps_y = [(fy.astype(int), 1 - (ys - fy)), (fy.astype(int) + 1, ys - fy)]
            taps_x = [(fx.astype(int), 1 - (xs - fx)), (fx.astype(int) + 1, xs - fx)]
        for iy, wy in taps_y:
            for ix, wx in taps_x:
                values = x[b, _fix(iy, h, fill_mode), _fix(ix, w, fill_mode)]
                if fill_mode == "constant":
                    inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
                    values = np.where(inside[..., None], values, fill_value)
                y[b] += np.asarray(wy * wx)[..., None] * values
    return y


def _random_transforms(rng, n, h, w):
    t = np.zeros((n, 8))
    angle = rng.uniform(-np.pi, np.pi, n)
    zoom = rng.uniform(0.6, 1.5, n)
    t[:, 0], t[:, 1], t[:, 3], t[:, 4] = zoom * np.cos(angle), -zoom * np.sin(angle), np.sin(angle), np.cos(angle)
    t[:, 2], t[:, 5] = rng.uniform(-w, w, n), rng.uniform(-h, h, n)
    return t


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("shape", [(3, 7, 6, 5), (1, 1, 9, 17), (2, 5, 1, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_transform_matches_numpy_and_backward_is_its_adjoint(fill_mode, interpolation, shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    t = _random_transforms(rng, shape[0], shape[1], shape[2])
    t[0, 6:] = (0.01, -0.02)  # a projective row too
    y = kernels.affine_transform(x, t, interpolation, fill_mode, 0.5)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, reference_affine(x.astype(np.float64), t, interpolation, fill_mode, 0.5), **tol)
    dy = rng.standard_normal(shape).astype(dtype)
    dx = kernels.affine_transform_backward(dy, t, interpolation, fill_mode, 0.5)
    linear_part = y - kernels.affine_transform(np.zeros_like(x), t, interpolation, fill_mode, 0.5)
    np.testing.assert_allclose(np.sum(dx * x), np.sum(dy * linear_part), rtol=1e-4 if dtype == np.float32 else 1e-11)


def test_affine_transform_is_bit_identical_for_1_and_2_threads(threads, rng):
    x = rng.standard_normal((16, 28, 28, 3)).astype(np.float32)
    t = _random_transforms(rng, 16, 28, 28)
    out = []
    for n in (1, 2):
        threads(n)
        out.append((kernels.affine_transform(x, t, "bilinear", "reflect"),
                    kernels.affine_transform_backward(x, t, "bilinear", "reflect")))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


def test_affine_transform_argument_errors():
    x = np.zeros((2, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match=r"transforms: expected shape \(2, 8\)"):
        kernels.affine_transform(x, np.zeros((3, 8)))
    with pytest.raises(ValueError, match="fill_mode"):
        kernels.affine_transform(x, np.zeros(8), fill_mode="mirror")
    with pytest.raises(ValueError, match="4-D"):
        kernels.affine_transform(x[0], np.zeros(8))


AUGMENTATIONS = [
    (layers.RandomFlip, {}),
    (layers.RandomFlip, {"mode": "vertical", "data_format": "channels_first"}),
    (layers.RandomRotation, {"factor": 0.2}),
    (layers.RandomRotation, {"factor": (-0.1, 0.3), "fill_mode": "constant", "fill_value": 1.0,
                             "interpolation": "nearest"}),
    (layers.RandomZoom, {"height_factor": 0.3}),
    (layers.RandomZoom, {"height_factor": (-0.2, 0.1), "width_factor": 0.4, "fill_mode": "wrap",
                         "data_format": "channels_first"}),
    (layers.RandomTranslation, {"height_factor": 0.2, "width_factor": (-0.3, 0.1), "fill_mode": "nearest"}),
]


@pytest.mark.parametrize("cls,kwargs", AUGMENTATIONS)
def test_augmentation_is_training_only_seeded_and_thread_independent(cls, kwargs, threads, rng):
    x = rng.standard_normal((8, 9, 10, 3)).astype(np.float32)
    layer = cls(seed=5, **kwargs)
    np.testing.assert_array_equal(layer(x), x)                 # inference: identity
    y1 = layer(x, training=True)
    assert y1.shape == x.shape and not np.array_equal(y1, x)
    y2 = layer(x, training=True)                               # the next call draws new numbers
    assert not np.array_equal(y1, y2)
    threads(1)
    first = cls(seed=5, **kwargs)(x, training=True)
    threads(2)
    again = cls(seed=5, **kwargs)(x, training=True)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, y1)
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone(x, training=True), y1)


@pytest.mark.parametrize("cls,kwargs", AUGMENTATIONS)
def test_augmentation_gradients(cls, kwargs, rng):
    layer = cls(seed=3, dtype="float64", **kwargs)
    forward = layer.forward

    def replayed(x, training=False):  # the same random draw for every finite-difference evaluation
        layer._offset = 0
        return forward(x, training)
    layer.forward = replayed
    check_layer_gradients(layer, rng.standard_normal((3, 5, 6, 2)), training=True)


def test_augmentation_values_follow_keras():
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    # a quarter turn counter-clockwise: the top-right corner comes to the top-left
    y = layers.RandomRotation((0.25, 0.25), interpolation="nearest")(x, training=True)[0, :, :, 0]
    np.testing.assert_array_equal(y, np.rot90(x[0, :, :, 0]))
    # translation by +1 row (0.2 * 5) with constant fill: row 0 is the fill value
    y = layers.RandomTranslation((0.2, 0.2), 0.0, fill_mode="constant", fill_value=-1)(x, training=True)[0, :, :, 0]
    np.testing.assert_array_equal(y[0], -1)
    np.testing.assert_array_equal(y[1:], x[0, :4, :, 0])
    # reflect fill: (d c b a | a b c d)
    y = layers.RandomTranslation(0.0, (0.4, 0.4), fill_mode="reflect")(x, training=True)[0, 0, :, 0]
    np.testing.assert_array_equal(y, [1, 0, 0, 1, 2])
    # zoom factor +1 (zoom 2: out) samples every other pixel about the centre, nearest fill at the borders
    y = layers.RandomZoom((1.0, 1.0), fill_mode="nearest", interpolation="nearest")(x, training=True)[0, 2, :, 0]
    np.testing.assert_array_equal(y, [10, 10, 12, 14, 14])
    # horizontal_and_vertical flips both ways together (one draw per image, as Keras 3)
    layer = layers.RandomFlip(seed=0)
    xs = np.repeat(x, 16, axis=0)
    y = layer(xs, training=True)
    flipped = [np.array_equal(img, x[0, ::-1, ::-1]) for img in y]
    kept = [np.array_equal(img, x[0]) for img in y]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_augmentation_errors_name_the_layer():
    with pytest.raises(ValueError, match="'rot'.*factor must be within"):
        layers.RandomRotation(1.5, name="rot")
    with pytest.raises(ValueError, match="'zoom'.*fill_mode"):
        layers.RandomZoom(0.1, fill_mode="mirror", name="zoom")
    with pytest.raises(ValueError, match="'flip'.*mode"):
        layers.RandomFlip("diagonal", name="flip")
    with pytest.raises(ValueError, match="'tr'.*rank 4"):
        layers.RandomTranslation(0.1, 0.1, name="tr")(np.zeros((3, 4, 4), np.float32), training=True)
    with pytest.raises(ValueError, match="'tr2'.*seed"):
        layers.RandomTranslation(0.1, 0.1, seed=-1, name="tr2")


def test_augmentation_first_in_a_model_trains(rng):
    x = rng.random((32, 8, 8, 1)).astype(np.float32)
    y = (x.mean((1, 2, 3)) > 0.5).astype(np.int64)
    model = pynn.Sequential([layers.Input(shape=(8, 8, 1)), layers.RandomFlip("horizontal", seed=1),
                             layers.RandomRotation(0.05, seed=2), layers.RandomZoom(0.1, seed=3),
                             layers.RandomTranslation(0.1, 0.1, seed=4), layers.MaxPooling2D(),
                             layers.Flatten(), layers.Dense(2)])
    model.compile(optimizer="adam", loss=pynn.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_rotation_matches_pytorch_grid_sample(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 7, 9, 2)).astype(np.float64)
    t = _random_transforms(rng, 3, 7, 9)
    n, h, w, _ = x.shape
    oy, ox = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    xs = t[:, 0, None, None] * ox + t[:, 1, None, None] * oy + t[:, 2, None, None]
    ys = t[:, 3, None, None] * ox + t[:, 4, None, None] * oy + t[:, 5, None, None]
    grid = torch.from_numpy(np.stack([2 * xs / (w - 1) - 1, 2 * ys / (h - 1) - 1], axis=-1))
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    # grid_sample's zeros padding is constant fill 0; its border padding is the 'nearest' fill mode
    for fill_mode, padding in (("constant", "zeros"), ("nearest", "border")):
        for interpolation in ("bilinear", "nearest"):
            ref = torch.nn.functional.grid_sample(xt, grid, mode=interpolation, padding_mode=padding,
                                                  align_corners=True).numpy().transpose(0, 2, 3, 1)
            np.testing.assert_allclose(kernels.affine_transform(x, t, interpolation, fill_mode), ref, atol=1e-9)
