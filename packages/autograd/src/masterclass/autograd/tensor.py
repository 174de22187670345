r"""# A reverse-mode autodiff Tensor on numpy

A `Tensor` wraps a numpy array and remembers how it was made: which tensors it came from
(its *parents*) and a function that turns the gradient of the loss with respect to it into
gradients with respect to those parents. Calling `backward()` on a scalar walks that graph
from the output to the leaves in reverse topological order, applying the chain rule

$$\frac{\partial L}{\partial x} = \sum_{y \,\in\, \mathrm{children}(x)}
  \Big(\frac{\partial y}{\partial x}\Big)^{\!\top} \frac{\partial L}{\partial y},$$

one vector–Jacobian product (VJP) per edge, never forming a Jacobian. This is exactly what
`torch.autograd` does; the tests replay every operation here in PyTorch (float64, forward and
backward) and against central differences.

Design choices that mirror PyTorch:

- **Broadcasting-aware gradients.** If `a` of shape `(3, 1)` is added to `b` of shape `(4,)`,
  the output is `(3, 4)`; the gradient flowing back to `a` is summed over the broadcast axes
  ("unbroadcast") so that `a.grad.shape == a.shape`.
- **Accumulation.** Leaf gradients add up across `backward()` calls until `zero_grad()`.
- **`requires_grad` propagation** and `no_grad()`: an op records a graph node only if grad mode is
  on and one of its inputs requires grad.
- **Higher-order gradients.** Every backward rule is written with `Tensor` operations, not raw
  numpy. With `create_graph=True` the backward pass is itself recorded, so a gradient can be
  differentiated again (Hessian–vector products; see the tests).

Strictness where PyTorch is permissive: binary ops refuse to mix float32 and float64 (PyTorch would
promote), so that a silent upcast never hides in a benchmark; Python scalars take the tensor's dtype.

Left out: views sharing storage with their base (every op here returns a fresh array), in-place
ops and the version counter (taught on PyTorch itself in `tensor_operations.py`), freeing the graph
after backward (`retain_graph`), devices and integer autograd.

The elementwise nonlinearities and losses built on these primitives live in
[the next chapter](functional.md); the array ideas this file stands on (broadcasting, strides,
vectorisation) are in [NumPy for ML](numpy_fundamentals.md), and PyTorch's graph of the same
computations is compared with ours in [autograd mechanics](autograd_mechanics.md).

## Exercises

1. Write `unbroadcast(grad, shape)` on numpy arrays: sum a gradient that has the broadcast
   output's shape back to an input of `shape` (the new leading axes summed away, the stretched
   size-1 axes summed and kept). Check it (against `torch.autograd` on broadcast adds):
   `uv run pytest --exercise autograd.tensor`.
2. Write `amax_backward(x, grad_out, dim)`: the input gradient of `x.max(dim)`, where `t` tied
   maxima each receive $1/t$ of the upstream gradient and every other entry zero (the convention
   of `torch.amax`). Check it: `uv run pytest --exercise autograd.tensor`.
3. Write `topological_order(parents, root)`: given `{node: [its parents]}`, return every node
   reachable from `root`, each after all of its parents and `root` last, the order whose reverse
   the backward pass walks. No recursion: the checker includes a chain 5000 nodes deep. Check
   it: `uv run pytest --exercise autograd.tensor`.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np

# Grad mode is per thread, as in PyTorch: `no_grad()` in one thread must not switch off
# graph recording in another (the DataLoader's worker threads, a profiler thread).
_state = threading.local()

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_grad_enabled() -> bool:
    """Whether operations currently record a graph (the default is True)."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Context manager that turns graph recording on or off, restoring the old mode after."""
    previous = is_grad_enabled()
    _state.enabled = bool(mode)
    try:
        yield
    finally:
        _state.enabled = previous


# `no_grad` is `set_grad_enabled(False)`: evaluation and optimizer steps record nothing.
def no_grad() -> contextlib.AbstractContextManager[None]:
    """Context manager under which no graph is recorded (evaluation, optimizer steps)."""
    return set_grad_enabled(False)


def _as_array(data: object, dtype: np.dtype | None) -> np.ndarray:
    array = np.asarray(data, dtype=dtype)
    if array.dtype.kind in "iub" and dtype is None:
        # Integer data (class labels, indices) stays integer; floats default to float64.
        return array
    if array.dtype not in _FLOAT_DTYPES:
        array = array.astype(np.float64)
    return array


