"""The Keras blog's simplest autoencoder on MNIST (784-32-784) with the functional API, and a denoising variant.

    python -m pynn.examples.autoencoder [--epochs 50] [--batch-size 256] [--denoise] [--png autoencoder.png]

Written as the tutorial writes it: `input_img = Input(shape=(784,))`, `encoded = Dense(32, activation="relu")`,
`decoded = Dense(784, activation="sigmoid")`, `autoencoder = Model(input_img, decoded)`, a separate `encoder`
model and a `decoder` model built from the autoencoder's last layer; binary cross-entropy, Adam, batch 256.
The loss reported is the mean per-pixel binary cross-entropy of the reconstructions of the 10,000 test images,
beside that of always predicting the mean training image (0.263), the best a model ignoring its input can do.

`--denoise` trains on noisy inputs (Gaussian noise of standard deviation 0.5 added, clipped to [0, 1], as in
the tutorial) to reproduce the clean images, and reports the loss against the clean test images and the mean
squared error to them of the noisy inputs and of the denoised outputs.

With the default arguments (50 epochs, seed 0, PYNN_DATA=/work/shared/data/mnist), measured on this 2-core
machine with `time python -m pynn.examples.autoencoder [--denoise] --threads 1` while another job kept both
cores busy (the figures do not depend on the thread count):
    python -m pynn.examples.autoencoder            test loss 0.0915 (mean image 0.2625), in 59 s
    python -m pynn.examples.autoencoder --denoise  test loss 0.1242 against the clean images; mean squared
                                                   error to them 0.1157 (noisy inputs) -> 0.0200 (outputs),
                                                   in 60 s
(The tutorial reports a loss of about 0.09 after 50 epochs.) With --png (default autoencoder.png) and Pillow or
matplotlib installed it writes ten test digits above their reconstructions (denoising: noisy, denoised, clean).
"""
import argparse
import time

import numpy as np

import pynn
from pynn.examples.image_grid import save_grid
from pynn.layers import Dense, Input


def build_models(encoding_dim=32):
    """(autoencoder, encoder, decoder) exactly as in the Keras blog post; the three share their layers."""
    # this is our input placeholder
    input_img = Input(shape=(784,))
    # "encoded" is the encoded representation of the input
    encoded = Dense(encoding_dim, activation="relu")(input_img)
    # "decoded" is the lossy reconstruction of the input
    decoded = Dense(784, activation="sigmoid")(encoded)
    # this model maps an input to its reconstruction
    autoencoder = pynn.Model(input_img, decoded)
    # this model maps an input to its encoded representation
    encoder = pynn.Model(input_img, encoded)
    # a placeholder for an encoded input, and the last layer of the autoencoder model
    encoded_input = Input(shape=(encoding_dim,))
    decoder_layer = autoencoder.layers[-1]
    decoder = pynn.Model(encoded_input, decoder_layer(encoded_input))
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
    return autoencoder, encoder, decoder


def add_noise(x, noise_factor=0.5, seed=0):
    """x plus Gaussian noise of standard deviation noise_factor, clipped to [0, 1] (the tutorial's recipe)."""
    rng = np.random.default_rng(seed)
    noisy = x + noise_factor * rng.standard_normal(x.shape).astype(x.dtype)
    return np.clip(noisy, 0.0, 1.0)


def binary_crossentropy(target, output, eps=1e-7):
    """The mean per-pixel binary cross-entropy (Keras's clipping), as a float."""
    output = np.clip(output, eps, 1 - eps)
    return float(-np.mean(target * np.log(output) + (1 - target) * np.log(1 - output)))


def train(x_train, x_test, epochs=50, batch_size=256, denoise=False, noise_factor=0.5, seed=0, verbose=2):
    """Train the autoencoder on images flattened to (n, 784) in [0, 1]; returns (models, results).

    models: (autoencoder, encoder, decoder). results: "test_loss" (binary cross-entropy of the test
    reconstructions against the clean test images), "mean_image_loss" (that of the mean training image),
    "history" (per-epoch losses), and with denoise "noisy_mse" / "denoised_mse" (mean squared error to the
    clean test images of the noisy inputs and of the outputs) and the noisy test inputs "x_test_in".
    """
    pynn.utils.set_random_seed(seed)
    autoencoder, encoder, decoder = build_models()
    x_in, x_test_in = x_train, x_test
    if denoise:
        x_in = add_noise(x_train, noise_factor, seed=seed + 1)
        x_test_in = add_noise(x_test, noise_factor, seed=seed + 2)
    history = autoencoder.fit(x_in, x_train, epochs=epochs, batch_size=batch_size, shuffle=True,
                              validation_data=(x_test_in, x_test), verbose=verbose)
    decoded_imgs = decoder.predict(encoder.predict(x_test_in, verbose=0), verbose=0)
    results = {
        "test_loss": binary_crossentropy(x_test, decoded_imgs),
        "mean_image_loss": binary_crossentropy(x_test, np.broadcast_to(x_train.mean(axis=0), x_test.shape)),
        "history": history.history,
        "decoded": decoded_imgs,
    }
    if denoise:
        results["x_test_in"] = x_test_in
        results["noisy_mse"] = float(np.mean((x_test_in - x_test) ** 2))
        results["denoised_mse"] = float(np.mean((decoded_imgs - x_test) ** 2))
    return (autoencoder, encoder, decoder), results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--denoise", action="store_true", help="train noisy -> clean (noise factor 0.5)")
    parser.add_argument("--noise-factor", type=float, default=0.5)
    parser.add_argument("--png", default="autoencoder.png", help="where to write digits and reconstructions "
                        "(needs Pillow or matplotlib; '' for none)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        pynn.set_num_threads(args.threads)

    (x_train, _), (x_test, _) = pynn.datasets.mnist.load_data()
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255.0
    x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255.0
    print(f"MNIST: {len(x_train)} training and {len(x_test)} test images"
          + (f"; Gaussian noise x{args.noise_factor} on the inputs" if args.denoise else ""))
    start = time.perf_counter()
    _, results = train(x_train, x_test, epochs=args.epochs, batch_size=args.batch_size, denoise=args.denoise,
                       noise_factor=args.noise_factor, seed=args.seed)
    print(f"Trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s")
    print(f"Test reconstruction loss (binary cross-entropy against the clean images): {results['test_loss']:.4f}"
          f"  (the mean training image: {results['mean_image_loss']:.4f})")
    if args.denoise:
        print(f"Mean squared error to the clean test images: noisy inputs {results['noisy_mse']:.4f}, "
              f"denoised outputs {results['denoised_mse']:.4f}")
    if args.png:
        rows = [x_test[:10], results["decoded"][:10]]
        if args.denoise:
            rows = [results["x_test_in"][:10]] + rows[::-1]          # noisy, denoised, clean
        written = save_grid(args.png, np.stack(rows).reshape(len(rows), 10, 28, 28))
        print(f"Wrote {written}" if written else "Install Pillow or matplotlib to get a PNG of the digits")
    return results


if __name__ == "__main__":
    main()
