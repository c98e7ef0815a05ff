"""pynn.wrappers.KerasClassifier / KerasRegressor in scikit-learn: search, cross-validation, pipelines, pickling,
threads in joblib workers, and scikit-learn's own estimator checks.

Data: scikit-learn's bundled breast-cancer set (569 x 30, two classes), digits (1797 x 64, ten classes) and
diabetes (442 x 10, regression); no download.
"""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import (GridSearchCV, RandomizedSearchCV, cross_val_score,  # noqa: E402
                                     cross_validate)
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import pynn  # noqa: E402
from pynn.wrappers import KerasClassifier, KerasRegressor  # noqa: E402

OPTIMIZERS = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam"]


# ---------------------------------------------------------------- build functions (module level: they pickle)
def create_model(optimizer="adam", units=16, learning_rate=None):
    """The tutorials' binary classifier: one hidden layer and a sigmoid output."""
    model = pynn.Sequential([pynn.layers.Dense(units, activation="relu"),
                             pynn.layers.Dense(1, activation="sigmoid")])
    if learning_rate is not None:
        optimizer = pynn.optimizers.get(optimizer).__class__(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def create_softmax_model(meta, units=32, loss="sparse_categorical_crossentropy"):
    model = pynn.Sequential([pynn.layers.Dense(units, activation="relu"),
                             pynn.layers.Dense(meta["n_classes_"], activation="softmax")])
    model.compile(optimizer="adam", loss=loss)
    return model


def create_regressor(meta, units=32, learning_rate=0.01):
    model = pynn.Sequential([pynn.layers.Dense(units, activation="relu"),
                             pynn.layers.Dense(meta["n_outputs_"])])
    model.compile(optimizer=pynn.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    return model


def create_model_recording_threads(units=8):
    """Records the pynn thread count in force while the wrapper builds the model (inside the worker)."""
    model = create_model(units=units)
    model.threads_at_build = pynn.get_num_threads()
    model.omp_env_at_build = os.environ.get("OMP_NUM_THREADS")
    return model


@pytest.fixture(scope="module")
def cancer():
    x, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(x).astype(np.float32), y


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y


# ---------------------------------------------------------------- the seeds' grid search
def test_grid_search_over_seven_optimizers_picks_a_best(cancer):
    """GridSearchCV(n_jobs=-1, cv=3) over the tutorials' seven optimizer names runs to completion in worker
    processes; each optimizer uses Keras's default learning rate, so Adam-like ones learn in 10 epochs and
    Adadelta (lr 0.001) barely moves: the search must tell them apart and pick a good one."""
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model, epochs=10, batch_size=16, verbose=0, random_state=0)
    grid = GridSearchCV(clf, {"optimizer": OPTIMIZERS}, cv=3, n_jobs=-1).fit(x, y)
    scores = dict(zip(grid.cv_results_["param_optimizer"], grid.cv_results_["mean_test_score"]))
    assert set(scores) == set(OPTIMIZERS) and all(np.isfinite(list(scores.values())))
    assert grid.best_params_["optimizer"] in OPTIMIZERS
    assert grid.best_score_ == max(scores.values())
    assert grid.best_score_ > 0.93
    assert scores["Adadelta"] < grid.best_score_ - 0.05
    # refit on all the data in this process: a usable classifier
    assert grid.best_estimator_.score(x, y) > 0.93


def test_randomized_search_in_a_pipeline(cancer):
    x, y = load_breast_cancer(return_X_y=True)  # unscaled: the pipeline scales inside each fold
    pipe = Pipeline([("scale", StandardScaler()),
                     ("clf", KerasClassifier(build_fn=create_model, epochs=8, batch_size=16, verbose=0,
                                             random_state=1))])
    space = {"clf__units": [4, 8, 16, 32], "clf__optimizer": ["Adam", "RMSprop", "Nadam"],
             "clf__learning_rate": [1e-3, 3e-3, 1e-2]}
    search = RandomizedSearchCV(pipe, space, n_iter=4, cv=3, n_jobs=-1, random_state=0).fit(x, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.9
    assert set(search.best_params_) == set(space)
    assert search.best_estimator_.named_steps["clf"].get_params()["units"] == search.best_params_["clf__units"]


def test_pipeline_after_a_scaler_beats_unscaled_input(cancer):
    x, y = load_breast_cancer(return_X_y=True)
    params = dict(build_fn=create_model, epochs=5, batch_size=16, verbose=0, random_state=3)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", KerasClassifier(**params))]).fit(x[::2], y[::2])
    assert pipe.score(x[1::2], y[1::2]) > 0.9
    assert pipe.predict(x[1::2]).shape == (len(x[1::2]),)


# ---------------------------------------------------------------- reproducibility and threads
def test_cross_val_score_is_identical_for_a_fixed_seed(cancer):
    """The same random_state gives bit-identical fold scores, in this process and in two worker processes
    (which run pynn with a different thread count: results do not depend on it)."""
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model, epochs=3, batch_size=32, verbose=0, random_state=7)
    first = cross_val_score(clf, x, y, cv=3)
    again = cross_val_score(clf, x, y, cv=3)
    in_workers = cross_val_score(clf, x, y, cv=3, n_jobs=2)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, in_workers)
    other_seed = cross_val_score(clone(clf).set_params(random_state=8), x, y, cv=3)
    assert not np.array_equal(first, other_seed)


