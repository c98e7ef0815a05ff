"""IMDB movie reviews labelled by sentiment (25,000 training, 25,000 test), as Keras returns them.

`load_data()` -> ((x_train, y_train), (x_test, y_test)): x an object array of lists of word indices
(words ranked by frequency, index_from=3 added, start_char=1 first, oov_char=2 for words cut by num_words
or skip_top), y int labels 0/1. Reviews are shuffled with np.random.RandomState(seed), as Keras does, so the
same file and seed give Keras's arrays exactly. `get_word_index()` maps each word to its rank.

The files (imdb.npz, imdb_word_index.json) come from $PYNN_DATA, ~/.pynn/datasets/ or a checked download
(pynn.datasets._files); the npz's object arrays are unpickled with a restricted unpickler.
"""
import json
import warnings

import numpy as np

from pynn.datasets import _files, _pickle
from pynn.datasets._sequences import cap_vocabulary, object_array, remove_long_seq, shift

__all__ = ["load_data", "get_word_index"]


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1, oov_char=2,
              index_from=3, **kwargs):
    """Load IMDB: ((x_train, y_train), (x_test, y_test)).

    Args (Keras 3's):
        path: file name looked for in $PYNN_DATA and ~/.pynn/datasets/ (and downloaded into the latter).
        num_words: keep the num_words most frequent words (indices below num_words after index_from);
            others become oov_char. None: all.
        skip_top: the skip_top most frequent words become oov_char too.
        maxlen: drop sequences of maxlen words or more (start_char included).
        seed: seed of the shuffling.
        start_char: put first in every sequence (None: nothing).
        oov_char: replaces words cut out (None: they are dropped).
        index_from: added to every word index.
    """
    if kwargs:  # Keras 3 accepts and ignores extra keywords; say so rather than ignore them silently
        warnings.warn(f"imdb.load_data: ignoring unknown arguments {sorted(kwargs)}", stacklevel=2)
    f = _pickle.load_npz(_files.get_file("imdb.npz", fname=path))
    x_train, labels_train = f["x_train"], f["y_train"]
    x_test, labels_test = f["x_test"], f["y_test"]

    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]

    x_train = shift(x_train, start_char, index_from)
    x_test = shift(x_test, start_char, index_from)
    if maxlen:
        x_train, labels_train = remove_long_seq(maxlen, x_train, labels_train)
        x_test, labels_test = remove_long_seq(maxlen, x_test, labels_test)
        if not x_train or not x_test:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                             f"Increase maxlen.")
    xs = cap_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return (object_array(xs[:idx]), labels[:idx]), (object_array(xs[idx:]), labels[idx:])


def get_word_index(path="imdb_word_index.json"):
    """{word: rank} for IMDB (rank 1 = most frequent; in load_data's sequences a word is rank + index_from)."""
    with open(_files.get_file("imdb_word_index.json", fname=path)) as f:
        return json.load(f)
