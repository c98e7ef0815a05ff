# Optimizer updates and gradient clipping, in place. csrc/optimizers/optimizers.h, clipping.h.

from libcpp.vector cimport vector

cdef extern from "optimizers/optimizers.h" namespace "pynn" nogil:
    cdef cppclass SgdParams:
        double learning_rate, momentum, weight_decay
        bint nesterov
    cdef cppclass RmspropParams:
        double learning_rate, rho, momentum, epsilon, weight_decay
        bint centered
    cdef cppclass AdagradParams:
        double learning_rate, epsilon, weight_decay
    cdef cppclass AdadeltaParams:
        double learning_rate, rho, epsilon, weight_decay
    cdef cppclass AdamParams:
        double learning_rate, beta_1, beta_2, epsilon, weight_decay
        bint amsgrad
        int64_t step
    cdef cppclass AdamaxParams:
        double learning_rate, beta_1, beta_2, epsilon, weight_decay
        int64_t step
    cdef cppclass NadamParams:
        double learning_rate, beta_1, beta_2, epsilon, u_product, weight_decay
        int64_t step
    void c_sgd_update "pynn::sgd_update"(const SgdParams&, float*, const float*, float*, int64_t) except +
    void c_sgd_update "pynn::sgd_update"(const SgdParams&, double*, const double*, double*, int64_t) except +
    void c_rmsprop_update "pynn::rmsprop_update"(const RmspropParams&, float*, const float*, float*, float*,
                                                 float*, int64_t) except +
    void c_rmsprop_update "pynn::rmsprop_update"(const RmspropParams&, double*, const double*, double*, double*,
                                                 double*, int64_t) except +
    void c_adagrad_update "pynn::adagrad_update"(const AdagradParams&, float*, const float*, float*,
                                                 int64_t) except +
    void c_adagrad_update "pynn::adagrad_update"(const AdagradParams&, double*, const double*, double*,
                                                 int64_t) except +
    void c_adadelta_update "pynn::adadelta_update"(const AdadeltaParams&, float*, const float*, float*, float*,
                                                   int64_t) except +
    void c_adadelta_update "pynn::adadelta_update"(const AdadeltaParams&, double*, const double*, double*,
                                                   double*, int64_t) except +
    void c_adam_update "pynn::adam_update"(const AdamParams&, float*, const float*, float*, float*, float*,
                                           int64_t) except +
    void c_adam_update "pynn::adam_update"(const AdamParams&, double*, const double*, double*, double*, double*,
                                           int64_t) except +
    void c_adamax_update "pynn::adamax_update"(const AdamaxParams&, float*, const float*, float*, float*,
                                               int64_t) except +
    void c_adamax_update "pynn::adamax_update"(const AdamaxParams&, double*, const double*, double*, double*,
                                               int64_t) except +
    double c_nadam_next_u_product "pynn::nadam_next_u_product"(double, int64_t, double) except +
    void c_nadam_update "pynn::nadam_update"(const NadamParams&, float*, const float*, float*, float*,
                                             int64_t) except +
    void c_nadam_update "pynn::nadam_update"(const NadamParams&, double*, const double*, double*, double*,
                                             int64_t) except +

cdef extern from "optimizers/clipping.h" namespace "pynn" nogil:
    void c_clip_by_value "pynn::clip_by_value"(float*, int64_t, double) except +
    void c_clip_by_value "pynn::clip_by_value"(double*, int64_t, double) except +
    double c_clip_by_norm "pynn::clip_by_norm"(float*, int64_t, double) except +
    double c_clip_by_norm "pynn::clip_by_norm"(double*, int64_t, double) except +
    double c_clip_by_global_norm "pynn::clip_by_global_norm"(float* const*, const int64_t*, int64_t,
                                                              double) except +
    double c_clip_by_global_norm "pynn::clip_by_global_norm"(double* const*, const int64_t*, int64_t,
                                                              double) except +


