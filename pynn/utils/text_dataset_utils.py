"""text_dataset_from_directory (Keras 3's keras.utils.text_dataset_from_directory)."""
import functools

import numpy as np

from pynn.utils import dataset_utils
from pynn.utils.image_dataset_utils import DirectoryDataset


def read_text(path, max_length=None):
    """A file's text (UTF-8, newlines as they are), cut to max_length characters."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    return text if max_length is None else text[:max_length]


class _TextDataset(DirectoryDataset):
    def _stack(self, samples):
        out = np.empty(len(samples), dtype=object)
        out[:] = samples
        return out


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Generates a dataset of texts from the .txt files in a directory.

    With `labels="inferred"`, each subdirectory of `directory` is a class:

        main_directory/
        ...class_a/
        ......a_text_1.txt
        ...class_b/
        ......b_text_1.txt

    Args:
        directory: the directory of the data.
        labels: "inferred" (from the subdirectories), None (texts alone), or a list / tuple of integer
            labels, one per file in the sorted order of the paths found by os.walk.
        label_mode: "int" (int32), "categorical" (float32 one-hot), "binary" (float32 (n, 1); exactly 2
            classes) or None (no labels).
        class_names: with labels="inferred", the subdirectories to use, in this label order.
        batch_size: texts per batch (the last may be smaller); None: one text per item, unbatched.
        max_length: the most characters kept of each text (None: all).
        shuffle: whether to shuffle the files (otherwise they are in alphanumeric order).
        seed: the seed of the shuffle (and of the training / validation split).
        validation_split: the fraction of the files kept for validation.
        subset: "training", "validation" or "both" (with validation_split; "both" returns the pair).
        follow_links: whether to follow symbolic links to subdirectories.
        format: accepted for Keras compatibility ("tf" or "grain"); the result is the same PyDataset.
        verbose: whether to print how many files and classes were found.

    Returns:
        A DirectoryDataset (a pynn.utils.PyDataset) of `(texts, labels)` batches (`texts` alone without
        labels), `texts` a 1-D NumPy object array of Python str, with `class_names` and `file_paths`; a list
        [training, validation] for subset="both".

    The files, their order and the training / validation split are Keras's for the same seed (see
    image_dataset_from_directory, which also says how shuffling differs). Files are read as UTF-8 with their
    bytes as they are (no newline translation); Keras's default (TF) path gives the undecoded bytes and
    counts max_length in bytes, its "grain" path gives str and counts characters, as here.
    """
    dataset_utils.check_label_arguments(labels, label_mode, class_names, "text")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if labels is None or label_mode is None:
        labels = None
        label_mode = None
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = np.random.randint(1e6)
    file_paths, labels, class_names = dataset_utils.index_directory(
        directory, labels, formats=(".txt",), class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 class_names. '
                         f"Received: class_names={class_names}")
    num_classes = len(class_names) if class_names else 0
    encoded = None if label_mode is None else dataset_utils.encode_labels(labels, label_mode, num_classes)

    load_sample = functools.partial(read_text, max_length=max_length)

    def make(paths, labels_subset, subset_shuffle):
        return _TextDataset(paths, labels_subset, class_names, batch_size, load_sample, subset_shuffle, seed)

    return dataset_utils.subset_datasets(
        file_paths, encoded, validation_split, subset, shuffle, make,
        lambda kind: f"No {kind}text files found in directory {directory}. Allowed format: .txt")
