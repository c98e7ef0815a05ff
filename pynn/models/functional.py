"""Functional: a model made of a graph of layer calls (Keras's functional API); Sequential is a straight one.

The graph is what calling layers on symbolic tensors recorded (pynn.layers.node). At construction it is
flattened into a plan: every tensor gets a slot number, every layer call a step reading and writing slots,
in topological order. forward runs the steps and keeps each one's context; backward runs them in reverse,
summing the gradients of tensors that several steps read (fan-out, shared layers), and skips what no
trained variable or requested input gradient depends on.
"""
import inspect

import numpy as np

from pynn import variable
from pynn.layers.input_layer import InputLayer
from pynn.layers.node import KerasTensor
from pynn.models.model import Model


class _Step:
    """One layer call of the plan: the slots it reads (main inputs, then initial states) and writes."""

    __slots__ = ("layer", "inputs", "states", "outputs", "list_input", "list_output", "training", "node", "options")

    def __init__(self, node, slot_of):
        self.node = node
        self.layer = node.layer
        self.inputs = [slot_of[id(t)] for t in node.main_inputs]
        self.states = [slot_of[id(t)] for t in node.inputs[len(node.inputs) - node.num_states:]]
        self.outputs = [slot_of[id(t)] for t in node.outputs]
        self.list_input, self.list_output, self.training = node.list_input, node.list_output, node.training
        self.options = node.call_options or {}     # this call's own keyword arguments (pynn.layers.node.Node)