cdef int _check_update_arrays(object param, object grad, tuple slots) except -1:
    """Checks param (writeable), grad and the slots ((name, array or None), ...): one float dtype, one shape,
    C-contiguous, slots writeable, no two sharing memory. Returns 0 for float32, 1 for float64."""
    cdef cnp.ndarray P = _array(param, "param"), G = _array(grad, "grad"), S
    cdef int kind = _float_kind(P, "param")
    _contiguous(P, "param")
    _writeable(P, "param")
    checked = [(P, "param"), (G, "grad")]
    for name, slot in (("grad", grad),) + slots:
        if slot is None:
            continue
        S = _array(slot, name)
        _same_dtype(S, P, name, "param")
        if (<object>S).shape != (<object>P).shape:
            raise ValueError(f"{name}: expected shape {(<object>P).shape} (the shape of param), "
                             f"got {(<object>S).shape}")
        _contiguous(S, name)
        if name != "grad":
            _writeable(S, name)
            checked.append((S, name))
    cdef Py_ssize_t i, j
    for i in range(len(checked)):
        for j in range(i):
            if _overlap(<cnp.ndarray>checked[i][0], <cnp.ndarray>checked[j][0]):
                raise ValueError(f"{checked[i][1]}: expected an array that shares no memory with "
                                 f"{checked[j][1]}, got one that does")
    return kind


cdef inline void* _data_or_null(object x):
    return NULL if x is None else cnp.PyArray_DATA(<cnp.ndarray>x)


def sgd_update(param, grad, velocity, double learning_rate, double momentum, bint nesterov,
               double weight_decay):
    """SGD step in place; velocity may be None when momentum == 0. See csrc/optimizers/optimizers.h."""
    cdef int kind = _check_update_arrays(param, grad, (("velocity", velocity),))
    cdef SgdParams p
    p.learning_rate, p.momentum, p.nesterov, p.weight_decay = learning_rate, momentum, nesterov, weight_decay
    cdef void* w = _data_or_null(param)
    cdef void* g = _data_or_null(grad)
    cdef void* vel = _data_or_null(velocity)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    with nogil:
        if kind == 0:
            c_sgd_update(p, <float*>w, <const float*>g, <float*>vel, n)
        else:
            c_sgd_update(p, <double*>w, <const double*>g, <double*>vel, n)


def rmsprop_update(param, grad, velocity, momentums, average_grad, double learning_rate, double rho,
                   double momentum, double epsilon, bint centered, double weight_decay):
    """RMSprop step in place; momentums may be None unless momentum > 0, average_grad unless centered."""
    cdef int kind = _check_update_arrays(param, grad, (("velocity", velocity), ("momentums", momentums),
                                                        ("average_grad", average_grad)))
    cdef RmspropParams p
    p.learning_rate, p.rho, p.momentum, p.epsilon = learning_rate, rho, momentum, epsilon
    p.centered, p.weight_decay = centered, weight_decay
    cdef void* w = _data_or_null(param)
    cdef void* g = _data_or_null(grad)
    cdef void* vel = _data_or_null(velocity)
    cdef void* mom = _data_or_null(momentums)
    cdef void* avg = _data_or_null(average_grad)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    with nogil:
        if kind == 0:
            c_rmsprop_update(p, <float*>w, <const float*>g, <float*>vel, <float*>mom, <float*>avg, n)
        else:
            c_rmsprop_update(p, <double*>w, <const double*>g, <double*>vel, <double*>mom, <double*>avg, n)


def adagrad_update(param, grad, accumulator, double learning_rate, double epsilon, double weight_decay):
    """Adagrad step in place."""
    cdef int kind = _check_update_arrays(param, grad, (("accumulator", accumulator),))
    cdef AdagradParams p
    p.learning_rate, p.epsilon, p.weight_decay = learning_rate, epsilon, weight_decay
    cdef void* w = _data_or_null(param)
    cdef void* g = _data_or_null(grad)
    cdef void* acc = _data_or_null(accumulator)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    with nogil:
        if kind == 0:
            c_adagrad_update(p, <float*>w, <const float*>g, <float*>acc, n)
        else:
            c_adagrad_update(p, <double*>w, <const double*>g, <double*>acc, n)


def adadelta_update(param, grad, accumulated_grad, accumulated_delta, double learning_rate, double rho,
                    double epsilon, double weight_decay):
    """Adadelta step in place."""
    cdef int kind = _check_update_arrays(param, grad, (("accumulated_grad", accumulated_grad),
                                                        ("accumulated_delta", accumulated_delta)))
    cdef AdadeltaParams p
    p.learning_rate, p.rho, p.epsilon, p.weight_decay = learning_rate, rho, epsilon, weight_decay
    cdef void* w = _data_or_null(param)
    cdef void* g = _data_or_null(grad)
    cdef void* ag = _data_or_null(accumulated_grad)
    cdef void* ad = _data_or_null(accumulated_delta)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    with nogil:
        if kind == 0:
            c_adadelta_update(p, <float*>w, <const float*>g, <float*>ag, <float*>ad, n)
        else:
            c_adadelta_update(p, <double*>w, <const double*>g, <double*>ag, <double*>ad, n)


