"""pynn.export: models to other runtimes. ONNX (`model.export("model.onnx", format="onnx")`, Keras 3's name).

- onnx_export.py: export_onnx(model, filepath, opset=None, input_signature=None) and to_onnx (the ModelProto).
- graph_walk.py: the model's functional graph (a subclassed model's traced call()) step by step through the
  converters; masks are handed on as pynn's functional engine hands them.
- onnx_graph.py: OnnxGraph, the graph being built (names, constants, nodes, opset-dependent helpers).
- registry.py: the table of converters by layer class (register_converter, supported_layers).
- converters/: one module per layer family.

Needs the onnx package (`pip install "pynn[onnx]"`), imported only when exporting. The default opset is 17.
"""
from pynn.export.onnx_export import export_onnx, to_onnx
from pynn.export.registry import register_converter, supported_layers

__all__ = ["export_onnx", "to_onnx", "register_converter", "supported_layers"]
