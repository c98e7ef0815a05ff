"""Convolution kernels (csrc/conv/) against a plain NumPy reference, on every ISA path, and bit-identical
results for 1 and 2 threads."""
import numpy as np
import pytest

from pynn import _C, kernels

# (batch, h, w, in_c, out_c, kernel, strides, padding, dilation, groups)
CASES = [
    (1, 5, 5, 1, 1, (1, 1), 1, "valid", 1, 1),          # 1x1, batch 1
    (2, 6, 7, 5, 3, (1, 1), 1, "valid", 1, 1),          # pointwise: a plain GEMM
    (2, 7, 6, 3, 5, (3, 3), 1, "valid", 1, 1),
    (2, 7, 6, 3, 5, (3, 3), 1, "same", 1, 1),
    (3, 9, 8, 17, 19, (3, 2), 2, "same", 1, 1),         # asymmetric 'same', odd channels
    (2, 10, 11, 4, 6, (2, 2), 3, "valid", 1, 1),        # stride larger than the kernel
    (1, 6, 6, 20, 40, (1, 1), 2, "valid", 1, 1),        # 1x1 with stride
    (1, 28, 28, 1, 32, (3, 3), 1, "valid", 1, 1),       # W2's first layer
    (2, 13, 13, 32, 64, (3, 3), 1, "valid", 1, 1),      # W2's second layer
    (2, 12, 12, 5, 7, (3, 3), 1, "same", 2, 1),         # dilation
    (2, 8, 9, 3, 4, (3, 3), 2, "valid", (2, 1), 1),     # stride and dilation
    (2, 11, 13, 3, 4, (3, 5), (2, 3), "same", 1, 1),    # per-axis strides
    (2, 9, 9, 6, 9, (3, 3), 1, "same", 1, 3),           # groups
    (2, 8, 8, 4, 8, (3, 3), 2, "same", 1, 4),           # depthwise, depth multiplier 2, stride 2
    (1, 5, 5, 3, 4, (5, 5), 1, "valid", 1, 1),          # kernel as large as the image
    (1, 4, 4, 2, 3, (5, 5), 1, "same", 1, 1),           # kernel larger than the image ('same')
    (5, 17, 3, 33, 18, (2, 3), 1, "same", 1, 1),
    # < 8 channels per group: the direct tile, a whole output row per call (panels of mr pixels, then a
    # short panel), zero-padded windows, column blocks of nr and a half-width one
    (2, 9, 31, 3, 40, (3, 3), 1, "same", 1, 1),         # 31 pixels a row, 40 channels (16 + 16 + 8)
    (1, 6, 29, 2, 16, (3, 5), 2, "same", (1, 2), 1),    # stride 2 and dilation on a wide row
    (2, 5, 40, 1, 7, (2, 3), 1, "valid", 1, 1),         # 38 pixels: short last panel, 7 channels
    (1, 4, 35, 6, 24, (1, 3), 1, "same", 1, 2),         # groups of 3 channels on a wide row
    # 3x3, stride 1, >= 32 input channels, float32: Winograd F(2x2, 3x3), forward and (as the flipped conv)
    # backward-data: ragged tiles, more than 64 output channels, batch 1 and 5, 'same' and 'valid'
    (2, 9, 11, 32, 70, (3, 3), 1, "same", 1, 1),
    (5, 6, 7, 40, 33, (3, 3), 1, "valid", 1, 1),
    (1, 10, 10, 48, 16, (3, 3), 1, "same", 1, 1),
    # >= 8 channels per group: the indirect tile (conv2d.cpp's use_indirect), ragged panels and column blocks
    (1, 7, 9, 8, 10, (3, 3), 1, "same", 1, 1),          # batch 1, a half-width column block
    (2, 9, 9, 16, 48, (3, 3), 1, "same", 2, 2),         # groups of 8 -> 24, dilation
    (3, 6, 5, 12, 70, (2, 2), 2, "valid", 1, 1),        # three column blocks, stride 2
    # one input channel per group: the depthwise loops
    (1, 7, 6, 17, 17, (3, 3), 1, "same", 1, 17),        # batch 1, multiplier 1, 17 channels
    (2, 9, 8, 5, 15, (3, 2), (2, 1), "same", 1, 5),     # multiplier 3, per-axis strides
    (2, 10, 9, 6, 6, (3, 3), 1, "valid", (2, 3), 6),    # dilation
    (2, 9, 9, 3, 6, (2, 2), 3, "valid", 1, 3),          # stride larger than the kernel
]