class Functional(Model):
    """A model from symbolic inputs to outputs: `pynn.Model(inputs, outputs)`.

    Args:
        inputs: a KerasTensor from `pynn.Input(...)`, or a list / dict of them.
        outputs: a KerasTensor computed from the inputs by calling layers, or a list / dict of them.
        name: the model's name.

    A layer called several times shares its weights (their gradients are summed); a model can be called
    on tensors like a layer, inside another model. With several inputs, fit / predict take a list of arrays
    in input order (or a dict by Input name); with several outputs, y is a list (or a dict by output name)
    and compile takes a loss per output.

    Example (an autoencoder):
        inputs = pynn.Input(shape=(784,))
        code = pynn.layers.Dense(32, activation="relu")(inputs)
        outputs = pynn.layers.Dense(784, activation="sigmoid")(code)
        model = pynn.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="binary_crossentropy")
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True):
        if inputs is None or outputs is None:
            raise ValueError("Model: both inputs and outputs are required, e.g. pynn.Model(inputs, outputs)")
        super().__init__(name=name, trainable=trainable)
        self._init_graph(inputs, outputs)
        if not trainable:
            self.trainable = False   # freezes every layer, as setting the attribute does

    # ------------------------------------------------------------------ the graph
    def _init_graph(self, inputs, outputs):
        in_list, self._input_keys = _flatten(inputs, "inputs")
        out_list, self._output_keys = _flatten(outputs, "outputs")
        self._nested_inputs = isinstance(inputs, (list, tuple, dict))
        self._nested_outputs = isinstance(outputs, (list, tuple, dict))
        for t in in_list:
            if t._keras_history is None or not isinstance(t._keras_history[0], InputLayer):
                raise ValueError(f"Model '{self.name}': every input must come from pynn.Input(...), got {t!r}")
        if len({id(t) for t in in_list}) != len(in_list):
            raise ValueError(f"Model '{self.name}': the same Input is listed twice in inputs")
        nodes = _topological_nodes(in_list, out_list, self.name)
        slot_of = {id(t): i for i, t in enumerate(in_list)}
        for node in nodes:
            for t in node.outputs:
                slot_of[id(t)] = len(slot_of)
        self.inputs, self.outputs = in_list, out_list
        self._steps = [_Step(node, slot_of) for node in nodes]
        self._num_slots = len(slot_of)
        self._input_slots = list(range(len(in_list)))
        self._output_slots = [slot_of[id(t)] for t in out_list]
        self._nodes = nodes
        self._node_ids = {id(n) for n in nodes} | {id(t.node) for t in in_list}
        layers, seen = [], set()
        for layer in [t._keras_history[0] for t in in_list] + [node.layer for node in nodes]:
            if id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
        self._graph_layers = layers
        self._masking = any(getattr(node.layer, "produces_mask", False) for node in nodes)
        self.dtype = next((t.dtype for t in in_list if t.dtype.kind == "f"), np.dtype("float32"))
        self._index_inputs = [t.dtype.kind in "iu" or _read_only_by_index_layers(i, self._steps)
                              for i, t in enumerate(in_list)]
        self.takes_list = len(in_list) > 1
        shapes = [t.shape for t in in_list]
        self.input_shape = shapes if self.takes_list else shapes[0]
        out_shapes = [t.shape for t in out_list]
        self.output_shape = out_shapes if len(out_list) > 1 else out_shapes[0]
        self.input_names = [t._keras_history[0].name for t in in_list]
        names = [t._keras_history[0].name for t in out_list]
        self.output_names = list(self._output_keys) if self._output_keys else [
            n if names.count(n) == 1 else f"{n}_{t._keras_history[2]}" for n, t in zip(names, out_list)]
        producer = {s: i for i, step in enumerate(self._steps) for s in step.outputs}
        self._output_steps = [producer.get(s) for s in self._output_slots]
        consumed = {s for step in self._steps for s in step.inputs + step.states}
        self._output_consumed = [s in consumed or self._output_slots.count(s) > 1 for s in self._output_slots]
        self._plan = None            # the inference functions of a straight graph (_predict_batch)
        self._checked_shape = None   # the last input shape _predict_batch checked
        self._backward_modes = {}    # (gradient-flag version, input gradients?) -> what each step computes
        self._logit_steps = {}
        self._regularized = None
        self._plain_steps = frozenset(
            i for i, step in enumerate(self._steps)
            if not (step.list_input or step.list_output or step.states or step.training is not None
                    or step.options or step.layer.activity_regularizer is not None))
        self.built = True

    @property
    def layers(self):
        return list(self._graph_layers)

    @property
    def input(self):
        """The model's symbolic input (a list for several): with layer.output, the way to a feature
        extractor, `pynn.Model(model.input, model.get_layer("conv").output)`."""
        inputs = getattr(self, "inputs", None)
        if inputs is None:
            raise AttributeError(f"Model '{self.name}' has no defined input yet: give it an Input or build it")
        return inputs[0] if len(inputs) == 1 else list(inputs)

    @property
    def output(self):
        """The model's symbolic output (a list for several)."""
        outputs = getattr(self, "outputs", None)
        if outputs is None:
            raise AttributeError(f"Model '{self.name}' has no defined output yet: give it an Input or build it")
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def build_for(self, input_shape):
        """Check that inputs of this shape (a list of shapes for several inputs) fit the model's inputs."""
        shapes = [tuple(s) for s in input_shape] if self.takes_list else [tuple(input_shape)]
        if len(shapes) != len(self.inputs):
            raise ValueError(f"Model '{self.name}' expects {len(self.inputs)} inputs, got {len(shapes)}")
        for name, t, got in zip(self.input_names, self.inputs, shapes):
            if len(got) != len(t.shape) or any(w is not None and w != g for w, g in zip(t.shape[1:], got[1:])):
                raise ValueError(f"Input '{name}' of model '{self.name}' is incompatible: expected shape "
                                 f"{t.shape}, got {got}")

    def compute_output_shape(self, input_shape):
        return self.output_shape

    def _output_activation(self, k):
        step = self._output_steps[k]
        if step is None or self._output_consumed[k]:
            return None
        if self._steps[step].list_output:
            return None
        return _fusable_activation(self._steps[step].layer)

    def index_inputs(self):
        return self._index_inputs

    def _input_list(self, x, what):
        if isinstance(x, dict):
            missing = [n for n in self.input_names if n not in x]
            if missing:
                raise ValueError(f"{what}: model '{self.name}' has inputs {self.input_names}; missing {missing}")
            return [x[n] for n in self.input_names]
        x = list(x)
        if len(x) != len(self.inputs):
            raise ValueError(f"{what}: model '{self.name}' has {len(self.inputs)} input(s) {self.input_names}, "
                             f"got a list of {len(x)} arrays")
        return x

    def _output_list(self, y, what):
        """A multi-output model's targets as a list in output order (from a list or a dict by output name)."""
        if isinstance(y, dict):
            missing = [n for n in self.output_names if n not in y]
            if missing:
                raise ValueError(f"{what}: model '{self.name}' has outputs {self.output_names}; y lacks {missing}")
            return [y[n] for n in self.output_names]
        if not isinstance(y, (list, tuple)) or len(y) != len(self.outputs):
            raise ValueError(f"{what}: model '{self.name}' has {len(self.outputs)} outputs {self.output_names}; "
                             f"y must be a list of {len(self.outputs)} arrays or a dict by output name")
        return list(y)

    # ------------------------------------------------------------------ running
    def forward(self, x, training=False, logits=()):
        """Run every step. x: an array, or a list of arrays for several inputs. logits: the output indices
        whose last activation to skip (it is fused into the loss); True means output 0. Returns (outputs,
        ctx): an array, or a list for several outputs."""
        vals = [None] * self._num_slots
        if self.takes_list:
            vals[:len(x)] = x
        else:
            vals[0] = x
        logit_steps = self._steps_for_logits(logits) if logits else ()
        masks = [None] * self._num_slots if self._masking else None
        ctxs = []
        activity, regularized = 0.0, {}
        plain = self._plain_steps if masks is None else ()
        for i, step in enumerate(self._steps):
            layer = step.layer
            if i in plain and i not in logit_steps:    # one array in, one out, nothing else to do
                y, ctx = layer.forward(vals[step.inputs[0]], training)
                vals[step.outputs[0]] = y
                ctxs.append(ctx)
                if layer._call_style:                 # its add_loss() terms
                    activity += ctx["activity_loss"]
                continue
            xin = [vals[s] for s in step.inputs] if step.list_input else vals[step.inputs[0]]
            kwargs = dict(step.options)
            if step.states:
                kwargs["initial_state"] = [vals[s] for s in step.states]
            mask = None
            if masks is not None:
                if step.list_input:    # one mask per input (None where it has none), as Keras hands them over
                    mask = [masks[s] for s in step.inputs]
                    mask = mask if any(m is not None for m in mask) else None
                else:
                    mask = masks[step.inputs[0]]
                if mask is not None and layer.uses_mask:
                    kwargs["mask"] = mask
            if i in logit_steps:
                kwargs["logits"] = True
            y, ctx = layer.forward(xin, training if step.training is None else step.training, **kwargs)
            if step.list_output:
                for s, v in zip(step.outputs, y):
                    vals[s] = v
                ctxs.append((ctx, y))
            else:
                vals[step.outputs[0]] = y
                ctxs.append(ctx)
            if masks is not None and (mask is not None or layer.produces_mask):
                out_mask = layer.compute_mask(xin, mask, **step.options)
                if step.list_output and isinstance(out_mask, (list, tuple)):   # one per output, as in Keras
                    for s, m in zip(step.outputs, out_mask):
                        masks[s] = m
                else:
                    masks[step.outputs[0]] = out_mask
            if layer._call_style:
                activity += ctx["activity_loss"]
            if layer.activity_regularizer is not None:
                out = y[0] if step.list_output else y
                activity += layer.activity_regularizer(out)
                regularized[i] = out
        outs = [vals[s] for s in self._output_slots]
        ctx = {"steps": ctxs, "activity_loss": activity, "regularized_outputs": regularized}
        return (outs if len(outs) > 1 else outs[0]), ctx

    def _steps_for_logits(self, logits):
        key = (0,) if logits is True else tuple(logits)
        found = self._logit_steps.get(key)
        if found is None:
            found = self._logit_steps[key] = frozenset(self._output_steps[k] for k in key)
        return found

    def backward(self, ctx, dy):
        """Gradients w.r.t. the inputs (a list for several) from those w.r.t. the outputs (a list for several;
        None for an output that gets no gradient); weight gradients are added to the variables' .grad."""
        grads = self._backward(ctx, dy, True)
        return grads if self.takes_list else grads[0]

    def backward_weights(self, ctx, dy):
        self._backward(ctx, dy, False)

    def _backward(self, ctx, dy, input_gradients):
        modes = self._modes(input_gradients)
        grads = [None] * self._num_slots
        for s, g in zip(self._output_slots, dy if len(self._output_slots) > 1 else [dy]):
            if g is not None:
                grads[s] = g if grads[s] is None else grads[s] + g
        ctxs, regularized = ctx["steps"], ctx["regularized_outputs"]
        for i in range(len(self._steps) - 1, -1, -1):
            mode = modes[i]
            if not mode:
                continue
            step = self._steps[i]
            layer = step.layer
            if i in regularized and grads[step.outputs[0]] is not None:
                grads[step.outputs[0]] = grads[step.outputs[0]] + layer.activity_regularizer.gradient(regularized[i])
            if step.list_output:
                c, ys = ctxs[i]
                dys = [grads[s] for s in step.outputs]
                if all(g is None for g in dys):
                    continue
                if dys[0] is None:
                    dys[0] = np.zeros_like(ys[0])
                d_out = dys
            else:
                c = ctxs[i]
                d_out = grads[step.outputs[0]]
                if d_out is None:
                    continue
            if mode == 1:
                layer.backward_weights(c, d_out)
                continue
            dx = layer.backward(c, d_out)
            if step.states:
                dx, dstates = (dx[0], dx[1:]) if isinstance(dx, list) else (dx, [None] * len(step.states))
                pairs = list(zip(step.states, dstates))
            else:
                pairs = []
            pairs += list(zip(step.inputs, dx)) if step.list_input else [(step.inputs[0], dx)]
            for s, g in pairs:
                if g is not None:
                    grads[s] = g if grads[s] is None else grads[s] + g
        return [grads[s] for s in self._input_slots]

    def _modes(self, input_gradients):
        """Per step: 0 skip, 1 weight gradients only, 2 input gradients too. A tensor needs a gradient when a
        trained variable (or, for input_gradients, a model input) is upstream of it."""
        key = (variable.gradient_flags_version, input_gradients)
        modes = self._backward_modes.get(key)
        if modes is not None:
            return modes
        needs = [input_gradients] * len(self._input_slots) + [False] * (self._num_slots - len(self._input_slots))
        modes = []
        for step in self._steps:
            wants_weights = any(w.requires_grad for w in step.layer.weights)
            upstream = any(needs[s] for s in step.inputs + step.states)
            modes.append(2 if upstream else (1 if wants_weights else 0))
            for s in step.outputs:
                needs[s] = upstream or wants_weights
        self._backward_modes = {key: modes}
        return modes

    def _predict_batch(self, x):
        shape = [v.shape for v in x] if self.takes_list else x.shape
        if shape != self._checked_shape:      # the input checks, once per new shape
            self.build_for(shape)
            self._checked_shape = shape
        plan = self._plan
        if plan is None:
            plan = self._plan = self._inference_plan()
        if plan is False:
            return self.forward(x, training=False)[0]
        for run in plan:
            x = run(x)
        return x

    def _inference_plan(self):
        """A straight graph without masks runs each layer's inference function (Layer.inference) in turn;
        anything else (False) goes through forward."""
        chain = not self.takes_list and len(self.outputs) == 1 and not self._masking
        slot = 0
        for step in self._steps:
            if not chain:
                break
            chain = (not step.list_input and not step.list_output and not step.states and step.inputs == [slot]
                     and step.training is None and not step.options)
            slot = step.outputs[0]
        if not chain or slot != self._output_slots[0]:
            return False
        return [f for f in (step.layer.inference() for step in self._steps) if f is not None]

    def __getstate__(self):
        # The inference plan and the one-call training step hold closures and C++ state (not picklable);
        # they are rebuilt at the next predict and training step.
        state = self.__dict__.copy()
        state["_plan"] = None
        state["_chain_step"] = None
        return state

    # ------------------------------------------------------------------ config
    def get_config(self):
        """The graph in Keras 3's functional format (pynn.models.functional_config)."""
        from pynn.models import functional_config
        return functional_config.get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from pynn.models import functional_config
        return functional_config.from_config(cls, config, custom_objects)

    # ------------------------------------------------------------------ summary
    def summary(self, print_fn=print, line_length=None):
        """Print each layer with its output shape, parameter count and (for a graph) what feeds it."""
        graph = not getattr(self, "_straight", False)
        head = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if graph else ())
        rows = [head]
        if graph:
            nodes_of = {}
            for node in self._nodes:
                nodes_of.setdefault(id(node.layer), []).append(node)
            for layer in self._graph_layers:
                if isinstance(layer, InputLayer):
                    rows.append((f"{layer.name} ({type(layer).__name__})", str((None,) + layer.shape), "0", "-"))
                    continue
                nodes = nodes_of[id(layer)]
                shapes = [t.shape for t in nodes[0].outputs]
                feeds = ", ".join(f"{t._keras_history[0].name}[{t._keras_history[1]}][{t._keras_history[2]}]"
                                  for node in nodes for t in node.inputs)
                rows.append((f"{layer.name} ({type(layer).__name__})", str(shapes[0] if len(shapes) == 1 else shapes),
                             f"{layer.count_params():,}", feeds))
        else:
            for step in self._steps:
                shapes = [t.shape for t in step.node.outputs]
                rows.append((f"{step.layer.name} ({type(step.layer).__name__})",
                              str(shapes[0] if len(shapes) == 1 else shapes), f"{step.layer.count_params():,}"))
        _print_table(self.name, rows, self, print_fn)


