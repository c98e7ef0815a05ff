"""pynn.regularizers and pynn.constraints: values and gradients against NumPy transcriptions of Keras's formulas."""
import numpy as np
import pytest

from pynn import constraints, regularizers

EPS = 1e-7  # Keras's backend epsilon


@pytest.fixture
def w():
    return np.random.default_rng(1).normal(size=(6, 4))


@pytest.mark.parametrize("reg, expected", [
    (regularizers.L1(0.3), lambda w: 0.3 * np.abs(w).sum()),
    (regularizers.L2(0.2), lambda w: 0.2 * np.square(w).sum()),
    (regularizers.L1L2(0.1, 0.4), lambda w: 0.1 * np.abs(w).sum() + 0.4 * np.square(w).sum()),
])
def test_penalty_and_gradient(reg, expected, w):
    assert reg(w) == pytest.approx(expected(w), rel=1e-12)
    grad = reg.gradient(w)
    assert grad.dtype == np.float64 and grad.shape == w.shape
    # central finite differences of the penalty, in float64
    h = 1e-6
    numeric = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        plus, minus = w.copy(), w.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = (reg(plus) - reg(minus)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    assert reg.gradient(w.astype(np.float32)).dtype == np.float32


def test_defaults_and_config():
    assert regularizers.L1().get_config() == {"l1": 0.01}
    assert regularizers.L2().get_config() == {"l2": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.L2()(np.ones(3)) == pytest.approx(0.03)  # no 1/2
    np.testing.assert_allclose(regularizers.L1(0.5).gradient(np.array([-2.0, 0.0, 3.0])), [-0.5, 0.0, 0.5])


def test_regularizer_get():
    assert isinstance(regularizers.get("l1"), regularizers.L1)
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)
    assert isinstance(regularizers.get("L1L2"), regularizers.L1L2)
    reg = regularizers.get({"class_name": "L2", "config": {"l2": 0.5}})
    assert reg.l2 == 0.5
    round_trip = regularizers.get(regularizers.serialize(regularizers.L1L2(0.1, 0.2)))
    assert round_trip.get_config() == {"l1": 0.1, "l2": 0.2}
    assert regularizers.get(reg) is reg and regularizers.get(None) is None
    with pytest.raises(ValueError, match="l1_l2"):
        regularizers.get("l3")
    with pytest.raises(ValueError):
        regularizers.L1(-1)


def _keras_norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1, (0, 1, 2)])
def test_constraints_match_keras(axis):
    w = np.random.default_rng(2).normal(size=(3, 3, 4, 5)) * 1.5
    norms = _keras_norms(w, axis)
    np.testing.assert_allclose(constraints.MaxNorm(2, axis)(w), w * (np.clip(norms, 0, 2) / (EPS + norms)))
    np.testing.assert_allclose(constraints.UnitNorm(axis)(w), w / (EPS + norms))
    desired = 0.7 * np.clip(norms, 0.5, 1.5) + 0.3 * norms
    np.testing.assert_allclose(constraints.MinMaxNorm(0.5, 1.5, 0.7, axis)(w), w * (desired / (EPS + norms)))
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.where(w >= 0, w, 0))


def test_constraint_effects():
    w = np.array([[3.0, 0.1], [4.0, 0.1]], np.float32)  # column norms 5 and 0.14
    out = constraints.MaxNorm(2)(w)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [2.0, np.sqrt(0.02)], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm()(w), axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(constraints.MinMaxNorm(1, 2)(w), axis=0), [2.0, 1.0], rtol=1e-5)


def test_constraint_get():
    for name, cls in [("max_norm", constraints.MaxNorm), ("non_neg", constraints.NonNeg),
                      ("unit_norm", constraints.UnitNorm), ("min_max_norm", constraints.MinMaxNorm),
                      ("MaxNorm", constraints.MaxNorm)]:
        assert type(constraints.get(name)) is cls
    c = constraints.get({"class_name": "MinMaxNorm", "config": {"min_value": 0.5, "axis": [0, 1]}})
    assert c.get_config() == {"min_value": 0.5, "max_value": 1.0, "rate": 1.0, "axis": [0, 1]}
    assert constraints.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    with pytest.raises(ValueError, match="max_norm"):
        constraints.get("maxnorm")


