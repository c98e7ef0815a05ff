# Counter-based random numbers (Philox4x32-10) and dropout. csrc/random/random.h.

from libc.stdint cimport uint8_t, uint32_t, uint64_t

cdef extern from "random/random.h" namespace "pynn" nogil:
    cpdef enum class RandomDistribution:
        uniform, normal, truncated_normal
    cdef cppclass RandomParams:
        RandomDistribution distribution
        uint64_t seed
        uint64_t offset
        double a
        double b
    cdef cppclass DropoutParams:
        double rate
        uint64_t seed
        uint64_t offset
    void c_random_fill "pynn::random_fill"(const RandomParams&, float*, int64_t)
    void c_random_fill "pynn::random_fill"(const RandomParams&, double*, int64_t)
    void c_random_fill_reference "pynn::random_fill_reference"(const RandomParams&, float*, int64_t)
    void c_random_fill_reference "pynn::random_fill_reference"(const RandomParams&, double*, int64_t)
    void c_random_bernoulli "pynn::random_bernoulli"(uint64_t, uint64_t, double, uint8_t*, int64_t)
    void c_random_integers "pynn::random_integers"(uint64_t, uint64_t, int64_t, int64_t, int64_t*, int64_t)
    void c_dropout_forward "pynn::dropout_forward"(const DropoutParams&, const float*, float*, uint8_t*, int64_t)
    void c_dropout_forward "pynn::dropout_forward"(const DropoutParams&, const double*, double*, uint8_t*, int64_t)
    void c_dropout_backward "pynn::dropout_backward"(double, const float*, const uint8_t*, float*, int64_t)
    void c_dropout_backward "pynn::dropout_backward"(double, const double*, const uint8_t*, double*, int64_t)
    void c_philox4x32_10_block "pynn::philox4x32_10_block"(const uint32_t*, const uint32_t*, uint32_t*)


cdef inline int _exact_dtype(cnp.ndarray x, int typenum, str name, str expected) except -1:
    if cnp.PyArray_TYPE(x) != typenum:
        raise ValueError(f"{name}: expected dtype {expected}, got {x.dtype}")
    return 0

cdef uint64_t _seed(object seed) except? 0:
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise ValueError(f"seed: expected an integer in [0, 2**64), got {seed!r}")
    s = seed.__index__()
    if s < 0 or s >= 2 ** 64:
        raise ValueError(f"seed: expected an integer in [0, 2**64), got {s}")
    return <uint64_t>s

cdef uint64_t _offset(object offset, int64_t n) except? 0:
    if isinstance(offset, bool) or not hasattr(offset, "__index__"):
        raise ValueError(f"offset: expected an integer >= 0, got {offset!r}")
    o = offset.__index__()
    if o < 0 or o + n > 2 ** 64:
        raise ValueError(f"offset: expected an integer in [0, 2**64 - {n}] (the stream has 2**64 elements "
                         f"and this fill takes {n}), got {o}")
    return <uint64_t>o


cdef list _words(object arg, int count, str name):
    words = list(arg) if hasattr(arg, "__iter__") else []
    if (len(words) != count or not all(hasattr(w, "__index__") and 0 <= w.__index__() < 2 ** 32 for w in words)):
        raise ValueError(f"{name}: expected {count} integers in [0, 2**32), got {arg!r}")
    return [w.__index__() for w in words]


def philox4x32_10(counter, key):
    """Philox4x32-10 of counter (4 uint32) and key (2 uint32): a tuple of 4 uint32."""
    cdef uint32_t c[4]
    cdef uint32_t k[2]
    cdef uint32_t out[4]
    cdef int i
    words = _words(counter, 4, "counter")
    for i in range(4):
        c[i] = words[i]
    words = _words(key, 2, "key")
    for i in range(2):
        k[i] = words[i]
    c_philox4x32_10_block(c, k, out)
    return (out[0], out[1], out[2], out[3])


def random_fill(out, str distribution, seed, offset, double a, double b, bint reference=False):
    """Fill out (float32 / float64, C-contiguous) with stream elements offset, offset + 1, ... of seed.

    distribution: 'uniform' (a = low, b = high), 'normal' or 'truncated_normal' (a = mean, b = stddev).
    reference: compute each element on its own, serially (the tests' oracle).
    """
    cdef cnp.ndarray O = _contiguous_output(out, "out")
    cdef int kind = _float_kind(O, "out")
    cdef RandomParams p
    try:
        p.distribution = RandomDistribution[distribution]
    except KeyError:
        raise ValueError(f"distribution: expected one of {[d.name for d in RandomDistribution]}, "
                         f"got {distribution!r}") from None
    cdef int64_t n = O.size
    p.seed = _seed(seed)
    p.offset = _offset(offset, n)
    p.a = a
    p.b = b
    cdef void* po = cnp.PyArray_DATA(O)
    with nogil:
        if kind == 0:
            if reference:
                c_random_fill_reference(p, <float*>po, n)
            else:
                c_random_fill(p, <float*>po, n)
        else:
            if reference:
                c_random_fill_reference(p, <double*>po, n)
            else:
                c_random_fill(p, <double*>po, n)