def adam_update(param, grad, m, v, v_hat, int64_t step, double learning_rate, double beta_1, double beta_2,
                double epsilon, bint amsgrad, double weight_decay):
    """Adam / AdamW step in place; v_hat may be None unless amsgrad. step is 1-based."""
    cdef int kind = _check_update_arrays(param, grad, (("m", m), ("v", v), ("v_hat", v_hat)))
    cdef AdamParams p
    p.learning_rate, p.beta_1, p.beta_2, p.epsilon = learning_rate, beta_1, beta_2, epsilon
    p.amsgrad, p.step, p.weight_decay = amsgrad, step, weight_decay
    cdef void* w = _data_or_null(param)
    cdef void* g = _data_or_null(grad)
    cdef void* pm = _data_or_null(m)
    cdef void* pv = _data_or_null(v)
    cdef void* pvh = _data_or_null(v_hat)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    with nogil:
        if kind == 0:
            c_adam_update(p, <float*>w, <const float*>g, <float*>pm, <float*>pv, <float*>pvh, n)
        else:
            c_adam_update(p, <double*>w, <const double*>g, <double*>pm, <double*>pv, <double*>pvh, n)


def adamax_update(param, grad, m, u, int64_t step, double learning_rate, double beta_1, double beta_2,
                  double epsilon, double weight_decay):
    """Adamax step in place. step is 1-based."""
    cdef int kind = _check_update_arrays(param, grad, (("m", m), ("u", u)))
    cdef AdamaxParams p
    p.learning_rate, p.beta_1, p.beta_2, p.epsilon = learning_rate, beta_1, beta_2, epsilon
    p.step, p.weight_decay = step, weight_decay
    cdef void* w = _data_or_null(param)
    cdef void* g = _data_or_null(grad)
    cdef void* pm = _data_or_null(m)
    cdef void* pu = _data_or_null(u)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    with nogil:
        if kind == 0:
            c_adamax_update(p, <float*>w, <const float*>g, <float*>pm, <float*>pu, n)
        else:
            c_adamax_update(p, <double*>w, <const double*>g, <double*>pm, <double*>pu, n)


def nadam_next_u_product(double u_product, int64_t step, double beta_1):
    """Nadam's running product u_1 ... u_step, from the product through step - 1."""
    return c_nadam_next_u_product(u_product, step, beta_1)


def nadam_update(param, grad, m, v, int64_t step, double u_product, double learning_rate, double beta_1,
                 double beta_2, double epsilon, double weight_decay):
    """Nadam step in place. step is 1-based; u_product is u_1 ... u_step."""
    cdef int kind = _check_update_arrays(param, grad, (("m", m), ("v", v)))
    cdef NadamParams p
    p.learning_rate, p.beta_1, p.beta_2, p.epsilon = learning_rate, beta_1, beta_2, epsilon
    p.step, p.u_product, p.weight_decay = step, u_product, weight_decay
    cdef void* w = _data_or_null(param)
    cdef void* g = _data_or_null(grad)
    cdef void* pm = _data_or_null(m)
    cdef void* pv = _data_or_null(v)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>param)
    with nogil:
        if kind == 0:
            c_nadam_update(p, <float*>w, <const float*>g, <float*>pm, <float*>pv, n)
        else:
            c_nadam_update(p, <double*>w, <const double*>g, <double*>pm, <double*>pv, n)


cdef int _check_clip_target(object grad, str name) except -1:
    cdef cnp.ndarray G = _array(grad, name)
    cdef int kind = _float_kind(G, name)
    _contiguous(G, name)
    _writeable(G, name)
    return kind


def clip_by_value(grad, double clipvalue):
    """grad = clip(grad, -clipvalue, clipvalue), in place."""
    cdef int kind = _check_clip_target(grad, "grad")
    cdef void* g = cnp.PyArray_DATA(<cnp.ndarray>grad)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>grad)
    with nogil:
        if kind == 0:
            c_clip_by_value(<float*>g, n, clipvalue)
        else:
            c_clip_by_value(<double*>g, n, clipvalue)


