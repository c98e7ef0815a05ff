"""What differs between Keras's description of a model and pynn's, for files both read (legacy_h5).

- to_keras / from_keras: a serialized config with Keras's module names and options, and back. Keras's
  DTypePolicy objects are dtype names in pynn, InputLayer's batch_shape is pynn's shape and batch_size, and
  options pynn's classes do not have are dropped when they hold the value that disables them
  (quantization_config=None, renorm=False, use_ema=False, ...); any other value reaches the class's
  from_config, which refuses it by name.
- keras_layers / keras_weights / legacy_weights / trained_weights: a model's layers and weights in the order
  Keras gives the same model, which files that match weights by position depend on.
"""
import inspect

from pynn.saving import file_utils, serialization_lib
from pynn.saving.serialization_lib import BUILTIN_MODULES

# Options of Keras's classes that pynn's do not have, with the value that makes them do nothing; dropped from a
# Keras config (only for a pynn class that lacks the argument) when they hold it.
KERAS_ONLY = {"quantization_config": None, "sparse": False, "ragged": False, "optional": False,
              "data_format": "channels_last", "input_axes": None, "output_axes": None,
              "loss_scale_factor": None, "gradient_accumulation_steps": None}
# Switches whose companions mean nothing while they are off: renorm=False drops renorm_momentum too.
KERAS_SWITCHES = {"renorm": ("renorm_clipping", "renorm_momentum"),
                  "use_ema": ("ema_momentum", "ema_overwrite_frequency")}
DTYPE_POLICIES = ("DTypePolicy", "FloatDTypePolicy")
# Loss names that Keras 3.15 accepts in compile but not in an .h5 file's training_config: written in full.
LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "msle": "mean_squared_logarithmic_error",
                "mape": "mean_absolute_percentage_error", "kld": "kl_divergence", "logcosh": "log_cosh"}


# ---------------------------------------------------------------------------------------------- configs
def to_keras(value):
    """A pynn serialized config with Keras's module names for pynn's classes ("keras.layers", ...)."""
    if isinstance(value, list):
        return [to_keras(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: to_keras(item) for key, item in value.items()}
    if out.get("module") in BUILTIN_MODULES:
        out["module"], out["registered_name"] = "keras" + out["module"][len("pynn"):], None
    return out


def from_keras(value):
    """A Keras config as pynn's classes read it (see the module docstring)."""
    if isinstance(value, list):
        return [from_keras(item) for item in value]
    if not isinstance(value, dict):
        return value
    module = value.get("module")
    keras_module = isinstance(module, str) and (module == "keras" or module.startswith("keras."))
    if keras_module and value.get("class_name") in DTYPE_POLICIES and isinstance(value.get("config"), dict):
        return value["config"].get("name")
    out = {key: from_keras(item) for key, item in value.items()}
    if keras_module:
        out["module"] = "pynn" + module[len("keras"):]
        if out["module"] not in BUILTIN_MODULES:
            out["module"] = None
        if out.get("registered_name") is None:
            out.pop("registered_name", None)
    if isinstance(out.get("class_name"), str) and isinstance(out.get("config"), dict):
        out["config"] = _fit_config(out["class_name"], out.get("module"), out["config"])
    return out


def _fit_config(class_name, module, config):
    config = dict(config)
    if class_name == "InputLayer":
        batch_shape = config.pop("batch_shape", None) or config.pop("batch_input_shape", None)
        if isinstance(batch_shape, list) and batch_shape:
            config["shape"], config["batch_size"] = batch_shape[1:], batch_shape[0]
    cls = _pynn_class(class_name, module)
    if cls is None:
        return config
    accepted = inspect.signature(cls.__init__).parameters
    for switch, companions in KERAS_SWITCHES.items():
        if switch not in accepted and config.get(switch) is False:
            for key in (switch,) + companions:
                config.pop(key, None)
    for key, neutral in KERAS_ONLY.items():
        if key in config and key not in accepted and config[key] == neutral and \
                type(config[key]) is type(neutral):
            del config[key]
    return config


def _pynn_class(class_name, module):
    modules = (module,) if module in BUILTIN_MODULES else BUILTIN_MODULES if module is None else ()
    for name in modules:
        cls = serialization_lib._namespace(name).get(class_name)
        if cls is not None:
            return cls
    return None


def full_loss_names(loss):
    """The loss names of a compile config in full ("mse" -> "mean_squared_error", see LOSS_ALIASES)."""
    if isinstance(loss, str):
        return LOSS_ALIASES.get(loss, loss)
    if isinstance(loss, list):
        return [full_loss_names(item) for item in loss]
    if isinstance(loss, dict) and "class_name" not in loss:
        return {key: full_loss_names(item) for key, item in loss.items()}
    return loss


# ---------------------------------------------------------------------------------------------- Keras's order
def keras_layers(model):
    """model.layers in the order Keras gives a model of the same graph: a Sequential's in order; a functional
    model's by depth (longest path to an output, deepest first), then by first visit of a depth-first walk from
    the outputs (Keras's ops.function.map_graph). Weights are matched by position in this order."""
    from pynn.models.sequential import Sequential
    if isinstance(model, Sequential) or not hasattr(model, "_nodes"):
        return list(model.layers)
    order, first_visit, finished = [], {}, set()
    for output in model.outputs:              # depth-first, children in input order, nodes after their inputs
        if id(output.node) in finished:
            continue
        first_visit.setdefault(id(output.node.layer), len(first_visit))
        stack = [(output.node, iter(output.node.inputs))]
        while stack:
            node, inputs = stack[-1]
            tensor = next(inputs, None)
            if tensor is None:
                stack.pop()
                finished.add(id(node))
                order.append(node)
            elif id(tensor.node) not in finished:
                first_visit.setdefault(id(tensor.node.layer), len(first_visit))
                stack.append((tensor.node, iter(tensor.node.inputs)))
    node_depth, layer_depth, layers = {}, {}, {}
    for node in reversed(order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = node_depth[id(node)] = depth
        layers[id(node.layer)] = node.layer
        for tensor in node.inputs:
            parent = id(tensor.node)
            node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for tensor in model.inputs:               # an input no output reads
        layer = tensor._keras_history[0]
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], first_visit[id(layer)], layers[id(layer)] = 0, -1, layer
    return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], first_visit[id(layer)]))


def _unique(variables):
    seen, out = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            out.append(variable)
    return out


def keras_weights(layer):
    """layer.weights in Keras's order (a model's: its layers' in Keras's layer order)."""
    if file_utils.is_model(layer):
        return _unique(w for sub in keras_layers(layer) for w in keras_weights(sub))
    return list(layer.weights)


def legacy_weights(layer):
    """The weights a legacy .h5 file stores for a layer, in its order: the trainable ones, then the others."""
    trainable = {id(w) for w in layer.trainable_weights}
    weights = keras_weights(layer)
    return [w for w in weights if id(w) in trainable] + [w for w in weights if id(w) not in trainable]


def trained_weights(model):
    """The weights the model's optimizer updates, in Keras's order (that of its optimizer variables)."""
    trained = getattr(model, "_variables_to_train", None)
    trained = {id(w) for w in (model.trainable_weights if trained is None else trained)}
    return [w for w in keras_weights(model) if id(w) in trained]
