"""scikit-learn wrappers (Keras 2's keras.wrappers.scikit_learn API). Needs scikit-learn: pip install 'pynn[sklearn]'.

`import pynn` does not import this package (nor scikit-learn); `from pynn.wrappers import KerasClassifier` does.
"""
from pynn.wrappers.scikit_learn import BaseWrapper, KerasClassifier, KerasRegressor

__all__ = ["BaseWrapper", "KerasClassifier", "KerasRegressor"]
