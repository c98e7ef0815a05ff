"""KerasClassifier and KerasRegressor: pynn models as scikit-learn estimators (the Keras 2 wrapper API).

    def create_model(optimizer="adam", units=16):
        model = pynn.Sequential([pynn.layers.Dense(units, activation="relu"),
                                 pynn.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
        return model

    clf = KerasClassifier(build_fn=create_model, epochs=20, batch_size=16, verbose=0)
    GridSearchCV(clf, {"optimizer": ["SGD", "Adam"]}, cv=3, n_jobs=-1).fit(X, y)

`build_fn` returns a compiled pynn model. Every other keyword ("sk_param") is routed to whichever of
`build_fn`, `Model.fit`, `Model.predict` and `Model.evaluate` names it in its signature (several may: `batch_size`
and `verbose` go to fit, predict and evaluate); a name none of them accepts raises ValueError at fit. Keyword
arguments given to `fit` / `predict` / `score` override the sk_params for that call. Two sk_params belong to the
wrapper itself (they are also passed to `build_fn` if it names them):

- `random_state` (int or None): pynn's seed stream is set to it for the build and the training, so a fit is
  repeatable in any process (pynn's global stream is restored afterwards).
- `n_threads` (int or None): pynn's thread count during fit / predict / score. By default pynn's setting is
  left alone, except in a worker process without OMP_NUM_THREADS (joblib's "multiprocessing" backend), where
  one thread is used; joblib's default loky backend sets OMP_NUM_THREADS=max(cores // n_jobs, 1) in its
  workers, which pynn reads at import, so `GridSearchCV(n_jobs=-1)` runs one pynn thread per worker on a
  machine with as many cores as workers.

pynn extension: if `build_fn` has a parameter named `meta` that is not an sk_param, it receives a dict with
`n_features_in_`, `n_outputs_` and, for the classifier, `classes_` and `n_classes_`, so one function can build
models for any data shape.

Differences from Keras 2's wrapper (deliberate, scikit-learn conventions): fit returns self (the History's dict
is `history_`); parameters are validated at fit, not in __init__ / set_params; KerasClassifier.score is the
accuracy of `predict` (no 'accuracy' metric needed). KerasRegressor.score is -loss as in Keras 2 (not R^2).
"""
import copy
import inspect
import multiprocessing
import os
from contextlib import contextmanager

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, column_or_1d
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("pynn.wrappers needs scikit-learn: pip install 'pynn[sklearn]' "
                      "(or pip install scikit-learn)") from exc

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - scikit-learn 1.3 - 1.5
    _sk_validate_data = None

import pynn
from pynn import random_state as _random_state
from pynn.models.model import Model

__all__ = ["KerasClassifier", "KerasRegressor"]

_WRAPPER_PARAMS = ("random_state", "n_threads")


def _arg_names(fn, skip=()):
    """(names of fn's named parameters, whether it takes **kwargs)."""
    params = inspect.signature(fn).parameters.values()
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - set(skip)
    return names, any(p.kind == p.VAR_KEYWORD for p in params)


_FIT_ARGS = _arg_names(Model.fit, ("self", "x", "y"))[0]
_PREDICT_ARGS = _arg_names(Model.predict, ("self", "x"))[0]
_EVALUATE_ARGS = _arg_names(Model.evaluate, ("self", "x", "y"))[0]


def _in_worker_process():
    if multiprocessing.current_process().name != "MainProcess":
        return True
    parent = getattr(multiprocessing, "parent_process", None)
    return parent is not None and parent() is not None


@contextmanager
def _thread_scope(n_threads):
    """pynn's thread count for one call: n_threads if given, 1 in a worker process with no OMP_NUM_THREADS."""
    if n_threads is None:
        if not _in_worker_process() or os.environ.get("OMP_NUM_THREADS", "").strip():
            yield
            return
        n_threads = 1
    previous = pynn.get_num_threads()
    pynn.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        pynn.set_num_threads(previous)


@contextmanager
def _seed_scope(seed):
    """Seed pynn's stream (initializers, shuffling, dropout) for one fit; restore the global stream after."""
    if seed is None:
        yield
        return
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
    saved = dict(_random_state._state)
    _random_state.set_seed(int(seed))
    try:
        yield
    finally:
        _random_state._state.clear()
        _random_state._state.update(saved)


