"""The sparse-weight product (csrc/sparse/spmm.*, _C.SparseMatrix) against NumPy on every instruction set this
CPU runs, bit-identical for any thread count, its argument checks; Dense's use of it for mostly-zero kernels
at inference, and that nothing can change the kernel behind the sparse copy's back."""
import pickle

import numpy as np
import pytest

import pynn
from pynn import _C, layers


def sparse_matrix(rng, k, n, density):
    w = rng.standard_normal((k, n)).astype(np.float32)
    w[rng.random((k, n)) >= density] = 0
    return w


def reference(x, w, bias, activation):
    y = x.astype(np.float64) @ w.astype(np.float64)
    if bias is not None:
        y += bias
    return np.maximum(y, 0) if activation == "relu" else (np.tanh(y) if activation == "tanh" else y)


@pytest.mark.parametrize("isa", ["generic", "avx2", "avx512"], indirect=True)
@pytest.mark.parametrize("m", [1, 3, 7, 8, 16, 17, 40])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 1.0])
def test_matches_numpy(isa, m, density, rng):
    k, n = 37, 70              # n over one 64-column task, k past one group of partial sums
    w = sparse_matrix(rng, k, n, density)
    x = rng.standard_normal((m, k)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    s = _C.SparseMatrix(w)
    assert s.nnz == np.count_nonzero(w) and s.k == k and s.n == n
    assert s.density == pytest.approx(np.count_nonzero(w) / w.size)
    np.testing.assert_array_equal(s.to_dense(), w)
    for b, act in [(bias, "relu"), (None, None), (bias, "tanh")]:
        y = np.full((m, n), np.nan, np.float32)
        s.matmul(x, y, bias=b, activation=act)
        np.testing.assert_allclose(y, reference(x, w, b, act), rtol=1e-5, atol=1e-5, err_msg=f"{isa} {act}")
        r = np.full((m, n), np.nan, np.float32)
        s.matmul(x, r, bias=b, activation=act, reference=True)
        np.testing.assert_allclose(r, y, rtol=1e-5, atol=1e-5)


def test_rows_of_a_strided_output_and_input(rng):
    w = sparse_matrix(rng, 20, 9, 0.3)
    s = _C.SparseMatrix(w)
    big_x = rng.standard_normal((12, 30)).astype(np.float32)
    x = big_x[:, 5:25]                  # rows of 20 with a stride of 30
    out = np.zeros((12, 15), np.float32)
    s.matmul(x, out[:, 3:12])
    np.testing.assert_allclose(out[:, 3:12], reference(x, w, None, None), rtol=1e-5, atol=1e-5)
    assert not out[:, :3].any() and not out[:, 12:].any()     # nothing written beside the view


def test_bit_identical_for_any_thread_count(rng, threads):
    w = sparse_matrix(rng, 300, 200, 0.2)
    s = _C.SparseMatrix(w)
    for m in (3, 100):
        x = rng.standard_normal((m, 300)).astype(np.float32)
        results = []
        for t in (1, 2, 3):
            threads(t)
            y = np.empty((m, 200), np.float32)
            s.matmul(x, y, bias=np.ones(200, np.float32), activation="relu")
            results.append(y)
        for y in results[1:]:
            np.testing.assert_array_equal(y, results[0])


def test_pickles(rng):
    w = sparse_matrix(rng, 10, 6, 0.4)
    s = pickle.loads(pickle.dumps(_C.SparseMatrix(w)))
    np.testing.assert_array_equal(s.to_dense(), w)


def test_argument_errors(rng):
    w = sparse_matrix(rng, 8, 5, 0.5)
    s = _C.SparseMatrix(w)
    x = np.ones((3, 8), np.float32)
    y = np.empty((3, 5), np.float32)
    with pytest.raises(ValueError, match="w: expected dtype float32, got float64"):
        _C.SparseMatrix(w.astype(np.float64))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        _C.SparseMatrix(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"x: expected shape \(3, 8\), got \(3, 7\)"):
        s.matmul(np.ones((3, 7), np.float32), y)
    with pytest.raises(ValueError, match="y: expected shape"):
        s.matmul(x, np.empty((3, 6), np.float32))
    with pytest.raises(ValueError, match="y: expected dtype float32"):
        s.matmul(x, np.empty((3, 5)))
    with pytest.raises(ValueError, match="x: expected dtype float32"):
        s.matmul(x.astype(np.float64), y)
    with pytest.raises(ValueError, match="bias: expected shape"):
        s.matmul(x, y, bias=np.ones(4, np.float32))
    with pytest.raises(ValueError, match="must not share memory"):
        both = np.ones((3, 13), np.float32)
        s.matmul(both[:, :8], both[:, 8:])
    frozen = np.empty((3, 5), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        s.matmul(x, frozen)
    with pytest.raises(ValueError, match="unknown activation|not an elementwise|activation"):
        s.matmul(x, y, activation="no_such_activation")


# ------------------------------------------------------------------ Dense on a sparse kernel
def sparse_dense(rng, density=0.1, units=48, features=64):
    layer = layers.Dense(units, activation="relu")
    layer(np.zeros((1, features), np.float32))
    layer.kernel.assign(sparse_matrix(rng, features, units, density))
    layer.bias.assign(rng.standard_normal(units).astype(np.float32))
    return layer


def test_dense_runs_inference_on_the_sparse_kernel_when_it_pays(rng):
    layer = sparse_dense(rng, density=0.1)
    model = pynn.Sequential([layers.Input((64,)), layer])
    x = rng.standard_normal((32, 64)).astype(np.float32)
    expected = reference(x, layer.kernel.value, layer.bias.value, "relu")
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert layer._sparse[2] is not None and not layer.kernel.value.flags.writeable
    np.testing.assert_allclose(model(x), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-5)
    dense = sparse_dense(rng, density=0.9)
    pynn.Sequential([layers.Input((64,)), dense]).predict(x, verbose=0)
    assert dense._sparse[2] is None and dense.kernel.value.flags.writeable     # too dense: the GEMM


def test_a_sparse_kernel_cannot_go_stale(rng):
    layer = sparse_dense(rng, density=0.1)
    model = pynn.Sequential([layers.Input((64,)), layer])
    x = rng.standard_normal((16, 64)).astype(np.float32)
    model.predict(x, verbose=0)
    with pytest.raises(ValueError, match="read-only"):
        layer.kernel.value[0, 0] = 5.0                    # a write that bypasses the Variable is refused
    new = sparse_matrix(rng, 64, 48, 0.1)
    layer.set_weights([new, layer.bias.numpy()])          # set_weights / assign write and invalidate
    np.testing.assert_allclose(model.predict(x, verbose=0), reference(x, new, layer.bias.value, "relu"),
                               rtol=1e-5, atol=1e-5)
    layer.kernel.assign(np.ones((64, 48), np.float32))     # now dense: back on the GEMM
    np.testing.assert_allclose(model.predict(x, verbose=0), reference(x, layer.kernel.value, layer.bias.value,
                                                                      "relu"), rtol=1e-5, atol=1e-5)
    assert layer._sparse[2] is None


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_after_sparse_inference_updates_what_predict_uses(rng, optimizer):
    layer = sparse_dense(rng, density=0.1)
    model = pynn.Sequential([layers.Input((64,)), layer, layers.Dense(3, activation="softmax")])
    model.compile(optimizer, "sparse_categorical_crossentropy")
    x = rng.standard_normal((64, 64)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model.predict(x, verbose=0)
    assert layer._sparse[2] is not None
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert np.count_nonzero(layer.kernel.value) > 0.5 * layer.kernel.value.size   # training filled it in
    hidden = reference(x, layer.kernel.value, layer.bias.value, "relu")
    last = model.layers[1]
    logits = hidden @ last.kernel.value.astype(np.float64) + last.bias.value
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), probabilities, rtol=1e-4, atol=1e-5)
    # and a hand-written step through optimizer.apply after a sparse predict
    model.predict(x, verbose=0)
    before = layer.kernel.numpy()
    grads = [np.ones_like(w.value) for w in model.trainable_weights]
    model.optimizer.apply(grads, model.trainable_weights)
    assert not np.array_equal(layer.kernel.value, before)
    hidden = reference(x, layer.kernel.value, layer.bias.value, "relu")
    np.testing.assert_allclose(pynn.Sequential([layers.Input((64,)), layer]).predict(x, verbose=0), hidden,
                               rtol=1e-4, atol=1e-4)
