"""Recurrent layers over whole sequences on the C++ kernels (csrc/recurrent/): SimpleRNN, LSTM, GRU.

One call runs the whole sequence forward (`rnn_forward`) or backward through time (`rnn_backward`), with
Keras's weight layouts and gate orders: LSTM i, f, c, o; GRU z, r, h (bias (2, 3u) with reset_after).

Example:
    >>> y, h, c, saved = rnn_forward("lstm", x, kernel, recurrent_kernel, bias)
    >>> dx, dh0, dc0 = rnn_backward(saved, dy, dkernel=gk, drecurrent_kernel=grk, dbias=gb)
"""
import threading

import numpy as np

from pynn import _C

CELLS = ("simple", "lstm", "gru")


class RnnSaved:
    """What rnn_backward needs from the forward call: its arrays, options and workspace."""

    __slots__ = ("cell", "x_shape", "kernel", "recurrent_kernel", "use_bias", "mask", "recurrent_mask",
                 "workspace", "options", "pool")

    def __init__(self, cell, x_shape, kernel, recurrent_kernel, use_bias, mask, recurrent_mask, workspace,
                 options, pool=None):
        self.cell, self.x_shape, self.kernel, self.recurrent_kernel = cell, x_shape, kernel, recurrent_kernel
        self.use_bias, self.mask, self.recurrent_mask = use_bias, mask, recurrent_mask
        self.workspace, self.options, self.pool = workspace, options, pool


_scratch = threading.local()


def _take(pool, size, dtype):
    """A free array of `size` elements of dtype from pool (removed from it), or a new one."""
    if pool:
        for i, a in enumerate(pool):
            if a.size == size and a.dtype == dtype:
                return pool.pop(i)
    return np.empty(size, dtype)


def _scratch_array(size, dtype):
    """This thread's backward scratch, reused from call to call (it holds nothing between calls)."""
    cache = getattr(_scratch, "arrays", None)
    if cache is None:
        cache = _scratch.arrays = {}
    a = cache.get(dtype)
    if a is None or a.size < size:
        a = cache[dtype] = np.empty(size, dtype)
    return a[:size]


def _as_mask(mask):
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ and mask.dtype != np.uint8:
        mask = mask != 0
    return np.ascontiguousarray(mask)


def rnn_forward(cell, x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, recurrent_mask=None,
                *, activation="tanh", recurrent_activation="sigmoid", reset_after=True, go_backwards=False,
                return_sequences=False, zero_output_for_mask=False, workspaces=None, save=True, out=None,
                h_out=None, c_out=None, final_states=True):
    """Run `cell` ("simple", "lstm", "gru") over x (batch, steps, features).

    Returns (y, h_final, c_final, saved): y is (batch, steps, units) with return_sequences, else
    (batch, units); c_final is None unless LSTM; saved is what rnn_backward takes. activation /
    recurrent_activation: a name or (name, dict of parameters). mask (batch, steps): False skips a step
    (the state carries over). recurrent_mask (batch, units): recurrent dropout's multiplier of h_{t-1}.
    save=False: a forward alone (inference): the kernel keeps one step's gates and states instead of all
    of them (W4's shapes at batch 256: 7 MB of workspace, not 100 MB), and saved is None.
    out / h_out / c_out: C-contiguous arrays of x's dtype and y's / the states' shapes to write y / h_final /
    c_final into (and return) instead of new ones; none may overlap an input. final_states=False: the
    final states are not written (h_final and c_final are None), for a caller that does not read them.
    """
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {CELLS}, got {cell!r}")
    if not isinstance(x, np.ndarray) or x.ndim != 3:
        raise ValueError(f"x: expected a 3-D array (batch, steps, features), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if not isinstance(recurrent_kernel, np.ndarray) or recurrent_kernel.ndim != 2:
        raise ValueError("recurrent_kernel: expected a 2-D array (units, gates * units)")
    batch, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    mask = _as_mask(mask)
    fwd, _ = _C.rnn_workspace_sizes(cell, x.shape, units, reset_after, recurrent_mask is not None, activation,
                                    recurrent_activation, save)
    y = np.empty((batch, steps, units) if return_sequences else (batch, units), x.dtype) if out is None else out
    h_final = c_final = None
    if final_states:
        h_final = np.empty((batch, units), x.dtype) if h_out is None else h_out
        if cell == "lstm":
            c_final = np.empty((batch, units), x.dtype) if c_out is None else c_out
    workspace = _take(workspaces, fwd, x.dtype)
    options = dict(activation=activation, recurrent_activation=recurrent_activation, reset_after=reset_after,
                   go_backwards=go_backwards, return_sequences=return_sequences,
                   zero_output_for_mask=zero_output_for_mask)
    _C.rnn_forward(cell, x, kernel, recurrent_kernel, bias, h0, c0, mask, recurrent_mask, y, h_final, c_final,
                   workspace, save=save, **options)
    if not save:
        if workspaces is not None:
            workspaces.append(workspace)
        return y, h_final, c_final, None
    saved = RnnSaved(cell, x.shape, kernel, recurrent_kernel, bias is not None, mask, recurrent_mask, workspace,
                     options, workspaces)
    return y, h_final, c_final, saved


def rnn_backward(saved, dy, dh_final=None, dc_final=None, *, need_dx=True, need_initial_state_grads=False,
                 dkernel=None, drecurrent_kernel=None, dbias=None, release=False, dx_out=None):
    """Backward through time of an rnn_forward call.

    dy: the gradient of y (None: zero); dh_final / dc_final: of the final states. Weight gradients are
    ADDED into dkernel / drecurrent_kernel / dbias where given. Returns (dx, dh0, dc0): dx is None unless
    need_dx; dh0 / dc0 are None unless need_initial_state_grads (dc0 also None unless LSTM). The kernel
    overwrites the saved gates with their gradients, so saved serves one call; release: give its workspace
    back to the pool of the forward call. dx_out: a C-contiguous array of x's shape and dtype to write dx into
    (and return) instead of a new one, when need_dx.
    """
    s = saved
    if s.workspace is None:
        raise ValueError("rnn_backward: this forward call was already taken backward (one backward call per "
                         "forward call)")
    batch, steps, features = s.x_shape
    units = s.recurrent_kernel.shape[0]
    dtype = s.workspace.dtype
    o = s.options
    _, bwd = _C.rnn_workspace_sizes(s.cell, s.x_shape, units, o["reset_after"], s.recurrent_mask is not None,
                                    o["activation"], o["recurrent_activation"])
    dx = (np.empty(s.x_shape, dtype) if dx_out is None else dx_out) if need_dx else None
    dh0 = np.empty((batch, units), dtype) if need_initial_state_grads else None
    dc0 = np.empty((batch, units), dtype) if need_initial_state_grads and s.cell == "lstm" else None
    scratch = _scratch_array(bwd, dtype)
    _C.rnn_backward(s.cell, s.x_shape, s.kernel, s.recurrent_kernel, s.use_bias, s.mask, s.recurrent_mask,
                    s.workspace, dy, dh_final, dc_final if s.cell == "lstm" else None, dx, dh0, dc0, dkernel,
                    drecurrent_kernel, dbias, scratch, **o)
    if release and s.pool is not None:  # the workspace goes back to its layer's pool for the next forward
        s.pool.append(s.workspace)
    s.workspace = None
    return dx, dh0, dc0
