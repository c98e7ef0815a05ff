"""A generative adversarial network on MNIST digits: Dense generator and discriminator trained alternately.

    python -m pynn.examples.gan [--epochs 8] [--batch-size 64] [--png gan_digits.png] [--threads N]

The classic Keras GAN recipe with the functional API. The generator maps 100 Gaussian numbers through
Dense-LeakyReLU(0.2)-BatchNormalization(momentum 0.8) blocks of 256 and 512 units to 784 tanh pixels; the
discriminator maps 784 pixels through Dense-LeakyReLU(0.2)-Dropout(0.3) blocks of 512 and 256 units to one
sigmoid. Both use Adam(0.0002, beta_1=0.5) and binary cross-entropy; images are scaled to [-1, 1]. The
discriminator is compiled, then `discriminator.trainable = False`, then the combined model
`Model(z, discriminator(generator(z)))` is built and compiled: `combined.train_on_batch(noise, ones)` trains
only the generator, while `discriminator.train_on_batch` (compiled before the freeze) still trains the
discriminator. Each step trains the discriminator on a batch of real digits (label 1) and a batch of
generated ones (label 0), then the generator through the combined model to make the discriminator say 1.

It prints per epoch the mean discriminator loss and accuracy and the generator loss, and at the end two
sanity measures of 1,000 generated digits against the real test digits:
- pixel statistics: mean intensity, share of inked pixels (> 0.5 on a [0, 1] scale) and the RMS distance
  between the mean generated image and the mean real image;
- a small MLP classifier trained in the example on real digits (96.5% test accuracy): the share of
  generated digits it classifies with probability >= 0.9 (of real test digits: 87%), and how many of the
  ten classes those confident digits cover (a collapsed generator covers few).
With --png (default gan_digits.png) and Pillow or matplotlib installed it writes a 10 x 10 grid of digits.

With the default arguments (8 epochs of 937 steps, batch 64, seed 0, PYNN_DATA=/work/shared/data/mnist),
measured on this 2-core machine (`time python -m pynn.examples.gan --threads 1`, while another job kept
both cores busy: 91 s; the figures do not depend on the thread count): the discriminator's
accuracy is 80% over the first epoch, then 71%, 72%, ... down to 66% in the eighth (neither side wins);
the generated digits have mean intensity 0.149 (real 0.133), 13.2% inked pixels (real 13.4%) and a mean
image at RMS distance 0.029 from the real one (0.41 before training, grey noise); the classifier is sure
of 49% of them, and they cover all ten classes. Most are legible digits, some are scrawls.
"""
import argparse
import time

import numpy as np

import pynn
from pynn import layers
from pynn.examples.image_grid import save_grid


def build_models(latent_dim=100, width=256):
    """(generator, discriminator, combined), compiled by the recipe: discriminator compiled, then frozen, then
    the combined model built and compiled. width: the generator's first hidden layer (the others double it)."""
    z = pynn.Input(shape=(latent_dim,))
    h = z
    for units in (width, 2 * width):
        h = layers.Dense(units)(h)
        h = layers.LeakyReLU(negative_slope=0.2)(h)
        h = layers.BatchNormalization(momentum=0.8)(h)
    generator = pynn.Model(z, layers.Dense(784, activation="tanh")(h), name="generator")

    img = pynn.Input(shape=(784,))
    h = img
    for units in (2 * width, width):
        h = layers.Dense(units)(h)
        h = layers.LeakyReLU(negative_slope=0.2)(h)
        h = layers.Dropout(0.3)(h)
    discriminator = pynn.Model(img, layers.Dense(1, activation="sigmoid")(h), name="discriminator")
    discriminator.compile(optimizer=pynn.optimizers.Adam(0.0002, beta_1=0.5), loss="binary_crossentropy",
                          metrics=["accuracy"])

    # The combined model trains the generator only: the discriminator is frozen before its compile.
    discriminator.trainable = False
    noise = pynn.Input(shape=(latent_dim,))
    combined = pynn.Model(noise, discriminator(generator(noise)), name="combined")
    combined.compile(optimizer=pynn.optimizers.Adam(0.0002, beta_1=0.5), loss="binary_crossentropy")
    return generator, discriminator, combined


def train_step(generator, discriminator, combined, real, rng):
    """One alternating step on a batch of real images in [-1, 1]: the discriminator on real (1) and
    generated (0) images, then the generator through the combined model. Returns (d_loss, d_acc, g_loss)."""
    n, latent_dim = len(real), generator.input_shape[-1]
    ones, zeros = np.ones((n, 1), np.float32), np.zeros((n, 1), np.float32)
    fake = generator.predict(rng.standard_normal((n, latent_dim)).astype(np.float32), verbose=0)
    d_real = discriminator.train_on_batch(real, ones)
    d_fake = discriminator.train_on_batch(fake, zeros)
    g_loss = combined.train_on_batch(rng.standard_normal((n, latent_dim)).astype(np.float32), ones)
    return 0.5 * (d_real[0] + d_fake[0]), 0.5 * (d_real[1] + d_fake[1]), g_loss


