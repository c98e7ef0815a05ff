"""The batch loop behind fit and evaluate: batches, running means, callbacks, progress bar."""
import math

import numpy as np

from pynn import random_state
from pynn.training.progbar import Progbar


def batches(x, batch_size, *others):
    """Consecutive slices of x (and of the arrays in others) of batch_size rows; views, no copies."""
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        yield (x[sl],) + tuple(None if o is None else o[sl] for o in others) if others else x[sl]


def validate_arrays(model, x, y, sample_weight, what):
    """Check and convert fit / evaluate inputs before anything changes; returns (x, y, sample_weight)."""
    if x is None or y is None:
        raise ValueError(f"{what}: x and y are both required")
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{what}: x must be numeric, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=model.dtype)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{what}: x and y must have the same number of samples, got {len(x)} and {len(y)}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what}: x contains NaN or infinite values")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{what}: y contains NaN or infinite values")
        y = np.ascontiguousarray(y, dtype=model.dtype)
    elif y.dtype.kind in "iub" and y.dtype not in (np.int32, np.int64):
        y = y.astype(np.int64)  # once here, not at every step (labels as uint8, e.g. MNIST's)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=model.dtype)
        if sample_weight.shape != (len(x),):
            raise ValueError(f"{what}: sample_weight must have shape ({len(x)},), got {sample_weight.shape}")
    model.build_for(x.shape)
    return x, y, sample_weight


def _resolve_verbose(verbose):
    return 1 if verbose == "auto" else int(verbose)


class EpochLoop:
    """Runs epochs of training steps (or one pass of evaluation) with callbacks and a progress bar."""

    def __init__(self, model, batch_size, epochs, verbose, callbacks, steps_per_epoch=None):
        from pynn.callbacks import CallbackList
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.model = model
        self.batch_size = int(batch_size)
        self.epochs = epochs
        self.verbose = _resolve_verbose(verbose)
        self.steps_per_epoch = steps_per_epoch
        self.callbacks = CallbackList(callbacks, model=model, add_history=True)

    def _reset_metrics(self):
        for m in self.model.compiled_metrics:
            m.reset_state()

    def _logs(self, loss_sum, seen, prefix=""):
        logs = {prefix + "loss": float(loss_sum / max(seen, 1))}
        for m in self.model.compiled_metrics:
            logs[prefix + m.name] = float(m.result())
        return logs

    def run(self, x, y, sample_weight, validation_data, shuffle, initial_epoch, val_batch_size, validation_freq):
        model, cb = self.model, self.callbacks
        n = len(x)
        steps = math.ceil(n / self.batch_size)
        if self.steps_per_epoch:
            steps = min(steps, int(self.steps_per_epoch))
        cb.set_params({"epochs": self.epochs, "steps": steps, "verbose": self.verbose})
        if validation_data is not None:
            validation_data = _unpack_validation(model, validation_data)
        model.stop_training = False
        rng = np.random.default_rng(random_state.next_seed())
        batch_hooks = cb.has_train_batch_hooks
        size = self.batch_size
        x_batch = np.empty((size,) + x.shape[1:], x.dtype)  # full shuffled batches are gathered into it
        cb.on_train_begin()
        for epoch in range(initial_epoch, self.epochs):
            self._reset_metrics()
            cb.on_epoch_begin(epoch)
            if self.verbose == 1:
                print(f"Epoch {epoch + 1}/{self.epochs}")
            bar = Progbar(steps) if self.verbose == 1 else None
            order = _batch_order(rng, n, size) if shuffle else None
            loss_sum, seen = 0.0, 0
            for step in range(steps):
                start, stop = step * size, min(n, (step + 1) * size)
                if order is None:
                    idx = slice(start, stop)
                    xb = x[idx]
                else:
                    idx = order[start:stop]
                    xb = np.take(x, idx, axis=0, out=x_batch) if stop - start == size else x[idx]
                yb = y[idx]
                swb = None if sample_weight is None else sample_weight[idx]
                if batch_hooks:
                    cb.on_train_batch_begin(step)
                value, y_pred = model._train_batch(xb, yb, swb)
                loss_sum += value * (stop - start)
                seen += stop - start
                for m in model.compiled_metrics:
                    m.update_state(yb, y_pred, swb)
                if batch_hooks or bar is not None:
                    logs = self._logs(loss_sum, seen)
                    if batch_hooks:
                        cb.on_train_batch_end(step, logs)
                    if bar is not None:
                        bar.update(step + 1, list(logs.items()), finalize=False)
            logs = self._logs(loss_sum, seen)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                vx, vy, vsw = validation_data
                logs.update({"val_" + k: v for k, v in self.evaluate(vx, vy, vsw, val_batch_size).items()})
            if bar is not None:
                bar.update(steps, list(logs.items()), finalize=True)
            elif self.verbose == 2:
                print(f"Epoch {epoch + 1}/{self.epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
            cb.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        cb.on_train_end(logs if self.epochs > initial_epoch else {})
        return model.history

    def evaluate(self, x, y, sample_weight, batch_size=None):
        """One pass over (x, y) with training=False; returns {"loss": ..., metric: ...}."""
        model = self.model
        self._reset_metrics()
        loss_sum, seen = 0.0, 0
        for xb, yb, swb in batches(x, batch_size or self.batch_size, y, sample_weight):
            value, y_pred = model._test_batch(xb, yb, swb)
            loss_sum += value * len(xb)
            seen += len(xb)
            for m in model.compiled_metrics:
                m.update_state(yb, y_pred, swb)
        return self._logs(loss_sum, seen)


def _batch_order(rng, n, size):
    """A random permutation of range(n) whose batches of `size` are each sorted (rows are then gathered in
    memory order)."""
    order = rng.permutation(n)
    full = n // size * size
    order[:full].reshape(-1, size).sort(axis=1)
    order[full:].sort()
    return order


def _unpack_validation(model, data):
    if len(data) == 2:
        vx, vy = data
        vsw = None
    elif len(data) == 3:
        vx, vy, vsw = data
    else:
        raise ValueError(f"fit: validation_data must be (x, y) or (x, y, sample_weight), got {len(data)} items")
    return validate_arrays(model, vx, vy, vsw, "fit (validation_data)")