_TAKES_LOGITS = {}     # layer class -> whether its forward takes logits= (call_support asks at every call)


def _fusable_activation(layer):
    """The layer's activation if its forward can stop before it (logits=True) for a fused loss, else None."""
    if not getattr(layer, "output_activation_fusable", True):
        return None
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    if "forward" in layer.__dict__:
        takes = "logits" in inspect.signature(layer.forward).parameters
    else:
        takes = _TAKES_LOGITS.get(type(layer))
        if takes is None:
            takes = _TAKES_LOGITS[type(layer)] = "logits" in inspect.signature(layer.forward).parameters
    return act if takes else None


def _print_table(name, rows, model, print_fn):
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(len(rows[0]))]
    line = "-" * sum(widths)
    total = model.count_params()
    trainable = sum(w.value.size for w in model.trainable_weights)
    out = [f'Model: "{name}"', line, "".join(c.ljust(w) for c, w in zip(rows[0], widths)), "=" * len(line)]
    out += ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
    out += ["=" * len(line), f"Total params: {total:,}", f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}", line]
    print_fn("\n".join(out))


def _flatten(structure, what):
    """(list of KerasTensors, dict keys or None) from one tensor, a list / tuple or a dict."""
    if isinstance(structure, dict):
        keys, items = list(structure), list(structure.values())
    elif isinstance(structure, (list, tuple)):
        keys, items = None, list(structure)
    else:
        keys, items = None, [structure]
    if not items:
        raise ValueError(f"Model: {what} is empty")
    for t in items:
        if not isinstance(t, KerasTensor):
            raise ValueError(f"Model: {what} must be symbolic tensors (from pynn.Input and layer calls), got "
                             f"{type(t).__name__}")
    return items, keys


def _topological_nodes(inputs, outputs, model_name):
    """The nodes between inputs and outputs, each after the nodes it reads from; a tensor that does not come
    from the inputs is an error naming it."""
    input_ids = {id(t) for t in inputs}
    done, order = set(), []
    stack = [(t, False) for t in reversed(outputs) if id(t) not in input_ids]
    while stack:
        t, expanded = stack.pop()
        node = t.node
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        if isinstance(node.layer, InputLayer):
            raise ValueError(f"Model '{model_name}': the graph is disconnected: it reads Input "
                             f"'{node.layer.name}', which is not among the model's inputs "
                             f"{[i._keras_history[0].name for i in inputs]}")
        stack.append((t, True))
        for parent in reversed(node.inputs):
            if id(parent) not in input_ids and id(parent.node) not in done:
                stack.append((parent, False))
    return order


def _read_only_by_index_layers(slot, steps):
    """Whether the graph reads this slot only through layers that take indices (Embedding)."""
    readers = [step.layer for step in steps if slot in step.inputs]
    return bool(readers) and all(getattr(layer, "takes_indices", False) for layer in readers)
