"""pynn: a Keras-style neural-network library with a fast C++/OpenMP compute core.

    import pynn
    model = pynn.models.Sequential([pynn.layers.Input(shape=(784,)),
                                    pynn.layers.Dense(128, activation="relu"),
                                    pynn.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
import pkgutil as _pkgutil

# Run from a source checkout (python -m ... in the repository root), this directory shadows the installed
# package and has no compiled extension; extend_path lets `pynn._C` come from the installed copy.
__path__ = _pkgutil.extend_path(__path__, __name__)

from pynn._config import get_num_threads, set_num_threads, show_config  # noqa: E402
from pynn import ops  # noqa: E402
from pynn import (activations, callbacks, constraints, datasets, initializers, layers, losses, metrics, models,
                  optimizers, regularizers, saving, utils)
from pynn.layers import Input
from pynn.models import Model, Sequential

__version__ = "0.1.0"
__all__ = ["ops", "activations", "callbacks", "constraints", "datasets", "initializers", "layers", "losses",
           "metrics", "models", "optimizers", "regularizers", "saving", "utils", "Input", "Model", "Sequential",
           "get_num_threads", "set_num_threads", "show_config", "__version__"]
