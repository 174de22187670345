r"""# NumPy for ML: vectorisation, broadcasting, strides and einsum

The engine in `tensor.py` is a thin layer over NumPy, and it is fast only because every op is one
NumPy call over whole arrays. This chapter isolates the four ideas that make that work.

**Vectorisation.** A Python loop pays interpreter overhead (tens of nanoseconds) per element; a
NumPy call pays it once and runs a compiled loop. Pairwise squared distances between rows of
$X \in \mathbb{R}^{n \times d}$ and $Y \in \mathbb{R}^{m \times d}$ show the rewrite that turns a
triple loop into matrix algebra:

$$\lVert x_i - y_j \rVert^2 = \lVert x_i \rVert^2 + \lVert y_j \rVert^2 - 2\, x_i^{\top} y_j
\quad\Longrightarrow\quad D = r_X \mathbf{1}^{\top} + \mathbf{1} r_Y^{\top} - 2 X Y^{\top}.$$

`bench/vectorisation.py` measures the loop against the vectorised version (typically 100-1000x).

**Broadcasting.** Shapes align from the right; a size-1 (or missing) dimension stretches to match.
`(n, 1) + (1, m)` is an outer sum without materialising either operand at `(n, m)`; the engine's
`unbroadcast` is the backward of exactly this rule. `broadcast_shape` in `tensor_operations.py`
implements the rule.

**Strides and views.** An array is a pointer, a shape and strides in bytes. Changing only the
strides gives a new *view* with no copy: `sliding_windows` builds every length-$w$ window of a
signal as an `(n - w + 1, w)` array whose rows overlap in memory, by giving both axes the stride
of one element.

**einsum.** Index notation names every axis: `"bij,bjk->bik"` is batched matmul, `"ii->"` a trace,
`"bhqd,bhkd->bhqk"` attention scores. `einsum` below implements it from scratch by broadcasting:
align every operand to the full list of letters (inserting size-1 axes), multiply, and sum over the
letters missing from the output:

$$\text{out}[\text{kept}] = \sum_{\text{summed}} \prod_k \text{operand}_k[\text{its letters}].$$

Left out: `einsum` path optimisation (NumPy's `optimize=True` picks a contraction order to avoid
the full product tensor, which ours materialises), ellipsis `...`, memory layout tuning.

The engine built on these ideas is the [next chapter](tensor.md); PyTorch's own strides and views
are taken apart in [tensor operations](tensor_operations.md).

## Exercises

1. Write `patches_2d(image, k)`: every `k x k` patch of a 2-D array as a read-only view of shape
   `(H - k + 1, W - k + 1, k, k)`, built with `as_strided` from `image.strides` (the image may be
   a transpose or a step slice, so do not assume row-major). Check it:
   `uv run pytest --exercise autograd.numpy_fundamentals`.
2. Write `correlate_valid(x, w)`: $y_i = \sum_j x_{i+j} w_j$ for 1-D `x` and `w` (what deep
   learning calls a convolution), as the sliding windows of `x` times `w` in one matrix-vector
   product, no Python loop. Check it (against `np.correlate`):
   `uv run pytest --exercise autograd.numpy_fundamentals`.
3. Write `kmeans_step(x, centroids)`: one Lloyd step of k-means on `x (N, d)` with
   `centroids (K, d)`, returning each row's nearest centroid `(N,)` and the new centroids, the
   means of their clusters `(K, d)`; a centroid with no points stays where it is. Use
   broadcasting, `(N, 1, d) - (1, K, d)`, for the distances, and no loop over points. Check it:
   `uv run pytest --exercise autograd.numpy_fundamentals`.
"""

from __future__ import annotations

import numpy as np


