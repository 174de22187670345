"""# masterclass.deploy

Module 10: optimization and deployment: quantization, pruning, distillation, efficient inference, serving.

- `quantization`: weight-only int8/int4 quantization from scratch (`quantize_int8`, `Int8Linear`).
- `llm_export`: the LLM as an ONNX step function with a KV cache, its int8 version, a Hugging
  Face export, and runtime decoders (`export_llm_onnx`, `OnnxLM`, `quantize_onnx_int8`,
  `export_hf`).
- `decode_benchmark`: per-token latency and throughput at batch 1 (`benchmark_decode`).
- `merging`: linear, SLERP, task arithmetic, TIES and DARE merges of HF folders (`merge_folders`).
- `speculative`: speculative decoding (`speculative_generate`).
- `kv_memory`: paged KV blocks with prefix sharing and eviction (`BlockManager`).
- `batching`: the continuous-batching engine (`Engine`, `Request`).
- `server`: the OpenAI-compatible HTTP server (`python -m masterclass.deploy.server RUN_DIR`).
- `monitoring`: Prometheus metrics and JSON logs (`ServerMetrics`).
- `ab_testing`: traffic splitting and A/B statistics.
"""

from masterclass.deploy.decode_benchmark import benchmark_decode, compare_decoders
from masterclass.deploy.llm_export import (
    OnnxLM,
    TorchLM,
    cached_decode_parity,
    export_hf,
    export_llm_onnx,
    quantize_onnx_int8,
)
from masterclass.deploy.quantization import Int8Linear, model_bytes, quantize, quantize_int8

__all__ = [
    "Int8Linear",
    "OnnxLM",
    "TorchLM",
    "benchmark_decode",
    "cached_decode_parity",
    "compare_decoders",
    "export_hf",
    "export_llm_onnx",
    "model_bytes",
    "quantize",
    "quantize_int8",
    "quantize_onnx_int8",
]
