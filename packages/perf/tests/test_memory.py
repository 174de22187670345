"""Saved-tensor bytes against the analytic formula, checkpointing against the plain model."""

import copy

import pytest
import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.memory import (
    Recompute,
    SavedTensorCounter,
    checkpoint_module,
    decoder_saved_bytes,
    inplace_hazard,
    peak_rss_during,
)

CONFIGS = {
    "mha": lambda: LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, max_seq_len=16),
    "gqa": lambda: LMConfig.llama(
        vocab_size=64, d_model=32, n_layers=3, n_heads=4, n_kv_heads=2, max_seq_len=16
    ),
}


def _batch(cfg: LMConfig, b: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return (
        torch.randint(0, cfg.vocab_size, (b, t), generator=g),
        torch.randint(0, cfg.vocab_size, (b, t), generator=g),
    )


# Byte counts are integers: the measurement must equal the formula exactly, not approximately.
@pytest.mark.parametrize("name", [*CONFIGS, "capstone"])
def test_saved_bytes_equal_the_formula(name, capstone_config):
    cfg = capstone_config if name == "capstone" else CONFIGS[name]()
    torch.manual_seed(0)
    model = LanguageModel(cfg)
    b, t = (2, 8) if name != "capstone" else (1, 64)
    idx, y = _batch(cfg, b, t)
    with SavedTensorCounter(model.parameters()) as counter:
        model(idx, y)
    assert counter.bytes == decoder_saved_bytes(cfg, b, t)["total"]


def test_counter_counts_a_shared_storage_once():
    # Reference by hand: x * x saves x twice (one storage, 4 * 6 bytes); exp saves its output.
    x = torch.randn(2, 3, requires_grad=True)
    with SavedTensorCounter() as counter:
        (x * x).exp()
    assert counter.packed == 3
    assert counter.bytes == 2 * 4 * 6


@pytest.mark.slow
@pytest.mark.parametrize("wrap", [checkpoint_module, Recompute], ids=["torch", "scratch"])
def test_checkpointing_cuts_saved_bytes_with_equal_gradients(wrap):
    cfg = CONFIGS["gqa"]()
    torch.manual_seed(0)
    model = LanguageModel(cfg)
    idx, y = _batch(cfg, 2, 8)
    _, loss = model(idx, y)
    loss.backward()
    ckpt = copy.deepcopy(model)
    ckpt.zero_grad()
    for i, block in enumerate(ckpt.blocks):
        ckpt.blocks[i] = wrap(block)
    with SavedTensorCounter(ckpt.parameters()) as counter:
        _, loss_ckpt = ckpt(idx, y)
    loss_ckpt.backward()
    want = decoder_saved_bytes(cfg, 2, 8)
    assert counter.bytes == want["checkpointed"]
    assert counter.bytes < 0.2 * want["total"]
    # Recomputation replays the same CPU kernels on the same inputs: bitwise equal, no tolerance.
    assert torch.equal(loss, loss_ckpt)
    for (name, p), q in zip(model.named_parameters(), ckpt.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad), name


def test_recompute_matches_autograd_on_input_gradients():
    # Reference: plain autograd through the same function, for the input's own gradient.
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 5)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    lin = lin.double()
    (gx_ref,) = torch.autograd.grad(torch.tanh(lin(x)).sum(), x)
    wrapped = Recompute(torch.nn.Sequential(lin, torch.nn.Tanh()))
    (gx,) = torch.autograd.grad(wrapped(x).sum(), x)
    assert torch.equal(gx, gx_ref)


def test_inplace_hazard_is_caught_by_the_version_counter():
    assert "modified by an inplace operation" in inplace_hazard()


def test_peak_rss_sees_a_large_allocation():
    # 64 MiB written (so the pages are resident); allocator and sampling slack: accept >= 48 MiB.
    peak, total = peak_rss_during(lambda: torch.ones(16 * 2**20).sum().item())
    assert total == 16 * 2**20
    assert peak >= 48 * 2**20


def test_bad_input():
    cfg = CONFIGS["mha"]()
    with pytest.raises(ValueError, match="batch must be a positive int, got 0"):
        decoder_saved_bytes(cfg, 0, 8)
    with pytest.raises(TypeError, match="config needs d_model"):
        decoder_saved_bytes(object(), 1, 8)
    with pytest.raises(TypeError, match=r"module must be an nn\.Module"):
        checkpoint_module(3)
    with pytest.raises(TypeError, match="fn must be callable"):
        peak_rss_during(3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_memory_snapshot_and_caching():
    torch.cuda.empty_cache()
    torch.cuda.memory._record_memory_history(max_entries=1000)
    try:
        x = torch.empty(2**20, device="cuda")  # 4 MiB
        allocated = torch.cuda.memory_allocated()
        del x
        # The caching allocator keeps the freed block: allocated falls, reserved does not.
        assert torch.cuda.memory_allocated() < allocated
        assert torch.cuda.memory_reserved() >= 4 * 2**20
        snapshot = torch.cuda.memory._snapshot()
        assert any(seg["total_size"] >= 4 * 2**20 for seg in snapshot["segments"])
    finally:
        torch.cuda.memory._record_memory_history(enabled=None)
