"""Small helpers with Keras's names: to_categorical, normalize, set_random_seed."""
from pynn.utils.numerical_utils import normalize, to_categorical
from pynn.utils.rng_utils import set_random_seed

__all__ = ["to_categorical", "normalize", "set_random_seed"]
