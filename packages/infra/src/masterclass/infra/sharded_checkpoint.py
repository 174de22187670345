r"""# Sharded checkpoints and resharding

Under ZeRO-3 (`sharding.py`) no rank holds the whole model, so no rank can write the
checkpoint of `checkpoint.py` alone. Gathering everything to rank 0 first works for small models
and fails for large ones (rank 0 would need the memory the sharding saved). The answer of
PyTorch's `torch.distributed.checkpoint` (DCP) and of Megatron's distributed checkpoints is that
**every rank writes its own shard**, together with metadata that says where each shard lies in the
global tensor.

**Resharding.** A run saved on $W$ ranks must resume on $W'$: a different number of GPUs, or one
process for evaluation. With row shards of $c = \lceil d_0 / W \rceil$ rows, rank $r$'s file
holds global rows $[rc, \min((r+1)c, d_0))$ of each tensor. Any reader reassembles a tensor by
concatenating the $W$ files' rows in rank order and dropping the padding, then takes the rows it
owns under the new layout, $c' = \lceil d_0 / W' \rceil$. The same holds for Adam's moments, which
are shaped like the parameters, so the optimizer reshards with them; the step counters are equal
on all ranks and stored once. Nothing is recomputed, only moved, so a resumed run is *bitwise*
the run that never stopped: the test saves at $W = 2$, resumes at $W = 1$ and compares with
`torch.equal`.

**Atomicity.** Each rank writes `rank<r>.safetensors` under a temporary directory; after a barrier,
rank 0 writes `meta.json` and renames the directory into place. A reader that finds `meta.json`
finds every shard.

References: PyTorch, *Distributed Checkpoint (DCP)*,
<https://pytorch.org/docs/stable/distributed.checkpoint.html>; Megatron-Core's `dist_checkpointing`.

Left out: reading only the byte ranges a new rank needs (DCP plans reads per shard; here a reader
loads every file), asynchronous saving, and tensor- or pipeline-parallel layouts.

**A worked example, on one process.** First what a save on $W = 2$ ranks leaves, written by hand:
a weight of 5 rows is cut into rows 0–2 (rank 0) and rows 3–4 plus a zero row of padding
(rank 1), one file each, and the metadata; reading concatenates and cuts at $d_0 = 5$. Then a
real save of a `FullyShardedModule` (here $W = 1$, one shard of everything) after one AdamW step,
loaded into a *plain* `nn.Linear` and a plain AdamW: both take the same second step, bit for
bit, because the moments and the step count came back with the weights.

>>> import json, tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> by_hand = Path(tmp.name) / "by_hand"
>>> by_hand.mkdir()
>>> weight = torch.arange(10.0).reshape(5, 2)
>>> for r, rows in enumerate(pad_rows(weight, 2)):  # (W, c, 2) = (2, 3, 2)
...     save_file({"param/weight": rows.contiguous()}, str(by_hand / f"rank{r}.safetensors"))
>>> meta = {"world_size": 2, "step": 0, "shapes": {"weight": [5, 2]}, "optimizer_steps": {}}
>>> _ = (by_hand / "meta.json").write_text(json.dumps(meta))
>>> load_file(str(by_hand / "rank1.safetensors"))["param/weight"]
tensor([[6., 7.],
        [8., 9.],
        [0., 0.]])
>>> torch.equal(load_full_checkpoint(by_hand)["params"]["weight"], weight)
True
>>> _ = torch.manual_seed(0)
>>> sharded = FullyShardedModule(torch.nn.Linear(3, 5))
>>> opt = torch.optim.AdamW(sharded.parameters(), lr=0.1)
>>> sharded(torch.randn(4, 3)).pow(2).mean().backward()
>>> opt.step()
>>> path = save_sharded_checkpoint(Path(tmp.name) / "run", sharded, opt, step=1)
>>> sorted(p.name for p in path.iterdir())
['meta.json', 'rank0.safetensors']
>>> plain = torch.nn.Linear(3, 5)
>>> plain_opt = torch.optim.AdamW(plain.parameters(), lr=0.1)
>>> load_resharded(path, plain, plain_opt)
1
>>> x = torch.randn(4, 3)
>>> for model, o in ((sharded, opt), (plain, plain_opt)):
...     o.zero_grad()
...     model(x).pow(2).mean().backward()
...     o.step()
>>> full = sharded.full_state_dict()
>>> torch.equal(plain.weight, full["weight"]), torch.equal(plain.bias, full["bias"])
(True, True)
>>> tmp.cleanup()

## Exercises

1. Write `owned_rows(d0, world, rank)`: the `(start, stop)` global rows rank `rank` owns.
   Check it: `uv run pytest --exercise infra.sharded_checkpoint`
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch import Tensor

from masterclass.infra.sharding import FullyShardedModule, pad_rows

__all__ = ["load_full_checkpoint", "load_resharded", "save_sharded_checkpoint"]

_MOMENTS = ("exp_avg", "exp_avg_sq")


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# ## Saving: one file per rank, metadata last
#
# The optimizer must be an Adam-family optimizer built over `model.parameters()` (the shards), in
# that order; its state for shard `k` is saved under the parameter's name.
def save_sharded_checkpoint(
    path: str | os.PathLike, model: FullyShardedModule, optimizer: torch.optim.Optimizer, step: int
) -> Path:
    """Write this rank's shards and optimizer moments; rank 0 publishes `meta.json`."""
    # Rank 0 prepares a fresh temporary folder; the barrier keeps every rank from writing before it
    # exists.
    final = Path(path)
    tmp = final.with_name(final.name + ".tmp")
    if model.rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    # Each rank writes one file: its rows of every parameter and of its Adam moments, keyed
    # `kind/name`. The step counts are scalars, identical on every rank, and go into the metadata.
    tensors: dict[str, Tensor] = {}
    steps: dict[str, float] = {}
    for name, shard in zip(model.names, model.shards):
        tensors[f"param/{name}"] = shard.detach().contiguous()
        state = optimizer.state.get(shard, {})
        for key in _MOMENTS:
            if key in state:
                tensors[f"{key}/{name}"] = state[key].contiguous()
        if "step" in state:
            steps[name] = float(state["step"])
    save_file(tensors, str(tmp / f"rank{model.rank}.safetensors"))
    # Once every rank's file is written, rank 0 adds `meta.json` (world size, shapes, steps) and
    # renames the folder into place: a checkpoint without it is not a checkpoint. The final barrier
    # keeps any rank from going on before the checkpoint exists.
    _barrier()
    if model.rank == 0:
        meta = {
            "world_size": model.world,
            "step": step,
            "shapes": {n: list(s) for n, s in zip(model.names, model.shapes)},
            "optimizer_steps": steps,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    _barrier()
    return final


# ## Reading: reassemble every tensor whole
#
# Rows of rank $r$'s file are global rows $[rc, (r+1)c)$; concatenation in rank order and a cut at
# $d_0$ rebuild the tensor, whatever world size reads it.
def load_full_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """`{"params": {name: tensor}, "exp_avg": {...}, "exp_avg_sq": {...}, "meta": {...}}`."""
    root = Path(path)
    if not (root / "meta.json").is_file():
        raise ValueError(
            f"{root} is not a sharded checkpoint (no meta.json): was the save finished?"
        )
    # Reassemble each tensor from every rank's file: the rows concatenate in rank order, the padding
    # beyond the true first dimension is cut, and the saved shape is restored.
    meta = json.loads((root / "meta.json").read_text())
    files = [load_file(str(root / f"rank{r}.safetensors")) for r in range(meta["world_size"])]
    out: dict[str, Any] = {"params": {}, "exp_avg": {}, "exp_avg_sq": {}, "meta": meta}
    for name, shape in meta["shapes"].items():
        d0 = shape[0] if shape else 1
        for kind in ("param", *_MOMENTS):
            key = f"{kind}/{name}"
            if key not in files[0]:
                continue
            rows = torch.cat([f[key] for f in files])[:d0]
            out["params" if kind == "param" else kind][name] = rows.reshape(shape)
    return out


# ## Loading into any layout
#
# Into a `FullyShardedModule` on $W'$ ranks (each keeps its new rows, `pad_rows` as in training),
# or into a plain model with a plain optimizer when $W' = 1$.
def load_resharded(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
) -> int:
    """Load a sharded checkpoint into `model` (a `FullyShardedModule` on any number of ranks,
    or an ordinary module) and its Adam-family `optimizer`; return the saved step."""
    # The weights: a sharded model keeps its new rows of each whole tensor; a plain model copies
    # them in by name, and every saved name must exist in it.
    full = load_full_checkpoint(path)
    steps = full["meta"]["optimizer_steps"]
    if isinstance(model, FullyShardedModule):
        model.load_full_state_dict(full["params"])
        targets = list(zip(model.names, model.shards))

        def mine(t: Tensor) -> Tensor:
            return pad_rows(t, model.world)[model.rank].clone()
    else:
        params = dict(model.named_parameters())
        missing = set(full["params"]) - set(params)
        if missing:
            raise ValueError(f"model has no parameters named {sorted(missing)}")
        with torch.no_grad():
            for name, value in full["params"].items():
                params[name].copy_(value)
        targets = [(n, params[n]) for n in full["params"]]

        def mine(t: Tensor) -> Tensor:
            return t.clone()

    # The optimizer state is rebuilt per parameter in the layout the model now has (`mine` cuts the
    # rows this rank owns, or takes the whole tensor), with the saved step count.
    for name, p in targets:
        if name in full["exp_avg"]:
            optimizer.state[p] = {
                "step": torch.tensor(steps[name], dtype=torch.float32),
                **{k: mine(full[k][name]).view_as(p) for k in _MOMENTS},
            }
    return int(full["meta"]["step"])
