r"""# Exercises: Vector add: the first Triton kernel

Writing a second element-wise kernel, and sizing its grid."""

import os

import torch

if not torch.cuda.is_available():  # run the Triton kernels in the interpreter on a CPU
    os.environ.setdefault("TRITON_INTERPRET", "1")

import triton
import triton.language as tl

from masterclass.kernels.vector_add import vector_add


@triton.jit
def _axpy_kernel(X, Y, OUT, a, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(OUT + offs, a * tl.load(X + offs, mask=mask) + tl.load(Y + offs, mask=mask), mask=mask)


def solution_1_axpy(a: float, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    _axpy_kernel[(triton.cdiv(x.numel(), 128),)](x, y, out, a, x.numel(), BLOCK=128)
    return out


def check_1_axpy(fn) -> None:
    g = torch.Generator().manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for n in (1, 100, 300):
        x, y = (torch.randn(n, generator=g).to(device) for _ in range(2))
        got = fn(2.5, x, y)
        want = vector_add(2.5 * x, y)
        assert torch.allclose(got, want, atol=1e-6), f"axpy(2.5, x, y) is wrong for n={n}"


def solution_2_num_programs(n: int, block: int) -> int:
    return -(-n // block)


def check_2_num_programs(fn) -> None:
    for n, block in [(1, 128), (128, 128), (129, 128), (1000, 256), (0, 64)]:
        got, want = fn(n, block), triton.cdiv(n, block)
        assert got == want, f"num_programs({n}, {block}) = {got}, expected {want}"
