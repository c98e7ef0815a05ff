"""Image helpers with Keras 3's names: load_img, img_to_array, array_to_img, save_img (keras.utils and
keras.preprocessing.image) and smart_resize (keras.preprocessing.image), plus the NumPy image resizing that
image_dataset_from_directory uses.

Pillow is an optional dependency: the functions that read, write or make PIL images raise an ImportError
naming `pip install pillow` without it; img_to_array and smart_resize work on arrays without it.

Resizing (`resize_images`) is TensorFlow's `tf.image.resize(..., antialias=False)`, which Keras's
image_dataset_from_directory and smart_resize use, reimplemented in NumPy with TF's float32 arithmetic in
TF's order: "bilinear", "bicubic" and "nearest" as TF's resize_bilinear / resize_bicubic /
resize_nearest_neighbor kernels with half-pixel centres (bicubic: Keys' a = -0.5 from TF's 1024-entry
table, taps outside the image dropped and the weights renormalised), "area" as resize_area, and
"lanczos3", "lanczos5", "gaussian", "mitchellcubic" as TF's scale_and_translate kernels (the Lanczos
weights through the C library's sinf, as TF's). All eight give TF 2.21's values bit for bit on the random
images tests/test_preprocessing.py compares (when TensorFlow is installed).
"""
import functools
import io
import math
import pathlib
import warnings

import numpy as np

_NOT_LOADED = object()
pil_image = _NOT_LOADED   # PIL.Image once loaded (at first use, to keep `import pynn` light); None without Pillow

_PIL_MESSAGE = "Pillow is required for {what}: install it with `pip install pillow`."


def _pil():
    """PIL.Image, or None when Pillow is not installed."""
    global pil_image
    if pil_image is _NOT_LOADED:
        try:
            from PIL import Image
        except ImportError:  # Pillow is optional
            Image = None
        pil_image = Image
    return pil_image


def _require_pil(what):
    pil = _pil()
    if pil is None:
        raise ImportError(_PIL_MESSAGE.format(what=what))
    return pil


def _pil_interpolation_methods():
    pil = _pil()
    resampling = getattr(pil, "Resampling", pil)
    return {"nearest": resampling.NEAREST, "bilinear": resampling.BILINEAR, "bicubic": resampling.BICUBIC,
            "hamming": resampling.HAMMING, "box": resampling.BOX, "lanczos": resampling.LANCZOS}


def _standardize_data_format(data_format):
    data_format = "channels_last" if data_format is None else str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    return data_format