# ---- Keras 3's lowercase aliases, OrthogonalRegularizer, LeakyReLU(alpha=) ----------------------------------------
def test_lowercase_aliases_are_the_classes():
    assert (regularizers.l1, regularizers.l2, regularizers.l1_l2, regularizers.orthogonal_regularizer) == (
        regularizers.L1, regularizers.L2, regularizers.L1L2, regularizers.OrthogonalRegularizer)
    assert (constraints.max_norm, constraints.non_neg, constraints.unit_norm, constraints.min_max_norm) == (
        constraints.MaxNorm, constraints.NonNeg, constraints.UnitNorm, constraints.MinMaxNorm)
    assert regularizers.l2(0.1)(np.ones(2)) == pytest.approx(0.2)
    assert regularizers.l1(None).l1 == 0.01 and regularizers.l1_l2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}
    assert constraints.max_norm(3).get_config() == {"max_value": 3, "axis": 0}
    for name in ("orthogonal_regularizer", "OrthogonalRegularizer"):
        assert type(regularizers.get(name)) is regularizers.OrthogonalRegularizer


def _keras_orthogonal(w, factor, mode):
    def normalize(x, axis):
        return x / np.maximum(np.sqrt(np.sum(x * x, axis=axis, keepdims=True)), EPS)
    if mode == "rows":
        u = normalize(w, 1)
        product, size = u @ u.T, w.shape[0]
    else:
        u = normalize(w, 0)
        product, size = u.T @ u, w.shape[1]
    off_diagonal = product * (1.0 - np.eye(size))
    return factor * 0.5 * np.sum(np.abs(off_diagonal)) / (size * (size - 1.0) / 2.0)


@pytest.mark.parametrize("mode", ["rows", "columns"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 5)])
def test_orthogonal_regularizer(mode, shape):
    w = np.random.default_rng(3).normal(size=shape)
    reg = regularizers.OrthogonalRegularizer(0.3, mode)
    assert reg(w) == pytest.approx(_keras_orthogonal(w, 0.3, mode), rel=1e-12)
    h = 1e-6
    numeric = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        plus, minus = w.copy(), w.copy()
        plus[index] += h
        minus[index] -= h
        numeric[index] = (reg(plus) - reg(minus)) / (2 * h)
    np.testing.assert_allclose(reg.gradient(w), numeric, rtol=1e-6, atol=1e-8)
    assert reg.gradient(w.astype(np.float32)).dtype == np.float32
    assert regularizers.get(regularizers.serialize(reg)).get_config() == {"factor": 0.3, "mode": mode}
    with pytest.raises(ValueError, match="rank 2"):
        reg(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")


def test_orthogonal_regularizer_trains_a_dense_kernel():
    import pynn
    from pynn import layers
    x = np.random.default_rng(4).normal(size=(16, 4)).astype(np.float32)
    model = pynn.Sequential([layers.Input(shape=(4,)),
                             layers.Dense(3, kernel_regularizer="orthogonal_regularizer")])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, x[:, :3], epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_leaky_relu_accepts_legacy_alpha():
    from pynn import layers
    with pytest.warns(UserWarning, match="alpha"):
        layer = layers.LeakyReLU(alpha=0.1)
    assert layer.negative_slope == 0.1 and layer.get_config()["negative_slope"] == 0.1
    assert "alpha" not in layer.get_config()
    assert layers.LeakyReLU().negative_slope == 0.3
    x = np.array([[-2.0, 0.0, 3.0]], np.float32)
    np.testing.assert_allclose(layer(x), [[-0.2, 0.0, 3.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="negative_slope"), pytest.warns(UserWarning, match="alpha"):
        layers.LeakyReLU(alpha=-1.0)
