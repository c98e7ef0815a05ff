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
