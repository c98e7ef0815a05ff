"""DistributedOptimizer: a pynn optimizer whose gradients are averaged over the ranks before each update."""
import weakref

from pynn.distributed import _runtime, collectives


class _State:
    """What one wrapping adds: the bucket plans and the variables already broadcast from rank 0."""

    def __init__(self, bucket_bytes):
        self.bucket_bytes = bucket_bytes
        self.plans = collectives.PlanCache(bucket_bytes)
        self.synced = weakref.WeakSet()     # variables whose value came from rank 0
        self.synced_lists = set()           # tuples of ids of variable lists known to be all synced


class _Distributed:
    """The methods DistributedOptimizer adds to the class of the optimizer it wraps."""

    _distributed = None     # a _State, set on each wrapped class

    @property
    def replicas(self):
        """The group the gradients are averaged over, or None in a single process (then this is the wrapped
        optimizer exactly: apply and apply_gradients are its own)."""
        group = _runtime.current_group()
        return group if group is not None and group.size > 1 else None

    def apply(self, grads, trainable_variables=None):
        if self.replicas is None:
            return super().apply(grads, trainable_variables)
        if trainable_variables is None:         # fit's form: each variable with its own .grad
            trainable_variables = [v for v in grads if v.trainable]
            grads = [v.grad for v in trainable_variables]
        self.apply_gradients(zip(grads, trainable_variables))

    def apply_gradients(self, grads_and_vars):
        """The wrapped optimizer's step on gradients averaged over the ranks: they are checked, averaged in
        fused buckets (in this list's order), then clipped and applied as the wrapped optimizer does, so every
        rank makes the same update, bit for bit."""
        group = self.replicas
        if group is None:
            return super().apply_gradients(grads_and_vars)
        pairs = [(grad, variable) for grad, variable in grads_and_vars if grad is not None]
        if not pairs:
            return
        variables = [variable for _, variable in pairs]
        grads = [self._prepared_gradient(grad, variable) for grad, variable in pairs]
        self._broadcast_new(group, variables)
        grads = collectives.average_arrays(group, grads, self._distributed.plans, variables)
        self._clip_gradients(grads)
        self._step(grads, variables)

    def _broadcast_new(self, group, variables):
        """Variables never broadcast (a hand-written loop, or a model built inside its train_step) take rank 0's
        values before their first update, so the ranks agree from then on."""
        state = self._distributed
        key = tuple(map(id, variables))
        if key in state.synced_lists:
            return
        new = [v for v in variables if v not in state.synced]
        if new:
            from pynn.distributed.functions import broadcast_variables
            broadcast_variables(group, new, self, "the trained variables")
        state.synced_lists.add(key)

    def synchronize_model(self, model):
        """Give every rank rank 0's weights, optimizer state and training state (the epoch to start at, the
        shuffling and random streams: functions.synchronize_training_state); fit calls it at its start, after
        the callbacks' on_train_begin, and train_on_batch at its first step. A no-op in a single process."""
        group = self.replicas
        if group is None:
            return
        from pynn.distributed.functions import broadcast_weights, synchronize_training_state
        broadcast_weights(model)
        synchronize_training_state(group, model)

    def _mark_synced(self, variables):
        self._distributed.synced.update(variables)

    def __reduce__(self):
        base = type(self).__mro__[2]
        return _rewrap, (base, self.__getstate__(), self._distributed.bucket_bytes)

    def __repr__(self):
        return f"<DistributedOptimizer({type(self).__mro__[2].__name__}) name='{self.name}' " \
               f"learning_rate={self.learning_rate} iterations={self.iterations}>"


def DistributedOptimizer(optimizer, bucket_bytes=collectives.DEFAULT_BUCKET_BYTES):
    """`optimizer` (an instance, or a name such as "adam") with its gradients averaged over the ranks.

    Each step's gradients are complete (every layer's backward has run) when the optimizer receives them; they
    are then copied, in a fixed order, into a few contiguous buffers of at most `bucket_bytes` (one per dtype
    and size limit), summed over the ranks with one MPI allreduce per buffer, divided by the number of ranks,
    and handed to `optimizer`'s own clipping, weight decay and update. Every rank thus applies the same
    update, bit for bit. A model compiled with it also has fit broadcast rank 0's weights at its start,
    average the metrics over the ranks, and print and write files on rank 0 only.

    The result is an instance of a subclass of optimizer's class (isinstance checks, get_config and saving
    see the wrapped optimizer: a saved model loads back with the plain one) that shares optimizer's state:
    its learning rate, step count and slots are optimizer's. In a single process (size() == 1, or init() not
    called outside an MPI launcher) it is the wrapped optimizer exactly.

    Example:
        dist.init()
        model.compile(optimizer=dist.DistributedOptimizer(pynn.optimizers.Adam(1e-3 * dist.size())), ...)
    """
    from pynn import optimizers
    optimizer = optimizers.get(optimizer)
    if isinstance(optimizer, _Distributed):
        return optimizer
    if not isinstance(bucket_bytes, int) or isinstance(bucket_bytes, bool) or bucket_bytes < 1:
        raise ValueError(f"DistributedOptimizer: bucket_bytes must be an integer >= 1, got {bucket_bytes!r}")
    base = type(optimizer)
    public = getattr(optimizers, base.__name__, None) is base
    cls = type(base.__name__, (_Distributed, base), {
        "__module__": "pynn.optimizers" if public else base.__module__, "__qualname__": base.__qualname__,
        "_distributed": _State(bucket_bytes)})
    wrapped = cls.__new__(cls)
    wrapped.__dict__ = optimizer.__dict__       # one state for both
    return wrapped


def is_distributed(optimizer):
    """Whether `optimizer` came from DistributedOptimizer."""
    return isinstance(optimizer, _Distributed)


def _rewrap(base, state, bucket_bytes):
    inner = base.__new__(base)
    inner.__setstate__(state)
    return DistributedOptimizer(inner, bucket_bytes)