def _pairs(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _pads(case):
    n, h, w, c, o, k, s, padding, d, g = case
    s, d = _pairs(s), _pairs(d)
    return [kernels.conv_padding(size, k[i], s[i], padding, d[i]) for i, size in enumerate((h, w))]


def _sliced(xp, kh, kw, out_h, out_w, s, d):
    return xp[:, kh * d[0]: kh * d[0] + (out_h - 1) * s[0] + 1: s[0], kw * d[1]: kw * d[1] + (out_w - 1) * s[1] + 1: s[1]]


def numpy_conv(x, w, case):
    """Forward, by explicit zero padding and one matrix product per tap and group, in float64."""
    _, h, wd, c, o, k, s, padding, d, g = case
    s, d = _pairs(s), _pairs(d)
    (pt, pb), (pl, pr) = _pads(case)
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    out_h = (h + pt + pb - (k[0] - 1) * d[0] - 1) // s[0] + 1
    out_w = (wd + pl + pr - (k[1] - 1) * d[1] - 1) // s[1] + 1
    cg, og = c // g, o // g
    y = np.zeros((x.shape[0], out_h, out_w, o))
    for kh in range(k[0]):
        for kw in range(k[1]):
            patch = _sliced(xp, kh, kw, out_h, out_w, s, d)
            for gi in range(g):
                y[..., gi * og:(gi + 1) * og] += patch[..., gi * cg:(gi + 1) * cg] @ w[kh, kw, :, gi * og:(gi + 1) * og]
    return y


def numpy_conv_backward(x, w, dy, case):
    """(dx, dw, dbias) of sum(dy * conv(x, w)), in float64."""
    _, h, wd, c, o, k, s, padding, d, g = case
    s, d = _pairs(s), _pairs(d)
    (pt, pb), (pl, pr) = _pads(case)
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    out_h, out_w = dy.shape[1:3]
    cg, og = c // g, o // g
    dy = dy.astype(np.float64)
    for kh in range(k[0]):
        for kw in range(k[1]):
            patch = _sliced(xp, kh, kw, out_h, out_w, s, d)
            dpatch = _sliced(dxp, kh, kw, out_h, out_w, s, d)
            for gi in range(g):
                dyg = dy[..., gi * og:(gi + 1) * og]
                dpatch[..., gi * cg:(gi + 1) * cg] += dyg @ w[kh, kw, :, gi * og:(gi + 1) * og].T
                dw[kh, kw, :, gi * og:(gi + 1) * og] = np.einsum("nhwc,nhwo->co", patch[..., gi * cg:(gi + 1) * cg], dyg)
    dx = dxp[:, pt:pt + h, pl:pl + wd]
    return dx, dw, dy.sum(axis=(0, 1, 2))


def _data(case, dtype, rng):
    n, h, w, c, o, k, s, padding, d, g = case
    x = rng.standard_normal((n, h, w, c)).astype(dtype)
    wt = rng.standard_normal((k[0], k[1], c // g, o)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    y_shape = (n,) + kernels.conv2d_geometry((h, w), k, s, padding, d)[0] + (o,)
    dy = rng.standard_normal(y_shape).astype(dtype)
    return x, wt, b, dy


def _tol(dtype, case):
    fan = case[5][0] * case[5][1] * case[3] // case[9]
    return (2e-6 if dtype == np.float32 else 1e-13) * max(8.0, fan)


def _run_all(case, x, w, b, dy, reference=False, activation=None):
    _, h, wd, c, o, k, s, padding, d, g = case
    y = np.empty(dy.shape, x.dtype)
    _C.conv2d_forward(x, w, b, y, _pairs(s), _pads(case), _pairs(d), g, activation,
                      reference)
    dx = np.empty_like(x)
    _C.conv2d_backward_data(dy, w, dx, _pairs(s), _pads(case), _pairs(d), g, reference)
    dw, db = np.full_like(w, np.nan), np.full_like(b, np.nan)
    _C.conv2d_backward_weights(x, dy, dw, db, _pairs(s), _pads(case), _pairs(d), g, False,
                               reference)
    return y, dx, dw, db


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_kernels_match_numpy(isa, dtype, rng):
    for case in CASES:
        x, w, b, dy = _data(case, dtype, rng)
        y, dx, dw, db = _run_all(case, x, w, b, dy, activation="relu")
        want_dx, want_dw, want_db = numpy_conv_backward(x, w, dy, case)
        tol = _tol(dtype, case)
        msg = f"{isa} {dtype.__name__} {case}"
        np.testing.assert_allclose(y, np.maximum(numpy_conv(x, w, case) + b, 0), rtol=0, atol=tol, err_msg=msg)
        np.testing.assert_allclose(dx, want_dx, rtol=0, atol=tol * 4, err_msg="dx " + msg)
        rows = dy.shape[0] * dy.shape[1] * dy.shape[2]
        np.testing.assert_allclose(dw, want_dw, rtol=0, atol=tol * max(1, rows) ** 0.5, err_msg="dw " + msg)
        np.testing.assert_allclose(db, want_db, rtol=0, atol=tol * max(1, rows) ** 0.5, err_msg="db " + msg)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_kernels_match_numpy(dtype, rng):
    for case in CASES[:14]:
        x, w, b, dy = _data(case, dtype, rng)
        y, dx, dw, db = _run_all(case, x, w, b, dy, reference=True)
        want_dx, want_dw, want_db = numpy_conv_backward(x, w, dy, case)
        tol = _tol(dtype, case) * 8
        np.testing.assert_allclose(y, numpy_conv(x, w, case) + b, rtol=0, atol=tol, err_msg=str(case))
        np.testing.assert_allclose(dx, want_dx, rtol=0, atol=tol, err_msg=str(case))
        np.testing.assert_allclose(dw, want_dw, rtol=0, atol=tol * 8, err_msg=str(case))
        np.testing.assert_allclose(db, want_db, rtol=0, atol=tol * 8, err_msg=str(case))


def test_bit_identical_for_one_and_two_threads(isa, threads, rng):
    for case in CASES + [(64, 28, 28, 1, 32, (3, 3), 1, "valid", 1, 1), (64, 13, 13, 32, 64, (3, 3), 1, "valid", 1, 1),
                         (8, 15, 15, 8, 16, (3, 3), 2, "same", 1, 1)]:
        x, w, b, dy = _data(case, np.float32, rng)
        threads(1)
        one = _run_all(case, x, w, b, dy, activation="relu")
        threads(2)
        two = _run_all(case, x, w, b, dy, activation="relu")
        for a, b_, name in zip(one, two, ("y", "dx", "dw", "db")):
            np.testing.assert_array_equal(a, b_, err_msg=f"{name} {case}")


def _run_masked(case, x, w, b, dy, y):
    """(dx, dw, db) with the relu mask y given to the kernels (dz = dy * (y > 0) formed in their tiles)."""
    _, h, wd, c, o, k, s, padding, d, g = case
    pads = _pads(case)
    dx = np.empty_like(x)
    _C.conv2d_backward_data(dy, w, dx, _pairs(s), pads, _pairs(d), g, False, y)
    dw, db = np.full_like(w, np.nan), np.full_like(b, np.nan)
    _C.conv2d_backward_weights(x, dy, dw, db, _pairs(s), pads, _pairs(d), g, False, False, y)
    return dx, dw, db


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_mask_is_applied_inside_the_backward_kernels(isa, dtype, rng):
    """With the forward's relu output as mask, the backward kernels give exactly what they give for
    dz = dy * (y > 0) formed beforehand (and so the NumPy reference's gradients)."""
    for case in CASES + [(1, 7, 7, 3, 4, (3, 3), 1, "valid", 1, 1)]:  # batch 1, stride 1: the flipped-kernel dx
        x, w, b, dy = _data(case, dtype, rng)
        y = _run_all(case, x, w, b, dy, activation="relu")[0]
        dz = np.where(y > 0, dy, 0).astype(dtype)
        want = _run_all(case, x, w, b, dz)[1:]
        for got, ref, name in zip(_run_masked(case, x, w, b, dy, y), want, ("dx", "dw", "db")):
            np.testing.assert_array_equal(got, ref, err_msg=f"{name} {isa} {case}")
        want_dx, want_dw, _ = numpy_conv_backward(x, w, dz, case)
        np.testing.assert_allclose(want[0], want_dx, rtol=0, atol=_tol(dtype, case) * 4, err_msg=str(case))


def test_masked_backward_is_bit_identical_for_one_and_two_threads(threads, rng):
    for case in [CASES[8], CASES[4], (64, 28, 28, 1, 32, (3, 3), 1, "valid", 1, 1)]:
        x, w, b, dy = _data(case, np.float32, rng)
        y = _run_all(case, x, w, b, dy, activation="relu")[0]
        threads(1)
        one = _run_masked(case, x, w, b, dy, y)
        threads(2)
        two = _run_masked(case, x, w, b, dy, y)
        for a, b_, name in zip(one, two, ("dx", "dw", "db")):
            np.testing.assert_array_equal(a, b_, err_msg=f"{name} {case}")


def test_mask_argument_is_checked(rng):
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    dy = rng.standard_normal((2, 3, 3, 4)).astype(np.float32)
    dx, dw = np.empty_like(x), np.empty_like(w)
    with pytest.raises(ValueError, match=r"conv2d_backward_data: mask: expected shape \(2, 3, 3, 4\) \(dy's shape\)"):
        _C.conv2d_backward_data(dy, w, dx, mask=dy[:1].copy())
    with pytest.raises(ValueError, match="mask: expected dtype float32"):
        _C.conv2d_backward_weights(x, dy, dw, mask=dy.astype(np.float64))
    with pytest.raises(ValueError, match="mask: expected a numpy.ndarray"):
        _C.conv2d_backward_weights(x, dy, dw, mask=dy.tolist())
    with pytest.raises(ValueError, match="dw: the output must not share memory with mask"):
        _C.conv2d_backward_weights(x, dy, dw, mask=dw.reshape(-1)[:72].reshape(dy.shape))


def test_backward_weights_accumulates(rng):
    case = CASES[4]
    x, w, b, dy = _data(case, np.float64, rng)
    _, want_dw, want_db = numpy_conv_backward(x, w, dy, case)
    dw0, db0 = rng.standard_normal(w.shape), rng.standard_normal(b.shape)
    dw, db = kernels.conv2d_backward_weights(x, dy, w.shape, strides=2, padding="same", dw=dw0.copy(),
                                         dbias=db0.copy(), accumulate=True)
    np.testing.assert_allclose(dw, dw0 + want_dw, atol=1e-12)
    np.testing.assert_allclose(db, db0 + want_db, atol=1e-12)


def test_forward_ignores_nan_in_output_buffer_and_fuses_activations(rng):
    case = CASES[3]
    x, w, b, dy = _data(case, np.float32, rng)
    y = np.full(dy.shape, np.nan, np.float32)
    _C.conv2d_forward(x, w, b, y, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, ("relu", {"max_value": 1.0}))
    np.testing.assert_allclose(y, np.clip(numpy_conv(x, w, case) + b, 0, 1), atol=1e-5)
    y = kernels.conv2d(x, w, b, padding="same", activation="sigmoid")
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-(numpy_conv(x, w, case) + b))), atol=1e-6)


