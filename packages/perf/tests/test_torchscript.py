"""Trace, script and export: save/load round trips against eager, and where tracing goes wrong."""

import pytest
import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.perf.torchscript import (
    CondSignGate,
    SignGate,
    export,
    load_exported,
    load_scripted,
    max_abs_difference,
    save_exported,
    save_scripted,
    script,
    trace,
)

# Every path runs the same ATen kernels as eager on the CPU; 1e-6 allows for a reordered fp32
# reduction in a fused graph (unit-scale values, eps ~ 1.2e-7 per operation).
TOL = 1e-6

POS, NEG = torch.tensor([1.0, 2.0, -0.5]), torch.tensor([-1.0, -2.0, 0.5])


def _tiny_lm() -> LanguageModel:
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, max_seq_len=32)
    return LanguageModel(cfg).eval()


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_tracing_freezes_the_branch_and_script_keeps_it(tmp_path):
    gate = SignGate()
    traced, scripted = trace(gate, POS), script(gate)
    save_scripted(traced, tmp_path / "traced.pt")
    save_scripted(scripted, tmp_path / "scripted.pt")
    traced, scripted = (
        load_scripted(tmp_path / "traced.pt"),
        load_scripted(tmp_path / "scripted.pt"),
    )
    for x in (POS, NEG):
        assert max_abs_difference(scripted(x), gate(x)) <= TOL
    assert max_abs_difference(traced(POS), gate(POS)) <= TOL
    # The trace recorded `x * 2`: on a negative input it is wrong by 3|x|.
    assert torch.equal(traced(NEG), NEG * 2)
    assert not torch.allclose(traced(NEG), gate(NEG))


@pytest.mark.slow
def test_export_refuses_the_python_branch_and_captures_torch_cond(tmp_path):
    with pytest.raises(Exception, match=r"(?i)data-dependent|control flow|cond"):
        export(SignGate(), POS)
    program = export(CondSignGate(), POS)
    save_exported(program, tmp_path / "gate.pt2")
    loaded = load_exported(tmp_path / "gate.pt2").module()
    for x in (POS, NEG):
        assert max_abs_difference(loaded(x), SignGate()(x)) <= TOL


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_llm_traced_round_trip_matches_eager(tmp_path):
    model = _tiny_lm()
    idx = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(1))
    save_scripted(trace(model, idx), tmp_path / "lm.pt")
    loaded = load_scripted(tmp_path / "lm.pt")
    with torch.no_grad():
        assert max_abs_difference(loaded(idx), model(idx)) <= TOL


@pytest.mark.slow
def test_llm_exported_round_trip_with_dynamic_shapes(tmp_path):
    model = _tiny_lm()
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, 64, (2, 12), generator=g)
    dims = {"idx": {0: torch.export.Dim("batch", max=8), 1: torch.export.Dim("time", max=32)}}
    save_exported(export(model, idx, dynamic_shapes=dims), tmp_path / "lm.pt2")
    loaded = load_exported(tmp_path / "lm.pt2").module()
    # A batch and length other than the example's: the symbolic shapes carried over.
    other = torch.randint(0, 64, (3, 7), generator=g)
    with torch.no_grad():
        for x in (idx, other):
            assert max_abs_difference(loaded(x), model(x)) <= TOL


def test_script_keeps_a_loop_over_a_tensor_length():
    class Cumulative(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros_like(x[0])
            for i in range(x.shape[0]):
                out = out + x[i] * (i + 1)
            return out

    scripted = script(Cumulative())
    for n in (2, 5):
        x = torch.randn(n, 3)
        want = (x * torch.arange(1, n + 1)[:, None]).sum(0)  # reference: the closed form
        assert max_abs_difference(scripted(x), want) <= 1e-5


def test_bad_input(tmp_path):
    with pytest.raises(TypeError, match=r"module must be an nn\.Module"):
        trace(lambda x: x, POS)
    with pytest.raises(TypeError, match="must come from trace"):
        save_scripted(SignGate(), tmp_path / "x.pt")
    with pytest.raises(TypeError, match="must come from export"):
        save_exported(SignGate(), tmp_path / "x.pt2")
    with pytest.raises(ValueError, match="shapes differ"):
        max_abs_difference(POS, torch.zeros(2))
