"""pynn: a Keras-style neural-network library with a fast C++/OpenMP compute core."""
from pynn._config import get_num_threads, set_num_threads, show_config
from pynn import losses, metrics, ops

__version__ = "0.1.0"
__all__ = ["ops", "losses", "metrics", "get_num_threads", "set_num_threads", "show_config", "__version__"]
