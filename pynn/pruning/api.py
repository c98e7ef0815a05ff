"""prune_low_magnitude, strip_pruning and get_sparsity: wrapping a model's layers for pruning and unwrapping
them for deployment."""
import contextlib

import numpy as np

from pynn.layers.layer import Layer
from pynn.pruning.wrapper import PruneLowMagnitude, prunable_weights

__all__ = ["prune_low_magnitude", "strip_pruning", "get_sparsity", "prune_scope"]


def _is_model(obj):
    from pynn.models.model import Model
    return isinstance(obj, Model)


def _is_builtin(layer):
    return type(layer).__module__.startswith("pynn.")


def _wrap_decision(layer):
    """True: wrap it; False: leave it (nothing to prune). Raises for a layer whose weights pynn cannot prune."""
    if isinstance(layer, PruneLowMagnitude):
        raise ValueError(f"prune_low_magnitude: layer '{layer.name}' is already wrapped for pruning")
    if not layer.built:
        return hasattr(layer, "get_prunable_weights") or any(
            getattr(type(layer), "__name__", "") == name for name in _PRUNABLE_CLASSES)
    if prunable_weights(layer):
        return True
    if layer.weights and not _is_builtin(layer):
        raise ValueError(f"prune_low_magnitude: layer '{layer.name}' ({type(layer).__name__}) has weights pynn "
                         "does not know how to prune; give it a get_prunable_weights() method returning the "
                         "Variables to prune, or apply prune_low_magnitude to the other layers only")
    return False


_PRUNABLE_CLASSES = ("Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
                     "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Embedding", "SimpleRNN", "LSTM",
                     "GRU")


def prune_low_magnitude(to_prune, pruning_schedule=None, block_size=(1, 1), block_pooling_type="AVG",
                        sparsity_m_by_n=None, **kwargs):
    """Wrap a layer, or every prunable layer of a Sequential or functional model, in PruneLowMagnitude (as
    tfmot.sparsity.keras.prune_low_magnitude does). A model comes back as a new model that shares the
    original layers and their trained weights; compile it, then fit with the UpdatePruningStep callback.

    Prunable: Dense, the convolutions (their kernels; a separable one its pointwise kernel), Embedding, the
    recurrent layers (kernel and recurrent kernel), and any layer with get_prunable_weights(). Layers with
    nothing to prune (pooling, normalization, ...) are left as they are.

    Example:
        pruned = pynn.pruning.prune_low_magnitude(model, pruning_schedule=pynn.pruning.PolynomialDecay(
            initial_sparsity=0.5, final_sparsity=0.8, begin_step=0, end_step=1000))
        pruned.compile(...)
        pruned.fit(x, y, callbacks=[pynn.pruning.UpdatePruningStep()])
        deployable = pynn.pruning.strip_pruning(pruned)
    """
    options = dict(pruning_schedule=pruning_schedule, block_size=block_size,
                   block_pooling_type=block_pooling_type, sparsity_m_by_n=sparsity_m_by_n, **kwargs)
    if _is_model(to_prune):
        return _map_model(to_prune, lambda layer: PruneLowMagnitude(layer, **options)
                          if _wrap_decision(layer) else layer, "prune_low_magnitude")
    if isinstance(to_prune, (list, tuple)):
        return [prune_low_magnitude(layer, **options) for layer in to_prune]
    if isinstance(to_prune, Layer):
        if isinstance(to_prune, PruneLowMagnitude):
            raise ValueError(f"prune_low_magnitude: layer '{to_prune.name}' is already wrapped for pruning")
        return PruneLowMagnitude(to_prune, **options)
    raise ValueError(f"prune_low_magnitude: expected a pynn model, layer or list of layers, got "
                     f"{type(to_prune).__name__}")


def strip_pruning(model):
    """The model with every PruneLowMagnitude wrapper replaced by the layer it wraps, its weights multiplied by
    the masks: the model to save, export or serve. It shares those layers with `model`. Dense layers whose
    kernels are sparse enough run inference on the sparse kernel (see pynn.layers.Dense)."""
    if not _is_model(model):
        raise ValueError(f"strip_pruning: expected a pynn model, got {type(model).__name__}")

    def unwrap(layer):
        if isinstance(layer, PruneLowMagnitude):
            if layer.built:
                layer.apply_masks()
            return layer.layer
        return layer
    return _map_model(model, unwrap, "strip_pruning")


