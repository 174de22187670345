"""End to end: the tiny preset runs every stage, and every artifact is checked."""

from __future__ import annotations

import gzip
import json
import lzma
import math

import numpy as np
import onnx
import pytest
import torch

from masterclass.capstone import cli
from masterclass.capstone.config import END_OF_TEXT
from masterclass.capstone.pipeline import STAGES
from masterclass.capstone.report import REPORT_SECTIONS
from masterclass.capstone.run_folder import FORMAT_VERSION, RunFolder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("capstone") / "run"
    code = cli.main(["run", "--preset", "tiny", "--out", str(out), "--device", "cpu", "--quiet"])
    assert code == 0
    return out


@pytest.mark.slow
def test_every_stage_finished_and_is_recorded(run):
    record = json.loads((run / "run.json").read_text())
    assert record["format_version"] == FORMAT_VERSION
    assert list(record["stages"]) == list(STAGES)
    assert all(info["seconds"] >= 0 for info in record["stages"].values())
    # No temporary folder or file survives a finished run.
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]


@pytest.mark.slow
def test_corpus_and_tokens_round_trip(run):
    # The data stage's token stream must decode back to exactly the corpus split's bytes
    # (reference: the corpus files), with one end-of-text token before each document.
    tok = RunFolder.open(run).load_tokenizer()
    eot = tok.special_tokens[END_OF_TEXT]
    for split in ("train", "heldout"):
        stream = RunFolder.open(run).token_shards(split).to_numpy()
        docs = list(RunFolder.open(run).corpus_split(split))
        assert int((stream == eot).sum()) == len(docs)
        assert tok.decode_bytes(stream[stream != eot].tolist()) == b"".join(docs)


@pytest.mark.slow
def test_training_log_and_checkpoints(run):
    lines = [json.loads(x) for x in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in lines if r["kind"] == "train"]
    evals = [r for r in lines if r["kind"] == "eval"]
    assert train[-1]["step"] == 30 and len(evals) == 2
    # Learning: the held-out loss at the end is below the uniform-guess loss ln V.
    assert evals[-1]["eval_loss"] < math.log(300)
    assert train[-1]["loss"] < train[0]["loss"]
    assert (run / "train" / "checkpoints" / "latest").is_file()


@pytest.mark.slow
def test_evaluation_numbers_are_consistent(run):
    ev = json.loads((run / "evaluate" / "metrics.json").read_text())
    m = ev["model"]
    # bits per byte, loss and perplexity are one number in three units.
    assert m["bits_per_byte"] == pytest.approx(m["nats"] / (math.log(2) * m["bytes"]), rel=1e-12)
    assert m["perplexity"] == pytest.approx(math.exp(m["nats"] / m["tokens"]), rel=1e-12)
    # Reference for the baselines: gzip/xz recomputed here on the same held-out bytes.
    tok = RunFolder.open(run).load_tokenizer()
    eot = tok.special_tokens[END_OF_TEXT]
    stream = RunFolder.open(run).token_shards("heldout").to_numpy()[:4096]
    data = tok.decode_bytes([t for t in stream.tolist() if t != eot])
    assert len(data) == m["bytes"] == ev["heldout_bytes"]
    base = ev["baselines_bits_per_byte"]
    assert base["gzip-9"] == pytest.approx(8 * len(gzip.compress(data, 9, mtime=0)) / len(data))
    assert base["xz-9"] == pytest.approx(8 * len(lzma.compress(data, preset=9)) / len(data))
    assert 0 < base["kneser-ney-3"] < 8
    assert [s["prompt"] for s in ev["samples"]] == ["def ", "import ", "class Stack:\n    ", '"""']
    assert all(s["text"].startswith(s["prompt"]) for s in ev["samples"])


@pytest.mark.slow
def test_model_loss_recomputed_with_cross_entropy(run):
    # Reference: torch's cross_entropy over the same windows gives the stage's total nats.
    ev = json.loads((run / "evaluate" / "metrics.json").read_text())
    model = RunFolder.open(run).load_model()
    tok = RunFolder.open(run).load_tokenizer()
    eot = tok.special_tokens[END_OF_TEXT]
    stream = torch.from_numpy(
        RunFolder.open(run).token_shards("heldout").to_numpy()[:4096].astype(np.int64)
    )
    nats = 0.0
    with torch.no_grad():
        for s in range(0, len(stream) - 1, 64):
            x = stream[s : s + 64]
            y = stream[s + 1 : s + 65]
            x = x[: len(y)]
            losses = torch.nn.functional.cross_entropy(model(x[None])[0], y, reduction="none")
            nats += float(losses[y != eot].double().sum())
    # Float32 sums in a different order: agreement to 1e-6 relative.
    assert nats == pytest.approx(ev["model"]["nats"], rel=1e-6)


