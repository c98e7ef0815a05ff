"""plot_model and model_to_dot (Keras 3's keras.utils.plot_model / model_to_dot): a model's layers as a
Graphviz graph, through pydot (`pip install pydot`) and, to render an image, the Graphviz programs
(https://graphviz.gitlab.io/download/). Both are optional: without them these functions raise an
ImportError that says what to install."""
import importlib
import os
import sys

_NOT_LOADED = object()
pydot = _NOT_LOADED   # the pydot module once loaded (at first use); None when it is not installed


def _pydot():
    """pydot (or its older forks pydot_ng / pydotplus), or None."""
    global pydot
    if pydot is _NOT_LOADED:
        module = None
        for name in ("pydot", "pydot_ng", "pydotplus"):
            try:
                module = importlib.import_module(name)
                break
            except ImportError:
                continue
        pydot = module
    return pydot


PYDOT_MESSAGE = "You must install pydot (`pip install pydot`) for `{what}` to work."
GRAPHVIZ_MESSAGE = ("You must install graphviz (see instructions at https://graphviz.gitlab.io/download/) for "
                    "`plot_model` to work.")


def check_pydot():
    """Whether pydot is importable."""
    return _pydot() is not None


def check_graphviz():
    """Whether pydot and the Graphviz programs are both available."""
    if not check_pydot():
        return False
    dot = _pydot()
    try:
        dot.Dot.create(dot.Dot())  # render an empty graph
        return True
    except Exception:  # OSError, pydot.PydotException, ...: pydot versions differ when `dot` is missing
        return False


def _is_model(layer):
    from pynn.models.functional import Functional
    return isinstance(layer, Functional)


def _is_sequential(layer):
    from pynn.models.sequential import Sequential
    return isinstance(layer, Sequential)


def _built(model):
    if not getattr(model, "built", False):
        return False
    return not _is_model(model) or getattr(model, "outputs", None) is not None


def add_edge(dot, src, dst):
    src_id, dst_id = str(id(src)), str(id(dst))
    if not dot.get_edge(src_id, dst_id):
        edge = _pydot().Edge(src_id, dst_id)
        edge.set("penwidth", "2")
        dot.add_edge(edge)


def get_layer_activation_name(layer):
    activation = layer.activation
    if hasattr(activation, "name"):
        return activation.name
    if hasattr(activation, "__name__"):
        return activation.__name__
    return str(activation)


def _shape_of(tensors):
    if isinstance(tensors, (list, tuple)):
        return [t.shape for t in tensors]
    return tensors.shape


def _dtype_of(tensors):
    if isinstance(tensors, (list, tuple)):
        return [str(t.dtype) for t in tensors]
    return str(tensors.dtype)


def make_layer_label(layer, show_layer_names, show_layer_activations, show_dtype, show_shapes, show_trainable):
    """Keras's HTML-like table label of a layer's box."""
    class_name = layer.__class__.__name__
    table = '<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
    colspan = max(1, sum(int(x) for x in (show_dtype, show_trainable)) + (2 if show_shapes else 0))
    title = f"<b>{layer.name}</b> ({class_name})" if show_layer_names else f"<b>{class_name}</b>"
    table += (f'<tr><td colspan="{colspan}" bgcolor="black"><font point-size="16" color="white">{title}'
              "</font></td></tr>")
    if show_layer_activations and getattr(layer, "activation", None) is not None:
        table += (f'<tr><td bgcolor="white" colspan="{colspan}"><font point-size="14">'
                  f"Activation: <b>{get_layer_activation_name(layer)}</b></font></td></tr>")
    cols = []
    if show_shapes:
        input_shape = output_shape = None
        try:
            input_shape = _shape_of(layer.input)
            output_shape = _shape_of(layer.output)
        except (ValueError, AttributeError):
            pass

        def format_shape(shape):
            return "?" if shape is None else f"{shape}".replace("}", "").replace("{", "")
        if class_name != "InputLayer":
            cols.append(f'<td bgcolor="white"><font point-size="14">Input shape: <b>{format_shape(input_shape)}'
                        "</b></font></td>")
        cols.append(f'<td bgcolor="white"><font point-size="14">Output shape: <b>{format_shape(output_shape)}'
                    "</b></font></td>")
    if show_dtype:
        dtype = None
        try:
            dtype = _dtype_of(layer.output)
        except (ValueError, AttributeError):
            pass
        cols.append(f'<td bgcolor="white"><font point-size="14">Output dtype: <b>{dtype or "?"}</b></font></td>')
    if show_trainable and hasattr(layer, "trainable") and layer.weights:
        if layer.trainable:
            cols.append('<td bgcolor="forestgreen"><font point-size="14" color="white"><b>Trainable</b></font></td>')
        else:
            cols.append('<td bgcolor="firebrick"><font point-size="14" color="white"><b>Non-trainable</b></font>'
                        "</td>")
    if cols:
        table += f"<tr>{''.join(cols)}</tr>"
    return table + "</table>>"


