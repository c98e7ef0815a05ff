"""The pruning callbacks: UpdatePruningStep (required by fit on a model being pruned) and PruningSummaries."""
from pynn.callbacks.callback import Callback
from pynn.callbacks.tensorboard import _summary_writer_class

__all__ = ["UpdatePruningStep", "PruningSummaries"]


def pruning_wrappers(model):
    """Every PruneLowMagnitude layer of a model, nested models included."""
    from pynn.pruning.wrapper import PruneLowMagnitude
    return [layer for layer in model._self_and_sublayers() if isinstance(layer, PruneLowMagnitude)]


class UpdatePruningStep(Callback):
    """Sets each PruneLowMagnitude layer's pruning step before every training batch (the optimizer's step
    count at the start of fit, plus the batches since), and multiplies the weights by their masks after
    every batch, so that the optimizer's update leaves pruned weights at zero.

    Example:
        model.fit(x, y, epochs=2, callbacks=[pynn.pruning.UpdatePruningStep()])
    """

    def __init__(self):
        super().__init__()
        self.step = 0
        self._layers = []

    def on_train_begin(self, logs=None):
        self._layers = pruning_wrappers(self.model)
        optimizer = getattr(self.model, "optimizer", None)
        self.step = int(optimizer.iterations) if optimizer is not None else 0

    def on_train_batch_begin(self, batch, logs=None):
        for layer in self._layers:
            if layer.pruning_step is not None:
                layer.pruning_step.value[...] = self.step
        self.step += 1

    def on_train_batch_end(self, batch, logs=None):
        for layer in self._layers:
            layer.apply_masks()

    def on_epoch_end(self, epoch, logs=None):
        for layer in self._layers:
            layer.apply_masks()


class PruningSummaries(Callback):
    """Writes each pruned weight's sparsity and threshold as TensorBoard scalars
    ("<layer>/<weight>/sparsity", "<layer>/<weight>/threshold" in log_dir/metrics), at every epoch's end
    (update_freq="epoch") or every update_freq batches. Needs tensorboardX, as the TensorBoard callback does.
    Use it with UpdatePruningStep."""

    rank_0_only = True

    def __init__(self, log_dir, update_freq="epoch"):
        super().__init__()
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"PruningSummaries: update_freq must be 'epoch' or a positive integer, got "
                             f"{update_freq!r}")
        self.log_dir = log_dir
        self.update_freq = update_freq
        self._writer_class = _summary_writer_class()
        self._writer = None
        self._batches = 0

    def get_config(self):
        return {"log_dir": self.log_dir, "update_freq": self.update_freq}

    def _write(self, step):
        import os
        if self._writer is None:
            self._writer = self._writer_class(os.path.join(self.log_dir, "metrics"))
        for layer in pruning_wrappers(self.model):
            for weight, mask, threshold in layer.pruned:
                tag = f"{layer.name}/{weight.name}"
                sparsity = 1.0 - float(mask.value.mean())
                self._writer.add_scalar(f"{tag}/sparsity", sparsity, step)
                self._writer.add_scalar(f"{tag}/threshold", float(threshold.value), step)
        self._writer.flush()

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.update_freq != "epoch" and self._batches % self.update_freq == 0:
            self._write(self._batches)

    def on_epoch_end(self, epoch, logs=None):
        if self.update_freq == "epoch":
            self._write(epoch)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
