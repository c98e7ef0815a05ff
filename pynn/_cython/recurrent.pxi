# Recurrent layers over whole sequences: SimpleRNN, LSTM, GRU forward and backward. csrc/recurrent/.

cdef extern from "recurrent/recurrent.h" namespace "pynn" nogil:
    cpdef enum class RnnCell:
        simple, lstm, gru
    cdef cppclass RnnParams:
        RnnCell cell
        int64_t batch, steps, input_size, units
        bint use_bias, reset_after, go_backwards, return_sequences, zero_output_for_mask, recurrent_dropout
        bint save
        ActivationParams activation, recurrent_activation
    cdef cppclass RnnForwardArgs[T]:
        const T* x
        const T* kernel
        const T* recurrent_kernel
        const T* bias
        const T* h0
        const T* c0
        const unsigned char* mask
        const T* recurrent_mask
        T* y
        T* h_final
        T* c_final
        T* workspace
    cdef cppclass RnnBackwardArgs[T]:
        const T* kernel
        const T* recurrent_kernel
        const unsigned char* mask
        const T* recurrent_mask
        T* workspace
        const T* dy
        const T* dh_final
        const T* dc_final
        T* dx
        T* dh0
        T* dc0
        T* dkernel
        T* drecurrent_kernel
        T* dbias
        T* scratch
    int64_t rnn_forward_workspace_size(const RnnParams&)
    int64_t rnn_backward_workspace_size(const RnnParams&)
    int rnn_gates(RnnCell)
    void c_rnn_forward "pynn::rnn_forward"(const RnnParams&, const RnnForwardArgs[float]&) except +
    void c_rnn_forward "pynn::rnn_forward"(const RnnParams&, const RnnForwardArgs[double]&) except +
    void c_rnn_backward "pynn::rnn_backward"(const RnnParams&, const RnnBackwardArgs[float]&) except +
    void c_rnn_backward "pynn::rnn_backward"(const RnnParams&, const RnnBackwardArgs[double]&) except +


cdef RnnParams _rnn_params(str cell, tuple x_shape, int64_t units, bint use_bias, bint reset_after,
                           bint go_backwards, bint return_sequences, bint zero_output_for_mask,
                           bint recurrent_dropout, activation, recurrent_activation, bint save=True) except *:
    cdef RnnParams p
    if cell not in RnnCell.__members__:
        raise ValueError(f"cell: expected one of 'simple', 'lstm', 'gru', got {cell!r}")
    if len(x_shape) != 3:
        raise ValueError(f"x: expected shape (batch, steps, features) with every dimension >= 1, got {x_shape}")
    x_shape = tuple(_bounded_int(d, "rnn", "x's shape (batch, steps, features)", 1, 1 << 48) for d in x_shape)
    if units < 1:
        raise ValueError(f"units: expected a positive integer, got {units}")
    u = <object>units  # Python ints from here: the products below must not wrap
    if x_shape[0] * x_shape[1] * (x_shape[2] + 8 * u) >= 1 << 48 or (x_shape[2] + u + 2) * 8 * u >= 1 << 48:
        # far beyond any memory; it keeps the workspace sizes (int64 products in C++) from wrapping around
        raise ValueError(f"x, units: expected sizes whose products stay below 2**48, got {x_shape} and {units}")
    p.cell = RnnCell[cell]
    p.batch, p.steps, p.input_size = x_shape
    p.units = units
    p.use_bias = use_bias
    p.reset_after = reset_after
    p.go_backwards = go_backwards
    p.return_sequences = return_sequences
    p.zero_output_for_mask = zero_output_for_mask
    p.recurrent_dropout = recurrent_dropout
    p.save = save
    p.activation = _activation_params(activation)
    p.recurrent_activation = _activation_params(recurrent_activation)
    return p


def rnn_workspace_sizes(str cell, tuple x_shape, int64_t units, bint reset_after=True,
                        bint recurrent_dropout=False, activation="tanh", recurrent_activation="sigmoid",
                        bint save=True):
    """(forward, backward) workspace sizes in elements for these shapes and options (save=False: of a
    forward alone, which rnn_backward cannot take)."""
    cdef RnnParams p = _rnn_params(cell, x_shape, units, True, reset_after, False, False, False,
                                   recurrent_dropout, activation, recurrent_activation, save)
    return int(rnn_forward_workspace_size(p)), int(rnn_backward_workspace_size(p))