def clip_by_norm(grad, double clipnorm):
    """grad = grad * clipnorm / max(norm(grad), clipnorm), in place. Returns the norm before clipping."""
    cdef int kind = _check_clip_target(grad, "grad")
    cdef void* g = cnp.PyArray_DATA(<cnp.ndarray>grad)
    cdef int64_t n = cnp.PyArray_SIZE(<cnp.ndarray>grad)
    cdef double norm
    with nogil:
        if kind == 0:
            norm = c_clip_by_norm(<float*>g, n, clipnorm)
        else:
            norm = c_clip_by_norm(<double*>g, n, clipnorm)
    return norm


def clip_by_global_norm(grads, double clipnorm):
    """Scale every array of grads (a list) in place so that their joint norm is at most clipnorm.
    Returns the global norm before clipping."""
    if not isinstance(grads, (list, tuple)):
        raise ValueError(f"grads: expected a list or tuple of arrays, got {type(grads).__name__}")
    cdef Py_ssize_t count = len(grads), i, j
    cdef int kind = 0
    cdef vector[void*] pointers
    cdef vector[int64_t] sizes
    cdef cnp.ndarray G
    for i in range(count):
        name = f"grads[{i}]"
        kind = _check_clip_target(grads[i], name)
        G = <cnp.ndarray>grads[i]
        if i > 0:
            _same_dtype(G, <cnp.ndarray>grads[0], name, "grads[0]")
        for j in range(i):
            if _overlap(G, <cnp.ndarray>grads[j]):
                raise ValueError(f"{name}: expected an array that shares no memory with grads[{j}], "
                                 f"got one that does")
        pointers.push_back(cnp.PyArray_DATA(G))
        sizes.push_back(cnp.PyArray_SIZE(G))
    cdef double norm
    with nogil:
        if kind == 0:
            norm = c_clip_by_global_norm(<float* const*>pointers.data(), sizes.data(), count, clipnorm)
        else:
            norm = c_clip_by_global_norm(<double* const*>pointers.data(), sizes.data(), count, clipnorm)
    return norm


# ---------------------------------------------------------------- several variables in one call
# An optimizer step over a model's variables makes one call here instead of one per variable. The checks are
# done in C (a failure falls back to _check_update_arrays, which raises with the full message), then each
# variable gets its own kernel call with the GIL released once.

cdef inline bint _like_param(object x, cnp.ndarray p, bint writeable):
    if not isinstance(x, cnp.ndarray):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>x
    if cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(p) or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        return False
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        return False
    cdef int nd = cnp.PyArray_NDIM(p), d
    if cnp.PyArray_NDIM(a) != nd:
        return False
    for d in range(nd):
        if a.shape[d] != p.shape[d]:
            return False
    return True


cdef int _check_many(list params, list grads, list slot_names, list slot_lists, Py_ssize_t i) except -1:
    """Checks variable i of a many-variable update (as _check_update_arrays does); returns its float kind."""
    param, grad = params[i], grads[i]
    slots = [lst[i] if lst is not None else None for lst in slot_lists]
    cdef bint ok = isinstance(param, cnp.ndarray)
    cdef cnp.ndarray P
    cdef int kind = -1
    cdef Py_ssize_t a, b
    if ok:
        P = <cnp.ndarray>param
        t = cnp.PyArray_TYPE(P)
        kind = 0 if t == cnp.NPY_FLOAT32 else (1 if t == cnp.NPY_FLOAT64 else -1)
        ok = kind >= 0 and _like_param(P, P, True) and _like_param(grad, P, False)
        for s in slots:
            if s is not None and not _like_param(s, P, True):
                ok = False
        if ok:
            arrays = [P, grad] + [s for s in slots if s is not None]
            for a in range(len(arrays)):
                for b in range(a):
                    if _overlap(<cnp.ndarray>arrays[a], <cnp.ndarray>arrays[b]):
                        ok = False
    if ok:
        return kind
    try:
        _check_update_arrays(param, grad, tuple(zip(slot_names, slots)))
    except ValueError as error:
        raise ValueError(f"variable {i}: {error}") from None
    raise ValueError(f"variable {i}: invalid arrays")


