"""Keras 3's keras.preprocessing.sequence: pad_sequences."""
from pynn.utils.sequence_utils import pad_sequences

__all__ = ["pad_sequences"]
