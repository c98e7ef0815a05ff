"""SimpleRNN, LSTM, GRU (ONNX's RNN / LSTM / GRU ops) and Bidirectional.

Weights: ONNX wants W (1, gates * units, features), R (1, gates * units, units), B (1, 2 * gates * units) =
[input biases; recurrent biases], gates in its own order: Keras's LSTM kernel holds the gates i, f, c, o and
ONNX's i, o, f, c; GRU's are z, r, h in both. GRU with reset_after=True (Keras 3's default) applies the reset
gate after the recurrent product, which is ONNX's linear_before_reset=1, and has the two bias rows ONNX has.

Time: ONNX's ops read (steps, batch, features), so the input is transposed; go_backwards reverses the steps
first (and the output sequence stays in that reversed order, as in Keras).

Masks (from Embedding(mask_zero=True) or Masking): a masked step leaves the states as they were, so the final
state is that of the valid steps alone. The valid steps of each sequence are gathered to its front (in
order) and their count is ONNX's sequence_lens, which handles masks of any pattern, padding before or after.
With return_sequences, each step's output is then the output of the last valid step up to it (zeros before
the first), or zeros at masked steps with zero_output_for_mask (Bidirectional sets it), as pynn computes.

Quantized (model.quantize("int8"), see quantized.py): W is the DequantizeLinear of the int8 input kernel (in
ONNX's layout and gate order, one scale per gate unit: axis 1), and the op reads the input as pynn's int8 product
does, quantized and dequantized per row (sample and step) or with the static inputs scale; R stays float32.
"""
import numpy as np

from pynn import layers
from pynn.export.converters import quantized
from pynn.export.registry import register_converter

_OPS = {"simple": "RNN", "lstm": "LSTM", "gru": "GRU"}
_GATE_ORDER = {"simple": [0], "lstm": [0, 3, 1, 2], "gru": [0, 1, 2]}
# pynn activation -> (ONNX recurrent activation name, activation_alpha, activation_beta)
_ACTIVATIONS = {"tanh": ("Tanh", None, None), "sigmoid": ("Sigmoid", None, None), "relu": ("Relu", None, None),
                "softsign": ("Softsign", None, None), "softplus": ("Softplus", None, None),
                "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5), "linear": ("Affine", 1.0, 0.0)}
_INT64_MIN = -(2 ** 63)


def _activation(layer, act):
    if act.name in _ACTIVATIONS and not act.params:
        return _ACTIVATIONS[act.name]
    if act.name == "leaky_relu":
        return "LeakyRelu", float(act.params.get("negative_slope", 0.2)), None
    if act.name == "elu":
        return "Elu", float(act.params.get("alpha", 1.0)), None
    raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}): the activation "
                     f"{act.get_config()!r} is not one ONNX's recurrent ops take (tanh, sigmoid, relu, hard_sigmoid, "
                     "softsign, softplus, leaky_relu, elu, linear)")


def _activation_attributes(layer):
    """ONNX's `activations` (f for SimpleRNN; f, g for GRU; f, g, h for LSTM), with the alpha / beta values of
    those that take them, in order."""
    pairs = [layer.activation] if layer.cell == "simple" else [layer.recurrent_activation, layer.activation]
    if layer.cell == "lstm":
        pairs.append(layer.activation)
    specs = [_activation(layer, act) for act in pairs]
    alphas = [a for _, a, _ in specs if a is not None]
    betas = [b for _, _, b in specs if b is not None]
    return {"activations": [name for name, _, _ in specs], "activation_alpha": alphas or None,
            "activation_beta": betas or None}


def _gates(w, units, order):
    return np.concatenate([w[..., k * units:(k + 1) * units] for k in order], axis=-1)


def _weights(layer):
    """W, R, B in ONNX's layout and gate order."""
    units, order = layer.units, _GATE_ORDER[layer.cell]
    w = _gates(np.asarray(layer.kernel.value), units, order).T[None]
    r = _gates(np.asarray(layer.recurrent_kernel.value), units, order).T[None]
    size = layer.gates * units
    if not layer.use_bias:
        bias = np.zeros((2, size))
    elif layer.cell == "gru" and layer.reset_after:
        bias = np.asarray(layer.bias.value)                         # [input bias; recurrent bias]
    else:
        bias = np.stack([_gates(np.asarray(layer.bias.value), units, order), np.zeros(size)])
    return w, r, bias.reshape(1, 2 * size)


def reverse_steps(g, x):
    """x with axis 1 (the steps) reversed."""
    return g.op("Slice", [x, g.ints([-1], "starts"), g.ints([_INT64_MIN], "ends"), g.ints([1], "axes"),
                          g.ints([-1], "steps")], hint="reverse")


def _gather_steps(g, x, index):
    """x (batch, steps, features) with its steps taken at index (batch, steps)."""
    full = g.op("Expand", [g.unsqueeze(index, [2]), g.op("Shape", [x])])
    return g.op("GatherElements", [x, full], axis=1)


