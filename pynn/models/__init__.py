"""pynn.models: Sequential (and, later, the functional Model)."""
from pynn.models.model import Model
from pynn.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
