"""Step-by-step NumPy references of the recurrent cells (Keras's formulas and masking rules)."""
import numpy as np


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACT = {"tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda v: np.maximum(v, 0), "linear": lambda v: v,
       "hard_sigmoid": lambda v: np.clip(v + 3.0, 0.0, 6.0) / 6.0}


def rnn_reference(cell, x, kernel, recurrent_kernel, bias=None, h0=None, c0=None, mask=None, recurrent_mask=None,
                  activation="tanh", recurrent_activation="sigmoid", reset_after=True, go_backwards=False,
                  return_sequences=False, zero_output_for_mask=False):
    """Returns (y, h_final, c_final) computed one step at a time, as Keras's backend rnn does."""
    f, g = ACT[activation], ACT[recurrent_activation]
    batch, steps, _ = x.shape
    u = recurrent_kernel.shape[0]
    h = np.zeros((batch, u), x.dtype) if h0 is None else h0.copy()
    c = np.zeros((batch, u), x.dtype) if c0 is None else c0.copy()
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    rb = None
    if bias is not None and cell == "gru" and reset_after:
        bias, rb = bias[0], bias[1]
    outputs, prev_out = [], np.zeros((batch, u), x.dtype)
    for t in order:
        xp = x[:, t] @ kernel + (bias if bias is not None else 0)
        hin = h * recurrent_mask if recurrent_mask is not None else h
        if cell == "simple":
            h_new, c_new = f(xp + hin @ recurrent_kernel), c
        elif cell == "lstm":
            z = xp + hin @ recurrent_kernel
            i, fg, cc, o = g(z[:, :u]), g(z[:, u:2 * u]), f(z[:, 2 * u:3 * u]), g(z[:, 3 * u:])
            c_new = fg * c + i * cc
            h_new = o * f(c_new)
        else:
            if reset_after:
                rec = hin @ recurrent_kernel + (rb if rb is not None else 0)
                zg, r = g(xp[:, :u] + rec[:, :u]), g(xp[:, u:2 * u] + rec[:, u:2 * u])
                hh = f(xp[:, 2 * u:] + r * rec[:, 2 * u:])
            else:
                rec = hin @ recurrent_kernel[:, :2 * u]
                zg, r = g(xp[:, :u] + rec[:, :u]), g(xp[:, u:2 * u] + rec[:, u:])
                hh = f(xp[:, 2 * u:] + (r * hin) @ recurrent_kernel[:, 2 * u:])
            h_new, c_new = zg * h + (1 - zg) * hh, c
        if mask is not None:
            m = mask[:, t].astype(bool)[:, None]
            out = np.where(m, h_new, 0 if zero_output_for_mask else prev_out)
            h, c = np.where(m, h_new, h), np.where(m, c_new, c)
        else:
            out, h, c = h_new, h_new, c_new
        prev_out = out
        outputs.append(out)
    y = np.stack(outputs, axis=1) if return_sequences else outputs[-1]
    return y, h, (c if cell == "lstm" else None)


def gates(cell):
    return {"simple": 1, "lstm": 4, "gru": 3}[cell]