def _compaction(g, mask):
    """(order, lengths, counts) for a (batch, steps) mask: the indices that bring the valid steps to the
    front in order, their number per sequence (int32), and the running count of valid steps (float)."""
    valid = g.cast(mask, g.float_dtype, hint="valid")
    steps = g.op("Gather", [g.op("Shape", [mask]), g.ints([1], "one")])     # (1,) int64
    position = g.op("Range", [g.scalar(0.0), g.cast(g.squeeze(steps, [0]), g.float_dtype), g.scalar(1.0)])
    # key: a valid step keeps its position, a masked one goes after every valid one
    later = g.op("Mul", [g.op("Sub", [g.scalar(1.0), valid]), g.cast(steps, g.float_dtype)])
    key = g.op("Add", [later, position])
    _, order = g.op("TopK", [key, steps], outputs=2, hint="order", axis=1, largest=0, sorted=1)
    lengths = g.cast(g.reduce("ReduceSum", valid, [1], keepdims=False), np.int32, hint="lengths")
    counts = g.op("CumSum", [valid, g.const(np.int64(1))], hint="counts")
    return order, lengths, counts


def _spread(g, y, counts, mask, zero_masked):
    """The outputs of the compacted sequence back at every step: step t shows the output of valid step
    counts[t] - 1 (zeros before the first valid step, or at every masked step when zero_masked)."""
    index = g.cast(g.op("Max", [g.op("Sub", [counts, g.scalar(1.0)]), g.scalar(0.0)]), np.int64)
    y = _gather_steps(g, y, index)
    keep = g.cast(mask, g.float_dtype) if zero_masked else g.cast(g.op("Greater", [counts, g.scalar(0.0)]),
                                                                   g.float_dtype)
    return g.op("Mul", [y, g.unsqueeze(keep, [2])], hint="output")


def recurrent_outputs(g, layer, x, mask=None, initial_state=None):
    """[output, *final states] of a SimpleRNN / LSTM / GRU on x (batch, steps, features)."""
    if layer.stateful:
        raise ValueError(f"ONNX export: layer '{layer.name}' ({type(layer).__name__}) is stateful; its states "
                         "carry over between calls, which an ONNX graph does not keep. Export a copy with "
                         "stateful=False and pass the states as initial_state inputs")
    if layer.go_backwards:
        x = reverse_steps(g, x)
        mask = None if mask is None else reverse_steps(g, mask)
    lengths = counts = None
    if mask is not None:
        order, lengths, counts = _compaction(g, mask)
        x = _gather_steps(g, x, order)
    w, r, b = _weights(layer)
    if layer.quantization_mode is not None:
        quantized.check_int8(layer)
        x = quantized.quantized_input(g, layer, x)             # per (sample, step) row: in any step order
        scale = _gates(np.asarray(layer.kernel_scale.value), layer.units, _GATE_ORDER[layer.cell])
        w = quantized.int8_weight(g, w, scale, 1, hint="W")
    else:
        w = g.const(w, hint="W")
    states = [g.unsqueeze(s, [0], hint="initial_state") for s in initial_state or []]
    inputs = [g.transpose(x, [1, 0, 2], hint="time_major"), w, g.const(r, hint="R"),
              g.const(b, hint="B"), lengths or ""] + (states or [""])
    while inputs[-1] == "":
        inputs.pop()
    extra = {"linear_before_reset": int(layer.reset_after)} if layer.cell == "gru" else {}
    outs = g.op(_OPS[layer.cell], inputs, outputs=3 if layer.cell == "lstm" else 2, hint=layer.cell,
                hidden_size=layer.units, direction="forward", **_activation_attributes(layer), **extra)
    final = [g.squeeze(s, [0], hint="state") for s in outs[1:]]
    if layer.return_sequences:
        y = g.transpose(g.squeeze(outs[0], [1]), [1, 0, 2], hint="sequence")
        if mask is not None:
            y = _spread(g, y, counts, mask, layer.zero_output_for_mask)
    else:
        y = final[0]
    return [y] + final


@register_converter(layers.SimpleRNN, layers.LSTM, layers.GRU, quantized=True)
def _recurrent(g, layer, x, initial_state=None):
    mask = g.masks.get(x)
    outs = recurrent_outputs(g, layer, x, mask, initial_state)
    if layer.return_sequences and mask is not None:
        g.masks[outs[0]] = mask
    return outs if layer.return_state else outs[0]


@register_converter(layers.Bidirectional)
def _bidirectional(g, layer, x, initial_state=None):
    mask = g.masks.get(x)
    n = layer.forward_layer._num_states()
    forward = recurrent_outputs(g, layer.forward_layer, x, mask, initial_state[:n] if initial_state else None)
    backward = recurrent_outputs(g, layer.backward_layer, x, mask, initial_state[n:] if initial_state else None)
    yf, yb = forward[0], backward[0]
    if layer.return_sequences:
        yb = reverse_steps(g, yb)
    mode = layer.merge_mode
    if mode == "concat":
        out = [g.op("Concat", [yf, yb], axis=-1)]
    elif mode == "sum":
        out = [g.op("Add", [yf, yb])]
    elif mode == "ave":
        out = [g.op("Mul", [g.op("Add", [yf, yb]), g.scalar(0.5)])]
    elif mode == "mul":
        out = [g.op("Mul", [yf, yb])]
    else:
        out = [yf, yb]
    if layer.return_sequences and mask is not None:
        for sequence in out:       # one sequence, or both with merge_mode=None: each carries the input's mask
            g.masks[sequence] = mask
    out += forward[1:] + backward[1:] if layer.return_state else []
    return out if len(out) > 1 else out[0]
