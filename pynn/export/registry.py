"""The table of layer converters: layer class -> function that adds the layer's ONNX nodes.

A converter is `fn(g, layer, x, initial_state=None) -> output name(s)`: `g` the OnnxGraph, `x` the name of
the input tensor (a list of names for a layer taking a list, such as Add), `initial_state` the names of the
states a recurrent layer was called with. A call with options of its own in the model (its node's
call_options, as the attention layers' `options`) passes them as keyword arguments too, as the functional
engine passes them to forward, so one layer called several ways converts each call its way. It returns the
name of the output tensor (a list for a layer that returns a list). Its scope (g.scope) is the layer's name
(`<name>/call<k>` for a shared layer's later calls), so the names it makes say where they come from.

Converters are looked up by the layer's exact class: a subclass of a supported layer may compute something
else (its own forward or call()), so it needs a converter of its own, registered the same way:

    @register_converter(MyLayer)
    def _my_layer(g, layer, x):
        return g.op("Relu", [x])

A layer quantized to int8 (model.quantize("int8")) exports only through a converter registered with
quantized=True, which reads its int8 kernel and scales; any other would read the int8 values as the float
weights, so converter_for refuses the layer (or a wrapper holding one, as Bidirectional its RNNs).
"""
_CONVERTERS = {}
_QUANTIZED = set()      # the classes whose converter exports their int8 form


def register_converter(*classes, quantized=False):
    """Decorator: the function converts layers of these classes (exact class match); quantized=True: also their
    int8 form (after layer.quantize("int8"))."""
    def decorate(fn):
        for cls in classes:
            _CONVERTERS[cls] = fn
            if quantized:
                _QUANTIZED.add(cls)
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
    _check_quantized(layer)
    return fn


def _check_quantized(layer):
    """ValueError when `layer`, or a layer it holds, is quantized and its class's converter is not int8-aware.
    A model used as a layer is not searched: its own layers are looked up one by one."""
    from pynn.models.functional import Functional
    held = [layer] if isinstance(layer, Functional) else layer._self_and_sublayers()
    for inner in held:
        mode = getattr(inner, "quantization_mode", None)
        if mode is not None and type(inner) not in _QUANTIZED:
            where = "" if inner is layer else f" (inside layer '{layer.name}', {type(layer).__name__})"
            raise ValueError(f"ONNX export: layer '{inner.name}' ({type(inner).__name__}){where} is quantized "
                             f"({mode}) and its ONNX converter exports float weights only; call dequantize() on it "
                             "(or on the model) to export it in float32")


def supported_layers():
    """The names of the layer classes that can be exported, sorted."""
    _load_builtin_converters()
    return sorted({cls.__name__ for cls in _CONVERTERS})


def _load_builtin_converters():
    from pynn.export import converters  # noqa: F401  (registers them on import)