@pytest.mark.parametrize("in_c", [1, 3, 12, 40])
def test_fused_relu_propagates_nan_like_the_activation_kernel(isa, in_c, rng):
    # the direct tile (few channels) and Winograd's output transform (40) apply relu in registers; NaN must
    # stay NaN as in the activation kernel, and reach no output whose window does not see it
    x = rng.standard_normal((2, 6, 30, in_c)).astype(np.float32)
    x[1, 2, 17, 0] = np.nan
    w = rng.standard_normal((3, 3, in_c, 20)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    y = kernels.conv2d(x, w, b, padding="same", activation="relu")
    linear = kernels.conv2d(x, w, b, padding="same")
    window = np.zeros(y.shape[:3], bool)
    window[1, 1:4, 16:19] = True  # the outputs whose 3x3 window sees x[1, 2, 17]
    np.testing.assert_array_equal(np.isnan(y).any(axis=-1), window)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(linear))
    np.testing.assert_array_equal(np.where(np.isnan(linear), 0, y), np.maximum(np.nan_to_num(linear), 0))


def test_keras_same_padding_is_asymmetric_for_stride_two():
    assert kernels.conv_padding(28, 3, 2, "same") == (0, 1)   # Keras's 'same': n=28, k=3, s=2 pads (0, 1), the odd row at the end
    assert kernels.conv_padding(27, 3, 2, "same") == (1, 1)
    assert kernels.conv_padding(8, 4, 1, "same") == (1, 2)
    assert kernels.conv_padding(10, 3, 1, "same", dilation=2) == (2, 2)
    assert kernels.conv_output_length(28, 3, 2, "same") == 14
    assert kernels.conv_output_length(28, 3, 2, "valid") == 13