# The gradient reaching a broadcast input has the *output's* shape. Broadcasting copied the
# input along (a) new leading axes and (b) axes where the input had size 1, so the VJP of the
# copy is a sum over exactly those axes:
# $$\bar a_{i} = \sum_{j \,:\, j \mapsto i} \bar y_{j}.$$
def unbroadcast(grad: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Sum `grad` over the axes that broadcasting added, returning a tensor of `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    return grad.sum(dim=axes, keepdim=True).reshape(shape) if axes else grad.reshape(shape)


# The engine's one class. A tensor holds a NumPy array and, when a recorded op computed it, its
# parents and the closure that maps its gradient to theirs.
class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Args:
        data: anything `numpy.asarray` accepts; floats become float64 unless `dtype` is given.
        requires_grad: whether gradients should be accumulated into `.grad` for this leaf.
        dtype: `numpy.float32` or `numpy.float64` (integer tensors cannot require grad).

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.data.tolist()
    [2.0, 4.0, 6.0]
    """

    __array_priority__ = 1000  # make `ndarray * Tensor` call Tensor.__rmul__

    # A new tensor is a leaf; only float tensors may ask for gradients.
    def __init__(self, data: object, requires_grad: bool = False, dtype: object = None) -> None:
        self.data = _as_array(data.data if isinstance(data, Tensor) else data, dtype)
        if requires_grad and self.data.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"Tensor: only float32/float64 tensors can require gradients, got dtype "
                f"{self.data.dtype} with shape {self.data.shape}; cast with dtype=np.float64"
            )
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        # Graph bookkeeping: parents, the VJP closure and the op's name, spelled as PyTorch
        # names its `grad_fn` classes (`MulBackward0`) so the two graphs can be compared.
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable[[Tensor], Sequence[Tensor | None]] | None = None
        self._op = ""
        self._retain = False

    # ----------------------------------------------------------------------------------------
    # Introspection
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype."""
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by a recorded op."""
        return self._backward is None

    @property
    def grad_fn(self) -> str | None:
        """The name of the op that produced this tensor (None for leaves)."""
        return self._op or None

    # Printing, and conversion to Python numbers and NumPy.
    def __repr__(self) -> str:
        extra = f", grad_fn={self._op}" if self._op else ""
        extra += ", requires_grad=True" if self.requires_grad and not self._op else ""
        return f"Tensor({self.data!r}{extra})"

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    # Graph controls: `detach` makes a new leaf on the same data, cut from the graph;
    # `requires_grad_` switches tracking on a leaf.
    def detach(self) -> Tensor:
        """A new leaf sharing the data, cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set `requires_grad` on a leaf in place and return self."""
        if not self.is_leaf:
            raise ValueError(f"requires_grad_: only leaves can change requires_grad ({self._op})")
        if flag and self.data.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"requires_grad_: only float32/float64 tensors can require gradients, got "
                f"dtype {self.data.dtype} with shape {self.data.shape}"
            )
        self.requires_grad = bool(flag)
        return self

    # Gradient entry points: `backward` runs the engine from this tensor; `retain_grad` and
    # `zero_grad` manage `.grad`.
    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retain = True

    def backward(self, grad: Tensor | None = None, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad.

        `grad` is the upstream gradient (required unless self is a scalar); with
        `create_graph=True` the backward pass is recorded for higher-order derivatives.
        """
        _accumulate(self, grad, create_graph)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    # ----------------------------------------------------------------------------------------
    # Recording an op. `_make` is the only place a graph node is created: the result requires
    # grad iff grad mode is on and some parent requires grad; otherwise no closure is kept and
    # the parents can be garbage-collected as soon as the caller drops them.
    @staticmethod
    def _make(
        data: np.ndarray,
        parents: tuple[Tensor, ...],
        backward: Callable[[Tensor], Sequence[Tensor | None]],
        op: str,
    ) -> Tensor:
        out = Tensor.__new__(Tensor)
        out.data = data
        out.grad = None
        out._retain = False
        if is_grad_enabled() and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents, out._backward, out._op = parents, backward, op
        else:
            out.requires_grad = False
            out._parents, out._backward, out._op = (), None, ""
        return out

    # Operands: a Python number or array becomes a constant tensor of this dtype; mixing float32
    # and float64 tensors is refused rather than silently promoted.
    def _coerce(self, other: object, op: str) -> Tensor:
        if isinstance(other, Tensor):
            if other.dtype != self.dtype and {other.dtype, self.dtype} <= set(_FLOAT_DTYPES):
                raise TypeError(
                    f"{op}: dtype mismatch {self.dtype} {self.shape} vs {other.dtype} "
                    f"{other.shape}; cast one side so both are float32 or both float64"
                )
            return other
        dtype = self.dtype if self.dtype in _FLOAT_DTYPES else None
        return Tensor(other, dtype=dtype)

    def _binary_shape(self, other: Tensor, op: str) -> None:
        try:
            np.broadcast_shapes(self.shape, other.shape)
        except ValueError:
            raise ValueError(
                f"{op}: cannot broadcast shapes {self.shape} and {other.shape}"
            ) from None

    # ----------------------------------------------------------------------------------------
    # Elementwise arithmetic. Each rule is the partial derivative times the upstream gradient,
    # then unbroadcast: for $y = a b$, $\bar a = \bar y\, b$ and $\bar b = \bar y\, a$; for
    # $y = a / b$, $\bar a = \bar y / b$ and $\bar b = -\bar y\, a / b^2$.
    def __add__(self, other: object) -> Tensor:
        other = self._coerce(other, "add")
        self._binary_shape(other, "add")
        a, b = self, other
        return Tensor._make(
            a.data + b.data,
            (a, b),
            lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)),
            "AddBackward0",
        )

    # Subtraction is addition with the second gradient negated.
    def __sub__(self, other: object) -> Tensor:
        other = self._coerce(other, "sub")
        self._binary_shape(other, "sub")
        a, b = self, other
        return Tensor._make(
            a.data - b.data,
            (a, b),
            lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)),
            "SubBackward0",
        )

    # Products and quotients: each input's gradient is the upstream gradient times the partial
    # derivative with respect to that input.
    def __mul__(self, other: object) -> Tensor:
        other = self._coerce(other, "mul")
        self._binary_shape(other, "mul")
        a, b = self, other
        return Tensor._make(
            a.data * b.data,
            (a, b),
            lambda g: (unbroadcast(g * b, a.shape), unbroadcast(g * a, b.shape)),
            "MulBackward0",
        )

    # The quotient rule: $\partial(a/b)/\partial b = -a/b^2$.
    def __truediv__(self, other: object) -> Tensor:
        other = self._coerce(other, "div")
        self._binary_shape(other, "div")
        a, b = self, other
        return Tensor._make(
            a.data / b.data,
            (a, b),
            lambda g: (unbroadcast(g / b, a.shape), unbroadcast(-g * a / (b * b), b.shape)),
            "DivBackward0",
        )

    # $y = a^p$ has $\partial y/\partial a = p\,a^{p-1}$ and, for a tensor exponent,
    # $\partial y/\partial p = a^p \log a$ (defined for $a > 0$).
    def __pow__(self, exponent: object) -> Tensor:
        if isinstance(exponent, Tensor):
            exponent = self._coerce(exponent, "pow")
            self._binary_shape(exponent, "pow")
            a, p = self, exponent

            def _backward(g: Tensor) -> tuple[Tensor, Tensor]:
                out = a**p
                return (
                    unbroadcast(g * p * a ** (p - 1.0), a.shape),
                    unbroadcast(g * out * a.log(), p.shape),
                )

            return Tensor._make(a.data**p.data, (a, p), _backward, "PowBackward1")
        if not isinstance(exponent, int | float):
            raise TypeError(f"pow: exponent must be a number or Tensor, got {type(exponent)}")
        a, k = self, float(exponent)
        return Tensor._make(a.data**k, (a,), lambda g: (g * k * a ** (k - 1.0),), "PowBackward0")

    # Negation, and the reflected operators: `2 * x` calls `x.__rmul__(2)`, which turns 2 into a
    # tensor and reuses the forward rule.
    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,), "NegBackward0")

    def __radd__(self, other: object) -> Tensor:
        return self._coerce(other, "add") + self

    def __rsub__(self, other: object) -> Tensor:
        return self._coerce(other, "sub") - self

    def __rmul__(self, other: object) -> Tensor:
        return self._coerce(other, "mul") * self

    def __rtruediv__(self, other: object) -> Tensor:
        return self._coerce(other, "div") / self

    def __rpow__(self, other: object) -> Tensor:
        return self._coerce(other, "pow") ** self

    # $y = e^x$ is its own derivative: $\bar x = \bar y\, e^x$; $\log$ gives $\bar x = \bar y / x$.
    # The rule recomputes $e^x$ from `x` inside the backward (one extra `exp`) so that, with
    # `create_graph=True`, the recorded backward is a function of `x` and can be differentiated.
    def exp(self) -> Tensor:
        """Elementwise $e^x$."""
        x = self
        return Tensor._make(np.exp(x.data), (x,), lambda g: (g * x.exp(),), "ExpBackward0")

    def log(self) -> Tensor:
        """Elementwise natural logarithm."""
        x = self
        return Tensor._make(np.log(x.data), (x,), lambda g: (g / x,), "LogBackward0")

    # ----------------------------------------------------------------------------------------
    # Matrix multiplication, batched over leading dims with broadcasting, as `torch.matmul`.
    # For $Y = A B$: $\bar A = \bar Y B^{\top}$ and $\bar B = A^{\top} \bar Y$, then unbroadcast
    # over batch dims. 1-D operands are promoted to a row / column and the added dim removed.
    def __matmul__(self, other: Tensor) -> Tensor:
        other = self._coerce(other, "matmul")
        a, b = self, other
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need >= 1 dim, got {a.shape} @ {b.shape}")
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ValueError(
                f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
                f"({a.shape[-1]} != {inner_b})"
            )
        # 1-D operands: promote to a row or a column, multiply, and drop the added dimension; the
        # reshapes carry the gradient back.
        if a.ndim == 1 and b.ndim == 1:
            return (a.reshape(1, -1) @ b.reshape(-1, 1)).reshape(())
        if a.ndim == 1:
            return (a.reshape(1, -1) @ b).squeeze_dim(-2)
        if b.ndim == 1:
            return (a @ b.reshape(-1, 1)).squeeze_dim(-1)
        # The general case: the batch dims broadcast, and each gradient is unbroadcast back to
        # its operand's shape.
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions do not broadcast: {a.shape} @ {b.shape}"
            ) from None
        return Tensor._make(
            a.data @ b.data,
            (a, b),
            lambda g: (
                unbroadcast(g @ b.transpose(-1, -2), a.shape),
                unbroadcast(a.transpose(-1, -2) @ g, b.shape),
            ),
            "MmBackward0",
        )

    # ----------------------------------------------------------------------------------------
    # Reductions. The VJP of a sum copies the gradient back along the reduced axes (a broadcast);
    # a mean divides by the count; a max sends the gradient to the arg-max, split evenly among
    # ties, which is `torch.amax`'s convention.
    def _dims(self, dim: int | Sequence[int] | None) -> tuple[int, ...]:
        if dim is None:
            return tuple(range(self.ndim))
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        for d in dims:
            if not -self.ndim <= d < max(self.ndim, 1):
                raise ValueError(f"dim {d} out of range for shape {self.shape}")
        normalised = tuple(sorted(d % max(self.ndim, 1) for d in dims))
        if len(set(normalised)) != len(normalised):
            raise ValueError(f"dims {dims} repeat a dimension of shape {self.shape}")
        return normalised

    # A sum's backward reshapes `g` to keep the reduced axes as size 1, then expands it to the
    # input's shape; a mean is a sum divided by the count.
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Sum over `dim` (all dims if None)."""
        x, dims = self, self._dims(dim)
        kept = np.sum(x.data, axis=dims, keepdims=True).shape

        def _backward(g: Tensor) -> tuple[Tensor]:
            return (g.reshape(kept).expand(x.shape),)

        return Tensor._make(
            x.data.sum(axis=dims, keepdims=keepdim), (x,), _backward, "SumBackward0"
        )

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Mean over `dim` (all dims if None)."""
        dims = self._dims(dim)
        count = int(np.prod([self.shape[d] for d in dims])) if dims else 1
        return self.sum(dim=dims, keepdim=keepdim) / float(count)

    # The maximum is computed once, with the reduced axes kept, so the backward can compare every
    # entry against it.
    def max(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Maximum values over `dim` (like `torch.amax`); ties share the gradient evenly."""
        x, dims = self, self._dims(dim)
        if x.data.size == 0:
            raise ValueError(f"max: cannot reduce an empty tensor of shape {x.shape}")
        kept = x.data.max(axis=dims, keepdims=True)

        def _backward(g: Tensor) -> tuple[Tensor]:
            mask = (x.data == kept).astype(x.dtype)
            mask /= mask.sum(axis=dims, keepdims=True)
            return (g.reshape(kept.shape).expand(x.shape) * Tensor(mask),)

        out = kept if keepdim else np.squeeze(kept, axis=dims)
        return Tensor._make(out, (x,), _backward, "AmaxBackward0")

    # `expand` copies here; its gradient sums back over the copied axes.
    def expand(self, shape: tuple[int, ...]) -> Tensor:
        """Broadcast to `shape` (a copy here, a stride-0 view in PyTorch)."""
        x = self
        try:
            data = np.broadcast_to(x.data, shape).copy()
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {tuple(shape)}") from None
        return Tensor._make(data, (x,), lambda g: (unbroadcast(g, x.shape),), "ExpandBackward0")

    # ----------------------------------------------------------------------------------------
    # Shape ops only move numbers around, so their VJPs move the gradient back: reshape undoes
    # reshape, a transpose is its own inverse, indexing scatters into zeros (adding where an
    # index repeats), and concatenation slices the gradient into pieces.
    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """Same data, new shape (one entry may be -1)."""
        x = self
        target = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        try:
            data = x.data.reshape(target)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape {x.shape} ({x.data.size} elements) to {tuple(target)}"
            ) from None
        return Tensor._make(data, (x,), lambda g: (g.reshape(x.shape),), "ViewBackward0")

    # Squeezing and unsqueezing are reshapes, so they inherit its gradient.
    def squeeze_dim(self, dim: int) -> Tensor:
        """Remove one size-1 dimension."""
        shape = list(self.shape)
        if shape[dim] != 1:
            raise ValueError(f"squeeze_dim: dim {dim} of shape {self.shape} is not 1")
        del shape[dim]
        return self.reshape(tuple(shape))

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a size-1 dimension at `dim`."""
        shape = list(self.shape)
        shape.insert(dim % (self.ndim + 1), 1)
        return self.reshape(tuple(shape))

    # A transpose's gradient is the same transpose; `.T` is the 2-D shorthand.
    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two dimensions."""
        x = self
        return Tensor._make(
            np.swapaxes(x.data, dim0, dim1),
            (x,),
            lambda g: (g.transpose(dim0, dim1),),
            "TransposeBackward0",
        )

    @property
    def T(self) -> Tensor:
        """Transpose of a 2-D tensor."""
        if self.ndim != 2:
            raise ValueError(f"T: expects a 2-D tensor, got shape {self.shape}")
        return self.transpose(0, 1)

    # Indexing accepts tensors as indices; its gradient scatters `g` back into zeros of the
    # input's shape.
    def __getitem__(self, index: object) -> Tensor:
        x = self
        index = index.data if isinstance(index, Tensor) else index
        if isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        try:
            data = np.array(x.data[index])
        except IndexError as err:
            raise IndexError(f"getitem: {err} (tensor of shape {x.shape})") from None
        return Tensor._make(
            data, (x,), lambda g: (_scatter_add(g, index, x.shape),), "IndexBackward0"
        )

    # The scatter that undoes indexing is itself differentiable: its VJP is the same indexing.
    # That closes the loop needed for higher-order gradients through `x[idx]`.


def _scatter_add(g: Tensor, index: object, shape: tuple[int, ...]) -> Tensor:
    data = np.zeros(shape, dtype=g.dtype)
    np.add.at(data, index, g.data)
    return Tensor._make(data, (g,), lambda gg: (gg[index],), "IndexPutBackward0")


# Concatenation: the forward joins the arrays; the backward slices `g` at the cumulative sizes,
# one piece per input.
def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate tensors along an existing dimension, as `torch.cat`.

    >>> cat([Tensor([1.0]), Tensor([2.0, 3.0])]).data.tolist()
    [1.0, 2.0, 3.0]
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expects a non-empty list of tensors")
    try:
        data = np.concatenate([t.data for t in tensors], axis=dim)
    except ValueError:
        shapes = [t.shape for t in tensors]
        raise ValueError(f"cat: shapes {shapes} do not match outside dim {dim}") from None
    # The cumulative sizes mark where each input's slice of the output begins and ends.
    sizes = np.cumsum([0] + [t.shape[dim] for t in tensors])
    ndim = tensors[0].ndim

    def _backward(g: Tensor) -> list[Tensor]:
        grads = []
        for lo, hi in itertools.pairwise(sizes):
            index = [slice(None)] * ndim
            index[dim] = slice(int(lo), int(hi))
            grads.append(g[tuple(index)])
        return grads

    return Tensor._make(data, tuple(tensors), _backward, "CatBackward0")


# Stacking is concatenation along a new size-1 dimension.
def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack tensors along a new dimension, as `torch.stack`."""
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)


# ---------------------------------------------------------------------------------------------
# The backward pass. A depth-first search (iterative, so deep graphs don't hit Python's
# recursion limit) orders nodes so that each comes after everything it depends on; walking that
# order backwards guarantees a node's gradient is complete (all children have contributed)
# before its own VJP runs.
def _topological_order(root: Tensor) -> list[Tensor]:
    order: list[Tensor] = []
    visited: set[int] = set()
    stack_: list[tuple[Tensor, bool]] = [(root, False)]
    while stack_:
        node, expanded = stack_.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack_.append((node, True))
        for parent in node._parents:
            if id(parent) not in visited and parent.requires_grad:
                stack_.append((parent, False))
    return order


# The core shared by `backward` and `grad`. It first checks the root and seeds its gradient: ones
# for a scalar output, otherwise the gradient the caller passed.
def _run_backward(
    root: Tensor, grad: Tensor | None, create_graph: bool, op: str
) -> tuple[dict[int, Tensor], list[Tensor]]:
    if not root.requires_grad:
        raise RuntimeError(
            f"{op}: tensor of shape {root.shape} does not require grad and has no grad_fn; "
            "did you forget requires_grad=True or call it under no_grad()?"
        )
    if grad is None:
        if root.data.size != 1:
            raise ValueError(
                f"{op}: grad can be created implicitly only for scalar outputs, got shape "
                f"{root.shape}; pass a gradient of that shape or reduce with .sum() first"
            )
        grad = Tensor(np.ones_like(root.data))
    elif grad.shape != root.shape:
        raise ValueError(f"{op}: gradient shape {grad.shape} does not match output {root.shape}")
    # Walk the order backwards, adding each node's VJP into its parents' running gradients; with
    # `create_graph` the VJPs are recorded too, so the result can be differentiated again.
    grads: dict[int, Tensor] = {id(root): grad}
    order = _topological_order(root)
    with set_grad_enabled(create_graph):
        for node in reversed(order):
            g = grads.get(id(node))
            if g is None or node._backward is None:
                continue
            if node._retain:
                node.grad = g if node.grad is None else node.grad + g
            for parent, pg in zip(node._parents, node._backward(g), strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                previous = grads.get(id(parent))
                grads[id(parent)] = pg if previous is None else previous + pg
    return grads, order


# `backward` adds the leaves' gradients into `.grad`, detached unless the backward pass itself was
# recorded.
def _accumulate(root: Tensor, grad: Tensor | None, create_graph: bool) -> None:
    grads, order = _run_backward(root, grad, create_graph, "backward")
    for leaf in order:
        if leaf.is_leaf and leaf.requires_grad and id(leaf) in grads:
            g = grads[id(leaf)]
            g = g if create_graph else g.detach()
            leaf.grad = g if leaf.grad is None else leaf.grad + g


# `grad` returns the gradients instead, zeros for an input the output does not depend on.
def grad(
    output: Tensor,
    inputs: Sequence[Tensor],
    grad_output: Tensor | None = None,
    create_graph: bool = False,
) -> list[Tensor]:
    """Gradients of `output` with respect to `inputs`, without touching `.grad` (as
    `torch.autograd.grad`). With `create_graph=True` the result can be differentiated again."""
    grads, _ = _run_backward(output, grad_output, create_graph, "grad")
    result = []
    for x in inputs:
        g = grads.get(id(x))
        result.append(Tensor(np.zeros_like(x.data)) if g is None else g)
    return result
