r"""# Exercises: ONNX export with a parity check

An export whose batch axis really is dynamic, checked in onnxruntime against eager PyTorch, and
one operator written for two generations of the opset."""

import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper
from torch import nn

from masterclass.perf.onnx_export import export_onnx

# float32 parity: eager PyTorch and onnxruntime run the same float32 operations in a different
# order (blocked GEMMs), a few ulps of unit-scale values (~1e-7); a wrong graph is off by ~1e-1.
TOL = 1e-5


def solution_1_onnx_with_dynamic_batch(
    module: nn.Module, example: torch.Tensor, path: str | Path
) -> str:
    return str(
        export_onnx(
            module,
            (example,),
            path,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "B"}, "y": {0: "B"}},
        )
    )


def check_1_onnx_with_dynamic_batch(fn) -> None:
    """Run the file in onnxruntime at batch sizes other than the example's; compare with eager."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 2))
    with tempfile.TemporaryDirectory() as tmp:
        written = fn(module, torch.randn(3, 6), Path(tmp) / "model.onnx")
        assert Path(written).is_file(), f"no ONNX file at the returned path {written!r}"
        session = ort.InferenceSession(str(written), providers=["CPUExecutionProvider"])
        (given,) = session.get_inputs()
        assert not isinstance(given.shape[0], int), (
            f"the input's batch axis is fixed at {given.shape[0]} in the file (shape "
            f"{given.shape}): declare it dynamic, e.g. dynamic_axes={{name: {{0: 'B'}}}}"
        )
        for batch in (1, 4, 9):
            x = torch.randn(batch, 6)
            try:
                (got,) = session.run(None, {given.name: x.numpy()})
            except Exception as error:  # onnxruntime's own error types
                raise AssertionError(
                    f"onnxruntime cannot run the file at batch size {batch}: {error}"
                ) from error
            with torch.no_grad():
                want = module.eval()(x).numpy()
            assert got.shape == want.shape, (
                f"batch {batch}: ONNX output shape {got.shape}, eager {want.shape}"
            )
            err = float(np.abs(got - want).max())
            assert err < TOL, f"batch {batch}: ONNX differs from eager PyTorch by {err:.2e}"


def solution_2_reduce_mean_model(opset: int) -> bytes:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", "C"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B"])
    if opset >= 18:
        # From opset 18 the axes are a (possibly computed) int64 tensor input.
        axes = [helper.make_tensor("axes", TensorProto.INT64, [1], [1])]
        node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)
    else:
        axes = []
        node = helper.make_node("ReduceMean", ["x"], ["y"], axes=[1], keepdims=0)
    graph = helper.make_graph([node], "mean", [x], [y], initializer=axes)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString()


def check_2_reduce_mean_model(fn) -> None:
    """Validate with `onnx.checker` at each opset, then run it and compare with numpy's mean."""
    rng = np.random.default_rng(0)
    for opset in (13, 17, 18, 21):
        serialized = fn(opset)
        try:
            proto = onnx.load_from_string(serialized)
        except Exception as error:  # protobuf's DecodeError
            raise AssertionError(
                f"reduce_mean_model({opset}) did not return a serialized ONNX model: {error}"
            ) from error
        declared = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
        assert declared == [opset], f"reduce_mean_model({opset}) imports opset {declared}"
        try:
            onnx.checker.check_model(proto, full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
            raise AssertionError(
                f"reduce_mean_model({opset}) is not a valid opset-{opset} model: {error} (is "
                f"`axes` an {'input' if opset >= 18 else 'attribute'} at opset {opset}?)"
            ) from error
        session = ort.InferenceSession(
            proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        for shape in [(3, 4), (1, 7), (5, 1)]:
            x = rng.standard_normal(shape).astype(np.float32)
            (got,) = session.run(None, {"x": x})
            want = x.astype(np.float64).mean(axis=1)
            assert got.shape == want.shape, (
                f"opset {opset}, x {shape}: y has shape {got.shape}, want {want.shape} "
                "(keepdims=0 drops the reduced axis)"
            )
            err = float(np.abs(got - want).max())
            assert err < 1e-6, f"opset {opset}, x {shape}: y differs from x.mean(1) by {err:.2e}"
