"""pynn.ops: one Python function per kernel. Checks shapes and dtypes, allocates outputs, calls pynn._C."""
from pynn.ops.gemm import gemm, matmul

__all__ = ["gemm", "matmul"]
from pynn.ops.optimizers import (
    adadelta_update, adagrad_update, adam_update, adamax_update, adamw_update, nadam_u_product, nadam_update,
    rmsprop_update, sgd_update,
)
from pynn.ops.clipping import clip_by_global_norm, clip_by_norm, clip_by_value

__all__ += [
    "sgd_update", "rmsprop_update", "adagrad_update", "adadelta_update", "adam_update", "adamw_update",
    "adamax_update", "nadam_u_product", "nadam_update", "clip_by_value", "clip_by_norm", "clip_by_global_norm",
]
