"""pynn.models: Model (the training API; `Model(inputs, outputs)` is a functional model), Functional, Sequential,
and the functions that make models: load_model, clone_model, model_from_json."""
from pynn.models.cloning import clone_model, model_from_json
from pynn.models.functional import Functional
from pynn.models.model import Model
from pynn.models.sequential import Sequential
from pynn.saving.saving_lib import load_model, save_model

__all__ = ["Model", "Functional", "Sequential", "load_model", "save_model", "clone_model", "model_from_json"]
