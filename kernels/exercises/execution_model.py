r"""# Exercises: The GPU execution model, through Triton programs

Occupancy from shared memory, and the memory sectors a warp touches."""

from masterclass.kernels.execution_model import occupancy


def solution_1_blocks_limited_by_shared_memory(
    shared_bytes_per_block: int, sm_shared_bytes: int
) -> int:
    return sm_shared_bytes // shared_bytes_per_block


def check_1_blocks_limited_by_shared_memory(fn) -> None:
    for smem in (16384, 49152, 100000):
        # With threads and registers far from their limits, shared memory decides.
        want = occupancy(threads_per_block=32, registers_per_thread=8, shared_bytes_per_block=smem,
                         sm_blocks=1000, sm_shared_bytes=228 * 1024)  # fmt: skip
        got = fn(smem, 228 * 1024)
        assert got == want, (
            f"blocks_limited_by_shared_memory({smem}, 233472) = {got}, expected {want}"
        )


def solution_2_sectors_read(stride_elements: int, element_bytes: int) -> int:
    return len({(i * stride_elements * element_bytes) // 32 for i in range(32)})


def check_2_sectors_read(fn) -> None:
    for stride, size, want in [
        (1, 4, 4),
        (1, 2, 2),
        (2, 4, 8),
        (8, 4, 32),
        (1024, 4, 32),
        (0, 4, 1),
    ]:
        got = fn(stride, size)
        assert got == want, f"sectors_read({stride}, {size}) = {got}, expected {want}"