def test_random_state_leaves_the_global_seed_stream_alone(cancer):
    x, y = cancer
    pynn.utils.set_random_seed(11)
    expected = pynn.initializers.get("glorot_uniform")((4, 4))
    pynn.utils.set_random_seed(11)
    KerasClassifier(build_fn=create_model, epochs=1, verbose=0, random_state=5).fit(x[:50], y[:50])
    np.testing.assert_array_equal(pynn.initializers.get("glorot_uniform")((4, 4)), expected)


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_each_search_worker_runs_pynn_with_one_thread(cancer, backend, monkeypatch):
    """n_jobs=-1 starts one worker per core. joblib's loky backend sets OMP_NUM_THREADS=cores // n_jobs = 1 in
    its workers (pynn reads it at import); the multiprocessing backend sets nothing, so the wrapper uses one
    thread in a worker process itself. n_threads overrides both."""
    from joblib import parallel_backend
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model_recording_threads, epochs=1, verbose=0, random_state=0)
    with parallel_backend(backend):
        result = cross_validate(clf, x, y, cv=2, n_jobs=-1, return_estimator=True)
        assert [est.model_.threads_at_build for est in result["estimator"]] == [1, 1]
        expected_env = "1" if backend == "loky" else None  # joblib sets it in loky workers only
        assert [est.model_.omp_env_at_build for est in result["estimator"]] == [expected_env] * 2
        if backend == "loky":  # (more than one thread in a forked worker could hang libgomp: see README)
            result = cross_validate(clone(clf).set_params(n_threads=2), x, y, cv=2, n_jobs=-1,
                                    return_estimator=True)
            assert [est.model_.threads_at_build for est in result["estimator"]] == [2, 2]
    # in the main process the wrapper leaves pynn's setting alone, and n_threads is restored after fit
    before = pynn.get_num_threads()
    assert clone(clf).fit(x[:40], y[:40]).model_.threads_at_build == before
    fitted = clone(clf).set_params(n_threads=1).fit(x[:40], y[:40])
    assert fitted.model_.threads_at_build == 1 and pynn.get_num_threads() == before


