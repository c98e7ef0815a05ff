"""From a model to ONNX nodes: the steps of its functional graph, each through its layer's converter.

Sequential and functional models are converted from the plan pynn runs them by (pynn.models.functional:
slots and steps in topological order). A subclassed model (one defining call()) is first traced: its call()
runs on symbolic inputs, which records the layers it calls as a functional graph (as `pynn.Model(inputs,
model.call(inputs))` would), so a call() made of layers and merge layers exports; one that computes with
pynn.ops on the tensors themselves does not (the ops are not layers with converters).
"""
import inspect

import numpy as np

from pynn.export.registry import converter_for


def convert_graph(g, model, inputs, scope=""):
    """Add the nodes of `model`'s graph, fed by the tensors named `inputs` (one per model input); returns the
    names of its outputs. Names are prefixed by `scope` (a nested model's), then by the layer's name, and for
    a shared layer's later calls by `call<k>` too (OnnxGraph.enter)."""
    slots = [None] * model._num_slots
    for s, name in zip(model._input_slots, inputs):
        slots[s] = name
    for step in model._steps:
        layer = step.layer
        g.enter(f"{scope}/{layer.name}" if scope else layer.name)
        if step.training:
            raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) is called with "
                             "training=True in the model; an exported graph computes inference only")
        convert = converter_for(layer)
        xs = [slots[s] for s in step.inputs]
        kwargs = {"initial_state": [slots[s] for s in step.states]} if step.states else {}
        kwargs.update(step.options)     # this call's own options (an attention layer's masks and flags)
        out = convert(g, layer, xs if step.list_input else xs[0], **kwargs)
        outs = list(out) if step.list_output else [out]
        if len(outs) != len(step.outputs):
            raise ValueError(f"ONNX export: the converter of layer '{layer.name}' ({type(layer).__name__}) gave "
                             f"{len(outs)} outputs; the layer has {len(step.outputs)}")
        for s, t, name in zip(step.outputs, step.node.outputs, outs):
            slots[s] = name
            g.shapes[name] = tuple(t.shape)
        if (not step.list_input and not step.list_output and layer.supports_masking and xs[0] in g.masks
                and outs[0] not in g.masks):
            g.masks[outs[0]] = g.masks[xs[0]]     # the mask passes through, as in the functional engine
    g.scope = scope
    return [slots[s] for s in model._output_slots]


def graph_model(model, input_signature=None):
    """(the functional model to convert, a function undoing what tracing changed)."""
    from pynn.models.functional import Functional
    if isinstance(model, Functional):
        if not model.built:
            raise ValueError(f"ONNX export: model '{model.name}' ({type(model).__name__}) is not built: give it an "
                             "Input (layers.Input(shape=...)) or call it on data first")
        return model, lambda: None
    if getattr(model, "_call_style", False):
        return _trace(model, input_signature)
    raise ValueError(f"ONNX export: expected a pynn model (Sequential, functional or subclassed), got "
                     f"{type(model).__name__}")


def _signature(model, input_signature):
    """[(shape with batch axis, dtype)] of a subclassed model's inputs."""
    if input_signature is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise ValueError(f"ONNX export: subclassed model '{model.name}' has not seen data yet; call it on a "
                             "batch first or pass input_signature=(None, features, ...)")
        input_signature = shape
    single = not isinstance(input_signature, list) or all(d is None or isinstance(d, int) for d in input_signature)
    items = [input_signature] if single else input_signature
    out = []
    for item in items:
        if hasattr(item, "shape"):
            out.append((tuple(item.shape), np.dtype(getattr(item, "dtype", None) or model.dtype)))
        else:
            out.append((tuple(item), np.dtype(model.dtype)))
    return out


def _trace(model, input_signature):
    from pynn.layers.input_layer import Input
    from pynn.models.functional import Functional
    signature = _signature(model, input_signature)
    inputs = [Input(shape=shape[1:], dtype=dtype, name="input" if len(signature) == 1 else f"input_{i + 1}")
              for i, (shape, dtype) in enumerate(signature)]
    layers = model._self_and_sublayers()
    calls = {id(layer): len(layer._inbound_nodes) for layer in layers}

    def undo():   # the symbolic calls of tracing are not the layers' own: layer.output stays as it was
        for layer in layers:
            del layer._inbound_nodes[calls[id(layer)]:]
    try:
        takes_training = "training" in inspect.signature(model.call).parameters
        x = inputs if len(inputs) > 1 else inputs[0]
        outputs = model.call(x, training=False) if takes_training else model.call(x)
        traced = Functional(inputs, outputs, name=model.name)
    except Exception as error:
        undo()
        raise ValueError(f"ONNX export: the call() of subclassed model '{model.name}' ({type(model).__name__}) "
                         f"could not be traced on symbolic inputs {[s for s, _ in signature]}: {error}") from error
    names = getattr(model, "output_names", None)
    if names and len(names) != len(traced.outputs):    # a call() returning several: output_1, output_2, ...
        names = [f"output_{i + 1}" for i in range(len(traced.outputs))]
    traced.output_names = list(names or traced.output_names)
    return traced, undo
