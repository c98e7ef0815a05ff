"""Keras 3's other metrics (RootMeanSquaredError, R2Score, F1Score / FBetaScore, the confusion counts, the
operating-point metrics, the cross-entropy / hinge / regression means, the IoUs, Mean, Sum, MeanMetricWrapper):
streaming results over weighted batches against NumPy transcriptions of keras/src/metrics, Keras itself when
importable, string names and the names a compiled model logs."""
import os

import numpy as np
import pytest

import pynn
from pynn import layers, losses, metrics

EPS = 1e-7


def batches(rng, kind, n_batches=3, batch=8, classes=4):
    out = []
    for _ in range(n_batches):
        weights = rng.uniform(0, 2, size=batch)
        if kind == "binary":
            y, p = (rng.random((batch, 1)) > 0.5).astype(float), rng.random((batch, 1))
            p[:2, 0] = [0.0, 1.0]  # the ends of the threshold range
        elif kind == "multilabel":
            y, p = (rng.random((batch, classes)) > 0.5).astype(float), rng.random((batch, classes))
        elif kind == "onehot":
            y, p = np.eye(classes)[rng.integers(0, classes, batch)], rng.dirichlet(np.ones(classes), batch)
        elif kind == "sparse":
            y, p = rng.integers(0, classes, batch), rng.dirichlet(np.ones(classes), batch)
        elif kind == "positive":
            y, p = rng.uniform(0.5, 2, (batch, classes)), rng.uniform(0.5, 2, (batch, classes))
        else:
            y, p = rng.normal(size=(batch, classes)), rng.normal(size=(batch, classes))
        out.append((y, p, weights))
    return out


def stream(metric, data, weighted):
    for y, p, w in data:
        metric.update_state(y, p, sample_weight=w if weighted else None)
    return metric.result()


def weighted_mean(values_and_weights):
    return sum(np.sum(v * w) for v, w in values_and_weights) / sum(np.sum(w) for _, w in values_and_weights)


def all_of(data, weighted):
    y = np.concatenate([d[0] for d in data])
    p = np.concatenate([d[1] for d in data])
    w = np.concatenate([d[2] if weighted else np.ones_like(d[2]) for d in data])
    return y, p, w


def np_bce(y, p):
    c = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(c) + (1 - y) * np.log(1 - c))


def np_hinge_labels(y):
    return 2 * y - 1 if np.all((y == 0) | (y == 1)) else y


def np_normalize(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


MEAN_CASES = [  # (factory, data kind, per-sample NumPy transcription)
    (metrics.BinaryCrossentropy, "binary", lambda y, p: np.mean(np_bce(y, p), -1)),
    (lambda: metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), "multilabel",
     lambda y, p: np.mean(np_bce(y * 0.8 + 0.1, 1 / (1 + np.exp(-p))), -1)),
    (metrics.CategoricalCrossentropy, "onehot", lambda y, p: -np.sum(y * np.log(np.clip(p, EPS, 1 - EPS)), -1)),
    (lambda: metrics.CategoricalCrossentropy(label_smoothing=0.1), "onehot",
     lambda y, p: -np.sum((y * 0.9 + 0.025) * np.log(np.clip(p, EPS, 1 - EPS)), -1)),
    (metrics.SparseCategoricalCrossentropy, "sparse", lambda y, p: -np.log(p[np.arange(len(y)), y])),
    (metrics.KLDivergence, "onehot",
     lambda y, p: np.sum(np.clip(y, EPS, 1) * np.log(np.clip(y, EPS, 1) / np.clip(p, EPS, 1)), -1)),
    (metrics.Poisson, "positive", lambda y, p: np.mean(p - y * np.log(p + EPS), -1)),
    (metrics.Hinge, "multilabel", lambda y, p: np.mean(np.maximum(1 - np_hinge_labels(y) * p, 0), -1)),
    (metrics.SquaredHinge, "real", lambda y, p: np.mean(np.maximum(1 - y * p, 0) ** 2, -1)),
    (metrics.CategoricalHinge, "onehot", lambda y, p: np.maximum(np.max((1 - y) * p, -1) - np.sum(y * p, -1) + 1, 0)),
    (metrics.MeanAbsolutePercentageError, "real",
     lambda y, p: 100 * np.mean(np.abs(y - p) / np.maximum(np.abs(y), EPS), -1)),
    (metrics.MeanSquaredLogarithmicError, "positive", lambda y, p: np.mean((np.log(p + 1) - np.log(y + 1)) ** 2, -1)),
    (metrics.CosineSimilarity, "real", lambda y, p: np.sum(np_normalize(y) * np_normalize(p), -1)),
    (metrics.LogCoshError, "real", lambda y, p: np.mean(np.log(np.cosh(p - y)), -1)),
]


