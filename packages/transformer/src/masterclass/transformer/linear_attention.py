r"""# Linear attention: kernel feature maps and causal prefix sums

Softmax attention writes output $i$ as $\sum_j \operatorname{sim}(q_i, k_j) v_j / \sum_j
\operatorname{sim}(q_i, k_j)$ with $\operatorname{sim}(q, k) = \exp(q \cdot k / \sqrt{D})$. Nothing
in that formula needs the exponential: any non-negative similarity gives a weighted average.
Katharopoulos et al. (2020, *Transformers are RNNs*) pick one that factorises,
$\operatorname{sim}(q, k) = \phi(q) \cdot \phi(k)$ for a **feature map** $\phi: \mathbb{R}^D \to
\mathbb{R}_{\ge 0}^M$, and then the associativity of matrix products does the rest:

$$
y_i = \frac{\phi(q_i)^\top \sum_j \phi(k_j) v_j^\top}{\phi(q_i)^\top \sum_j \phi(k_j)}
\qquad\Longrightarrow\qquad
Y = \frac{\phi(Q)\,\bigl(\phi(K)^\top V\bigr)}{\phi(Q)\,\bigl(\phi(K)^\top \mathbf{1}\bigr)}.
$$

Computing $\phi(K)^\top V$ first costs $O(S M D)$ and the product with $\phi(Q)$ costs $O(T M D)$:
**linear** in the sequence length, where $(\phi(Q)\phi(K)^\top) V$ costs $O(T S M)$. The
$T \times S$ matrix is never formed.

**Causal** attention sums over $j \le i$ only, so the two sums become **prefix sums**:
$S_i = \sum_{j \le i} \phi(k_j) v_j^\top$ and $z_i = \sum_{j \le i} \phi(k_j)$, updated by one
rank-one term per step. That is a recurrent network with a $M \times D$ matrix state, which is why
such a model decodes in constant time per token (the link to state-space models of Module 11).

The feature map of the paper is $\phi(x) = \operatorname{elu}(x) + 1$ ($M = D$). It is a different
similarity from the softmax's, not an approximation of it: a model must be trained with it. The
figure on the efficient-attention trade-off shows how far its output is from softmax attention on
the same inputs (the price a model pays to use it, which training partly recovers), next to the
approximations of `performer.py`, `longformer.py` and `linformer.py` that do converge to it.

![Error against exact softmax attention vs cost, for each efficient attention](figures/efficient_attention.png)

Left out: chunked computation of the causal prefix sums (this file materialises $S_i$ for every
$i$, $O(T M D)$ memory, which is clear but wasteful), gating and decay (RetNet, GLA).

## Exercises

1. Write `quadratic(q, k, v)`: kernel attention with $\phi = \operatorname{elu} + 1$ by forming the
   $(T, S)$ weight matrix. Which product, regrouped, gives the linear-time version? Check it:
   `uv run pytest --exercise transformer.linear_attention`.
2. Write `recurrent(q, k, v)`: causal linear attention as a loop over positions carrying a state
   `(M, D_v)` and a normaliser `(M,)`: the RNN view. What does the state cost per step, whatever
   the length? Check it: `uv run pytest --exercise transformer.linear_attention`.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["elu_feature_map", "linear_attention", "linear_attention_flops"]


def elu_feature_map(x: Tensor) -> Tensor:
    r"""$\phi(x) = \operatorname{elu}(x) + 1$, positive everywhere (Katharopoulos et al., 2020).

    >>> elu_feature_map(torch.tensor([-1.0, 0.0, 2.0])).round(decimals=4).tolist()  # positive everywhere
    [0.367900013923645, 1.0, 3.0]
    """
    return F.elu(x) + 1


# With positive features the weight of key $j$ for query $i$ is $\phi(q_i) \cdot \phi(k_j)$ over
# its sum, and associativity forms $\phi(K)^\top V$ once instead of the $T \times S$ matrix.
def linear_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    feature_map: Callable[[Tensor], Tensor] | None = elu_feature_map,
    causal: bool = False,
    eps: float = 1e-6,
) -> Tensor:
    r"""Attention with similarity $\phi(q) \cdot \phi(k)$, in time linear in the sequence length.

    Args:
        q: `(B, H, T, D)` queries.
        k: `(B, H, S, D)` keys (`S == T` when causal).
        v: `(B, H, S, D_v)` values.
        feature_map: $\phi$, applied to `q` and `k`; `None` if they are already features
            (`performer.py` passes its random features this way).
        causal: query `i` sees keys `j <= i` (prefix sums).
        eps: added to the normaliser, which is positive for positive features.

    Returns:
        `(B, H, T, D_v)`.
    """
    # Non-causal: sum $\phi(k_j) v_j^\top$ and $\phi(k_j)$ over all keys once, and every query
    # reads the same state; the division by $\phi(q_i) \cdot z$ is the softmax's normaliser.
    if causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"causal linear attention needs T == S, got {q.shape[-2]} and {k.shape[-2]}"
        )
    phi_q = feature_map(q) if feature_map is not None else q  # (B, H, T, M)
    phi_k = feature_map(k) if feature_map is not None else k  # (B, H, S, M)
    if not causal:
        kv = phi_k.transpose(-2, -1) @ v  # (B, H, M, D_v)
        z = phi_k.sum(dim=-2)  # (B, H, M)
        num = phi_q @ kv  # (B, H, T, D_v)
        den = (phi_q * z[..., None, :]).sum(-1, keepdim=True)  # (B, H, T, 1)
        return num / (den + eps)
    # The prefix sums: one rank-one update $\phi(k_j) v_j^\top$ per position, accumulated.
    kv = torch.cumsum(phi_k[..., :, None] * v[..., None, :], dim=-3)  # (B, H, T, M, D_v)
    z = torch.cumsum(phi_k, dim=-2)  # (B, H, T, M)
    num = torch.einsum("bhtm,bhtmd->bhtd", phi_q, kv)  # (B, H, T, D_v)
    den = (phi_q * z).sum(-1, keepdim=True)  # (B, H, T, 1)
    return num / (den + eps)


def linear_attention_flops(T: int, S: int, D: int, M: int) -> int:
    r"""Multiply-adds of non-causal linear attention: $\phi(K)^\top V$, then two products with $\phi(Q)$.

    >>> linear_attention_flops(T=4096, S=4096, D=64, M=64) / (2 * 4096 * 4096 * 64)
    0.0157470703125
    """
    return S * M * D + T * M * D + T * M