cdef void* _rnn_in(object arr, str name, tuple shape, cnp.ndarray ref, bint optional, bint output) except? NULL:
    """The data pointer of a C-contiguous array of `shape` and ref's dtype (None allowed when optional)."""
    if arr is None:
        if optional:
            return NULL
        raise ValueError(f"{name}: expected an array of shape {shape}, got None")
    cdef cnp.ndarray a = _array(arr, name)
    _same_dtype(a, ref, name, "x")
    _contiguous(a, name)
    if (<object>a).shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {(<object>a).shape}")
    if output:
        _writeable(a, name)
    return cnp.PyArray_DATA(a)


cdef tuple _rnn_y_shape(int64_t B, int64_t T, int64_t U, bint return_sequences):
    if return_sequences:
        return (B, T, U)
    return (B, U)


cdef tuple _rnn_bias_shape(int64_t GU, bint two_biases):
    if two_biases:
        return (2, GU)
    return (GU,)


cdef const unsigned char* _rnn_mask(object mask, tuple shape) except? NULL:
    if mask is None:
        return NULL
    cdef cnp.ndarray m = _array(mask, "mask")
    if cnp.PyArray_TYPE(m) not in (cnp.NPY_BOOL, cnp.NPY_UINT8):
        raise ValueError(f"mask: expected dtype bool or uint8, got {m.dtype}")
    _contiguous(m, "mask")
    if (<object>m).shape != shape:
        raise ValueError(f"mask: expected shape {shape} (batch, steps), got {(<object>m).shape}")
    return <const unsigned char*>cnp.PyArray_DATA(m)


cdef int _rnn_no_overlap(list outputs, list inputs) except -1:
    """No output shares memory with an input or another output (None, or an argument the cell ignores, such
    as an LSTM's c arrays for a GRU: not an array here, skipped)."""
    cdef Py_ssize_t k
    for k, (oname, o) in enumerate(outputs):
        if not isinstance(o, cnp.ndarray):
            continue
        for iname, i in inputs + outputs[:k] + outputs[k + 1:]:
            if isinstance(i, cnp.ndarray) and _overlap(<cnp.ndarray>o, <cnp.ndarray>i):
                raise ValueError(f"{oname}: must not share memory with {iname}")
    return 0


