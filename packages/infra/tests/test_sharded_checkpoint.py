"""Sharded checkpoints: saved by ZeRO-3 on 2 gloo ranks, resumed on 1 process bitwise; the
reassembled weights equal what torch.distributed.checkpoint stored."""

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import workers

from masterclass.infra.sharded_checkpoint import load_full_checkpoint, load_resharded
from masterclass.infra.sharding import FullyShardedModule


def _continue_plain(model, opt, start: int, steps: int) -> None:
    # The resumed run: one process, the whole combined batch of the 2-rank run per step.
    for step in range(start, start + steps):
        x, y = workers.batch(step, 2)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.distributed
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:torch.distributed is disabled")  # DCP read in one process
def test_saved_at_two_ranks_resumes_on_one_bitwise(launch):
    (r0, _) = launch("reshard", 2)
    root = Path(r0["dir"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' kernels, bit for bit
    try:
        # Reference: never stopped. 5 steps of the 2-rank run (replayed in ring order, which is
        # bitwise what ZeRO-3 computes), then 5 single-process steps.
        ref = workers.mlp()
        ref_opt = torch.optim.AdamW(workers.groups(ref.parameters()), lr=1e-2)
        for step in range(5):
            workers.ring_reference_step(ref, ref_opt, step, 2)
        _continue_plain(ref, ref_opt, 5, 5)
        # Resumed: a fresh plain model and optimizer, loaded from the 2-rank shards.
        for wrap in (False, True):
            model = workers.mlp(seed=123)
            if wrap:
                model = FullyShardedModule(model)
            opt = torch.optim.AdamW(workers.groups(model.parameters()), lr=1e-2)
            assert load_resharded(root / "ckpt", model, opt) == 5
            _continue_plain(model, opt, 5, 5)
            got = model.full_state_dict() if wrap else model.state_dict()
            for name, value in ref.state_dict().items():
                assert torch.equal(got[name], value), (wrap, name)
    finally:
        torch.set_num_threads(threads)
    # torch.distributed.checkpoint read back in one process holds the same weights as ours.
    import torch.distributed.checkpoint as dcp

    full = load_full_checkpoint(root / "ckpt")["params"]
    state = {"model": {k: torch.empty_like(v) for k, v in full.items()}}
    dcp.load(state, checkpoint_id=str(root / "dcp"))
    for name, value in full.items():
        assert torch.equal(state["model"][name], value), name


def test_unfinished_checkpoint_is_refused(tmp_path):
    (tmp_path / "ckpt").mkdir()
    with pytest.raises(ValueError, match=r"no meta\.json"):
        load_full_checkpoint(tmp_path / "ckpt")


def test_single_process_round_trip(tmp_path):
    from masterclass.infra.sharded_checkpoint import save_sharded_checkpoint

    model = FullyShardedModule(workers.mlp())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = workers.batch(0, 1)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    save_sharded_checkpoint(tmp_path / "c", model, opt, step=1)
    plain = workers.mlp(seed=5)
    popt = torch.optim.AdamW(plain.parameters(), lr=1e-2)
    load_resharded(tmp_path / "c", plain, popt)
    for name, value in model.full_state_dict().items():
        assert torch.equal(plain.state_dict()[name], value)
    for p, s in zip(plain.parameters(), model.parameters()):
        assert torch.equal(popt.state[p]["exp_avg"], opt.state[s]["exp_avg"].view_as(p))
