"""Decode speed at batch 1: PyTorch fp32 and int8, onnxruntime fp32 and int8, with file sizes.

Run: `python packages/deploy/bench/decode.py [--preset default|base] [--tokens N]`.
Prints each runner's p50/p90 ms per token and its speedup over PyTorch fp32 measured in the same
run, so the ratios hold on any machine. The weights are random: speed does not depend on them.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from masterclass.deploy import (
    OnnxLM,
    TorchLM,
    compare_decoders,
    export_llm_onnx,
    model_bytes,
    quantize_int8,
    quantize_onnx_int8,
)
from masterclass.llm import LanguageModel, LMConfig

PRESETS = {
    # The capstone's default model and its larger `base` preset.
    "default": dict(vocab_size=2048, d_model=128, n_layers=4, n_heads=2),
    "base": dict(vocab_size=4096, d_model=384, n_layers=6, n_heads=6),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=None, help="intra-op threads (both runtimes)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = LanguageModel(LMConfig.llama(max_seq_len=512, **PRESETS[args.preset])).eval()
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_llm_onnx(model, Path(tmp) / "model.onnx")
        int8 = quantize_onnx_int8(fp32, Path(tmp) / "model.int8.onnx")
        runners = {
            "torch fp32": TorchLM(model),
            "torch int8": TorchLM(quantize_int8(_clone(model))),
            "ort fp32": OnnxLM(fp32, threads=args.threads),
            "ort int8": OnnxLM(int8, threads=args.threads),
        }
        prompt = np.arange(16).reshape(1, 16) % model.config.vocab_size
        results = compare_decoders(runners, prompt, args.tokens, warmup=5)
        sizes = {
            "torch fp32": model_bytes(model),
            "torch int8": model_bytes(runners["torch int8"].model),
            "ort fp32": fp32.stat().st_size,
            "ort int8": int8.stat().st_size,
        }
    print(f"preset={args.preset} params={model.num_parameters():,} tokens={args.tokens}")
    print(f"{'runner':<12} {'p50 ms':>8} {'p90 ms':>8} {'tok/s':>8} {'speedup':>8} {'MB':>7}")
    for name, r in results.items():
        print(
            f"{name:<12} {r['ms_per_token_p50']:8.3f} {r['ms_per_token_p90']:8.3f} "
            f"{r['tokens_per_s']:8.1f} {r['speedup']:7.2f}x {sizes[name] / 1e6:7.2f}"
        )
    print(f"int8/fp32 ONNX size: {sizes['ort int8'] / sizes['ort fp32']:.1%}")


def _clone(model: LanguageModel) -> LanguageModel:
    clone = LanguageModel(model.config).eval()
    clone.load_state_dict(model.state_dict())
    return clone


if __name__ == "__main__":
    main()
