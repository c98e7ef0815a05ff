"""pynn.kernels (internal): one Python function per C++ kernel. Checks shapes and dtypes, allocates outputs,
calls pynn._C. Layers, losses and optimizers call these directly; user code calls pynn.ops (Keras's ops API),
whose heavy ops run on these kernels."""
from pynn.kernels.activations import (
    ACTIVATIONS, activation, activation_backward, activation_backward_uses_output, log_softmax,
    log_softmax_backward, softmax, softmax_backward,
)
from pynn.kernels.attention import attention, attention_backward
from pynn.kernels.clipping import clip_by_global_norm, clip_by_norm, clip_by_value
from pynn.kernels.conv import (
    conv2d, conv2d_backward_data, conv2d_backward_weights, conv2d_geometry, conv2d_transpose, conv_output_length,
    conv_padding, conv_transpose_output_length,
)
from pynn.kernels.gemm import gemm, gemm_batched, matmul
from pynn.kernels.image import affine_transform, affine_transform_backward
from pynn.kernels.losses import (
    huber, mean_absolute_error, mean_squared_error, sigmoid_binary_cross_entropy, softmax_cross_entropy,
    sparse_softmax_cross_entropy,
)
from pynn.kernels.optimizers import (
    adadelta_update, adagrad_update, adam_update, adam_update_many, adamax_update, adamw_update, nadam_u_product,
    nadam_update, rmsprop_update, sgd_update, sgd_update_many,
)
from pynn.kernels.normalization import (batch_norm_backward, batch_norm_inference, batch_norm_training, layer_norm,
                                       layer_norm_backward)
from pynn.kernels.pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward, pool2d_output_shape
from pynn.kernels.quantized import int8_matmul, pack_weights, quantize_columns
from pynn.kernels.random import (
    dropout, dropout_backward, philox4x32_10, random_bernoulli, random_integers, random_normal, random_uniform,
    truncated_normal,
)
from pynn.kernels.recurrent import rnn_backward, rnn_forward
from pynn.kernels.reduce import mean, sum, sum_rows, weighted_mean, weighted_sum
from pynn.kernels.training import DenseChain, gather_rows

__all__ = [
    "gemm", "gemm_batched", "matmul",
    "conv2d", "conv2d_backward_data", "conv2d_backward_weights", "conv2d_transpose", "conv2d_geometry",
    "conv_output_length", "conv_padding", "conv_transpose_output_length",
    "ACTIVATIONS", "activation", "activation_backward", "activation_backward_uses_output", "softmax",
    "softmax_backward", "log_softmax", "log_softmax_backward",
    "softmax_cross_entropy", "sparse_softmax_cross_entropy", "sigmoid_binary_cross_entropy",
    "mean_squared_error", "mean_absolute_error", "huber",
    "sgd_update", "sgd_update_many", "adam_update_many", "rmsprop_update", "adagrad_update", "adadelta_update", "adam_update", "adamw_update",
    "adamax_update", "nadam_u_product", "nadam_update", "clip_by_value", "clip_by_norm", "clip_by_global_norm",
    "philox4x32_10", "random_uniform", "random_normal", "truncated_normal", "random_bernoulli",
    "random_integers", "dropout", "dropout_backward",
    "sum_rows", "sum", "mean", "weighted_sum", "weighted_mean",
    "pool2d_output_shape", "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "batch_norm_training", "batch_norm_inference", "batch_norm_backward", "layer_norm", "layer_norm_backward",
    "attention", "attention_backward", "quantize_columns", "pack_weights", "int8_matmul",
    "affine_transform", "affine_transform_backward",
    "rnn_forward", "rnn_backward",
    "DenseChain", "gather_rows",
]
