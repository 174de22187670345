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
def run(tiny_run):
    # The session's tiny run (conftest.py), shared with test_safety.py.
    return tiny_run


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


def _heldout(run, n_tokens):
    return torch.from_numpy(RunFolder.open(run).heldout_stream(n_tokens).astype(np.int64))


def _loss(logits_fn, stream, eot, context=64, batch=8):
    # Reference for the compared loss: torch's cross-entropy over the same consecutive windows,
    # end-of-text targets left out, mean over the counted targets. The windows go `batch` at a
    # time, as the pipeline sends them: onnxruntime's dynamic int8 quantization takes one scale
    # per activation tensor, so the int8 model's logits depend on which windows share a call.
    nats, count = 0.0, 0
    starts = list(range(0, len(stream) - 1, context))
    full = [s for s in starts if len(stream[s + 1 : s + context + 1]) == context]
    groups = [full[i : i + batch] for i in range(0, len(full), batch)]
    groups += [[s] for s in starts if s not in full]
    with torch.no_grad():
        for group in groups:
            ys = [stream[s + 1 : s + context + 1] for s in group]
            x = torch.stack([stream[s : s + len(y)] for s, y in zip(group, ys, strict=True)])
            y = torch.stack(ys)
            logits = logits_fn(x).float()
            losses = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none"
            )
            keep = y.reshape(-1) != eot
            nats += float(losses[keep].double().sum())
            count += int(keep.sum())
    return nats / count


@pytest.mark.slow
def test_quantization_within_budget(run):
    # Recomputed here, not read back: the int8 model is built again with deploy's quantizer from
    # the saved fp32 weights, both losses come from torch's cross-entropy on the first
    # compare_tokens held-out tokens, and the stage's relative change must match them.
    q = json.loads((run / "quantize" / "metrics.json").read_text())
    folder = RunFolder.open(run)
    fp32, int8 = folder.load_model(), folder.load_int8()
    stream = _heldout(run, 2048)
    eot = folder.load_tokenizer().special_tokens[END_OF_TEXT]
    ref, cand = _loss(fp32, stream, eot), _loss(int8, stream, eot)
    change = (cand - ref) / ref
    # float32 sums in another order: 1e-6 relative on each loss, so 1e-5 absolute on the change.
    assert q["fp32_loss"] == pytest.approx(ref, rel=1e-6)
    assert q["int8_loss"] == pytest.approx(cand, rel=1e-6)
    assert q["relative_loss_change"] == pytest.approx(change, abs=1e-5)
    assert abs(change) <= 0.03 and q["within_3_percent"]
    assert q["int8_size_ratio"] < 0.35
    # The saved int8 weights are the quantized model's.
    from safetensors.torch import load_file

    saved = load_file(str(run / "quantize" / "model.int8.safetensors"))
    for name, tensor in int8.state_dict().items():
        assert torch.equal(saved[name], tensor)
    assert saved["blocks.0.attn.qkv.weight_int8"].dtype == torch.int8


