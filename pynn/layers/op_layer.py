"""OpLayer: a pynn.ops call on symbolic tensors (a functional model's Input and layer outputs).

`x = ops.relu(inputs)`, `ops.concatenate([a, b], axis=-1)` or `inputs * 2` in a functional model records
one OpLayer node: a call-style layer whose call() runs the op with the symbolic arguments replaced by the
arrays of the running model, so it trains through the recorded graph like any custom layer. Keras records
such ops the same way. The op and its other arguments are saved in the model's config when they are JSON
values (numbers, strings, lists of them); otherwise saving names the op that cannot be saved.
"""
from pynn.layers.layer import Layer
from pynn.layers.node import KerasTensor


def _replace(structure, it):
    if isinstance(structure, KerasTensor):
        return next(it)
    if isinstance(structure, (list, tuple)):
        return type(structure)(_replace(s, it) for s in structure)
    if isinstance(structure, dict):
        return {k: _replace(v, it) for k, v in structure.items()}
    return structure


def _symbols(structure):
    if isinstance(structure, KerasTensor):
        return [structure]
    if isinstance(structure, (list, tuple)):
        return [t for s in structure for t in _symbols(s)]
    if isinstance(structure, dict):
        return [t for v in structure.values() for t in _symbols(v)]
    return []


class OpLayer(Layer):
    def __init__(self, op_name, args=(), kwargs=None, **layer_kwargs):
        layer_kwargs.setdefault("name", None)
        super().__init__(**layer_kwargs)
        self.op_name = op_name
        self.op_args = args
        self.op_kwargs = dict(kwargs or {})

    def call(self, inputs):
        from pynn.ops.registry import OPS
        values = inputs if isinstance(inputs, list) else [inputs]
        it = iter(values)
        args = _replace(list(self.op_args), it)
        kwargs = _replace(self.op_kwargs, it)
        return OPS[self.op_name](*args, **kwargs)

    def get_config(self):
        import json
        config = super().get_config()
        config.update(op_name=self.op_name, args=_placeholders(list(self.op_args)),
                      kwargs=_placeholders(self.op_kwargs))
        try:
            json.dumps(config)
        except TypeError:
            raise ValueError(f"Layer '{self.name}': the call of ops.{self.op_name} takes arguments that cannot be "
                             "saved (arrays or objects); use a custom layer with get_config instead") from None
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["args"] = _from_placeholders(config["args"])
        config["kwargs"] = _from_placeholders(config["kwargs"])
        return cls(**config)


_SLOT = "__symbolic_input__"


def _placeholders(structure):
    """A JSON form: symbolic inputs as slots; tuples, slices and Ellipsis tagged (indexing keys need them)."""
    if isinstance(structure, KerasTensor):
        return _SLOT
    if isinstance(structure, slice):
        return {"__slice__": [structure.start, structure.stop, structure.step]}
    if structure is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(structure, tuple):
        return {"__tuple__": [_placeholders(s) for s in structure]}
    if isinstance(structure, list):
        return [_placeholders(s) for s in structure]
    if isinstance(structure, dict):
        return {k: _placeholders(v) for k, v in structure.items()}
    return structure


def _from_placeholders(structure):
    if structure == _SLOT:
        return KerasTensor((None,))
    if isinstance(structure, list):
        return [_from_placeholders(s) for s in structure]
    if isinstance(structure, dict):
        if "__slice__" in structure:
            return slice(*structure["__slice__"])
        if "__ellipsis__" in structure:
            return Ellipsis
        if "__tuple__" in structure:
            return tuple(_from_placeholders(s) for s in structure["__tuple__"])
        return {k: _from_placeholders(v) for k, v in structure.items()}
    return structure


def symbolic_op(op_name, args, kwargs):
    """Record ops.<op_name>(*args, **kwargs), some of whose arguments are symbolic, as an OpLayer node."""
    symbols = _symbols([list(args), kwargs])
    layer = OpLayer(op_name, tuple(args), kwargs, name=None)
    return layer(symbols if len(symbols) > 1 else symbols[0])
