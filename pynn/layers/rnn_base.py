"""RNNBase: what SimpleRNN, LSTM and GRU share (arguments, weights, states, masking, dropout).

The whole sequence runs in one kernel call each way (pynn.kernels.rnn_forward / rnn_backward); this file
only prepares the arrays. The subclasses say which cell they are and how their bias starts.
"""
import numpy as np

from pynn import activations, kernels, random_state
from pynn.layers.node import is_symbolic, symbolic_call
from pynn.layers.layer import Layer, serialize_argument as _serialize, _has_tensor, _recording
from pynn.layers.quantization import Int8Quantizable


class RNNBase(Int8Quantizable, Layer):
    """A recurrent layer over inputs (batch, timesteps, features), in Keras's API (see LSTM for the arguments).

    Call arguments (layer(x, ...) and forward): `mask` (batch, timesteps) booleans, False skipping a step
    (the states carry over; the output repeats the previous one, zero before any valid step);
    `initial_state`: a list of (batch, units) arrays (LSTM: [h, c]); `training` enables dropout.
    With return_state the call returns [output, *final_states] and backward takes a list of gradients.

    `quantize("int8")` (usually through `model.quantize("int8")`) quantizes the input kernel (one scale per
    gate unit: weights kernel int8, recurrent_kernel, bias, kernel_scale; pynn.layers.quantization): x @ W for
    every step is one int8 product, its rows (one per sample and step) quantized per row, or with the
    calibrated inputs_scale in static mode. The recurrent kernel stays float32 (Keras quantizes no recurrent
    layer; h_{t-1} @ U runs step by step inside the C++ recurrence, where a per-step quantization would cost
    more than it saves). The recurrence takes the projected input with an identity kernel (exact, but one more
    float product of gates * units per row than the float layer's input product). Inference only.
    """

    cell = None            # "simple", "lstm" or "gru"
    gates = 1
    uses_mask = True
    variable_axes = (1,)  # any number of timesteps
    output_activation_fusable = False  # the activation is inside the recurrence: never fused into a loss

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False, use_cudnn="auto",
                 implementation=2, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        kind = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{kind} '{self.name}': units must be a positive integer, got {units!r}")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= float(rate) < 1:
                raise ValueError(f"{kind} '{self.name}': {arg} must be in [0, 1), got {rate!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        for act in (self.activation, self.recurrent_activation):
            if not act.elementwise:
                raise ValueError(f"{kind} '{self.name}': the recurrent kernels take the activations they compute "
                                 f"elementwise in C++ ({', '.join(sorted(k for k in kernels.ACTIVATIONS))}); "
                                 f"got {act.get_config()!r}")
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint, self.recurrent_constraint = kernel_constraint, recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout, self.recurrent_dropout, self.seed = float(dropout), float(recurrent_dropout), seed
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states = None
        self._draws = 0
        self._workspaces = []  # forward workspaces that a training backward gave back, for reuse
        self.kernel = self.recurrent_kernel = self.bias = None

    # ------------------------------------------------------------------ building
    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}': expected an input of shape (batch, timesteps, "
                             f"features) with known features, got {tuple(input_shape)}")
        gu = self.gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], gu), self.kernel_initializer,
                                      self.kernel_regularizer, self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, gu), self.recurrent_initializer,
                                                self.recurrent_regularizer, self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_initializer(),
                                        self.bias_regularizer, self.bias_constraint)
        self._quantized_build()

    def compute_output_shape(self, input_shape):
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self._num_states()
        return out

    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def _num_states(self):
        return 2 if self.cell == "lstm" else 1

    # ------------------------------------------------------------------ states
    def reset_states(self, states=None):
        """Zero the states of a stateful layer (or set them to `states`, a list of (batch, units) arrays)."""
        if not self.stateful:
            raise AttributeError(f"Layer '{self.name}' must be stateful to reset its states")
        if states is None:
            if self.states is not None:
                for s in self.states:
                    s.fill(0)
            return
        states = [states] if isinstance(states, np.ndarray) else list(states)
        if len(states) != self._num_states():
            raise ValueError(f"Layer '{self.name}': expected {self._num_states()} state arrays, got {len(states)}")
        self.states = [np.array(s, dtype=self.dtype, order="C") for s in states]

    reset_state = reset_states

    def check_initial_state_shapes(self, shapes):
        if len(shapes) != self._num_states():
            raise ValueError(f"Layer '{self.name}': expected {self._num_states()} initial state tensors, got "
                             f"{len(shapes)}")
        for s in shapes:
            if tuple(s[1:]) != (self.units,):
                raise ValueError(f"Layer '{self.name}': expected initial states of shape (None, {self.units}), got "
                                 f"{tuple(s)}")

    # ------------------------------------------------------------------ computing
    def _check_input(self, x, mask, initial_state):
        name = f"Layer '{self.name}'"
        if x.ndim != 3:
            raise ValueError(f"{name} expects an input of shape (batch, timesteps, features), got shape {x.shape}")
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{name}: expected {self.kernel.shape[0]} features (the shape it was built for: "
                             f"{self.input_shape}), got input of shape {x.shape}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name}: expected at least one sample and one timestep, got input of shape {x.shape}")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != x.shape[:2]:
                raise ValueError(f"{name}: expected a mask of shape {x.shape[:2]} (batch, timesteps), got "
                                 f"{mask.shape}")
        if initial_state is not None:
            states = [initial_state] if isinstance(initial_state, np.ndarray) else list(initial_state)
            if len(states) != self._num_states():
                raise ValueError(f"{name}: expected {self._num_states()} initial state arrays, got {len(states)}")
            for s in states:
                if np.shape(s) != (x.shape[0], self.units):
                    raise ValueError(f"{name}: expected initial states of shape {(x.shape[0], self.units)}, got "
                                     f"{np.shape(s)}")
            return mask, [np.ascontiguousarray(s, dtype=self.dtype) for s in states]
        if self.stateful:
            if self.states is not None and self.states[0].shape[0] != x.shape[0]:
                raise ValueError(f"{name} is stateful with batch size {self.states[0].shape[0]}, got input of "
                                 f"shape {x.shape}")
            if self.states is None:
                self.states = [np.zeros((x.shape[0], self.units), self.dtype) for _ in range(self._num_states())]
            return mask, self.states
        return mask, None

    def _dropout_mask(self, shape, rate):
        """The inverted-dropout multiplier (0 or 1 / (1 - rate)) for one call, shared by every step."""
        if self.seed is None:
            seed, offset = random_state.next_seed(), 0
        else:
            seed, offset = int(self.seed), self._draws
            self._draws += int(np.prod(shape))
        return kernels.dropout(np.ones(shape, self.dtype), rate, seed, offset)[0]

    def _reset_after(self):
        return True

    def _input_and_kernel(self, x):
        """(input, kernel) for the recurrence: x and the kernel, or for a quantized layer x @ W (one int8
        product over every step) and the identity, which the recurrence's input product then leaves exact."""
        if self.quantization_mode is None:
            return x, self.kernel.value
        batch, steps, features = x.shape
        xw = self._int8_product(x.reshape(-1, features), "kernel").reshape(batch, steps, -1)
        eye = getattr(self, "_identity", None)
        if eye is None or eye.shape[0] != xw.shape[-1]:
            eye = self._identity = np.eye(xw.shape[-1], dtype=np.float32)
        return xw, eye

    def forward(self, x, training=False, mask=None, initial_state=None):
        if training and self.quantization_mode is not None:
            self._refuse_training()
        mask, states = self._check_input(x, mask, initial_state)
        batch = x.shape[0]
        input_mask = self._dropout_mask((batch, x.shape[2]), self.dropout) if training and self.dropout else None
        rec_mask = (self._dropout_mask((batch, self.units), self.recurrent_dropout)
                    if training and self.recurrent_dropout else None)
        xin = x * input_mask[:, None, :] if input_mask is not None else x
        xin, kernel = self._input_and_kernel(xin)
        # Training writes into the previous step's arrays when nothing holds them any more (Layer._reused_array);
        # the final states are computed only when something reads them.
        keep_states = self.return_state or (self.stateful and initial_state is None)
        out = h_out = c_out = None
        if training:
            state_shape = (batch, self.units)
            out = self._reused_array("y", (batch, x.shape[1], self.units) if self.return_sequences else state_shape,
                                     xin.dtype)
            if keep_states:
                h_out = self._reused_array("h", state_shape, xin.dtype)
                c_out = self._reused_array("c", state_shape, xin.dtype) if self.cell == "lstm" else None
        y, h, c, saved = kernels.rnn_forward(
            self.cell, xin, kernel, self.recurrent_kernel.value,
            self.bias.value if self.use_bias else None,
            states[0] if states else None, states[1] if states and self.cell == "lstm" else None,
            mask, rec_mask, activation=_spec(self.activation), recurrent_activation=_spec(self.recurrent_activation),
            reset_after=self._reset_after(), go_backwards=self.go_backwards,
            return_sequences=self.return_sequences, zero_output_for_mask=self.zero_output_for_mask,
            workspaces=self._workspaces if training else None, out=out, h_out=h_out, c_out=c_out,
            final_states=keep_states)
        final = [h, c] if self.cell == "lstm" else [h]
        if self.stateful and initial_state is None:
            self.states = [s.copy() for s in final]
        ctx = (saved, input_mask, initial_state is not None)
        if self.return_state:
            return [y] + final, ctx
        return y, ctx

    def inference(self):
        """predict() and model(x): the kernel's forward alone, which keeps one step of gates and states
        instead of every step's (W4's LSTM(256) at batch 256: 12 MB of workspace, not 100 MB), in a pool of
        this plan's own. A stateful layer (its states change) or one that returns states takes forward()."""
        if self.stateful or self.return_state:
            return super().inference()
        pool = []

        def run(x):
            self._check_input(x, None, None)
            xin, kernel = self._input_and_kernel(x)
            return kernels.rnn_forward(
                self.cell, xin, kernel, self.recurrent_kernel.value,
                self.bias.value if self.use_bias else None, activation=_spec(self.activation),
                recurrent_activation=_spec(self.recurrent_activation), reset_after=self._reset_after(),
                go_backwards=self.go_backwards, return_sequences=self.return_sequences,
                zero_output_for_mask=self.zero_output_for_mask, workspaces=pool, save=False)[0]
        return run

    def _backward(self, ctx, dy, need_dx):
        if self.quantization_mode is not None:
            self._refuse_training()
        saved, input_mask, has_initial_state = ctx
        if saved.workspace is None:  # the kernel wrote the first backward's gradients over the saved gates
            raise ValueError(f"{self.name}: this forward call was already taken backward; call forward again "
                             "(one backward per forward call)")
        dfinal = [None, None]
        if self.return_state:
            dy, dfinal = dy[0], list(dy[1:]) + [None]
        as_array = (lambda a: None if a is None else np.ascontiguousarray(a, dtype=self.dtype))
        train = self.kernel.requires_grad
        dx, dh0, dc0 = kernels.rnn_backward(
            saved, as_array(dy), as_array(dfinal[0]), as_array(dfinal[1]), need_dx=need_dx,
            need_initial_state_grads=has_initial_state,
            dkernel=self.kernel.grad if train else None,
            drecurrent_kernel=self.recurrent_kernel.grad if train else None,
            dbias=self.bias.grad if train and self.use_bias else None, release=saved.pool is not None,
            dx_out=self._reused_array("dx", saved.x_shape, saved.workspace.dtype) if need_dx else None)
        if dx is not None and input_mask is not None:
            dx *= input_mask[:, None, :]
        if has_initial_state:
            return [dx, dh0] + ([dc0] if self.cell == "lstm" else [])
        return dx

    def backward(self, ctx, dy):
        return self._backward(ctx, dy, True)

    def backward_weights(self, ctx, dy):
        self._backward(ctx, dy, False)

    def __call__(self, x, training=None, mask=None, initial_state=None, **kwargs):
        if is_symbolic(x):
            return symbolic_call(self, x, training=training, initial_state=initial_state, **kwargs)
        if _has_tensor(x) or _recording():      # inside call() or a GradientTape: one graph node
            from pynn.layers import call_support
            return call_support.record_builtin(self, x, training, mask=mask, initial_state=initial_state)
        training = bool(training)
        x = np.ascontiguousarray(x, dtype=self.dtype)
        self.build_for(x.shape)
        return self.forward(x, training, mask=mask, initial_state=initial_state)[0]

    # ------------------------------------------------------------------ config
    def get_rng_state(self):
        """Where the seeded dropout stream stands (saved with the model so that training resumes exactly)."""
        return {"draws": self._draws}

    def set_rng_state(self, state):
        self._draws = int(state["draws"])

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation.get_config(),
                "recurrent_activation": self.recurrent_activation.get_config(), "use_bias": self.use_bias,
                "kernel_initializer": _serialize(self.kernel_initializer),
                "recurrent_initializer": _serialize(self.recurrent_initializer),
                "bias_initializer": _serialize(self.bias_initializer),
                "kernel_regularizer": _serialize(self.kernel_regularizer),
                "recurrent_regularizer": _serialize(self.recurrent_regularizer),
                "bias_regularizer": _serialize(self.bias_regularizer),
                "kernel_constraint": _serialize(self.kernel_constraint),
                "recurrent_constraint": _serialize(self.recurrent_constraint),
                "bias_constraint": _serialize(self.bias_constraint),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}


def _spec(act):
    """An ActivationFn as the kernels take it: a name, or (name, parameters)."""
    return (act.name, dict(act.params)) if act.params else act.name
