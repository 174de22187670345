"""The pandas pipeline and its plot against plain-Python recomputations on the same records."""

from collections import Counter, defaultdict

import pytest

from masterclass.autograd.token_statistics import (
    LAYOUT_TOKENS,
    clean_tokens,
    stdlib_source_files,
    summarise_by_package,
    summarise_by_type,
    token_frame,
    token_records,
)
from masterclass.autograd.visualization import plot_token_statistics


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dirty")
    broken = folder / "broken.py"
    broken.write_bytes(b'def f(:\n    """never closed\n')  # tokenize: EOF in multi-line string
    undecodable = folder / "latin.py"
    undecodable.write_bytes(b"x = '\xff\xfe'\n")  # not UTF-8 and no coding declaration
    return token_records([*stdlib_source_files(6, seed=1), broken, undecodable])


def _reference(records):
    """Clean and count with sets and Counters only: the independent reference."""
    rows = {
        (r["file"], r["package"], r["type"], r["length"], r["line"])
        for r in records
        if r["type"] is not None and r["type"] not in LAYOUT_TOKENS
    }
    counts = Counter(row[2] for row in rows)
    lengths = defaultdict(list)
    for row in rows:
        lengths[row[2]].append(row[3])
    return rows, counts, lengths


def test_cleaning_drops_errors_layout_and_duplicates(records):
    errors = [r for r in records if r["error"] is not None]
    assert sorted(r["file"] for r in errors) == ["broken.py", "latin.py"]
    rows, _, _ = _reference(records)
    tokens = clean_tokens(token_frame(records))
    assert len(tokens) == len(rows)
    assert not tokens["type"].isin(LAYOUT_TOKENS).any()
    assert str(tokens["type"].dtype) == "category" and str(tokens["length"].dtype) == "int64"


def test_summary_by_type_matches_counters(records):
    _, counts, lengths = _reference(records)
    summary = summarise_by_type(clean_tokens(token_frame(records)))
    assert dict(summary["count"]) == dict(counts)
    assert list(summary["count"]) == sorted(counts.values(), reverse=True)
    for name, row in summary.iterrows():
        # A mean of integers in float64: only the last bit can differ with summation order.
        assert row["mean_length"] == pytest.approx(sum(lengths[name]) / counts[name], rel=1e-12)
        assert row["max_length"] == max(lengths[name])
    assert summary["share"].sum() == pytest.approx(1.0, rel=1e-12)


def test_summary_by_package_matches_sets(records):
    rows, _, _ = _reference(records)
    summary = summarise_by_package(clean_tokens(token_frame(records)))
    files = defaultdict(set)
    for file, package, *_ in rows:
        files[package].add(file)
    assert {k: int(v) for k, v in summary["files"].items()} == {k: len(v) for k, v in files.items()}
    names = Counter(row[1] for row in rows if row[2] == "NAME")
    totals = Counter(row[1] for row in rows)
    for package, row in summary.iterrows():
        assert row["name_share"] == pytest.approx(names[package] / totals[package], rel=1e-12)


def test_plot_shows_the_summary(records):
    tokens = clean_tokens(token_frame(records))
    fig = plot_token_statistics(tokens, top=5)
    bars, hist = fig.axes[0], fig.axes[1]
    widths = [p.get_width() for p in bars.patches]
    assert widths == list(summarise_by_type(tokens)["count"].head(5))
    n_names = int((tokens["type"] == "NAME").sum())
    assert sum(p.get_height() for p in hist.patches) == n_names
    with pytest.raises(ValueError, match="top must be >= 1, got 0"):
        plot_token_statistics(tokens, top=0)


def test_sample_is_seeded_and_validated():
    assert stdlib_source_files(3, seed=4) == stdlib_source_files(3, seed=4)
    with pytest.raises(ValueError, match=r"n_files must be in \[1, "):
        stdlib_source_files(0)