@pytest.mark.slow
def test_quantization_within_budget(run):
    q = json.loads((run / "quantize" / "metrics.json").read_text())
    assert q["within_3_percent"] and abs(q["relative_loss_change"]) <= 0.03
    assert q["int8_size_ratio"] < 0.35
    # The saved int8 weights load into a freshly quantized model and reproduce its logits.
    from safetensors.torch import load_file

    model = RunFolder.open(run).load_int8()
    saved = load_file(str(run / "quantize" / "model.int8.safetensors"))
    for name, tensor in model.state_dict().items():
        assert torch.equal(saved[name], tensor)
    assert saved["blocks.0.attn.qkv.weight_int8"].dtype == torch.int8


@pytest.mark.slow
def test_export_parity_and_files(run):
    e = json.loads((run / "export" / "metrics.json").read_text())
    assert e["onnx_opset"] >= 18 and e["parity_passed"]
    assert e["onnx_fp32_full_forward_max_abs_diff"] <= 1e-4
    assert e["onnx_fp32_cached_decode_max_abs_diff"] <= 1e-4
    assert e["hf_llama_max_abs_diff"] <= 1e-4 and e["hf_tokenizer_ids_equal"]
    assert abs(e["onnx_int8_relative_loss_change"]) <= 0.03
    proto = onnx.load(str(run / "export" / "model.onnx"))
    onnx.checker.check_model(proto)
    names = [i.name for i in proto.graph.input]
    assert names == ["input_ids", "past_keys", "past_values"]
    dims = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert all(dims), "batch and sequence of input_ids must be dynamic"
    onnx.checker.check_model(onnx.load(str(run / "export" / "model.int8.onnx")))
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (run / "export" / "hf" / name).is_file()


@pytest.mark.slow
def test_benchmark_reports_every_variant(run):
    b = json.loads((run / "benchmark" / "metrics.json").read_text())
    assert set(b["variants"]) == {
        "pytorch-fp32",
        "pytorch-int8",
        "onnxruntime-fp32",
        "onnxruntime-int8",
    }
    ref = b["variants"]["pytorch-fp32"]
    for r in b["variants"].values():
        assert r["tokens_per_s"] > 0 and r["ms_per_token"] > 0 and r["file_mb"] > 0
        assert r["speedup_vs_torch_fp32"] == pytest.approx(ref["ms_per_token"] / r["ms_per_token"])
        assert r["tokens_per_s"] == pytest.approx(1000 / r["ms_per_token"])
    # The fp32 ONNX model decodes greedily exactly like PyTorch (parity 1e-4 makes ties unlikely).
    assert b["variants"]["onnxruntime-fp32"]["greedy_agreement_with_fp32"] == 1.0
    assert (
        b["variants"]["onnxruntime-int8"]["file_mb"] < b["variants"]["onnxruntime-fp32"]["file_mb"]
    )


@pytest.mark.slow
def test_report_and_metrics(run):
    text = (run / "report.md").read_text()
    for heading in REPORT_SECTIONS:
        assert heading in text
    assert "_The" not in text, "every stage ran, so no section may say it has not"
    for png in ("loss.png", "lr.png"):
        assert (run / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(STAGES) <= set(metrics)
    assert metrics["config"]["preset"] == "tiny"
    ev = json.loads((run / "evaluate" / "metrics.json").read_text())
    assert f"{ev['model']['bits_per_byte']:.4f}" in text


@pytest.mark.slow
def test_generate_command_is_deterministic(run, capsys):
    args = ["generate", str(run), "--prompt", "def ", "--tokens", "8", "--seed", "4"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert cli.main(args) == 0
    assert capsys.readouterr().out == first and first.startswith("def ")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tiny_run_on_the_gpu(tmp_path):
    out = tmp_path / "gpu"
    args = ["run", "--preset", "tiny", "--device", "cuda", "--quiet", "--out", str(out)]
    assert cli.main([*args, "--set", "train.precision='bf16'", "--until", "quantize"]) == 0
    ev = json.loads((out / "evaluate" / "metrics.json").read_text())
    assert math.isfinite(ev["model"]["bits_per_byte"])
    assert json.loads((out / "train" / "metrics.json").read_text())["autocast"] == "bf16"
