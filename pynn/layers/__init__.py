"""pynn.layers: Keras's layers, each with explicit forward and backward (see Layer)."""
from pynn.layers.activation import Activation
from pynn.layers.dense import Dense
from pynn.layers.dropout import Dropout
from pynn.layers.flatten import Flatten
from pynn.layers.input_layer import Input, InputLayer
from pynn.layers.layer import Layer

__all__ = ["Layer", "Input", "InputLayer", "Dense", "Activation", "Dropout", "Flatten"]
