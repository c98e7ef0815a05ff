"""The progress bar fit / evaluate / predict show with verbose=1 (Keras's format)."""
import sys
import time


class Progbar:
    """`1875/1875 [==============================] 2s 1ms/step - accuracy: 0.9141 - loss: 0.2938`.

    On a terminal the line is redrawn in place (at most every 50 ms, and with the time left while it
    runs); in a log file (not a tty) only the finished line of each epoch is written, so logs stay short.
    """

    def __init__(self, target, width=30, stream=None, interval=0.05):
        self.target = target
        self.width = width
        self.stream = stream or sys.stdout
        self.interval = interval
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def update(self, current, values, finalize=False):
        now = time.perf_counter()
        if not finalize and (not self.interactive or now - self._last_draw < self.interval):
            return
        self._last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        if self.target:
            done = int(self.width * current / self.target)
            bar = "=" * max(done - 1, 0) + (">" if done < self.width else "=") + "." * (self.width - done)
            head = f"{current}/{self.target} [{bar}]"
        else:
            head = f"{current}"
        if finalize:
            timing = f"{_fmt_time(elapsed)} {_fmt_step(per_step)}"
        else:
            timing = f"ETA: {_fmt_time(per_step * (self.target - current))}" if self.target else ""
        metrics = "".join(f" - {k}: {format_value(v)}" for k, v in values)
        line = f"{head} {timing}{metrics}"
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if finalize else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _fmt_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def _fmt_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def log_value(result):
    """A metric's result as logs hold it: a float, or an array for a metric with one value per class
    (F1Score(average=None), as in Keras)."""
    import numpy as np
    return float(result) if np.ndim(result) == 0 else np.asarray(result, dtype=np.float64)


def format_value(value):
    """A log value as the progress bar prints it: 0.1234, or [0.1234 0.5678] for an array."""
    import numpy as np
    if np.ndim(value) == 0:
        return f"{value:.4f}"
    return np.array2string(np.asarray(value), precision=4, floatmode="fixed", separator=" ")