@pytest.mark.slow
def test_export_parity_and_files(run):
    # Parity recomputed with the reference runtimes themselves: onnxruntime's own session on the
    # exported file (with empty caches, as the graph's inputs declare them), and transformers'
    # LlamaForCausalLM loaded from the exported folder, both against our PyTorch model on two
    # held-out windows. Float32 through equivalent kernels: 1e-4 (a real bug is of order 1).
    import onnxruntime as ort
    from transformers import AutoConfig, GenerationConfig, LlamaForCausalLM

    e = json.loads((run / "export" / "metrics.json").read_text())
    folder = RunFolder.open(run)
    model = folder.load_model()
    ids = _heldout(run, 128).reshape(2, 64)
    with torch.no_grad():
        ours = model(ids).numpy()
    session = ort.InferenceSession(
        str(run / "export" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    past = session.get_inputs()[1].shape  # [L, batch, H_kv, past, D]
    empty = np.zeros((past[0], 2, past[2], 0, past[4]), np.float32)
    theirs = session.run(
        None, {"input_ids": ids.numpy(), "past_keys": empty, "past_values": empty}
    )[0]
    assert np.abs(theirs - ours).max() <= 1e-4
    assert e["onnx_fp32_full_forward_max_abs_diff"] == pytest.approx(
        np.abs(theirs - ours).max(), abs=1e-6
    )
    hf = LlamaForCausalLM.from_pretrained(str(run / "export" / "hf")).eval()
    with torch.no_grad():
        hf_logits = hf(input_ids=ids).logits.numpy()
    assert np.abs(hf_logits - ours).max() <= 1e-4
    # The HF folder names the tokenizer's real end-of-text id, so HF generation stops there.
    eot = folder.load_tokenizer().special_tokens[END_OF_TEXT]
    assert AutoConfig.from_pretrained(str(run / "export" / "hf")).eos_token_id == eot
    assert GenerationConfig.from_pretrained(str(run / "export" / "hf")).eos_token_id == eot
    # The int8 ONNX model's loss change, recomputed with onnxruntime and torch's cross-entropy.
    int8 = ort.InferenceSession(
        str(run / "export" / "model.int8.onnx"), providers=["CPUExecutionProvider"]
    )

    def int8_logits(x):
        empty1 = np.zeros((past[0], x.shape[0], past[2], 0, past[4]), np.float32)
        out = int8.run(None, {"input_ids": x.numpy(), "past_keys": empty1, "past_values": empty1})
        return torch.from_numpy(out[0])

    stream = _heldout(run, 2048)
    ref, cand = _loss(model, stream, eot), _loss(int8_logits, stream, eot)
    assert e["onnx_int8_relative_loss_change"] == pytest.approx((cand - ref) / ref, abs=1e-5)
    assert abs((cand - ref) / ref) <= 0.03
    assert e["onnx_opset"] >= 18 and e["parity_passed"] and e["hf_tokenizer_ids_equal"]
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
def test_tokenizer_check_without_valid_utf8_is_not_a_failure(run):
    # A corpus with no valid UTF-8 held-out document cannot be given to HF's tokenizer (it takes
    # str): the check says "not checked" (None), and parity does not fail for it.
    from masterclass.capstone import export

    class NoUtf8:
        def load_tokenizer(self):
            return RunFolder.open(run).load_tokenizer()

        def corpus_split(self, name):
            return [b"caf\xe9 \xff\xfe", b"\x80abc"]

    assert export.hf_tokenizer_matches(run / "export" / "hf", NoUtf8()) is None
    assert export.hf_tokenizer_matches(run / "export" / "hf", RunFolder.open(run)) is True
    assert export.parity_passed(1e-6, None) and not export.parity_passed(1e-6, False)


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


@pytest.mark.slow
def test_report_explains_a_missed_target(run):
    # The tiny run's numbers, relabelled as the default preset with a time plan: bits per byte
    # far above xz's misses the targets, and the report must say why, from the plan's numbers.
    from masterclass.capstone.report import collect_metrics, render_report

    m = collect_metrics(RunFolder.open(run))
    m["config"]["preset"] = "small"
    m["train"]["time_plan"] = {
        "budget_s": 480.0,
        "threads": 1,
        "thread_timings": {"2": 1.46, "1": 0.66},
        "autocast": "none",
        "precision_timings": {"bf16": 1.0, "none": 0.68},
        "history": [
            {"at_step": 0, "seconds_per_step": 0.58, "steps": 803, "seconds_spent": 5.0},
            {"at_step": 320, "seconds_per_step": 0.71, "steps": 690, "seconds_spent": 190.0},
        ],
    }
    text = render_report(m, has_plots=False)
    assert "**Why targets were missed**" in text and "bits per byte below gzip -9 and xz -9" in text
    assert "planned 803 steps at 0.580 s/step" in text and "at step 320 it measured 0.710" in text
    assert "2.7× the 0.26 s/step of the idle" in text and "time_budget_s" in text
    assert "with 1 thread(s), the faster when timed (2 threads 1.460 s/step, 1 thread 0.660" in text
    assert "; in fp32, the faster when timed (bf16 1.000 s/step, fp32 0.680 s/step)" in text


# ## The subcommands that hand a finished run to Modules 8, 10 and 12
#
# `finetune`, `eval` and `serve` load the run through `RunFolder` and call the library. The tests
# check what a user sees: the fine-tuned response loss falls on the training pairs, a bad JSONL
# line gives one line and exit 2, an evaluation prints its table, and the server answers an
# OpenAI-style request with the same greedy tokens as `llm.generate` on the run's own model.


@pytest.mark.slow
def test_finetune_lowers_the_response_loss_and_refuses_bad_jsonl(run, tmp_path, capsys):
    data = tmp_path / "sft.jsonl"
    rows = [{"prompt": f"def f{i}(", "response": "x):\n    return x\n"} for i in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["finetune", str(run), "--data", str(data), "--steps", "10", "--lr", "3e-3"]
    assert cli.main(args) == 0
    saved = json.loads((run / "finetune" / "sft.json").read_text())
    assert saved["after"]["response_loss"] < saved["before"]["response_loss"]
    capsys.readouterr()

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "response": "b"}\nnot json\n{"prompt": "c"}\n')
    assert cli.main(["finetune", str(run), "--data", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jsonl:2" in err[0] and "1 more" in err[0], err


@pytest.mark.slow
def test_eval_prints_the_task_table_and_refuses_an_unknown_task(run, capsys):
    from masterclass.safety.harness import task_names

    name = sorted(task_names())[0]
    assert cli.main(["eval", str(run), "--task", name]) == 0
    assert name in capsys.readouterr().out
    assert cli.main(["eval", str(run), "--task", "no_such_task"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_task" in err[0]


@pytest.mark.slow
def test_serve_answers_with_the_runs_greedy_tokens_and_stops_on_sigterm(run):
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from masterclass.deploy.server import free_port
    from masterclass.llm.generate import generate

    port = free_port()
    cmd = [sys.executable, "-m", "masterclass.capstone", "serve", str(run), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start in 120 s"
            time.sleep(0.3)
        body = {"model": "capstone", "prompt": "def ", "max_tokens": 6, "temperature": 0}
        answer = httpx.post(url + "/v1/completions", json=body, timeout=60).json()
        text = answer["choices"][0]["text"]
        # The reference: the run's own model and tokenizer, greedy through llm.generate.
        folder = RunFolder.open(run)
        model, tok = folder.load_model("cpu"), folder.load_tokenizer()
        ids = tok.encode("def ", allowed_special="none")
        eot = tok.special_tokens[END_OF_TEXT]
        out = generate(model, torch.tensor([ids]), 6, temperature=0, stop_tokens=[eot])
        new = out[0, len(ids) :].tolist()
        if eot in new:
            new = new[: new.index(eot)]
        assert text == tok.decode(new)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, os.strerror(code) if code > 0 else code
