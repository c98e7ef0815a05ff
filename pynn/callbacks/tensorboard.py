"""TensorBoard: write training metrics, weight histograms and the model's graph as TensorBoard event files."""
import itertools
import os
import time
import warnings

import numpy as np

from pynn.callbacks.callback import Callback

_INSTALL = 'pip install tensorboardX (or pip install "pynn[tensorboard]")'
_writer_numbers = itertools.count()


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as error:
        raise ImportError("The TensorBoard callback writes its event files with the tensorboardX package, which "
                          f"is not installed. Install it with `{_INSTALL}`") from error
    return SummaryWriter


class TensorBoard(Callback):
    """Writes event files that TensorBoard (`tensorboard --logdir=path_to_your_logs`) shows, with Keras 3's tags:

    - in `log_dir/train`: at the end of each epoch (step = epoch, from 0) "epoch_<name>" for each training
      metric of the epoch's logs ("epoch_loss", "epoch_accuracy", ...), "epoch_learning_rate", and
      "epoch_steps_per_second" with write_steps_per_second; with an integer update_freq, "batch_<name>" of the
      running means every update_freq batches (step = batches since fit began, from 1), and
      "batch_steps_per_second" with write_steps_per_second; with histogram_freq, a histogram of each weight
      every histogram_freq epochs, tagged "<layer>/<weight>/histogram" (and a picture of it,
      "<layer>/<weight>/image", with write_images); with write_graph, the model's JSON config under the tag
      "keras" (TensorBoard's graph tab draws it) for Sequential and functional models.
    - in `log_dir/validation`: "epoch_<name>" of the validation metrics (without the "val_" prefix), at the
      epochs that validate, and after each evaluation (fit's validation or evaluate()),
      "evaluation_<name>_vs_iterations" at step = the optimizer's step count.

    The files are written by the tensorboardX package (`pip install tensorboardX`, or
    `pip install "pynn[tensorboard]"`; write_images also needs Pillow), which is imported when the callback
    is made; pynn needs neither TensorFlow nor TensorBoard. tensorboardX writes in a background thread: what
    was logged is on disk within about 10 seconds, and all of it when fit ends (or evaluate(), outside fit).

    Args:
        log_dir: the directory of the logs (its `train` and `validation` subdirectories).
        histogram_freq: every how many epochs to write the weights' histograms; 0: never.
        write_graph: write the model's config (the graph tab).
        write_images: also write each weight as an image where Keras does (biases, Dense kernels, kernels
            whose last axis is 1, 3 or 4 after squeezing), values clipped to [0, 1] as tf.summary.image does.
        write_steps_per_second: also write the training steps per second.
        update_freq: "epoch", "batch" (= 1) or an integer: write the batch metrics every that many batches.
        profile_batch: 0 only (pynn has no profiler; Keras refuses it likewise on its torch and numpy backends).
        embeddings_freq, embeddings_metadata: accepted for Keras compatibility; pynn writes no embeddings
            projector data (a warning says so when embeddings_freq is set).

    Example:
        >>> model.fit(x, y, epochs=5, validation_split=0.1,
        ...           callbacks=[pynn.callbacks.TensorBoard("logs", histogram_freq=1)])
    """

    rank_0_only = True     # with several ranks (pynn.distributed), only rank 0 writes

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        self._writer_class = _summary_writer_class()
        if write_images:
            try:
                import PIL  # noqa: F401  (tensorboardX encodes images with Pillow)
            except ImportError as error:
                raise ImportError("TensorBoard(write_images=True) needs the Pillow package, which is not "
                                  "installed. Install it with `pip install pillow`") from error
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be a non-negative integer, got {histogram_freq!r}")
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, got "
                             f"{update_freq!r}")
        if profile_batch not in (0, "0", (0, 0), [0, 0], None):
            raise ValueError("Profiling is not available in pynn. Received: "
                             f"profile_batch={profile_batch} (must be 0)")
        if embeddings_freq:
            warnings.warn("TensorBoard: pynn writes no embeddings projector data; embeddings_freq is ignored",
                          stacklevel=2)
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.profile_batch = profile_batch
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers = {}
        self._global_train_batch = 0
        self._batch_start_time = 0.0
        self._epoch_start_time = 0.0
        self._previous_epoch_iterations = 0
        self._in_fit = False
        self._graph_written = False
        if update_freq != "epoch":
            # Batch hooks only when batch summaries are asked for: fit skips building per-batch logs for a
            # callback list without them (CallbackList.has_train_batch_hooks).
            self.on_train_batch_begin = self._on_train_batch_begin
            self.on_train_batch_end = self._on_train_batch_end

    def get_config(self):
        return {"log_dir": self.log_dir, "histogram_freq": self.histogram_freq, "write_graph": self.write_graph,
                "write_images": self.write_images, "write_steps_per_second": self.write_steps_per_second,
                "update_freq": self.update_freq, "profile_batch": self.profile_batch,
                "embeddings_freq": self.embeddings_freq, "embeddings_metadata": self.embeddings_metadata}

    # ------------------------------------------------------------------ writers
    def _writer(self, which):
        writer = self._writers.get(which)
        if writer is None:
            directory = self._train_dir if which == "train" else self._val_dir
            # a name no other writer has (tensorboardX's default one is only unique per second and host)
            suffix = f".{os.getpid()}.{next(_writer_numbers)}.v2"
            writer = self._writers[which] = self._writer_class(logdir=directory, max_queue=1000, flush_secs=10,
                                                               filename_suffix=suffix)
        return writer

    def _flush(self):
        # tensorboardX writes from a background thread, which writes out what it has at least every
        # flush_secs; this writes out what it has written so far. Closing (end of fit) writes out everything.
        for writer in self._writers.values():
            writer.flush()

    def _close_writers(self):
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            writer.close()

    def _scalars(self, which, logs, prefix, step):
        writer = None
        for name, value in logs.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue   # not a scalar (Keras would fail on it): nothing to plot
            writer = writer or self._writer(which)
            writer.add_scalar(prefix + name, value, global_step=int(step))

    # ------------------------------------------------------------------ hooks
    def set_model(self, model):
        self._close_writers()   # a new fit (or evaluate) writes new event files, as in Keras
        self.model = model
        self._graph_written = False
        self._in_fit = False

    def on_train_begin(self, logs=None):
        self._in_fit = True
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        if self.write_graph and not self._graph_written:
            self._write_model_config()
            self._graph_written = True

    def on_train_end(self, logs=None):
        self._in_fit = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = self._iterations()
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if logs and optimizer is not None:
            train_logs["learning_rate"] = optimizer.learning_rate
        if logs and self.write_steps_per_second:
            elapsed = time.time() - self._epoch_start_time
            train_logs["steps_per_second"] = (self._iterations() - self._previous_epoch_iterations) / max(elapsed,
                                                                                                        1e-9)
        self._scalars("train", train_logs, "epoch_", epoch)
        self._scalars("val", val_logs, "epoch_", epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)
        self._flush()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if logs and optimizer is not None and hasattr(optimizer, "iterations"):
            self._scalars("val", {f"evaluation_{name}_vs_iterations": v for name, v in logs.items()}, "",
                          optimizer.iterations)
        if not self._in_fit:
            self._close_writers()   # evaluate() has no end of training: its events are written out now

    def _on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def _on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        if step % self.update_freq:
            return
        batch_logs = dict(logs) if isinstance(logs, dict) else {}
        if self.write_steps_per_second:
            batch_logs["steps_per_second"] = 1.0 / max(time.time() - self._batch_start_time, 1e-9)
        self._scalars("train", batch_logs, "batch_", step)

    def _iterations(self):
        optimizer = getattr(self.model, "optimizer", None)
        return int(getattr(optimizer, "iterations", 0) or 0)

    # ------------------------------------------------------------------ weights and graph
    def _weights(self):
        """(tag prefix "<layer path>/<weight name>", variable) for every weight, tags made unique."""
        from pynn.saving.file_utils import walk_layers
        seen = set()
        for path, layer in walk_layers(self.model):
            for variable in layer.weights:
                name = f"{path}/{variable.name}".replace(":", "_")
                tag, n = name, 1
                while tag in seen:   # a wrapper's inner layers (Bidirectional) repeat weight names
                    tag, n = f"{name}_{n}", n + 1
                seen.add(tag)
                yield tag, variable

    def _write_weights(self, epoch):
        writer = self._writer("train")
        for name, variable in self._weights():
            values = np.asarray(variable.numpy(), dtype=np.float64).reshape(-1)
            finite = values[np.isfinite(values)]
            if finite.size:
                writer.add_histogram(f"{name}/histogram", finite, global_step=epoch, bins=30)
            if self.write_images:
                image = _weight_image(variable.numpy())
                if image is not None:
                    writer.add_images(f"{name}/image", image, global_step=epoch, dataformats="NHWC")

    def _write_model_config(self):
        """The model's JSON config as Keras writes it (keras_model_summary): a string tensor under the tag
        "keras", for the graph plugin ("graph_keras_model", version "1")."""
        from pynn.models.functional import Functional
        if not isinstance(self.model, Functional):
            return
        try:
            config = self.model.to_json()
        except Exception as error:   # as in Keras: a model that can't be serialized only warns
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {error}", stacklevel=2)
            return
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboardX.proto.types_pb2 import DT_STRING
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graph_keras_model",
                                                                          content=b"1"))
        tensor = TensorProto(dtype=DT_STRING, string_val=[config.encode("utf-8")], tensor_shape=TensorShapeProto())
        summary = Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        self._writer("train").file_writer.add_summary(summary, global_step=0)
        self._flush()


def _weight_image(weight):
    """A weight as a batch of NHWC uint8 images, as Keras's _log_weight_as_image lays it out (at most 3 images,
    tf.summary.image's max_outputs; float values clipped to [0, 1]), or None for shapes Keras does not draw."""
    image = np.squeeze(np.asarray(weight, dtype=np.float64))
    shape = image.shape
    if len(shape) == 1:                          # a bias
        image = image.reshape(1, shape[0], 1, 1)
    elif len(shape) == 2:                        # a Dense kernel
        if shape[0] > shape[1]:
            image = image.T
        image = image.reshape(1, image.shape[0], image.shape[1], 1)
    elif len(shape) == 3:                        # a Conv1D kernel (channels last): one image per filter
        image = np.transpose(image, (2, 0, 1))
        image = image.reshape(image.shape + (1,))
    if image.ndim != 4 or image.shape[-1] not in (1, 3, 4) or 0 in image.shape:
        return None
    image = np.nan_to_num(image[:3], nan=0.0)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
