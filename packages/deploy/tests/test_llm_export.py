"""The LLM's ONNX export (KV cache), its int8 version, the batching engine's ragged step on
onnxruntime and the Hugging Face export, each against PyTorch (and transformers/tokenizers) on the
same inputs."""

import json

import numpy as np
import onnx
import pytest
import torch

from masterclass.deploy.batching import Engine, Request
from masterclass.deploy.llm_export import (
    OnnxLM,
    OnnxRaggedForward,
    TorchLM,
    _RaggedStepFunction,
    _StepFunction,
    cached_decode_parity,
    export_hf,
    export_llm_onnx,
    export_ragged_onnx,
    quantize_onnx_int8,
    ragged_session,
)
from masterclass.deploy.quantization import quantize_int8
from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate
from masterclass.nlp import BPETokenizer
from masterclass.perf.onnx_export import onnx_parity

# fp32 parity: the same float32 operations in another order (fused kernels); the capstone's
# contract is 1e-4 and the observed differences are ~1e-6.
TOL = 1e-4
V = 256


def _model(tie: bool = False, vocab: int = V) -> LanguageModel:
    torch.manual_seed(0)
    cfg = LMConfig.llama(
        vocab_size=vocab, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=64
    )
    cfg.tie_embeddings = tie
    model = LanguageModel(cfg).eval()
    # Random-init logits are nearly uniform; larger weights make the parity checks discriminating.
    with torch.no_grad():
        model.lm_head.weight.mul_(8.0)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = _model()
    path = export_llm_onnx(model, tmp_path_factory.mktemp("onnx") / "lm.onnx")
    return model, path


def test_graph_is_valid_with_dynamic_cache_axes(exported):
    _, path = exported
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 18
    inputs = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in proto.graph.input
    }
    assert inputs["input_ids"] == ["batch", "seq"]
    assert inputs["past_keys"] == [2, "batch", 2, "past", 16]


@pytest.mark.parametrize("batch, seq, past", [(1, 7, 0), (3, 1, 5), (2, 4, 9)])
def test_full_forward_matches_torch(exported, batch, seq, past):
    model, path = exported
    g = torch.Generator().manual_seed(batch * 100 + seq * 10 + past)
    shape = (2, batch, 2, past, 16)
    inputs = {
        "input_ids": torch.randint(0, V, (batch, seq), generator=g),
        "past_keys": torch.randn(shape, generator=g),
        "past_values": torch.randn(shape, generator=g),
    }
    assert onnx_parity(_StepFunction(model), path, inputs) <= TOL


def test_cached_decoding_matches_torch_forward(exported):
    model, path = exported
    ids = torch.randint(0, V, (1, 14), generator=torch.Generator().manual_seed(3))
    assert cached_decode_parity(model, path, ids) <= TOL
    # Greedy continuations agree token for token (torch's cached path and onnxruntime's).
    assert OnnxLM(path).greedy(ids, 8) == TorchLM(model).greedy(ids, 8)


def test_int8_onnx_is_smaller_and_close(exported, tmp_path):
    model, path = exported
    q_path = quantize_onnx_int8(path, tmp_path / "lm.int8.onnx")
    onnx.checker.check_model(str(q_path))
    ops = {n.op_type for n in onnx.load(str(q_path)).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeMatMul"}
    # Weights are ~75% of this tiny model's file; int8 storage of them gives well under half.
    assert q_path.stat().st_size < 0.45 * path.stat().st_size
    # Loss on a held-out-like batch stays within 3% of fp32 (the capstone's target), and the
    # PyTorch weight-only int8 model is held to the same bound.
    ids = torch.randint(0, V, (2, 24), generator=torch.Generator().manual_seed(4))
    empty = np.zeros((2, 2, 2, 0, 16), np.float32)

    def loss(logits):
        logits = torch.as_tensor(logits)[:, :-1]
        return torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), ids[:, 1:].reshape(-1)
        ).item()

    with torch.no_grad():
        ref = loss(model(ids))
        torch_int8 = loss(quantize_int8(_model())(ids))
    ort_fp32 = loss(OnnxLM(path).forward(ids.numpy(), empty, empty)[0])
    ort_int8 = loss(OnnxLM(q_path).logits(ids))
    assert ort_fp32 == pytest.approx(ref, rel=1e-5)
    assert ort_int8 == pytest.approx(ref, rel=0.03)
    assert torch_int8 == pytest.approx(ref, rel=0.03)


@pytest.mark.parametrize("tie", [False, True])
def test_hugging_face_export_loads_with_equal_logits(tmp_path, tie):
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    text = ["def add(a, b):\n    return a + b\n", "import os\nprint(os.getcwd())\n"] * 20
    tok = BPETokenizer.train(text, 300, special_tokens=["<|eot|>"], num_workers=1)
    model = _model(tie, vocab=tok.vocab_size)
    out = export_hf(model, tok, tmp_path / "hf")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in out.iterdir()}
    hf = transformers.LlamaForCausalLM.from_pretrained(str(out)).eval()
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] == tie
    sample = "def mul(a, b):\n    return a * b<|eot|>"
    ids = tok.encode(sample, allowed_special="all")  # the special token is meant as a control token
    assert tokenizers.Tokenizer.from_file(str(out / "tokenizer.json")).encode(sample).ids == ids
    x = torch.tensor([ids])
    with torch.no_grad():
        # Same weights, same float32 ops in HF's order: agreement to 1e-4 (observed ~1e-6).
        torch.testing.assert_close(hf(x).logits, model(x), rtol=0, atol=TOL)


