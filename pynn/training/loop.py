"""The batch loops behind fit, evaluate and predict: batches, running means, callbacks, progress bar.

Their arguments arrive checked (pynn.training.validation); a training step runs under a StepGuard, so Ctrl-C
lands between steps (pynn.training.interrupts)."""
import warnings

import numpy as np

from pynn import random_state
from pynn.training.data_adapters import num_rows
from pynn.training.interrupts import StepGuard
from pynn.training.progbar import Progbar, format_value, log_value


class EpochLoop:
    """Runs epochs of training steps, or one pass of evaluation or prediction, with callbacks and a progress
    bar, over batch sources (pynn.training.data_adapters). Arguments arrive checked (verbose 0, 1 or 2)."""

    def __init__(self, model, verbose, callbacks, epochs=1, add_history=False):
        from pynn.callbacks import CallbackList
        # With a DistributedOptimizer over several ranks (pynn.distributed): fit's epoch and validation logs are
        # averaged over the ranks, and only rank 0 prints and runs the callbacks that write files.
        self.replicas = getattr(model.optimizer, "replicas", None)
        if self.replicas is not None and self.replicas.rank != 0:
            verbose = 0
            callbacks = [c for c in callbacks or () if not getattr(c, "rank_0_only", False)]
        self.model = model
        self.epochs = epochs
        self.verbose = verbose
        self.callbacks = CallbackList(callbacks, model=model, add_history=add_history)

    def _reset_metrics(self, custom=False):
        for m in (self.model.metrics if custom else self.model.compiled_metrics):
            m.reset_state()

    @staticmethod
    def _custom_logs(logs, what):
        """A train_step / test_step override's logs as numbers (or per-class arrays)."""
        if not isinstance(logs, dict):
            raise TypeError(f"{what} must return a dict of logs {{name: value}}, got {type(logs).__name__}")
        from pynn.ops.tensor import value_of
        return {k: log_value(np.asarray(value_of(v))) for k, v in logs.items()}

    def _logs(self, loss_sum, seen, prefix=""):
        logs = {prefix + "loss": float(loss_sum / max(seen, 1))}
        for m in self.model.compiled_metrics:
            logs[prefix + m.name] = log_value(m.result())
        return logs

    def _averaged(self, logs, seen):
        """The logs averaged over the ranks, weighted by the samples each saw (as they are in one process)."""
        if self.replicas is None:
            return logs
        from pynn.distributed.collectives import average_logs
        return average_logs(self.replicas, logs, seen)

    def run(self, data, validation_data, initial_epoch, validation_freq):
        """fit's epochs over `data` (a source from pynn.training.data_adapters); validation_data is None or
        another source, evaluated every validation_freq epochs."""
        model, cb = self.model, self.callbacks
        steps = data.steps
        cb.set_params({"epochs": self.epochs, "steps": steps, "verbose": self.verbose})
        model.stop_training = False
        model._initial_epoch = None     # BackupAndRestore sets it at on_train_begin to resume from a backup
        rng = model._shuffle_rng = np.random.default_rng(random_state.next_seed())   # and restores its state
        batch_hooks = cb.has_train_batch_hooks
        custom = model._custom_step("train")
        logs = {}
        with StepGuard() as guard:
            cb.on_train_begin()
            model._sync_replicas()
            if model._initial_epoch is not None:
                initial_epoch = model._initial_epoch
            for epoch in range(initial_epoch, self.epochs):
                self._reset_metrics(custom)
                cb.on_epoch_begin(epoch)
                if self.verbose == 1:
                    print(f"Epoch {epoch + 1}/{self.epochs}")
                bar = Progbar(steps) if self.verbose == 1 else None
                loss_sum, seen, step = 0.0, 0, 0
                step_logs = {}
                for step, (xb, yb, swb) in enumerate(data.epoch(rng)):
                    if batch_hooks:
                        cb.on_train_batch_begin(step)
                    if custom:
                        with guard.step:
                            step_logs = self._custom_logs(model.train_step(_step_data(xb, yb, swb)), "train_step")
                        seen += num_rows(xb)
                        if batch_hooks:
                            cb.on_train_batch_end(step, step_logs)
                        if bar is not None:
                            bar.update(step + 1, list(step_logs.items()), finalize=False)
                        continue
                    try:
                        with guard.step:
                            value, y_pred = model._train_batch(xb, yb, swb)
                    except FloatingPointError as e:
                        raise FloatingPointError(f"fit: epoch {epoch + 1}, batch {step}: {e}") from None
                    rows = num_rows(xb)
                    loss_sum += value * rows
                    seen += rows
                    for m in model.compiled_metrics:
                        m.update_state(yb, y_pred, swb)
                    if batch_hooks or bar is not None:
                        logs = self._logs(loss_sum, seen)
                        if batch_hooks:
                            cb.on_train_batch_end(step, logs)
                        if bar is not None:
                            bar.update(step + 1, list(logs.items()), finalize=False)
                if seen == 0:          # a generator that has run out: stop, as Keras does
                    warnings.warn(f"fit: the training data ran out at epoch {epoch + 1}; training stops. Give "
                                  "steps_per_epoch (batches per epoch) or a PyDataset for several epochs.")
                    break
                logs = self._averaged(step_logs if custom else self._logs(loss_sum, seen), seen)
                if validation_data is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = self.evaluate(validation_data, verbose=0, what="fit (validation_data)")
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                if bar is not None:
                    bar.update(step + 1, list(logs.items()), finalize=True)
                elif self.verbose == 2:
                    values = " - ".join(f"{k}: {format_value(v)}" for k, v in logs.items())
                    print(f"Epoch {epoch + 1}/{self.epochs} - {values}")
                cb.on_epoch_end(epoch, logs)
                if model.stop_training:
                    break
            cb.on_train_end(logs)
        return model.history

    def evaluate(self, data, verbose=None, what="evaluate"):
        """One pass over `data` with training=False, with the on_test_* hooks; returns {"loss": ..., metric: ...}."""
        model, cb = self.model, self.callbacks
        verbose = self.verbose if verbose is None else verbose
        bar = Progbar(data.steps) if verbose == 1 else None
        batch_hooks = cb.has_batch_hooks("test")
        custom = model._custom_step("test")
        self._reset_metrics(custom)
        cb.on_test_begin()
        loss_sum, seen, step = 0.0, 0, 0
        step_logs = {}
        for step, (xb, yb, swb) in enumerate(data.epoch()):
            if batch_hooks:
                cb.on_test_batch_begin(step)
            if custom:
                step_logs = self._custom_logs(model.test_step(_step_data(xb, yb, swb)), "test_step")
                seen += num_rows(xb)
                if batch_hooks:
                    cb.on_test_batch_end(step, step_logs)
                if bar is not None:
                    bar.update(step + 1, list(step_logs.items()), finalize=False)
                continue
            value, y_pred = model._test_batch(xb, yb, swb)
            rows = num_rows(xb)
            loss_sum += value * rows
            seen += rows
            for m in model.compiled_metrics:
                m.update_state(yb, y_pred, swb)
            if batch_hooks or bar is not None:     # the running means, only when someone reads them
                logs = self._logs(loss_sum, seen)
                if batch_hooks:
                    cb.on_test_batch_end(step, logs)
                if bar is not None:
                    bar.update(step + 1, list(logs.items()), finalize=False)
        if seen == 0:
            raise ValueError(f"{what}: the data gave no batch (a generator that has run out?); give steps / "
                             "validation_steps, or a PyDataset")
        logs = step_logs if custom else self._logs(loss_sum, seen)
        if what.startswith("fit"):          # fit's validation, on every rank; model.evaluate stays this rank's
            logs = self._averaged(logs, seen)
        if bar is not None:
            bar.update(step + 1, list(logs.items()), finalize=True)
        cb.on_test_end(logs)
        return logs

    def predict(self, data):
        """The model's outputs for every batch of `data`, concatenated, with the on_predict_* hooks (each batch's
        outputs are in the batch-end logs as "outputs")."""
        model, cb = self.model, self.callbacks
        bar = Progbar(data.steps) if self.verbose == 1 else None
        batch_hooks = cb.has_batch_hooks("predict")
        cb.on_predict_begin()
        outputs = []
        for step, (xb, _, _) in enumerate(data.epoch()):
            if batch_hooks:
                cb.on_predict_batch_begin(step)
            outputs.append(model._predict_batch(xb))
            if batch_hooks:
                cb.on_predict_batch_end(step, {"outputs": outputs[-1]})
            if bar is not None:
                bar.update(step + 1, [], finalize=False)
        if bar is not None:
            bar.update(len(outputs), [], finalize=True)
        cb.on_predict_end()
        return joined_outputs(outputs)


def predict_quietly(model, data):
    """EpochLoop.predict without callbacks or a progress bar (predict's verbose=0 path): the model's outputs
    for every batch of `data`, concatenated, with no per-batch Python beyond the batch itself."""
    return joined_outputs([model._predict_batch(xb) for xb, _, _ in data.epoch()])


def joined_outputs(outputs):
    """predict's per-batch outputs (arrays, or lists of arrays for several outputs) as one array per output."""
    if not outputs:
        raise ValueError("predict: the data gave no batch (a generator that has run out?)")
    if isinstance(outputs[0], list):
        return [np.concatenate(parts) for parts in zip(*outputs)]
    return np.concatenate(outputs)


def _step_data(x, y, sample_weight):
    """What train_step / test_step get, as Keras passes it: x alone, (x, y) or (x, y, sample_weight)."""
    if y is None and sample_weight is None:
        return x
    return (x, y) if sample_weight is None else (x, y, sample_weight)