def get_sparsity(model_or_layer, by_weight=False):
    """The fraction of zeros among the pruned weights (the prunable ones when nothing is wrapped, e.g. after
    strip_pruning): one number over all of them, or with by_weight=True a dict {"layer/weight": fraction}."""
    layers = model_or_layer._self_and_sublayers() if isinstance(model_or_layer, Layer) else None
    if layers is None:
        raise ValueError(f"get_sparsity: expected a pynn model or layer, got {type(model_or_layer).__name__}")
    wrapped = {id(layer.layer) for layer in layers if isinstance(layer, PruneLowMagnitude)}
    found = {}
    for layer in layers:
        if id(layer) in wrapped or _is_model(layer) or not layer.built:
            continue
        inner = layer.layer if isinstance(layer, PruneLowMagnitude) else layer
        try:
            weights = prunable_weights(inner)
        except Exception:       # a custom get_prunable_weights that fails: nothing to count
            weights = []
        for w in weights:
            found[f"{inner.name}/{w.name}"] = w.value
    if by_weight:
        return {name: float(np.count_nonzero(v == 0)) / v.size for name, v in found.items()}
    total = sum(v.size for v in found.values())
    return float(sum(np.count_nonzero(v == 0) for v in found.values())) / total if total else 0.0


@contextlib.contextmanager
def prune_scope():
    """tfmot's scope for loading a model with pruning wrappers; pynn registers them, so this does nothing."""
    yield


def _map_model(model, fn, caller):
    """A new Sequential or functional model whose layers are fn(layer), the graph otherwise the same."""
    from pynn.models.functional import Functional
    from pynn.models.sequential import Sequential
    if isinstance(model, Sequential):
        clone = Sequential(name=model.name)
        first = getattr(model, "_input_layer", None)
        if first is not None:
            from pynn.layers.input_layer import InputLayer
            clone.add(InputLayer(shape=first.shape, dtype=first.dtype, name=first.name))
        for layer in model.layers:
            clone.add(fn(layer))
        if first is None and model.built and getattr(model, "input_shape", None) is not None:
            clone.build(model.input_shape)
        return clone
    if isinstance(model, Functional) and not model._call_style:
        return _map_functional(model, fn)
    raise ValueError(f"{caller}: a subclassed model cannot be rebuilt; wrap its layers in its __init__ instead "
                     f"(pynn.pruning.prune_low_magnitude(layer) for each)")


def _map_functional(model, fn):
    """Through the model's config (what saving writes, so every call option survives): each layer's entry
    replaced by fn(layer)'s, references to it renamed; then the new layers take the old weights."""
    from pynn.models import functional_config
    from pynn.models.functional import Functional
    from pynn.saving import serialize_keras_object
    config = functional_config.get_config(model)
    by_name = {layer.name: layer for layer in model.layers}
    renamed, sources = {}, {}
    for entry in config["layers"]:
        old = by_name.get(entry["name"])
        if old is None:
            continue
        new = fn(old)
        if new is old:
            sources[old.name] = old
            continue
        serialized = serialize_keras_object(new)
        entry.update({k: serialized[k] for k in ("module", "class_name", "config", "registered_name")})
        entry["name"] = new.name
        renamed[old.name] = new.name
        sources[new.name] = old
    _rename_history(config, renamed)
    clone = Functional.from_config(config)
    for layer in clone.layers:
        source = sources.get(layer.name)
        if source is not None and source.built:
            _copy_weights(source, layer)
    return clone


def _rename_history(node, renamed):
    if isinstance(node, dict):
        history = node.get("keras_history")
        if isinstance(history, list) and history and history[0] in renamed:
            history[0] = renamed[history[0]]
        for key, value in node.items():
            if key in ("input_layers", "output_layers") and isinstance(value, list):
                _rename_endpoints(value, renamed)
            else:
                _rename_history(value, renamed)
    elif isinstance(node, list):
        for value in node:
            _rename_history(value, renamed)


def _rename_endpoints(value, renamed):
    if len(value) == 3 and isinstance(value[0], str):
        value[0] = renamed.get(value[0], value[0])
    else:
        for item in value:
            if isinstance(item, list):
                _rename_endpoints(item, renamed)


def _copy_weights(source, target):
    """target (a layer of the new model) takes source's weights: a wrapper's inner layer from an unwrapped
    source, an unwrapped layer from a wrapper's inner layer, else one to one."""
    if isinstance(target, PruneLowMagnitude) and not isinstance(source, PruneLowMagnitude):
        target.layer.set_weights(source.get_weights())
    elif isinstance(source, PruneLowMagnitude) and not isinstance(target, PruneLowMagnitude):
        target.set_weights(source.layer.get_weights())
    else:
        target.set_weights(source.get_weights())