# ---------------------------------------------------------------- parameters
def test_get_params_set_params_and_clone_keep_every_parameter():
    callbacks = [pynn.callbacks.EarlyStopping(monitor="loss", patience=2)]
    clf = KerasClassifier(build_fn=create_model, epochs=7, batch_size=10, verbose=0, optimizer="Nadam",
                          units=5, callbacks=callbacks, random_state=3)
    params = clf.get_params()
    assert params == {"build_fn": create_model, "epochs": 7, "batch_size": 10, "verbose": 0,
                      "optimizer": "Nadam", "units": 5, "callbacks": callbacks, "random_state": 3}
    copy = clone(clf)
    assert copy.get_params().keys() == params.keys()
    assert all(copy.get_params()[k] == v for k, v in params.items() if k != "callbacks")
    assert copy.get_params()["callbacks"][0].patience == 2
    assert clf.set_params(epochs=2, units=9) is clf
    assert clf.get_params()["epochs"] == 2 and clf.get_params()["units"] == 9
    assert clf.sk_params["units"] == 9 and copy.get_params()["units"] == 5
    assert "KerasClassifier(" in repr(clf) and "units=9" in repr(clf)


def test_sk_params_are_routed_to_build_fn_fit_and_predict(cancer):
    x, y = cancer
    seen = {}

    def build(units):
        seen["units"] = units
        return create_model(units=units)

    clf = KerasClassifier(build_fn=build, units=3, epochs=4, batch_size=200, verbose=0,
                          validation_split=0.25)
    clf.fit(x, y)
    assert seen == {"units": 3}
    assert clf.model_.layers[0].units == 3
    assert len(clf.history_["loss"]) == 4 and len(clf.history_["val_loss"]) == 4  # fit got validation_split
    clf.fit(x, y, epochs=2)  # fit kwargs override the sk_params for that call
    assert len(clf.history_["loss"]) == 2


def test_an_unknown_parameter_is_an_error_at_fit_not_at_construction(cancer):
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model, epochs=1, verbose=0, not_a_param=1)
    with pytest.raises(ValueError, match="not_a_param is not a legal parameter"):
        clf.fit(x, y)


def test_fit_builds_a_fresh_model_each_time_and_returns_self(cancer):
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model, epochs=1, verbose=0)
    assert clf.fit(x, y) is clf
    first = clf.model_
    clf.fit(x, y)
    assert clf.model_ is not first
    assert clf.n_features_in_ == 30 and list(clf.classes_) == [0, 1]
    assert set(clf.history_) == {"loss", "accuracy"}


def test_not_fitted_error_before_fit(cancer):
    x, _ = cancer
    for est in (KerasClassifier(build_fn=create_model), KerasRegressor(build_fn=create_regressor)):
        with pytest.raises(NotFittedError):
            est.predict(x)
    with pytest.raises(NotFittedError):
        KerasClassifier(build_fn=create_model).predict_proba(x)