def test_binding_rejects_bad_arrays(rng):
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    y = np.empty((2, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"w: expected shape \(3, 3, 3, 4\)"):
        _C.conv2d_forward(x, w[:, :, :2].copy(), None, y)
    with pytest.raises(ValueError, match="w: expected dtype float32"):
        _C.conv2d_forward(x, w.astype(np.float64), None, y)
    with pytest.raises(ValueError, match=r"conv2d_forward: strides: expected integers in \[1, "):
        _C.conv2d_forward(x, w, None, y, (0, 1))
    with pytest.raises(ValueError, match="groups: 2 must divide"):
        _C.conv2d_forward(x, w, None, y, groups=2)
    with pytest.raises(ValueError, match=r"conv2d_forward: y: expected shape \(2, 3, 3, 4\)"):
        _C.conv2d_forward(x, w, None, np.empty((1, 3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.conv2d_forward(x[:, ::2], w, None, y)
    buf = np.zeros(200, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        _C.conv2d_forward(x, buf[:108].reshape(3, 3, 3, 4), None, buf[:72].reshape(2, 3, 3, 4))
    with pytest.raises(ValueError, match="bias: expected shape"):
        _C.conv2d_forward(x, w, np.zeros(3, np.float32), y)
    with pytest.raises(ValueError, match="does not fit"):
        kernels.conv2d(x, rng.standard_normal((7, 7, 3, 4)).astype(np.float32))


# ---------------------------------------------------------------- output size and padding checks
# Before these checks, an output of the wrong spatial size (or a negative padding) was accepted: the kernels
# filled or summed the region the output's size implied, a silently wrong result.

def _arrays(rng, dtype=np.float32):
    x = rng.standard_normal((2, 7, 6, 3)).astype(dtype)
    w = rng.standard_normal((3, 3, 3, 4)).astype(dtype)
    return x, w


@pytest.mark.parametrize("y_hw", [(4, 4), (6, 4), (5, 3), (5, 5), (1, 1)])
def test_binding_rejects_an_output_of_another_size(rng, y_hw):
    x, w = _arrays(rng)                           # valid 3x3, stride 1: the output is 5x4
    y = np.empty((2,) + y_hw + (4,), np.float32)
    dx, dw = np.empty_like(x), np.empty_like(w)
    with pytest.raises(ValueError, match=r"conv2d_forward: y: expected shape \(2, 5, 4, 4\) .*got \(2, "
                                         rf"{y_hw[0]}, {y_hw[1]}, 4\)"):
        _C.conv2d_forward(x, w, None, y)
    with pytest.raises(ValueError, match=r"conv2d_backward_data: dy: expected shape \(2, 5, 4, 4\)"):
        _C.conv2d_backward_data(y, w, dx)
    with pytest.raises(ValueError, match=r"conv2d_backward_weights: dy: expected shape \(2, 5, 4, 4\)"):
        _C.conv2d_backward_weights(x, y, dw)


def test_binding_output_size_follows_strides_padding_and_dilation(rng):
    x, w = _arrays(rng)
    for strides, padding, dilation, hw in [((2, 1), ((0, 0), (0, 0)), (1, 1), (3, 4)),
                                           ((1, 1), ((1, 1), (2, 0)), (1, 1), (7, 6)),
                                           ((2, 3), ((1, 2), (1, 1)), (1, 1), (4, 2)),
                                           ((1, 1), ((0, 0), (1, 1)), (3, 2), (1, 4))]:
        y = np.full((2,) + hw + (4,), np.nan, np.float32)
        _C.conv2d_forward(x, w, None, y, strides, padding, dilation)
        want = kernels.conv2d(x, w, None, strides, padding, dilation)
        np.testing.assert_array_equal(y, want)
        assert np.isfinite(y).all()
        bigger = np.empty((2, hw[0] + 1, hw[1], 4), np.float32)
        with pytest.raises(ValueError, match=rf"conv2d_forward: y: expected shape \(2, {hw[0]}, {hw[1]}, 4\)"):
            _C.conv2d_forward(x, w, None, bigger, strides, padding, dilation)


@pytest.mark.parametrize("padding", [((-1, 0), (0, 0)), ((0, 0), (0, -2)), (1, 1), ((0, 0),), "same", None,
                                     ((0.5, 0), (0, 0))])
def test_binding_rejects_negative_or_malformed_padding(rng, padding):
    x, w = _arrays(rng)
    y = np.empty((2, 5, 4, 4), np.float32)
    with pytest.raises((ValueError, TypeError), match="conv2d_forward: padding"):
        _C.conv2d_forward(x, w, None, y, (1, 1), padding)
    with pytest.raises((ValueError, TypeError), match="conv2d_backward_data: padding"):
        _C.conv2d_backward_data(y, w, np.empty_like(x), (1, 1), padding)
    with pytest.raises((ValueError, TypeError), match="conv2d_backward_weights: padding"):
        _C.conv2d_backward_weights(x, y, np.empty_like(w), None, (1, 1), padding)


def test_binding_rejects_a_kernel_that_does_not_fit_and_bad_groups(rng):
    x, w = _arrays(rng)
    with pytest.raises(ValueError, match="conv2d_forward: w: a 3x3 kernel with dilation \\(4, 1\\) does not fit"):
        _C.conv2d_forward(x, w, None, np.empty((2, 0, 4, 4), np.float32), (1, 1), ((0, 0), (0, 0)), (4, 1))
    with pytest.raises(ValueError, match=r"conv2d_forward: groups: expected an integer in \[1, 3\]"):
        _C.conv2d_forward(x, w, None, np.empty((2, 5, 4, 4), np.float32), groups=0)
    with pytest.raises(ValueError, match="conv2d_forward: w: expected a kernel of at least 1x1"):
        _C.conv2d_forward(x, np.empty((0, 3, 3, 4), np.float32), None, np.empty((2, 5, 4, 4), np.float32))


@pytest.mark.parametrize("padding", ["valid", "same", ((1, 0), (2, 3))])
def test_ops_reject_outputs_and_gradients_of_another_size(rng, padding):
    x, w = _arrays(rng)
    y = kernels.conv2d(x, w, padding=padding, strides=2)
    bad = np.empty((2, y.shape[1] + 1, y.shape[2], 4), np.float32)
    with pytest.raises(ValueError, match=rf"conv2d: out: expected shape \(2, {y.shape[1]}, {y.shape[2]}, 4\)"):
        kernels.conv2d(x, w, padding=padding, strides=2, out=bad)
    with pytest.raises(ValueError, match=rf"conv2d_backward_data: dy: expected shape \(2, {y.shape[1]}, "):
        kernels.conv2d_backward_data(bad, w, x.shape, padding=padding, strides=2)
    with pytest.raises(ValueError, match=r"conv2d_backward_data: out: expected shape \(2, 7, 6, 3\)"):
        kernels.conv2d_backward_data(y, w, x.shape, padding=padding, strides=2, out=np.empty((2, 6, 6, 3), np.float32))
    with pytest.raises(ValueError, match=rf"conv2d_backward_weights: dy: expected shape \(2, {y.shape[1]}, "):
        kernels.conv2d_backward_weights(x, bad, w.shape, padding=padding, strides=2)
    with pytest.raises(ValueError, match=r"conv2d_backward_weights: dw: expected shape \(3, 3, 3, 4\)"):
        kernels.conv2d_backward_weights(x, y, w.shape, padding=padding, strides=2, dw=np.empty((3, 3, 3, 5), np.float32))
    with pytest.raises(ValueError, match=r"conv2d_backward_weights: dbias: expected shape \(4,\)"):
        kernels.conv2d_backward_weights(x, y, w.shape, padding=padding, strides=2, dbias=np.empty(5, np.float32))


@pytest.mark.parametrize("padding, strides, dilation", [(((-1, 0), (0, 0)), 1, 1), ("full", 1, 1), ("valid", 0, 1),
                                                         ("valid", 1, 0), ("valid", (1, -1), 1)])
def test_ops_reject_negative_padding_strides_and_dilation(rng, padding, strides, dilation):
    x, w = _arrays(rng)
    with pytest.raises(ValueError, match="padding|strides|dilation"):
        kernels.conv2d(x, w, padding=padding, strides=strides, dilation=dilation)
    with pytest.raises(ValueError, match="padding|strides|dilation"):
        kernels.conv2d_backward_data(np.empty((2, 5, 4, 4), np.float32), w, x.shape, strides, padding, dilation)
    with pytest.raises(ValueError, match="padding|strides|dilation"):
        kernels.conv2d_backward_weights(x, np.empty((2, 5, 4, 4), np.float32), w.shape, strides, padding, dilation)


def test_conv2d_transpose_checks_out_hw_and_matches_backward_data(rng):
    x = rng.standard_normal((2, 4, 3, 5)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 5)).astype(np.float32)
    for out_hw, padding in [((9, 7), "valid"), ((10, 8), "valid"), ((8, 6), "same"), ((7, 5), "same")]:
        y = kernels.conv2d_transpose(x, w, out_hw, 2, padding)
        assert y.shape == (2,) + out_hw + (2,)
        pads = kernels.conv_padding(out_hw[0], 3, 2, padding)[0], kernels.conv_padding(out_hw[1], 3, 2, padding)[0]
        # the adjoint of the convolution of a y-shaped image: <conv(z), x> == <z, conv_transpose(x)>
        z = rng.standard_normal(y.shape).astype(np.float64)
        conv = kernels.conv2d(z, w.astype(np.float64), None, 2, tuple((p, 9) for p in pads))[:, :4, :3]
        np.testing.assert_allclose(np.sum(conv * x), np.sum(z * y), rtol=1e-4)
    for out_hw in [(11, 7), (6, 7), (9, 9)]:
        with pytest.raises(ValueError, match="conv2d_transpose: out_hw"):
            kernels.conv2d_transpose(x, w, out_hw, 2, "valid")
