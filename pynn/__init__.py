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

import os as _os

# GNU OpenMP spins ~300000 rounds waiting for work before it sleeps. pynn's steps run many short parallel
# kernels, and on a machine whose cores are shared (another job, CI) the spinning threads starve the one the
# others wait for: a W1 epoch took 17-23 s there, 7.8 s with 10000 rounds, and the same 0.62-0.66 s as the
# default on an idle machine (bench/README.md). libgomp reads this when it loads, i.e. when pynn._C first
# does; a value set by the user (or OMP_WAIT_POLICY) wins.
if "GOMP_SPINCOUNT" not in _os.environ and "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "10000"

from pynn._config import get_num_threads, set_num_threads, show_config  # noqa: E402
from pynn import kernels  # noqa: E402
from pynn import ops, random  # noqa: E402
from pynn import (activations, callbacks, constraints, datasets, export, initializers, layers, losses, metrics, models,
                  optimizers, preprocessing, pruning, regularizers, saving, utils)
from pynn.layers import Input
from pynn.models import Model, Sequential
from pynn.ops import GradientTape, Tensor
from pynn.variable import Variable

__version__ = "0.1.0"
__all__ = ["ops", "random", "GradientTape", "Tensor", "Variable", "activations", "callbacks", "constraints",
           "datasets", "export", "initializers", "layers", "losses", "metrics", "models", "optimizers", "preprocessing", "regularizers", "saving", "utils", "Input", "Model",
           "Sequential", "get_num_threads", "set_num_threads", "show_config", "__version__"]
