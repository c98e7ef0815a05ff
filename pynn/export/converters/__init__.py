"""The built-in layer converters, one module per layer family; importing them fills the registry's table.

activations.py  Activation, ReLU, LeakyReLU, ELU, Softmax, PReLU, and every activation= name (emit_activation)
core.py         Dense, Embedding, Masking, Flatten, Reshape, Permute, RepeatVector, Rescaling, and the layers
                that are the identity at inference (Dropout, noise, augmentation)
conv.py         Conv1D / 2D, Conv1DTranspose / 2DTranspose, DepthwiseConv2D, SeparableConv2D
pooling.py      Max / AveragePooling1D / 2D, the global poolings
normalization.py  BatchNormalization, LayerNormalization, UnitNormalization, Normalization
merge.py        Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate
padding.py      ZeroPadding1D / 2D, Cropping1D / 2D
resampling.py   UpSampling1D / 2D
recurrent.py    SimpleRNN, LSTM, GRU, Bidirectional
models.py       a functional or Sequential model used as a layer (its graph, inlined)
wrappers.py     TimeDistributed
ops.py          OpLayer: pynn.ops calls on symbolic tensors (elementwise arithmetic, activations)
"""
from pynn.export.converters import (  # noqa: F401
    activations, conv, core, merge, models, normalization, ops, padding, pooling, recurrent, resampling,
    wrappers,
)
