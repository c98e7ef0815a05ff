"""pynn.metrics against NumPy over several weighted batches, and Keras's documented examples."""
import numpy as np
import pytest

from pynn import metrics


def batches(rng, kind, n_batches=3, batch=8, classes=4):
    out = []
    for _ in range(n_batches):
        weights = rng.uniform(0, 2, size=batch)
        if kind == "binary":
            y = (rng.random((batch, 1)) > 0.5).astype(float)
            p = rng.random((batch, 1))
        elif kind == "categorical":
            y = np.eye(classes)[rng.integers(0, classes, batch)]
            p = rng.random((batch, classes))
        elif kind == "sparse":
            y = rng.integers(0, classes, batch)
            p = rng.random((batch, classes))
        else:
            y, p = rng.normal(size=(batch, classes)), rng.normal(size=(batch, classes))
        out.append((y, p, weights))
    return out


def weighted_mean(per_batch):
    total = sum(np.sum(v * w) for v, w in per_batch)
    return total / sum(np.sum(w) for _, w in per_batch)


CASES = [
    (metrics.BinaryAccuracy, "binary", lambda y, p: np.mean(y == (p > 0.5), -1)),
    (metrics.CategoricalAccuracy, "categorical", lambda y, p: (y.argmax(-1) == p.argmax(-1)).astype(float)),
    (metrics.SparseCategoricalAccuracy, "sparse", lambda y, p: (y == p.argmax(-1)).astype(float)),
    (lambda: metrics.TopKCategoricalAccuracy(k=2), "categorical",
     lambda y, p: np.array([yi.argmax() in np.argsort(-pi)[:2] for yi, pi in zip(y, p)], float)),
    (lambda: metrics.SparseTopKCategoricalAccuracy(k=2), "sparse",
     lambda y, p: np.array([yi in np.argsort(-pi)[:2] for yi, pi in zip(y, p)], float)),
    (metrics.MeanSquaredError, "real", lambda y, p: np.mean((y - p) ** 2, -1)),
    (metrics.MeanAbsoluteError, "real", lambda y, p: np.mean(np.abs(y - p), -1)),
]


@pytest.mark.parametrize("factory,kind,per_sample", CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_metrics_over_batches(factory, kind, per_sample, weighted, rng):
    metric = factory()
    data = batches(rng, kind)
    for y, p, w in data:
        metric.update_state(y, p, sample_weight=w if weighted else None)
    expected = weighted_mean([(per_sample(y, p), w if weighted else np.ones_like(w)) for y, p, w in data])
    assert metric.result() == pytest.approx(expected, rel=1e-13)
    metric.reset_state()
    assert metric.result() == 0.0


def test_keras_documented_examples():
    m = metrics.BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(0.5)
    m = metrics.CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    assert m.result() == pytest.approx(0.5)
    m = metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)
    m = metrics.Precision()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == pytest.approx(1.0)
    m = metrics.Precision(top_k=2)
    m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert m.result() == pytest.approx(0.0)
    m = metrics.Recall()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert m.result() == pytest.approx(2 / 3)
    m = metrics.AUC(num_thresholds=3)
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(1.0)


def test_precision_recall_over_batches(rng):
    precision, recall = metrics.Precision(thresholds=[0.3, 0.7]), metrics.Recall(class_id=1)
    tp = fp = 0.0
    tp1 = fn1 = 0.0
    for _ in range(3):
        y = (rng.random((6, 3)) > 0.5).astype(float)
        p = rng.random((6, 3))
        w = rng.uniform(0, 2, 6)
        precision.update_state(y, p, sample_weight=w)
        recall.update_state(y, p, sample_weight=w)
        wb = np.broadcast_to(w[:, None], y.shape)
        predicted = p[None] > np.array([0.3, 0.7])[:, None, None]
        tp = tp + np.sum(predicted * (y == 1) * wb, axis=(1, 2))
        fp = fp + np.sum(predicted * (y == 0) * wb, axis=(1, 2))
        tp1 += np.sum((p[:, 1] > 0.5) * (y[:, 1] == 1) * w)
        fn1 += np.sum((p[:, 1] <= 0.5) * (y[:, 1] == 1) * w)
    np.testing.assert_allclose(precision.result(), tp / (tp + fp), rtol=1e-13)
    assert recall.result() == pytest.approx(tp1 / (tp1 + fn1), rel=1e-13)


