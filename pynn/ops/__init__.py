"""pynn.ops: one Python function per kernel. Checks shapes and dtypes, allocates outputs, calls pynn._C."""
from pynn.ops.gemm import gemm, matmul

__all__ = ["gemm", "matmul"]