# ------------------------------------------------------------------------------------------ PIL <-> arrays
def array_to_img(x, data_format=None, scale=True, dtype=None):
    """Converts a 3D NumPy array to a PIL Image instance.

    Args:
        x: input data, in any form that can be converted to a NumPy array.
        data_format: "channels_last" (the default, None) or "channels_first".
        scale: whether to rescale the values so that the minimum is 0 and the maximum 255.
        dtype: the dtype used for the conversion (default "float32").

    Returns:
        A PIL Image: "RGBA", "RGB", "L" (one channel), or "I" (one channel with values above 255).
    """
    data_format = _standardize_data_format(data_format)
    if dtype is None:
        dtype = "float32"
    pil = _require_pil("`array_to_img`")
    x = np.asarray(x, dtype=dtype)
    if x.ndim != 3:
        raise ValueError(f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    if x.shape[2] == 4:
        return pil.fromarray(x.astype("uint8"), "RGBA")
    if x.shape[2] == 3:
        return pil.fromarray(x.astype("uint8"), "RGB")
    if x.shape[2] == 1:
        if np.max(x) > 255:
            # 32-bit signed integer grayscale image: PIL mode "I"
            return pil.fromarray(x[:, :, 0].astype("int32"), "I")
        return pil.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {x.shape[2]}")


def img_to_array(img, data_format=None, dtype=None):
    """Converts a PIL Image instance (or anything NumPy can convert) to a 3D NumPy array.

    Args:
        img: a PIL Image.
        data_format: "channels_last" (the default, None): (height, width, channels); "channels_first":
            (channels, height, width).
        dtype: dtype of the array (default "float32").
    """
    data_format = _standardize_data_format(data_format)
    if dtype is None:
        dtype = "float32"
    x = np.asarray(img, dtype=dtype)
    if len(x.shape) == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif len(x.shape) == 2:
        if data_format == "channels_first":
            x = x.reshape((1, x.shape[0], x.shape[1]))
        else:
            x = x.reshape((x.shape[0], x.shape[1], 1))
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Saves an image stored as a NumPy array to a path or file object.

    Args:
        path: a path or a file object.
        x: a NumPy array (height, width, channels) or, with data_format="channels_first", (channels, ...).
        data_format: "channels_last" (the default) or "channels_first".
        file_format: the format; by default from the path's extension (required for a file object).
        scale: whether to rescale the values to [0, 255] (see array_to_img).
        **kwargs: passed to `PIL.Image.save()`.
    """
    data_format = _standardize_data_format(data_format)
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.")
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """Loads an image into PIL format.

    Args:
        path: a path (str, pathlib.Path, bytes) or an io.BytesIO.
        color_mode: "grayscale", "rgb" or "rgba".
        target_size: None (the image's size) or (height, width).
        interpolation: the PIL resampling used when resizing: "nearest" (the default), "bilinear",
            "bicubic", "lanczos", "box" or "hamming".
        keep_aspect_ratio: resize without distorting the aspect ratio: crop the largest centred box of the
            target's aspect ratio first.

    Returns:
        A PIL Image.
    """
    pil = _require_pil("`load_img`")
    if isinstance(path, io.BytesIO):
        img = pil.open(path)
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            img = pil.open(io.BytesIO(f.read()))
    else:
        raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")

    img = _convert_mode(img, color_mode)
    if target_size is not None:
        width_height_tuple = (target_size[1], target_size[0])
        if img.size != width_height_tuple:
            methods = _pil_interpolation_methods()
            if interpolation not in methods:
                raise ValueError("Invalid interpolation method {} specified. Supported methods are {}".format(
                    interpolation, ", ".join(methods.keys())))
            resample = methods[interpolation]
            if keep_aspect_ratio:
                width, height = img.size
                target_width, target_height = width_height_tuple
                crop_height = min(height, (width * target_height) // target_width)
                crop_width = min(width, (height * target_width) // target_height)
                hstart = (height - crop_height) // 2
                wstart = (width - crop_width) // 2
                box = [wstart, hstart, wstart + crop_width, hstart + crop_height]
                img = img.resize(width_height_tuple, resample, box=box)
            else:
                img = img.resize(width_height_tuple, resample)
    return img


def _convert_mode(img, color_mode):
    if color_mode == "grayscale":
        # an 8-, 16- or 32-bit grayscale image is kept; anything else becomes 8-bit grayscale
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif color_mode == "rgb":
        if img.mode != "RGB":
            img = img.convert("RGB")
    else:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    return img


# ------------------------------------------------------------------------------------------ resizing
RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
                         "mitchellcubic")
_F = np.float32


@functools.lru_cache(maxsize=256)
def _bilinear_taps(in_size, out_size):
    scale = _F(in_size) / _F(out_size)
    pos = (np.arange(out_size, dtype=_F) + _F(0.5)) * scale - _F(0.5)
    pos_floor = np.floor(pos)
    lower = np.maximum(pos_floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
    return lower, upper, (pos - pos_floor).astype(_F)


@functools.lru_cache(maxsize=256)
def _nearest_taps(in_size, out_size):
    scale = _F(in_size) / _F(out_size)
    pos = (np.arange(out_size, dtype=_F) + _F(0.5)) * scale
    return np.clip(np.floor(pos).astype(np.int64), 0, in_size - 1)


_CUBIC_TABLE_SIZE = 1024


@functools.lru_cache(maxsize=256)
def _cubic_table():
    a = -0.5
    x = np.arange(_CUBIC_TABLE_SIZE + 1, dtype=np.float64) / _CUBIC_TABLE_SIZE
    near = (((a + 2) * x - (a + 3)) * x * x + 1).astype(_F)
    x = x + 1.0
    far = ((((a * x - 5 * a) * x + 8 * a) * x) - 4 * a).astype(_F)
    return near, far


@functools.lru_cache(maxsize=256)
def _bicubic_taps(in_size, out_size):
    """TF's resize_bicubic (half_pixel_centers): 4 indices and 4 weights per output position."""
    near, far = _cubic_table()
    scale = _F(in_size) / _F(out_size)
    pos = (np.arange(out_size, dtype=_F) + _F(0.5)) * scale - _F(0.5)
    base = np.floor(pos).astype(np.int64)
    delta = (pos - np.floor(pos)).astype(_F)
    offset = np.rint(delta * _F(_CUBIC_TABLE_SIZE)).astype(np.int64)
    wanted = [base - 1, base, base + 1, base + 2]
    coeffs = [far[offset], near[offset], near[_CUBIC_TABLE_SIZE - offset], far[_CUBIC_TABLE_SIZE - offset]]
    indices, weights = [], []
    for want, coeff in zip(wanted, coeffs):
        index = np.clip(want, 0, in_size - 1)
        indices.append(index)
        weights.append(np.where(index == want, coeff, _F(0)).astype(_F))
    total = weights[0] + weights[1] + weights[2] + weights[3]
    ok = np.abs(total) >= _F(1000) * np.finfo(_F).tiny
    inv = np.where(ok, _F(1) / np.where(ok, total, _F(1)), _F(1)).astype(_F)
    weights = [np.where(ok, w * inv, w).astype(_F) for w in weights]
    return indices, weights


@functools.lru_cache(maxsize=256)
def _area_taps(in_size, out_size):
    """TF's resize_area (align_corners=False) along one axis: for each output cell the input cells it
    overlaps, in order, as (indices, weights), each (out, span) and zero-padded, plus TF's overall scale."""
    scale = _F(in_size) / _F(out_size)
    rows = []
    for o in range(out_size):
        lo, hi = _F(o) * scale, _F(o + 1) * scale
        taps = []
        for i in range(int(math.floor(lo)), int(math.ceil(hi))):
            if i < lo:
                s = scale if i + 1 > hi else _F(i + 1) - lo
            else:
                s = hi - _F(i) if i + 1 > hi else _F(1)
            taps.append((min(max(i, 0), in_size - 1), _F(s)))
        rows.append(taps)
    return _pad_taps(rows), scale


def _pad_taps(rows):
    span = max(len(r) for r in rows)
    index = np.zeros((len(rows), span), dtype=np.int64)
    weight = np.zeros((len(rows), span), dtype=_F)
    for o, taps in enumerate(rows):
        for k, (i, w) in enumerate(taps):
            index[o, k], weight[o, k] = i, w
    return index, weight


@functools.lru_cache(maxsize=None)
def _libm_sinf():
    """The C library's sinf (what TF's float kernels call), or None where it cannot be loaded."""
    try:
        import ctypes
        import ctypes.util
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        fn = libm.sinf
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
        return fn
    except (OSError, AttributeError, TypeError):
        return None


def _sin_float(x):
    """sin of a float32 array as C's sinf gives it (glibc's is what TF's Lanczos weights use)."""
    x = np.asarray(x, dtype=_F)
    sinf = _libm_sinf()
    if sinf is None:
        return np.sin(x.astype(np.float64)).astype(_F)
    return np.array([sinf(float(v)) for v in x.ravel()], dtype=_F).reshape(x.shape)


def _lanczos(radius):
    pi = _F(3.14159265359)
    r = _F(radius)

    def kernel(x):  # float arithmetic, as TF's
        x = np.abs(x).astype(_F)
        safe = np.where(x <= 1e-3, _F(1), x).astype(_F)
        value = (r * _sin_float(pi * safe) * _sin_float(pi * safe / r)) / (pi * pi * safe * safe)
        return np.where(x > r, _F(0), np.where(x <= 1e-3, _F(1), value)).astype(_F)
    return kernel, r


def _gaussian():
    radius = _F(1.5)
    sigma = _F(radius / _F(3))

    def kernel(x):
        x = np.abs(x).astype(_F)
        value = np.exp(((-x) * x).astype(np.float64) / (2.0 * float(sigma) * float(sigma)))
        return np.where(x >= radius, 0.0, value).astype(_F)
    return kernel, radius


def _mitchellcubic():
    def kernel(x):  # float arithmetic, as TF's
        x = np.abs(x).astype(_F)
        outer = ((_F(-7.0 / 18.0) * x + _F(2)) * x - _F(10.0 / 3.0)) * x + _F(16.0 / 9.0)
        inner = ((_F(7.0 / 6.0) * x - _F(2)) * x) * x + _F(8.0 / 9.0)
        return np.where(x >= 2, _F(0), np.where(x >= 1, outer, inner)).astype(_F)
    return kernel, _F(2)


_SCALE_AND_TRANSLATE_KERNELS = {"lanczos3": lambda: _lanczos(3), "lanczos5": lambda: _lanczos(5),
                                "gaussian": _gaussian, "mitchellcubic": _mitchellcubic}


@functools.lru_cache(maxsize=256)
def _kernel_taps(in_size, out_size, method):
    """TF's scale_and_translate spans (no antialiasing, no translation) along one axis: (indices, weights),
    each (out, span), the weights normalised to sum to 1."""
    kernel, radius = _SCALE_AND_TRANSLATE_KERNELS[method]()
    inv_scale = _F(1.0 / float(_F(_F(out_size) / _F(in_size))))
    span = min(2 * int(math.ceil(radius)) + 1, in_size)
    index = np.zeros((out_size, span), dtype=np.int64)
    weight = np.zeros((out_size, span), dtype=_F)
    for o in range(out_size):
        sample = (_F(o) + _F(0.5)) * inv_scale
        if sample < 0 or sample > in_size:
            continue  # an empty span
        start = min(max(int(math.ceil(sample - radius - _F(0.5))), 0), in_size - 1)
        end = min(max(int(math.floor(sample + radius - _F(0.5))), 0), in_size - 1) + 1
        pos = (np.arange(start, end).astype(_F) + _F(0.5) - sample).astype(_F)
        weights = kernel(pos)
        total = _F(0)
        for w in weights:
            total = _F(total + w)
        if abs(total) >= 1000 * np.finfo(_F).tiny:
            weights = (weights * (_F(1) / total)).astype(_F)
        n = min(start + span, in_size) - start
        index[o, :n] = np.arange(start, start + n)
        weight[o, :end - start] = weights
    return index, weight


def _gather_sum(x, index, weight, axis, acc=None):
    """sum_k weight[:, k] * x.take(index[:, k], axis), accumulated tap by tap in order (TF's order)."""
    shape = [1] * x.ndim
    shape[axis] = index.shape[0]
    for k in range(index.shape[1]):
        term = np.take(x, index[:, k], axis=axis) * weight[:, k].reshape(shape)
        acc = term if acc is None else acc + term
    return acc


def _area_resize(x, h_axis, w_axis, out_h, out_w):
    (yi, yw), y_scale = _area_taps(x.shape[h_axis], out_h)
    (xi, xw), x_scale = _area_taps(x.shape[w_axis], out_w)
    scale = _F(1.0 / float(_F(y_scale * x_scale)))
    rows = _gather_sum(x, xi, xw, w_axis)               # each input row summed over its columns
    out = _gather_sum(rows, yi, yw, h_axis, acc=None)   # then the rows, in order
    return out * scale

def resize_images(images, size, interpolation="bilinear", data_format="channels_last"):
    """Resize an image (h, w, c) or a batch (n, h, w, c) as tf.image.resize(..., antialias=False) does,
    returning float32 (channels_first: (c, h, w) / (n, c, h, w))."""
    interpolation = interpolation.lower()
    if interpolation not in RESIZE_INTERPOLATIONS:
        raise ValueError(f"Argument `interpolation` should be one of {RESIZE_INTERPOLATIONS}. "
                         f"Received: interpolation={interpolation}")
    x = np.asarray(images)
    if x.ndim not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 (batch of images). "
                         f"Received input with shape: images.shape={x.shape}")
    x = x.astype(_F, copy=False)
    if data_format == "channels_first":
        x = np.moveaxis(x, -3, -1)
    out_h, out_w = (int(s) for s in size)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"The output size must be positive, got {tuple(size)}")
    h_axis, w_axis = x.ndim - 3, x.ndim - 2
    in_h, in_w = x.shape[h_axis], x.shape[w_axis]
    if interpolation == "nearest":
        out = np.take(np.take(x, _nearest_taps(in_h, out_h), axis=h_axis), _nearest_taps(in_w, out_w), axis=w_axis)
    elif interpolation == "bilinear":
        ylo, yhi, ylerp = _bilinear_taps(in_h, out_h)
        xlo, xhi, xlerp = _bilinear_taps(in_w, out_w)
        xlerp = xlerp[:, None]
        ylerp = ylerp[:, None, None]

        def horizontal(rows):
            left, right = np.take(rows, xlo, axis=w_axis), np.take(rows, xhi, axis=w_axis)
            return left + (right - left) * xlerp
        top = horizontal(np.take(x, ylo, axis=h_axis))
        bottom = horizontal(np.take(x, yhi, axis=h_axis))
        out = top + (bottom - top) * ylerp
    elif interpolation == "bicubic":
        yidx, yw = _bicubic_taps(in_h, out_h)
        xidx, xw = _bicubic_taps(in_w, out_w)
        # TF interpolates each column vertically first, then horizontally
        columns = None
        for k in range(4):
            term = np.take(x, yidx[k], axis=h_axis) * yw[k][:, None, None]
            columns = term if columns is None else columns + term
        out = None
        for j in range(4):
            term = np.take(columns, xidx[j], axis=w_axis) * xw[j][:, None]
            out = term if out is None else out + term
    elif interpolation == "area":
        out = _area_resize(x, h_axis, w_axis, out_h, out_w)
    else:
        # TF gathers the rows first, then the columns
        yi, yw = _kernel_taps(in_h, out_h, interpolation)
        xi, xw = _kernel_taps(in_w, out_w, interpolation)
        out = _gather_sum(_gather_sum(x, yi, yw, h_axis), xi, xw, w_axis)
    out = np.ascontiguousarray(out, dtype=_F)
    if data_format == "channels_first":
        out = np.ascontiguousarray(np.moveaxis(out, -1, -3))
    return out


