"""pynn.layers: Keras's layers, each with explicit forward and backward (see Layer)."""
from pynn.layers.activation import Activation
from pynn.layers.activation_layers import ELU, LeakyReLU, ReLU, Softmax
from pynn.layers.activity_regularization import ActivityRegularization
from pynn.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from pynn.layers.augmentation import (
    RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
)
from pynn.layers.batch_normalization import BatchNormalization
from pynn.layers.bidirectional import Bidirectional
from pynn.layers.conv import Conv1D, Conv2D
from pynn.layers.conv1d_transpose import Conv1DTranspose
from pynn.layers.conv2d_transpose import Conv2DTranspose
from pynn.layers.cropping2d import Cropping2D
from pynn.layers.dense import Dense
from pynn.layers.depthwise_conv2d import DepthwiseConv2D
from pynn.layers.dropout import Dropout
from pynn.layers.embedding import Embedding
from pynn.layers.flatten import Flatten
from pynn.layers.group_normalization import GroupNormalization
from pynn.layers.gru import GRU
from pynn.layers.identity import Identity
from pynn.layers.input_layer import Input, InputLayer
from pynn.layers.lambda_layer import Lambda
from pynn.layers.op_layer import OpLayer
from pynn.layers.layer import Layer
from pynn.layers.layer_normalization import LayerNormalization
from pynn.layers.lstm import LSTM
from pynn.layers.masking import Masking
from pynn.layers.merge import (
    Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average, concatenate, dot, maximum,
    minimum, multiply, subtract,
)
from pynn.layers.noise import GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D
from pynn.layers.pooling import (
    AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
    GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D,
)
from pynn.layers.prelu import PReLU
from pynn.layers.preprocessing import CenterCrop, Normalization, Rescaling, Resizing
from pynn.layers.reshaping import Permute, RepeatVector, Reshape
from pynn.layers.reshaping_1d import Cropping1D, UpSampling1D, ZeroPadding1D
from pynn.layers.rnn_base import RNNBase
from pynn.layers.separable_conv2d import SeparableConv2D
from pynn.layers.simple_rnn import SimpleRNN
from pynn.layers.sync_batch_normalization import SyncBatchNormalization
from pynn.layers.time_distributed import TimeDistributed
from pynn.layers.unit_normalization import UnitNormalization
from pynn.layers.up_sampling2d import UpSampling2D
from pynn.layers.zero_padding2d import ZeroPadding2D

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Permute",
           "RepeatVector", "ActivityRegularization", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU",
           "Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Conv1DTranspose",
           "MultiHeadAttention", "Attention", "AdditiveAttention",
           "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "BatchNormalization",
           "ZeroPadding2D", "Cropping2D", "UpSampling2D",
           "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop", "RandomContrast",
           "RandomBrightness", "Rescaling", "Resizing", "CenterCrop", "Normalization", "GaussianNoise",
           "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D",
           "SimpleRNN", "LSTM", "GRU", "RNNBase", "Bidirectional", "TimeDistributed", "Embedding", "Masking",
           "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Lambda", "OpLayer",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
           "LayerNormalization", "GroupNormalization", "UnitNormalization", "Identity", "SyncBatchNormalization",
           "UpSampling1D", "ZeroPadding1D", "Cropping1D"]