@pytest.mark.parametrize("factory,kind,per_sample", MEAN_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_metrics_over_batches(factory, kind, per_sample, weighted, rng):
    metric = factory()
    data = batches(rng, kind)
    result = stream(metric, data, weighted)
    want = weighted_mean([(per_sample(y, p), w if weighted else np.ones_like(w)) for y, p, w in data])
    assert result == pytest.approx(want, rel=1e-12)
    metric.reset_state()
    assert metric.result() == 0.0


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_crossentropy_ignore_class(weighted, rng):
    """Keras applies the ignore_class mask to the weights only when weights are given; unweighted, the
    ignored samples count as zeros."""
    data = batches(rng, "sparse")
    result = stream(metrics.SparseCategoricalCrossentropy(ignore_class=1), data, weighted)
    parts = []
    for y, p, w in data:
        values = np.where(y == 1, 0.0, -np.log(p[np.arange(len(y)), y]))
        parts.append((values, w * (y != 1) if weighted else np.ones_like(w)))
    assert result == pytest.approx(weighted_mean(parts), rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_root_mean_squared_error(weighted, rng):
    data = batches(rng, "real")
    result = stream(metrics.RootMeanSquaredError(), data, weighted)
    want = np.sqrt(weighted_mean([(np.mean((y - p) ** 2, -1), w if weighted else 1.0 + 0 * w) for y, p, w in data]))
    assert result == pytest.approx(want, rel=1e-12)


def np_r2(y, p, w, aggregation, num_regressors):
    w = np.broadcast_to(w[:, None], y.shape)
    total_sum, count = np.sum(y * w, 0), np.sum(w, 0)
    total = np.sum(y * y * w, 0) - total_sum * total_sum / count
    raw = 1 - np.sum((y - p) ** 2 * w, 0) / total
    score = {"uniform_average": np.mean(raw), "variance_weighted_average": np.sum(total * raw) / np.sum(total),
             None: raw}[aggregation]
    if num_regressors:
        n = y.size  # Keras counts entries
        score = 1 - (1 - score) * (n - 1) / (n - num_regressors - 1)
    return score


@pytest.mark.parametrize("aggregation", ["uniform_average", "variance_weighted_average", None])
@pytest.mark.parametrize("num_regressors", [0, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_r2_score(aggregation, num_regressors, weighted, rng):
    data = batches(rng, "real")
    data = [(y, 0.5 * y + 0.5 * p, w) for y, p, w in data]
    result = stream(metrics.R2Score(aggregation, num_regressors), data, weighted)
    np.testing.assert_allclose(result, np_r2(*all_of(data, weighted), aggregation, num_regressors), rtol=1e-12)


def test_r2_score_checks():
    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="median")
    with pytest.raises(ValueError, match="2D"):
        metrics.R2Score().update_state(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
    metric = metrics.R2Score(num_regressors=10)
    metric.update_state(np.array([[1.0], [2.0], [4.0]]), np.array([[1.5], [2.0], [3.0]]))
    with pytest.warns(UserWarning, match="More independent predictors"):
        assert metric.result() == pytest.approx(1 - 1.25 / (21 - 49 / 3))


def np_fbeta(y, p, w, average, beta, threshold):
    if threshold is None:
        predicted = (p >= p.max(-1, keepdims=True)) & (np.abs(p) > 1e-9)
    else:
        predicted = p > threshold
    predicted = predicted.astype(float)
    axis = None if average == "micro" else 0
    w = w[:, None]
    tp, fp = np.sum(predicted * y * w, axis), np.sum(predicted * (1 - y) * w, axis)
    fn, support = np.sum((1 - predicted) * y * w, axis), np.sum(y * w, axis)
    precision, recall = tp / (tp + fp + EPS), tp / (tp + fn + EPS)
    f = (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall + EPS)
    if average == "weighted":
        return np.sum(f * support / (np.sum(support) + EPS))
    return f if average is None else np.mean(f)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
@pytest.mark.parametrize("beta,threshold", [(1.0, None), (2.0, 0.4), (0.5, None)])
@pytest.mark.parametrize("kind", ["onehot", "multilabel"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fbeta_score(average, beta, threshold, kind, weighted, rng):
    metric = metrics.F1Score(average, threshold) if beta == 1.0 else metrics.FBetaScore(average, beta, threshold)
    data = batches(rng, kind)
    result = stream(metric, data, weighted)
    np.testing.assert_allclose(result, np_fbeta(*all_of(data, weighted), average, beta, threshold), rtol=1e-12)
    assert np.ndim(result) == (1 if average is None else 0)


def test_fbeta_score_checks():
    for kwargs in ({"average": "mean"}, {"beta": 1}, {"beta": -1.0}, {"threshold": 0.0}, {"threshold": 1}):
        with pytest.raises(ValueError):
            metrics.FBetaScore(**kwargs)
    assert metrics.F1Score().get_config() == {"name": "f1_score", "dtype": None, "average": None, "threshold": None}


def np_counts(y, p, w, thresholds):
    """tp, fp, tn, fn per threshold: positive when clip(p, 0, 1) > t (Keras's evenly spaced thresholds clip,
    which changes nothing for predictions in [0, 1])."""
    y = (y != 0).reshape(-1)
    w = np.broadcast_to(w.reshape(len(w), *([1] * (p.ndim - 1))), p.shape).reshape(-1)
    predicted = p.reshape(1, -1) > np.asarray(thresholds, float).reshape(-1, 1)
    return (predicted @ (y * w), predicted @ (~y * w), (~predicted) @ (~y * w), (~predicted) @ (y * w))


COUNTS = [metrics.TruePositives, metrics.FalsePositives, metrics.TrueNegatives, metrics.FalseNegatives]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("thresholds", [None, 0.3, [0.2, 0.7], [0.0, 0.25, 0.5, 0.75, 1.0]])
@pytest.mark.parametrize("weighted", [False, True])
def test_confusion_counts(index, thresholds, weighted, rng):
    data = batches(rng, "multilabel")
    result = stream(COUNTS[index](thresholds=thresholds), data, weighted)
    want = np_counts(*all_of(data, weighted), [0.5] if thresholds is None else np.atleast_1d(thresholds))[index]
    np.testing.assert_allclose(result, want[0] if np.ndim(thresholds) == 0 else want, rtol=1e-12, atol=1e-12)
    assert np.ndim(result) == (0 if np.ndim(thresholds) == 0 else 1)


def np_operating_point(y, p, w, kind, value, n, class_id=None):
    if class_id is not None:
        y, p = y[:, class_id], p[:, class_id]
    thresholds = [0.5] if n == 1 else [i / (n - 1) for i in range(n)]
    tp, fp, tn, fn = np_counts(y, np.clip(p, 0, 1), w, thresholds)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.nan_to_num(tp / (tp + fn))
        precision = np.nan_to_num(tp / (tp + fp))
        specificity = np.nan_to_num(tn / (tn + fp))
    constrained, dependent = {"precision_at_recall": (recall, precision), "recall_at_precision": (precision, recall),
                              "sensitivity_at_specificity": (specificity, recall),
                              "specificity_at_sensitivity": (recall, specificity)}[kind]
    return max(np.max(np.where(constrained >= value, dependent, 0)), 0)


OPERATING = {"precision_at_recall": metrics.PrecisionAtRecall, "recall_at_precision": metrics.RecallAtPrecision,
             "sensitivity_at_specificity": metrics.SensitivityAtSpecificity,
             "specificity_at_sensitivity": metrics.SpecificityAtSensitivity}


@pytest.mark.parametrize("kind", sorted(OPERATING))
@pytest.mark.parametrize("value,num_thresholds", [(0.5, 200), (0.8, 7), (0.3, 1)])
@pytest.mark.parametrize("weighted", [False, True])
def test_operating_points(kind, value, num_thresholds, weighted, rng):
    data = batches(rng, "binary")
    result = stream(OPERATING[kind](value, num_thresholds=num_thresholds), data, weighted)
    want = np_operating_point(*all_of(data, weighted), kind, value, num_thresholds)
    assert result == pytest.approx(want, rel=1e-12)
    class_data = batches(rng, "multilabel")
    result = stream(OPERATING[kind](value, class_id=2), class_data, weighted)
    assert result == pytest.approx(np_operating_point(*all_of(class_data, weighted), kind, value, 200, 2), rel=1e-12)


def test_operating_point_checks():
    with pytest.raises(ValueError, match="recall"):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.RecallAtPrecision(0.5, num_thresholds=0)
    assert metrics.PrecisionAtRecall(0.5).get_config() == {"name": "precision_at_recall", "dtype": None,
                                                           "class_id": None, "num_thresholds": 200, "recall": 0.5}


def np_iou(y, p, w, classes, targets, ignore_class=None):
    y, p, w = y.reshape(-1).astype(int), p.reshape(-1).astype(int), np.broadcast_to(w, y.shape).reshape(-1)
    valid = (y >= 0) & (y < classes) & (p >= 0) & (p < classes)
    if ignore_class is not None:
        valid &= y != ignore_class
    cm = np.zeros((classes, classes))
    for t, q, weight in zip(y[valid], p[valid], w[valid]):
        cm[t, q] += weight
    tp = np.diag(cm)
    denominator = (cm.sum(0) + cm.sum(1) - tp)[targets]
    iou = np.where(denominator > 1e-9, tp[targets] / (denominator + EPS), 0)
    return np.sum(iou) / (np.sum(denominator > 1e-9) + EPS)


@pytest.mark.parametrize("ignore_class", [None, 0])
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_iou_and_iou(ignore_class, weighted, rng):
    data = [(rng.integers(0, 3, (4, 5)), rng.integers(-1, 4, (4, 5)), rng.integers(0, 3, (4, 5)).astype(float))
            for _ in range(3)]
    y, p, w = all_of(data, weighted)
    mean_iou = stream(metrics.MeanIoU(3, ignore_class=ignore_class), data, weighted)
    assert mean_iou == pytest.approx(np_iou(y, p, w, 3, [0, 1, 2], ignore_class), rel=1e-12)
    iou = stream(metrics.IoU(3, [0, 2], ignore_class=ignore_class), data, weighted)
    assert iou == pytest.approx(np_iou(y, p, w, 3, [0, 2], ignore_class), rel=1e-12)


def test_iou_variants(rng):
    y, p = rng.integers(0, 2, 20), rng.random(20)
    w = rng.uniform(0, 3, 20)
    binary = metrics.BinaryIoU(threshold=0.3)
    binary.update_state(y, p, sample_weight=w)
    # the default integer dtype truncates the weights, as Keras's does
    assert binary.result() == pytest.approx(np_iou(y, p >= 0.3, np.trunc(w), 2, [0, 1]), rel=1e-12)
    fractional = metrics.BinaryIoU(threshold=0.3, dtype="float32")
    fractional.update_state(y, p, sample_weight=w)
    assert fractional.result() == pytest.approx(np_iou(y, p >= 0.3, w, 2, [0, 1]), rel=1e-12)
    labels, scores = np.eye(4)[rng.integers(0, 4, 12)], rng.random((12, 4))
    one_hot = metrics.OneHotMeanIoU(4)
    one_hot.update_state(labels, scores)
    assert one_hot.result() == pytest.approx(np_iou(labels.argmax(-1), scores.argmax(-1), np.ones(12), 4,
                                                    [0, 1, 2, 3]), rel=1e-12)
    one_hot_iou = metrics.OneHotIoU(4, [1, 3])
    one_hot_iou.update_state(labels, scores)
    assert one_hot_iou.result() == pytest.approx(np_iou(labels.argmax(-1), scores.argmax(-1), np.ones(12), 4,
                                                        [1, 3]), rel=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        metrics.IoU(3, [3])
    assert metrics.MeanIoU(3).name == "mean_io_u"


def test_mean_sum_and_wrapper(rng):
    values, weights = rng.normal(size=(4, 3)), rng.uniform(0, 2, 4)
    mean, total = metrics.Mean(), metrics.Sum()
    for metric in (mean, total):
        metric.update_state(values, sample_weight=weights)
        metric.update_state(values[:, 0])
    assert mean.result() == pytest.approx((np.sum(values.mean(1) * weights) + values[:, 0].sum()) / (weights.sum() + 4))
    assert total.result() == pytest.approx(np.sum(values.sum(1) * weights) + values[:, 0].sum())
    assert (mean.name, total.name) == ("mean", "sum")
    wrapper = metrics.MeanMetricWrapper(losses.huber, delta=0.5)
    y, p = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    wrapper.update_state(y, p, sample_weight=weights[:3].repeat(2))
    assert wrapper.result() == pytest.approx(np.sum(losses.huber(y, p, delta=0.5) * weights[:3].repeat(2))
                                             / weights[:3].repeat(2).sum())
    assert wrapper.name == "mean_metric_wrapper"
    clone = metrics.get({"class_name": "MeanMetricWrapper", "config": wrapper.get_config()})
    assert clone._fn is losses.huber and clone._fn_kwargs == {"delta": 0.5}


# ---- names --------------------------------------------------------------------------------------------------
KERAS_NAMES = {
    "root_mean_squared_error": metrics.RootMeanSquaredError, "RootMeanSquaredError": metrics.RootMeanSquaredError,
    "r2_score": metrics.R2Score, "f1_score": metrics.F1Score, "f_beta_score": metrics.FBetaScore,
    "FBetaScore": metrics.FBetaScore, "true_positives": metrics.TruePositives,
    "false_positives": metrics.FalsePositives, "true_negatives": metrics.TrueNegatives,
    "false_negatives": metrics.FalseNegatives, "binary_crossentropy": metrics.BinaryCrossentropy,
    "bce": metrics.BinaryCrossentropy, "BCE": metrics.BinaryCrossentropy,
    "categorical_crossentropy": metrics.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": metrics.SparseCategoricalCrossentropy, "kl_divergence": metrics.KLDivergence,
    "poisson": metrics.Poisson, "hinge": metrics.Hinge, "squared_hinge": metrics.SquaredHinge,
    "categorical_hinge": metrics.CategoricalHinge, "mape": metrics.MeanAbsolutePercentageError,
    "MAPE": metrics.MeanAbsolutePercentageError, "msle": metrics.MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": metrics.MeanSquaredLogarithmicError,
    "cosine_similarity": metrics.CosineSimilarity, "log_cosh_error": metrics.LogCoshError, "mean": metrics.Mean,
    "sum": metrics.Sum, "mse": metrics.MeanSquaredError, "MSE": metrics.MeanSquaredError,
}


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_string_names(name):
    metric = metrics.get(name)
    assert type(metric) is KERAS_NAMES[name]
    # the class's default name, as Keras 3's get gives it (compile logs the string: test_weighted_metrics.py)
    assert metric.name == KERAS_NAMES[name]().name


def test_names_with_required_arguments_raise_as_in_keras():
    for name in ("mean_io_u", "precision_at_recall", "io_u"):
        with pytest.raises(TypeError):
            metrics.get(name)
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.get("log_cosh")  # not a metric name in Keras 3 (log_cosh_error is)


@pytest.mark.parametrize("metric", [
    metrics.R2Score("variance_weighted_average", 2), metrics.FBetaScore("macro", 2.0, 0.3),
    metrics.F1Score("micro"), metrics.TruePositives([0.2, 0.4]), metrics.PrecisionAtRecall(0.4, 50, 1),
    metrics.RecallAtPrecision(0.8), metrics.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    metrics.SparseCategoricalCrossentropy(ignore_class=3), metrics.MeanIoU(4, ignore_class=0),
    metrics.IoU(3, [1]), metrics.BinaryIoU((1,), 0.7), metrics.OneHotMeanIoU(3), metrics.Sum(name="s"),
    metrics.RootMeanSquaredError(), metrics.LogCoshError(),
], ids=lambda m: type(m).__name__)
def test_config_round_trip(metric):
    clone = metrics.get({"class_name": type(metric).__name__, "config": metric.get_config()})
    assert type(clone) is type(metric) and clone.get_config() == metric.get_config()


# ---- a model compiled with the names ------------------------------------------------------------------------
def test_compiled_model_logs_keras_names(rng):
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = (rng.random((24, 1)) > 0.5).astype(np.float32)
    names = ["root_mean_squared_error", "RootMeanSquaredError", "r2_score", "mape", "msle", "true_positives",
             "false_positives", "true_negatives", "false_negatives", "bce", "binary_crossentropy", "hinge",
             "squared_hinge", "poisson", "kl_divergence", "cosine_similarity", "log_cosh_error", "mse"]
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_focal_crossentropy",
                  metrics=names + [metrics.PrecisionAtRecall(0.5), metrics.FBetaScore("macro", threshold=0.5)])
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, validation_data=(x, y))
    logged = names + ["precision_at_recall", "fbeta_score"]
    assert set(history.history) == {"loss", *logged, *["val_" + n for n in ["loss", *logged]]}
    predictions = model.predict(x, verbose=0)
    rmse = metrics.RootMeanSquaredError()
    rmse.update_state(y, predictions)
    assert history.history["val_root_mean_squared_error"][0] == pytest.approx(rmse.result(), rel=1e-5)


def test_compiled_model_with_categorical_metric_names(rng):
    x = rng.normal(size=(24, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 24)]
    names = ["categorical_crossentropy", "categorical_hinge", "kl_divergence", "mean_squared_error", "MSE"]
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_focal_crossentropy", metrics=names)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert set(history.history) == {"loss", *names}


def test_compiled_model_with_per_class_f1(rng, capsys):
    """F1Score() averages nothing by default: its result, logged and printed, is one score per class."""
    x = rng.normal(size=(16, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["f1_score"])
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=2)
    assert np.shape(history.history["f1_score"][0]) == (3,)
    assert " - f1_score: [" in capsys.readouterr().out
    assert np.shape(model.evaluate(x, y, verbose=0)[1]) == (3,)


# ---- Keras itself, when installed ---------------------------------------------------------------------------
@pytest.fixture
def keras():
    if "KERAS_BACKEND" not in os.environ:
        pytest.importorskip("torch")
        os.environ["KERAS_BACKEND"] = "torch"
    return pytest.importorskip("keras")


KERAS_CASES = [
    ("RootMeanSquaredError", {}, "real"), ("R2Score", {"class_aggregation": "variance_weighted_average"}, "real"),
    ("F1Score", {}, "onehot"), ("FBetaScore", {"average": "weighted", "beta": 2.0, "threshold": 0.5}, "multilabel"),
    ("TruePositives", {}, "binary"), ("FalsePositives", {"thresholds": [0.2, 0.6]}, "multilabel"),
    ("TrueNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "multilabel"), ("FalseNegatives", {}, "multilabel"),
    ("PrecisionAtRecall", {"recall": 0.6}, "binary"), ("RecallAtPrecision", {"precision": 0.5}, "multilabel"),
    ("SensitivityAtSpecificity", {"specificity": 0.4, "num_thresholds": 9}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.7}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "multilabel"), ("CategoricalCrossentropy", {}, "onehot"),
    ("SparseCategoricalCrossentropy", {"ignore_class": 1}, "sparse"), ("KLDivergence", {}, "onehot"),
    ("Poisson", {}, "positive"), ("SquaredHinge", {}, "multilabel"), ("CategoricalHinge", {}, "onehot"),
    ("MeanAbsolutePercentageError", {}, "real"), ("LogCoshError", {}, "real"), ("CosineSimilarity", {}, "real"),
    ("OneHotMeanIoU", {"num_classes": 4}, "onehot"), ("BinaryIoU", {"threshold": 0.3}, "binary"),
]


@pytest.mark.filterwarnings("ignore:You are passing weight")  # Keras's IoU on float weights (rounded here)
@pytest.mark.parametrize("name,kwargs,kind", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
@pytest.mark.parametrize("weighted", [False, True])
def test_against_keras(name, kwargs, kind, weighted, keras, rng):
    """Keras computes in float32: the results agree to float32 precision."""
    theirs, ours = getattr(keras.metrics, name)(**kwargs), getattr(metrics, name)(**kwargs)
    for y, p, w in batches(rng, kind):
        y, p = y.astype(np.float32) if kind != "sparse" else y, p.astype(np.float32)
        w = (np.round(w) if "IoU" in name else w).astype(np.float32) if weighted else None
        theirs.update_state(y, p, sample_weight=w)
        ours.update_state(y, p, sample_weight=w)
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=2e-5, atol=1e-5)
