"""Training steps that are atomic with respect to Ctrl-C.

A step changes several things one after another: the layers' random streams and BatchNormalization's moving
statistics (forward), the weights and optimizer slots (the C++ update), the optimizer's step counter and the
constraints. A KeyboardInterrupt raised between two of them would leave a model whose parts disagree (a
counter one behind its weights, moving statistics of a batch that was never learned from), and which then
saves and resumes wrongly.

`StepGuard` holds SIGINT while a step runs and raises the KeyboardInterrupt as the step ends, so a step
happens whole or not at all; between steps (callbacks, the progress bar, validation) Ctrl-C acts at once as
usual. It only works where Python lets it handle signals (the main thread, with a Python-level SIGINT
handler, the default); elsewhere it does nothing.

    guard = StepGuard()
    with guard.installed():
        for batch in batches:
            with guard:
                model._train_batch(...)
"""
import contextlib
import signal
import threading


class StepGuard:
    def __init__(self):
        self._in_step = False
        self._pending = None      # the previous handler to call once the step ends, when SIGINT came in it
        self._previous = None

    @contextlib.contextmanager
    def installed(self):
        """Hold SIGINT across the steps run inside this block (nothing when signals can't be handled here)."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if callable(current) and getattr(current, "__self__", None) is not self:
                previous = current
        if previous is None:
            yield self
            return
        self._previous = previous
        try:   # a SIGINT right after the swap runs _handle, which raises: inside the try, so it is undone
            signal.signal(signal.SIGINT, self._handle)
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
            self._previous = None

    def _handle(self, signum, frame):
        if self._in_step:
            self._pending = (signum, frame)
        else:
            self._previous(signum, frame)

    def __enter__(self):
        self._in_step = True
        return self

    def __exit__(self, exc_type, exc, tb):
        self._in_step = False
        pending, self._pending = self._pending, None
        if pending is not None and exc_type is None:
            self._previous(*pending)   # the default handler raises KeyboardInterrupt here, after the step
        return False
