"""Program tiling, coalesced and naive transposes against torch, occupancy against hand counts,
and (on a GPU) streams and events."""

import pytest
import torch

from masterclass.kernels.execution_model import (
    gather_strided,
    occupancy,
    program_map,
    transpose,
    transpose_naive,
)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def test_program_map_tiles_the_matrix():
    ids = program_map(5, 7, 2, 4, device=DEVICE).cpu()
    # Reference by hand: element (r, c) belongs to tile (r // 2, c // 4) of a 3 x 2 grid.
    want = torch.tensor([[(r // 2) * 2 + c // 4 for c in range(7)] for r in range(5)])
    assert torch.equal(ids, want.to(torch.int32))


@pytest.mark.parametrize("shape", [(16, 16), (5, 37), (33, 8)])
@pytest.mark.parametrize("fn", [transpose, transpose_naive])
def test_transposes_match_torch(shape, fn):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(DEVICE)
    assert torch.equal(fn(x, block=16), x.T.contiguous())  # a copy: bitwise


@pytest.mark.parametrize("n, stride", [(1, 1), (100, 1), (100, 3), (1000, 8), (37, 64)])
def test_gather_strided_matches_slicing(n, stride):
    x = torch.randn(n, generator=torch.Generator().manual_seed(0)).to(DEVICE)
    assert torch.equal(gather_strided(x, stride, block=16), x[::stride])  # a copy: bitwise
    assert torch.equal(gather_strided(x, stride), x[::stride])  # the default block of 1024


def test_occupancy_by_hand():
    # 256 threads x 64 registers = 16,384 per block: 4 blocks fill 65,536 registers.
    assert occupancy(threads_per_block=256, registers_per_thread=64, shared_bytes_per_block=0) == 4
    # 128 threads x 32 registers: threads allow 16, registers 16: 16.
    assert occupancy(threads_per_block=128, registers_per_thread=32, shared_bytes_per_block=0) == 16
    # 64 KB of shared memory per block: 228 KB / 64 KB = 3 blocks.
    assert (
        occupancy(threads_per_block=128, registers_per_thread=32, shared_bytes_per_block=65536) == 3
    )
    # Tiny blocks: the 32-block limit.
    assert occupancy(threads_per_block=32, registers_per_thread=16, shared_bytes_per_block=0) == 32
    with pytest.raises(ValueError, match="threads_per_block must be in"):
        occupancy(threads_per_block=2048, registers_per_thread=32, shared_bytes_per_block=0)


def test_bad_input():
    with pytest.raises(ValueError, match="x must be a matrix"):
        transpose(torch.ones(3))
    with pytest.raises(ValueError, match="a stride >= 1"):
        gather_strided(torch.ones(3), 0)
    with pytest.raises(ValueError, match="need a 1-D x"):
        gather_strided(torch.ones(3, 3), 2)
    # 2**31 elements on the meta device: a shape without storage, refused before any launch.
    with pytest.raises(ValueError, match="offsets are int32"):
        gather_strided(torch.empty(2**31, device="meta"), 2)


gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.gpu
@gpu
def test_events_time_gpu_work_and_order_streams():
    x = torch.randn(4096, 4096, device="cuda")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    y = x @ x
    end.record()
    end.synchronize()
    assert start.elapsed_time(end) > 0
    # A second stream computes from y only after an event says y is ready.
    side = torch.cuda.Stream()
    ready = torch.cuda.Event()
    ready.record()
    with torch.cuda.stream(side):
        side.wait_event(ready)
        z = transpose(y)
    torch.cuda.current_stream().wait_stream(side)
    torch.testing.assert_close(z, (x @ x).T.contiguous(), rtol=1e-3, atol=1e-2)


@pytest.mark.gpu
@gpu
def test_launches_are_asynchronous():
    x = torch.randn(8192, 8192, device="cuda")
    done = torch.cuda.Event()
    for _ in range(3):
        x = x @ x / 8192
    done.record()
    # The CPU got here before the GPU finished (almost always for ~3 TFLOP of queued work).
    queued = not done.query()
    done.synchronize()
    assert done.query()
    assert isinstance(queued, bool)
