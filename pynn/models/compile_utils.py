"""What compile sets up per output: its loss (weighted, fused with the output's activation where it can be),
its metrics, and the running means fit reports ("<output>_loss", "<output>_<metric>")."""
import numpy as np


class OutputLoss:
    """One output's loss: its weight, the activation fused into it, and (with several outputs) the running
    mean reported as '<output>_loss'."""

    def __init__(self, index, name, loss, weight, fused, tracker_name):
        self.index, self.name, self.loss, self.weight, self.fused = index, name, loss, weight, fused
        self.tracker = LossTracker(tracker_name) if tracker_name else None

    def value_and_gradient(self, y, out, sample_weight):
        """(weighted loss, gradient w.r.t. the output as the forward pass made it, prediction)."""
        if self.loss is None:
            return 0.0, None, out
        if self.fused is not None:
            value, dout = self.loss.value_and_gradient_from_logits(y, out, self.fused.name, sample_weight)
            y_pred = self.fused.forward(out)
        else:
            value, dout = self.loss.value_and_gradient(y, out, sample_weight)
            y_pred = out
        value = float(value)
        if self.tracker is not None:
            self.tracker.record(value, len(out))
        if self.weight != 1.0:
            value, dout = value * self.weight, dout * self.weight
        return value, np.ascontiguousarray(dout, dtype=out.dtype), y_pred

    def value(self, y, y_pred, sample_weight):
        if self.loss is None:
            return 0.0
        value = float(self.loss(y, y_pred, sample_weight))
        if self.tracker is not None:
            self.tracker.record(value, len(y_pred))
        return value * self.weight


class LossTracker:
    """The mean of one output's loss over the batches of an epoch (fed by the training step itself)."""

    def __init__(self, name):
        self.name = name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def record(self, value, n):
        self.total += value * n
        self.count += n

    def update_state(self, y_true, y_pred, sample_weight=None):
        pass

    def result(self):
        return self.total / self.count if self.count else 0.0


class OutputMetric:
    """A metric of one output of a multi-output model, reported as '<output>_<metric>'."""

    def __init__(self, metric, index, output_name):
        self.metric, self.index = metric, index
        self.name = f"{output_name}_{metric.name}"

    def reset_state(self):
        self.metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.metric.update_state(y_true[self.index], y_pred[self.index], output_weight(sample_weight, self.index))

    def result(self):
        return self.metric.result()


def output_weight(sample_weight, k):
    return sample_weight[k] if isinstance(sample_weight, list) else sample_weight


def per_output(value, names, what, allow_missing=False, scalar=False):
    """One entry per output from a single value, a list in output order or a dict by output name."""
    n = len(names)
    if isinstance(value, dict):
        unknown = set(value) - set(names)
        if unknown:
            raise ValueError(f"compile: {what} names unknown output(s) {sorted(unknown)}; the outputs are {names}")
        if not allow_missing and not scalar and len(value) != n:
            raise ValueError(f"compile: {what} needs an entry for each output {names}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"compile: this model has {n} output(s) {names}, got {len(value)} {what}")
        return list(value)
    return [value] * n


def metrics_per_output(metrics, names):
    if metrics is None:
        return [[] for _ in names]
    if isinstance(metrics, dict):
        per = per_output(metrics, names, "metrics", allow_missing=True)
        return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m]) for m in per]
    metrics = list(metrics)
    if len(names) > 1 and len(metrics) == len(names) and all(isinstance(m, (list, tuple)) or m is None
                                                               for m in metrics):
        return [[] if m is None else list(m) for m in metrics]
    return [list(metrics) for _ in names]  # a flat list: every output gets each metric
