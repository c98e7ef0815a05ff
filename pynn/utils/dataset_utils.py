"""split_dataset (Keras 3's keras.utils.split_dataset) and what the *_dataset_from_directory functions share:
indexing a directory, the training / validation split, label encoding, and the PyDataset they return."""
import math
import os
import random

import numpy as np

from pynn.utils.py_dataset import PyDataset


# ------------------------------------------------------------------------------------------ split_dataset
def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Splits a dataset into a left half and a right half (e.g. train / test).

    Args:
        dataset: a NumPy array, or a tuple / list of NumPy arrays with the same number of rows (e.g.
            `(x, y)`).
        left_size: a float in (0, 1): the fraction of the samples in the left split; an int: their number;
            None: the complement of `right_size`.
        right_size: the same for the right split; None: the complement of `left_size`.
        shuffle: whether to shuffle the samples before splitting.
        seed: the seed of the shuffle (Python's `random.Random(seed).shuffle`, which is what Keras uses:
            the same seed gives Keras's split). Without one, a seed is drawn from Python's `random`.
        preferred_backend: accepted for Keras compatibility and ignored (the splits are NumPy arrays).

    Returns:
        (left, right), each of the input's kind: an array for an array, a tuple (list) of arrays for a
        tuple (list), holding the chosen rows in order. Keras returns tf.data / torch datasets of the same
        samples; here `model.fit(*left)` (or `left[0], left[1]`) trains on them.

    The left split is the first `left_size` samples (after the shuffle), the right split the last
    `right_size`: with sizes summing to less than the total, the samples in between are in neither.

    Example:
        (x_train, y_train), (x_test, y_test) = pynn.utils.split_dataset((x, y), left_size=0.8)
    """
    del preferred_backend
    kind = _get_type_spec(dataset)
    if kind is None:
        raise TypeError("The `dataset` argument must be either a NumPy array, or a list/tuple of NumPy arrays. "
                        f"Received: dataset={dataset} of type {type(dataset)}")
    if right_size is None and left_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    total_length = _dataset_length(dataset, kind)
    order = list(range(total_length))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    left_size, right_size = _rescale_dataset_split_sizes(left_size, right_size, total_length)
    order = np.asarray(order, dtype=np.int64)
    left, right = order[:left_size], order[total_length - right_size:]

    def take(rows):
        if kind is np.ndarray:
            return dataset[rows]
        return kind(np.asarray(a)[rows] for a in dataset)
    return take(left), take(right)


def _get_type_spec(dataset):
    if isinstance(dataset, tuple):
        return tuple
    if isinstance(dataset, list):
        return list
    if isinstance(dataset, np.ndarray):
        return np.ndarray
    return None


def _dataset_length(dataset, kind):
    """The number of samples, after Keras's checks of a list / tuple of arrays."""
    if kind is np.ndarray:
        if dataset.ndim == 0:
            raise TypeError("len() of unsized object: a 0-d array is not a dataset")
        n = len(dataset)
    else:
        what = "list" if kind is list else "tuple"
        if len(dataset) == 0:
            raise ValueError(f"Received an empty {what} dataset. Please provide a non-empty {what} of arrays.")
        expected_shape = None
        for i, element in enumerate(dataset):
            if not isinstance(element, np.ndarray):
                raise ValueError(f"Expected a {what} of `numpy.ndarray` objects,Received: {type(element)} at "
                                 f"index {i}.")
            if element.ndim == 0:
                raise ValueError(f"Expected arrays with a first (sample) dimension, got a 0-d array at index {i}.")
            if expected_shape is None:
                expected_shape = element.shape
            elif element.shape[0] != expected_shape[0]:
                raise ValueError(f"Received a {what} of NumPy arrays with different lengths.Mismatch found at "
                                 f"index {i}, Expected shape={expected_shape} Received shape={element.shape}."
                                 f"Please provide a {what} of NumPy arrays of the same length.")
        n = expected_shape[0]
    if n == 0:
        raise ValueError("Received an empty dataset. Argument `dataset` must be a non-empty list/tuple of "
                         "`numpy.ndarray` objects or `tf.data.Dataset` objects.")
    return n


def _rescale_dataset_split_sizes(left_size, right_size, total_length):
    """(left, right) integer sizes from Keras's left_size / right_size (ints, fractions or None), with
    Keras's checks and messages."""
    left_size_type = type(left_size)
    right_size_type = type(right_size)

    if (left_size is not None and left_size_type not in [int, float]) and (
            right_size is not None and right_size_type not in [int, float]):
        raise TypeError("Invalid `left_size` and `right_size` Types. Expected: integer or float or None, "
                        f"Received: type(left_size)={left_size_type} and type(right_size)={right_size_type}")
    if left_size is not None and left_size_type not in [int, float]:
        raise TypeError("Invalid `left_size` Type. Expected: int or float or None, "
                        f"Received: type(left_size)={left_size_type}.  ")
    if right_size is not None and right_size_type not in [int, float]:
        raise TypeError("Invalid `right_size` Type. Expected: int or float or None,"
                        f"Received: type(right_size)={right_size_type}.")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split sizes must be "
                         "non-zero.")
    if (left_size_type is int and (left_size <= 0 or left_size >= total_length)
            or left_size_type is float and (left_size <= 0 or left_size >= 1)):
        raise ValueError(f"`left_size` should be either a positive integer smaller than {total_length}, or a "
                         f"float within the range `[0, 1]`. Received: left_size={left_size}")
    if (right_size_type is int and (right_size <= 0 or right_size >= total_length)
            or right_size_type is float and (right_size <= 0 or right_size >= 1)):
        raise ValueError(f"`right_size` should be either a positive integer and smaller than {total_length} or a "
                         f"float within the range `[0, 1]`. Received: right_size={right_size}")
    if right_size_type is left_size_type is float and right_size + left_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or "
                         "equal to 1.")

    if left_size_type is float:
        left_size = round(left_size * total_length)
    elif left_size_type is int:
        left_size = float(left_size)
    if right_size_type is float:
        right_size = round(right_size * total_length)
    elif right_size_type is int:
        right_size = float(right_size)

    if left_size is None:
        left_size = total_length - right_size
    elif right_size is None:
        right_size = total_length - left_size

    if left_size + right_size > total_length:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the {total_length}. "
                         f"Received: left_size + right_size = {left_size + right_size}and total_length = "
                         f"{total_length}")
    for split, side in [(left_size, "left"), (right_size, "right")]:
        if split == 0:
            raise ValueError(f"With `dataset` of length={total_length}, `left_size`={left_size} and "
                             f"`right_size`={right_size}.Resulting {side} side dataset split will be empty. "
                             "Adjust any of the aforementioned parameters")
    return int(left_size), int(right_size)


