"""Callbacks: objects whose hooks the training, evaluation and prediction loops call."""
from pynn.callbacks.backup_and_restore import BackupAndRestore
from pynn.callbacks.callback import Callback
from pynn.callbacks.callback_list import CallbackList
from pynn.callbacks.csv_logger import CSVLogger
from pynn.callbacks.early_stopping import EarlyStopping
from pynn.callbacks.history import History
from pynn.callbacks.lambda_callback import LambdaCallback
from pynn.callbacks.learning_rate_scheduler import LearningRateScheduler
from pynn.callbacks.model_checkpoint import ModelCheckpoint
from pynn.callbacks.progbar_logger import ProgbarLogger
from pynn.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from pynn.callbacks.tensorboard import TensorBoard
from pynn.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard",
           "TerminateOnNaN"]
