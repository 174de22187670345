r"""# Exercises: Checkpointing: atomic, complete, resumable

Which checkpoints retention keeps, and finding the damaged files of a checkpoint from its
checksums, checked against real checkpoints written by the chapter's `save_checkpoint`."""

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from masterclass.infra.checkpoint import list_checkpoints, save_checkpoint


def solution_1_surviving_steps(saves: list[int], keep: int | None) -> list[int]:
    """The steps on disk, sorted, after saving `saves` in order with retention `keep`."""
    on_disk: set[int] = set()
    for step in saves:
        on_disk.add(step)
        if keep is not None:
            # The oldest (smallest) steps go first, but never the checkpoint just written.
            for old in sorted(on_disk)[:-keep]:
                if old != step:
                    on_disk.discard(old)
    return sorted(on_disk)


def _tiny_model() -> torch.nn.Module:
    return torch.nn.Linear(2, 2)


def check_1_surviving_steps(fn) -> None:
    """Save real checkpoints in that order and list what is left."""
    cases = [
        ([1, 2, 3, 4, 5], 2),
        ([10, 20, 30], 1),
        ([1, 2, 3], None),
        ([5, 6, 7, 3], 2),  # resumed from an older step: it survives, a newer one goes
        ([5, 6, 7, 3, 4], 2),
        ([1, 2, 2, 3], 3),  # saving a step again replaces it
        ([4, 1, 2], 1),
    ]
    model = _tiny_model()
    for saves, keep in cases:
        with tempfile.TemporaryDirectory() as folder:
            for step in saves:
                save_checkpoint(folder, model=model, step=step, data_state={}, rng=False, keep=keep)
            want = [int(p.name.split("_")[1]) for p in list_checkpoints(folder)]
        got = [int(v) for v in fn(list(saves), keep)]
        assert got == want, (
            f"surviving_steps({saves}, keep={keep}) = {got}, but {want} are left on disk"
        )


def solution_2_corrupted_files(checkpoint: str) -> list[str]:
    """The sorted names listed in `meta.json` that are missing or fail their SHA-256."""
    root = Path(checkpoint)
    files = json.loads((root / "meta.json").read_text())["files"]
    bad = []
    for name, digest in files.items():
        path = root / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name)
    return sorted(bad)


def _flip_byte(path: Path, where: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[where] ^= 0x01
    path.write_bytes(bytes(raw))


def check_2_corrupted_files(fn) -> None:
    """Damage a real checkpoint in known ways and compare with what was damaged."""
    model = _tiny_model()
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    damages = [
        ([], []),
        (["model.safetensors:flip"], ["model.safetensors"]),
        (["optimizer.pt:truncate"], ["optimizer.pt"]),
        (["rng.pt:delete", "model.safetensors:flip"], ["model.safetensors", "rng.pt"]),
        (["notes.txt:add"], []),  # a file the checkpoint never listed is not damage
        (["optimizer.pt:flip", "rng.pt:flip", "meta.json:touch"], ["optimizer.pt", "rng.pt"]),
    ]
    for actions, want in damages:
        with tempfile.TemporaryDirectory() as folder:
            path = save_checkpoint(folder, model=model, optimizer=opt, step=3, data_state={})
            for action in actions:
                name, how = action.split(":")
                target = path / name
                if how == "flip":
                    _flip_byte(target, target.stat().st_size // 2)
                elif how == "truncate":
                    target.write_bytes(target.read_bytes()[:-1])
                elif how == "delete":
                    os.unlink(target)
                elif how == "add":
                    target.write_text("hand-written notes")
                elif how == "touch":
                    os.utime(target)
            got = list(fn(str(path)))
        assert got == want, f"after {actions or 'no damage'}: corrupted_files = {got}, want {want}"