class BaseWrapper(BaseEstimator):
    """The parameter handling, building and fitting shared by KerasClassifier and KerasRegressor."""

    def __init__(self, build_fn=None, **sk_params):
        self.build_fn = build_fn
        self._sk_params = sk_params

    @property
    def sk_params(self):
        """The keyword parameters other than build_fn (Keras 2's attribute)."""
        return self._sk_params

    # ------------------------------------------------------------------ parameters
    def get_params(self, deep=True):
        """build_fn plus every sk_param, as given (so sklearn.base.clone keeps them all)."""
        params = dict(self._sk_params)
        params["build_fn"] = self.build_fn
        return params

    def set_params(self, **params):
        """Update build_fn and sk_params; they are checked at the next fit. Returns self."""
        for name, value in params.items():
            if name == "build_fn":
                self.build_fn = value
            else:
                self._sk_params[name] = value
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Without a random_state two fits differ (random initial weights and shuffling).
        tags.non_deterministic = self._sk_params.get("random_state") is None
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": self._sk_params.get("random_state") is None}

    def _builder(self):
        if self.build_fn is None:
            if not callable(getattr(type(self), "__call__", None)):
                raise ValueError(f"{type(self).__name__}: build_fn is None and the class defines no __call__ "
                                 "that builds the model")
            return self.__call__
        if not callable(self.build_fn):
            raise ValueError(f"{type(self).__name__}: build_fn must be callable (a function returning a compiled "
                             f"model), got {type(self.build_fn).__name__}")
        return self.build_fn

    def _check_params(self):
        build_names, build_kwargs = _arg_names(self._builder())
        legal = build_names | _FIT_ARGS | _PREDICT_ARGS | _EVALUATE_ARGS | set(_WRAPPER_PARAMS)
        for name in self._sk_params:
            if name not in legal and not build_kwargs:
                raise ValueError(f"{name} is not a legal parameter of {type(self).__name__}: it is accepted by "
                                 "none of build_fn, Model.fit, Model.predict and Model.evaluate")

    def filter_sk_params(self, fn, override=None):
        """The sk_params that fn accepts, updated with `override` (Keras 2's method)."""
        names, _ = _arg_names(fn)
        out = {k: v for k, v in self._sk_params.items() if k in names}
        out.update(override or {})
        return out

    def _routed(self, names, override):
        out = {k: v for k, v in self._sk_params.items() if k in names}
        out.update(override)
        return out

    # ------------------------------------------------------------------ data
    def _validate(self, X, y=None, reset=True, **kwargs):
        kwargs.setdefault("dtype", (np.float32, np.float64))
        if y is None:
            kwargs["reset"] = reset
            if _sk_validate_data is not None:
                return _sk_validate_data(self, X, **kwargs)
            return self._validate_data(X, **kwargs)  # pragma: no cover
        if _sk_validate_data is not None:
            return _sk_validate_data(self, X, y, reset=reset, **kwargs)
        return self._validate_data(X, y, reset=reset, **kwargs)  # pragma: no cover

    def _meta(self):
        return {"n_features_in_": self.n_features_in_, "n_outputs_": self.n_outputs_}

    # ------------------------------------------------------------------ training
    def _build_and_fit(self, X, y_model, kwargs):
        """Build a fresh model with build_fn and train it; sets model_ and history_."""
        builder = self._builder()
        build_names, build_kwargs = _arg_names(builder)
        claimed = _FIT_ARGS | _PREDICT_ARGS | _EVALUATE_ARGS | set(_WRAPPER_PARAMS)
        build_args = {k: v for k, v in self._sk_params.items()
                      if k in build_names or (build_kwargs and k not in claimed)}
        if "meta" in build_names and "meta" not in self._sk_params:
            build_args["meta"] = self._meta()
        fit_args = copy.deepcopy(self._routed(_FIT_ARGS, {}))  # callbacks get bound to the model: copy them
        fit_args.update(kwargs)
        model = builder(**build_args)
        if not isinstance(model, Model):
            raise ValueError(f"{type(self).__name__}: build_fn must return a compiled pynn model, got "
                             f"{type(model).__name__}")
        if getattr(model, "input_shape", None) is None and hasattr(model, "build"):
            model.build((None,) + X.shape[1:])
        self.model_ = model
        y_model = self._target_for_model(y_model)
        history = model.fit(X, y_model, **fit_args)
        self.history_ = dict(history.history) if history is not None else {}

    def _target_for_model(self, y):
        return y

    def fit(self, X, y, **kwargs):
        """Build a fresh model with build_fn and train it on (X, y); kwargs go to Model.fit. Returns self."""
        self._check_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X, y = self._prepare_fit(X, y)
        self._check_weighted_classes(y, kwargs.get("sample_weight"))
        with _thread_scope(self._sk_params.get("n_threads")), _seed_scope(self._sk_params.get("random_state")):
            self._build_and_fit(X, y, kwargs)
        return self

    def _check_weighted_classes(self, y, sample_weight):
        pass

    def _model_outputs(self, X, kwargs):
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        with _thread_scope(self._sk_params.get("n_threads")):
            return self.model_.predict(X, **self._routed(_PREDICT_ARGS, kwargs))


