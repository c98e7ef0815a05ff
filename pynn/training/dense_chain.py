"""The training step of a stack of Dense and Dropout layers as one C++ call.

The tutorials' multilayer perceptron (Dense and Dropout layers, a softmax output trained with categorical
cross-entropy) spends most of a small batch's step in Python between its kernels. For such a model
`chain_step(model)` returns a step that runs the forward pass, the fused softmax cross-entropy, the
backward pass and the weight gradients in one call (csrc/training/dense_chain.h), through the same kernels
in the same order, so that losses, gradients and weights are bit-identical to the layer-by-layer step. The
optimizer, metrics and callbacks run as for any model.

A model qualifies when it is a straight graph of Dense and Dropout layers (Dropout without noise_shape) on
2-D float32 / float64 inputs; its last layer is a Dense layer with a softmax fused into
SparseCategoricalCrossentropy (no ignore_class) or CategoricalCrossentropy (no label smoothing), reduced as
the mean over the batch with weight 1; and it trains every weight of those layers, with no regularizer or
activity regularizer (constraints are fine: the optimizer applies them). Anything else, and any batch with
sample weights or inputs or labels the chain does not take, goes through the layer-by-layer step.
"""
from pynn import kernels
from pynn.layers.dense import Dense
from pynn.layers.dropout import Dropout
from pynn.losses.probabilistic import CategoricalCrossentropy, SparseCategoricalCrossentropy

ENABLED = True  # tests switch it off to compare with the layer-by-layer step


def chain_step(model):
    """A function (x, y) -> (loss, predictions) or None for the model's training step, or None when the
    model does not qualify (see the module docstring)."""
    if not ENABLED:
        return None
    sparse = _loss_kind(model)
    layers = _chain_layers(model)
    if sparse is None or layers is None or model.dtype not in ("float32", "float64"):
        return None
    trained = {id(v) for v in model._variables_to_train}
    weights = [w for layer in layers for w in layer.weights]
    if len(trained) != len(weights) or any(id(w) not in trained for w in weights):
        return None
    if any(w.regularizer is not None or w.dtype != model.dtype for w in weights):
        return None
    specs, features, idle = [], model.input_shape[-1], []
    for k, layer in enumerate(layers):
        if isinstance(layer, Dropout):  # the identity at rate 0 (drawing no random numbers): left out
            (specs.append(("dropout", layer, features)) if layer.rate > 0 else idle.append(layer))
            continue
        act = layer.activation
        last = k == len(layers) - 1
        spec = None if last or act.name == "linear" else ((act.name, act.params) if act.params else act.name)
        specs.append(("dense", layer.kernel, layer.bias if layer.use_bias else None, spec,
                      spec is not None and act.uses_output, features, layer.units))
        features = layer.units
    chain = kernels.DenseChain(specs, model.dtype, sparse)
    dtype = model.dtype.type

    def step(x, y):
        if idle and any(layer.rate for layer in idle):
            return None
        result = chain.step(x, y)
        if result is None:
            return None
        total, y_pred = result
        rows = len(y_pred)
        return float(dtype(float(dtype(total)) / rows)), y_pred  # as the fused loss reduces it
    return step


def _loss_kind(model):
    """True for sparse labels, False for probability targets, None when the loss does not qualify."""
    if len(model._outputs) != 1:
        return None
    out = model._outputs[0]
    if out.fused is None or out.fused.name != "softmax" or out.weight != 1.0 or out.tracker is not None:
        return None
    loss = out.loss
    if loss.reduction not in ("sum_over_batch_size", "mean"):
        return None
    if type(loss) is SparseCategoricalCrossentropy and loss.ignore_class is None:
        return True
    if type(loss) is CategoricalCrossentropy and not loss.label_smoothing and loss.axis in (-1, None):
        return False
    return None


def _chain_layers(model):
    """The model's layers in order when it is a straight chain of Dense and Dropout layers on 2-D inputs,
    ending in a Dense layer; else None."""
    if not getattr(model, "built", False) or model.takes_list or getattr(model, "_masking", True):
        return None
    if len(model.input_shape) != 2 or model.input_shape[-1] is None:
        return None
    steps = model._steps
    slot = model._input_slots[0]
    layers = []
    for i, step in enumerate(steps):
        layer = step.layer
        if type(layer) not in (Dense, Dropout) or i not in model._plain_steps or step.inputs != [slot] \
                or len(step.outputs) != 1 or layer.activity_regularizer is not None or layer in layers \
                or getattr(layer, "noise_shape", None) is not None:  # the chain draws a mask per element
            return None
        slot = step.outputs[0]
        layers.append(layer)
    if not layers or type(layers[-1]) is not Dense or model._output_slots != [slot]:
        return None
    for layer in layers[:-1]:
        if type(layer) is Dense and not layer.activation.elementwise:
            return None
    return layers