def test_wrong_feature_count_at_predict(cancer):
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model, epochs=1, verbose=0).fit(x, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(x[:, :5])


# ---------------------------------------------------------------- classifier outputs and labels
def test_predict_proba_shapes_binary_and_multiclass(cancer, digits):
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model, epochs=2, verbose=0, random_state=0).fit(x, y)
    proba = clf.predict_proba(x[:7])
    assert proba.shape == (7, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    p1 = clf.model_.predict(x[:7], verbose=0).ravel()
    np.testing.assert_array_equal(proba[:, 1], p1)
    np.testing.assert_array_equal(clf.predict(x[:7]), (p1 > 0.5).astype(int))

    xd, yd = digits
    clf = KerasClassifier(build_fn=create_softmax_model, epochs=10, batch_size=32, verbose=0,
                          random_state=0).fit(xd[:1200], yd[:1200])
    proba = clf.predict_proba(xd[1200:])
    assert proba.shape == (len(xd) - 1200, 10)
    np.testing.assert_array_equal(clf.predict(xd[1200:]), proba.argmax(axis=1))
    assert clf.score(xd[1200:], yd[1200:]) > 0.85


def test_string_labels_are_encoded_for_training_and_decoded_by_predict(digits):
    xd, yd = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    labels = names[yd]
    clf = KerasClassifier(build_fn=create_softmax_model, epochs=10, batch_size=32, verbose=0,
                          random_state=0).fit(xd[:1200], labels[:1200])
    assert list(clf.classes_) == sorted(names)
    pred = clf.predict(xd[1200:])
    assert pred.dtype == labels.dtype and set(pred) <= set(names)
    assert clf.score(xd[1200:], labels[1200:]) > 0.85
    # the same seed on integer labels relabelled in the sorted order gives the same predictions
    order = np.searchsorted(np.sort(names), labels)
    ints = KerasClassifier(build_fn=create_softmax_model, epochs=10, batch_size=32, verbose=0,
                           random_state=0).fit(xd[:1200], order[:1200])
    np.testing.assert_array_equal(np.sort(names)[ints.predict(xd[1200:])], pred)


def test_one_hot_targets_and_categorical_crossentropy(digits):
    xd, yd = digits
    one_hot = np.eye(10)[yd]
    clf = KerasClassifier(build_fn=create_softmax_model, loss="categorical_crossentropy", epochs=10,
                          batch_size=32, verbose=0, random_state=0)
    clf.fit(xd[:1200], one_hot[:1200])
    assert list(clf.classes_) == list(range(10))
    assert clf.score(xd[1200:], one_hot[1200:]) == clf.score(xd[1200:], yd[1200:]) > 0.85
    # integer labels with a categorical loss are one-hot encoded for the model
    sparse_fit = clone(clf).fit(xd[:1200], yd[:1200])
    np.testing.assert_array_equal(sparse_fit.predict(xd[1200:]), clf.predict(xd[1200:]))


def test_model_outputs_must_match_the_classes(digits):
    xd, yd = digits
    with pytest.raises(ValueError, match="one output but y has 10 classes"):
        KerasClassifier(build_fn=create_model, epochs=1, verbose=0).fit(xd, yd)


# ---------------------------------------------------------------- pickling
def test_pickled_classifier_and_model_predict_the_same(cancer, digits):
    x, y = cancer
    clf = KerasClassifier(build_fn=create_model, epochs=2, verbose=0, random_state=0).fit(x, y)
    before = clf.predict_proba(x)  # builds the model's inference plan (closures) before pickling
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(x), before)
    np.testing.assert_array_equal(restored.predict(x), clf.predict(x))
    model = pickle.loads(pickle.dumps(clf.model_))
    np.testing.assert_array_equal(model.predict(x, verbose=0), before[:, 1:])
    model.fit(x, y, epochs=1, verbose=0)  # the restored model (optimizer state included) trains on
    for name in OPTIMIZERS:
        m = create_model(optimizer=name)
        m.fit(x[:64], y[:64], epochs=1, verbose=0, callbacks=[pynn.callbacks.EarlyStopping(monitor="loss")])
        m.predict(x[:8], verbose=0)
        m2 = pickle.loads(pickle.dumps(m))
        np.testing.assert_array_equal(m2.predict(x, verbose=0), m.predict(x, verbose=0))
        m.fit(x[:64], y[:64], epochs=1, verbose=0, shuffle=False)
        m2.fit(x[:64], y[:64], epochs=1, verbose=0, shuffle=False)
        np.testing.assert_array_equal(m2.predict(x, verbose=0), m.predict(x, verbose=0))


# ---------------------------------------------------------------- regressor
def test_regressor_on_diabetes():
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x).astype(np.float32)
    y = ((y - y.mean()) / y.std()).astype(np.float32)
    reg = KerasRegressor(build_fn=create_regressor, epochs=30, batch_size=32, verbose=0, random_state=0)
    reg.fit(x[:300], y[:300])
    pred = reg.predict(x[300:])
    assert pred.shape == (len(x) - 300,)
    mse = float(np.mean((pred - y[300:]) ** 2))
    assert reg.score(x[300:], y[300:]) == pytest.approx(-mse, rel=1e-4)  # Keras 2: score is -loss
    assert mse < 0.7  # the variance of the standardised target is 1: the model explains part of it
    two = KerasRegressor(build_fn=create_regressor, epochs=2, verbose=0).fit(x, np.stack([y, -y], axis=1))
    assert two.predict(x[:5]).shape == (5, 2)
    grid = GridSearchCV(reg, {"units": [4, 16]}, cv=2, n_jobs=-1).fit(x, y)
    assert grid.best_score_ < 0  # -loss


