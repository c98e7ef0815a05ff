"""Keras 3's distribution API on pynn.distributed: `set_distribution(DataParallel())`.

    from pynn import distributed as dist

    dist.set_distribution(dist.DataParallel())      # init() and, from now on, compile wraps the optimizer
    model.compile(optimizer=pynn.optimizers.Adam(1e-3 * dist.size()), loss=..., metrics=[...])
    model.fit(dist.shard(x), dist.shard(y), batch_size=32, epochs=5)

is the same training as DistributedOptimizer's form. Model.compile passes its optimizer through
`compile_optimizer`, which wraps it in a DistributedOptimizer while a DataParallel distribution is set (a no-op
wrapper in a single process). Unlike Keras's (auto_shard_dataset), pynn's DataParallel does not split the data:
give each rank its shard (dist.shard). One process per device: Keras's `devices` and `device_mesh` have no
counterpart here (the devices are the ranks mpirun starts).
"""
import contextlib

from pynn.distributed import _runtime, collectives
from pynn.distributed.optimizer import DistributedOptimizer

_distribution = None


class DataParallel:
    """Data parallelism over the ranks of pynn.distributed: every rank holds the whole model and trains on its
    shard of the data, with its gradients averaged over the ranks at every step (DistributedOptimizer).

    Args:
        bucket_bytes: DistributedOptimizer's limit on the size of each fused allreduce buffer.
    """

    def __init__(self, bucket_bytes=collectives.DEFAULT_BUCKET_BYTES):
        if not isinstance(bucket_bytes, int) or isinstance(bucket_bytes, bool) or bucket_bytes < 1:
            raise ValueError(f"DataParallel: bucket_bytes must be an integer >= 1, got {bucket_bytes!r}")
        self.bucket_bytes = bucket_bytes

    @property
    def num_replicas(self):
        """The number of ranks training together (after init())."""
        return _runtime.group().size

    def distribute_optimizer(self, optimizer):
        """`optimizer` (an instance or a name) wrapped in a DistributedOptimizer."""
        return DistributedOptimizer(optimizer, self.bucket_bytes)

    @contextlib.contextmanager
    def scope(self):
        """`with distribution.scope():` sets this distribution for the block, then restores the previous one."""
        previous = distribution()
        set_distribution(self)
        try:
            yield self
        finally:
            set_distribution(previous)

    def __repr__(self):
        return f"<DataParallel bucket_bytes={self.bucket_bytes}>"


def set_distribution(value):
    """Set the distribution models compile with: a DataParallel (which calls init()), or None for none."""
    global _distribution
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution: expected a pynn.distributed.DataParallel or None, got "
                        f"{type(value).__name__}")
    if value is not None:
        _runtime.init()
    _distribution = value


def distribution():
    """The distribution set with set_distribution, or None."""
    return _distribution


def compile_optimizer(optimizer):
    """The optimizer Model.compile trains with: `optimizer` (already resolved from a name) wrapped in a
    DistributedOptimizer while a DataParallel distribution is set, otherwise `optimizer` itself."""
    if _distribution is None or optimizer is None:
        return optimizer
    return _distribution.distribute_optimizer(optimizer)
