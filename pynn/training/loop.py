"""The batch loop behind fit and evaluate: batches, running means, callbacks, progress bar."""
import math

import numpy as np

from pynn import ops, random_state
from pynn.training.progbar import Progbar


def batches(x, batch_size, *others):
    """Consecutive slices of x (and of the arrays in others) of batch_size rows; views, no copies. Any of
    them may be a list of arrays (several model inputs or outputs), sliced alike."""
    for start in range(0, num_rows(x), batch_size):
        sl = slice(start, start + batch_size)
        yield (take_rows(x, sl),) + tuple(take_rows(o, sl) for o in others) if others else take_rows(x, sl)


def num_rows(a):
    return len(a[0]) if isinstance(a, list) else len(a)


def take_rows(a, index):
    """a[index], for each array of a list, None for None."""
    if a is None:
        return None
    if isinstance(a, list):
        return [v[index] for v in a]
    return a[index]


def _check_x(x, dtype, what):
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{what}: x must be numeric, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=dtype)
    if not _all_finite(x):
        raise ValueError(f"{what}: x contains NaN or infinite values")
    return x


def _all_finite(x):
    """True when the float array x holds no NaN or infinity. Its sum (in double, one pass, no temporary) is
    finite when x is; a sum that is not (a NaN or an infinity in x, or finite values that overflow it) is
    settled element by element."""
    if x.dtype in (np.float32, np.float64):
        with np.errstate(over="ignore"):
            if np.isfinite(ops.sum(x)):
                return True
    return bool(np.isfinite(x).all())


def _check_y(y, dtype, what):
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not _all_finite(np.ascontiguousarray(y)):
            raise ValueError(f"{what}: y contains NaN or infinite values")
        y = np.ascontiguousarray(y, dtype=dtype)
    elif y.dtype.kind in "iub" and y.dtype not in (np.int32, np.int64):
        y = y.astype(np.int64)  # once here, not at every step (labels as uint8, e.g. MNIST's)
    return y


def validate_arrays(model, x, y, sample_weight, what):
    """Check and convert fit / evaluate inputs before anything changes; returns (x, y, sample_weight).

    For a model with several inputs (outputs) x (y) becomes a list of arrays in input (output) order; it
    may be given as a list or a dict by name."""
    if x is None or y is None:
        raise ValueError(f"{what}: x and y are both required")
    dtype = model.dtype
    if model.takes_list:
        x = [_check_x(v, dtype, what) for v in model._input_list(x, what)]
    else:
        x = _check_x(x, dtype, what)
    multi_output = len(model.output_names) > 1
    if multi_output:
        y = [_check_y(v, dtype, what) for v in model._output_list(y, what)]
    else:
        if isinstance(y, dict) and len(y) == 1:
            y = next(iter(y.values()))
        y = _check_y(y, dtype, what)
    n = num_rows(x)
    for arr, kind in [(a, "x") for a in (x if isinstance(x, list) else [x])] + \
                     [(a, "y") for a in (y if isinstance(y, list) else [y])]:
        if len(arr) != n:
            raise ValueError(f"{what}: x and y must have the same number of samples, got {n} and {len(arr)}"
                             if kind == "y" else f"{what}: every input must have the same number of samples, "
                             f"got {n} and {len(arr)}")
    if sample_weight is not None:
        if multi_output and isinstance(sample_weight, (list, tuple, dict)):
            sample_weight = [None if w is None else _check_weight(w, n, dtype, what)
                             for w in model._output_list(sample_weight, what)]
        else:
            sample_weight = _check_weight(sample_weight, n, dtype, what)
    model.build_for([v.shape for v in x] if isinstance(x, list) else x.shape)
    return x, y, sample_weight


def _check_weight(w, n, dtype, what):
    w = np.asarray(w, dtype=dtype)
    if w.shape != (n,):
        raise ValueError(f"{what}: sample_weight must have shape ({n},), got {w.shape}")
    return w


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
        n = num_rows(x)
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
        multi = isinstance(x, list) or isinstance(y, list) or isinstance(sample_weight, list)
        # full shuffled batches of a single input are gathered into this buffer
        x_batch = None if isinstance(x, list) else np.empty((size,) + x.shape[1:], x.dtype)
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
                idx = slice(start, stop) if order is None else order[start:stop]
                if multi:
                    xb, yb, swb = take_rows(x, idx), take_rows(y, idx), take_rows(sample_weight, idx)
                else:
                    if order is None:
                        xb = x[idx]
                    else:
                        xb = ops.gather_rows(x, idx, x_batch) if stop - start == size else x[idx]
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
            rows = num_rows(xb)
            loss_sum += value * rows
            seen += rows
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
