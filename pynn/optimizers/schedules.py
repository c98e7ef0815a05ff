"""Learning-rate schedules: a learning rate as a function of the optimizer's step (Keras 3's formulas).

Every constructor checks its arguments (ValueError naming the class and the argument), so that a schedule
that would divide by zero or take a power of a negative number fails when it is made, not at some later step.
"""
import math
import numbers


def _number(owner, name, value, low=None, strict=False):
    """value, checked to be a real number (not a bool), > low when strict, >= low otherwise (low None: any)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{owner}: Argument `{name}` must be a number. Received: {name}={value!r}")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{owner}: Argument `{name}` must be {'>' if strict else '>='} {low}. "
                         f"Received: {name}={value!r}")
    return value


class LearningRateSchedule:
    """A learning rate as a function of the step: `schedule(step) -> float`, `step` = optimizer.iterations.

    Subclasses implement `__call__(step)` and `get_config()`; `from_config(config)` rebuilds one.

    Example:
        class Halving(LearningRateSchedule):
            def __init__(self, initial_learning_rate, every):
                self.initial_learning_rate, self.every = initial_learning_rate, every
            def __call__(self, step):
                return self.initial_learning_rate * 0.5 ** (step // self.every)
            def get_config(self):
                return {"initial_learning_rate": self.initial_learning_rate, "every": self.every}
    """

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ^ (step / decay_steps) (the exponent floored when staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        _number("ExponentialDecay", "initial_learning_rate", initial_learning_rate)
        _number("ExponentialDecay", "decay_steps", decay_steps, 0, strict=True)
        _number("ExponentialDecay", "decay_rate", decay_rate, 0)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
    values[-1] after boundaries[-1]."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        try:
            boundaries, values = list(boundaries), list(values)
        except TypeError:
            raise ValueError(f"PiecewiseConstantDecay: Arguments `boundaries` and `values` must be lists of "
                             f"numbers. Received: boundaries={boundaries!r}, values={values!r}") from None
        if len(boundaries) != len(values) - 1:
            raise ValueError("PiecewiseConstantDecay: The length of boundaries should be 1 less than the length of "
                             f"values. Received: boundaries={boundaries} of length {len(boundaries)}, and "
                             f"values={values} of length {len(values)}.")
        for i, b in enumerate(boundaries):
            _number("PiecewiseConstantDecay", f"boundaries[{i}]", b)
        for i, v in enumerate(values):
            _number("PiecewiseConstantDecay", f"values[{i}]", v)
        if any(a > b for a, b in zip(boundaries, boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: Argument `boundaries` must be sorted in increasing order. "
                             f"Received: boundaries={boundaries}")
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name

    def __call__(self, step):
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - step / decay_steps) ^ power + end, with step capped at decay_steps; with
    cycle, decay_steps is instead stretched to the first multiple of itself >= step."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _number("PolynomialDecay", "initial_learning_rate", initial_learning_rate)
        _number("PolynomialDecay", "decay_steps", decay_steps, 0, strict=True)
        _number("PolynomialDecay", "end_learning_rate", end_learning_rate)
        _number("PolynomialDecay", "power", power, 0)  # (1 - 1) ** power at the last step
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step = float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            multiplier = 1.0 if step == 0 else math.ceil(step / self.decay_steps)
            decay_steps *= multiplier
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power \
            + self.end_learning_rate

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps) (step / decay_steps floored when
    staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        _number("InverseTimeDecay", "initial_learning_rate", initial_learning_rate)
        _number("InverseTimeDecay", "decay_steps", decay_steps, 0, strict=True)
        _number("InverseTimeDecay", "decay_rate", decay_rate, 0)  # 1 + decay_rate * p must stay >= 1
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = float(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Optional linear warmup from initial_learning_rate to warmup_target over warmup_steps, then cosine decay
    over decay_steps: lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha), s capped at
    decay_steps, lr0 = warmup_target if given, else initial_learning_rate."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _number("CosineDecay", "initial_learning_rate", initial_learning_rate)
        _number("CosineDecay", "decay_steps", decay_steps, 0, strict=True)
        _number("CosineDecay", "alpha", alpha)
        if warmup_target is not None:
            _number("CosineDecay", "warmup_target", warmup_target)
        _number("CosineDecay", "warmup_steps", warmup_steps, 0)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_from_lr):
        cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from_lr * ((1 - self.alpha) * cosine_decayed + self.alpha)

    def __call__(self, step):
        step = float(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            completed_fraction = step / self.warmup_steps
            return (self.warmup_target - self.initial_learning_rate) * completed_fraction \
                + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                            InverseTimeDecay, CosineDecay)}


def serialize(schedule):
    """{"class_name": ..., "config": ...} for a schedule."""
    from pynn.saving.object_registration import get_registered_name
    return {"class_name": get_registered_name(type(schedule)), "config": schedule.get_config()}


def deserialize(config):
    """The schedule that `serialize` described."""
    cls = _SCHEDULES.get(config.get("class_name"))
    if cls is None and isinstance(config.get("class_name"), str):
        from pynn.saving.object_registration import get_registered_object
        custom = get_registered_object(config["class_name"])
        if isinstance(custom, type) and issubclass(custom, LearningRateSchedule):
            cls = custom
    if cls is None:
        raise ValueError(f"Unknown learning-rate schedule {config.get('class_name')!r}; "
                         f"expected one of {sorted(_SCHEDULES)}")
    return cls.from_config(config["config"])