def numpy_auc(y, p, w, n, curve):
    thresholds = np.array([-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7])
    predicted = p[None] > thresholds[:, None]
    tp = predicted @ (y * w)
    fp = predicted @ ((1 - y) * w)
    fn, tn = np.sum(y * w) - tp, np.sum((1 - y) * w) - fp
    recall = tp / np.where(tp + fn > 0, tp + fn, 1)
    if curve == "ROC":
        x, h = fp / np.where(fp + tn > 0, fp + tn, 1), recall
    else:
        x, h = recall, np.where(tp + fp > 0, tp / np.where(tp + fp > 0, tp + fp, 1), 0)
    return np.sum((x[:-1] - x[1:]) * (h[:-1] + h[1:]) / 2)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_auc_over_batches(curve, rng):
    metric = metrics.AUC(num_thresholds=50, curve=curve, summation_method="interpolation" if curve == "ROC"
                         else "majoring")
    ys, ps, ws = [], [], []
    for _ in range(3):
        y, p, w = (rng.random(20) > 0.5).astype(float), rng.random(20), rng.uniform(0, 2, 20)
        metric.update_state(y, p, sample_weight=w)
        ys.append(y), ps.append(p), ws.append(w)
    y, p, w = map(np.concatenate, (ys, ps, ws))
    if curve == "ROC":
        assert metric.result() == pytest.approx(numpy_auc(y, p, w, 50, curve), rel=1e-12)
        # and close to the exact (Mann-Whitney) ROC AUC
        pos, neg = p[y == 1], p[y == 0]
        pw, nw = w[y == 1], w[y == 0]
        exact = np.sum((pos[:, None] > neg[None]) * pw[:, None] * nw[None]) / (pw.sum() * nw.sum())
        assert metric.result() == pytest.approx(exact, abs=0.03)
    else:
        assert 0 < metric.result() <= 1
    pr = metrics.AUC(num_thresholds=50, curve="PR")
    pr.update_state(y, p, sample_weight=w)
    assert 0 < pr.result() <= 1


def test_auc_pr_interpolation_perfect_classifier():
    m = metrics.AUC(curve="PR")
    m.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert m.result() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("y,p,expected_fn", [
    (np.array([[1], [0], [1]]), np.array([[0.9], [0.2], [0.3]]), "binary_accuracy"),
    (np.array([2, 0, 1]), np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4]]),
     "sparse_categorical_accuracy"),
    (np.array([[2], [0], [1]]), np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4]]),
     "sparse_categorical_accuracy"),
    (np.eye(3)[[2, 0, 1]], np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4]]), "categorical_accuracy"),
])
def test_accuracy_string_resolves_from_shapes(y, p, expected_fn):
    metric = metrics.get("accuracy")
    metric.update_state(y, p)
    assert metric.name == "accuracy"
    assert metric.resolved.__name__ == expected_fn
    assert metric.result() == pytest.approx(2 / 3)
    assert metrics.get("acc").name == "accuracy"  # compile logs it as "acc" (test_weighted_metrics.py)


@pytest.mark.parametrize("metric", [metrics.SparseCategoricalAccuracy, lambda: metrics.get("accuracy")])
def test_sparse_accuracy_fast_path_equals_general_path(metric, rng):
    """The training loop's case (1-D labels, 2-D predictions, no weights) counts matches directly: the same
    result over batches as labels of shape (n, 1) and as unit sample weights, which take the general path."""
    fast, general, weighted = metric(), metric(), metric()
    for n in (7, 32, 1):
        labels, p = rng.integers(0, 4, size=n), rng.random((n, 4)).astype(np.float32)
        fast.update_state(labels, p)
        general.update_state(labels[:, None], p)
        weighted.update_state(labels, p, sample_weight=np.ones(n))
    assert fast.result() == general.result() == weighted.result()
    assert 0 < fast.result() < 1 and fast.count == 40


def test_get_and_config():
    assert isinstance(metrics.get("auc"), metrics.AUC)
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("top_k_categorical_accuracy"), metrics.TopKCategoricalAccuracy)
    m = metrics.TopKCategoricalAccuracy(k=3)
    clone = metrics.get({"class_name": "TopKCategoricalAccuracy", "config": m.get_config()})
    assert clone.get_config() == m.get_config()
    assert metrics.AUC.from_config(metrics.AUC(curve="PR").get_config()).curve == "PR"
    with pytest.raises(ValueError, match="accuracy"):
        metrics.get("acuracy")


def test_bad_inputs():
    with pytest.raises(ValueError, match="threshold"):
        metrics.BinaryAccuracy(threshold=1.5)
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="XY")
    with pytest.raises(ValueError, match=r"\(3,\)"):
        metrics.AUC().update_state(np.zeros(2), np.zeros(3))


def test_mean():
    m = metrics.Mean()
    m.update_state([1.0, 2.0, 3.0], sample_weight=[1, 1, 0])
    m.update_state([4.0])
    assert m.result() == pytest.approx((1 + 2 + 4) / 3)
