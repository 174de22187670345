"""The profiler's FLOPs against 6NT, the Chrome trace, and the optimized steps against the plain one."""

import json

import pytest
import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.profiling import profile_step, six_n_t, time_step, training_step
from masterclass.training.optim import AdamW


def _batch(vocab: int, b: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, vocab, (b, t), generator=g), torch.randint(
        0, vocab, (b, t), generator=g
    )


def _capstone_step(cfg: LMConfig, b: int, t: int):
    # The capstone's training step: llm's model at the default preset, training's AdamW.
    torch.manual_seed(0)
    model = LanguageModel(cfg)
    opt = AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    x, y = _batch(cfg.vocab_size, b, t)
    return model, (lambda: training_step(model, opt, x, y))


@pytest.mark.slow
def test_profiler_flops_match_6nt_on_the_capstone_step(capstone_config, tmp_path):
    b, t = 1, 64
    model, step = _capstone_step(capstone_config, b, t)
    # At B = 1 the optimizer's elementwise updates of the 4096-row embedding can outweigh the
    # matmuls, so `aten::mm` may rank below the default twelve rows: ask for more.
    prof = profile_step(step, trace_path=tmp_path / "trace.json", row_limit=60)
    estimate = six_n_t(model.num_parameters(non_embedding=True), b * t)
    # 6NT ignores the norms' weights (counted in N, but no products) and the attention products
    # (hidden in the fused SDPA kernel): both well under 1% at this size; the spec asks for 5%.
    assert abs(prof.matmul_flops / estimate - 1) < 0.05
    assert abs(prof.flops / estimate - 1) < 0.05
    assert prof.allocated_bytes > 0 and prof.cpu_time_us > 0
    assert "aten::mm" in prof.table
    # The Chrome trace is JSON with one complete event per operator, shapes among the arguments.
    trace = json.loads((tmp_path / "trace.json").read_text())
    mm = [e for e in trace["traceEvents"] if e.get("name") == "aten::mm"]
    assert mm and all("Input Dims" in e["args"] for e in mm)
    assert any(e.get("name") == "[memory]" for e in trace["traceEvents"])


def test_flops_of_a_linear_layer_by_hand():
    # Reference by hand: forward 2 d f n, input gradient 2 d f n, weight gradient 2 d f n.
    lin = torch.nn.Linear(12, 5, bias=False)
    x = torch.randn(3, 12, requires_grad=True)
    assert profile_step(lambda: lin(x).sum().backward()).matmul_flops == 6 * 12 * 5 * 3


def _tiny():
    cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, max_seq_len=16)
    torch.manual_seed(0)
    return LanguageModel(cfg), _batch(64, 2, 8)


def _params_after(model, opt, x, y, **kw):
    loss = training_step(model, opt, x, y, **kw)
    return loss, [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("variant", ["foreach", "fused"])
def test_torch_adamw_matches_the_from_scratch_one(variant):
    model, (x, y) = _tiny()
    ref = AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    loss_ref, p_ref = _params_after(model, ref, x, y)
    model.load_state_dict(state)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, **{variant: True})
    loss, p = _params_after(model, opt, x, y)
    assert torch.equal(loss, loss_ref)
    # The same update in a different order of fp32 operations: a few ulps of a step of size lr.
    for a, b in zip(p, p_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_bf16_autocast_loss_is_close_to_fp32():
    model, (x, y) = _tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    loss32 = training_step(model, opt, x, y)
    loss16 = training_step(model, opt, x, y, autocast_dtype=torch.bfloat16)
    # bf16 keeps 8 mantissa bits (relative error 2^-9 per rounding); a loss near log(64) moves
    # by a few thousandths through a 2-layer model.
    assert abs(loss16.item() - loss32.item()) < 2e-2
    assert loss16.item() != loss32.item()


def test_threads_do_not_change_the_loss_much():
    model, (x, y) = _tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = training_step(model, opt, x, y)
        torch.set_num_threads(max(2, n))
        many = training_step(model, opt, x, y)
    finally:
        torch.set_num_threads(n)
    # Splitting a reduction across threads reorders fp32 sums: equal to rounding.
    torch.testing.assert_close(one, many, rtol=1e-6, atol=1e-6)


def test_bad_input():
    model, (x, y) = _tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with pytest.raises(ValueError, match="autocast_dtype must be None"):
        training_step(model, opt, x, y, autocast_dtype=torch.float64)
    with pytest.raises(TypeError, match="step must be callable"):
        profile_step(None)
    with pytest.raises(ValueError, match="need warmup >= 0 and steps >= 1"):
        profile_step(lambda: None, steps=0)
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        time_step(lambda: None, repeat=0)
    with pytest.raises(ValueError, match="must be positive"):
        six_n_t(0, 10)
