"""Training steps run as one kernel call: pynn.training.dense_chain builds them."""
from pynn import _C

# The training step of a chain of Dense and Dropout layers ending in softmax cross-entropy: built once per
# compiled model, then step(x, y) per batch (see its docstring and csrc/training/dense_chain.h).
DenseChain = _C.DenseChain
