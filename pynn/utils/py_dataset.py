"""PyDataset: a data set that fit / evaluate / predict read batch by batch (Keras 3's keras.utils.PyDataset)."""


class PyDataset:
    """Base class of a data set served in batches by index, for data that does not fit in memory or is made
    on the fly (files read, images augmented, ...).

    A subclass defines `__len__` (the number of batches per epoch) and `__getitem__(index)`, which returns
    one batch: `(x, y)`, `(x, y, sample_weight)`, or `x` alone for predict; x and y as fit takes them (an
    array, or a list / dict of arrays for several inputs or outputs). It may define `on_epoch_begin()` and
    `on_epoch_end()` (called around each epoch; e.g. reshuffle there). fit runs the batches in index order,
    or in a shuffled order with `shuffle=True` (fit's default), drawn from pynn's seeded random stream.

    Batches are fetched ahead of the training step, in the background, so that the step does not wait for
    them: `workers` threads (or, with `use_multiprocessing=True`, processes started with the 'spawn' method,
    to which the data set must pickle), keeping up to `max_queue_size` batches ready. The order of batches
    is the same whatever the number of workers.

    Args:
        workers: how many threads (or processes) fetch batches; 1 is one background thread.
        use_multiprocessing: fetch in processes instead of threads (for __getitem__ that holds the GIL).
        max_queue_size: the most batches fetched ahead.

    Example:
        class Batches(pynn.utils.PyDataset):
            def __init__(self, x, y, batch_size, **kwargs):
                super().__init__(**kwargs)
                self.x, self.y, self.batch_size = x, y, batch_size

            def __len__(self):
                return math.ceil(len(self.x) / self.batch_size)

            def __getitem__(self, index):
                rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
                return self.x[rows], self.y[rows]

        model.fit(Batches(x, y, 32, workers=2), epochs=5)
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {value!r}")
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    # Subclasses that forget super().__init__() still get the defaults.
    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) -> a batch")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__() -> the number of batches")

    @property
    def num_batches(self):
        """The number of batches per epoch (len(self))."""
        return len(self)

    def on_epoch_begin(self):
        """Called before each epoch."""

    def on_epoch_end(self):
        """Called after each epoch."""


Sequence = PyDataset   # Keras 2's keras.utils.Sequence, which Keras 3 keeps as an alias
