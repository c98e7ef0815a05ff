"""What compile sets up per output: its loss (weighted, fused with the output's activation where it can be),
its metrics, and the running means fit reports ("<output>_loss", "<output>_<metric>").

As in Keras 3, sample weights (and class weights, which fit turns into sample weights) weight the loss and
the `weighted_metrics`, never the `metrics`; a weighted metric whose name is already taken is logged as
"weighted_<name>" (Keras's CompileMetrics.result)."""
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


class CompiledMetric:
    """A metric as compile set it up: the output it reads (index None: the model's only one), whether sample
    weights reach it (weighted_metrics) or not (metrics), and the name it is logged under."""

    def __init__(self, metric, name, index=None, weighted=False):
        self.metric, self.name, self.index, self.weighted = metric, name, index, weighted

    def reset_state(self):
        self.metric.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.index is not None:
            y_true, y_pred = y_true[self.index], y_pred[self.index]
        if not self.weighted:
            return self.metric.update_state(y_true, y_pred)   # as Keras calls an unweighted metric
        if self.index is not None:
            sample_weight = output_weight(sample_weight, self.index)
        return self.metric.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self.metric.result()


def compiled_metrics(per_output_metrics, per_output_weighted, output_names):
    """[CompiledMetric] for compile's metrics, then its weighted_metrics, each given per output (lists from
    metrics_per_output), made and named as Keras 3's compile does: a string names the metric ('mse' logs
    "mse", though metrics.get('mse') is "mean_squared_error"), an object keeps its own name; with several
    outputs the output's name comes first; a name taken again gets "_1", "_2", ... and a weighted metric whose
    name is taken becomes "weighted_<name>"."""
    from pynn import metrics as metrics_module
    single = len(output_names) == 1
    made = []
    for weighted, per_output in ((False, per_output_metrics), (True, per_output_weighted)):
        for k, identifiers in enumerate(per_output):
            for identifier in identifiers:
                metric = metrics_module.get(identifier)
                if metric is None:
                    raise ValueError(f"compile: {'weighted_metrics' if weighted else 'metrics'} for output "
                                     f"{output_names[k]!r} holds None; leave it out instead")
                if isinstance(identifier, str):
                    metric.name = identifier
                made.append((metric, None if single else k, weighted))
    taken, out = {}, []
    for metric, k, weighted in made:
        prefix = "" if k is None else f"{output_names[k]}_"
        name = prefix + metric.name
        if name not in taken:
            taken[name] = 1
        elif not weighted:
            taken[name] += 1
            name = f"{name}_{taken[name] - 1}"
        else:
            name = f"{prefix}weighted_{metric.name}"
            if name not in taken:
                taken[name] = 1
            else:
                taken[name] += 1
                name = f"{name}_{taken[name] - 1}"
        out.append(CompiledMetric(metric, name, k, weighted))
    return out


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


def metrics_per_output(metrics, names, what="metrics"):
    """compile's metrics (or weighted_metrics) as one list per output: a dict by output name, a list of lists
    in output order, or a flat list that every output gets."""
    if not metrics:
        return [[] for _ in names]
    if not isinstance(metrics, (list, tuple, dict)):
        raise ValueError(f"compile: {what} must be a list, tuple or dict (as in Keras 3), received {what}="
                         f"{metrics!r:.80} of type {type(metrics).__name__}; e.g. {what}=[{metrics!r:.40}]")
    if isinstance(metrics, dict):
        per = per_output(metrics, names, what, allow_missing=True)
        return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m]) for m in per]
    metrics = list(metrics)
    if len(names) > 1 and len(metrics) == len(names) and all(isinstance(m, (list, tuple)) or m is None
                                                               for m in metrics):
        return [[] if m is None else list(m) for m in metrics]
    return [list(metrics) for _ in names]  # a flat list: every output gets each metric
