"""The built-in layer converters, one module per layer family; importing them fills the registry's table.

activations.py  Activation, ReLU, LeakyReLU, ELU, Softmax, PReLU, and every activation= name (emit_activation)
attention.py    MultiHeadAttention, Attention, AdditiveAttention (their masks, causal masks, scores as outputs)
core.py         Dense, Embedding, Masking, Flatten, Reshape, Permute, RepeatVector, Rescaling, and the layers
                that are the identity at inference (Dropout, noise, augmentation)
quantized.py    model.quantize("int8") in QDQ form: int8 kernels through DequantizeLinear, inputs quantized as pynn
                does (static: QuantizeLinear -> DequantizeLinear); Dense here, the helpers the int8 branches of
                conv.py, core.py (Embedding) and recurrent.py use
conv.py         Conv1D / 2D, Conv1DTranspose / 2DTranspose, DepthwiseConv2D, SeparableConv2D
pooling.py      Max / AveragePooling1D / 2D, the global poolings
normalization.py  BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization, Normalization
merge.py        Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot
padding.py      ZeroPadding1D / 2D, Cropping1D / 2D
resampling.py   UpSampling1D / 2D
resizing.py     Resizing, CenterCrop, RandomCrop (its inference: the centre crop, resized)
recurrent.py    SimpleRNN, LSTM, GRU, Bidirectional
models.py       a functional or Sequential model used as a layer (its graph, inlined)
wrappers.py     TimeDistributed, PruneLowMagnitude (pynn.pruning)
ops.py          OpLayer: pynn.ops calls on symbolic tensors (elementwise arithmetic, activations)
"""
from pynn.export.converters import (  # noqa: F401
    activations, attention, conv, core, merge, models, normalization, ops, padding, pooling, recurrent,
    resampling, resizing, wrappers,
)
