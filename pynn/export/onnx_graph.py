"""OnnxGraph: the ONNX graph under construction, with what the layer converters need to add to it.

Tensors are named strings, as in ONNX. Besides the nodes and the weights (initializers) the graph keeps, per
tensor a converter made from a layer's output: its Keras shape (batch axis None; `shapes`), its dtype when it
is not the model's float type (`dtypes`), and the name of its (batch, steps) boolean mask (`masks`), the
way pynn's functional engine hands masks from Embedding / Masking to the recurrent layers.

Every op is emitted for one opset (`opset`, >= 17); the few ops whose signature changed after 17 (the
Reduce* axes, an attribute until 17, an input from 18) go through the helpers here.
"""
import numpy as np

MIN_OPSET = 17
DEFAULT_OPSET = 17


class OnnxGraph:
    """Nodes, initializers and names of one ONNX graph.

    Args:
        opset: the default-domain opset the graph is written for.
        float_dtype: the model's float dtype (float32): every weight and float constant is stored in it.
    """

    def __init__(self, opset, float_dtype="float32"):
        import onnx
        from onnx import helper, numpy_helper
        self.onnx, self.helper, self.numpy_helper = onnx, helper, numpy_helper
        self.opset = int(opset)
        self.float_dtype = np.dtype(float_dtype)
        self.nodes, self.initializers = [], []
        self.shapes, self.dtypes, self.masks = {}, {}, {}
        self.scope = ""              # the layer call being converted: the prefix of the names it makes (enter)
        self._taken = set()
        self._calls = {}             # scope of a layer -> how many of its calls have been converted
        self._constants = {}         # (dtype, shape, bytes) -> name: equal constants are stored once

    # ------------------------------------------------------------------ names
    def fresh(self, hint):
        """A tensor or node name not used yet, `<scope>/<hint>` (numbered when taken)."""
        base = f"{self.scope}/{hint}" if self.scope else hint
        name, n = base, 1
        while name in self._taken:
            name, n = f"{base}_{n}", n + 1
        self._taken.add(name)
        return name

    def enter(self, scope):
        """Make `scope` (a layer's name, under its model's scope) the scope of the layer call converted next; a
        later call of the same layer (shared) gets `<scope>/call<k>`, k = 1, 2, ..., so its names say which call
        made them. Returns the scope set."""
        k = self._calls.get(scope, 0)
        self._calls[scope] = k + 1
        self.scope = scope if k == 0 else f"{scope}/call{k}"
        return self.scope

    def reserve(self, name):
        """Claim an exact name (a graph input or output); ValueError when it is taken."""
        if name in self._taken:
            raise ValueError(f"ONNX export: the tensor name {name!r} is used twice; give the model's inputs and "
                             "outputs distinct names")
        self._taken.add(name)
        return name

    def reserve_numbered(self, name):
        """Claim the first of `<name>_1`, `<name>_2`, ... not taken."""
        k = 1
        while f"{name}_{k}" in self._taken:
            k += 1
        return self.reserve(f"{name}_{k}")

    # ------------------------------------------------------------------ nodes and constants
    def op(self, op_type, inputs, outputs=1, hint=None, **attributes):
        """Add a node; returns its output name, or a list of names when `outputs` is a count > 1 or a list of
        names. An input given as "" is an omitted optional input."""
        hint = hint or op_type.lower()
        if isinstance(outputs, int):
            names = [self.fresh(hint if outputs == 1 else f"{hint}_out{i}") for i in range(outputs)]
        else:
            names = list(outputs)
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, name=self.fresh(op_type),
                                                **attributes))
        return names[0] if isinstance(outputs, int) and outputs == 1 else names

    def const(self, value, dtype=None, hint="const", keep_0d=False):
        """An initializer holding `value`, in `dtype` (default: the model's float type for float values,
        int64 for integers). Equal constants share one initializer. A 0-d value is stored with shape (1,)
        unless keep_0d (for the inputs ONNX wants 0-d, such as QuantizeLinear's per-tensor scale)."""
        value = np.asarray(value)
        if dtype is None:
            dtype = self.float_dtype if value.dtype.kind in "fc" else (np.bool_ if value.dtype == np.bool_
                                                                       else np.int64)
        stored = np.ascontiguousarray(value, dtype=dtype)            # a 0-d value becomes (1,)
        value = stored.reshape(value.shape) if keep_0d else stored
        key = (value.dtype.str, value.shape, value.tobytes())
        name = self._constants.get(key)
        if name is None:
            name = self._constants[key] = self.fresh(hint)
            self.initializers.append(self.numpy_helper.from_array(value, name))
        return name

    def ints(self, values, hint="shape"):
        """An int64 1-D constant (shapes, axes, indices)."""
        return self.const(np.asarray(values, np.int64).reshape(-1), np.int64, hint)

    def scalar(self, value, dtype=None, hint="scalar"):
        return self.const(np.asarray(value), dtype, hint)

    # ------------------------------------------------------------------ helpers for common patterns
    def transpose(self, x, perm, hint="transpose"):
        return self.op("Transpose", [x], hint=hint, perm=list(perm))

    def reduce(self, op_type, x, axes, keepdims=True, hint=None):
        """ReduceMean / ReduceMax / ReduceSum / ... over `axes` (attribute up to opset 17, input from 18;
        ReduceSum's from 13)."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, "axes")], hint=hint, keepdims=int(keepdims))
        return self.op(op_type, [x], hint=hint, axes=axes, keepdims=int(keepdims))

    def squeeze(self, x, axes, hint="squeeze"):
        return self.op("Squeeze", [x, self.ints(axes, "axes")], hint=hint)

    def unsqueeze(self, x, axes, hint="unsqueeze"):
        return self.op("Unsqueeze", [x, self.ints(axes, "axes")], hint=hint)

    def cast(self, x, dtype, hint="cast"):
        return self.op("Cast", [x], hint=hint, to=self.tensor_type(dtype))

    def is_float(self, x):
        return np.dtype(self.dtypes.get(x, self.float_dtype)).kind == "f"

    def tensor_type(self, dtype):
        return self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    # ------------------------------------------------------------------ the model
    def value_info(self, name, dtype, dims):
        """A graph input / output description: `dims` names the unknown axes (the batch axis "batch")."""
        return self.helper.make_tensor_value_info(name, self.tensor_type(dtype), list(dims))

    def make_model(self, inputs, outputs, graph_name, producer_version):
        graph = self.helper.make_graph(self.nodes, graph_name, inputs, outputs, initializer=self.initializers)
        opsets = [self.helper.make_opsetid("", self.opset)]
        model = self.helper.make_model(graph, opset_imports=opsets, producer_name="pynn",
                                       producer_version=producer_version)
        model.ir_version = self.helper.find_min_ir_version_for(opsets)
        return model
