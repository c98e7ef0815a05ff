"""The batch loops behind fit, evaluate and predict: batches, running means, callbacks, progress bar.

Their arguments arrive checked (pynn.training.validation); a training step runs under a StepGuard, so Ctrl-C
lands between steps (pynn.training.interrupts)."""
import math

import numpy as np

from pynn import ops, random_state
from pynn.training.interrupts import StepGuard
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


class EpochLoop:
    """Runs epochs of training steps, or one pass of evaluation or prediction, with callbacks and a progress
    bar. Arguments arrive checked (batch_size a positive int, verbose 0, 1 or 2)."""

    def __init__(self, model, batch_size, verbose, callbacks, epochs=1, steps_per_epoch=None, add_history=False):
        from pynn.callbacks import CallbackList
        self.model = model
        self.batch_size = batch_size
        self.epochs = epochs
        self.verbose = verbose
        self.steps_per_epoch = steps_per_epoch
        self.callbacks = CallbackList(callbacks, model=model, add_history=add_history)

    def _reset_metrics(self):
        for m in self.model.compiled_metrics:
            m.reset_state()

    def _logs(self, loss_sum, seen, prefix=""):
        logs = {prefix + "loss": float(loss_sum / max(seen, 1))}
        for m in self.model.compiled_metrics:
            logs[prefix + m.name] = float(m.result())
        return logs

    def run(self, x, y, sample_weight, validation_data, shuffle, initial_epoch, val_batch_size, validation_freq):
        """fit's epochs; validation_data is None or checked (x, y, sample_weight) arrays."""
        model, cb = self.model, self.callbacks
        n = num_rows(x)
        steps = math.ceil(n / self.batch_size)
        if self.steps_per_epoch:
            steps = min(steps, self.steps_per_epoch)
        cb.set_params({"epochs": self.epochs, "steps": steps, "verbose": self.verbose})
        model.stop_training = False
        rng = np.random.default_rng(random_state.next_seed())
        batch_hooks = cb.has_train_batch_hooks
        size = self.batch_size
        multi = isinstance(x, list) or isinstance(y, list) or isinstance(sample_weight, list)
        # full shuffled batches of a single input are gathered into this buffer
        x_batch = None if isinstance(x, list) else np.empty((size,) + x.shape[1:], x.dtype)
        guard = StepGuard()
        logs = {}
        with guard.installed():
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
                    try:
                        with guard:
                            value, y_pred = model._train_batch(xb, yb, swb)
                    except FloatingPointError as e:
                        raise FloatingPointError(f"fit: epoch {epoch + 1}, batch {step}: {e}") from None
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
                    val_logs = self.evaluate(vx, vy, vsw, val_batch_size, verbose=0)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                if bar is not None:
                    bar.update(steps, list(logs.items()), finalize=True)
                elif self.verbose == 2:
                    print(f"Epoch {epoch + 1}/{self.epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
                cb.on_epoch_end(epoch, logs)
                if model.stop_training:
                    break
            cb.on_train_end(logs)
        return model.history

    def evaluate(self, x, y, sample_weight, batch_size=None, verbose=None):
        """One pass over (x, y) with training=False, with the on_test_* hooks; returns {"loss": ..., metric: ...}."""
        model, cb = self.model, self.callbacks
        verbose = self.verbose if verbose is None else verbose
        size = batch_size or self.batch_size
        steps = math.ceil(num_rows(x) / size)
        bar = Progbar(steps) if verbose == 1 else None
        self._reset_metrics()
        cb.on_test_begin()
        loss_sum, seen = 0.0, 0
        for step, (xb, yb, swb) in enumerate(batches(x, size, y, sample_weight)):
            cb.on_test_batch_begin(step)
            value, y_pred = model._test_batch(xb, yb, swb)
            rows = num_rows(xb)
            loss_sum += value * rows
            seen += rows
            for m in model.compiled_metrics:
                m.update_state(yb, y_pred, swb)
            logs = self._logs(loss_sum, seen)
            cb.on_test_batch_end(step, logs)
            if bar is not None:
                bar.update(step + 1, list(logs.items()), finalize=step + 1 == steps)
        logs = self._logs(loss_sum, seen)
        cb.on_test_end(logs)
        return logs

    def predict(self, x):
        """The model's outputs for x, batch by batch, with the on_predict_* hooks (each batch's outputs are
        in the batch-end logs as "outputs")."""
        model, cb = self.model, self.callbacks
        steps = math.ceil(num_rows(x) / self.batch_size)
        bar = Progbar(steps) if self.verbose == 1 else None
        cb.on_predict_begin()
        outputs = []
        for step, xb in enumerate(batches(x, self.batch_size)):
            cb.on_predict_batch_begin(step)
            outputs.append(model._predict_batch(xb))
            cb.on_predict_batch_end(step, {"outputs": outputs[-1]})
            if bar is not None:
                bar.update(step + 1, [], finalize=step + 1 == steps)
        cb.on_predict_end()
        if isinstance(outputs[0], list):
            return [np.concatenate(parts) for parts in zip(*outputs)]
        return np.concatenate(outputs)


def _batch_order(rng, n, size):
    """A random permutation of range(n) whose batches of `size` are each sorted (rows are then gathered in
    memory order)."""
    order = rng.permutation(n)
    full = n // size * size
    order[:full].reshape(-1, size).sort(axis=1)
    order[full:].sort()
    return order