def make_node(layer, **kwargs):
    node = _pydot().Node(str(id(layer)), label=make_layer_label(layer, **kwargs))
    node.set("fontname", "Helvetica")
    node.set("border", "0")
    node.set("margin", "0")
    return node


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 splines="ortho", **kwargs):
    """Convert a model to a `pydot.Dot` graph (a `pydot.Cluster` with subgraph=True): a box per layer (an
    HTML-like table with its name, class and, when asked, shapes, dtype, activation, trainability), an
    edge per connection.

    Args:
        model: a built pynn model (Sequential or functional).
        show_shapes: show the input and output shapes.
        show_dtype: show the output dtype.
        show_layer_names: show the layer names.
        rankdir: "TB" (vertical) or "LR" (horizontal).
        expand_nested: draw nested models as clusters of their layers.
        dpi: image resolution in dots per inch.
        subgraph: return a pydot.Cluster (for a nested model).
        show_layer_activations: show the activations of the layers that have one.
        show_trainable: show whether each layer with weights is trainable.
        splines: how edges are drawn: "ortho" (the default), "curved", "polyline", "spline" or "line".
    """
    if not _built(model):
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    if not check_pydot():
        raise ImportError(PYDOT_MESSAGE.format(what="model_to_dot"))
    if subgraph:
        dot = _pydot().Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = _pydot().Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    label_args = {"show_layer_names": show_layer_names, "show_layer_activations": show_layer_activations,
                  "show_dtype": show_dtype, "show_shapes": show_shapes, "show_trainable": show_trainable}

    if not _is_model(model):
        # a subclassed model is one box, as in Keras
        dot.add_node(make_node(model, **label_args))
        return dot
    sequential = _is_sequential(model)
    layers = model.layers if sequential else list(model._graph_layers)
    for layer in layers:
        if expand_nested and _is_model(layer):
            dot.add_subgraph(model_to_dot(layer, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                                          subgraph=True, show_layer_activations=show_layer_activations,
                                          show_trainable=show_trainable))
        else:
            dot.add_node(make_node(layer, **label_args))

    if sequential:
        if not expand_nested:
            for a, b in zip(layers[:-1], layers[1:]):
                add_edge(dot, a, b)
            return dot
        # the first layer's incoming edge (from the InputLayer, not drawn) is drawn from outside
        layers = layers[1:]

    node_ids = model._node_ids
    for layer in layers:
        for node in layer._inbound_nodes:
            if id(node) not in node_ids:
                continue
            for input_index, tensor in enumerate(node.inputs):
                history = tensor._keras_history
                if history is None:
                    continue
                source, _, output_index = history
                destination = layer
                if not expand_nested:
                    add_edge(dot, source, destination)
                    continue
                while _is_model(source):
                    # a model has no output box: connect the layer that makes this output
                    source, _, output_index = source.outputs[output_index]._keras_history
                while _is_model(destination):
                    if _is_sequential(destination):
                        destination = destination.layers[0]
                    else:
                        destination = destination.inputs[input_index]._keras_history[0]
                add_edge(dot, source, destination)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               splines="ortho", **kwargs):
    """Draw a model's graph to an image file (through pydot and Graphviz).

    Args:
        model: a built pynn model.
        to_file: the image file; its extension is the format (png when there is none).
        show_shapes, show_dtype, show_layer_names, rankdir, expand_nested, dpi, show_layer_activations,
        show_trainable, splines: as in model_to_dot (show_layer_names defaults to False here, as in Keras).

    Returns:
        An IPython.display.Image of the file when IPython is installed (and the format is not pdf), else
        None.

    Raises:
        ImportError: without pydot (`pip install pydot`) or the Graphviz programs (in a notebook the
            message is printed instead, as Keras does).
    """
    if not _built(model):
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    for ok, message in ((check_pydot, PYDOT_MESSAGE.format(what="plot_model")), (check_graphviz, GRAPHVIZ_MESSAGE)):
        if not ok():
            if "IPython.core.magics.namespace" in sys.modules:
                print(message)
                return None
            raise ImportError(message)
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                       splines=splines)
    to_file = str(to_file)
    _, extension = os.path.splitext(to_file)
    extension = extension[1:] if extension else "png"
    dot.write(to_file, format=extension)
    if extension != "pdf":
        try:
            from IPython import display
            return display.Image(filename=to_file)
        except ImportError:
            pass
    return None
