"""pynn.ops: one Python function per kernel. Checks shapes and dtypes, allocates outputs, calls pynn._C."""
from pynn.ops.gemm import gemm, matmul
from pynn.ops.activations import (ACTIVATIONS, activation, activation_backward, activation_backward_uses_output,
                                  log_softmax, log_softmax_backward, softmax, softmax_backward)
from pynn.ops.losses import (huber, mean_absolute_error, mean_squared_error, sigmoid_binary_cross_entropy,
                             softmax_cross_entropy, sparse_softmax_cross_entropy)

__all__ = ["gemm", "matmul"]
__all__ += ["ACTIVATIONS", "activation", "activation_backward", "activation_backward_uses_output", "softmax",
            "softmax_backward", "log_softmax", "log_softmax_backward"]
__all__ += ["softmax_cross_entropy", "sparse_softmax_cross_entropy", "sigmoid_binary_cross_entropy",
            "mean_squared_error", "mean_absolute_error", "huber"]
