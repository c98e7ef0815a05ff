"""Reuters newswires labelled over 46 topics (11,228 in all), as Keras returns them.

`load_data()` -> ((x_train, y_train), (x_test, y_test)): x an object array of lists of word indices
(processed as imdb's), y int topic labels 0..45. The newswires are shuffled with np.random.RandomState(seed)
and the last test_split of them are the test set, as in Keras, so the same file gives Keras's arrays exactly.
`get_word_index()` maps each word to its rank; `get_label_names()` names the topics.

The files (reuters.npz, reuters_word_index.json) come from $PYNN_DATA, ~/.pynn/datasets/ or a checked
download (pynn.datasets._files); the npz's object arrays are unpickled with a restricted unpickler.
"""
import json

import numpy as np

from pynn.datasets import _files, _pickle
from pynn.datasets._sequences import cap_vocabulary, object_array, remove_long_seq, shift

__all__ = ["load_data", "get_word_index", "get_label_names"]


def load_data(path="reuters.npz", num_words=None, skip_top=0, maxlen=None, test_split=0.2, seed=113,
              start_char=1, oov_char=2, index_from=3):
    """Load Reuters: ((x_train, y_train), (x_test, y_test)). Arguments as imdb.load_data's, and test_split:
    the fraction of newswires (after shuffling and the maxlen filter) kept for the test set."""
    f = _pickle.load_npz(_files.get_file("reuters.npz", fname=path))
    xs, labels = f["x"], f["y"]

    rng = np.random.RandomState(seed)
    indices = np.arange(len(xs))
    rng.shuffle(indices)
    xs, labels = xs[indices], labels[indices]

    xs = shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = remove_long_seq(maxlen, xs, labels)
    xs = cap_vocabulary(xs, num_words, skip_top, oov_char)
    idx = int(len(xs) * (1 - test_split))
    return ((object_array(xs[:idx]), np.array(labels[:idx])),
            (object_array(xs[idx:]), np.array(labels[idx:])))


def get_word_index(path="reuters_word_index.json"):
    """{word: rank} for Reuters (rank 1 = most frequent; in load_data's sequences a word is rank + index_from)."""
    with open(_files.get_file("reuters_word_index.json", fname=path)) as f:
        return json.load(f)


def get_label_names():
    """The 46 topic names, indexed by label."""
    return ("cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee",
            "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx",
            "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock",
            "retail", "ipi", "iron-steel", "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem",
            "dlr", "gas", "silver", "wpi", "hog", "lead")
