"""The Triton attention kernels against the PyTorch reference and SDPA, forward and backward, over
a grid of shapes, causal and not. On a CPU they run in Triton's interpreter (see conftest.py), so
the shapes are tiny; on a GPU the `gpu` tests run larger shapes in half precision."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.kernels.flash_attention import (
    attention_reference,
    flash_attention,
    naive_attention,
)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

# (B, H, T_q, T_k, D): square and rectangular, lengths that are not multiples of the 16-wide
# blocks, head dims that are and are not powers of two.
SHAPES = [(1, 1, 16, 16, 16), (1, 2, 19, 19, 8), (2, 1, 33, 33, 16), (1, 1, 7, 40, 24)]


def _inputs(shape, dtype=torch.float32, seed=0):
    B, H, T_q, T_k, D = shape
    g = torch.Generator().manual_seed(seed)
    q, k, v = (
        torch.randn(B, H, t, D, generator=g, dtype=dtype).to(DEVICE) for t in (T_q, T_k, T_k)
    )
    return q, k, v


def test_reference_matches_sdpa():
    # The reference itself against PyTorch's SDPA in float64: summation order only, 1e-12.
    q, k, v = (t.double() for t in _inputs((1, 2, 9, 9, 8)))
    for causal in (False, True):
        torch.testing.assert_close(
            attention_reference(q, k, v, causal),
            F.scaled_dot_product_attention(q, k, v, is_causal=causal),
            atol=1e-12,
            rtol=1e-12,
        )


# float32 everywhere (the interpreter's tl.dot is a float32 numpy matmul; on a GPU tl.dot uses
# TF32 for float32 inputs, hence the looser GPU tolerance in the gpu tests below): the tiles sum in
# a different order than the reference, 1e-5 relative to O(1) outputs.
TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_naive_kernel_matches_reference(shape, causal):
    if DEVICE == "cuda":
        pytest.skip("float32 tolerance is for the interpreter; see the gpu tests")
    q, k, v = _inputs(shape)
    torch.testing.assert_close(
        naive_attention(q, k, v, causal), attention_reference(q, k, v, causal), **TOL
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("causal", [False, True])
def test_flash_kernel_forward_and_backward_match_sdpa(shape, causal):
    if DEVICE == "cuda":
        pytest.skip("float32 tolerance is for the interpreter; see the gpu tests")
    q, k, v = (t.requires_grad_() for t in _inputs(shape))
    grad = torch.randn(q.shape, generator=torch.Generator().manual_seed(1))
    out = flash_attention(q, k, v, causal, block_m=16, block_n=16)
    ours = torch.autograd.grad(out, (q, k, v), grad)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    theirs = torch.autograd.grad(ref, (q, k, v), grad)
    torch.testing.assert_close(out, ref, **TOL)
    for name, a, b in zip("qkv", ours, theirs):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, name=name: f"d{name}: {m}")


@pytest.mark.parametrize(("block_m", "block_n"), [(32, 16), (16, 32)])
def test_flash_kernel_with_unequal_blocks(block_m, block_n):
    # Causal skipping logic depends on how query and key blocks line up: check both orders.
    if DEVICE == "cuda":
        pytest.skip("float32 tolerance is for the interpreter; see the gpu tests")
    q, k, v = (t.requires_grad_() for t in _inputs((1, 2, 45, 45, 16), seed=2))
    out = flash_attention(q, k, v, True, block_m=block_m, block_n=block_n)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, ref, **TOL)
    for a, b in zip(
        torch.autograd.grad(out.sum(), (q, k, v)), torch.autograd.grad(ref.sum(), (q, k, v))
    ):
        torch.testing.assert_close(a, b, **TOL)


def test_custom_scale_and_bad_input():
    q, k, v = _inputs((1, 1, 16, 16, 16))
    # On a GPU the float32 tiles multiply as TF32 (2^-11 relative per input): 1e-2 there.
    tol = TOL if DEVICE == "cpu" else dict(atol=1e-2, rtol=1e-2)
    torch.testing.assert_close(
        flash_attention(q, k, v, scale=0.2, block_m=16, block_n=16),
        attention_reference(q, k, v, scale=0.2),
        **tol,
    )
    with pytest.raises(ValueError, match="power of two"):
        flash_attention(q, k, v, block_m=24)
    with pytest.raises(ValueError, match="expected q"):
        flash_attention(q, k[..., :8], v)


# Half precision on a GPU: inputs carry ~1e-3 relative rounding, outputs are compared with 2e-2.
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "shape", [(2, 4, 256, 256, 64), (1, 8, 1000, 1000, 128), (2, 2, 128, 300, 32)]
)
@pytest.mark.parametrize("causal", [False, True])
def test_gpu_fp16_forward_and_backward(shape, causal):
    q, k, v = (t.half().requires_grad_() for t in _inputs(shape))
    grad = torch.randn_like(q)
    out = flash_attention(q, k, v, causal)
    ours = torch.autograd.grad(out, (q, k, v), grad)
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=causal)
    theirs = torch.autograd.grad(ref, (q, k, v), grad.float())
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.float(), b.float(), atol=5e-2, rtol=5e-2)
    if shape[3] <= 256:  # the naive kernel holds all keys in one tile: short sequences only
        torch.testing.assert_close(
            naive_attention(q, k, v, causal).float(), ref, atol=2e-2, rtol=2e-2
        )
