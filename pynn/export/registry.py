"""The table of layer converters: layer class -> function that adds the layer's ONNX nodes.

A converter is `fn(g, layer, x, initial_state=None) -> output name(s)`: `g` the OnnxGraph, `x` the name of
the input tensor (a list of names for a layer taking a list, such as Add), `initial_state` the names of the
states a recurrent layer was called with. It returns the name of the output tensor (a list for a layer that
returns a list). Its scope (g.scope) is the layer's name, so the names it makes say where they come from.

Converters are looked up by the layer's exact class: a subclass of a supported layer may compute something
else (its own forward or call()), so it needs a converter of its own, registered the same way:

    @register_converter(MyLayer)
    def _my_layer(g, layer, x):
        return g.op("Relu", [x])
"""
_CONVERTERS = {}


def register_converter(*classes):
    """Decorator: the function converts layers of these classes (exact class match)."""
    def decorate(fn):
        for cls in classes:
            _CONVERTERS[cls] = fn
        return fn
    return decorate


def converter_for(layer):
    """The converter of `layer`'s class, or ValueError naming the layer, its class and what is supported."""
    _load_builtin_converters()
    fn = _CONVERTERS.get(type(layer))
    if fn is None:
        raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) has no ONNX converter "
                         f"(pynn.export.supported_layers() lists the {len(supported_layers())} layer classes that "
                         "have one; pynn.export.register_converter adds one for another class)")
    return fn


def supported_layers():
    """The names of the layer classes that can be exported, sorted."""
    _load_builtin_converters()
    return sorted({cls.__name__ for cls in _CONVERTERS})


def _load_builtin_converters():
    from pynn.export import converters  # noqa: F401  (registers them on import)