def pairwise_sq_distances_loop(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""$\lVert x_i - y_j\rVert^2$ with Python loops: the baseline. x `(n, d)`, y `(m, d)` → `(n, m)`."""
    n, m = len(x), len(y)
    out = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            total = 0.0
            for k in range(x.shape[1]):
                diff = x[i, k] - y[j, k]
                total += diff * diff
            out[i, j] = total
    return out


# Vectorised: $\lVert x - y\rVert^2 = \lVert x\rVert^2 + \lVert y\rVert^2 - 2x^\top y$, so the
# $O(nmd)$ work becomes one matrix product.
def pairwise_sq_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The same, vectorised: norms plus one matrix product. x `(n, d)`, y `(m, d)` → `(n, m)`."""
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"pairwise_sq_distances: need x (n, d) and y (m, d), got {x.shape} and {y.shape}"
        )
    rx = (x * x).sum(axis=1)[:, None]  # (n, 1)
    ry = (y * y).sum(axis=1)[None, :]  # (1, m)
    # Cancellation can leave tiny negatives where the distance is ~0; distances are >= 0.
    return np.maximum(rx + ry - 2.0 * x @ y.T, 0.0)  # (n, m), broadcast (n,1)+(1,m)


def sliding_windows(x: np.ndarray, window: int) -> np.ndarray:
    """All length-`window` windows of a 1-D array as a read-only `(n - window + 1, window)` view.

    >>> sliding_windows(np.arange(5), 3).tolist()
    [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    """
    if x.ndim != 1 or not 1 <= window <= len(x):
        raise ValueError(
            f"sliding_windows: need a 1-D array and 1 <= window <= len, got shape {x.shape}, "
            f"window {window}"
        )
    step = x.strides[0]  # bytes between consecutive elements
    # Moving one window forward and one element inside a window both advance by one element.
    return np.lib.stride_tricks.as_strided(
        x, shape=(len(x) - window + 1, window), strides=(step, step), writeable=False
    )


def einsum(spec: str, *operands: np.ndarray) -> np.ndarray:
    """Einstein summation by broadcasting, e.g. `einsum("bij,bjk->bik", a, b)`.

    Supports explicit (`->`) and implicit output (letters seen once, sorted), and repeated letters
    within an operand (diagonals, `"ii->i"`). No ellipsis.

    >>> einsum("ij,jk->ik", np.eye(2), np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    # Parse the spec into operand terms and output letters; the implicit output is the letters
    # seen exactly once, sorted.
    spec = spec.replace(" ", "")
    if "." in spec:
        raise ValueError(f"einsum: ellipsis is not supported, got {spec!r}")
    inputs, _, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {spec!r} names {len(terms)} operands, got {len(operands)}")
    if "->" not in spec:
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if missing := set(output) - set("".join(terms)):
        raise ValueError(
            f"einsum: output letters {sorted(missing)} appear in no operand of {spec!r}"
        )
    # Every letter gets an axis of the broadcast space, in order of first appearance; each operand
    # is checked against its term.
    all_letters = list(dict.fromkeys("".join(terms) + output))
    sizes: dict[str, int] = {}
    aligned = []
    for term, op in zip(terms, operands, strict=True):
        op = np.asarray(op)
        if len(term) != op.ndim:
            raise ValueError(
                f"einsum: term {term!r} has {len(term)} letters, operand shape {op.shape}"
            )
        # A letter repeated inside one operand means "walk the diagonal": take it, and the
        # letter now appears once (np.diagonal moves the merged axis to the end).
        while len(set(term)) < len(term):
            c = next(c for c in term if term.count(c) > 1)
            i, j = term.index(c), term.index(c, term.index(c) + 1)
            op = np.diagonal(op, axis1=i, axis2=j)
            term = term[:i] + term[i + 1 : j] + term[j + 1 :] + c
        for c, n in zip(term, op.shape, strict=True):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: letter {c!r} has sizes {sizes[c]} and {n}")
        # Permute to the global letter order, then insert size-1 axes for absent letters.
        order = sorted(range(len(term)), key=lambda k: all_letters.index(term[k]))
        op = op.transpose(order)
        shape = [sizes[c] if c in term else 1 for c in all_letters]
        aligned.append(op.reshape(shape))
    product = aligned[0]
    for op in aligned[1:]:
        product = product * op  # broadcast over the full letter space
    summed = tuple(k for k, c in enumerate(all_letters) if c not in output)
    result = product.sum(axis=summed) if summed else product
    kept = [c for c in all_letters if c in output]
    return result.transpose([kept.index(c) for c in output])
