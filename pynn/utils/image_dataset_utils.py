"""image_dataset_from_directory (Keras 3's keras.utils.image_dataset_from_directory)."""
import functools

import numpy as np

from pynn.utils import dataset_utils, image_utils

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


class DirectoryDataset(dataset_utils.SampleBatches):
    """The PyDataset image_dataset_from_directory and text_dataset_from_directory return.

    Attributes:
        class_names: the class names (subdirectory names, or the sorted labels as strings); None without
            labels.
        file_paths: the files, in the first epoch's order.
        labels: the encoded labels of file_paths (None without labels).
    """

    def __init__(self, file_paths, labels, class_names, batch_size, load_sample, shuffle, seed):
        self.file_paths = list(file_paths)
        self.labels = labels
        self.class_names = class_names
        self._load_sample = load_sample
        super().__init__(len(self.file_paths), batch_size, self._load, shuffle=shuffle, seed=seed)

    def _stack(self, samples):
        return np.stack(samples)

    def _load(self, samples, single):
        x = self._stack([self._load_sample(self.file_paths[i]) for i in samples])
        if single:
            x = x[0]
        if self.labels is None:
            return x
        y = self.labels[samples]
        return x, (y[0] if single else y)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 format="tf", verbose=True):
    """Generates a dataset of images from the image files in a directory.

    With `labels="inferred"`, each subdirectory of `directory` is a class:

        main_directory/
        ...class_a/
        ......a_image_1.jpg
        ...class_b/
        ......b_image_1.jpg

    Files ending in .bmp, .gif (first frame), .jpeg, .jpg and .png are read (with Pillow, which must be
    installed: `pip install pillow`).

    Args:
        directory: the directory of the data.
        labels: "inferred" (from the subdirectories), None (images alone), or a list / tuple of integer
            labels, one per file in the sorted order of the paths found by os.walk.
        label_mode: "int" (int32 labels, for sparse_categorical_crossentropy), "categorical" (float32
            one-hot vectors, for categorical_crossentropy), "binary" (float32 0 / 1 of shape (n, 1), for
            binary_crossentropy; exactly 2 classes), or None (no labels).
        class_names: with labels="inferred", the subdirectories to use, in this label order (default: all
            of them, in alphanumeric order).
        color_mode: "grayscale", "rgb" or "rgba": 1, 3 or 4 channels.
        batch_size: images per batch (the last may be smaller); None: one image per item, unbatched.
        image_size: (height, width) (or an int for both) every image is resized to.
        shuffle: whether to shuffle the files (otherwise they are in alphanumeric order).
        seed: the seed of the shuffle (and of the training / validation split).
        validation_split: the fraction of the files kept for validation (between 0 and 1).
        subset: "training", "validation" or "both" (with validation_split; "both" returns the pair).
        interpolation: "bilinear" (the default), "nearest", "bicubic", "area", "lanczos3", "lanczos5",
            "gaussian" or "mitchellcubic" (see pynn.utils.image_utils.resize_images).
        follow_links: whether to follow symbolic links to subdirectories.
        crop_to_aspect_ratio: resize without distortion by cropping the largest centred box of the target
            aspect ratio first (smart_resize).
        pad_to_aspect_ratio: resize without distortion by padding with zeros (tf.image.resize_with_pad).
        data_format: "channels_last" (the default, None): (batch, h, w, c); or "channels_first".
        format: accepted for Keras compatibility ("tf" or "grain"); the result is the same PyDataset.
        verbose: whether to print how many files and classes were found.

    Returns:
        A DirectoryDataset (a pynn.utils.PyDataset) of `(images, labels)` batches (`images` alone without
        labels), with `class_names` and `file_paths`; a list [training, validation] of two for
        subset="both". Images are float32 arrays with values in [0, 255] (not rescaled); labels as
        label_mode says.

    The files, their order before shuffling, the shuffled order and the training / validation split are
    Keras's (np.random.RandomState(seed)): `file_paths` is the list Keras returns for the same seed. Keras
    then also shuffles the training files within a buffer of 8 batches with TensorFlow's generator each
    epoch, which is not reproduced: here the first epoch is in `file_paths` order, and the training files
    are reshuffled after each epoch by a RandomState(seed) stream (the same batches for the same seed, run
    after run). Images are decoded by Pillow with TF's conversions (decode_like_tf): PNG, GIF and BMP give
    TF's pixels (checked against TF 2.21); JPEG may differ by a few levels (TF's libjpeg runs its fast
    integer IDCT); Pillow also reads the mode / format pairs TF refuses (grayscale BMP, RGBA GIF, ...).
    Resizing, cropping and padding give tf.image.resize's values bit for bit (pynn.utils.image_utils);
    "nearest" returns float32 too (TF returns uint8 there).
    """
    dataset_utils.check_label_arguments(labels, label_mode, class_names, "image")
    if labels is None or label_mode is None:
        labels = None
        label_mode = None
    if color_mode == "rgb":
        num_channels = 3
    elif color_mode == "rgba":
        num_channels = 4
    elif color_mode == "grayscale":
        num_channels = 1
    else:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or not len(image_size) == 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    image_size = tuple(int(s) for s in image_size)
    interpolation = interpolation.lower()
    if interpolation not in image_utils.RESIZE_INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of {image_utils.RESIZE_INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation}")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`.")
    dataset_utils.check_validation_split_arg(validation_split, subset, shuffle, seed)
    image_utils._require_pil("`image_dataset_from_directory`")

    if seed is None:
        seed = np.random.randint(1e6)
    image_paths, labels, class_names = dataset_utils.index_directory(
        directory, labels, formats=ALLOWLIST_FORMATS, class_names=class_names, shuffle=shuffle, seed=seed,
        follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 class_names. '
                         f"Received: class_names={class_names}")
    data_format = image_utils._standardize_data_format(data_format)
    num_classes = len(class_names) if class_names else 0
    encoded = None if label_mode is None else dataset_utils.encode_labels(labels, label_mode, num_classes)

    load_sample = functools.partial(load_image, image_size=image_size, num_channels=num_channels,
                                    interpolation=interpolation, data_format=data_format,
                                    crop_to_aspect_ratio=crop_to_aspect_ratio, pad_to_aspect_ratio=pad_to_aspect_ratio)

    def make(paths, labels_subset, subset_shuffle):
        return DirectoryDataset(paths, labels_subset, class_names, batch_size, load_sample, subset_shuffle, seed)

    return dataset_utils.subset_datasets(
        image_paths, encoded, validation_split, subset, shuffle, make,
        lambda kind: f"No {kind}images found in directory {directory}. Allowed formats: {ALLOWLIST_FORMATS}")


