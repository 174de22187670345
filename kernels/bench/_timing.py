"""What every GPU benchmark of the kernel ladder shares: dtypes by name, CUDA-event timing.

The scripts beside this file import it by name (`from _timing import ...`): Python puts a script's
own folder first on its path.
"""

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def time_ms(fn, repeats: int = 50) -> float:
    """Median milliseconds of `fn()` (CUDA events) over `repeats` runs after 3 warm-up runs."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def need_cuda() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA device (the kernels compile for the GPU)")
