"""Weight initializers with Keras 3's names and formulas: `init(shape, dtype="float32") -> np.ndarray`.

Fans follow Keras's compute_fans: a Dense kernel (in, out) has fan_in = in, fan_out = out; a conv kernel
(kh, kw, cin, cout) has fan_in = kh * kw * cin, fan_out = kh * kw * cout.

Seeds follow Keras 3: an initializer built with seed=s returns the same values on every call; one built without a
seed takes a fresh seed from pynn's global stream when it is built (so pynn.utils.set_random_seed makes it
repeatable), and it too returns the same values on every call. `get("glorot_uniform")` builds a new initializer,
with a new seed, each time.

Example:
    >>> kernel = get("glorot_uniform")((784, 128))
    >>> bias = get("zeros")((128,))
"""
from pynn import _registry
from pynn.initializers.constant_initializers import Constant, Identity, Initializer, Ones, Zeros
from pynn.initializers.random_initializers import (GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal,
                                                   LecunUniform, Orthogonal, RandomNormal, RandomUniform,
                                                   TruncatedNormal, VarianceScaling, compute_fans)

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform",
           "LecunNormal", "LecunUniform", "Orthogonal", "compute_fans", "get", "serialize"]

_CLASSES = _registry.by_name(
    Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, GlorotUniform,
    GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal,
    aliases={"uniform": RandomUniform, "normal": RandomNormal, "OrthogonalInitializer": Orthogonal,
             "IdentityInitializer": Identity})


def serialize(initializer):
    """{'class_name': ..., 'config': ...}, which get() turns back into the initializer."""
    from pynn.saving.object_registration import get_registered_name
    return {"class_name": get_registered_name(type(initializer)), "config": initializer.get_config()}


def get(identifier):
    """An initializer from None, an instance, a callable, a name ('glorot_uniform', 'HeNormal', ...) or a dict."""
    return _registry.get("initializers", identifier, _CLASSES)
