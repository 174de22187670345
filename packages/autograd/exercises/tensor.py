r"""# Exercises: A reverse-mode autodiff Tensor on numpy

The three pieces of the engine that are easy to get subtly wrong: summing a gradient back to a
broadcast input's shape, the backward of a maximum with ties, and the order in which the backward
pass visits the graph. Checked against `torch.autograd` and against the engine's own graphs."""

import numpy as np
import torch

from masterclass.autograd import functional as F
from masterclass.autograd.tensor import Tensor


def solution_1_unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` (the broadcast output's shape) over the axes broadcasting added to `shape`."""
    extra = grad.ndim - len(shape)
    g = grad.sum(axis=tuple(range(extra)))  # the new leading axes
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True)  # the size-1 axes, kept as size 1


# Pairs of shapes that broadcast: new leading axes, stretched size-1 axes, both, and neither.
_SHAPE_PAIRS = [
    ((3, 1), (4,)),
    ((4,), (3, 4)),
    ((1, 4), (3, 1)),
    ((2, 1, 5), (3, 1)),
    ((1,), (2, 3)),
    ((), (2, 2)),
    ((2, 3), (2, 3)),
    ((1, 1, 3), (4, 2, 1)),
]


def check_1_unbroadcast(fn) -> None:
    """Compare with the gradient torch's autograd sends to each input of a broadcast multiply."""
    rng = np.random.default_rng(0)
    for shape_a, shape_b in _SHAPE_PAIRS:
        a = torch.tensor(rng.normal(size=shape_a), requires_grad=True)
        b = torch.tensor(rng.normal(size=shape_b), requires_grad=True)
        out = a + b
        g = rng.normal(size=tuple(out.shape))
        want_a, want_b = torch.autograd.grad(out, (a, b), torch.tensor(g))
        for shape, want in ((shape_a, want_a), (shape_b, want_b)):
            got = np.asarray(fn(g.copy(), shape), dtype=float)
            where = f"grad of shape {g.shape} back to {shape}"
            assert got.shape == shape, (
                f"{where}: got shape {got.shape}; sum the new leading axes away and keep the "
                "stretched size-1 axes as size 1"
            )
            # float64 sums of a few numbers in another order: a few ulps.
            assert np.allclose(got, want.numpy(), atol=1e-12), (
                f"{where}: off by {np.abs(got - want.numpy()).max():.2e} from torch"
            )


def solution_2_amax_backward(x: np.ndarray, grad_out: np.ndarray, dim: int) -> np.ndarray:
    """Input gradient of `x.amax(dim)`: the upstream gradient split evenly among the tied maxima."""
    top = x.max(axis=dim, keepdims=True)
    mask = (x == top).astype(x.dtype)
    share = mask / mask.sum(axis=dim, keepdims=True)
    return np.expand_dims(grad_out, dim) * share


def check_2_amax_backward(fn) -> None:
    """Compare with `torch.amax` and with the engine's `Tensor.max`, on inputs full of ties."""
    rng = np.random.default_rng(1)
    cases = [((4, 5), 1), ((4, 5), 0), ((3, 2, 4), -1), ((6,), 0), ((2, 3, 3), 1)]
    for shape, dim in cases:
        # Small integers in float64 make ties common and exact: 0, 1 or 2 per row, often shared.
        x = rng.integers(0, 3, size=shape).astype(float)
        xt = torch.tensor(x, requires_grad=True)
        out = torch.amax(xt, dim=dim)
        g = rng.normal(size=tuple(out.shape))
        (want,) = torch.autograd.grad(out, xt, torch.tensor(g))
        xe = Tensor(x, requires_grad=True)
        xe.max(dim=dim).backward(Tensor(g))
        got = np.asarray(fn(x.copy(), g.copy(), dim), dtype=float)
        where = f"x of shape {shape}, dim={dim}"
        assert got.shape == x.shape, f"{where}: shape {got.shape}, want {x.shape}"
        # The same divisions by the number of ties: exact up to rounding.
        assert np.allclose(got, want.numpy(), atol=1e-12), (
            f"{where}: off by {np.abs(got - want.numpy()).max():.2e} from torch.amax; with t tied "
            "maxima each gets 1/t of the upstream gradient"
        )
        assert np.allclose(got, xe.grad.numpy(), atol=1e-12), f"{where}: differs from the engine"


def solution_3_topological_order(parents: dict[str, list[str]], root: str) -> list[str]:
    """Every node reachable from `root`, each after all of its parents, `root` last; no recursion."""
    order: list[str] = []
    visited: set[str] = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        stack.extend((p, False) for p in parents[node] if p not in visited)
    return order


def _engine_graph(root: Tensor) -> dict[str, list[str]]:
    """The engine's graph as `{name: [parent names]}`, only nodes that require grad."""
    names: dict[int, str] = {}

    def name(t: Tensor) -> str:
        if id(t) not in names:
            names[id(t)] = f"{t._op or 'leaf'}#{len(names)}"
        return names[id(t)]

    graph: dict[str, list[str]] = {}
    todo = [root]
    while todo:
        t = todo.pop()
        if name(t) in graph:
            continue
        kids = [p for p in t._parents if p.requires_grad]
        graph[name(t)] = [name(p) for p in kids]
        todo.extend(kids)
    return graph


def _graphs() -> list[tuple[str, dict[str, list[str]], str]]:
    rng = np.random.default_rng(2)
    x = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    w = Tensor(rng.normal(size=(2, 4)), requires_grad=True)
    h = F.tanh(x @ w)
    loss = (h * h + h.exp()).sum() + (x * x).mean()  # h and x are each used twice
    y = F.cross_entropy(x @ w, [0, 3, 1])
    diamond = {"loss": ["b", "c"], "b": ["a"], "c": ["a"], "a": []}
    # A chain far deeper than Python's recursion limit (1000): a recursive search fails here.
    chain = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(5000)}
    shared = {"y": ["x", "x"], "x": []}  # x * x: the same parent twice
    unused = {"out": ["a"], "a": [], "orphan": ["a"]}  # orphan is not reachable from out
    cases = [("diamond", diamond, "loss"), ("x * x", shared, "y"), ("orphan", unused, "out")]
    cases.append(("chain of 5000", chain, "n4999"))
    for label, root in (("tanh MLP loss", loss), ("engine cross-entropy", y)):
        graph = _engine_graph(root)
        cases.append((label, graph, next(iter(graph))))
    return cases


def check_3_topological_order(fn) -> None:
    """Check the order's defining property on small graphs, engine graphs and a deep chain."""
    for label, graph, root in _graphs():
        order = list(fn({k: list(v) for k, v in graph.items()}, root))
        reachable, todo = set(), [root]
        while todo:
            node = todo.pop()
            if node not in reachable:
                reachable.add(node)
                todo.extend(graph[node])
        assert len(order) == len(set(order)), f"{label}: a node appears twice in {order[:8]}..."
        assert set(order) == reachable, (
            f"{label}: the order holds {sorted(set(order) - reachable)[:5]} that are not "
            f"reachable from {root!r} and misses {sorted(reachable - set(order))[:5]}"
        )
        assert order[-1] == root, f"{label}: the root {root!r} must come last, got {order[-1]!r}"
        position = {node: i for i, node in enumerate(order)}
        for node in order:
            for parent in graph[node]:
                assert position[parent] < position[node], (
                    f"{label}: {node!r} comes before its parent {parent!r}; walked backwards, "
                    f"{parent!r} would run its VJP before {node!r} had sent it a gradient"
                )
