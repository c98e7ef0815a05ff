"""Merge layers: combine a list of tensors (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot).

Each takes a list of inputs of the same shape; the elementwise ones also broadcast as NumPy does (a
dimension of 1 against any size), and their input gradients are summed back over the broadcast axes. The
batch axis never broadcasts: inputs with different batch sizes are refused, as in Keras.
"""
import numpy as np

from pynn.layers.layer import Layer


def _unbroadcast(grad, shape):
    """Sum grad over the axes NumPy broadcasting added or stretched to reach it from `shape`."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, d in enumerate(shape) if d == 1 and grad.shape[extra + i] != 1)
    return np.ascontiguousarray(grad.sum(axis=axes, keepdims=True).reshape(shape))


class _Merge(Layer):
    """Base of the merge layers: a list of inputs in, one output."""

    takes_list = True
    min_inputs = 2
    max_inputs = None

    def build(self, input_shape):
        kind = type(self).__name__
        if not isinstance(input_shape, list) or len(input_shape) < self.min_inputs or (
                self.max_inputs is not None and len(input_shape) > self.max_inputs):
            count = (f"exactly {self.min_inputs}" if self.max_inputs == self.min_inputs
                     else f"at least {self.min_inputs}")
            got = len(input_shape) if isinstance(input_shape, list) else 1
            raise ValueError(f"{kind} '{self.name}' takes a list of {count} inputs, got {got}")
        self.compute_output_shape(input_shape)  # raises on incompatible shapes

    def compute_output_shape(self, input_shape):
        out = ()
        for shape in input_shape:
            out = _broadcast_shapes(out, tuple(shape), self)
        return out

    def compute_mask(self, x, mask):
        """Keras's rule for the elementwise merges: the positions that every input's mask keeps (an input
        without a mask keeps all); None when no input has one."""
        given = [np.asarray(m, dtype=np.bool_) for m in (mask if isinstance(mask, (list, tuple)) else [mask])
                 if m is not None]
        if not given:
            return None
        out = given[0]
        for m in given[1:]:
            out = out & m
        return out

    def _check(self, xs):
        if not isinstance(xs, (list, tuple)) or len(xs) != len(self.input_shape):
            raise ValueError(f"{type(self).__name__} '{self.name}' expects a list of {len(self.input_shape)} "
                             f"inputs, got {len(xs) if isinstance(xs, (list, tuple)) else 1}")
        self.check_input_shape([x.shape for x in xs])
        self._check_batch(xs)

    def _check_batch(self, xs):
        if len({x.shape[0] for x in xs}) > 1:
            raise ValueError(f"{type(self).__name__} '{self.name}': inputs have different batch sizes "
                             f"{[x.shape[0] for x in xs]}")


def _broadcast_shapes(a, b, layer):
    """NumPy's broadcast of two shapes with None (unknown) dimensions, or an error naming the layer."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1 or x == y:
            out.append(x)
        elif x is None or y is None:
            out.append(x if y is None else y)
        else:
            raise ValueError(f"{type(layer).__name__} '{layer.name}': inputs of shapes {a} and {b} cannot be "
                             "combined elementwise")
    return tuple(out)


class Add(_Merge):
    """The elementwise sum of the inputs: `Add()([a, b, ...])`."""

    def forward(self, xs, training=False):
        self._check(xs)
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y = y + x
        return y, [x.shape for x in xs]

    def backward(self, shapes, dy):
        return [_unbroadcast(dy, s) for s in shapes]


class Subtract(_Merge):
    """a - b for exactly two inputs: `Subtract()([a, b])`."""

    max_inputs = 2

    def forward(self, xs, training=False):
        self._check(xs)
        return xs[0] - xs[1], [x.shape for x in xs]

    def backward(self, shapes, dy):
        return [_unbroadcast(dy, shapes[0]), _unbroadcast(-dy, shapes[1])]