def rnn_forward(str cell, x, kernel, recurrent_kernel, bias, h0, c0, mask, recurrent_mask, y, h_final, c_final,
                workspace, *, activation="tanh", recurrent_activation="sigmoid", bint reset_after=True,
                bint go_backwards=False, bint return_sequences=False, bint zero_output_for_mask=False,
                bint save=True):
    """Run a recurrent layer over x (batch, steps, features); writes y, h_final, c_final and the workspace.

    Keras's layouts: kernel (F, G*U), recurrent_kernel (U, G*U), bias (G*U,) or (2, G*U) for a GRU with
    reset_after (None: no bias). h0 / c0 (B, U) or None (zeros); mask (B, T) bool/uint8 or None;
    recurrent_mask (B, U) or None. y: (B, T, U) with return_sequences, else (B, U). workspace: a 1-D array
    of rnn_workspace_sizes(...)[0] elements, kept for rnn_backward; with save=False (a forward alone) of
    rnn_workspace_sizes(..., save=False)[0], holding one step.
    """
    cdef cnp.ndarray X = _array(x, "x")
    _float_kind(X, "x")
    cdef tuple xs = (<object>X).shape
    if len(xs) != 3:
        raise ValueError(f"x: expected shape (batch, steps, features), got {xs}")
    cdef cnp.ndarray RK = _array(recurrent_kernel, "recurrent_kernel")
    if cnp.PyArray_NDIM(RK) != 2:
        raise ValueError(f"recurrent_kernel: expected a 2-D array (units, gates * units), got {(<object>RK).shape}")
    cdef int64_t U = RK.shape[0]
    cdef RnnParams p = _rnn_params(cell, xs, U, bias is not None, reset_after, go_backwards, return_sequences,
                                   zero_output_for_mask, recurrent_mask is not None, activation,
                                   recurrent_activation, save)
    cdef int64_t B = p.batch, T = p.steps, F = p.input_size, GU = rnn_gates(p.cell) * U
    cdef bint lstm = p.cell == RnnCell.lstm
    cdef bint two_biases = p.cell == RnnCell.gru and reset_after
    cdef RnnForwardArgs[float] a32
    cdef RnnForwardArgs[double] a64
    cdef void* px = _rnn_in(X, "x", xs, X, False, False)
    cdef void* pk = _rnn_in(kernel, "kernel", (F, GU), X, False, False)
    cdef void* prk = _rnn_in(RK, "recurrent_kernel", (U, GU), X, False, False)
    cdef void* pb = _rnn_in(bias, "bias", _rnn_bias_shape(GU, two_biases), X, True, False)
    cdef void* ph0 = _rnn_in(h0, "h0", (B, U), X, True, False)
    cdef void* pc0 = _rnn_in(c0, "c0", (B, U), X, True, False) if lstm else NULL
    if c0 is not None and not lstm:
        raise ValueError(f"c0: only an LSTM has a cell state, got an array for a {cell} cell")
    cdef const unsigned char* pm = _rnn_mask(mask, (B, T))
    cdef void* prm = _rnn_in(recurrent_mask, "recurrent_mask", (B, U), X, True, False)
    cdef void* py = _rnn_in(y, "y", _rnn_y_shape(B, T, U, return_sequences), X, False, True)
    cdef void* phf = _rnn_in(h_final, "h_final", (B, U), X, True, True)
    cdef void* pcf = _rnn_in(c_final, "c_final", (B, U), X, True, True) if lstm else NULL
    cdef void* pw = _rnn_in(workspace, "workspace", (rnn_forward_workspace_size(p),), X, False, True)
    _rnn_no_overlap([("y", y), ("h_final", h_final), ("c_final", c_final if lstm else None),
                     ("workspace", workspace)],
                    [("x", x), ("kernel", kernel), ("recurrent_kernel", recurrent_kernel), ("bias", bias),
                     ("h0", h0), ("c0", c0 if lstm else None), ("mask", mask), ("recurrent_mask", recurrent_mask)])
    if _float_kind(X, "x") == 0:
        a32.x, a32.kernel, a32.recurrent_kernel = <const float*>px, <const float*>pk, <const float*>prk
        a32.bias, a32.h0, a32.c0 = <const float*>pb, <const float*>ph0, <const float*>pc0
        a32.mask, a32.recurrent_mask = pm, <const float*>prm
        a32.y, a32.h_final, a32.c_final, a32.workspace = <float*>py, <float*>phf, <float*>pcf, <float*>pw
        with nogil:
            c_rnn_forward(p, a32)
    else:
        a64.x, a64.kernel, a64.recurrent_kernel = <const double*>px, <const double*>pk, <const double*>prk
        a64.bias, a64.h0, a64.c0 = <const double*>pb, <const double*>ph0, <const double*>pc0
        a64.mask, a64.recurrent_mask = pm, <const double*>prm
        a64.y, a64.h_final, a64.c_final, a64.workspace = <double*>py, <double*>phf, <double*>pcf, <double*>pw
        with nogil:
            c_rnn_forward(p, a64)