class KerasClassifier(ClassifierMixin, BaseWrapper):
    """A pynn classifier as a scikit-learn estimator: KerasClassifier(build_fn=create_model, **sk_params).

    Labels may be of any type (strings included): they are encoded as 0..n-1 in the sorted order of `classes_`
    for training and decoded by predict. A one-hot y (n, n_classes) is accepted too (classes_ = 0..n_classes-1).
    The model's last layer has n_classes outputs (softmax; sparse or categorical cross-entropy, the target is
    converted to match the loss) or, for two classes, one sigmoid output (binary cross-entropy).

    Attributes after fit: model_, classes_, n_classes_, n_features_in_, n_outputs_, history_ (dict of
    per-epoch lists).
    """

    def _prepare_fit(self, X, y):
        X, y = self._validate(X, y, multi_output=True)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot
            if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
                raise ValueError(f"{type(self).__name__}: a 2-D y must be one-hot (one 1 per row); multilabel "
                                 "targets are not supported")
            self.classes_ = np.arange(y.shape[1])
            y_int = y.argmax(axis=1)
        else:
            if y.ndim == 2:
                y = column_or_1d(y, warn=True)
            check_classification_targets(y)
            self.classes_, y_int = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data, got "
                                 f"1 class: {self.classes_[0]!r}")
        self.n_classes_ = len(self.classes_)
        self.n_outputs_ = 1
        return X, y_int.reshape(-1).astype(np.int64)

    def _check_weighted_classes(self, y_int, sample_weight):
        if sample_weight is None:
            return
        weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if len(weights) != len(y_int):
            raise ValueError(f"{type(self).__name__}: sample_weight has {len(weights)} values for "
                             f"{len(y_int)} samples")
        if len(np.unique(y_int[weights > 0])) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes with a positive "
                             "sample_weight")

    def _meta(self):
        meta = super()._meta()
        meta.update(classes_=self.classes_, n_classes_=self.n_classes_)
        return meta

    def _target_for_model(self, y_int):
        units = self.model_.output_shape[-1]
        if units == 1:
            if self.n_classes_ > 2:
                raise ValueError(f"{type(self).__name__}: the model has one output but y has {self.n_classes_} "
                                 "classes; use a softmax layer with one unit per class")
            return y_int.astype(self.model_.dtype).reshape(-1, 1)
        if units != self.n_classes_:
            raise ValueError(f"{type(self).__name__}: the model has {units} outputs but y has {self.n_classes_} "
                             f"classes {list(self.classes_)}")
        if getattr(self.model_.loss, "name", None) == "categorical_crossentropy":
            one_hot = np.zeros((len(y_int), units), self.model_.dtype)
            one_hot[np.arange(len(y_int)), y_int] = 1
            return one_hot
        return y_int

    def predict_proba(self, X, **kwargs):
        """Class probabilities (n_samples, n_classes); one sigmoid output p gives the columns [1 - p, p]."""
        probs = np.asarray(self._model_outputs(X, kwargs))
        if probs.ndim == 1:
            probs = probs.reshape(-1, 1)
        if probs.shape[1] == 1:
            probs = np.hstack([1 - probs, probs])
        return probs

    def predict(self, X, **kwargs):
        """Class labels: classes_[argmax of the outputs], or classes_[p > 0.5] for one sigmoid output."""
        probs = np.asarray(self._model_outputs(X, kwargs))
        if probs.ndim == 2 and probs.shape[1] > 1:
            index = probs.argmax(axis=1)
        else:
            index = (probs.reshape(-1) > 0.5).astype(np.int64)
        return self.classes_[index]

    def score(self, X, y, sample_weight=None, **kwargs):
        """Accuracy of predict(X) against y (labels, or one-hot rows)."""
        from sklearn.metrics import accuracy_score
        check_is_fitted(self, "model_")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            y = self.classes_[y.argmax(axis=1)]
        return float(accuracy_score(y, self.predict(X, **kwargs), sample_weight=sample_weight))


class KerasRegressor(RegressorMixin, BaseWrapper):
    """A pynn regressor as a scikit-learn estimator: KerasRegressor(build_fn=create_model, **sk_params).

    predict returns (n_samples,) when y was 1-D, else (n_samples, n_outputs). score(X, y) is -loss (the
    model's evaluate loss, negated so that greater is better), as in Keras 2, not R^2.

    Attributes after fit: model_, n_features_in_, n_outputs_, history_.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # a 2-D y trains a model with one output per column
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {**super()._more_tags(), "multioutput": True}

    def _prepare_fit(self, X, y):
        X, y = self._validate(X, y, multi_output=True, y_numeric=True)
        y = np.asarray(y)
        self._y_1d = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return X, y

    def _target_for_model(self, y):
        return np.asarray(y, self.model_.dtype).reshape(len(y), -1)

    def predict(self, X, **kwargs):
        """The model's outputs; (n_samples,) when it was fitted on a 1-D y."""
        out = np.asarray(self._model_outputs(X, kwargs))
        if self._y_1d and out.ndim == 2 and out.shape[1] == 1:
            out = out.reshape(-1)
        return out

    def score(self, X, y, **kwargs):
        """-loss on (X, y) (Keras 2: greater is better); kwargs such as sample_weight go to evaluate."""
        check_is_fitted(self, "model_")
        X, y = self._validate(X, y, reset=False, multi_output=True, y_numeric=True)
        y = np.asarray(y, self.model_.dtype).reshape(len(y), -1)
        args = self._routed(_EVALUATE_ARGS, kwargs)
        with _thread_scope(self._sk_params.get("n_threads")):
            result = self.model_.evaluate(X, y, **args)
        loss = result[0] if isinstance(result, (list, tuple)) else result
        return -float(loss)
