"""pynn.ops: one Python function per kernel. Checks shapes and dtypes, allocates outputs, calls pynn._C."""
from pynn.ops.gemm import gemm, matmul

__all__ = ["gemm", "matmul"]
from pynn.ops.random import (dropout, dropout_backward, philox4x32_10, random_bernoulli, random_integers,
                             random_normal, random_uniform, truncated_normal)

__all__ += ["philox4x32_10", "random_uniform", "random_normal", "truncated_normal", "random_bernoulli",
            "random_integers", "dropout", "dropout_backward"]
from pynn.ops.reduce import mean, sum, sum_rows, weighted_mean, weighted_sum

__all__ += ["sum_rows", "sum", "mean", "weighted_sum", "weighted_mean"]
