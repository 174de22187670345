"""Each kind of bad input: one line on stderr naming the problem, exit status 2, nothing written."""

from __future__ import annotations

import json

import pytest

from masterclass.capstone import cli


def _run(capsys, args):
    code = cli.main(args)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def _docs(folder, n, text):
    folder.mkdir()
    for i in range(n):
        (folder / f"d{i}.txt").write_text(f"{i} {text}\n")


CASES = {
    "empty data folder": (lambda p: p.mkdir(), [], "no text found"),
    "folder with no text": (
        lambda p: (p.mkdir(), (p / "a.bin").write_bytes(b"\0\1"), (p / "b.png").write_bytes(b"x")),
        [],
        "no text found",
    ),
    "binary file": (
        lambda p: (p.mkdir(), (p / "x.txt").write_bytes(b"\x7fELF\0\0\0")),
        ["x.txt"],
        "is binary",
    ),
    "corpus smaller than one context": (lambda p: _docs(p, 40, "tiny"), [], "corpus too small"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data(tmp_path, capsys, case):
    make, sub, message = CASES[case]
    data = tmp_path / "data"
    make(data)
    out = tmp_path / "run"
    target = str(data / sub[0]) if sub else str(data)
    code, err = _run(
        capsys, ["run", "--preset", "tiny", "--data", target, "--out", str(out), "--quiet"]
    )
    assert code == 2
    assert len(err) == 1 and err[0].startswith("capstone: error:") and message in err[0]
    assert not out.exists(), "a failed run must leave nothing behind"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "tokenizer.vocab_size=256"], "vocab_size 256 is too small"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--set", "train.stepz=3"], "unknown config key train.stepz"),
    ],
)
def test_bad_settings(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    code, err = _run(
        capsys,
        [
            "run",
            "--out",
            str(out),
            "--quiet",
            *(args if "--preset" in args else ["--preset", "tiny", *args]),
        ],
    )
    assert code == 2 and len(err) == 1 and message in err[0]
    assert not out.exists()


def test_unknown_key_in_config_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('preset = "tiny"\n[model]\nwidth = 64\n')
    out = tmp_path / "run"
    code, err = _run(capsys, ["run", "--config", str(cfg), "--out", str(out)])
    assert code == 2 and len(err) == 1 and "unknown config key model.width" in err[0]
    assert not out.exists()


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = _run(capsys, ["run", "--preset", "tiny", "--out", str(blocker / "run"), "--quiet"])
    assert code == 2 and len(err) == 1 and "not writable" in err[0]
    assert blocker.read_text() == "not a folder"


def test_run_folder_of_another_format_version(tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    record = {"format_version": 999, "config": {}, "stages": {}}
    (old / "run.json").write_text(json.dumps(record))
    for command in (["resume", str(old)], ["report", str(old)], ["stage", "evaluate", str(old)]):
        code, err = _run(capsys, command)
        assert code == 2 and len(err) == 1 and "format version 999" in err[0]
    assert json.loads((old / "run.json").read_text()) == record
    assert sorted(p.name for p in old.iterdir()) == ["run.json"]


def test_not_a_run_folder_and_existing_run(tmp_path, capsys):
    code, err = _run(capsys, ["resume", str(tmp_path / "nothing")])
    assert code == 2 and "not a capstone run folder" in err[0]
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "run.json").write_text("{}")
    code, err = _run(capsys, ["run", "--preset", "tiny", "--out", str(existing), "--quiet"])
    assert code == 2 and "already holds a run" in err[0]


def test_user_data_of_every_kind_flows_into_shards(tmp_path, capsys):
    # The positive counterpart: .txt, .md, .py and .jsonl together, invalid UTF-8 included.
    data = tmp_path / "data"
    data.mkdir()
    for i in range(30):
        body = f"Paragraph {i}: the quick brown fox jumps over the lazy dog. " * 40
        (data / f"p{i}.txt").write_text(body)
        (data / f"n{i}.md").write_text("# " + body)
        (data / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 40)
    (data / "bad.txt").write_bytes(b"latin-1 caf\xe9 " * 300)
    (data / "more.jsonl").write_text(
        "\n".join(json.dumps({"text": f"record {i} " * 200}) for i in range(20))
    )
    out = tmp_path / "run"
    code = cli.main(
        [
            "run",
            "--preset",
            "tiny",
            "--data",
            str(data),
            "--out",
            str(out),
            "--quiet",
            "--until",
            "data",
        ]
    )
    assert code == 0
    corpus = json.loads((out / "corpus" / "metrics.json").read_text())
    assert corpus["files"] == 92 and corpus["invalid_utf8_documents"] == 1
    shards = json.loads((out / "data" / "metrics.json").read_text())
    assert shards["train_tokens"] > 0 and shards["heldout_tokens"] > 0
