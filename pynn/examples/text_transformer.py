"""Keras's "Text classification with Transformer" example: a Transformer block written as a custom layer.

    python -m pynn.examples.text_transformer [--epochs 2] [--samples 25000] [--maxlen 200] [--fabricated]

TokenAndPositionEmbedding adds a learned position embedding (ops.arange over the sequence) to the token
embedding; TransformerBlock is MultiHeadAttention (2 heads of 32), Dropout, a residual and
LayerNormalization(epsilon=1e-6), then a Dense(32, relu) - Dense(32) feed-forward network with its own
dropout, residual and normalization. Both are Keras 3 custom layers: `call()` with built-in layers and
pynn.ops inside, trained through the recorded graph. Then GlobalAveragePooling1D, Dropout, Dense(20, relu),
Dropout and a 2-way softmax, Adam and sparse categorical cross-entropy, batch 32, as the guide.

Data: the IMDB reviews (pynn.datasets.imdb, vocabulary 20,000, cut to 200 words) when they are in
$PYNN_DATA or the cache or can be downloaded; otherwise (or with --fabricated) an IMDB-like task made up
here: sequences of random words in which a positive review carries more of 50 "positive" words and a
negative one more of 50 "negative" words, with the rest of the vocabulary as noise. Keras's guide reports
about 85% on IMDB after 2 epochs (not run here: no copy of IMDB on this machine). On the fabricated task,
`--fabricated --samples 4000 --epochs 1` reached 98.4% validation accuracy on 1,000 reviews in 69 s (2-core
AMD EPYC, AVX2, 2 threads, shared with other jobs).
"""
import argparse
import time

import numpy as np

import pynn
from pynn import layers, ops


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = pynn.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=False):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = self.pos_emb(ops.arange(0, maxlen, 1))
        return self.token_emb(x) + positions


def build_model(maxlen=200, vocab_size=20000, embed_dim=32, num_heads=2, ff_dim=32):
    inputs = layers.Input(shape=(maxlen,), dtype="int32")
    x = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)(inputs)
    x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = pynn.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fabricated_reviews(n, maxlen=200, vocab_size=20000, seed=0):
    """(x, y): n reviews of maxlen word indices; label 1 reviews use words 100-149 more, label 0 150-199."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.integers(200, vocab_size, (n, maxlen))
    marked = rng.random((n, maxlen)) < 0.08
    words = rng.integers(0, 50, (n, maxlen)) + np.where(y[:, None] == 1, 100, 150)
    x[marked] = words[marked]
    lengths = rng.integers(maxlen // 2, maxlen + 1, n)
    x[np.arange(maxlen)[None, :] >= lengths[:, None]] = 0          # padding at the end
    return x.astype(np.int32), y.astype(np.int32)


def load_data(samples, maxlen, vocab_size, fabricated):
    if not fabricated:
        try:
            (x_train, y_train), (x_val, y_val) = pynn.datasets.imdb.load_data(num_words=vocab_size)
        except (OSError, ValueError) as e:
            print(f"IMDB is not available ({e}); training on fabricated IMDB-like reviews instead")
        else:
            pad = lambda x: pynn.utils.pad_sequences(x, maxlen=maxlen)  # noqa: E731
            return (pad(x_train[:samples]), y_train[:samples]), (pad(x_val[:samples]), y_val[:samples]), "IMDB"
    x, y = fabricated_reviews(samples + max(samples // 4, 500), maxlen, vocab_size)
    return (x[:samples], y[:samples]), (x[samples:], y[samples:]), "fabricated reviews"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=25000)
    parser.add_argument("--maxlen", type=int, default=200)
    parser.add_argument("--vocab", type=int, default=20000)
    parser.add_argument("--fabricated", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        pynn.set_num_threads(args.threads)
    pynn.utils.set_random_seed(0)
    (x_train, y_train), (x_val, y_val), source = load_data(args.samples, args.maxlen, args.vocab, args.fabricated)
    print(f"{source}: {len(x_train)} training and {len(x_val)} validation sequences of {args.maxlen} words")
    model = build_model(args.maxlen, args.vocab)
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, validation_data=(x_val, y_val),
                        verbose=2)
    print(f"trained in {time.perf_counter() - start:.0f} s; validation accuracy "
          f"{history.history['val_accuracy'][-1]:.3f}")
    return model, history.history


if __name__ == "__main__":
    main()
