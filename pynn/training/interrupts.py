"""Training steps that are atomic with respect to Ctrl-C.

A step changes several things one after another: the layers' random streams and BatchNormalization's moving
statistics (forward), the weights and optimizer slots (the C++ update), the optimizer's step counter and the
constraints. A KeyboardInterrupt raised between two of them would leave a model whose parts disagree (a
counter one behind its weights, moving statistics of a batch that was never learned from), and which then
saves and resumes wrongly.

While a StepGuard is entered, SIGINT that arrives during a step is held and raised as the step ends, so a
step happens whole or not at all; between steps (callbacks, the progress bar, validation) Ctrl-C acts at
once as usual. It only works where Python lets it handle signals (the main thread, with a Python-level SIGINT
handler, the default); elsewhere it does nothing.

    with StepGuard() as guard:
        for batch in batches:
            with guard.step:
                model._train_batch(...)

Whenever the guard lets a KeyboardInterrupt through, it puts the previous handler back first: the exception
may then leave through any frame (even the guard's own exit) and the process is never left with pynn's
handler installed.
"""
import signal
import threading


class StepGuard:
    def __init__(self):
        self._previous = None     # the handler to restore and to call; None when not installed
        self._in_step = False
        self._pending = None      # (signum, frame) of a SIGINT that came during the step
        self.step = _Step(self)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if callable(current):
                self._previous = current
                signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, exc_type, exc, tb):
        self._restore()
        return False

    def _restore(self):
        previous, self._previous = self._previous, None
        if previous is not None and signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, previous)
        return previous

    def _handle(self, signum, frame):
        if self._in_step:
            self._pending = (signum, frame)
            return
        previous = self._restore()
        if previous is not None:
            previous(signum, frame)


class _Step:
    """One step under the guard: SIGINT is held until it ends."""

    def __init__(self, guard):
        self.guard = guard

    def __enter__(self):
        self.guard._in_step = True

    def __exit__(self, exc_type, exc, tb):
        guard = self.guard
        guard._in_step = False
        pending, guard._pending = guard._pending, None
        if pending is not None and exc_type is None:
            guard._handle(*pending)     # the default handler raises KeyboardInterrupt here, after the step
        return False
