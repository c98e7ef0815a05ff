"""pynn.initializers: statistics against Keras's formulas, fans, orthogonality, seeding, get()."""
import math

import numpy as np
import pytest

from pynn import initializers as I

SHAPES = [(400, 300), (3, 3, 64, 128)]


def test_compute_fans():
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans((784, 128)) == (784, 128)
    assert I.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert I.compute_fans((5, 16, 32)) == (80, 160)


def _expected_variance(name, fan_in, fan_out):
    return {"glorot_uniform": 2 / (fan_in + fan_out), "glorot_normal": 2 / (fan_in + fan_out),
            "he_uniform": 2 / fan_in, "he_normal": 2 / fan_in,
            "lecun_uniform": 1 / fan_in, "lecun_normal": 1 / fan_in}[name]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                                  "lecun_normal"])
def test_variance_scaling_statistics(name, shape):
    w = I.get(name)(shape)
    fan_in, fan_out = I.compute_fans(shape)
    variance = _expected_variance(name, fan_in, fan_out)
    assert w.shape == shape and w.dtype == np.float32
    # >= 120,000 samples: the sample variance is within 2% of the truth (about 5 standard errors)
    assert w.var() == pytest.approx(variance, rel=0.02)
    assert abs(w.mean()) < 5 * math.sqrt(variance / w.size)
    if name.endswith("uniform"):
        limit = math.sqrt(3 * variance)
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    else:  # truncated at 2 stddev of the untruncated normal
        assert np.abs(w).max() <= 2 * math.sqrt(variance) / 0.87962566103423978 * (1 + 1e-6)


def test_variance_scaling_options():
    shape = (500, 400)
    w = I.VarianceScaling(scale=3.0, mode="fan_out", distribution="untruncated_normal", seed=1)(shape)
    assert w.std() == pytest.approx(math.sqrt(3.0 / 400), rel=0.01)
    assert np.abs(w).max() > 3 * math.sqrt(3.0 / 400)  # not truncated
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    with pytest.raises(ValueError):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError):
        I.VarianceScaling(scale=0)


def test_basic_random_initializers():
    w = I.RandomNormal(mean=1.0, stddev=0.5, seed=3)((400, 500), dtype="float64")
    assert w.dtype == np.float64
    assert w.mean() == pytest.approx(1.0, abs=0.005) and w.std() == pytest.approx(0.5, rel=0.01)
    u = I.RandomUniform(-0.2, 0.6, seed=3)((400, 500))
    assert u.min() >= -0.2 and u.max() < 0.6 and u.mean() == pytest.approx(0.2, abs=0.005)
    t = I.TruncatedNormal(stddev=0.05, seed=3)((400, 500))
    assert np.abs(t).max() <= 0.1 and t.std() == pytest.approx(0.05 * 0.87962566, rel=0.01)
    assert I.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert I.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}


@pytest.mark.parametrize("shape", [(64, 64), (100, 30), (30, 100), (3, 3, 8, 16)])
def test_orthogonal(shape):
    w = I.Orthogonal(gain=2.0, seed=5)(shape, dtype="float64")
    assert w.shape == shape
    flat = w.reshape(-1, shape[-1])
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-10)
    with pytest.raises(ValueError):
        I.Orthogonal()((5,))


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (33, 33), (200, 50), (300, 97), (1024, 256)])
def test_orthogonal_factor_is_numpys_sign_corrected_qr(shape):
    """The Gram-Schmidt factor (numpy.linalg.qr would wake OpenBLAS's spinning threads) is the Q of QR with a
    positive diagonal of R, which is numpy's q times sign(diag(r)), across block boundaries and ragged ends."""
    from pynn.initializers.random_initializers import _orthonormal_factor
    a = np.random.default_rng(4).standard_normal(shape)
    q, r = np.linalg.qr(a)
    np.testing.assert_allclose(_orthonormal_factor(a), q * np.sign(np.diag(r)), rtol=0, atol=1e-12)


def test_constants():
    np.testing.assert_array_equal(I.get("zeros")((2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(I.get("ones")((2,)), np.ones(2))
    assert I.Constant(0.25)((3,), dtype="float64").tolist() == [0.25] * 3
    np.testing.assert_array_equal(I.get("identity")((3, 3)), np.eye(3))


def test_seeding_follows_keras3():
    a = I.GlorotUniform(seed=42)
    np.testing.assert_array_equal(a((10, 10)), a((10, 10)))            # a seeded initializer repeats itself
    np.testing.assert_array_equal(a((10, 10)), I.GlorotUniform(seed=42)((10, 10)))
    assert not np.array_equal(a((10, 10)), I.GlorotUniform(seed=43)((10, 10)))
    unseeded = I.GlorotUniform()
    np.testing.assert_array_equal(unseeded((10, 10)), unseeded((10, 10)))  # the seed is fixed when built
    assert not np.array_equal(I.get("glorot_uniform")((10, 10)), I.get("glorot_uniform")((10, 10)))


def test_get():
    for name, cls in [("glorot_uniform", I.GlorotUniform), ("GlorotUniform", I.GlorotUniform),
                      ("he_normal", I.HeNormal), ("lecun_uniform", I.LecunUniform), ("orthogonal", I.Orthogonal),
                      ("zeros", I.Zeros), ("ones", I.Ones), ("constant", I.Constant), ("uniform", I.RandomUniform),
                      ("random_normal", I.RandomNormal), ("truncated_normal", I.TruncatedNormal),
                      ("variance_scaling", I.VarianceScaling)]:
        assert type(I.get(name)) is cls
    init = I.HeUniform(seed=9)
    assert I.get(init) is init and I.get(None) is None
    fn = lambda shape, dtype="float32": np.zeros(shape, dtype)  # noqa: E731
    assert I.get(fn) is fn
    rebuilt = I.get(I.serialize(I.VarianceScaling(2.0, "fan_avg", "uniform", seed=4)))
    assert rebuilt.get_config() == {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform", "seed": 4}
    np.testing.assert_array_equal(rebuilt((5, 5)), I.VarianceScaling(2.0, "fan_avg", "uniform", seed=4)((5, 5)))
    assert I.get({"class_name": "Constant", "config": {"value": 3}})((1,))[0] == 3
    assert I.HeNormal(seed=1).get_config() == {"seed": 1}
    assert I.Orthogonal().get_config() == {"gain": 1.0, "seed": None}
    with pytest.raises(ValueError, match="glorot_uniform"):
        I.get("glorot")
    with pytest.raises(ValueError):
        I.get(42)
    with pytest.raises(ValueError):
        I.RandomNormal(seed=-1)
