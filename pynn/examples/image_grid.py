"""Write a grid of grey images to a PNG with Pillow or matplotlib, whichever is installed (neither is required).

    from pynn.examples.image_grid import save_grid
    save_grid("digits.png", images)          # images: (rows, cols, h, w) in [0, 1]; None when no writer
"""
import numpy as np


def tile(images, pad=1):
    """One (rows*(h+pad)+pad, cols*(w+pad)+pad) array from images of shape (rows, cols, h, w), white gaps."""
    rows, cols, h, w = images.shape
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad), np.float32)
    for r in range(rows):
        for c in range(cols):
            top, left = pad + r * (h + pad), pad + c * (w + pad)
            canvas[top:top + h, left:left + w] = images[r, c]
    return canvas


def save_grid(path, images, scale=3):
    """Save images (rows, cols, h, w), values in [0, 1] (black 0, white 1), as one PNG at `path`.

    Returns the path written, or None when neither Pillow nor matplotlib is installed.
    """
    canvas = np.clip(tile(np.asarray(images, np.float32)), 0.0, 1.0)
    pixels = np.round(canvas * 255).astype(np.uint8)
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        image = Image.fromarray(pixels)   # uint8, 2-D: mode "L"
        image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST).save(path)
        return path
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return None
    pyplot.imsave(path, np.kron(pixels, np.ones((scale, scale), np.uint8)), cmap="gray", vmin=0, vmax=255)
    return path
