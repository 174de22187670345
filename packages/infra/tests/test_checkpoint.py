"""Checkpoints: bitwise-equal resume, atomicity, retention and integrity checks."""

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from masterclass.infra.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)


class _Tiny(nn.Module):
    # Dropout consumes torch's RNG and the head is tied to the embedding (shared storage), the two
    # things a naive checkpoint gets wrong.
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.mix = nn.Linear(16, 16)
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(torch.tanh(self.mix(self.emb(idx)))))


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = _Tiny()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    return model, opt


def _train(model, opt, steps: int) -> None:
    for _ in range(steps):
        # Data drawn from numpy's and Python's global generators: the checkpoint must restore both.
        idx = torch.from_numpy(np.random.randint(0, 50, size=(4, 8)))
        idx[:, 0] = random.randrange(50)
        logits = model(idx[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 50), idx[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def test_resume_is_bitwise_equal(tmp_path):
    # Reference: the same run without interruption. On the CPU every kernel is deterministic, so
    # the comparison is exact equality, not a tolerance.
    ref_model, ref_opt = _setup()
    _seed_all(1)
    _train(ref_model, ref_opt, 12)

    model, opt = _setup()
    _seed_all(1)
    _train(model, opt, 5)
    save_checkpoint(tmp_path, model=model, optimizer=opt, step=5, data_state={"pos": 5})
    _train(model, opt, 3)  # work that is lost in the "crash"

    # A fresh process: new objects and scrambled generators.
    model2, opt2 = _setup(seed=99)
    _seed_all(12345)
    meta = load_checkpoint(tmp_path, model=model2, optimizer=opt2)
    assert meta["step"] == 5 and meta["data_state"] == {"pos": 5}
    _train(model2, opt2, 7)
    for (name, p), q in zip(ref_model.state_dict().items(), model2.state_dict().values()):
        assert torch.equal(p, q), name
    assert model2.head.weight is model2.emb.weight  # tying survives the round trip


def test_keeps_last_k_and_latest_pointer(tmp_path):
    model, opt = _setup()
    assert latest_checkpoint(tmp_path) is None
    for step in (10, 20, 30, 40):
        path = save_checkpoint(
            tmp_path, model=model, optimizer=opt, step=step, data_state={}, keep=2
        )
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_000000030", "step_000000040"]
    assert latest_checkpoint(tmp_path) == path
    assert (tmp_path / "latest").read_text().strip() == path.name


def test_interrupted_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    model, opt = _setup()
    good = save_checkpoint(tmp_path, model=model, step=1, data_state={})

    # Simulate a crash in the middle of writing the second checkpoint.
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, model=model, optimizer=opt, step=2, data_state={})
    assert latest_checkpoint(tmp_path) == good
    assert not list(tmp_path.glob(".tmp-*"))
    assert [p.name for p in list_checkpoints(tmp_path)] == [good.name]


def test_corruption_and_bad_metadata_are_reported(tmp_path):
    model, _ = _setup()
    path = save_checkpoint(tmp_path, model=model, step=3, data_state={})
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path, model=model, step=4, data_state={"x": object()})
    blob = bytearray((path / "model.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="corrupted"):
        load_checkpoint(path, model=model)
    meta = json.loads((path / "meta.json").read_text())
    meta["format"] = 99
    (path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format"):
        load_checkpoint(path, model=model)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nowhere", model=model)
