"""A functional or Sequential model used as a layer of another: its graph is inlined, names prefixed."""
from pynn.export.graph_walk import convert_graph
from pynn.export.registry import register_converter
from pynn.models.functional import Functional
from pynn.models.sequential import Sequential


@register_converter(Functional, Sequential)
def _nested_model(g, model, x):
    outputs = convert_graph(g, model, x if isinstance(x, list) else [x], scope=g.scope)
    return outputs if len(outputs) > 1 else outputs[0]
