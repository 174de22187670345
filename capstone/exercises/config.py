r"""# Exercises: The run configuration: presets, a TOML file, flags

The three layers of a run's configuration merged by hand, and a `--set` flag read as TOML, both
checked against the chapter's `build_config` and Python's own TOML reader."""

import random
import tempfile
import tomllib
from pathlib import Path

from masterclass.capstone.config import build_config, parse_set, preset


def solution_1_merge_layers(base: dict, *layers: dict) -> dict:
    """Merge nested dicts: each layer wins key by key; tables merge, None means "not given"."""
    out = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if isinstance(value, dict):
                out[key] = {**out.get(key, {}), **value}
            else:
                out[key] = value
    return out


def _toml_value(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


# Settings that every preset accepts whatever the others are (validation must pass).
_CHOICES = {
    ("seed",): [0, 1, 7, 2024],
    ("device",): ["cpu", "auto"],
    ("corpus", "heldout_fraction"): [0.1, 0.25, 0.5],
    ("corpus", "data"): [["a.txt"], ["notes/", "b.jsonl"]],
    ("tokenizer", "vocab_size"): [300, 512, 1000],
    ("model", "d_model"): [32, 64, 96],
    ("model", "n_layers"): [1, 2, 3],
    ("train", "steps"): [40, 60, 100],
    ("train", "lr"): [1e-3, 2e-3, 5e-3],
    ("train", "schedule"): ["wsd", "cosine"],
    ("evaluate", "temperature"): [0.0, 0.5, 1.0],
    ("benchmark", "repeats"): [1, 2, 3],
}


def _random_layer(rng: random.Random, k: int) -> dict:
    layer: dict = {}
    for path in rng.sample(sorted(_CHOICES), k):
        value = rng.choice(_CHOICES[path])
        if len(path) == 1:
            layer[path[0]] = value
        else:
            layer.setdefault(path[0], {})[path[1]] = value
    return layer


def check_1_merge_layers(fn) -> None:
    """Preset < TOML file < flags < `--set`, against `build_config` reading a real TOML file."""
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(8):
            file = {"preset": "tiny", **_random_layer(rng, 4)}
            lines = [f"{k} = {_toml_value(v)}" for k, v in file.items() if not isinstance(v, dict)]
            for section, table in file.items():
                if isinstance(table, dict):
                    lines += [
                        f"[{section}]",
                        *(f"{k} = {_toml_value(v)}" for k, v in table.items()),
                    ]
            path = Path(tmp) / f"run{case}.toml"
            path.write_text("\n".join(lines) + "\n")
            # Flags the user left out arrive as None and must not override anything.
            flags = {
                "seed": rng.choice([None, 5]),
                "device": rng.choice([None, "cpu"]),
                "out": None,
            }
            sets = [
                f"{'.'.join(p)}={_toml_value(v)}"
                for p, v in ((p, rng.choice(_CHOICES[p])) for p in rng.sample(sorted(_CHOICES), 2))
            ]
            want = build_config(config_file=path, flags=flags, sets=sets).to_dict()
            base = preset("tiny").to_dict()
            got = fn(base, tomllib.loads(path.read_text()), flags, *map(parse_set, sets))
            assert got == want, (
                f"case {case}: merging {file} (file), {flags} (flags), {sets} (--set) over the "
                f"tiny preset gives a different config; first differing section: "
                f"{next((k for k in want if got.get(k) != want[k]), '?')!r}"
            )
            assert base == preset("tiny").to_dict(), "merge_layers must not change its base"


def solution_2_parse_assignment(text: str) -> dict:
    """`section.key=value` (or `key=value`) as a nested dict; the value is TOML, else a string."""
    key, _, raw = text.partition("=")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    parts = key.strip().split(".")
    return {parts[0]: {parts[1]: value}} if len(parts) == 2 else {parts[0]: value}


def check_2_parse_assignment(fn) -> None:
    """Against TOML itself: `a.b=v` must mean what `[a]` then `b = v` means in a config file."""
    cases = [
        "train.lr=1e-3",
        "seed=3",
        "train.steps=1_000",
        "corpus.data=['a.txt', 'notes/']",
        'evaluate.prompts=["def ", "class "]',
        "model.n_kv_heads=2",
        "energy.pue=1.2",
        "corpus.max_bytes=120000",
        "train.schedule=cosine",
        "device=cpu",
        "evaluate.temperature=0",
        "train.decay_fraction=0.25",
    ]
    for text in cases:
        key, _, raw = text.partition("=")
        *section, name = key.split(".")
        try:
            doc = tomllib.loads(f"{name} = {raw}")
        except tomllib.TOMLDecodeError:
            doc = tomllib.loads(f'{name} = "{raw}"')  # a bare word is a string
        want = {section[0]: doc} if section else doc
        got = fn(text)
        assert got == want, f"parse_assignment({text!r}) = {got!r}, TOML reads it as {want!r}"
        value = next(iter(want[section[0]].values())) if section else want[name]
        leaf = next(iter(got[section[0]].values())) if section else got[name]
        assert type(leaf) is type(value), (
            f"parse_assignment({text!r}): the value must be a {type(value).__name__} as in TOML, "
            f"got {type(leaf).__name__}"
        )
