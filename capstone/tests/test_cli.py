"""The command line: no arguments means the default run; flags reach the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from masterclass.capstone import cli, pipeline
from masterclass.capstone.run_folder import RunFolder


def _capture(monkeypatch):
    seen = {}

    def fake_start_run(cfg, out, **kwargs):
        seen["cfg"], seen["out"], seen["kwargs"] = cfg, out, kwargs
        return RunFolder.create(out, cfg.to_dict())

    monkeypatch.setattr(pipeline, "start_run", fake_start_run)
    return seen


def test_no_arguments_is_the_default_run(tmp_path, monkeypatch, capsys):
    seen = _capture(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 0
    assert seen["cfg"].preset == "small" and seen["cfg"].corpus.data == []
    assert Path(seen["out"]).parent == Path("runs") and seen["out"].name.startswith("small-")
    assert "run finished in" in capsys.readouterr().out


def test_flags_reach_the_config(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    data = tmp_path / "notes"
    data.mkdir()
    args = ["run", "--preset", "base", "--data", str(data), "--out", str(tmp_path / "o")]
    args += ["--device", "cpu", "--seed", "7", "--set", "train.lr=0.001", "--until", "data"]
    assert cli.main(args) == 0
    cfg = seen["cfg"]
    assert (cfg.preset, cfg.device, cfg.seed, cfg.train.lr) == ("base", "cpu", 7, 0.001)
    assert cfg.corpus.data == [str(data)] and cfg.model.d_model == 384
    assert seen["kwargs"]["until"] == "data"


def test_top_level_help_shows_presets_and_data(capsys):
    # `capstone --help` must show what a new user needs without a second --help.
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for name in ("tiny", "small", "base", "gpu", "--data", "--out", "(default)"):
        assert name in text, name


def test_options_without_a_command_mean_run(tmp_path, monkeypatch):
    seen = _capture(monkeypatch)
    assert cli.main(["--preset", "tiny", "--out", str(tmp_path / "o"), "--until", "corpus"]) == 0
    assert seen["cfg"].preset == "tiny" and seen["kwargs"]["until"] == "corpus"
