r"""# Exercises: Data collection and cleaning: from raw documents to training shards

Unicode normalisation, the first stage of the pipeline."""

import unicodedata

from masterclass.training.data_cleaning import normalize_unicode


def solution_1_nfc_clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


def check_1_nfc_clean(fn) -> None:
    for s in ["cafe\u0301", "a\x00b\x1fc", "tab\there\nline", "\u212b ok", "plain"]:
        got, want = fn(s), normalize_unicode(s)
        assert got == want, f"nfc_clean({s!r}) = {got!r}, want {want!r}"
