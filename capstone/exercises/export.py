r"""# Exercises: Stage 7 · Export: ONNX with a KV cache, int8 ONNX, Hugging Face, each checked

One attention step with a KV cache, which the exported step graph computes and the parity check
compares with the full forward, checked against PyTorch's causal attention; and what an int8
file weighs against a float32 one."""

import math

import torch
import torch.nn.functional as F

from masterclass.deploy.quantization import quantize_weight


def solution_1_attend_step(q, k, v, k_past, v_past):
    """One decoding step of single-head attention with a cache.

    `q`, `k`, `v` (D,) belong to the new token; `k_past`, `v_past` (t, D) to the tokens before it.
    Returns the new token's output (D,) and the caches with the new token appended, (t + 1, D).
    """
    keys = torch.cat([k_past, k[None]])  # (t + 1, D)
    values = torch.cat([v_past, v[None]])  # (t + 1, D)
    weights = torch.softmax(keys @ q / math.sqrt(q.shape[-1]), dim=-1)  # (t + 1,)
    return weights @ values, keys, values


def check_1_attend_step(fn) -> None:
    """Decoding token by token through the cache must equal causal attention over the whole
    window (`F.scaled_dot_product_attention`), in float64 to 1e-10: the parity the export checks."""
    g = torch.Generator().manual_seed(0)
    for T, D in [(1, 4), (5, 8), (12, 16), (7, 3)]:
        q, k, v = (torch.randn(T, D, generator=g, dtype=torch.float64) for _ in range(3))
        want = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
        k_cache = v_cache = torch.zeros(0, D, dtype=torch.float64)
        for t in range(T):
            out, k_cache, v_cache = fn(q[t], k[t], v[t], k_cache, v_cache)
            assert tuple(k_cache.shape) == (t + 1, D) and tuple(v_cache.shape) == (t + 1, D), (
                f"after step {t} the caches must hold {t + 1} rows of width {D}, got "
                f"{tuple(k_cache.shape)} and {tuple(v_cache.shape)}"
            )
            diff = (torch.as_tensor(out) - want[t]).abs().max().item()
            assert diff < 1e-10, (
                f"T={T}, D={D}: step {t} differs from causal attention by {diff:.2e} (scale "
                "the scores by 1/sqrt(D); attend to the past and the new token itself)"
            )
        assert torch.equal(k_cache, k) and torch.equal(v_cache, v), "the cache must hold k and v"


def solution_2_int8_size_ratio(shapes: list[tuple[int, int]]) -> float:
    """Bytes of int8 matrices with one float32 scale per row, over their float32 bytes."""
    int8 = sum(c_out * c_in + 4 * c_out for c_out, c_in in shapes)
    return int8 / sum(4 * c_out * c_in for c_out, c_in in shapes)


def check_2_int8_size_ratio(fn) -> None:
    """Against the bytes of the tensors `deploy`'s quantizer actually makes for such matrices."""
    cases = [
        [(32, 32)],
        [(96, 32), (32, 32), (128, 32), (128, 32), (32, 128), (300, 32)],  # a tiny block + head
        [(192, 192), (512, 192), (192, 512), (4096, 192)],
        [(8, 4)],
    ]
    for shapes in cases:
        fp32 = int8 = 0
        for c_out, c_in in shapes:
            w = torch.zeros(c_out, c_in)
            q, scale = quantize_weight(w)
            fp32 += w.numel() * w.element_size()
            int8 += q.numel() * q.element_size() + scale.numel() * scale.element_size()
        want = int8 / fp32
        got = fn(list(shapes))
        assert math.isclose(got, want, rel_tol=1e-12), (
            f"int8_size_ratio({shapes}) = {got}, the tensors weigh {int8} bytes against {fp32}: "
            f"{want:.4f} (1 byte per weight and 4 per row scale, over 4 bytes per weight)"
        )
