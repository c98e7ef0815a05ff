"""pynn.ops: Keras 3's ops API (keras.ops), differentiable.

The same names, signatures, `axis` / `keepdims` conventions, broadcasting and dtype rules as keras.ops (and
keras.ops.nn / keras.ops.core / keras.ops.math). Given NumPy arrays they return NumPy arrays; given Tensors
they return Tensors, which record their vector-Jacobian products while gradients are being taken (inside a
GradientTape, or a custom layer's `call()` in training): see pynn.ops.tensor and pynn.ops.backprop. Heavy ops
(matmul, conv, pooling, softmax) run on pynn's C++ kernels (pynn.kernels).

    import pynn
    from pynn import ops

    x = pynn.Variable(np.ones((3,), "float32"))
    with pynn.GradientTape() as tape:
        y = ops.sum(ops.square(x))
    tape.gradient(y, x)          # 2 x
"""
from pynn.ops import core, nn, numpy_ops  # noqa: F401  (each registers its ops)
from pynn.ops.backprop import GradientTape
from pynn.ops.core import custom_gradient
from pynn.ops.registry import OPS
from pynn.ops.tensor import Tensor

globals().update(OPS)


def _variable_array(self, dtype=None, copy=None):
    value = self.value if dtype is None else self.value.astype(dtype, copy=False)
    return value.copy() if copy else value


# Tensors and Variables take Python's operators (x + y, x @ w, x[i], -x, ...) as their pynn.ops functions;
# NumPy's functions dispatch to them (Tensor.__array_ufunc__), so array * variable is a Tensor too.
from pynn.ops import tensor as _tensor  # noqa: E402
from pynn.variable import Variable as _Variable  # noqa: E402

_tensor._install_operators(Tensor)
_tensor._install_operators(_Variable)
_Variable.__array_ufunc__ = Tensor.__array_ufunc__
_Variable.__array_function__ = Tensor.__array_function__
_Variable.__array_priority__ = 1000
_Variable.__array__ = _variable_array

__all__ = sorted(set(OPS) | {"GradientTape", "Tensor", "custom_gradient"})
