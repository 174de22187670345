"""ONNX export: graphs pass onnx.checker and onnxruntime reproduces PyTorch's outputs."""

import onnx
import pytest
import torch
from torch import nn

from masterclass.perf.onnx_export import export_onnx, onnx_parity

# float32 parity bound: both runtimes compute the same float32 operations in a different order
# (blocked matmuls, fused softmax), so differences are a few ulps of unit-scale values (~1e-6);
# 1e-5 leaves margin while any wrong operator would differ by ~1e-1.
TOL = 1e-5


class _Block(nn.Module):
    """A small attention-like block: LayerNorm, a softmax mixing over time, an MLP, two outputs."""

    def __init__(self, d: int = 16) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.qk = nn.Linear(d, 2 * d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.norm(x)  # (B, T, C)
        q, k = self.qk(h).chunk(2, dim=-1)  # (B, T, C) each
        att = torch.softmax(q @ k.transpose(1, 2) / 4.0, dim=-1)  # (B, T, T)
        y = x + att @ h + bias[:, None, :]
        return y + self.mlp(y), att


def _export(tmp_path, dynamo=False):
    torch.manual_seed(0)
    model = _Block()
    args = (torch.randn(2, 5, 16), torch.randn(2, 16))
    path = export_onnx(
        model,
        args,
        tmp_path / "block.onnx",
        input_names=["x", "bias"],
        output_names=["y", "att"],
        dynamic_axes={
            "x": {0: "B", 1: "T"},
            "bias": {0: "B"},
            "y": {0: "B", 1: "T"},
            "att": {0: "B", 1: "T", 2: "T"},
        },
        dynamo=dynamo,
    )
    return model, path


def test_export_is_valid_and_matches_torch_on_new_shapes(tmp_path):
    model, path = _export(tmp_path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 18
    # Shapes never seen at export time: the dynamic axes really are dynamic.
    for b, t in [(1, 1), (3, 9), (2, 5)]:
        inputs = {"x": torch.randn(b, t, 16), "bias": torch.randn(b, 16)}
        assert onnx_parity(model, path, inputs) < TOL
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed away


def test_parity_detects_a_different_model(tmp_path):
    # The check must be able to fail: perturb one weight after export.
    model, path = _export(tmp_path)
    with torch.no_grad():
        model.mlp[0].weight[0, 0] += 1.0
    diff = onnx_parity(model, path, {"x": torch.randn(2, 5, 16), "bias": torch.randn(2, 16)})
    assert diff > 1e-3


def test_bad_arguments_are_rejected(tmp_path):
    model = _Block()
    with pytest.raises(ValueError, match="opset"):
        export_onnx(
            model,
            (torch.randn(1, 2, 16), torch.randn(1, 16)),
            tmp_path / "a.onnx",
            input_names=["x", "bias"],
            output_names=["y", "att"],
            dynamic_axes={},
            opset=13,
        )
    with pytest.raises(ValueError, match="dynamic_axes"):
        export_onnx(
            model,
            (torch.randn(1, 2, 16), torch.randn(1, 16)),
            tmp_path / "a.onnx",
            input_names=["x", "bias"],
            output_names=["y", "att"],
            dynamic_axes={"z": {0: "B"}},
        )
    _, path = _export(tmp_path)
    with pytest.raises(ValueError, match="needs inputs"):
        onnx_parity(model, path, {"x": torch.randn(1, 2, 16)})


@pytest.mark.slow
def test_torch_export_path_matches_too(tmp_path):
    # The torch.export-based exporter produces an equally faithful graph (slower to export).
    model, path = _export(tmp_path, dynamo=True)
    inputs = {"x": torch.randn(3, 7, 16), "bias": torch.randn(3, 16)}
    assert onnx_parity(model, path, inputs) < TOL