def _crop_box(height, width, target_height, target_width, float32=False):
    """Keras's centred crop of the target's aspect ratio (smart_resize): (hstart, wstart, h, w)."""
    if float32:
        crop_height = int(_F(width * target_height) / _F(target_width))
        crop_width = int(_F(height * target_width) / _F(target_height))
    else:
        crop_height = int(float(width * target_height) / target_width)
        crop_width = int(float(height * target_width) / target_height)
    crop_height = max(min(height, crop_height), 1)
    crop_width = max(min(width, crop_width), 1)
    if float32:
        hstart, wstart = int(_F(height - crop_height) / _F(2)), int(_F(width - crop_width) / _F(2))
    else:
        hstart, wstart = int(float(height - crop_height) / 2), int(float(width - crop_width) / 2)
    return hstart, wstart, crop_height, crop_width


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last", **kwargs):
    """Resize images to a target size without aspect ratio distortion: take the largest centred crop with
    the target's aspect ratio, then resize it to `size`.

    Args:
        x: an image (height, width, channels) or a batch (batch, height, width, channels) (channels first
            with data_format="channels_first").
        size: (height, width).
        interpolation: "bilinear" (the default), "nearest", "bicubic", "area", "lanczos3", "lanczos5",
            "gaussian" or "mitchellcubic" (see resize_images).
        data_format: "channels_last" or "channels_first".

    Returns:
        A float32 NumPy array with the target height and width.
    """
    kwargs.pop("backend_module", None)
    if kwargs:
        raise TypeError(f"smart_resize() got unexpected keyword arguments: {list(kwargs.keys())}")
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    img = np.asarray(x)
    if img.ndim < 3 or img.ndim > 4:
        raise ValueError("Expected an image array with shape `(height, width, channels)`, or `(batch_size, "
                         f"height, width, channels)`, but got input with incorrect rank, of shape {img.shape}.")
    if data_format == "channels_last":
        height, width = img.shape[-3], img.shape[-2]
    else:
        height, width = img.shape[-2], img.shape[-1]
    hstart, wstart, crop_h, crop_w = _crop_box(int(height), int(width), *size)
    rows, cols = slice(hstart, hstart + crop_h), slice(wstart, wstart + crop_w)
    if data_format == "channels_last":
        img = img[..., rows, cols, :]
    else:
        img = img[..., rows, cols]
    return resize_images(img, size, interpolation=interpolation, data_format=data_format)


def resize_with_pad(image, target_height, target_width, interpolation="bilinear"):
    """tf.image.resize_with_pad (channels last): resize keeping the aspect ratio, then pad with zeros."""
    height, width = image.shape[-3], image.shape[-2]
    f_height, f_width = _F(height), _F(width)
    f_target_height, f_target_width = _F(target_height), _F(target_width)
    ratio = max(_F(f_width / f_target_width), _F(f_height / f_target_height))
    resized_height_float = _F(f_height / ratio)
    resized_width_float = _F(f_width / ratio)
    resized_height = int(np.floor(resized_height_float))
    resized_width = int(np.floor(resized_width_float))
    p_height = max(0, int(np.floor(_F((f_target_height - resized_height_float) / _F(2)))))
    p_width = max(0, int(np.floor(_F((f_target_width - resized_width_float) / _F(2)))))
    resized = resize_images(image, (resized_height, resized_width), interpolation=interpolation)
    out = np.zeros(image.shape[:-3] + (target_height, target_width, image.shape[-1]), dtype=_F)
    out[..., p_height:p_height + resized_height, p_width:p_width + resized_width, :] = resized
    return out
