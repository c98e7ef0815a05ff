"""The word-index processing IMDB and Reuters share, step for step as Keras 3 does it (same numbers)."""
import numpy as np

__all__ = ["shift", "remove_long_seq", "cap_vocabulary"]


def shift(xs, start_char, index_from):
    """Each sequence as a list, word indices raised by index_from, start_char (when not None) put first."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in x] for x in xs]
    if index_from:
        return [[w + index_from for w in x] for x in xs]
    return [list(x) for x in xs]


def remove_long_seq(maxlen, seqs, labels):
    """The sequences shorter than maxlen (strictly, as Keras: one of length maxlen is dropped too), with
    their labels, as two lists."""
    kept = [(x, y) for x, y in zip(seqs, labels) if len(x) < maxlen]
    return [x for x, _ in kept], [y for _, y in kept]


def cap_vocabulary(xs, num_words, skip_top, oov_char):
    """Words outside [skip_top, num_words) become oov_char, or are dropped when oov_char is None.

    num_words None (or 0) means the largest index present, which is itself then out of range, as in Keras.
    """
    if not num_words:
        num_words = max(max(x) for x in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(seqs):
    """The sequences as NumPy's object array, built as Keras builds it."""
    return np.array(seqs, dtype="object")