class Multiply(_Merge):
    """The elementwise product of the inputs."""

    def forward(self, xs, training=False):
        self._check(xs)
        y = xs[0] * xs[1]
        for x in xs[2:]:
            y = y * x
        return y, list(xs)

    def backward(self, xs, dy):
        grads = []
        for i, x in enumerate(xs):
            others = dy
            for j, other in enumerate(xs):
                if j != i:
                    others = others * other
            grads.append(_unbroadcast(others, x.shape))
        return grads


class Average(_Merge):
    """The elementwise mean of the inputs."""

    def forward(self, xs, training=False):
        self._check(xs)
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y = y + x
        return y * (1.0 / len(xs)), [x.shape for x in xs]

    def backward(self, shapes, dy):
        g = dy * (1.0 / len(shapes))
        return [_unbroadcast(g, s) for s in shapes]


class Maximum(_Merge):
    """The elementwise maximum of the inputs. Where inputs tie, the gradient goes to the first of them."""

    _pick = staticmethod(np.argmax)

    def forward(self, xs, training=False):
        self._check(xs)
        stacked = np.stack(np.broadcast_arrays(*xs))
        which = self._pick(stacked, axis=0)
        return np.take_along_axis(stacked, which[None], axis=0)[0], (which, [x.shape for x in xs])

    def backward(self, ctx, dy):
        which, shapes = ctx
        return [_unbroadcast(np.where(which == i, dy, 0).astype(dy.dtype), s) for i, s in enumerate(shapes)]


class Minimum(Maximum):
    """The elementwise minimum of the inputs. Where inputs tie, the gradient goes to the first of them."""

    _pick = staticmethod(np.argmin)


