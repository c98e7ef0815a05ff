"""pynn.utils: to_categorical and normalize against Keras's definitions, set_random_seed."""
import random

import numpy as np
import pytest

from pynn import initializers, random_state
from pynn.utils import normalize, set_random_seed, to_categorical


def test_to_categorical_basic():
    y = to_categorical([0, 2, 1, 2])
    assert y.dtype == np.float32 and y.shape == (4, 3)
    np.testing.assert_array_equal(y, np.eye(3)[[0, 2, 1, 2]])


def test_to_categorical_column_and_nd():
    assert to_categorical(np.array([[1], [0]]), 4).shape == (2, 4)   # (n, 1) -> (n, classes), as Keras
    assert to_categorical(np.zeros((2, 3), int), 5).shape == (2, 3, 5)
    assert to_categorical([1, 0], 2, dtype="float64").dtype == np.float64
    assert to_categorical(np.array([3], np.uint8), 4).tolist() == [[0, 0, 0, 1]]


def test_to_categorical_errors():
    with pytest.raises(ValueError):
        to_categorical([0, 3], 3)
    with pytest.raises(ValueError):
        to_categorical([0.5])


def test_normalize_matches_numpy():
    x = np.random.default_rng(0).normal(size=(5, 7))
    np.testing.assert_allclose(normalize(x), x / np.linalg.norm(x, axis=-1, keepdims=True))
    np.testing.assert_allclose(normalize(x, axis=0, order=1), x / np.abs(x).sum(axis=0, keepdims=True))
    np.testing.assert_allclose(np.linalg.norm(normalize(x), axis=-1), 1.0)


def test_normalize_zero_rows_unchanged():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(normalize(x), [[0, 0], [0.6, 0.8]])


def test_set_random_seed_repeats_everything():
    def draw():
        return random.random(), np.random.rand(), random_state.next_seed(), initializers.get("he_normal")((4, 4))

    set_random_seed(123)
    first = draw()
    set_random_seed(123)
    second = draw()
    assert first[:3] == second[:3]
    np.testing.assert_array_equal(first[3], second[3])
    with pytest.raises(ValueError):
        set_random_seed(-1)
