"""Under torchrun (2 gloo processes), DDP and FSDP training equal one process on the combined batch."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from masterclass.infra.checkpoint import load_checkpoint
from masterclass.infra.shards import ShardBatcher, TokenShards, write_token_shards
from masterclass.training.loop import train

_COMMON = """
import torch
from masterclass.infra.shards import ShardBatcher, TokenShards
from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.loop import TrainConfig

def tiny_model():
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4, max_seq_len=64)
    return LanguageModel(cfg).double()

CONFIG = TrainConfig(steps=6, batch_size={batch}, grad_accum=2, lr=1e-2, warmup=2, min_lr=1e-3,
                     eval_every=0, checkpoint_every=0, log_every=1, clip_norm=0.5)
"""

_WORKER = """
import dataclasses, os, sys
from masterclass.llm import LanguageModel
from masterclass.training.loop import train
torch.set_num_threads(1)
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
def batcher():
    return ShardBatcher(TokenShards(sys.argv[1]), 2, 16, seed=5, rank=rank, world_size=world)
train(tiny_model(), batcher(), CONFIG, sys.argv[2] + "/ddp")
# FSDP, interrupted at step 3 and resumed by a fresh model from the whole-weight checkpoint.
fsdp = dataclasses.replace(CONFIG, parallel="fsdp", checkpoint_every=3)
train(tiny_model(), batcher(), fsdp, sys.argv[2] + "/fsdp", stop_at=3)
config = tiny_model().config
torch.manual_seed(rank + 100)  # a fresh process, differently initialised on each rank
train(LanguageModel(config).double(), batcher(), fsdp, sys.argv[2] + "/fsdp")
"""


@pytest.mark.distributed
@pytest.mark.slow
def test_two_gloo_processes_equal_one_process_on_the_combined_batch(tmp_path):
    # One torchrun launch trains with DDP, then with FSDP (stopped at step 3 and resumed).
    rng = np.random.default_rng(0)
    write_token_shards([rng.integers(0, 64, 3000)], tmp_path / "shards", vocab_size=64)
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(_COMMON.format(batch=2)) + textwrap.dedent(_WORKER))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
        str(tmp_path / "shards"),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]

    # Reference: the same training in this process with batch 4 (= 2 ranks x 2), same seeds.
    scope: dict = {}
    exec(textwrap.dedent(_COMMON.format(batch=4)), scope)
    single = scope["tiny_model"]()
    batcher = ShardBatcher(TokenShards(tmp_path / "shards"), 4, 16, seed=5)
    train(single, batcher, scope["CONFIG"], tmp_path / "single")

    for parallel in ("ddp", "fsdp"):
        weights = scope["tiny_model"]()
        meta = load_checkpoint(tmp_path / parallel / "checkpoints", model=weights, rng=False)
        assert meta["step"] == 6 and meta["data_state"]["world_size"] == 2
        assert meta["extra"]["train_config"]["parallel"] == parallel
        # float64, and only the order of the sums differs (all-reduce or ring reduce-scatter of
        # two halves vs one mean over four rows; FSDP's norm summed from rows in float64): 1e-9
        # relative after 6 AdamW steps.
        for (name, p), q in zip(single.state_dict().items(), weights.state_dict().values()):
            torch.testing.assert_close(q, p, rtol=1e-9, atol=1e-11, msg=f"{parallel} {name}")
        # Rank 0 alone wrote the metrics, one line per step (the resumed run dropped none).
        assert len((tmp_path / parallel / "metrics.jsonl").read_text().splitlines()) == 6
