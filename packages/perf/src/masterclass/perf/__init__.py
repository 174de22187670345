"""# masterclass.perf

Module 4: advanced PyTorch: memory, profiling, parallelism, kernels, export and production tools.

- `onnx_export`: exporting a module to ONNX with dynamic axes, checked by `onnx.checker`,
  and a parity check against onnxruntime (`export_onnx`, `onnx_parity`, `ort_session`).
"""

from masterclass.perf.onnx_export import export_onnx, onnx_parity, ort_session

__all__ = ["export_onnx", "onnx_parity", "ort_session"]