def train(x_train, epochs=8, batch_size=64, latent_dim=100, width=256, seed=0, steps_per_epoch=None,
          log=print):
    """Train on images (n, 784) in [-1, 1]; returns (generator, discriminator, combined, history) with
    history a list of per-epoch (d_loss, d_acc, g_loss) means."""
    pynn.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    generator, discriminator, combined = build_models(latent_dim, width)
    steps = steps_per_epoch or len(x_train) // batch_size
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x_train))
        logs = []
        for step in range(steps):
            idx = order[(step * batch_size) % len(order):][:batch_size]
            logs.append(train_step(generator, discriminator, combined, x_train[idx], rng))
        history.append(tuple(float(v) for v in np.mean(logs, axis=0)))
        d_loss, d_acc, g_loss = history[-1]
        if log:
            log(f"Epoch {epoch + 1}/{epochs} ({steps} steps, {time.perf_counter() - start:.0f} s) - "
                f"d_loss: {d_loss:.4f} - d_acc: {d_acc:.3f} - g_loss: {g_loss:.4f}")
    return generator, discriminator, combined, history


def generate(generator, n, seed=1):
    """n generated digits (n, 784) on the [0, 1] scale."""
    noise = np.random.default_rng(seed).standard_normal((n, generator.input_shape[-1])).astype(np.float32)
    return (generator.predict(noise, verbose=0) + 1) / 2


def pixel_statistics(images, reference):
    """Mean intensity, share of inked pixels (> 0.5) and the RMS distance between the mean image and that of
    `reference` (all on the [0, 1] scale)."""
    return {"mean": float(images.mean()), "ink": float((images > 0.5).mean()),
            "mean_image_distance": float(np.sqrt(np.mean((images.mean(0) - reference.mean(0)) ** 2)))}


def train_classifier(x, y, epochs=2, seed=0):
    """A small MLP on real digits (n, 784) in [0, 1], for judging generated ones."""
    pynn.utils.set_random_seed(seed)
    model = pynn.Sequential([layers.Input(shape=(784,)), layers.Dense(128, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)
    return model


def confident_digits(classifier, images, threshold=0.9):
    """(share of images classified with probability >= threshold, how many classes those cover)."""
    p = classifier.predict(images, verbose=0)
    confident = p.max(axis=1) >= threshold
    return float(confident.mean()), int(len(np.unique(p[confident].argmax(axis=1))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--png", default="gan_digits.png", help="where to write a grid of generated digits "
                        "(needs Pillow or matplotlib; '' for none)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        pynn.set_num_threads(args.threads)

    (x_train, y_train), (x_test, y_test) = pynn.datasets.mnist.load_data()
    x_train = x_train.reshape(len(x_train), 784).astype("float32") / 255.0
    x_test = x_test.reshape(len(x_test), 784).astype("float32") / 255.0
    print(f"MNIST: {len(x_train)} training images")
    start = time.perf_counter()
    generator, _, _, history = train(x_train * 2 - 1, epochs=args.epochs, batch_size=args.batch_size,
                                     latent_dim=args.latent_dim, seed=args.seed)
    print(f"Trained {args.epochs} epochs in {time.perf_counter() - start:.0f} s")

    fake = generate(generator, 1000, seed=args.seed + 1)
    stats, real_stats = pixel_statistics(fake, x_test), pixel_statistics(x_test, x_test)
    print(f"Generated digits: mean intensity {stats['mean']:.3f} (real {real_stats['mean']:.3f}), inked pixels "
          f"{stats['ink']:.3f} (real {real_stats['ink']:.3f}), RMS distance of the mean image to the real one "
          f"{stats['mean_image_distance']:.3f}")
    classifier = train_classifier(x_train, y_train, seed=args.seed)
    accuracy = classifier.evaluate(x_test, y_test, verbose=0)[1]
    share, classes = confident_digits(classifier, fake)
    real_share, _ = confident_digits(classifier, x_test)
    print(f"An MLP classifier ({accuracy:.1%} test accuracy) is >= 90% sure of {share:.1%} of the generated digits "
          f"(of {real_share:.1%} of the real test digits); they cover {classes} of the 10 classes")
    if args.png:
        written = save_grid(args.png, fake[:100].reshape(10, 10, 28, 28))
        print(f"Wrote {written}" if written else "Install Pillow or matplotlib to get a PNG of the digits")
    return {"history": history, "stats": stats, "real_stats": real_stats, "confident": share, "classes": classes}


if __name__ == "__main__":
    main()