cdef struct _Many:
    # One many-variable update, checked: per variable its float kind, param, grad, up to three slots
    # (nullptr where a slot list is None), element count and weight decay.
    vector[int] kinds
    vector[void*] param, grad, slot0, slot1, slot2
    vector[int64_t] size
    vector[double] decay


cdef int _gather_many(list params, list grads, list slot_names, list slot_lists, list weight_decays,
                      _Many* out) except -1:
    """Checks every variable (lengths, then each with _check_many) before anything runs; fills out."""
    cdef Py_ssize_t count = len(params), i
    if len(grads) != count:
        raise ValueError(f"grads: expected {count} arrays (one per param), got {len(grads)}")
    for name, lst in zip(slot_names, slot_lists):
        if lst is not None and len(lst) != count:
            raise ValueError(f"{name}: expected {count} arrays (one per param), got {len(lst)}")
    if weight_decays is not None and len(weight_decays) != count:
        raise ValueError(f"weight_decays: expected {count} values (one per param), got {len(weight_decays)}")
    lists = list(slot_lists) + [None] * (3 - len(slot_lists))
    cdef vector[void*]* slots[3]
    slots[0], slots[1], slots[2] = &out.slot0, &out.slot1, &out.slot2
    cdef int j
    for i in range(count):
        out.kinds.push_back(_check_many(params, grads, slot_names, slot_lists, i))
        out.param.push_back(cnp.PyArray_DATA(<cnp.ndarray>params[i]))
        out.grad.push_back(cnp.PyArray_DATA(<cnp.ndarray>grads[i]))
        for j in range(3):
            slots[j].push_back(NULL if lists[j] is None else _data_or_null(lists[j][i]))
        out.size.push_back(cnp.PyArray_SIZE(<cnp.ndarray>params[i]))
        out.decay.push_back(0.0 if weight_decays is None else float(weight_decays[i]))
    return 0


def adam_update_many(list params, list grads, list m, list v, object v_hat, int64_t step, double learning_rate,
                     double beta_1, double beta_2, double epsilon, bint amsgrad, list weight_decays):
    """adam_update for several variables: lists of params, grads and slots (v_hat None unless amsgrad),
    and one weight decay per variable. Every variable is checked before any is updated."""
    if amsgrad and v_hat is None:
        raise ValueError("v_hat: a list of slots is required when amsgrad")
    if step < 1:
        raise ValueError(f"step: expected the 1-based update number (>= 1), got {step}")
    cdef _Many a
    _gather_many(params, grads, ["m", "v", "v_hat"], [m, v, v_hat if amsgrad else None], weight_decays, &a)
    cdef AdamParams p
    p.learning_rate, p.beta_1, p.beta_2, p.epsilon = learning_rate, beta_1, beta_2, epsilon
    p.amsgrad, p.step = amsgrad, step
    cdef size_t i
    with nogil:
        for i in range(a.size.size()):
            p.weight_decay = a.decay[i]
            if a.kinds[i] == 0:
                c_adam_update(p, <float*>a.param[i], <const float*>a.grad[i], <float*>a.slot0[i],
                              <float*>a.slot1[i], <float*>a.slot2[i], a.size[i])
            else:
                c_adam_update(p, <double*>a.param[i], <const double*>a.grad[i], <double*>a.slot0[i],
                              <double*>a.slot1[i], <double*>a.slot2[i], a.size[i])


def sgd_update_many(list params, list grads, object velocities, double learning_rate, double momentum,
                    bint nesterov, list weight_decays):
    """sgd_update for several variables (velocities None when momentum == 0)."""
    cdef _Many a
    _gather_many(params, grads, ["velocity"], [velocities], weight_decays, &a)
    cdef SgdParams p
    p.learning_rate, p.momentum, p.nesterov = learning_rate, momentum, nesterov
    cdef size_t i
    with nogil:
        for i in range(a.size.size()):
            p.weight_decay = a.decay[i]
            if a.kinds[i] == 0:
                c_sgd_update(p, <float*>a.param[i], <const float*>a.grad[i], <float*>a.slot0[i], a.size[i])
            else:
                c_sgd_update(p, <double*>a.param[i], <const double*>a.grad[i], <double*>a.slot0[i], a.size[i])
