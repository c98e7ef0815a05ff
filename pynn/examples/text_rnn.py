"""Sentiment of short generated reviews with Embedding(mask_zero=True) -> Bidirectional(LSTM) -> Dense.

    python -m pynn.examples.text_rnn [--epochs 15] [--samples 16000] [--threads N]

The reviews are generated, so the example needs no download: sentences of 4 to 30 words drawn from a small
vocabulary of filler words, positive and negative words, intensifiers ("very good" counts double) and
negations ("not good" is negative, "not bad" positive). A review's label is the sign of its summed
sentiment. Bag-of-words cannot solve it (the same words flip meaning after "not"); a recurrent model must
read the order. Reviews are padded with 0 at the end and the padding is masked, so the LSTMs see each
review at its own length.

With the defaults (16000 training reviews, 15 epochs, batch 32, seed 0) it reaches 99.6% accuracy on 2000
held-out reviews (92% after 6 epochs on 8000 reviews), in about 10 s on this 2-core machine. Results do not
depend on the thread count.
"""
import argparse
import time

import numpy as np

import pynn
from pynn import layers

FILLER = ["the", "movie", "film", "plot", "was", "and", "actors", "it", "story", "i", "found", "this", "quite",
          "music", "ending", "a", "with", "its", "overall", "script"]
POSITIVE = ["good", "great", "fun", "lovely", "moving", "clever", "superb", "charming"]
NEGATIVE = ["bad", "boring", "dull", "awful", "weak", "messy", "tedious", "bland"]
VOCAB = ["<pad>"] + FILLER + POSITIVE + NEGATIVE + ["not", "very"]
INDEX = {w: i for i, w in enumerate(VOCAB)}


def generate(n, max_len=30, seed=0):
    """n reviews as (tokens (n, max_len) int32 right-padded with 0, labels (n,) in {0, 1}, texts)."""
    rng = np.random.default_rng(seed)
    tokens = np.zeros((n, max_len), np.int32)
    labels = np.zeros(n, np.int32)
    texts = []
    for k in range(n):
        words, score = [], 0.0
        while True:
            length = int(rng.integers(4, max_len + 1))
            words, score = [], 0.0
            while len(words) < length:
                r = rng.random()
                if r < 0.6:
                    words.append(str(rng.choice(FILLER)))
                    continue
                phrase, value = [], 1.0
                if rng.random() < 0.3:
                    phrase.append("not")
                    value = -value
                if rng.random() < 0.3:
                    phrase.append("very")
                    value *= 2
                positive = rng.random() < 0.5
                phrase.append(str(rng.choice(POSITIVE if positive else NEGATIVE)))
                words += phrase
                score += value if positive else -value
            words = words[:max_len]
            if score != 0:
                break
        tokens[k, :len(words)] = [INDEX[w] for w in words]
        labels[k] = score > 0
        texts.append(" ".join(words))
    return tokens, labels, texts


def build_model(units=32):
    return pynn.models.Sequential([
        layers.Input(shape=(None,)),
        layers.Embedding(len(VOCAB), 16, mask_zero=True),
        layers.Bidirectional(layers.LSTM(units)),
        layers.Dense(1, activation="sigmoid"),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--samples", type=int, default=16000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        pynn.set_num_threads(args.threads)
    pynn.utils.set_random_seed(args.seed)

    x, y, _ = generate(args.samples, seed=args.seed)
    x_test, y_test, texts = generate(2000, seed=args.seed + 1)
    print(f"{len(x)} training and {len(x_test)} test reviews, vocabulary of {len(VOCAB)} words")
    model = build_model()
    model.summary()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1)
    elapsed = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Trained {args.epochs} epochs in {elapsed:.1f} s")
    print(f"Test accuracy: {accuracy:.4f}  (test loss {loss:.4f})")
    scores = model.predict(x_test[:5], verbose=0)[:, 0]
    for text, label, p in zip(texts[:5], y_test[:5], scores):
        print(f"  {'+' if label else '-'} {p:.2f}  {text}")
    return accuracy


if __name__ == "__main__":
    main()
