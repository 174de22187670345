r"""# Autograd mechanics: PyTorch's graph, hooks and higher-order gradients

Our engine (`tensor.py`) and `torch.autograd` are the same machine. Every tensor that an op
produced while grad mode was on carries a `grad_fn`: a node of the backward graph, whose
`next_functions` point at the nodes of the op's inputs. Leaves that require grad end in an
`AccumulateGrad` node, which adds the incoming gradient to `.grad`; inputs that do not require
grad appear as `None` and are skipped. `backward()` runs the graph from the root in reverse
topological order, exactly like `_run_backward` in `tensor.py`, and `graph_nodes` below walks both
graphs in the same way so the tests can compare them node by node.

Three things sit on top of that graph:

- **Hooks.** `t.register_hook(fn)` calls `fn(grad)` when the gradient with respect to `t` has been
  computed; returning a tensor replaces the gradient. That is how gradient clipping per tensor,
  gradient logging and NaN hunting (`debugging.py`) are built.
- **`retain_grad()`.** Non-leaf tensors do not keep `.grad` (it would cost memory for every
  activation); `retain_grad()` asks for it on one tensor, implemented with a hook.
- **Higher-order gradients.** With `create_graph=True` the backward pass is recorded too, so
  $g = \nabla f(x)$ is itself a differentiable function of $x$; differentiating $g^\top v$ gives the
  Hessian–vector product $H v$ without ever forming $H$:
  $$H v = \nabla_x \big( \nabla_x f(x)^\top v \big).$$

A **custom `torch.autograd.Function`** supplies its own forward and backward. The example is
softplus, $\operatorname{softplus}(x) = \log(1 + e^x)$, whose derivative is the logistic sigmoid,
$\sigma(x)$. The backward is written with differentiable torch ops, so double backward works too,
and `torch.autograd.gradcheck`/`gradgradcheck` verify both against finite differences.

Left out: forward-mode AD (`torch.func.jvp`), `torch.func` transforms, saved-tensor hooks.
Gradient checks used to debug a model are in [debugging](debugging.md); hand-written backward
passes for real layers are in [custom functions](custom_functions.md).

## Exercises

1. Write `central_difference_grad(f, x, eps)`: the gradient of a scalar numpy function `f` at `x`
   by central differences, $(f(x + \epsilon e_i) - f(x - \epsilon e_i)) / 2\epsilon$, one
   coordinate at a time, leaving `x` unchanged. Check it (against `torch.autograd` at
   $\epsilon = 10^{-3}$, where a one-sided difference is too coarse to pass):
   `uv run pytest --exercise autograd.autograd_mechanics`.
2. Write `hvp_finite_difference(grad_f, x, v, eps)`: the Hessian–vector product from two
   gradients, $H v \approx (\nabla f(x + \epsilon v) - \nabla f(x - \epsilon v)) / 2\epsilon$,
   where `grad_f(x)` returns $\nabla f(x)$ as a torch tensor. Check it (against the exact double
   backward of `torch.autograd.functional.hvp`):
   `uv run pytest --exercise autograd.autograd_mechanics`.
3. Write `softplus_curvature(x)`: the second derivative of softplus, elementwise, in closed form
   (differentiate $\sigma(x)$ once more). Check it (against double backward through `Softplus`
   above and through torch's softplus):
   `uv run pytest --exercise autograd.autograd_mechanics`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from masterclass.autograd.tensor import Tensor


def graph_nodes(root: torch.Tensor | Tensor) -> list[tuple[str, list[str]]]:
    """Walk a backward graph breadth first from `root`.

    Works on a torch tensor (`grad_fn.next_functions`) and on an engine `Tensor` (`_parents`).
    Returns `(node name, [child node names])` in visiting order, each node once; leaves that
    require grad are `"AccumulateGrad"`, inputs that don't are omitted.
    """
    # One walk serves both graphs; only how a node is named and how its children are found
    # differ.
    if isinstance(root, Tensor):

        def _name(t: Tensor) -> str:
            return "AccumulateGrad" if t.is_leaf else t._op

        def _children(t: Tensor) -> list[Tensor]:
            return [p for p in t._parents if p.requires_grad]

        start: object = root
    else:
        if root.grad_fn is None:
            raise ValueError(f"graph_nodes: tensor of shape {tuple(root.shape)} has no grad_fn")

        def _name(n: object) -> str:
            return type(n).__name__

        def _children(n: object) -> list[object]:
            return [f for f, _ in n.next_functions if f is not None]

        start = root.grad_fn
    # Breadth first from the root, each node visited once, keyed by identity.
    order, seen, queue = [], {id(start)}, [start]
    while queue:
        node = queue.pop(0)
        kids = _children(node)
        order.append((_name(node), [_name(k) for k in kids]))
        for k in kids:
            if id(k) not in seen:
                seen.add(id(k))
                queue.append(k)
    return order


# Hooks fire during backward with the gradient arriving at their tensor; the default argument
# binds each hook to its own name.
def record_gradients(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list]:
    """Register a hook on each named tensor that stores its gradient when backward reaches it.

    Returns `(store, handles)`: `store[name]` is filled during `backward()`; call
    `handle.remove()` on each handle to detach the hooks.
    """
    store: dict[str, torch.Tensor] = {}
    handles = []
    for key, t in tensors.items():

        def _hook(grad: torch.Tensor, key: str = key) -> None:
            store[key] = grad.detach().clone()

        handles.append(t.register_hook(_hook))
    return store, handles


# A hook that returns a tensor replaces the gradient, so clipping can happen mid-graph.
def clip_hook(max_norm: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """A tensor hook that rescales the incoming gradient to L2 norm at most `max_norm`.

    Returning a tensor from a hook *replaces* the gradient that flows on to the inputs.
    """
    if max_norm <= 0:
        raise ValueError(f"clip_hook: max_norm must be positive, got {max_norm}")

    def _hook(grad: torch.Tensor) -> torch.Tensor:
        norm = grad.norm()
        return grad * (max_norm / norm) if norm > max_norm else grad

    return _hook


# A Hessian-vector product without the Hessian: differentiate $g^\top v$, where $g$ is a gradient
# that was itself recorded.
def hessian_vector_product(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """$H v$ for scalar `f` at `x` (any shape; `v` the same shape) by double backward."""
    if v.shape != x.shape:
        raise ValueError(f"hessian_vector_product: v shape {v.shape} != x shape {x.shape}")
    x = x.detach().requires_grad_(True)
    # First backward with create_graph=True: g is a graph-carrying function of x.
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    # Second backward through the first: the gradient of the scalar g . v.
    (hv,) = torch.autograd.grad((g * v).sum(), x)
    return hv


# A custom `Function` with a backward written in torch ops, so that it can be differentiated
# twice.
class Softplus(torch.autograd.Function):
    r"""$\log(1 + e^x)$ with a hand-written backward $\bar x = \bar y \, \sigma(x)$.

    >>> x = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
    >>> Softplus.apply(x).backward()
    >>> x.grad.item()
    0.5
    """

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        r"""Stable form: $\max(x, 0) + \log(1 + e^{-|x|})$ never exponentiates a large number."""
        ctx.save_for_backward(x)
        return x.clamp(min=0) + torch.log1p(torch.exp(-x.abs()))

    @staticmethod
    def backward(ctx: object, grad_out: torch.Tensor) -> torch.Tensor:
        r"""Multiply by $\sigma(x)$; torch ops here keep double backward possible."""
        (x,) = ctx.saved_tensors
        return grad_out * torch.sigmoid(x)
