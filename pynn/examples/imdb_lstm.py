"""Sentiment of IMDB movie reviews with a two-layer bidirectional LSTM: Keras's "Bidirectional LSTM on IMDB".

    python -m pynn.examples.imdb_lstm [--epochs 2] [--samples N] [--batch-size 32] [--maxlen 200]
                                      [--num-words 20000] [--lstm] [--threads N] [--data DIR]

As in the Keras example: the 20,000 most frequent words (`imdb.load_data(num_words=20000)`), each review cut
to its last 200 words or padded with 0 in front (`pad_sequences(maxlen=200)`), then Embedding(20000, 128) ->
Bidirectional(LSTM(64, return_sequences=True)) -> Bidirectional(LSTM(64)) -> Dense(1, sigmoid), Adam, binary
cross-entropy, batch 32, 2 epochs, the 25,000 test reviews as validation data. `--lstm` puts one LSTM(64)
in place of the two bidirectional layers; `--samples N` trains and tests on the first N reviews of each
split (after Keras's shuffle), for a quick run.

The data come from pynn.datasets.imdb: imdb.npz in $PYNN_DATA (or --data DIR), in ~/.pynn/datasets, or
downloaded there with checksum verification; with none of those the example stops with a message saying
where to put the file. An epoch over the 25,000 reviews takes about 2.5 min on two cores (measured on
random reviews of the same shape: 6 s per 1,024), and the validation pass 1 min. Its accuracy on the real
reviews is not stated here because it has not been measured: the machine it was written on has no copy of
IMDB and no network. It has run on fabricated files in the same format, where it learns
(tests/test_examples_data.py).
"""
import argparse
import time

import numpy as np

import pynn
from pynn import layers
from pynn.examples._data import load_or_exit, use_data_dir


def build_model(num_words=20000, embedding_dim=128, units=64, bidirectional=True):
    inputs = pynn.Input(shape=(None,), dtype="int32")      # any length; indices stay integers
    x = layers.Embedding(num_words, embedding_dim)(inputs)
    if bidirectional:
        x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x)
        x = layers.Bidirectional(layers.LSTM(units))(x)
    else:
        x = layers.LSTM(units)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return pynn.Model(inputs, outputs, name="imdb_lstm")


def load(num_words, maxlen, samples=None):
    """((x_train, y_train), (x_test, y_test)): reviews padded / cut to maxlen int32 indices, labels 0 / 1."""
    (x_train, y_train), (x_test, y_test) = load_or_exit(
        lambda: pynn.datasets.imdb.load_data(num_words=num_words), "pynn.examples.imdb_lstm",
        "the IMDB reviews (imdb.npz, 17 MB)")
    if samples:
        x_train, y_train, x_test, y_test = x_train[:samples], y_train[:samples], x_test[:samples], y_test[:samples]
    x_train = pynn.utils.pad_sequences(x_train, maxlen=maxlen)
    x_test = pynn.utils.pad_sequences(x_test, maxlen=maxlen)
    return (x_train, np.asarray(y_train)), (x_test, np.asarray(y_test))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=None, help="train and test on the first N reviews of each")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--maxlen", type=int, default=200, help="words kept per review (the last ones)")
    parser.add_argument("--num-words", type=int, default=20000, help="vocabulary: the most frequent words")
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--lstm", action="store_true", help="one LSTM instead of two bidirectional ones")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="directory holding imdb.npz (as PYNN_DATA)")
    args = parser.parse_args(argv)
    use_data_dir(args.data)
    if args.threads:
        pynn.set_num_threads(args.threads)
    pynn.utils.set_random_seed(args.seed)

    (x_train, y_train), (x_test, y_test) = load(args.num_words, args.maxlen, args.samples)
    print(f"IMDB: {len(x_train)} training and {len(x_test)} test reviews, padded to {args.maxlen} words")
    model = build_model(args.num_words, args.embedding_dim, args.units, bidirectional=not args.lstm)
    model.summary()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test))
    elapsed = time.perf_counter() - start
    accuracy = history.history["val_accuracy"][-1]
    print(f"Trained {args.epochs} epochs in {elapsed:.1f} s")
    print(f"Test accuracy: {accuracy:.4f}  (test loss {history.history['val_loss'][-1]:.4f})")
    return accuracy


if __name__ == "__main__":
    main()