def load_image(path, image_size, num_channels, interpolation="bilinear", data_format="channels_last",
               crop_to_aspect_ratio=False, pad_to_aspect_ratio=False):
    """One image file as image_dataset_from_directory gives it: float32 (h, w, c) (or (c, h, w))."""
    pil = image_utils._require_pil("`image_dataset_from_directory`")
    with pil.open(path) as img:
        x = decode_like_tf(img, num_channels)
    if crop_to_aspect_ratio:
        hstart, wstart, h, w = image_utils._crop_box(x.shape[0], x.shape[1], *image_size, float32=True)
        x = image_utils.resize_images(x[hstart:hstart + h, wstart:wstart + w], image_size, interpolation)
    elif pad_to_aspect_ratio:
        x = image_utils.resize_with_pad(x, image_size[0], image_size[1], interpolation)
    else:
        x = image_utils.resize_images(x, image_size, interpolation)
    if data_format == "channels_first":
        x = np.ascontiguousarray(x.transpose(2, 0, 1))
    return x


_GRAY16_MODES = ("I;16", "I;16B", "I;16L", "I")


def decode_like_tf(img, num_channels):
    """A PIL image as float32 (h, w, num_channels) with the pixels tf.io.decode_image(channels=...) gives
    for PNG, GIF and BMP files: 16-bit PNG samples keep their high byte, and colour PNG to grayscale is
    libpng's rgb_to_gray (ITU-R 601 weights 9797 / 19234 / 3737 over 32768, truncated; grey pixels kept).
    Other conversions are Pillow's, which for these formats are TF's (alpha dropped, grey replicated, alpha
    255 added). JPEG is decoded by Pillow's libjpeg settings, which may differ from TF's by a few levels."""
    pil = image_utils._pil()
    png = img.format == "PNG"
    if png and img.mode in _GRAY16_MODES:
        img = pil.fromarray((np.asarray(img).astype(np.int64) >> 8).clip(0, 255).astype(np.uint8), "L")
    if num_channels == 1:
        if png and img.mode not in ("L", "LA", "1"):
            rgb = np.asarray(img.convert("RGB"), dtype=np.int64)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            gray = np.where((r == g) & (g == b), r, (9797 * r + 19234 * g + 3737 * b) >> 15)
            return gray.astype(np.float32)[:, :, None]
        img = image_utils._convert_mode(img, "grayscale")
    else:
        img = image_utils._convert_mode(img, "rgb" if num_channels == 3 else "rgba")
    x = np.asarray(img, dtype=np.float32)
    return x[:, :, None] if x.ndim == 2 else x