# ---------------------------------------------------------------- packaging
def test_importing_pynn_does_not_import_sklearn(tmp_path):
    code = "import sys, pynn; assert 'sklearn' not in sys.modules; import pynn.wrappers; " \
           "assert 'sklearn' in sys.modules"
    # run outside the repository root, so that the installed package is imported, not the source tree
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


# ---------------------------------------------------------------- scikit-learn's estimator checks
def _checked_estimators():
    # A build_fn that sizes the output from `meta` (the checks fit 2-, 3- and 4-class data with 1 to 10 features).
    # The one-sigmoid-output classifier is left out: it can only fit two classes, and most checks use three
    # (its binary path is covered by the tests above).
    return [KerasClassifier(build_fn=create_softmax_model, units=16, epochs=20, batch_size=16, verbose=0,
                            random_state=0),
            KerasRegressor(build_fn=create_regressor, units=16, epochs=20, batch_size=16, verbose=0,
                           random_state=0)]


def _expected_failures(estimator):
    """Checks that cannot pass, with the reason (marked xfail). Every other check runs and must pass; checks
    that need pandas or SCIPY_ARRAY_API skip themselves when those are absent."""
    if isinstance(estimator, KerasRegressor):
        return {"check_regressors_train": "score is -loss (Keras 2's KerasRegressor.score), not "
                                          "R^2, so the check's `score > 0.5` cannot hold",
                "check_regressor_multioutput": "predictions keep the model's dtype (float32, as Keras's); the "
                                               "check requires float64 multi-output predictions"}
    return {}


try:
    from sklearn.utils.estimator_checks import parametrize_with_checks
    try:  # strict: a check listed as failing that passes is an error, so the list stays honest
        _checks = parametrize_with_checks(_checked_estimators(), expected_failed_checks=_expected_failures,
                                          xfail_strict=True)
    except TypeError:  # scikit-learn 1.6 - 1.7
        _checks = parametrize_with_checks(_checked_estimators(), expected_failed_checks=_expected_failures)
except TypeError:  # scikit-learn < 1.6 has no expected_failed_checks
    _checks = pytest.mark.skip(reason="the estimator checks need scikit-learn >= 1.6")(
        pytest.mark.parametrize("estimator, check", [(None, None)]))


@_checks
def test_sklearn_estimator_checks(estimator, check):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        check(estimator)


def test_bayesian_search_example_runs(capsys):
    pytest.importorskip("optuna")
    from pynn.examples import bayesian_search
    study = bayesian_search.main(["--trials", "2", "--epochs", "1"])
    assert len(study.trials) == 2
    assert "best params:" in capsys.readouterr().out


def test_pickled_optimizer_keeps_its_slots_and_weight_decay_exclusions():
    """Optimizer state is keyed by id(variable); after a round trip (with the model that owns the variables)
    the restored optimizer steps exactly like the original, exclusions from weight decay included."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = create_model(units=5)
    model.compile(optimizer=pynn.optimizers.AdamW(learning_rate=0.01, weight_decay=0.5),
                  loss="binary_crossentropy")
    model.build((None, 6))
    bias = model.layers[0].weights[1]
    model.optimizer.exclude_from_weight_decay(var_list=[bias])  # before any slot exists
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    restored = pickle.loads(pickle.dumps(model))
    assert len(restored.optimizer.variables) == len(model.optimizer.variables) > 0
    for a, b in zip(restored.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(a, b)
    assert restored.optimizer.weight_decay_for(restored.layers[0].weights[1]) == 0.0
    assert restored.optimizer.weight_decay_for(restored.layers[0].weights[0]) == 0.5
    for m in (model, restored):
        m.fit(x, y, epochs=2, batch_size=16, verbose=0, shuffle=False)
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
