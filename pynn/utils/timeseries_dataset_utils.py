"""timeseries_dataset_from_array (Keras 3's keras.utils.timeseries_dataset_from_array)."""
import numpy as np

from pynn.utils.dataset_utils import SampleBatches


class TimeseriesDataset(SampleBatches):
    """The PyDataset timeseries_dataset_from_array returns: batches of windows `(batch, sequence_length,
    ...)` and, with targets, `(windows, targets)`.

    Attributes:
        start_positions: the first index (relative to start_index) of each window, in the first epoch's
            order.
    """

    def __init__(self, data, targets, start_positions, sequence_length, sampling_rate, batch_size, shuffle,
                 seed):
        self.data, self.targets = data, targets
        self.start_positions = start_positions
        self._steps = np.arange(sequence_length, dtype=np.int64) * sampling_rate
        super().__init__(len(start_positions), batch_size, self._windows, shuffle=shuffle, seed=seed)

    def _windows(self, samples, single):
        positions = self.start_positions[samples]
        x = self.data[positions[:, None] + self._steps]
        if single:
            x = x[0]
        if self.targets is None:
            return x
        y = self.targets[positions]
        return x, (y[0] if single else y)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None,
                                  **kwargs):
    """Creates a dataset of sliding windows over a timeseries provided as array.

    Window i starts at `start_index + p_i` and holds the `sequence_length` timesteps
    `data[start_index + p_i + k * sampling_rate]`, k = 0 .. sequence_length - 1; its target is
    `targets[start_index + p_i]`. The p_i are 0, sequence_stride, 2 * sequence_stride, ... up to the last
    window that ends before `end_index` (and, with targets, `p_i < len(targets)`).

    Args:
        data: an array (or list) of timesteps, axis 0 being time.
        targets: the targets, `targets[i]` that of the window starting at `data[i]`; None for windows alone.
        sequence_length: the number of timesteps in a window.
        sequence_stride: the distance between the starts of consecutive windows.
        sampling_rate: the distance between consecutive timesteps within a window.
        batch_size: windows per batch (the last one may be smaller); None: one window per item, unbatched.
        shuffle: whether to shuffle the windows.
        seed: the seed of the shuffle.
        start_index, end_index: only `data[start_index:end_index]` is used (end_index excluded).

    Returns:
        A TimeseriesDataset (a pynn.utils.PyDataset) yielding `(windows, targets)` batches, or windows alone
        without targets; fit / evaluate / predict take it.

    Order. Without shuffle, the windows come in time order, as in Keras. With shuffle, the first epoch's
    order is Keras's permutation of the windows (np.random.RandomState(seed).shuffle of the start
    positions); Keras then shuffles again within a tf.data buffer of 8 batches with TF's generator, which is
    not reproduced: here the windows are instead fully reshuffled after each epoch by a RandomState(seed)
    stream, so the batches are the same for the same seed, run after run. Without a seed, one is drawn
    from NumPy's global generator, as in Keras.
    """
    fmt = kwargs.pop("format", "tf")
    if kwargs:
        raise TypeError(f"timeseries_dataset_from_array() got unexpected keyword arguments: {list(kwargs)}")
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= len(data):
            raise ValueError("`start_index` must be lower than the length of the data. Received: "
                             f"start_index={start_index}, for data of length {len(data)}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError("`end_index` must be higher than `start_index`. Received: "
                             f"start_index={start_index}, and end_index={end_index} ")
        if end_index >= len(data):
            raise ValueError("`end_index` must be lower than the length of the data. Received: "
                             f"end_index={end_index}, for data of length {len(data)}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ValueError(f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}")
    if sampling_rate >= len(data):
        raise ValueError("`sampling_rate` must be lower than the length of the data. Received: "
                         f"sampling_rate={sampling_rate}, for data of length {len(data)}")
    if sequence_stride <= 0:
        raise ValueError(f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}")
    if sequence_stride >= len(data):
        raise ValueError("`sequence_stride` must be lower than the length of the data. Received: "
                         f"sequence_stride={sequence_stride}, for data of length {len(data)}")
    if fmt not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={fmt}')

    if start_index is None:
        start_index = 0
    if end_index is None:
        end_index = len(data)
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    index_dtype = "int32" if num_seqs < 2147483647 else "int64"
    start_positions = np.arange(0, num_seqs, sequence_stride, dtype=index_dtype)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        rng = np.random.RandomState(seed)
        rng.shuffle(start_positions)
        seed = rng  # the epoch reshuffles continue this stream
    window_data = np.asarray(data)[start_index:end_index]
    window_targets = None if targets is None else np.asarray(targets)[start_index:end_index]
    return TimeseriesDataset(window_data, window_targets, start_positions.astype(np.int64), int(sequence_length),
                             int(sampling_rate), batch_size, shuffle, seed)
