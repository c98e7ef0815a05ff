"""pynn.models: Sequential (and, later, the functional Model)."""
from pynn.models.model import Model
from pynn.models.sequential import Sequential
from pynn.saving.saving_lib import load_model, save_model

__all__ = ["Model", "Sequential", "load_model", "save_model"]
