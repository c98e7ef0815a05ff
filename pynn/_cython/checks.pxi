# Argument checks shared by every binding. Each raises ValueError naming the argument, what was expected
# and what came, before any kernel runs.

cdef inline cnp.ndarray _array(object x, str name):
    if not isinstance(x, cnp.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(x).__name__}")
    return <cnp.ndarray>x

cdef inline int _float_kind(cnp.ndarray x, str name) except -1:
    """0 for float32, 1 for float64; anything else is an error."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t == cnp.NPY_FLOAT32:
        return 0
    if t == cnp.NPY_FLOAT64:
        return 1
    raise ValueError(f"{name}: expected dtype float32 or float64, got {x.dtype}")

cdef inline int _same_dtype(cnp.ndarray x, cnp.ndarray ref, str name, str ref_name) except -1:
    if cnp.PyArray_TYPE(x) != cnp.PyArray_TYPE(ref):
        raise ValueError(f"{name}: expected dtype {ref.dtype} (the dtype of {ref_name}), got {x.dtype}")
    return 0

cdef inline int _contiguous(cnp.ndarray x, str name) except -1:
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        raise ValueError(f"{name}: expected a C-contiguous array, got strides {(<object>x).strides}")
    return 0

cdef inline int _writeable(cnp.ndarray x, str name) except -1:
    if not cnp.PyArray_ISWRITEABLE(x):
        raise ValueError(f"{name}: expected a writeable array")
    return 0

cdef inline int64_t _row_stride(cnp.ndarray x, str name) except -1:
    """Leading dimension (in elements) of a 2-D array whose rows are contiguous."""
    cdef int64_t item = cnp.PyArray_ITEMSIZE(x)
    cdef int64_t rows = x.shape[0], cols = x.shape[1]
    cdef int64_t s0 = x.strides[0], s1 = x.strides[1]
    if rows == 0 or cols == 0:
        return cols if cols > 0 else 1
    if cols > 1 and s1 != item:
        raise ValueError(f"{name}: expected rows with contiguous elements, got strides {(<object>x).strides}")
    if rows <= 1:
        return cols if cols > 0 else 1
    if s0 % item != 0 or s0 // item < cols:
        raise ValueError(f"{name}: expected a row stride of at least {cols} elements, got strides {(<object>x).strides}")
    return s0 // item

cdef inline bint _overlap(cnp.ndarray x, cnp.ndarray y):
    """True when the memory spans of x and y intersect (conservative, like numpy.may_share_memory)."""
    if x.size == 0 or y.size == 0:
        return False
    cdef uintptr_t x0 = <uintptr_t>cnp.PyArray_DATA(x)
    cdef uintptr_t y0 = <uintptr_t>cnp.PyArray_DATA(y)
    cdef uintptr_t x1 = x0 + <uintptr_t>(_span_bytes(x))
    cdef uintptr_t y1 = y0 + <uintptr_t>(_span_bytes(y))
    return x0 < y1 and y0 < x1

cdef inline int64_t _span_bytes(cnp.ndarray x):
    cdef int64_t span = cnp.PyArray_ITEMSIZE(x)
    cdef int d
    for d in range(cnp.PyArray_NDIM(x)):
        if x.shape[d] > 1:
            span += (x.shape[d] - 1) * (x.strides[d] if x.strides[d] > 0 else -x.strides[d])
    return span

cdef inline int _same_shape(cnp.ndarray x, cnp.ndarray ref, str name, str ref_name) except -1:
    if (<object>x).shape != (<object>ref).shape:
        raise ValueError(f"{name}: expected shape {(<object>ref).shape} (the shape of {ref_name}), "
                         f"got {(<object>x).shape}")
    return 0

cdef inline cnp.ndarray _contiguous_output(object x, str name):
    cdef cnp.ndarray arr = _array(x, name)
    _contiguous(arr, name)
    _writeable(arr, name)
    return arr


cdef inline int _expect_shape(cnp.ndarray x, tuple want, str func, str name, str why="") except -1:
    """ValueError naming the function and the argument unless x has the shape `want` (computed by the caller
    from the other arguments; `why` says from what)."""
    if (<object>x).shape != want:
        raise ValueError(f"{func}: {name}: expected shape {want}{why}, got {(<object>x).shape}")
    return 0

cdef tuple _int_pair(object value, str func, str name, int64_t low, int64_t high):
    """(a, b): two Python ints in [low, high], from a pair of integers; ValueError / TypeError otherwise."""
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(f"{func}: {name}: expected a pair of integers, got {value!r}") from None
    pair = (_bounded_int(a, func, name, low, high), _bounded_int(b, func, name, low, high))
    return pair

cdef object _bounded_int(object v, str func, str name, int64_t low, int64_t high):
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TypeError(f"{func}: {name}: expected integers, got {v!r}")
    n = v.__index__()
    if not low <= n <= high:
        raise ValueError(f"{func}: {name}: expected integers in [{low}, {high}], got {n}")
    return n
