"""Pruning schedules: at a training step, whether to recompute the masks and the sparsity to reach.

The names, arguments and formulas are the TensorFlow Model Optimization toolkit's (tfmot.sparsity.keras):
masks are recomputed at steps begin_step, begin_step + frequency, ... up to end_step (-1: no end).
"""
from pynn.saving.object_registration import register_keras_serializable

__all__ = ["PruningSchedule", "ConstantSparsity", "PolynomialDecay", "serialize", "deserialize"]


def _check_sparsity(name, value, owner):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def _check_step(name, value, owner, low):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")
    return value


class PruningSchedule:
    """A schedule is called with the pruning step (0 at the first training batch) and returns
    (should_prune, sparsity): whether the masks are recomputed at this step, and the fraction of each
    pruned weight to set to zero when they are."""

    def __call__(self, step):
        raise NotImplementedError

    def _should_prune(self, step):
        in_range = step >= self.begin_step and (self.end_step == -1 or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@register_keras_serializable(package="pynn_pruning")
class ConstantSparsity(PruningSchedule):
    """Prune to `target_sparsity` at begin_step and every `frequency` steps after it, up to end_step.

    Example:
        ConstantSparsity(0.8, begin_step=0, frequency=100)
    """

    def __init__(self, target_sparsity, begin_step, end_step=-1, frequency=100):
        owner = "ConstantSparsity"
        self.target_sparsity = _check_sparsity("target_sparsity", target_sparsity, owner)
        self.begin_step = _check_step("begin_step", begin_step, owner, 0)
        self.end_step = _check_step("end_step", end_step, owner, -1)
        if self.end_step != -1 and self.end_step < self.begin_step:
            raise ValueError(f"{owner}: end_step ({end_step}) must be >= begin_step ({begin_step}) or -1")
        self.frequency = _check_step("frequency", frequency, owner, 1)

    def __call__(self, step):
        return self._should_prune(step), self.target_sparsity

    def get_config(self):
        return {"target_sparsity": self.target_sparsity, "begin_step": self.begin_step,
                "end_step": self.end_step, "frequency": self.frequency}


@register_keras_serializable(package="pynn_pruning")
class PolynomialDecay(PruningSchedule):
    """Sparsity rising from initial_sparsity at begin_step to final_sparsity at end_step along
    final + (initial - final) * (1 - p) ** power, p = (step - begin_step) / (end_step - begin_step) clipped to
    [0, 1]: fast at first, slowly at the end, as the network recovers. The masks are recomputed every
    `frequency` steps from begin_step; choose end_step - begin_step a multiple of frequency so that the last
    update happens at end_step and reaches final_sparsity.

    Example:
        PolynomialDecay(initial_sparsity=0.5, final_sparsity=0.8, begin_step=0, end_step=1000)
    """

    def __init__(self, initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100):
        owner = "PolynomialDecay"
        self.initial_sparsity = _check_sparsity("initial_sparsity", initial_sparsity, owner)
        self.final_sparsity = _check_sparsity("final_sparsity", final_sparsity, owner)
        self.begin_step = _check_step("begin_step", begin_step, owner, 0)
        self.end_step = _check_step("end_step", end_step, owner, 0)
        if self.end_step <= self.begin_step:
            raise ValueError(f"{owner}: end_step ({end_step}) must be > begin_step ({begin_step})")
        if isinstance(power, bool) or not isinstance(power, (int, float)) or power <= 0:
            raise ValueError(f"{owner}: power must be a positive number, got {power!r}")
        self.power = power
        self.frequency = _check_step("frequency", frequency, owner, 1)

    def __call__(self, step):
        p = min(1.0, max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step)))
        sparsity = self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power
        return self._should_prune(step), sparsity

    def get_config(self):
        return {"initial_sparsity": self.initial_sparsity, "final_sparsity": self.final_sparsity,
                "begin_step": self.begin_step, "end_step": self.end_step, "power": self.power,
                "frequency": self.frequency}


_SCHEDULES = {"ConstantSparsity": ConstantSparsity, "PolynomialDecay": PolynomialDecay}


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    if isinstance(config, PruningSchedule):
        return config
    if not isinstance(config, dict) or config.get("class_name") not in _SCHEDULES:
        raise ValueError(f"Unknown pruning schedule {config!r}; expected one of {sorted(_SCHEDULES)}")
    return _SCHEDULES[config["class_name"]].from_config(config["config"])
