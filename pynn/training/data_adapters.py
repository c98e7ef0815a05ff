"""Where the batches of fit / evaluate / predict come from: in-memory arrays, a Python generator (or any
iterator), or a PyDataset. Each source gives the loop the same thing: `steps` (batches per epoch, None when
only the source's end tells) and `epoch(rng)`, an iterator of (x, y, sample_weight) batches.

Arrays are checked whole before the first step (pynn.training.validation). A generator's or a PyDataset's
batches are checked one by one, each before its step, with the same checks and messages, which name the
batch. They are fetched ahead in the background (a thread for a generator; a PyDataset's `workers` threads or
processes), so the training step does not wait for Python to make the next batch.
"""
import concurrent.futures
import math
import multiprocessing
import queue
import threading

import numpy as np

from pynn import kernels
from pynn.training import validation
from pynn.utils.py_dataset import PyDataset


def is_stream(x):
    """Whether x is a batch source rather than data: a PyDataset, or an iterator (a generator, ...)."""
    return isinstance(x, PyDataset) or (hasattr(x, "__next__") and hasattr(x, "__iter__")
                                         and not isinstance(x, (np.ndarray, list, tuple, dict)))


def num_rows(a):
    return len(a[0]) if isinstance(a, list) else len(a)


def take_rows(a, index):
    """a[index], for each array of a list, None for None."""
    if a is None:
        return None
    if isinstance(a, list):
        return [v[index] for v in a]
    return a[index]


class ArrayBatches:
    """Checked in-memory arrays in batches of batch_size rows, shuffled each epoch when asked: the rows of
    each batch are in memory order, and a full batch of one input is gathered by the C++ team into a
    buffer reused from step to step."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle=False, steps=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.size, self.shuffle = batch_size, shuffle
        self.n = num_rows(x)
        self.steps = math.ceil(self.n / batch_size)
        if steps:
            self.steps = min(self.steps, steps)

    def epoch(self, rng=None):
        x, y, sample_weight, size, n = self.x, self.y, self.sample_weight, self.size, self.n
        order = _batch_order(rng, n, size) if self.shuffle else None
        multi = isinstance(x, list) or isinstance(y, list) or isinstance(sample_weight, list)
        gather = order is not None and not multi
        x_batch = np.empty((size,) + x.shape[1:], x.dtype) if gather else None
        for step in range(self.steps):
            start, stop = step * size, min(n, (step + 1) * size)
            index = slice(start, stop) if order is None else order[start:stop]
            if multi:
                yield take_rows(x, index), take_rows(y, index), take_rows(sample_weight, index)
                continue
            xb = kernels.gather_rows(x, index, x_batch) if gather and stop - start == size else x[index]
            yield xb, (None if y is None else y[index]), (None if sample_weight is None else sample_weight[index])

    def close(self):
        pass


class StreamBatches:
    """Batches from a generator / iterator or a PyDataset, checked one by one (`check(batch, label)` returns
    the checked (x, y, sample_weight)).

    A generator is read by one background thread for the whole run, so an epoch of `steps` batches leaves
    the generator where the next epoch goes on. Without `steps`, an epoch lasts until the generator ends
    (then the following epochs find it exhausted, and the loop stops with a warning, as Keras does). A
    PyDataset gives len() batches per epoch, by index, shuffled with the loop's seeded generator when asked,
    with its on_epoch_begin / on_epoch_end around each epoch."""

    def __init__(self, source, check, steps=None, shuffle=False):
        self.source, self.check, self.shuffle = source, check, shuffle
        self.dataset = source if isinstance(source, PyDataset) else None
        if self.dataset is not None:
            length = self.dataset.num_batches
            if isinstance(length, bool) or not isinstance(length, int) or length < 1:
                raise ValueError(f"{type(source).__name__}: len() must be a positive number of batches, got "
                                 f"{length!r}")
            self.steps = min(length, steps) if steps else length
            self._length = length
        else:
            self.steps = steps
            self._reader = _Prefetcher(iter(source), 10)
        self.exhausted = False

    def epoch(self, rng=None):
        if self.dataset is None:
            batches = self._reader.take(self.steps)
        else:
            order = np.arange(self._length)
            if self.shuffle:
                order = rng.permutation(self._length)
            batches = _fetch(self.dataset, order[:self.steps].tolist())
            self.dataset.on_epoch_begin()
        count = 0
        for batch in batches:
            yield self.check(batch, f"batch {count}")
            count += 1
        self.exhausted = count == 0 or (self.steps is not None and count < self.steps)
        if self.dataset is not None:
            self.dataset.on_epoch_end()

    def close(self):
        if self.dataset is None:
            self._reader.close()


def unpack(batch, label, what, need_targets=True):
    """(x, y, sample_weight) of a batch as a source yields it: (x, y), (x, y, sample_weight), or x alone
    (predict)."""
    if isinstance(batch, tuple):
        if 1 <= len(batch) <= 3:
            x, y, sample_weight = (batch + (None, None))[:3]
        else:
            raise ValueError(f"{what}: {label} is a tuple of {len(batch)} items; expected (x, y) or "
                             "(x, y, sample_weight)")
    else:
        x, y, sample_weight = batch, None, None
    if need_targets and y is None:
        raise ValueError(f"{what}: {label} has no targets; a generator or PyDataset for {what} yields "
                         "(x, y) or (x, y, sample_weight)")
    return x, y, sample_weight


def training_checker(model, what, class_weight=None):
    """check(batch, label) for fit / evaluate: the batch's arrays through the same checks as whole arrays."""
    def check(batch, label):
        x, y, sample_weight = unpack(batch, label, what)
        return validation.validate_arrays(model, x, y, sample_weight, f"{what} ({label})", class_weight)
    return check


