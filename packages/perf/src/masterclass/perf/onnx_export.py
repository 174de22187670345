r"""# ONNX export with a parity check

[ONNX](https://onnx.ai) is a file format for computation graphs: a list of operators
(`MatMul`, `Softmax`, ...) from a versioned *opset*, their weights as initializers, and typed,
named inputs and outputs. A PyTorch module exported to ONNX runs without Python or PyTorch in
[onnxruntime](https://onnxruntime.ai), TensorRT, OpenVINO, a browser or a phone, and runtimes
apply graph optimizations (operator fusion, constant folding, int8 kernels) that eager PyTorch
does not.

**Opsets.** An ONNX file imports the standard operator set at one version, and every operator
has a schema per version: a node means what the newest schema at or below the file's opset says.
Versions change signatures, not just add operators. Opset 13 moved `ReduceSum`'s `axes` from an
attribute to an input tensor, and opset 18 did the same for `ReduceMean`, `ReduceMax` and the
other reductions; opset 17 added `LayerNormalization` as one node, which earlier exporters had to
spell out as `ReduceMean`, `Sub`, `Pow`, `Sqrt`, `Div`. So an exporter emits different graphs for
different opsets, and a node written for one opset is invalid under another (exercise 2):
`onnx.checker` and the runtime read the opset before anything else.

**How the graph is captured.** PyTorch has two exporters:

- the **TorchScript tracer** (`dynamo=False`): runs the module once on example inputs and
  records every tensor operation. Python control flow is frozen to the path the example took, so
  shapes that should vary must be declared *dynamic* (`dynamic_axes`), and any branch on a
  shape is baked in;
- the **`torch.export` exporter** (`dynamo=True`, the default since PyTorch 2.9): captures an
  FX graph with symbolic shapes, decomposes it to core ATen operators and translates them with
  onnxscript. It checks the symbolic shapes (an axis declared dynamic that the code specialises
  is an error, not a silent bug), at the cost of a much slower export.

`export_onnx` exposes both. The default is the tracer because it exports small models in well
under a second on a laptop CPU; the LLM export (`masterclass.deploy.llm_export`) uses
`torch.export`, because the tracer has no translation for `aten::rms_norm`. Either way the
parity check below catches what an exporter can get wrong.

**Trust, but verify.** An export is correct only if the runtime computes what the module
computes. `onnx_parity` runs both on the same inputs and returns
$$\max_{k,i} \lvert y^{\text{torch}}_{k,i} - y^{\text{ort}}_{k,i} \rvert$$
over every output $k$ and element $i$. In float32 the two differ only by the order of floating
point operations (fused kernels, different matmul blocking), so for unit-scale activations
the difference is $\sim 10^{-6}$; a wrong graph gives differences of order one.

A two-layer module exported with a dynamic batch axis, into a temporary folder, then run by
onnxruntime at a batch size the export never saw:

>>> import tempfile
>>> _ = torch.manual_seed(0)
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
>>> tmp = tempfile.TemporaryDirectory()
>>> path = export_onnx(model, (torch.randn(2, 4),), Path(tmp.name) / "mlp.onnx",
...                    input_names=["x"], output_names=["y"],
...                    dynamic_axes={"x": {0: "B"}, "y": {0: "B"}})
>>> [node.op_type for node in onnx.load(str(path)).graph.node]  # nn.Linear became one Gemm
['Gemm', 'Relu']
>>> ort_session(path).get_inputs()[0].shape  # the batch axis is a symbol, the width a number
['B', 4]
>>> onnx_parity(model, path, {"x": torch.randn(5, 4)}) < 1e-5
True
>>> tmp.cleanup()

Module 10's [LLM export](../deploy/llm_export.md), which the capstone runs, builds on this file;
what the tracer freezes and what `torch.export` keeps symbolic is the subject of
[TorchScript and torch.export](torchscript.md).

Left out: custom operators and symbolic functions, external data for models over 2 GB, and
graph surgery (adding or removing nodes by hand).

## Exercises

1. Write `onnx_with_dynamic_batch(module, example, path)`: export a module that takes one
   `(B, C)` tensor and returns one, traced on `example`, to an ONNX file at `path` whose batch
   axis may vary at run time; return the path as a string. The checker runs the file in
   onnxruntime at other batch sizes and compares with eager PyTorch.
   Check it: `uv run pytest --exercise perf.onnx_export`
2. Write `reduce_mean_model(opset)`: with `onnx.helper`, build a one-node ONNX model that maps an
   input `x` (float, shape `(B, C)`) to `y = x.mean(axis=1)` `(B,)` with `ReduceMean`, valid at
   the given opset (13 to 21: `axes` is an attribute before opset 18, an input from 18 on);
   return it serialized (`model.SerializeToString()`).
   Check it: `uv run pytest --exercise perf.onnx_export`
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

__all__ = ["export_onnx", "onnx_parity", "ort_session"]


def _flatten(out: object) -> list[torch.Tensor]:
    # A module may return a tensor, or (nested) tuples/lists of tensors; ONNX outputs are flat.
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _flatten(item)]
    raise TypeError(f"module outputs must be tensors or tuples of tensors, got {type(out)}")


# The `torch.export` path records, on every node, the Python stack trace that produced it: handy
# when debugging an export, but it can make up a third of a small model's file. It is dropped.
def _strip_node_metadata(path: Path) -> None:
    proto = onnx.load(str(path))
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    onnx.save(proto, str(path))


# ## Exporting
#
# The file is written to a temporary name beside the target, checked with `onnx.checker`
# (which validates the graph against the opset's operator schemas and the type system), and only
# then renamed into place: a failed export never leaves a file that looks usable.
def export_onnx(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    path: str | os.PathLike,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
    opset: int = 18,
    dynamo: bool = False,
) -> Path:
    """Export `module` called on `args` to an ONNX file at `path`; return the path.

    Args:
        module: put in eval mode for the export (its mode is restored afterwards).
        args: example positional inputs; their shapes are the traced ones, except the axes
            named in `dynamic_axes`.
        input_names / output_names: one name per (flattened) input and output.
        dynamic_axes: `{name: {axis: symbol}}` for every axis that may vary at run time,
            e.g. `{"input_ids": {0: "B", 1: "T"}}`; the same symbol ties axes that are equal.
        opset: the ONNX operator set version (>= 18 for this course).
        dynamo: use the `torch.export`-based exporter instead of the TorchScript tracer.
    """
    # Reject what the exporter would fail on later, with a message that names the cause.
    if opset < 18:
        raise ValueError(f"opset must be >= 18 (got {opset}): earlier opsets lack ops we use")
    if len(input_names) != len(args):
        raise ValueError(f"got {len(args)} args but {len(input_names)} input_names")
    unknown = set(dynamic_axes) - set(input_names) - set(output_names)
    if unknown:
        raise ValueError(f"dynamic_axes names {sorted(unknown)} that are not inputs or outputs")
    # Export in eval mode, without gradients, to a temporary name that carries the process id, so
    # two processes exporting to one path never write the same file.
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer is deprecated in favour of torch.export; we choose it knowingly.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            # torch.export derives its own symbolic shapes from `dynamic_axes` and says so.
            warnings.filterwarnings("ignore", message=".*dynamic_axes.*|.*axis name.*")
            extra = {"external_data": False, "verbose": False} if dynamo else {}
            torch.onnx.export(
                module,
                tuple(args),
                str(tmp),
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
                opset_version=opset,
                dynamo=dynamo,
                **extra,
            )
        if dynamo:
            _strip_node_metadata(tmp)
        onnx.checker.check_model(str(tmp), full_check=True)
        # Module 9 and later share one version: `masterclass.infra.atomic.atomic_write`.
        os.replace(tmp, path)
    finally:
        module.train(was_training)
        if tmp.exists():
            tmp.unlink()
    return path


def ort_session(path: str | os.PathLike, *, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session for the model at `path`, with all graph optimizations on."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# ## Checking parity
#
# The inputs are given by name, in the module's positional order; the runtime's inputs are
# matched by name (an input the exporter pruned because the graph never reads it is skipped),
# its outputs by position.
def onnx_parity(
    module: torch.nn.Module,
    path: str | os.PathLike,
    inputs: Mapping[str, torch.Tensor],
) -> float:
    """Max abs difference between `module(*inputs.values())` and onnxruntime on the same inputs.

    Raises:
        ValueError: the ONNX model needs an input that is not given, or the outputs differ in
            number or shape.
    """
    # Feed the runtime exactly the inputs its graph declares, as NumPy arrays.
    session = ort_session(path)
    wanted = [i.name for i in session.get_inputs()]
    missing = [n for n in wanted if n not in inputs]
    if missing:
        raise ValueError(f"the ONNX model at {path} needs inputs {missing}; got {list(inputs)}")
    feed = {n: inputs[n].detach().cpu().numpy() for n in wanted}
    # The reference outputs: the module in eval mode, without gradients, its mode restored after.
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            expected = _flatten(module(*inputs.values()))
    finally:
        module.train(was_training)
    got = session.run(None, feed)
    if len(got) != len(expected):
        raise ValueError(f"ONNX model has {len(got)} outputs, the module {len(expected)}")
    # Compare output by output in float64, so the difference itself is not rounded away.
    worst = 0.0
    for k, (e, g) in enumerate(zip(expected, got)):
        e = e.detach().cpu().numpy()
        if e.shape != g.shape:
            raise ValueError(f"output {k}: module shape {e.shape} but ONNX shape {g.shape}")
        if e.size:
            diff = np.abs(e.astype(np.float64) - g.astype(np.float64)).max()
            worst = max(worst, float(diff))
    return worst