class Concatenate(_Merge):
    """Joins the inputs along `axis` (default -1, the features); the other dimensions must match.

    Args:
        axis: the axis to join along (the batch axis 0 is not allowed).
    """

    min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_output_shape(self, input_shape):
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise ValueError(f"Concatenate '{self.name}': inputs must have the same rank, got shapes "
                             f"{[tuple(s) for s in input_shape]}")
        rank = ranks.pop()
        axis = self.axis % rank
        if axis == 0:
            raise ValueError(f"Concatenate '{self.name}': cannot join along the batch axis")
        out = list(input_shape[0])
        for shape in input_shape[1:]:
            for i, (a, b) in enumerate(zip(out, shape)):
                if i != axis and a is not None and b is not None and a != b:
                    raise ValueError(f"Concatenate '{self.name}': inputs must match except along axis "
                                     f"{self.axis}, got shapes {[tuple(s) for s in input_shape]}")
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if any(s is None for s in sizes) else sum(sizes)
        return tuple(out)

    def forward(self, xs, training=False):
        self._check(xs)
        return np.concatenate(xs, axis=self.axis), [x.shape[self.axis] for x in xs]

    def backward(self, sizes, dy):
        return [np.ascontiguousarray(g) for g in np.split(dy, np.cumsum(sizes)[:-1], axis=self.axis)]

    def compute_mask(self, x, mask):
        """Keras's rule: each input's mask (all True where it has none) spread over the input's shape, joined
        along `axis`, then a position is kept where any of its features is."""
        masks = mask if isinstance(mask, (list, tuple)) else [mask]
        if all(m is None for m in masks):
            return None
        full = []
        for xi, m in zip(x, masks):
            if m is None:
                full.append(np.ones(xi.shape, np.bool_))
            else:
                m = np.asarray(m, dtype=np.bool_)
                full.append(np.broadcast_to(m[..., None] if m.ndim < xi.ndim else m, xi.shape))
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """The dot product of two inputs along one axis of each, per sample (Keras's batch_dot).

    Args:
        axes: an int, or a pair (axis of the first input, axis of the second), counted with the batch
            axis as 0 (axes=1 for two (batch, n) inputs gives (batch, 1)).
        normalize: L2-normalise both inputs along the dot axes first (the product is then the cosine
            similarity).

    Inputs of rank 2 or 3: (batch, n) . (batch, n) -> (batch, 1); (batch, p, k) . (batch, k, q) ->
    (batch, p, q) with axes=(2, 1), and likewise for other axes (the result keeps the first input's
    remaining axis, then the second's).
    """

    max_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError(f"Dot: axes must be an int or a pair, got {axes!r}")
            self.axes = (int(axes[0]), int(axes[1]))
        else:
            self.axes = (int(axes), int(axes))
        self.normalize = bool(normalize)

    def _axes(self, shapes):
        a, b = shapes
        if len(a) not in (2, 3) or len(b) not in (2, 3):
            raise ValueError(f"Dot '{self.name}': inputs must have rank 2 or 3, got shapes {tuple(a)} and {tuple(b)}")
        ax = (self.axes[0] % len(a), self.axes[1] % len(b))
        if 0 in ax:
            raise ValueError(f"Dot '{self.name}': cannot take the dot product along the batch axis")
        if a[ax[0]] is not None and b[ax[1]] is not None and a[ax[0]] != b[ax[1]]:
            raise ValueError(f"Dot '{self.name}': dimension {ax[0]} of {tuple(a)} and dimension {ax[1]} of "
                             f"{tuple(b)} differ")
        return ax

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"Dot '{self.name}' takes exactly 2 inputs, got {len(input_shape)}")
        a, b = input_shape
        ax = self._axes(input_shape)
        rest = [d for i, d in enumerate(a) if i not in (0, ax[0])] + [d for i, d in enumerate(b) if i not in (0, ax[1])]
        return (a[0],) + (tuple(rest) if rest else (1,))

    def forward(self, xs, training=False):
        self._check(xs)
        a, b = xs
        ax = self._axes([a.shape, b.shape])
        norms = []
        if self.normalize:
            na = np.sqrt(np.maximum(np.sum(a * a, axis=ax[0], keepdims=True), 1e-12))
            nb = np.sqrt(np.maximum(np.sum(b * b, axis=ax[1], keepdims=True), 1e-12))
            a, b = a / na, b / nb
            norms = [na, nb]
        am = np.moveaxis(a, ax[0], -1)                   # (batch, [p,] k)
        bm = np.moveaxis(b, ax[1], 1)                    # (batch, k, [q])
        am3 = am if am.ndim == 3 else am[:, None, :]
        bm3 = bm if bm.ndim == 3 else bm[:, :, None]
        out = np.matmul(am3, bm3)                        # (batch, p or 1, q or 1)
        y = out.reshape((out.shape[0],) + self.compute_output_shape([a.shape, b.shape])[1:])
        return np.ascontiguousarray(y), (a, b, ax, am3, bm3, norms)

    def backward(self, ctx, dy):
        a, b, ax, am3, bm3, norms = ctx
        d3 = dy.reshape(am3.shape[0], am3.shape[1], bm3.shape[2])
        dam = np.matmul(d3, np.swapaxes(bm3, 1, 2))      # (batch, p, k)
        dbm = np.matmul(np.swapaxes(am3, 1, 2), d3)      # (batch, k, q)
        da = np.moveaxis(dam.reshape(np.moveaxis(a, ax[0], -1).shape), -1, ax[0])
        db = np.moveaxis(dbm.reshape(np.moveaxis(b, ax[1], 1).shape), 1, ax[1])
        if self.normalize:   # a = x / |x|: dx = (da - a * <da, a>) / |x| along the axis
            na, nb = norms
            da = (da - a * np.sum(da * a, axis=ax[0], keepdims=True)) / na
            db = (db - b * np.sum(db * b, axis=ax[1], keepdims=True)) / nb
        return [np.ascontiguousarray(da), np.ascontiguousarray(db)]

    def compute_mask(self, x, mask):
        """None, as Keras's Dot: the product mixes the masked steps, and its axes are not the inputs'."""
        return None

    def get_config(self):
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def add(inputs, **kwargs):
    """Functional form of Add: `add([a, b])`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
