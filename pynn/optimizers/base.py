"""Optimizer: the base class every pynn optimizer derives from (Keras 3's BaseOptimizer, on NumPy arrays)."""
import re

import numpy as np

from pynn.kernels import clipping
from pynn.variable import aligned_full
from pynn.optimizers import schedules as schedules_module


class Optimizer:
    """Updates Variables in place from their gradients; subclasses implement only `update_step`.

    One step, `apply_gradients(grads_and_vars)`, does what Keras 3 does, in this order:

    1. Clip the gradients (on copies; the caller's arrays are left alone): `clipvalue` clips each element to
       [-clipvalue, clipvalue]; `clipnorm` scales each gradient to an L2 norm of at most `clipnorm`;
       `global_clipnorm` scales all of them together to a global norm of at most `global_clipnorm`.
    2. Decoupled weight decay: `w -= w * weight_decay * learning_rate` (not for variables excluded with
       `exclude_from_weight_decay`).
    3. `update_step(gradient, variable, learning_rate)` once per variable, with `self.iterations` still the
       number of steps already made (the 1-based step number is `self.iterations + 1`).
    4. `self.iterations += 1`, then each variable's `constraint`, assigned in place.

    `learning_rate` is a float, a `LearningRateSchedule` (evaluated at `iterations`, before the increment) or
    a callable of no arguments. The optimizer's per-variable state ("slots") is made lazily with
    `add_slot(variable, name, initial_value)`: an array of the variable's shape and dtype, one per variable
    (keyed by the variable's id) and name; `variables` lists them all, in creation order, for saving.

    A subclass whose `update_step` applies the weight decay itself (the built-in ones pass it to a fused C++
    kernel) sets `fuses_weight_decay = True` and reads the amount with `weight_decay_for(variable)`.

    Args:
        learning_rate: float, LearningRateSchedule, or callable returning a float.
        weight_decay: None or float; decoupled weight decay.
        clipnorm, clipvalue, global_clipnorm: None or float; at most one of the three may be set.
        name: the optimizer's name (default: the class name in snake case).

    Example (plain gradient descent with a decaying step):

        class HalvingSGD(Optimizer):
            def update_step(self, gradient, variable, learning_rate):
                velocity = self.add_slot(variable, "velocity")
                velocity *= 0.5
                velocity -= learning_rate * gradient
                variable.value += velocity

        opt = HalvingSGD(learning_rate=0.1, clipnorm=1.0)
        opt.apply_gradients([(grad, variable)])  # or opt.apply([variable]) to use variable.grad
    """

    fuses_weight_decay = False

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None):
        if sum(option is not None for option in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        for option_name, option in (("clipnorm", clipnorm), ("global_clipnorm", global_clipnorm)):
            if option is not None and not option > 0:
                raise ValueError(f"{option_name}: expected a number > 0, got {option!r}")
        if clipvalue is not None and not clipvalue >= 0:
            raise ValueError(f"clipvalue: expected a number >= 0, got {clipvalue!r}")
        if weight_decay is not None and not weight_decay >= 0:
            raise ValueError(f"weight_decay: expected a number >= 0 or None, got {weight_decay!r}")
        self.name = name or re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.iterations = 0
        self._learning_rate = None
        self.learning_rate = learning_rate
        self._slots = {}          # (id(variable), slot name) -> array
        self._slot_owners = {}    # id(variable) -> variable, so ids are not reused while slots exist
        self._slot_lists = {}     # (slot name, variable ids...) -> [slot, ...], see slot_list
        self._excluded_ids = set()
        self._excluded_name_patterns = []

    # ------------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        """The learning rate of the next step, as a float."""
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
            return float(self._learning_rate(self.iterations))
        if callable(self._learning_rate):
            return float(self._learning_rate())
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        if isinstance(learning_rate, schedules_module.LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
            return
        if isinstance(self._learning_rate, schedules_module.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable.")
        self._learning_rate = float(learning_rate)

    # ------------------------------------------------------------------ slots
    def add_slot(self, variable, name, initial_value=0.0):
        """The slot `name` of `variable`, made on first use: an array of its shape and dtype."""
        key = (id(variable), name)
        slot = self._slots.get(key)
        if slot is None:
            slot = aligned_full(variable.value.shape, initial_value, variable.value.dtype)
            self._slots[key] = slot
            self._slot_owners[id(variable)] = variable
        return slot

    def __getstate__(self):
        # Slots are keyed by id(variable), which does not survive pickling: store them with their variables
        # (pickled once with the model that owns them) and re-key them on load. The slot-list cache is rebuilt.
        state = self.__dict__.copy()
        owners = self._slot_owners
        state["_slots"] = [(owners[key[0]], key[1], slot) for key, slot in self._slots.items()]
        state["_excluded_ids"] = [owners[i] for i in self._excluded_ids]
        state["_slot_owners"] = list(owners.values())
        state["_slot_lists"] = {}
        return state

    def __setstate__(self, state):
        slots, excluded = state.pop("_slots"), state.pop("_excluded_ids")
        self.__dict__.update(state)
        self._slots = {(id(variable), name): slot for variable, name, slot in slots}
        self._slot_owners = {id(variable): variable for variable in self._slot_owners}
        self._excluded_ids = {id(variable) for variable in excluded}

    @property
    def variables(self):
        """Every slot array, in creation order (the optimizer's state besides `iterations`)."""
        return list(self._slots.values())

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Skip weight decay for these Variables, and for those whose name contains one of `var_names`."""
        for variable in var_list or ():
            self._excluded_ids.add(id(variable))
            self._slot_owners[id(variable)] = variable  # keeps the id valid (and lets the optimizer pickle)
        self._excluded_name_patterns.extend(var_names or ())

    def weight_decay_for(self, variable):
        """The weight decay to apply to `variable` (0.0 when none or excluded)."""
        if not self.weight_decay or id(variable) in self._excluded_ids:
            return 0.0
        if any(re.search(pattern, variable.name) for pattern in self._excluded_name_patterns):
            return 0.0
        return float(self.weight_decay)

    # ------------------------------------------------------------------ the step
    def update_step(self, gradient, variable, learning_rate):
        """Update `variable.value` in place from `gradient` (already clipped); subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_step")

    def _prepare_step(self, step):
        """Called once per step, before any update_step, with the 1-based step number (Nadam uses it)."""

    def apply_gradients(self, grads_and_vars):
        """One optimizer step over a list of (gradient array, Variable) pairs; None gradients are skipped."""
        pairs = [(grad, variable) for grad, variable in grads_and_vars if grad is not None]
        if not pairs:
            return
        grads = [self._prepared_gradient(grad, variable) for grad, variable in pairs]
        variables = [variable for _, variable in pairs]
        self._clip_gradients(grads)
        self._step(grads, variables)

    def _step(self, grads, variables):
        """Steps 2 to 4 of apply_gradients, on gradients already checked and clipped."""
        learning_rate = self.learning_rate
        for variable in variables:
            if not variable.value.flags.writeable:
                variable.release()
        if not self.fuses_weight_decay:
            for variable in variables:
                decay = self.weight_decay_for(variable)
                if decay:
                    variable.value -= variable.value * variable.value.dtype.type(decay * learning_rate)
        self._prepare_step(self.iterations + 1)
        self.update_steps(grads, variables, learning_rate)
        self.iterations += 1
        for variable in variables:
            if variable.constraint is not None:
                variable.value[...] = variable.constraint(variable.value)

    def update_steps(self, grads, variables, learning_rate):
        """update_step for each variable; the built-in optimizers override it with one kernel call for all."""
        for grad, variable in zip(grads, variables):
            self.update_step(grad, variable, learning_rate)

    def slot_list(self, variables, name, initial_value=0.0):
        """add_slot(variable, name) for each variable, as a list (cached for the same variables)."""
        key = (name,) + tuple(map(id, variables))
        cached = self._slot_lists.get(key)
        if cached is None:
            cached = self._slot_lists[key] = [self.add_slot(v, name, initial_value) for v in variables]
        return cached

    def weight_decays_for(self, variables):
        if not self.weight_decay:
            return None
        return [self.weight_decay_for(v) for v in variables]

    def apply(self, grads, trainable_variables=None):
        """One step. Keras 3's form, `apply(grads, trainable_variables)`, takes the gradients (from
        GradientTape.gradient; None entries are skipped); `apply(variables)` steps each Variable of the list
        with its own `.grad` (what fit does)."""
        if trainable_variables is not None:
            self.apply_gradients(list(zip(grads, trainable_variables)))
            return
        variables = [variable for variable in grads if variable.trainable]
        if self.clipnorm is None and self.clipvalue is None and self.global_clipnorm is None:
            # A model's own gradients: the right shape and dtype by construction, and nothing to clip.
            if variables:
                self._step([variable.grad for variable in variables], variables)
            return
        self.apply_gradients([(variable.grad, variable) for variable in variables])

    def _prepared_gradient(self, grad, variable):
        grad = np.asarray(grad)
        if grad.shape != variable.value.shape:
            raise ValueError(f"Variable '{variable.name}': gradient of shape {grad.shape} does not match the "
                             f"variable's shape {variable.value.shape}")
        needs_copy = self.clipnorm is not None or self.clipvalue is not None or self.global_clipnorm is not None
        if needs_copy:
            return np.array(grad, dtype=variable.value.dtype, order="C", copy=True)
        return np.ascontiguousarray(grad, dtype=variable.value.dtype)

    def _clip_gradients(self, grads):
        if self.clipvalue is not None:
            for grad in grads:
                clipping.clip_by_value(grad, self.clipvalue)
        elif self.clipnorm is not None:
            for grad in grads:
                clipping.clip_by_norm(grad, self.clipnorm)
        elif self.global_clipnorm is not None:
            by_dtype = {}
            for grad in grads:
                by_dtype.setdefault(grad.dtype, []).append(grad)
            if len(by_dtype) == 1:
                clipping.clip_by_global_norm(grads, self.global_clipnorm)
            else:
                norm = np.sqrt(sum(float(np.sum(np.square(grad, dtype=np.float64))) for grad in grads))
                for grad in grads:
                    grad *= grad.dtype.type(self.global_clipnorm / max(norm, self.global_clipnorm))

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        """The constructor arguments, as plain values (a schedule as {"class_name", "config"})."""
        learning_rate = self._learning_rate
        if isinstance(learning_rate, schedules_module.LearningRateSchedule):
            learning_rate = schedules_module.serialize(learning_rate)
        elif callable(learning_rate):
            learning_rate = float(learning_rate())
        return {"name": self.name, "learning_rate": learning_rate, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_module.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}' learning_rate={self.learning_rate} " \
               f"iterations={self.iterations}>"