def rnn_backward(str cell, tuple x_shape, kernel, recurrent_kernel, bint use_bias, mask, recurrent_mask,
                 workspace, dy, dh_final, dc_final, dx, dh0, dc0, dkernel, drecurrent_kernel, dbias, scratch, *,
                 activation="tanh", recurrent_activation="sigmoid", bint reset_after=True,
                 bint go_backwards=False, bint return_sequences=False, bint zero_output_for_mask=False):
    """Backward through time of the rnn_forward call whose workspace is given (same options and arrays).

    dy: the gradient of y (None: zero); dh_final / dc_final: of the final states (None: zero). Writes dx
    (B, T, F), dh0, dc0 (B, U) where given; ADDS into dkernel, drecurrent_kernel, dbias where given.
    Overwrites part of the workspace (the saved gates, with the default activations): one backward call
    per forward call.
    scratch: a 1-D array of rnn_workspace_sizes(...)[1] elements.
    """
    cdef cnp.ndarray K = _array(kernel, "kernel")
    _float_kind(K, "kernel")
    cdef cnp.ndarray RK = _array(recurrent_kernel, "recurrent_kernel")
    if cnp.PyArray_NDIM(RK) != 2:
        raise ValueError(f"recurrent_kernel: expected a 2-D array (units, gates * units), got {(<object>RK).shape}")
    cdef int64_t U = RK.shape[0]
    cdef RnnParams p = _rnn_params(cell, x_shape, U, use_bias, reset_after, go_backwards, return_sequences,
                                   zero_output_for_mask, recurrent_mask is not None, activation,
                                   recurrent_activation)
    cdef int64_t B = p.batch, T = p.steps, F = p.input_size, GU = rnn_gates(p.cell) * U
    cdef bint lstm = p.cell == RnnCell.lstm
    cdef bint two_biases = p.cell == RnnCell.gru and reset_after
    if dbias is not None and not use_bias:
        raise ValueError("dbias: the layer has no bias (use_bias=False), got an array")
    cdef void* pk = _rnn_in(K, "kernel", (F, GU), K, False, False)
    cdef void* prk = _rnn_in(RK, "recurrent_kernel", (U, GU), K, False, False)
    cdef const unsigned char* pm = _rnn_mask(mask, (B, T))
    cdef void* prm = _rnn_in(recurrent_mask, "recurrent_mask", (B, U), K, True, False)
    cdef void* pw = _rnn_in(workspace, "workspace", (rnn_forward_workspace_size(p),), K, False, True)
    cdef void* pdy = _rnn_in(dy, "dy", _rnn_y_shape(B, T, U, return_sequences), K, True, False)
    cdef void* pdhf = _rnn_in(dh_final, "dh_final", (B, U), K, True, False)
    cdef void* pdcf = _rnn_in(dc_final, "dc_final", (B, U), K, True, False) if lstm else NULL
    cdef void* pdx = _rnn_in(dx, "dx", (B, T, F), K, True, True)
    cdef void* pdh0 = _rnn_in(dh0, "dh0", (B, U), K, True, True)
    cdef void* pdc0 = _rnn_in(dc0, "dc0", (B, U), K, True, True) if lstm else NULL
    cdef void* pdk = _rnn_in(dkernel, "dkernel", (F, GU), K, True, True)
    cdef void* pdrk = _rnn_in(drecurrent_kernel, "drecurrent_kernel", (U, GU), K, True, True)
    cdef void* pdb = _rnn_in(dbias, "dbias", _rnn_bias_shape(GU, two_biases), K, True, True)
    cdef void* ps = _rnn_in(scratch, "scratch", (rnn_backward_workspace_size(p),), K, False, True)
    _rnn_no_overlap([("dx", dx), ("dh0", dh0), ("dc0", dc0 if lstm else None), ("dkernel", dkernel),
                     ("drecurrent_kernel", drecurrent_kernel), ("dbias", dbias), ("scratch", scratch),
                     ("workspace", workspace)],
                    [("kernel", kernel), ("recurrent_kernel", recurrent_kernel), ("mask", mask),
                     ("recurrent_mask", recurrent_mask), ("dy", dy), ("dh_final", dh_final),
                     ("dc_final", dc_final if lstm else None)])
    cdef RnnBackwardArgs[float] a32
    cdef RnnBackwardArgs[double] a64
    if _float_kind(K, "kernel") == 0:
        a32.kernel, a32.recurrent_kernel, a32.mask = <const float*>pk, <const float*>prk, pm
        a32.recurrent_mask, a32.workspace = <const float*>prm, <float*>pw
        a32.dy, a32.dh_final, a32.dc_final = <const float*>pdy, <const float*>pdhf, <const float*>pdcf
        a32.dx, a32.dh0, a32.dc0 = <float*>pdx, <float*>pdh0, <float*>pdc0
        a32.dkernel, a32.drecurrent_kernel, a32.dbias, a32.scratch = <float*>pdk, <float*>pdrk, <float*>pdb, <float*>ps
        with nogil:
            c_rnn_backward(p, a32)
    else:
        a64.kernel, a64.recurrent_kernel, a64.mask = <const double*>pk, <const double*>prk, pm
        a64.recurrent_mask, a64.workspace = <const double*>prm, <double*>pw
        a64.dy, a64.dh_final, a64.dc_final = <const double*>pdy, <const double*>pdhf, <const double*>pdcf
        a64.dx, a64.dh0, a64.dc0 = <double*>pdx, <double*>pdh0, <double*>pdc0
        a64.dkernel, a64.drecurrent_kernel, a64.dbias, a64.scratch = <double*>pdk, <double*>pdrk, <double*>pdb, <double*>ps
        with nogil:
            c_rnn_backward(p, a64)
