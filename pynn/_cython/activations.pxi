# Elementwise activations. csrc/activations/activations.h.

cdef extern from "activations/activations.h" namespace "pynn" nogil:
    cpdef enum class Activation:
        linear, relu, leaky_relu, elu, selu, gelu, gelu_tanh, sigmoid, hard_sigmoid, tanh, softplus, \
        softsign, swish, exponential
    cdef cppclass ActivationParams:
        Activation kind
        double negative_slope
        double max_value
        double threshold
        double alpha
    void activation_forward(const ActivationParams& p, const float* x, float* y, int64_t n)
    void activation_forward(const ActivationParams& p, const double* x, double* y, int64_t n)


cdef ActivationParams _activation_params(object spec) except *:
    """spec: an activation name, or (name, dict of parameters)."""
    cdef ActivationParams p
    params = {}
    if isinstance(spec, tuple):
        spec, params = spec
    try:
        p.kind = Activation[spec]
    except KeyError:
        raise ValueError(f"activation: unknown name {spec!r}; expected one of "
                         f"{[a.name for a in Activation]}") from None
    p.negative_slope = params.get("negative_slope", 0.0)
    mv = params.get("max_value", None)
    p.max_value = -1.0 if mv is None else mv
    p.threshold = params.get("threshold", 0.0)
    p.alpha = params.get("alpha", 1.0)
    return p