# ------------------------------------------------------------------------------------------ directories
def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """(file_paths, labels, class_names) of the files of `directory` whose names end with one of `formats`,
    as Keras lists them: class subdirectories in sorted order (or `class_names`' order), each walked in
    sorted order, then, with shuffle, permuted by np.random.RandomState(seed) (paths and labels alike)."""
    if labels == "inferred":
        subdirs = []
        for subdir in sorted(os.listdir(directory)):
            if os.path.isdir(os.path.join(directory, subdir)) and not subdir.startswith("."):
                subdirs.append(subdir[:-1] if subdir.endswith("/") else subdir)
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)  # the given order
    else:
        subdirs = [""]  # explicit labels or none: index from the directory itself down
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument `class_names` cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument `class_names` cannot be specified "
                             "(the `class_names` will be the sorted list of labels).")
    class_names = subdirs
    class_indices = dict(zip(class_names, range(len(class_names))))

    filenames, label_lists = [], []
    for subdir in subdirs:
        partial_filenames, partial_labels = _index_subdirectory(os.path.join(directory, subdir), class_indices,
                                                                follow_links, formats)
        filenames += partial_filenames
        label_lists.append(partial_labels)

    if labels == "inferred":
        labels = np.zeros((len(filenames),), dtype="int32")
        i = 0
        for partial_labels in label_lists:
            labels[i:i + len(partial_labels)] = partial_labels
            i += len(partial_labels)
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError("Expected the lengths of `labels` to match the number of files in the target "
                             f"directory. len(labels) is {len(labels)} while we found {len(filenames)} files in "
                             f"directory {directory}.")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        if labels is None:
            print(f"Found {len(filenames)} files.")
        else:
            print(f"Found {len(filenames)} files belonging to {len(class_names)} classes.")
    file_paths = [os.path.join(directory, fname) for fname in filenames]

    if shuffle:
        # Shuffle globally to erase macro-structure (the same permutation as Keras's for the same seed)
        if seed is None:
            seed = np.random.randint(1e6)
        order = np.arange(len(file_paths))
        np.random.RandomState(seed).shuffle(order)
        file_paths = [file_paths[i] for i in order]
        if labels is not None:
            labels = labels[order]
    return file_paths, labels, class_names


def _index_subdirectory(directory, class_indices, follow_links, formats):
    dirname = os.path.basename(directory)
    filenames, labels = [], []
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda x: x[0]):
        for fname in sorted(files):
            if fname.lower().endswith(formats):
                labels.append(class_indices[dirname])
                absolute_path = os.path.join(root, fname)
                filenames.append(os.path.join(dirname, os.path.relpath(absolute_path, directory)))
    return filenames, labels


