"""# masterclass.perf

Module 4: advanced PyTorch: memory, profiling, parallelism, kernels, export and production tools.

- `memory`: saved-tensor accounting, activation checkpointing, peak RSS.
- `parallel`: vectorisation, intra-op and inter-op threads, worker processes.
- `profiling`: `torch.profiler` on a training step, $6NT$, the worked optimization.
- `serving`: a batching request queue and a FastAPI endpoint.
- `torchscript`: `torch.jit.trace`/`script` (legacy) and `torch.export`.
- `onnx_export`: exporting a module to ONNX with dynamic axes, checked by `onnx.checker`,
  and a parity check against onnxruntime (`export_onnx`, `onnx_parity`, `ort_session`).
- `quantization`: PyTorch's int8 paths beside the from-scratch one.
- `pruning`: `torch.nn.utils.prune` and channel removal.

The Triton kernels of the module live in `masterclass.kernels`.
"""

from masterclass.perf.onnx_export import export_onnx, onnx_parity, ort_session

__all__ = ["export_onnx", "onnx_parity", "ort_session"]