# ## The batching engine's onnxruntime backend
#
# The ragged step graph against the PyTorch step it was exported from, then the whole engine on
# onnxruntime against the engine on PyTorch and against `llm.generate` run on each prompt alone.
@pytest.fixture(scope="module")
def ragged(tmp_path_factory):
    model = _model(vocab=97)
    path = export_ragged_onnx(model, tmp_path_factory.mktemp("ragged") / "step.onnx")
    return model, path


@pytest.mark.parametrize(
    "past_lengths, new_lengths",
    [([0], [7]), ([5, 0, 2], [1, 4, 1]), ([9, 3], [1, 1]), ([0, 0], [3, 3]), ([12], [1])],
)
def test_ragged_graph_matches_the_torch_step(ragged, past_lengths, new_lengths):
    # Shapes never seen in the export: P = 0 (all rows prefilling), T = 1 (all decoding), B = 1
    # and mixed rows. Random past keys beyond each row's length must not matter (masked), so the
    # padding is filled with noise too. Same float32 ops in another order: 1e-4 (observed ~1e-6).
    model, path = ragged
    B, T, P = len(new_lengths), max(new_lengths), max(past_lengths)
    g = torch.Generator().manual_seed(sum(past_lengths) * 10 + T)
    shape = (2, B, 2, P, 16)  # (L, B, H_kv, P, D)
    inputs = {
        "input_ids": torch.randint(0, 97, (B, T), generator=g),
        "past_lengths": torch.tensor(past_lengths),
        "new_lengths": torch.tensor(new_lengths),
        "past_keys": torch.randn(shape, generator=g),
        "past_values": torch.randn(shape, generator=g),
    }
    assert onnx_parity(_RaggedStepFunction(model), path, inputs) <= TOL


def _prompts(n, vocab, seed, max_len=12):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len, (n,), generator=g)
    return [torch.randint(0, vocab, (int(t),), generator=g).tolist() for t in lengths]


@pytest.mark.parametrize(
    "num_blocks, prefix_caching", [(64, True), (7, False)], ids=["roomy", "preempting"]
)
def test_onnx_engine_is_token_identical_to_the_torch_engine(ragged, num_blocks, prefix_caching):
    # Six requests (the last two share a 9-token prefix), at most four per step, different max_tokens:
    # rows join and leave, prefill and decode mix, and with 7 blocks of 4 the engine preempts
    # and recomputes. Greedy tokens must equal the PyTorch engine's and sequential generate's.
    model, path = ragged
    shared = list(range(20, 29))
    prompts = [*_prompts(4, 97, 5), [*shared, 1, 2], [*shared, 5]]
    outs, engines = {}, {}
    for name, forward in [("torch", None), ("onnx", OnnxRaggedForward(path))]:
        engine = Engine(
            model,
            num_blocks=num_blocks,
            block_size=4,
            max_batch=4,
            prefix_caching=prefix_caching,
            forward=forward,
        )
        reqs = [engine.submit(Request(p, max_tokens=4 + i)) for i, p in enumerate(prompts)]
        engine.run_until_idle()
        outs[name], engines[name] = [r.generated for r in reqs], engine
        assert engine.blocks.report().used_blocks == 0
        if prefix_caching:  # the last request joins after the fifth: 2 full blocks reused
            assert reqs[-1].prefix_hit_tokens == 8
    assert outs["onnx"] == outs["torch"]
    for p, got in zip(prompts, outs["onnx"]):
        ref = generate(model, torch.tensor([p]), len(got), temperature=0)[0, len(p) :].tolist()
        assert got == ref
    if not prefix_caching:
        assert engines["onnx"].preemptions > 0


def test_onnx_backend_refuses_the_wrong_graph_and_unknown_options(exported, ragged):
    _, step_path = exported  # forward_with_past's graph: one past length for the whole batch
    with pytest.raises(ValueError, match="not a ragged step graph"):
        OnnxRaggedForward(step_path)
    with pytest.raises(ValueError, match="optimization must be one of"):
        OnnxRaggedForward(ragged[1], optimization="fastest")
    # Every optimization level computes the same step (graph rewrites preserve the function).
    model, path = ragged
    inputs = {
        "input_ids": np.array([[5, 6, 7]], np.int64),
        "past_lengths": np.array([0], np.int64),
        "new_lengths": np.array([3], np.int64),
        "past_keys": np.zeros((2, 1, 2, 0, 16), np.float32),
        "past_values": np.zeros((2, 1, 2, 0, 16), np.float32),
    }
    with torch.no_grad():
        ref = model(torch.tensor([[5, 6, 7]]))[0, -1].numpy()
    for level in ("disable", "basic", "extended", "all"):
        session = ragged_session(path, optimization=level, threads=1)
        logits = session.run(None, inputs)[0]
        np.testing.assert_allclose(logits[0], ref, rtol=0, atol=TOL)