def subset_datasets(samples, labels, validation_split, subset, shuffle, make, missing):
    """The dataset(s) `subset` asks for, each made by make(samples, labels, shuffle): one for None, "training" or
    "validation", or [training, validation] for "both" (the validation one never shuffled). missing(kind) gives
    the error message when a subset is empty (kind: "training ", "validation " or "")."""
    if subset == "both":
        parts = []
        for name, shuffled in (("training", shuffle), ("validation", False)):
            part_samples, part_labels = get_training_or_validation_split(samples, labels, validation_split, name)
            if not part_samples:
                raise ValueError(missing(name + " "))
            parts.append(make(part_samples, part_labels, shuffled))
        return parts
    samples, labels = get_training_or_validation_split(samples, labels, validation_split, subset)
    if not samples:
        raise ValueError(missing(""))
    return make(samples, labels, shuffle)


def get_training_or_validation_split(samples, labels, validation_split, subset):
    """Keras's split: the validation subset is the last int(validation_split * n) samples."""
    if not validation_split:
        return samples, labels
    num_val_samples = int(validation_split * len(samples))
    if subset == "training":
        print(f"Using {len(samples) - num_val_samples} files for training.")
        samples = samples[:-num_val_samples]
        if labels is not None:
            labels = labels[:-num_val_samples]
    elif subset == "validation":
        print(f"Using {num_val_samples} files for validation.")
        samples = samples[-num_val_samples:]
        if labels is not None:
            labels = labels[-num_val_samples:]
    else:
        raise ValueError(f'`subset` must be either "training" or "validation", received: {subset}')
    return samples, labels


def check_validation_split_arg(validation_split, subset, shuffle, seed):
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` "
                         "argument, to make sure that there is no overlap between the training and validation "
                         "subset.")


def check_label_arguments(labels, label_mode, class_names, what):
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(f"`labels` argument should be a list/tuple of integer labels, of the same size as the "
                             f"number of {what} files in the target directory. If you wish to infer the labels "
                             "from the subdirectory names in the target directory, pass `labels=\"inferred\"`. "
                             f"If you wish to get a dataset that only contains {what}s (no labels), pass "
                             f"`labels=None`. Received: labels={labels}")
        if class_names:
            raise ValueError("You can only pass `class_names` if `labels=\"inferred\"`. Received: "
                             f"labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode}")


def encode_labels(labels, label_mode, num_classes):
    """Labels as Keras's datasets give them: int32 (n,) for "int", float32 one-hot (n, num_classes) for
    "categorical" (a label outside [0, num_classes) gives a row of zeros, as tf.one_hot does), float32
    (n, 1) for "binary"."""
    labels = np.asarray(labels)
    if label_mode == "int":
        return labels.astype("int32")
    if label_mode == "binary":
        return labels.astype("float32").reshape(-1, 1)
    if label_mode == "categorical":
        labels = labels.astype(np.int64)
        out = np.zeros((len(labels), num_classes), dtype="float32")
        ok = (labels >= 0) & (labels < num_classes)
        out[np.nonzero(ok)[0], labels[ok]] = 1.0
        return out
    raise ValueError(f"Invalid `label_mode`: {label_mode}")


# ------------------------------------------------------------------------------------------ the dataset
class SampleBatches(PyDataset):
    """A PyDataset of `num_samples` samples in batches of `batch_size` (the last one partial), made by
    `load_batch(sample_indices, single)` (single: one sample, returned without the batch dimension).

    The first epoch's order is the order the samples were given in. With `shuffle`, the order is
    reshuffled after every epoch (on_epoch_end) by np.random.RandomState(seed) (or `seed` itself when it
    is a RandomState): the batches are the same for the same seed, run after run. With `batch_size=None`
    an item is one sample (no batch dimension), as Keras's unbatched datasets give them.
    """

    def __init__(self, num_samples, batch_size, load_batch, shuffle=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"`batch_size` must be a positive integer or None, received: {batch_size!r}")
        self.num_samples = int(num_samples)
        self.batch_size = None if batch_size is None else int(batch_size)
        self._load_batch = load_batch
        self._order = np.arange(self.num_samples)
        if not shuffle:
            self._rng = None
        elif isinstance(seed, np.random.RandomState):
            self._rng = seed
        else:
            self._rng = np.random.RandomState(seed)

    def __len__(self):
        if self.batch_size is None:
            return self.num_samples
        return math.ceil(self.num_samples / self.batch_size)

    def __getitem__(self, index):
        n = len(self)
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} indices must be integers, not {type(index).__name__}")
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} out of range for {n} batches")
        order = self._order
        if self.batch_size is None:
            return self._load_batch(order[index:index + 1], single=True)
        return self._load_batch(order[index * self.batch_size:(index + 1) * self.batch_size], single=False)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def on_epoch_end(self):
        if self._rng is not None:
            self._order = self._rng.permutation(self.num_samples)

