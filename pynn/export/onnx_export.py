"""export_onnx: a model as an ONNX file that ONNX Runtime (or any ONNX runtime) runs for inference."""
import os

import numpy as np

from pynn.export.graph_walk import convert_graph, graph_model
from pynn.export.onnx_graph import DEFAULT_OPSET, MIN_OPSET, OnnxGraph


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install \"pynn[onnx]\" (or pip install onnx)") \
            from None
    return onnx


def to_onnx(model, opset=None, input_signature=None):
    """The model as an onnx.ModelProto (see export_onnx)."""
    onnx = _require_onnx()
    opset = DEFAULT_OPSET if opset is None else opset
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"ONNX export: opset must be an integer from {MIN_OPSET} to {newest} (the installed onnx's "
                         f"newest), got {opset!r}")
    graph, undo = graph_model(model, input_signature)
    try:
        return _build(graph, int(opset))
    finally:
        undo()


def _build(model, opset):
    import pynn
    g = OnnxGraph(opset, model.dtype)
    index = model.index_inputs()
    names = [g.reserve(n) for n in model.input_names]
    out_names = _output_names(g, model.output_names)
    inputs = []
    for name, t, is_index in zip(names, model.inputs, index):
        dtype = (t.dtype if t.dtype.kind in "iu" else np.dtype(np.int64)) if is_index else np.dtype(model.dtype)
        g.shapes[name], g.dtypes[name] = tuple(t.shape), dtype
        inputs.append(g.value_info(name, dtype, _dims(name, t.shape)))
    results = convert_graph(g, model, names)
    outputs = []
    for name, result, t in zip(out_names, results, model.outputs):
        g.scope = ""
        g.op("Identity", [result], outputs=[name])
        dtype = g.dtypes.get(result, model.dtype)
        outputs.append(g.value_info(name, dtype, _dims(name, t.shape)))
    proto = g.make_model(inputs, outputs, model.name, pynn.__version__)
    proto.doc_string = f"pynn model '{model.name}' ({type(model).__name__}), inference graph, opset {opset}"
    return proto


def _output_names(g, names):
    """The graph output names, reserved: the model's, a name it repeats (the calls of a shared layer, one tensor
    output twice: Keras names them alike) numbered after its first use, `<name>_1`, `<name>_2`, ..., skipping
    the names taken."""
    firsts = {}
    for i, n in enumerate(names):
        firsts.setdefault(n, i)
    out = [g.reserve(n) if firsts[n] == i else None for i, n in enumerate(names)]
    return [g.reserve_numbered(n) if o is None else o for n, o in zip(names, out)]


def _dims(name, shape):
    """ONNX dimensions: the batch axis is "batch" (dynamic), other unknown axes get a name of their own."""
    return ["batch" if i == 0 else (f"{name}_dim{i}" if d is None else int(d)) for i, d in enumerate(shape)]


def export_onnx(model, filepath, opset=None, input_signature=None, verbose=False):
    """Write `model` (Sequential, functional, or subclassed with a call() made of layers) to an ONNX file.

    Args:
        model: a built pynn model.
        filepath: where to write (".onnx"); written atomically, as model.save does.
        opset: the ONNX opset (default 17, the first with LayerNormalization; up to the installed onnx's newest).
        input_signature: for a subclassed model that has not seen data: the input shape with its batch axis,
            e.g. (None, 784), or a list of them, or KerasTensors from pynn.Input.
        verbose: print where the file went.

    The graph computes the model's inference (Dropout and the other training-only layers are the identity,
    BatchNormalization uses its moving statistics). Its inputs and outputs are named as the model's
    (`model.input_names`, `model.output_names`; a name the model repeats, as the calls of a shared layer are
    named alike, is numbered after its first use: "dense", "dense_1"); the batch axis is dynamic ("batch"), as
    are the other axes the model leaves unknown (sequence lengths). Float inputs have the model's dtype
    (float32); an input read only by Embedding layers takes int64 indices (or the integer dtype its Input
    declares).

    Raises ValueError naming the layer and its class when a layer has no converter
    (pynn.export.supported_layers() lists those that do; register_converter adds one).
    """
    from pynn.saving.file_utils import atomic_write
    proto = to_onnx(model, opset=opset, input_signature=input_signature)
    onnx = _require_onnx()
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    with atomic_write(filepath) as file:
        file.write(data)
    if verbose:
        print(f"Saved an ONNX model (opset {proto.opset_import[0].version}, {len(proto.graph.node)} nodes, "
              f"{len(data):,} bytes) to {os.fspath(filepath)}")
    return os.fspath(filepath)