def random_bernoulli(out, double probability, seed, offset):
    """out (uint8, C-contiguous)[i] = 1 with the given probability, else 0."""
    cdef cnp.ndarray O = _contiguous_output(out, "out")
    _exact_dtype(O, cnp.NPY_UINT8, "out", "uint8")
    if not (0.0 <= probability <= 1.0):
        raise ValueError(f"p: expected a probability in [0, 1], got {probability}")
    cdef int64_t n = O.size
    cdef uint64_t s = _seed(seed), o = _offset(offset, n)
    cdef uint8_t* po = <uint8_t*>cnp.PyArray_DATA(O)
    with nogil:
        c_random_bernoulli(s, o, probability, po, n)


def random_integers(out, int64_t low, int64_t high, seed, offset):
    """out (int64, C-contiguous)[i] uniform in [low, high), 1 <= high - low <= 2**32."""
    cdef cnp.ndarray O = _contiguous_output(out, "out")
    _exact_dtype(O, cnp.NPY_INT64, "out", "int64")
    if not (1 <= <object>high - <object>low <= 2 ** 32):
        raise ValueError(f"high: expected low < high <= low + 2**32, got low={low}, high={high}")
    cdef int64_t n = O.size
    cdef uint64_t s = _seed(seed), o = _offset(offset, n)
    cdef int64_t* po = <int64_t*>cnp.PyArray_DATA(O)
    with nogil:
        c_random_integers(s, o, low, high, po, n)


def dropout_forward(x, y, mask, double rate, seed, offset):
    """y = mask ? x / (1 - rate) : 0 with mask (uint8) drawn from (seed, offset). y may be x."""
    cdef cnp.ndarray X = _array(x, "x"), Y = _contiguous_output(y, "y"), M = _contiguous_output(mask, "mask")
    cdef int kind = _float_kind(X, "x")
    _contiguous(X, "x")
    _same_dtype(Y, X, "y", "x")
    _same_shape(Y, X, "y", "x")
    _exact_dtype(M, cnp.NPY_UINT8, "mask", "uint8")
    _same_shape(M, X, "mask", "x")
    if not (0.0 <= rate < 1.0):
        raise ValueError(f"rate: expected a float in [0, 1), got {rate}")
    if _overlap(M, X) or _overlap(M, Y) or (_overlap(X, Y) and cnp.PyArray_DATA(X) != cnp.PyArray_DATA(Y)):
        raise ValueError("y, mask: outputs must not overlap the input (except y being x itself)")
    cdef DropoutParams p
    p.rate = rate
    cdef int64_t n = X.size
    p.seed = _seed(seed)
    p.offset = _offset(offset, n)
    cdef void* px = cnp.PyArray_DATA(X)
    cdef void* py = cnp.PyArray_DATA(Y)
    cdef uint8_t* pm = <uint8_t*>cnp.PyArray_DATA(M)
    with nogil:
        if kind == 0:
            c_dropout_forward(p, <const float*>px, <float*>py, pm, n)
        else:
            c_dropout_forward(p, <const double*>px, <double*>py, pm, n)


def dropout_backward(dy, mask, dx, double rate):
    """dx = mask ? dy / (1 - rate) : 0. dx may be dy."""
    cdef cnp.ndarray DY = _array(dy, "dy"), M = _array(mask, "mask"), DX = _contiguous_output(dx, "dx")
    cdef int kind = _float_kind(DY, "dy")
    _contiguous(DY, "dy")
    _contiguous(M, "mask")
    _exact_dtype(M, cnp.NPY_UINT8, "mask", "uint8")
    _same_shape(M, DY, "mask", "dy")
    _same_dtype(DX, DY, "dx", "dy")
    _same_shape(DX, DY, "dx", "dy")
    if not (0.0 <= rate < 1.0):
        raise ValueError(f"rate: expected a float in [0, 1), got {rate}")
    if _overlap(DX, M) or (_overlap(DX, DY) and cnp.PyArray_DATA(DX) != cnp.PyArray_DATA(DY)):
        raise ValueError("dx: must not overlap mask, nor dy except by being dy itself")
    cdef int64_t n = DY.size
    cdef void* pdy = cnp.PyArray_DATA(DY)
    cdef void* pdx = cnp.PyArray_DATA(DX)
    cdef const uint8_t* pm = <const uint8_t*>cnp.PyArray_DATA(M)
    with nogil:
        if kind == 0:
            c_dropout_backward(rate, <const float*>pdy, pm, <float*>pdx, n)
        else:
            c_dropout_backward(rate, <const double*>pdy, pm, <double*>pdx, n)
