"""Shared fixtures of the deploy tests: a tiny model, a byte-level tokenizer, a run folder, a server."""

import json

import pytest
import torch
from safetensors.torch import save_model

from masterclass.deploy.server import build_slots, create_app, server_in_thread
from masterclass.llm import LanguageModel, LMConfig
from masterclass.nlp.bpe import BPETokenizer


def tiny_lm(seed: int = 0, vocab: int = 257, d_model: int = 32, std: float = 0.3) -> LanguageModel:
    """A 2-layer GQA LLaMA-style model; a large init spreads the logits, so argmax ties are rare."""
    torch.manual_seed(seed)
    cfg = LMConfig.llama(
        vocab_size=vocab, d_model=d_model, n_layers=2, n_heads=4, n_kv_heads=2, max_seq_len=512
    )
    cfg.init_std = std
    return LanguageModel(cfg).eval()


@pytest.fixture(scope="session")
def byte_tokenizer() -> BPETokenizer:
    """256 single bytes plus the end-of-text special token (id 256): no training needed."""
    return BPETokenizer([bytes([i]) for i in range(256)], {"<|endoftext|>": 256})


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory, byte_tokenizer):
    """The files of a finished capstone run folder that the server reads, written like the capstone."""
    run = tmp_path_factory.mktemp("run")
    (run / "train").mkdir()
    (run / "tokenizer").mkdir()
    model = tiny_lm(1)
    save_model(model, str(run / "train" / "model.safetensors"))
    (run / "train" / "model_config.json").write_text(json.dumps(model.config.to_dict()))
    byte_tokenizer.save(run / "tokenizer" / "bpe.json")
    return run


@pytest.fixture(scope="module")
def server(byte_tokenizer):
    """A server with models "a" and "b" and an A/B experiment "ab" (50/50), on a free port."""
    slots = build_slots(
        {"a": (tiny_lm(0), byte_tokenizer), "b": (tiny_lm(1), byte_tokenizer)},
        num_blocks=48,
        block_size=8,
        max_batch=8,
    )
    app = create_app(slots, ab={"a": 0.5, "b": 0.5}, experiment="ab", max_tokens_limit=2000)
    with server_in_thread(app) as url:
        yield url, app


@pytest.fixture(scope="session")
def make_lm():
    """The `tiny_lm` factory, as a fixture (test modules cannot import conftest by name)."""
    return tiny_lm
