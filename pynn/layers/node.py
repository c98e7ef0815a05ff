"""Symbolic tensors and nodes: what calling a layer on `Input(...)` records for the functional API.

`Input(shape=...)` returns a KerasTensor: a shape (batch dimension None) and a dtype, no data. Calling a
layer on KerasTensors builds the layer for those shapes and records a Node (the layer, the tensors it read,
the tensors it made, the call's options) and returns new KerasTensors; `Model(inputs, outputs)` then walks
the nodes back from the outputs to get its graph.
"""
import numpy as np


class KerasTensor:
    """A symbolic tensor: the shape and dtype of a value a model will compute, and the node that makes it.

    `shape` includes the batch dimension (None). `_keras_history` is (layer, node_index, tensor_index): the
    layer that produced it, which of that layer's calls, and which of the call's outputs.
    """

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.name = name
        self._keras_history = history

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def node(self):
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    def __repr__(self):
        layer = self._keras_history[0].name if self._keras_history else None
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, made by layer '{layer}'>"

    def __array__(self, *args, **kwargs):
        raise TypeError("A KerasTensor is a symbolic placeholder of a functional model and holds no values: "
                        "wrap NumPy code in a pynn.layers.Lambda layer, or call the model on arrays")

    def __bool__(self):
        raise TypeError("A KerasTensor has no truth value (it is symbolic)")

    # Arithmetic on symbolic tensors records the pynn.ops function as a layer (pynn.layers.op_layer), as
    # Keras records its ops: inputs * 2, a + b, -x, x[:, 0], x @ w.
    def _op(name, swap=False):
        def method(self, other=None):
            from pynn import ops
            fn = getattr(ops, name)
            if other is None and name in ("negative", "absolute"):
                return fn(self)
            return fn(other, self) if swap else fn(self, other)
        return method

    __add__, __radd__ = _op("add"), _op("add", swap=True)
    __sub__, __rsub__ = _op("subtract"), _op("subtract", swap=True)
    __mul__, __rmul__ = _op("multiply"), _op("multiply", swap=True)
    __truediv__, __rtruediv__ = _op("divide"), _op("divide", swap=True)
    __pow__, __rpow__ = _op("power"), _op("power", swap=True)
    __matmul__, __rmatmul__ = _op("matmul"), _op("matmul", swap=True)
    __neg__ = _op("negative")
    __abs__ = _op("absolute")

    def __getitem__(self, key):
        from pynn import ops
        return ops.getitem(self, key)

    __array_ufunc__ = None      # NumPy's operators defer to these


class Node:
    """One call of a layer in a graph.

    Args:
        layer: the layer called.
        inputs: the KerasTensors it read, flattened: the main input(s) first, then any initial states.
        outputs: the KerasTensors it made (one, or several for a layer returning a list).
        list_input: whether forward takes a list of arrays (merge layers) rather than one array.
        list_output: whether forward returns a list.
        num_states: how many of `inputs` are initial states (`layer(x, initial_state=[h, c])`).
        training: None (follow the model) or a fixed True / False from `layer(x, training=...)`.
        call_options: None, or the keyword arguments this call passes to the layer's forward, compute_mask and
            compute_output_shape each time a model runs it (an attention layer's masks and flags, which may
            differ from call to call of one layer).
    """

    def __init__(self, layer, inputs, outputs, list_input, list_output, num_states=0, training=None,
                 call_options=None):
        self.layer = layer
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.list_input = list_input
        self.list_output = list_output
        self.num_states = num_states
        self.training = training
        self.call_options = call_options

    @property
    def parent_nodes(self):
        return [t.node for t in self.inputs]

    @property
    def main_inputs(self):
        """The input tensors without the initial states."""
        return self.inputs[:len(self.inputs) - self.num_states]


def is_symbolic(x):
    """Whether x is a KerasTensor or a (nested) list / tuple / dict holding one."""
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(is_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(is_symbolic(v) for v in x.values())
    return False


def symbolic_call(layer, inputs, training=None, initial_state=None, call_options=None, **kwargs):
    """Call `layer` on KerasTensors: build it for their shapes, record a Node, return the output tensor(s).
    call_options: the node's own keyword arguments for the layer (see Node)."""
    if kwargs:
        raise ValueError(f"Layer '{layer.name}': unsupported keyword argument(s) {sorted(kwargs)} in a call on "
                         "symbolic tensors")
    list_input = isinstance(inputs, (list, tuple))
    flat = list(inputs) if list_input else [inputs]
    if list_input and getattr(layer, "_call_style", False) and not layer.built:
        layer.takes_list = True          # a call()-style layer takes what its first call gives it
    if list_input and len(flat) == 1 and not getattr(layer, "takes_list", False):
        flat, list_input = flat, False
    for t in flat:
        if not isinstance(t, KerasTensor):
            raise ValueError(f"Layer '{layer.name}': every input must be a symbolic tensor (from Input or another "
                             f"layer's output) when any is; got {type(t).__name__}")
    states = []
    if initial_state is not None:
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if not all(isinstance(s, KerasTensor) for s in states):
            raise ValueError(f"Layer '{layer.name}': initial_state must be symbolic tensors in a functional model")
    if list_input and not getattr(layer, "takes_list", False):
        raise ValueError(f"Layer '{layer.name}' takes one input tensor, got a list of {len(flat)}")
    if getattr(layer, "takes_list", False) and not list_input:
        raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) expects a list of input tensors, got one")
    shapes = [t.shape for t in flat] if list_input else flat[0].shape
    layer.build_for(shapes)
    if states:
        layer.check_initial_state_shapes([s.shape for s in states])
    out_shape = layer.compute_output_shape(shapes, **(call_options or {}))
    list_output = isinstance(out_shape, list)
    out_shapes = out_shape if list_output else [out_shape]
    node_index = len(layer._inbound_nodes)
    outputs = [KerasTensor(s, layer.dtype, name=layer.name if len(out_shapes) == 1 else f"{layer.name}_{i}",
                           history=(layer, node_index, i)) for i, s in enumerate(out_shapes)]
    node = Node(layer, flat + states, outputs, list_input, list_output, len(states), training, call_options)
    layer._inbound_nodes.append(node)
    return outputs if list_output else outputs[0]