def predict_checker(model):
    def check(batch, label):
        x, _, _ = unpack(batch, label, "predict", need_targets=False)
        return validation.model_inputs(model, x, f"predict ({label})", training=False), None, None
    return check


# ---------------------------------------------------------------------------------------------- fetching
_DONE = object()


class _Prefetcher:
    """Reads an iterator in a background thread, up to `size` items ahead. take(n) yields the next n items
    (all of them when n is None) as the iterator gave them; an exception in the iterator is raised there."""

    def __init__(self, iterator, size):
        self._queue = queue.Queue(size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iterator,), daemon=True, name="pynn-prefetch")
        self._thread.start()
        self._ended = False

    def _run(self, iterator):
        while not self._stop.is_set():
            try:
                item = ("item", next(iterator))
            except StopIteration:
                item = ("end", None)
            except BaseException as e:  # handed to the consumer, which raises it
                item = ("error", e)
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if item[0] != "item":
                return

    def take(self, n):
        taken = 0
        while not self._ended and (n is None or taken < n):
            kind, value = self._queue.get()
            if kind == "end":
                self._ended = True
                return
            if kind == "error":
                self._ended = True
                raise value
            taken += 1
            yield value

    def close(self):
        self._stop.set()
        self._thread.join(timeout=1.0)


def _fetch(dataset, indices):
    """dataset[i] for i in indices, in order, fetched ahead by the dataset's workers (threads, or 'spawn'
    processes with use_multiprocessing) with at most max_queue_size batches pending."""
    workers, ahead = dataset.workers, max(dataset.max_queue_size, 1)
    if dataset.use_multiprocessing:
        executor = concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_set_worker_dataset,
            initargs=(dataset,))
        fetch = _worker_item
    else:
        executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="pynn-dataset")
        fetch = dataset.__getitem__
    with executor:
        pending = [executor.submit(fetch, i) for i in indices[:ahead]]
        next_index = len(pending)
        try:
            while pending:
                result = pending.pop(0).result()
                if next_index < len(indices):
                    pending.append(executor.submit(fetch, indices[next_index]))
                    next_index += 1
                yield result
        finally:
            for future in pending:
                future.cancel()


_worker_dataset = None


def _set_worker_dataset(dataset):
    global _worker_dataset
    _worker_dataset = dataset


def _worker_item(index):
    return _worker_dataset[index]


def _batch_order(rng, n, size):
    """A random permutation of range(n) whose batches of `size` are each sorted (rows are then gathered in
    memory order)."""
    order = rng.permutation(n)
    full = n // size * size
    order[:full].reshape(-1, size).sort(axis=1)
    order[full:].sort()
    return order
