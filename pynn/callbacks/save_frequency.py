"""The save_freq=<int> rule that ModelCheckpoint and BackupAndRestore share."""


class SavesEveryNBatches:
    """Mixin: `_should_save_on_batch(batch)` is True once every `save_freq` training batches, counted across
    epochs (Keras's rule); always False with save_freq="epoch". The class sets `save_freq`, and
    `_batches_seen_since_last_saving` and `_last_batch_seen` to 0 at the start of training."""

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False
